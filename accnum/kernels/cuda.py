"""CUDA kernels: one thread per sample, every step fused (issue 4, item 3).

The kernel allocates the executor's scratch with ``cuda.local.array`` (sizes fixed per
(symbols, d, K) when the kernel is built) and calls the same ``@numba.njit`` executor as
the CPU kernel (:mod:`accnum.kernels.step`), which numba-cuda compiles as a device
function.  Program, mixture tables and perturbation arrays live in device memory; the
normals come from the counter generator, so every thread draws what the CPU draws.
"""

from __future__ import annotations

from functools import lru_cache
from types import SimpleNamespace

import numba
import numpy as np
from numba import cuda  # a module global: the simulator swaps it inside kernels

from .rng import normal, sample_key

THREADS = 128


@lru_cache(maxsize=None)
def make_cuda_kernel(run, n_rows: int, d: int, wsize: int, jac: bool):
    """The kernel for one executor and one scratch shape (``jac``: with tangents)."""
    dj = d if jac else 1
    tr = n_rows if jac else 1
    f64 = numba.float64
    step = run
    if numba.config.ENABLE_CUDASIM:
        # the simulator runs the kernel as Python and hands it wrapped arrays; the
        # executor is then the CPU-compiled one and needs the NumPy arrays inside
        def step(*args):
            return run(*[getattr(a, "_ary", a) for a in args])

    def kernel(y, logdet, bad, draw_init, init_key,
               steps, stages, stage_abar, stage_coef, out_coef, mem_coef, n_mem, n_noise, keys,
               lw, mean, iv, U, full, p0, p1, p2, p3):
        i = cuda.grid(1)
        if i >= y.shape[0]:
            return
        yi = cuda.local.array(d, f64)
        sym = cuda.local.array((n_rows, d), f64)
        pt = cuda.local.array(d, f64)
        ws = cuda.local.array(wsize, f64)
        tan = cuda.local.array((tr, dj, dj), f64)
        tpt = cuda.local.array((dj, dj), f64)
        J = cuda.local.array((dj, dj), f64)
        lu = cuda.local.array((dj, dj), f64)
        if draw_init:
            key = np.uint64(sample_key(init_key, i))   # the simulator returns Python ints
            for a in range(d):
                yi[a] = normal(key, a)
        else:
            for a in range(d):
                yi[a] = y[i, a]
        b, ld = step(i, yi, sym, pt, ws, tan, tpt, J, lu, jac,
                     steps, stages, stage_abar, stage_coef, out_coef, mem_coef, n_mem, n_noise, keys,
                     lw, mean, iv, U, full, p0, p1, p2, p3)
        for a in range(d):
            y[i, a] = yi[a]
        bad[i] = b
        logdet[i] = ld

    return kernel, cuda.jit(kernel)


def launch(run, y, logdet, bad, jac, draw, init_key, n_rows, wsize, args):
    """Copy the inputs to the device, run one thread per sample, copy ``y``, ``logdet``, ``bad`` back."""
    n, d = y.shape
    _, kernel = make_cuda_kernel(run, n_rows, d, wsize, bool(jac))
    dev = [cuda.to_device(a) if isinstance(a, np.ndarray) else a for a in args]
    dy, dl, db = cuda.to_device(y), cuda.to_device(logdet), cuda.to_device(bad)
    blocks = (n + THREADS - 1) // THREADS
    kernel[blocks, THREADS](dy, dl, db, bool(draw), init_key, *dev)
    dy.copy_to_host(y)
    dl.copy_to_host(logdet)
    db.copy_to_host(bad)


def compile_ptx(run, args, n: int, d: int, n_rows: int, wsize: int, jac: bool, cc=(9, 0)) -> str:
    """PTX of the kernel for these argument types at compute capability ``cc`` (no GPU needed)."""
    import numba.cuda.dispatcher as cuda_dispatcher  # noqa: I001

    py_kernel, _ = make_cuda_kernel(run, n_rows, d, wsize, bool(jac))
    y, logdet, bad = np.zeros((n, d)), np.zeros(n), np.zeros(n, dtype=np.int64)
    types = [numba.typeof(a) for a in (y, logdet, bad, True, np.uint64(0), *args)]
    # numba-cuda compiles the device functions a kernel calls for the *current* device's
    # compute capability, which needs a driver; without one, name the requested target.
    current = cuda_dispatcher.get_current_device
    if not cuda.is_available():
        cuda_dispatcher.get_current_device = lambda: SimpleNamespace(compute_capability=tuple(cc))
    try:
        ptx, _ = cuda.compile_ptx(py_kernel, tuple(types), cc=cc)
    finally:
        cuda_dispatcher.get_current_device = current
    return ptx
