"""The generic CUDA launcher: a thread per lane, its scratch in ``cuda.local.array``.

Imported only when the cuda backend runs (numba-cuda is an optional extra).  ``cuda`` is a
module global on purpose: the simulator swaps it inside a running kernel.
"""

from __future__ import annotations

from functools import lru_cache

import numba
import numpy as np
from numba import cuda

from .numba_compat import compile_ptx, device_callable

THREADS = 128


@lru_cache(maxsize=None)
def cuda_kernel(body, score, score_jac, total: int):
    """``(python_function, kernel)``: one thread per lane, each a block of one lane whose
    scratch is a ``total``-long local array (a compile-time constant, hence one kernel per
    scratch size)."""
    call = device_callable(body)

    def kernel(n, args):
        i = cuda.grid(1)
        if i < n:
            buf = cuda.local.array(total, numba.float64)
            call(i, i + 1, 1, n, buf, score, score_jac, args)

    return kernel, cuda.jit(kernel)


def _to_device(obj, pairs):
    if isinstance(obj, tuple):
        moved = [_to_device(x, pairs) for x in obj]
        return type(obj)(*moved) if hasattr(obj, "_fields") else tuple(moved)
    if isinstance(obj, np.ndarray):
        dev = cuda.to_device(obj)
        pairs.append((obj, dev))
        return dev
    return obj


def launch_cuda(body, score, score_jac, n: int, total: int, args, outputs=()) -> None:
    """Copy the arrays of ``args`` to the device, run, copy those in ``outputs`` back."""
    _, kernel = cuda_kernel(body, score, score_jac, int(total))
    pairs: list = []
    dargs = _to_device(args, pairs)
    kernel[(n + THREADS - 1) // THREADS, THREADS](n, dargs)
    wanted = {id(a) for a in outputs}
    for host, dev in pairs:
        if id(host) in wanted:
            dev.copy_to_host(host)


def kernel_ptx(body, score, score_jac, total: int, n: int, args, cc=(9, 0)) -> str:
    """PTX of ``body``'s kernel for these argument types (the tests compile every kernel; no GPU needed)."""
    py_kernel, _ = cuda_kernel(body, score, score_jac, int(total))
    return compile_ptx(py_kernel, (n, args), cc)
