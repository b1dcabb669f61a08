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

from .step import make_sample

THREADS = 128


def device_callable(fn):
    """``fn`` for use inside a kernel.  The simulator runs kernels as Python and hands them
    wrapped arrays; a CPU-compiled function then needs the NumPy arrays inside."""
    if not numba.config.ENABLE_CUDASIM:
        return fn

    def call(*args):
        return fn(*[getattr(a, "_ary", a) for a in args])

    return call


@lru_cache(maxsize=None)
def make_cuda_kernel(run, n_rows: int, d: int, wsize: int, jac: int):
    """The kernel for one executor and one scratch shape (``jac``: see :mod:`accnum.kernels.step`)."""
    dj = d if jac else 1
    tr = n_rows if jac else 1
    f64 = numba.float64
    one = device_callable(make_sample(run))

    def kernel(y, logdet, bad, draw_init, init_key,
               steps, stages, stage_abar, stage_coef, out_coef, mem_coef, n_mem, n_noise, keys,
               lw, mean, iv, U, full, p0, p1, p2, p3):
        i = cuda.grid(1)
        if i >= y.shape[0]:
            return
        sym = cuda.local.array((n_rows, d), f64)
        pt = cuda.local.array(d, f64)
        ws = cuda.local.array(wsize, f64)
        tan = cuda.local.array((tr, dj, dj), f64)
        tpt = cuda.local.array((dj, dj), f64)
        J = cuda.local.array((dj, dj), f64)
        lu = cuda.local.array((dj, dj), f64)
        one(i, y, logdet, bad, jac, draw_init, init_key, sym, pt, ws, tan, tpt, J, lu,
            steps, stages, stage_abar, stage_coef, out_coef, mem_coef, n_mem, n_noise, keys,
            lw, mean, iv, U, full, p0, p1, p2, p3)

    return kernel, cuda.jit(kernel)


def launch(run, y, logdet, bad, jac, draw, init_key, n_rows, wsize, args):
    """Copy the inputs to the device, run one thread per sample, copy ``y``, ``logdet``, ``bad`` back."""
    n, d = y.shape
    _, kernel = make_cuda_kernel(run, n_rows, d, wsize, int(jac))
    dev = [cuda.to_device(a) if isinstance(a, np.ndarray) else a for a in args]
    dy, dl, db = cuda.to_device(y), cuda.to_device(logdet), cuda.to_device(bad)
    blocks = (n + THREADS - 1) // THREADS
    kernel[blocks, THREADS](dy, dl, db, bool(draw), init_key, *dev)
    dy.copy_to_host(y)
    dl.copy_to_host(logdet)
    db.copy_to_host(bad)


def sampler_kernel_ptx(run, args, n: int, d: int, n_rows: int, wsize: int, jac: bool, cc=(9, 0)) -> str:
    """PTX of the sampling kernel for these program/table arguments at compute capability ``cc``."""
    py_kernel, _ = make_cuda_kernel(run, n_rows, d, wsize, 2 if jac else 0)
    y, logdet, bad = np.zeros((n, d)), np.zeros(n), np.zeros(n, dtype=np.int64)
    return compile_ptx(py_kernel, (y, logdet, bad, True, np.uint64(0), *args), cc)


def compile_ptx(py_kernel, example_args, cc=(9, 0)) -> str:
    """PTX of a kernel (its Python function) for the types of ``example_args`` at compute
    capability ``cc``; needs numba-cuda but no GPU."""
    import numba.cuda.dispatcher as cuda_dispatcher  # noqa: I001

    types = tuple(numba.typeof(a) for a in example_args)
    # numba-cuda compiles the device functions a kernel calls for the *current* device's
    # compute capability, which needs a driver; without one, name the requested target.
    current = cuda_dispatcher.get_current_device
    if not cuda.is_available():
        cuda_dispatcher.get_current_device = lambda: SimpleNamespace(compute_capability=tuple(cc))
    try:
        ptx, _ = cuda.compile_ptx(py_kernel, types, cc=cc)
    finally:
        cuda_dispatcher.get_current_device = current
    return ptx


