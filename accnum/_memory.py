"""Memory a request needs, estimated before anything is allocated.

A request too large for the machine (``n = 10**12`` samples, a target with ``d = K = 10**5``,
``T = 10**9`` steps) is refused with one line naming the argument that drives the size and
the estimate, instead of filling the memory until the kernel kills the process.  The
estimates count the arrays a computation holds at once (see each caller); they are meant
to be within a small factor, which is all a refusal needs.
"""

from __future__ import annotations

import os

from .errors import TooLarge

#: at most this fraction of the available memory may be planned for one request
FRACTION = 0.8


def available() -> int:
    """Bytes of memory available now: ``MemAvailable`` on Linux, else physical memory."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # pragma: no cover - not POSIX
        return 8 << 30


def human(nbytes: float) -> str:
    """``nbytes`` in kB, MB, GB, TB, PB (powers of 1000), three significant digits."""
    value = float(nbytes)
    if value >= 1e18:
        return f"{value:.1e} bytes"
    for unit in ("B", "kB", "MB", "GB", "TB", "PB"):
        if value < 1000:
            return f"{value:.3g} {unit}"
        value /= 1000
    return f"{value:.3g} EB"  # pragma: no cover - caught above


def require(nbytes: float, what: str, argument: str) -> None:
    """Refuse (:class:`~accnum.errors.TooLarge`) when ``what`` would need more than
    ``FRACTION`` of the available memory; ``argument`` names the input that drives the size
    (as ``"n = 1000000000000"``)."""
    limit = FRACTION * available()
    if nbytes > limit:
        raise TooLarge(f"{argument}: {what} needs about {human(nbytes)} of memory, more than the "
                       f"{human(limit)} available here")
