"""Where a study's results survive (docs/studies.md#store): one Parquet file per cell.

``STORE/cells/<key>.parquet`` holds the rows of one cell (one per metric), written through
a temporary file and a rename (:class:`accnum.io.Outputs`) as soon as the cell completes:
a cell is in the store whole or not at all, an interrupted study loses only the cells that
were running, and a re-run skips every key already there.  Only the process that runs the
study writes (workers return their rows to it), so no cell is stored twice.
``STORE/accnum-store.json`` marks the folder as a store.

:class:`MemoryStore` has the same interface, for runs that keep nothing (``accnum dims``
without ``--store``).
"""

from __future__ import annotations

import io
import json
import math
import os

from ..errors import InvalidInput, InvalidType, MissingCapability
from ..io import Outputs, check_folder
from .cells import ROW_FIELDS

MARKER = "accnum-store.json"
FORMAT = 1


def _pyarrow():
    try:
        import pyarrow
        import pyarrow.parquet
    except ImportError:   # pragma: no cover - a core dependency
        raise MissingCapability('the results store needs pyarrow: pip install "pyarrow>=14"') from None
    return pyarrow, pyarrow.parquet


def _schema(pa):
    types = {"d": pa.int64(), "K": pa.int64(), "T": pa.int64(), "nfe": pa.int64(), "seed": pa.int64(), "n": pa.int64(),
             "h": pa.float64(), "estimate": pa.float64(), "stderr": pa.float64(), "target_rse": pa.float64(),
             "seconds": pa.float64()}
    return pa.schema([(f, types.get(f, pa.string())) for f in ROW_FIELDS])


class MemoryStore:
    """Cells kept in memory (the interface of :class:`Store`)."""

    path = None

    def __init__(self):
        self._cells: dict[str, list[dict]] = {}

    def keys(self) -> set[str]:
        return set(self._cells)

    def has(self, key: str) -> bool:
        return key in self._cells

    def write(self, key: str, rows: list[dict]) -> bool:
        """Store a cell's rows; False (and nothing written) when the key is stored already."""
        if key in self._cells:
            return False
        self._cells[key] = [dict(r) for r in rows]
        return True

    def rows(self) -> list[dict]:
        return [r for key in sorted(self._cells) for r in self._cells[key]]

    def seconds(self, key: str) -> float | None:
        """How long the stored cell took (None when unknown)."""
        rows = self._cells.get(key)
        return rows[0].get("seconds") if rows else None


class Store(MemoryStore):
    """A folder of Parquet files, one per cell (see the module doc)."""

    def __init__(self, path, create: bool = True, argument: str = "store"):
        if not isinstance(path, (str, os.PathLike)):
            raise InvalidType(f"{argument} must be a folder path, got {type(path).__name__}")
        path = os.path.abspath(os.fspath(path))
        if create:
            check_folder(path, argument)
        elif not os.path.isfile(os.path.join(path, MARKER)):
            why = "does not exist" if not os.path.exists(path) else f"is not an accnum results store (no {MARKER})"
            raise InvalidInput(f"{argument} {path!r} {why}")
        if os.path.isdir(path) and os.listdir(path) and not os.path.isfile(os.path.join(path, MARKER)):
            raise InvalidInput(f"{argument} {path!r} is a folder with other files in it, not an accnum results store")
        self.path = path
        self.cells = os.path.join(path, "cells")
        self._known: set[str] | None = None

    def _ensure(self) -> None:
        if not os.path.isfile(os.path.join(self.path, MARKER)):
            out = Outputs()
            out.add(os.path.join(self.path, MARKER), json.dumps({"format": FORMAT, "layout": "cells/<key>.parquet"})
                    .encode())
            out.commit()
        if not os.path.isdir(self.cells):
            os.makedirs(self.cells, exist_ok=True)

    def keys(self) -> set[str]:
        if self._known is None:
            self._known = {f[:-len(".parquet")] for f in os.listdir(self.cells) if f.endswith(".parquet")} \
                if os.path.isdir(self.cells) else set()
        return set(self._known)

    def has(self, key: str) -> bool:
        return key in self.keys() or os.path.isfile(self._file(key))

    def _file(self, key: str) -> str:
        return os.path.join(self.cells, f"{key}.parquet")

    def write(self, key: str, rows: list[dict]) -> bool:
        if self.has(key):
            return False
        pa, pq = _pyarrow()
        self._ensure()
        schema = _schema(pa)
        table = pa.Table.from_pylist([{f: r.get(f) for f in ROW_FIELDS} for r in rows], schema=schema)
        buf = io.BytesIO()
        pq.write_table(table, buf)
        out = Outputs()
        out.add(self._file(key), buf.getvalue())
        out.commit()
        self.keys()
        self._known.add(key)
        return True

    def seconds(self, key: str) -> float | None:
        if not self.has(key):
            return None
        _, pq = _pyarrow()
        col = pq.read_table(self._file(key), columns=["seconds"]).column("seconds").to_pylist()
        return col[0] if col else None

    def rows(self) -> list[dict]:
        """Every stored row, cells in key order (NaN estimates stay NaN)."""
        pa, pq = _pyarrow()
        out = []
        for key in sorted(self.keys()):
            for r in pq.read_table(self._file(key)).to_pylist():
                for f in ("estimate", "stderr", "h"):
                    if r.get(f) is None:
                        r[f] = math.nan
                out.append(r)
        return out
