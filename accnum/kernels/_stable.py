"""Deterministic identities for the kernels' Numba dispatchers, so that the on-disk cache hits.

Numba keys a closure's cache entry by pickling the closure's cell contents; a dispatcher
pickles with a per-process random UUID, so every kernel built by a factory (an executor
over a score component, a CPU kernel over an executor) would miss the cache and be
compiled again in every process.  Giving each dispatcher a UUID derived from its name
(and, for factory products, from what it closes over) makes the key stable.
"""

from __future__ import annotations

from numba.core.registry import CPUDispatcher


def name_of(dispatcher) -> str:
    return f"{dispatcher.py_func.__module__}.{dispatcher.py_func.__qualname__}"


def stable(dispatcher, *parts):
    """Give ``dispatcher`` the UUID ``accnum:<module.qualname>(<parts>)`` unless it has one."""
    if getattr(dispatcher, "_Dispatcher__uuid", None) is None:
        label = ",".join(p._uuid if isinstance(p, CPUDispatcher) else str(p) for p in parts)
        dispatcher._set_uuid(f"accnum:{name_of(dispatcher)}({label})")
    return dispatcher


def stabilize(namespace: dict) -> None:
    """Stable UUIDs for every dispatcher defined at module level in ``namespace``."""
    for value in list(namespace.values()):
        if isinstance(value, CPUDispatcher) and value.py_func.__module__ == namespace["__name__"]:
            stable(value)
