"""File output that is never left half-written: write to a temporary file, then rename."""

from __future__ import annotations

import os
import tempfile


def check_folder(path) -> str:
    """The folder ``path`` will be written into; a ValueError if it does not exist."""
    folder = os.path.dirname(os.path.abspath(os.fspath(path)))
    if not os.path.isdir(folder):
        raise ValueError(f"output folder {folder!r} does not exist")
    return folder


def write_atomic(path, data: bytes) -> None:
    path = os.fspath(path)
    folder = check_folder(path)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".accnum-", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
