"""File output that is never left half-written: write to a temporary file, then rename."""

from __future__ import annotations

import os
import tempfile


def write_atomic(path, data: bytes) -> None:
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise ValueError(f"output folder {folder!r} does not exist")
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".accnum-", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
