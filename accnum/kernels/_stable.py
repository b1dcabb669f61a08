"""Deterministic identities for the kernels' Numba dispatchers, so that the on-disk cache
hits, and distinct names for the variants a factory makes, so that it never mixes them up.

Numba keys a closure's cache entry by pickling the closure's cell contents; a dispatcher
pickles with a per-process random UUID, so every kernel built by a factory (an executor
over a score component, a CPU kernel over an executor) would miss the cache and be
compiled again in every process.  Giving each dispatcher a UUID derived from its name
(and, for factory products, from what it closes over) makes the key stable.

A factory's variants share one Python qualified name, and Numba names a compiled function
by that name, a per-process counter and its argument types.  Two variants with the same
argument types compiled in two processes (a test and the CLI it starts) can thus get the
same symbol; loaded from the cache into one process, the second then runs the first's
code: the exact score's kernel ran the affine perturbation's.  :func:`variant` gives each
variant a qualified name of its own (a hash of what it closes over), hence its own symbols
and cache files.
"""

from __future__ import annotations

import hashlib

import numba
from numba.core.registry import CPUDispatcher


def name_of(dispatcher) -> str:
    return f"{dispatcher.py_func.__module__}.{dispatcher.py_func.__qualname__}"


def stable(dispatcher, *parts):
    """Give ``dispatcher`` the UUID ``accnum:<module.qualname>(<parts>)`` unless it has one."""
    if getattr(dispatcher, "_Dispatcher__uuid", None) is None:
        dispatcher._set_uuid(f"accnum:{name_of(dispatcher)}({_label(parts)})")
    return dispatcher


def _label(parts) -> str:
    return ",".join(p._uuid if isinstance(p, CPUDispatcher) else str(p) for p in parts)


def variant(*parts, **options):
    """``numba.njit(**options)`` for a function a factory makes from ``parts`` (the
    dispatchers and constants it closes over): named ``<qualname>_<hash of parts>`` and
    given the stable UUID of :func:`stable`."""
    label = _label(parts)
    tag = hashlib.blake2b(label.encode(), digest_size=6).hexdigest()

    def wrap(fn):
        fn.__qualname__ = f"{fn.__qualname__}_{tag}"
        fn.__name__ = f"{fn.__name__}_{tag}"
        dispatcher = numba.njit(**options)(fn)
        dispatcher._set_uuid(f"accnum:{name_of(dispatcher)}({label})")
        return dispatcher

    return wrap


def stabilize(namespace: dict) -> None:
    """Stable UUIDs for every dispatcher defined at module level in ``namespace``."""
    for value in list(namespace.values()):
        if isinstance(value, CPUDispatcher) and value.py_func.__module__ == namespace["__name__"]:
            stable(value)
