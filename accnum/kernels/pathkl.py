"""The path KL's inner loop (SPEC §4) and the grid TV's Newton inversion in compiled kernels.

Path KL: ``log p_t(y | x) - log q(y | x)``.  For each exact pair ``(X_{t-1}, X_t) = (y, x)``,
drawn inside the kernel from the same counter streams as NumPy draws it, one kernel call
for all steps evaluates, per pair,

    log q  = log q_{t-1}(y) + log N(x; sqrt(alpha_t) y, beta_t I) - log q_t(x)
    log p  = log N(y; m_t(x), v1 I)                                   (v0 = 0)
           = log sum_j w_j f(u_j) / phi(u_j)                           (v0 > 0)

with the Gauss–Hermite nodes ``u_j`` centred on the Gaussian that the mean map
linearised at ``x`` gives, exactly as :func:`accnum.metrics.path_kl.kernel_logpdf` does.
The mean maps ``m_t`` are the sampler's own, traced into one program with a row per step
(:func:`accnum.kernels.program.trace_mean_maps`) and run a row at a time by the shared
executor (:mod:`accnum.kernels.step`), the Jacobian from the executor's tangent.

Grid TV: ``m_t(x) = y`` solved by damped Newton at each grid point for a run of steps
in one call, each step's solve starting from the previous step's solution.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numba
import numpy as np

from ._stable import stabilize, variant
from .rng import normal, sample_key, uniform
from .scores import mixture_logpdf
from .step import det

_LOG_2PI = math.log(2.0 * math.pi)


@numba.njit(cache=True, error_model="numpy", inline="always")
def gauss_logpdf(r, var):
    acc = 0.0
    for a in range(r.shape[0]):
        acc += r[a] * r[a]
    return -0.5 * acc / var - 0.5 * r.shape[0] * math.log(2.0 * math.pi * var)


@numba.njit(cache=True, error_model="numpy", inline="always")
def invert(A, out):
    """``out = A^{-1}`` by Gauss–Jordan with partial pivoting (A is overwritten)."""
    d = A.shape[0]
    for r in range(d):
        for c in range(d):
            out[r, c] = 1.0 if r == c else 0.0
    for c in range(d):
        piv = c
        for r in range(c + 1, d):
            if abs(A[r, c]) > abs(A[piv, c]):
                piv = r
        for b in range(d):
            A[c, b], A[piv, b] = A[piv, b], A[c, b]
            out[c, b], out[piv, b] = out[piv, b], out[c, b]
        f = 1.0 / A[c, c]
        for b in range(d):
            A[c, b] *= f
            out[c, b] *= f
        for r in range(d):
            if r != c:
                g = A[r, c]
                for b in range(d):
                    A[r, b] -= g * A[c, b]
                    out[r, b] -= g * out[c, b]


@numba.njit(cache=True, error_model="numpy", inline="always")
def cholesky(A, L):
    """Lower Cholesky factor of the symmetric part of ``A`` into ``L``."""
    d = A.shape[0]
    for r in range(d):
        for c in range(d):
            L[r, c] = 0.0
    for c in range(d):
        acc = 0.5 * (A[c, c] + A[c, c])
        for k in range(c):
            acc -= L[c, k] * L[c, k]
        L[c, c] = math.sqrt(acc)
        for r in range(c + 1, d):
            acc = 0.5 * (A[r, c] + A[c, r])
            for k in range(c):
                acc -= L[r, k] * L[c, k]
            L[r, c] = acc / L[c, c]


@lru_cache(maxsize=None)
def make_map(run, mean_row, simple: bool):
    """``m[0] <- m_t(m[0])``, ``m_t`` the mean-map program's row ``row`` (its Jacobian in
    ``tan[0]`` when ``jac``): :func:`~accnum.kernels.step.make_mean_row` inlined where every
    row is a single evaluation (``simple``, see :func:`~accnum.kernels.step.single_rows`),
    else the executor on that row."""

    @variant(run, mean_row, simple, cache=True, error_model="numpy", inline="always", _nrt=False)
    def mean_map(row, i, m, sym, pt, ws, tan, tpt, J, lu, jac,
                 steps, stages, stage_abar, stage_coef, out_coef, mem_coef, n_mem, n_noise, keys,
                 lw, mean, iv, U, full, p0, p1, p2, p3):
        if simple:
            mean_row(row, i, m, 0, sym, pt, ws, tan, J, jac, stage_coef, out_coef, lw, mean, iv, U, full,
                     p0, p1, p2, p3)
        else:
            run(i, m, 0, sym, pt, ws, tan, tpt, J, lu, jac, row, row + 1,
                steps, stages, stage_abar, stage_coef, out_coef, mem_coef, n_mem, n_noise, keys,
                lw, mean, iv, U, full, p0, p1, p2, p3)

    return mean_map


@numba.njit(cache=True, error_model="numpy", inline="always", _nrt=False)
def draw_pair(i, row, keys, cw, smean, sfac, sa, sb, x, y, z):
    """The exact pair of sample ``i`` at program row ``row``: ``y = X_{t-1} ~ q_{t-1}`` and
    ``x = X_t | y``, drawn as :meth:`GaussianMixture._sample_stream` and
    :func:`accnum.metrics.path_kl.path_kl` do (component by the first uniform of stream
    ``keys[row, 0]``, normals of ``keys[row, 1]``, then ``x = sqrt(alpha_t) y + sqrt(beta_t) Z``
    with ``Z`` from ``keys[row, 2]``).  ``sfac[row, k]`` is component ``k``'s covariance factor
    in ``q_{t-1}`` (Cholesky, or the diagonal of standard deviations)."""
    K, d = smean.shape[1], smean.shape[2]
    u = uniform(sample_key(keys[row, 0], i), 0) * cw[row, K]      # cw: cumulative weights, then their sum
    comp = 0
    while comp < K and cw[row, comp] <= u:
        comp += 1
    comp = min(comp, K - 1)
    ky = sample_key(keys[row, 1], i)
    for a in range(d):
        z[a] = normal(ky, a)
    for a in range(d):
        acc = 0.0
        for b in range(d):
            acc += sfac[row, comp, a, b] * z[b]
        y[a] = smean[row, comp, a] + acc
    kx = sample_key(keys[row, 2], i)
    for a in range(d):
        x[a] = sa * y[a] + sb * normal(kx, a)


@lru_cache(maxsize=None)
def make_pairs(mm):
    """``out[j, i] = log p - log q`` for pairs ``i = lo..hi-1`` of program row ``r0 + j``, over
    one mean map (:func:`make_map`): a CPU block, or one CUDA thread's pair (``hi = lo + 1``).
    The loop over pairs sits inside, so that the mean map inlines into it: a call with
    these arguments costs more than a pair of ``ddpm-li``."""

    @variant(mm, cache=True, error_model="numpy", _nrt=False)
    def pairs(j, lo, hi, r0, out, x, y, u, m, r, A, B, C, vec, sym, pt, ws, tan, tpt, J, lu,
              V0, V1, SA, BETA, pts, logw, lwq, meanq, ivq, Uq, fullq, dkeys, cw, smean, sfac,
              steps, stages, stage_abar, stage_coef, out_coef, mem_coef, n_mem, n_noise, keys,
              lw, mean, iv, U, full, p0, p1, p2, p3):
        d = x.shape[0]
        row = r0 + j
        v0, v1, sa, b = V0[row], V1[row], SA[row], BETA[row]
        sb = math.sqrt(b)
        for i in range(lo, hi):
            draw_pair(i, row, dkeys, cw, smean, sfac, sa, sb, x, y, u)
            for a in range(d):
                r[a] = x[a] - sa * y[a]
            log_q = mixture_logpdf(2 * row, y, ws, lwq, meanq, ivq, Uq, fullq) + gauss_logpdf(r, b) \
                - mixture_logpdf(2 * row + 1, x, ws, lwq, meanq, ivq, Uq, fullq)
            for a in range(d):
                m[0, a] = x[a]
            if v0 == 0.0:
                mm(row, i, m, sym, pt, ws, tan, tpt, J, lu, 0,
                   steps, stages, stage_abar, stage_coef, out_coef, mem_coef, n_mem, n_noise, keys,
                   lw, mean, iv, U, full, p0, p1, p2, p3)
                for a in range(d):
                    r[a] = y[a] - m[0, a]
                out[j, i] = gauss_logpdf(r, v1) - log_q
                continue
            mm(row, i, m, sym, pt, ws, tan, tpt, J, lu, 1,
               steps, stages, stage_abar, stage_coef, out_coef, mem_coef, n_mem, n_noise, keys,
               lw, mean, iv, U, full, p0, p1, p2, p3)
            # M = tan[0] = Dm(x); prec = I / v0 + M^T M / v1; rhs = x / v0 + M^T (y - m + M x) / v1
            for a in range(d):
                acc = 0.0
                for c in range(d):
                    acc += tan[0, a, c] * x[c]
                r[a] = y[a] - m[0, a] + acc
            for a in range(d):
                acc = 0.0
                for c in range(d):
                    acc += tan[0, c, a] * r[c]
                vec[a] = x[a] / v0 + acc / v1
                for c in range(d):
                    acc = 0.0
                    for k in range(d):
                        acc += tan[0, k, a] * tan[0, k, c]
                    A[a, c] = (1.0 / v0 if a == c else 0.0) + acc / v1
            invert(A, B)                   # B = cov
            cholesky(B, C)                 # C = chol(cov)
            logdiag = 0.0
            for a in range(d):
                acc = 0.0
                for c in range(d):
                    acc += B[a, c] * vec[c]
                r[a] = acc                 # r = centre
                logdiag += math.log(C[a, a])
            top, tot = -np.inf, 0.0
            for g in range(pts.shape[0]):
                pp = 0.0
                for a in range(d):
                    acc = r[a]
                    for c in range(d):
                        acc += C[a, c] * pts[g, c]
                    u[a] = acc
                    m[0, a] = acc
                    pp += pts[g, a] * pts[g, a]
                mm(row, i, m, sym, pt, ws, tan, tpt, J, lu, 0,
                   steps, stages, stage_abar, stage_coef, out_coef, mem_coef, n_mem, n_noise, keys,
                   lw, mean, iv, U, full, p0, p1, p2, p3)
                s0, s1 = 0.0, 0.0
                for a in range(d):
                    s0 += (u[a] - x[a]) ** 2
                    s1 += (y[a] - m[0, a]) ** 2
                # log N(u; x, v0) + log N(y; m(u), v1) - log phi(u) + log w_g, constants hoisted
                e = -0.5 * s0 / v0 - 0.5 * s1 / v1 + 0.5 * pp + logdiag + logw[g]
                if e > top:
                    tot = tot * math.exp(top - e) + 1.0
                    top = e
                else:
                    tot += math.exp(e - top)
            # the hoisted constants: -d/2 log(2 pi v0) - d/2 log(2 pi v1) + d/2 log(2 pi)
            out[j, i] = top + math.log(tot) - 0.5 * d * (math.log(2.0 * math.pi * v0) + math.log(v1)) - log_q

    return pairs


@lru_cache(maxsize=None)
def make_cpu_pairs(pairs):
    """``out[j, i]`` = pair ``i`` of program row ``r0 + j``, for every row of ``out`` in one call:
    ``prange`` over (row, block of 64 pairs)."""

    @variant(pairs, parallel=True, cache=True, error_model="numpy")
    def kernel(r0, out, n_rows, wsize, V0, V1, SA, BETA, pts, logw, lwq, meanq, ivq, Uq, fullq, dkeys, cw, smean, sfac,
               steps, stages, stage_abar, stage_coef, out_coef, mem_coef, n_mem, n_noise, keys,
               lw, mean, iv, U, full, p0, p1, p2, p3):
        R, n, d = out.shape[0], out.shape[1], smean.shape[2]
        blocks = (n + 63) // 64
        for task in numba.prange(R * blocks):
            j, blk = task // blocks, task % blocks
            u, m, r, vec = np.empty(d), np.empty((1, d)), np.empty(d), np.empty(d)
            xi, yi = np.empty(d), np.empty(d)
            A, B, C = np.empty((d, d)), np.empty((d, d)), np.empty((d, d))
            sym, pt, ws = np.empty((n_rows, d)), np.empty(d), np.empty(wsize)
            tan, tpt, J, lu = np.empty((n_rows, d, d)), np.empty((d, d)), np.empty((d, d)), np.empty((d, d))
            pairs(j, blk * 64, min(n, (blk + 1) * 64), r0, out, xi, yi, u, m, r, A, B, C, vec, sym, pt, ws, tan, tpt,
                  J, lu, V0, V1, SA, BETA, pts, logw, lwq, meanq, ivq, Uq, fullq, dkeys, cw, smean, sfac,
                  steps, stages, stage_abar, stage_coef, out_coef, mem_coef, n_mem, n_noise, keys,
                  lw, mean, iv, U, full, p0, p1, p2, p3)

    return kernel


# ----------------------------------------------------------------- grid push-forward
@lru_cache(maxsize=None)
def make_inverse(mm):
    """Damped Newton for ``m_t(x) = y`` at grid points ``lo..hi-1`` (a CPU block, or one CUDA
    thread's point), for program rows ``r0..r0+R-1`` in turn, each solve starting from the
    previous row's solution (``x0[i]`` for the first): ``x[j, i]``, ``det Dm_t(x)`` in
    ``det[j, i]`` and the iterations used in ``its[j, i]`` (-1: no convergence in 60) for row
    ``r0 + j`` (the grid TV's push-forward, :class:`accnum.metrics.grid._Preimages`)."""

    @variant(mm, cache=True, error_model="numpy", inline="always", _nrt=False)
    def residual(row, i, m, y, sym, pt, ws, tan, tpt, J, lu,
                 steps, stages, stage_abar, stage_coef, out_coef, mem_coef, n_mem, n_noise, keys,
                 lw, mean, iv, U, full, p0, p1, p2, p3):
        """``m[0] <- m_t(m[0])`` with its Jacobian in ``tan[0]``; returns ``|m_t(x) - y|``."""
        mm(row, i, m, sym, pt, ws, tan, tpt, J, lu, 1,
           steps, stages, stage_abar, stage_coef, out_coef, mem_coef, n_mem, n_noise, keys,
           lw, mean, iv, U, full, p0, p1, p2, p3)
        acc = 0.0
        for a in range(y.shape[0]):
            acc += (m[0, a] - y[a]) ** 2
        return math.sqrt(acc)

    @variant(mm, cache=True, error_model="numpy", _nrt=False)
    def invert_points(lo, hi, r0, y, x0, x, det_out, its, tol, xi, yi, m, step, A, B, sym, pt, ws, tan, tpt, J, lu,
                      steps, stages, stage_abar, stage_coef, out_coef, mem_coef, n_mem, n_noise, keys,
                      lw, mean, iv, U, full, p0, p1, p2, p3):
        d = y.shape[1]
        for i in range(lo, hi):
            for a in range(d):
                xi[a] = x0[i, a]
                yi[a] = y[i, a]
            for j in range(x.shape[0]):
                row = r0 + j
                for a in range(d):
                    m[0, a] = xi[a]
                norm = residual(row, i, m, yi, sym, pt, ws, tan, tpt, J, lu,
                                steps, stages, stage_abar, stage_coef, out_coef, mem_coef, n_mem, n_noise, keys,
                                lw, mean, iv, U, full, p0, p1, p2, p3)
                for it in range(61):
                    if norm < tol or it == 60:
                        for a in range(d):
                            for c in range(d):
                                A[a, c] = tan[0, a, c]
                        det_out[j, i] = det(A)
                        its[j, i] = it if norm < tol else -1
                        break
                    for a in range(d):
                        m[0, a] -= yi[a]
                        for c in range(d):
                            A[a, c] = tan[0, a, c]
                    invert(A, B)
                    for a in range(d):
                        acc = 0.0
                        for c in range(d):
                            acc += B[a, c] * m[0, c]
                        step[a] = acc
                    # damped Newton: halve the step while it does not reduce the residual; the
                    # accepted trial's value and Jacobian serve the next iteration
                    lam = 1.0
                    for tries in range(13):
                        # (after 12 halvings the step is taken anyway, as in the NumPy version)
                        for a in range(d):
                            m[0, a] = xi[a] - lam * step[a]
                        trial = residual(row, i, m, yi, sym, pt, ws, tan, tpt, J, lu,
                                         steps, stages, stage_abar, stage_coef, out_coef, mem_coef, n_mem, n_noise,
                                         keys, lw, mean, iv, U, full, p0, p1, p2, p3)
                        if trial <= norm or tries == 12:
                            break
                        lam *= 0.5
                    for a in range(d):
                        xi[a] -= lam * step[a]
                    norm = trial
                for a in range(d):
                    x[j, i, a] = xi[a]

    return invert_points


@lru_cache(maxsize=None)
def make_cpu_inverse(invert_points):
    @variant(invert_points, parallel=True, cache=True, error_model="numpy")
    def kernel(r0, y, x0, x, det, its, tol, n_rows, wsize,
               steps, stages, stage_abar, stage_coef, out_coef, mem_coef, n_mem, n_noise, keys,
               lw, mean, iv, U, full, p0, p1, p2, p3):
        n, d = y.shape
        blocks = (n + 63) // 64
        for blk in numba.prange(blocks):
            m, step = np.empty((1, d)), np.empty(d)
            xi, yi = np.empty(d), np.empty(d)
            A, B = np.empty((d, d)), np.empty((d, d))
            sym, pt, ws = np.empty((n_rows, d)), np.empty(d), np.empty(wsize)
            tan, tpt, J, lu = np.empty((n_rows, d, d)), np.empty((d, d)), np.empty((d, d)), np.empty((d, d))
            invert_points(blk * 64, min(n, (blk + 1) * 64), r0, y, x0, x, det, its, tol, xi, yi, m, step, A, B, sym,
                          pt, ws, tan, tpt, J, lu, steps, stages, stage_abar, stage_coef, out_coef, mem_coef, n_mem,
                          n_noise, keys, lw, mean, iv, U, full, p0, p1, p2, p3)

    return kernel


stabilize(globals())
