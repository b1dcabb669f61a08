"""Compiled score evaluations on batches of points, for the metrics' inner loops.

The path KL (Gauss–Hermite nodes of every pair, SPEC §4) and the grid propagation
evaluate the score at many points per step from Python; :class:`KernelScore` is a score
model whose evaluations (value, and Jacobian when a tangent comes in) run through the
same compiled score components as the samplers' kernels (:mod:`accnum.kernels.scores`),
one point per ``prange`` iteration or per CUDA thread.  Only the per-step orchestration
stays in NumPy.
"""

from __future__ import annotations

from functools import lru_cache
from types import SimpleNamespace

import numba
import numpy as np

from ..score import ScoreModel
from . import plug, scores
from ._stable import stabilize, variant


@lru_cache(maxsize=None)
def make_point(score, score_jac):
    """One point's score (and Jacobian) into row ``i`` of ``out`` (and ``J``), shared by the
    CPU block loop and the CUDA thread."""

    @variant(score, score_jac, cache=True, error_model="numpy", _nrt=False)
    def point(i, x, out, J, jac, ws, xi, Ji, lw, mean, iv, U, full, p0, p1, p2, p3):
        d = x.shape[1]
        for a in range(d):
            xi[a] = x[i, a]
        if jac:
            score_jac(0, i, xi, out, i, Ji, ws, lw, mean, iv, U, full, p0, p1, p2, p3)
            for a in range(d):
                for b in range(d):
                    J[i, a, b] = Ji[a, b]
        else:
            score(0, i, xi, out, i, ws, lw, mean, iv, U, full, p0, p1, p2, p3)

    return point


@lru_cache(maxsize=None)
def _cpu_points(score, score_jac):
    point = make_point(score, score_jac)

    @variant(score, score_jac, cache=True, error_model="numpy", _nrt=False)
    def block(lo, hi, x, out, J, jac, ws, xi, Ji, lw, mean, iv, U, full, p0, p1, p2, p3):
        for i in range(lo, hi):
            point(i, x, out, J, jac, ws, xi, Ji, lw, mean, iv, U, full, p0, p1, p2, p3)

    @variant(score, score_jac, parallel=True, cache=True, error_model="numpy")
    def kernel(x, out, J, jac, wsize, lw, mean, iv, U, full, p0, p1, p2, p3):
        n, d = x.shape
        blocks = (n + 63) // 64
        for blk in numba.prange(blocks):
            ws, xi, Ji = np.empty(wsize), np.empty(d), np.empty((d, d))
            block(blk * 64, min(n, (blk + 1) * 64), x, out, J, jac, ws, xi, Ji, lw, mean, iv, U, full, p0, p1, p2, p3)

    return kernel


class KernelScore(ScoreModel):
    """``model`` (the exact score or an :mod:`accnum.perturb` score) evaluated by compiled kernels."""

    def __init__(self, model, target, backend: str):
        super().__init__()
        self.model, self.target, self.backend = model, target, backend

    def _run(self, alpha_bar, x, jac):
        x = np.ascontiguousarray(x, dtype=np.float64)
        n, d = x.shape
        one = SimpleNamespace(stage_abar=np.array([[float(alpha_bar)]]), stages=np.array([1]), n_stage=1)
        comp = plug.component(self.model, self.target, one)
        if jac and not comp.has_jacobian:
            return self.model.score_and_jacobian(alpha_bar, x)   # raises its own message
        lw, mean, iv, U, full = scores.mixture_tables(comp.mixture, comp.abars)
        out = np.zeros((n, d))
        J = np.zeros((n, d, d) if jac else (1, d, d))
        wsize = scores.workspace_size(comp.mixture.K, d)
        if self.backend == "cuda" and n:
            from numba import cuda

            from .cuda import make_points_kernel

            _, kern = make_points_kernel(comp.score, comp.score_jac, d, wsize, bool(jac))
            dx, dout, dJ = cuda.to_device(x), cuda.to_device(out), cuda.to_device(J)
            dev = [cuda.to_device(a) if isinstance(a, np.ndarray) else a for a in (lw, mean, iv, U, full, *comp.params)]
            kern[(n + 127) // 128, 128](dx, dout, dJ, *dev)
            dout.copy_to_host(out)
            dJ.copy_to_host(J)
        elif n:
            _cpu_points(comp.score, comp.score_jac)(x, out, J, bool(jac), wsize, lw, mean, iv, U, full, *comp.params)
        plug.advance_counters(self.model, one)
        return (out, J) if jac else out

    def score(self, alpha_bar, x):
        return self._run(alpha_bar, x, False)

    def score_and_jacobian(self, alpha_bar, x):
        return self._run(alpha_bar, x, True)


def batch_model(model, target, backend: str):
    """``model`` itself on the numpy backend (or if it has no compiled form), else a :class:`KernelScore`."""
    from . import compilable

    if backend == "numpy" or not compilable(model):
        return model
    return KernelScore(model, target, backend)


stabilize(globals())
