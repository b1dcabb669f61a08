"""Output files that are never left half-written, checked before any work starts.

:func:`check_file` and :func:`check_folder` are called before a command computes anything:
a path that cannot be written (a missing or read-only folder, ``/proc``, a folder where a
file is meant to go) is refused at once, in one line naming the argument.

:class:`Outputs` collects every file of one run (CSV, JSON, PNG ...) and writes them as a
unit: each goes to a temporary file beside its destination, and only when all of them are
complete are they renamed into place, with SIGINT and SIGTERM held off for the renames.  A
failure or an interrupt before that point replaces nothing and leaves no temporary file.
Files get the permissions the umask allows (``0666 & ~umask``), as ``open()`` would give.
"""

from __future__ import annotations

import os
import signal
import stat
import tempfile

from .errors import InvalidInput, WriteFailed

_SIGNALS = {signal.SIGINT, signal.SIGTERM}


def _probe(folder: str, argument: str, path: str) -> None:
    """Create and remove a file in ``folder``: the one test of writability that cannot lie."""
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".accnum-", suffix=".probe")
    except OSError as err:
        raise InvalidInput(f"{argument} {path!r}: cannot write in {folder!r} ({err.strerror or err})") from None
    os.close(fd)
    os.unlink(tmp)


def _names_fit(path: str, argument: str) -> None:
    """Each part of ``path`` within the file system's name limit (255 bytes on most) and the
    whole within its path limit: else the run would fail at its last step, the write."""
    folder = os.path.dirname(path)
    while folder and not os.path.isdir(folder):
        folder = os.path.dirname(folder)
    try:
        name_max = os.pathconf(folder or "/", "PC_NAME_MAX")
        path_max = os.pathconf(folder or "/", "PC_PATH_MAX")
    except (OSError, ValueError, AttributeError):   # pragma: no cover - not POSIX
        name_max, path_max = 255, 4096
    for part in path.split(os.sep):
        if len(os.fsencode(part)) > name_max:
            raise InvalidInput(f"{argument}: the name {part[:40]!r}... is {len(os.fsencode(part))} bytes long, more than "
                               f"the {name_max} this file system allows")
    if len(os.fsencode(path)) >= path_max:
        raise InvalidInput(f"{argument}: the path is {len(os.fsencode(path))} bytes long, more than the {path_max} this "
                           "file system allows")


def check_folder(path, argument: str = "--out") -> str:
    """``path`` as an absolute folder that exists and can be written, or can be made (its
    parent exists and can be written); nothing is created."""
    path = os.path.abspath(os.fspath(path))
    _names_fit(path, argument)
    if os.path.exists(path):
        if not os.path.isdir(path):
            raise InvalidInput(f"{argument} {path!r} exists and is not a folder")
        _probe(path, argument, path)
        return path
    parent = os.path.dirname(path)
    if not os.path.isdir(parent):
        raise InvalidInput(f"{argument} {path!r}: its folder {parent!r} does not exist")
    _probe(parent, argument, path)
    return path


def check_file(path, argument: str = "--out", will_create: str | None = None) -> str:
    """``path`` as an absolute file path that can be written: not a folder, in a folder that
    exists and can be written, or in ``will_create`` (a folder this run makes, already
    checked with :func:`check_folder`)."""
    path = os.path.abspath(os.fspath(path))
    _names_fit(path, argument)
    if os.path.isdir(path):
        raise InvalidInput(f"{argument} {path!r} is a folder, not a file")
    folder = os.path.dirname(path)
    if will_create is not None and folder == os.path.abspath(will_create) and not os.path.exists(folder):
        return path
    if not os.path.isdir(folder):
        raise InvalidInput(f"{argument} {path!r}: its folder {folder!r} does not exist")
    _probe(folder, argument, path)
    return path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


class Outputs:
    """The files of one run, written together by :meth:`commit` (see the module doc)."""

    def __init__(self):
        self._items: list[tuple[str, bytes]] = []
        self._stale: list[str] = []

    def remove(self, path) -> None:
        """A file of the set that this run does not make (a plot skipped by --no-plot): removed by
        :meth:`commit` with the others written, so no old file is left beside new ones."""
        self._stale.append(os.path.abspath(os.fspath(path)))

    def add(self, path, data: bytes) -> None:
        self._items.append((os.path.abspath(os.fspath(path)), bytes(data)))

    @property
    def paths(self) -> list[str]:
        return [p for p, _ in self._items]

    def commit(self) -> None:
        made: list[str] = []     # folders this commit created, removed again on failure
        temps: list[tuple[str, str]] = []
        mode = 0o666 & ~_umask()
        try:
            for path, data in self._items:
                folder = os.path.dirname(path)
                if not os.path.isdir(folder):
                    os.mkdir(folder)
                    made.append(folder)
                fd, tmp = tempfile.mkstemp(dir=folder, prefix=".accnum-", suffix=".part")
                temps.append((tmp, path))
                with os.fdopen(fd, "wb") as fh:
                    fh.write(data)
                os.chmod(tmp, mode)
            held = _hold_signals()
            try:
                for tmp, path in temps:
                    os.replace(tmp, path)
                for path in self._stale:
                    if os.path.isfile(path):
                        os.unlink(path)
            finally:
                _release_signals(held)
        except BaseException as err:
            for tmp, _ in temps:
                if os.path.exists(tmp):
                    os.unlink(tmp)
            for folder in reversed(made):
                try:
                    os.rmdir(folder)
                except OSError:
                    pass
            if isinstance(err, OSError) and not isinstance(err, WriteFailed):
                where = err.filename if isinstance(err.filename, str) else "the outputs"
                raise WriteFailed(f"cannot write {where}: {err.strerror or err}; nothing was replaced") from None
            raise


def _hold_signals():
    if hasattr(signal, "pthread_sigmask"):
        try:
            return signal.pthread_sigmask(signal.SIG_BLOCK, _SIGNALS)
        except (OSError, ValueError):  # pragma: no cover - not the main thread / platform
            return None
    return None  # pragma: no cover - not POSIX


def _release_signals(previous) -> None:
    if previous is not None:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def write_atomic(path, data: bytes) -> None:
    """One file, written through a temporary file and a rename (see :class:`Outputs`)."""
    out = Outputs()
    out.add(check_file(path, "path"), data)
    out.commit()


def read_text(path, source: str) -> str:
    """The UTF-8 text of the input file ``path`` (a target file, a study file), refusing in one
    line, with ``source`` naming it: a missing file, one that cannot be read or decoded, and
    anything but a regular file (a FIFO or a device would block or never end)."""
    try:
        regular = stat.S_ISREG(os.stat(path).st_mode)
    except FileNotFoundError:
        raise InvalidInput(f"{source}: no such file") from None
    except OSError as err:
        raise InvalidInput(f"{source}: cannot read ({err})") from None
    if not regular:
        raise InvalidInput(f"{source} is not a regular file")
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.read()
    except FileNotFoundError:
        raise InvalidInput(f"{source}: no such file") from None
    except (OSError, UnicodeDecodeError) as err:
        raise InvalidInput(f"{source}: cannot read ({err})") from None