@lru_cache(maxsize=None)
def make_points_kernel(score, score_jac, d: int, wsize: int, jac: bool):
    """Score (and Jacobian) at a batch of points, one thread per point (:mod:`accnum.kernels.batch`)."""
    from .batch import make_point

    f64 = numba.float64
    point = device_callable(make_point(score, score_jac))

    def kernel(x, out, J, lw, mean, iv, U, full, p0, p1, p2, p3):
        i = cuda.grid(1)
        if i >= x.shape[0]:
            return
        ws, xi, Ji = cuda.local.array(wsize, f64), cuda.local.array(d, f64), cuda.local.array((d, d), f64)
        point(i, x, out, J, jac, ws, xi, Ji, lw, mean, iv, U, full, p0, p1, p2, p3)

    return kernel, cuda.jit(kernel)


@lru_cache(maxsize=None)
def make_pairs_kernel(pairs, n_rows: int, d: int, wsize: int):
    """The path-KL pair kernel (:mod:`accnum.kernels.pathkl`), one thread per (step row, pair)."""
    f64 = numba.float64
    one = device_callable(pairs)

    def kernel(r0, out, V0, V1, SA, BETA, pts, logw, lwq, meanq, ivq, Uq, fullq, dkeys, cw, smean, sfac,
               steps, stages, stage_abar, stage_coef, out_coef, mem_coef, n_mem, n_noise, keys,
               lw, mean, iv, U, full, p0, p1, p2, p3):
        g = cuda.grid(1)
        n = out.shape[1]
        if g >= out.shape[0] * n:
            return
        j, i = g // n, g % n
        xi, yi = cuda.local.array(d, f64), cuda.local.array(d, f64)
        u, m, r, vec = cuda.local.array(d, f64), cuda.local.array((1, d), f64), cuda.local.array(d, f64), cuda.local.array(d, f64)
        A, B, C = cuda.local.array((d, d), f64), cuda.local.array((d, d), f64), cuda.local.array((d, d), f64)
        sym, pt, ws = cuda.local.array((n_rows, d), f64), cuda.local.array(d, f64), cuda.local.array(wsize, f64)
        tan, tpt = cuda.local.array((n_rows, d, d), f64), cuda.local.array((d, d), f64)
        J, lu = cuda.local.array((d, d), f64), cuda.local.array((d, d), f64)
        one(j, i, i + 1, r0, out, xi, yi, u, m, r, A, B, C, vec, sym, pt, ws, tan, tpt, J, lu,
            V0, V1, SA, BETA, pts, logw, lwq, meanq, ivq, Uq, fullq, dkeys, cw, smean, sfac,
            steps, stages, stage_abar, stage_coef, out_coef, mem_coef, n_mem, n_noise, keys,
            lw, mean, iv, U, full, p0, p1, p2, p3)

    return kernel, cuda.jit(kernel)


@lru_cache(maxsize=None)
def make_inverse_kernel(invert_points, n_rows: int, d: int, wsize: int):
    """The grid push-forward's Newton inversion over a run of steps (:mod:`accnum.kernels.pathkl`),
    one thread per grid point."""
    f64 = numba.float64
    one = device_callable(invert_points)

    def kernel(r0, y, x0, x, det, its, tol, steps, stages, stage_abar, stage_coef, out_coef, mem_coef, n_mem, n_noise,
               keys, lw, mean, iv, U, full, p0, p1, p2, p3):
        i = cuda.grid(1)
        if i >= y.shape[0]:
            return
        yi, xi = cuda.local.array(d, f64), cuda.local.array(d, f64)
        m, step = cuda.local.array((1, d), f64), cuda.local.array(d, f64)
        A, B = cuda.local.array((d, d), f64), cuda.local.array((d, d), f64)
        sym, pt, ws = cuda.local.array((n_rows, d), f64), cuda.local.array(d, f64), cuda.local.array(wsize, f64)
        tan, tpt = cuda.local.array((n_rows, d, d), f64), cuda.local.array((d, d), f64)
        J, lu = cuda.local.array((d, d), f64), cuda.local.array((d, d), f64)
        one(i, i + 1, r0, y, x0, x, det, its, tol, xi, yi, m, step, A, B, sym, pt, ws, tan, tpt, J, lu,
            steps, stages, stage_abar, stage_coef, out_coef, mem_coef, n_mem, n_noise, keys,
            lw, mean, iv, U, full, p0, p1, p2, p3)

    return kernel, cuda.jit(kernel)
