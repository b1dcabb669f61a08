"""Blocks of lanes, their scratch, and the two generic launchers (one for the CPU, one for CUDA).

Every compiled kernel in accnum is a *body*

    body(b_lo, b_hi, L, n, buf, score, score_jac, args)

that processes blocks ``b_lo .. b_hi - 1`` of ``L`` lanes each, block ``b`` being items
``bL .. bL + L - 1`` (a lane is a sample, a path-KL pair or a grid point; lanes at ``i >= n``
are padding: they compute on zeros and are never written out), one after another in the
scratch ``buf``.  Its arrays are laid out structure-of-arrays, lane index last
(``X[a, l]``), and every innermost loop runs over lanes, so that LLVM turns it into vector
code.  ``score`` and ``score_jac`` are the score model's compiled functions
(:class:`accnum.score.CompiledScore`), passed as arguments so that each kernel is
specialised for them at compile time with no closure; ``args`` is a tuple bundling the
rest (the program, the score's parameters, inputs and outputs, the scratch layout).  The
loop over blocks is the body's own, not a launcher's: a compiled launcher calling the body
would be one more level at which LLVM optimises and emits the body's whole call tree
again, which was a third of the first run's compile time.

Scratch is carved out of one flat float64 buffer ``buf`` per block.  A kernel family
declares its scratch once, as a ``NamedTuple`` of fields (:func:`layout` computes each
field's offset and shape); the body takes its views with :func:`take`.  The CPU launcher
runs contiguous runs of blocks of :data:`LANES` lanes on a pool of ``numba.get_num_threads()``
threads (the bodies release the GIL), each run with a ``buf`` of its own; the CUDA launcher
gives each thread a block of one lane in ``cuda.local.array``.  A lane's
numbers depend only on its own inputs and its index, never on the block it ran in, so
results are the same for any block size and thread count.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numba
import numpy as np

from .numba_compat import NO_RUNTIME, cacheable, stabilize

#: lanes per block on the CPU: measured with benchmarks/bench_speed.py (ring8, n = 2e5), ddim-li ran
#: 6.6e7, 9.2e7, 1.15e8, 1.14e8, 1.14e8 and 1.02e8 sample-steps/s at 32, 64, 128, 256, 512 and 1024
#: lanes (each lane loop's alias checks and remainder paid once per 16 AVX-512 vectors, not 8);
#: at d = 8, K = 32 and for the exact metrics' tangents 128 was as fast as 64 or faster
LANES = 128
#: kernel compile options: ``contract`` lets LLVM fuse multiply-adds (never reassociation:
#: :mod:`accnum.kernels.vmath` and the results' agreement with NumPy rely on that); no
#: reference counting (:data:`accnum.kernels.numba_compat.NO_RUNTIME`: the kernels allocate nothing)
OPTS = dict(cache=True, nogil=True, error_model="numpy", fastmath={"contract"}, **NO_RUNTIME)


def layout(cls, **shapes):
    """``(total, cls(field=(offset, size, shape), ...))`` for a scratch ``NamedTuple`` class,
    its fields packed in declaration order; a field missing from ``shapes`` gets one element."""
    specs, off = {}, 0
    for name in cls._fields:
        shape = tuple(int(s) for s in shapes.get(name, (1,)))
        size = int(math.prod(shape))
        specs[name] = (off, size, shape)
        off += size
    return max(off, 1), cls(**specs)


@numba.njit(inline="always", **OPTS)
def take(buf, spec):
    """The view of scratch field ``spec = (offset, size, shape)`` in the block's buffer
    (inlined where it is called: a CUDA device function may not return a view it made)."""
    return buf[spec[0]:spec[0] + spec[1]].reshape(spec[2])


@numba.njit(**OPTS)
def load_lanes(dst, src, i0, L, n):
    """``dst[a, l] = src[i0 + l, a]``: a block's points from an ``(n, d)`` array, lane index
    last (zeros in the padding lanes ``i0 + l >= n``)."""
    for a in range(dst.shape[0]):
        for l in range(L):
            i = i0 + l
            dst[a, l] = src[i, a] if i < n else 0.0


@numba.njit(**OPTS)
def store_lanes(dst, src, i0, L, n):
    """``dst[i0 + l, a] = src[a, l]`` for the lanes that are items (``i0 + l < n``): a block's
    points back into an ``(n, d)`` array (the inverse of :func:`load_lanes`)."""
    for l in range(L):
        i = i0 + l
        if i < n:
            for a in range(src.shape[0]):
                dst[i, a] = src[a, l]


def lanes_for(backend: str, per_lane: int, budget: int = 1 << 18) -> int:
    """Lanes per block: :data:`LANES` on the CPU, fewer when a lane's scratch is large (a d x d
    tangent per row at large d), so that a block's scratch stays near ``budget`` numbers;
    one on CUDA (a thread is a block)."""
    if backend == "cuda":
        return 1
    return int(max(1, min(LANES, budget // max(per_lane, 1))))


_FRESH: dict = {}


def fresh(body):
    """``body`` compiled without the on-disk cache, for a user's functions or closures (see
    :func:`accnum.kernels.numba_compat.cacheable`); one twin per body, made on first use."""
    twin = _FRESH.get(body)
    if twin is None:
        options = {k: v for k, v in body.targetoptions.items() if k != "nopython"}   # njit sets it itself
        twin = _FRESH[body] = numba.njit(**{**options, "cache": False})(body.py_func)
    return twin


def scratch(total: int) -> np.ndarray:
    """A block's scratch buffer of ``total`` float64 numbers starting on a 64-byte boundary
    (a cache line, and one AVX-512 vector: the lanes' loads and stores stay aligned)."""
    raw = np.empty(total + 8)
    start = (-raw.ctypes.data % 64) // 8
    return raw[start:start + total]


_POOL = None


def _pool():
    global _POOL
    if _POOL is None:
        from concurrent.futures import ThreadPoolExecutor

        _POOL = ThreadPoolExecutor(max_workers=numba.config.NUMBA_NUM_THREADS, thread_name_prefix="accnum")
    return _POOL


def _cpu(body, score, score_jac, n, lanes, total, args):
    """The CPU launcher: the blocks split into contiguous runs, ``numba.get_num_threads()`` of
    them at a time (a block's numbers do not depend on which thread ran it)."""
    blocks = (n + lanes - 1) // lanes
    threads = min(numba.get_num_threads(), blocks)
    run = body if cacheable(body, score, score_jac) else fresh(body)
    if threads <= 1:
        run(0, blocks, lanes, n, scratch(total), score, score_jac, args)
        return
    chunks = min(blocks, 4 * threads)           # a few runs per thread evens out uneven blocks
    edges = [blocks * c // chunks for c in range(chunks + 1)]
    pool = _pool()
    futures = [pool.submit(run, edges[c], edges[c + 1], lanes, n, scratch(total), score, score_jac, args)
               for c in range(chunks)]
    for f in futures:
        f.result()


class Prepared(NamedTuple):
    """A kernel run ready to go: ``body`` over ``n`` lanes in blocks of ``lanes`` with the
    compiled score (``score``, and ``score_jac`` or the low-rank form), ``args`` (arrays and
    the scratch layout) of which ``outputs`` come back; ``calls`` score evaluations per lane.
    The kernels' ``prepare`` functions build one, :func:`run` runs it, and the tests compile
    the same one to PTX."""
    body: object
    score: object
    score_jac: object
    n: int
    lanes: int
    total: int
    args: tuple
    outputs: tuple
    calls: int


def run(backend: str, p: Prepared, model=None) -> tuple:
    """Launch ``p`` on ``backend``; count its evaluations on ``model``; return its outputs."""
    launch(backend, p.body, p.score, p.score_jac, p.n, p.lanes, p.total, p.args, p.outputs)
    if model is not None:
        model.count(p.calls)
    return p.outputs


def launch(backend: str, body, score, score_jac, n: int, lanes: int, total: int, args, outputs=()) -> None:
    """Run ``body`` over ``n`` lanes in blocks of ``lanes`` on ``backend``; on CUDA the arrays
    in ``args`` go to the device and those in ``outputs`` come back."""
    if n == 0:
        return
    if backend == "cpu":
        _cpu(body, score, score_jac, n, lanes, total, args)
        return
    if backend != "cuda":  # pragma: no cover - callers resolve the backend first
        raise ValueError(f"backend {backend!r} has no kernels")
    assert lanes == 1, "a CUDA thread is a block of one lane"
    from .cuda_launch import launch_cuda

    launch_cuda(body, score, score_jac, n, total, args, outputs)


stabilize(globals())
