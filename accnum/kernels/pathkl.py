"""The path KL's inner loop (SPEC §4) in compiled kernels: ``log p_t(y | x) - log q(y | x)``.

For each exact pair ``(X_{t-1}, X_t) = (y, x)`` drawn in NumPy, one kernel call per step
evaluates, per pair,

    log q  = log q_{t-1}(y) + log N(x; sqrt(alpha_t) y, beta_t I) - log q_t(x)
    log p  = log N(y; m_t(x), v1 I)                                   (v0 = 0)
           = log sum_j w_j f(u_j) / phi(u_j)                           (v0 > 0)

with the Gauss–Hermite nodes ``u_j`` centred on the Gaussian that the mean map
linearised at ``x`` gives, exactly as :func:`accnum.metrics.path_kl.kernel_logpdf` does.
The mean map ``m_t`` is the sampler's own, traced into a one-row program and run by the
shared executor (:mod:`accnum.kernels.step`), its Jacobian from the executor's tangent.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numba
import numpy as np

from ._stable import stable, stabilize
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
def make_pair(run):
    """``log p - log q`` for one pair, over one executor (one score component)."""

    @numba.njit(cache=True, error_model="numpy", _nrt=False)
    def pair(i, x, y, u, m, r, A, B, C, vec, sym, pt, ws, tan, tpt, J, lu,
             v0, v1, sa, b, pts, logw, lwq, meanq, ivq, Uq, fullq,
             steps, stages, stage_abar, stage_coef, out_coef, mem_coef, n_mem, n_noise, keys,
             lw, mean, iv, U, full, p0, p1, p2, p3):
        d = x.shape[0]
        for a in range(d):
            r[a] = x[a] - sa * y[a]
        log_q = mixture_logpdf(0, y, ws, lwq, meanq, ivq, Uq, fullq) + gauss_logpdf(r, b) \
            - mixture_logpdf(1, x, ws, lwq, meanq, ivq, Uq, fullq)
        for a in range(d):
            m[0, a] = x[a]
        if v0 == 0.0:
            run(i, m, 0, sym, pt, ws, tan, tpt, J, lu, 0,
                steps, stages, stage_abar, stage_coef, out_coef, mem_coef, n_mem, n_noise, keys,
                lw, mean, iv, U, full, p0, p1, p2, p3)
            for a in range(d):
                r[a] = y[a] - m[0, a]
            return gauss_logpdf(r, v1) - log_q
        run(i, m, 0, sym, pt, ws, tan, tpt, J, lu, 1,
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
        for j in range(pts.shape[0]):
            pp = 0.0
            for a in range(d):
                acc = r[a]
                for c in range(d):
                    acc += C[a, c] * pts[j, c]
                u[a] = acc
                m[0, a] = acc
                pp += pts[j, a] * pts[j, a]
            run(i, m, 0, sym, pt, ws, tan, tpt, J, lu, 0,
                steps, stages, stage_abar, stage_coef, out_coef, mem_coef, n_mem, n_noise, keys,
                lw, mean, iv, U, full, p0, p1, p2, p3)
            s0, s1 = 0.0, 0.0
            for a in range(d):
                s0 += (u[a] - x[a]) ** 2
                s1 += (y[a] - m[0, a]) ** 2
            # log N(u; x, v0) + log N(y; m(u), v1) - log phi(u) + log w_j, constants hoisted
            e = -0.5 * s0 / v0 - 0.5 * s1 / v1 + 0.5 * pp + logdiag + logw[j]
            if e > top:
                tot = tot * math.exp(top - e) + 1.0
                top = e
            else:
                tot += math.exp(e - top)
        # the hoisted constants: -d/2 log(2 pi v0) - d/2 log(2 pi v1) + d/2 log(2 pi)
        return top + math.log(tot) - 0.5 * d * (math.log(2.0 * math.pi * v0) + math.log(v1)) - log_q

    return stable(pair, run)


@numba.njit(cache=True, error_model="numpy", _nrt=False)
def draw_pair(i, keys, cw, smean, sfac, sa, sb, x, y, z):
    """The exact pair of sample ``i``: ``y = X_{t-1} ~ q_{t-1}`` and ``x = X_t | y``, drawn
    as :meth:`GaussianMixture._sample_stream` and :func:`accnum.metrics.path_kl.path_kl` do
    (component by the first uniform of stream ``keys[0]``, normals of ``keys[1]``, then
    ``x = sqrt(alpha_t) y + sqrt(beta_t) Z`` with ``Z`` from ``keys[2]``).  ``sfac[k]`` is
    the component's covariance factor (Cholesky, or the diagonal of standard deviations)."""
    K, d = smean.shape
    u = uniform(sample_key(keys[0], i), 0) * cw[K]      # cw: cumulative weights, then their sum
    comp = 0
    while comp < K and cw[comp] <= u:
        comp += 1
    comp = min(comp, K - 1)
    ky = sample_key(keys[1], i)
    for a in range(d):
        z[a] = normal(ky, a)
    for a in range(d):
        acc = 0.0
        for b in range(d):
            acc += sfac[comp, a, b] * z[b]
        y[a] = smean[comp, a] + acc
    kx = sample_key(keys[2], i)
    for a in range(d):
        x[a] = sa * y[a] + sb * normal(kx, a)


@lru_cache(maxsize=None)
def make_cpu_pairs(pair):
    @numba.njit(cache=True, error_model="numpy", _nrt=False)
    def block(lo, hi, draws, out, xi, yi, u, m, r, A, B, C, vec, sym, pt, ws, tan, tpt, J, lu,
              v0, v1, sa, b, pts, logw, lwq, meanq, ivq, Uq, fullq, dkeys, cw, smean, sfac,
              steps, stages, stage_abar, stage_coef, out_coef, mem_coef, n_mem, n_noise, keys,
              lw, mean, iv, U, full, p0, p1, p2, p3):
        sb = math.sqrt(b)
        for i in range(lo, hi):
            draw_pair(draws + i, dkeys, cw, smean, sfac, sa, sb, xi, yi, u)
            out[i] = pair(i, xi, yi, u, m, r, A, B, C, vec, sym, pt, ws, tan, tpt, J, lu,
                          v0, v1, sa, b, pts, logw, lwq, meanq, ivq, Uq, fullq,
                          steps, stages, stage_abar, stage_coef, out_coef, mem_coef, n_mem, n_noise, keys,
                          lw, mean, iv, U, full, p0, p1, p2, p3)

    @numba.njit(parallel=True, cache=True, error_model="numpy")
    def kernel(draws, out, n_rows, wsize, v0, v1, sa, b, pts, logw, lwq, meanq, ivq, Uq, fullq, dkeys, cw, smean, sfac,
               steps, stages, stage_abar, stage_coef, out_coef, mem_coef, n_mem, n_noise, keys,
               lw, mean, iv, U, full, p0, p1, p2, p3):
        n, d = out.shape[0], smean.shape[1]
        blocks = (n + 63) // 64
        for blk in numba.prange(blocks):
            u, m, r, vec = np.empty(d), np.empty((1, d)), np.empty(d), np.empty(d)
            xi, yi = np.empty(d), np.empty(d)
            A, B, C = np.empty((d, d)), np.empty((d, d)), np.empty((d, d))
            sym, pt, ws = np.empty((n_rows, d)), np.empty(d), np.empty(wsize)
            tan, tpt, J, lu = np.empty((n_rows, d, d)), np.empty((d, d)), np.empty((d, d)), np.empty((d, d))
            block(blk * 64, min(n, (blk + 1) * 64), draws, out, xi, yi, u, m, r, A, B, C, vec, sym, pt, ws, tan, tpt,
                  J, lu, v0, v1, sa, b, pts, logw, lwq, meanq, ivq, Uq, fullq, dkeys, cw, smean, sfac,
                  steps, stages, stage_abar, stage_coef, out_coef, mem_coef, n_mem, n_noise, keys,
                  lw, mean, iv, U, full, p0, p1, p2, p3)

    stable(block, pair)
    return stable(kernel, pair)


# ----------------------------------------------------------------- grid push-forward
@lru_cache(maxsize=None)
def make_inverse(run):
    """Damped Newton for ``m_t(x) = y`` at one grid point (the grid TV's push-forward,
    :func:`accnum.metrics.grid._push_forward`): returns the iterations used (-1: no
    convergence in 60) and leaves ``x`` and ``det Dm_t(x)`` in ``x`` and ``out[0]``."""

    @numba.njit(cache=True, error_model="numpy", _nrt=False)
    def invert_one(i, y, x, tol, out, m, step, A, B, sym, pt, ws, tan, tpt, J, lu,
                   steps, stages, stage_abar, stage_coef, out_coef, mem_coef, n_mem, n_noise, keys,
                   lw, mean, iv, U, full, p0, p1, p2, p3):
        d = y.shape[0]
        for a in range(d):
            m[0, a] = x[a]
        run(i, m, 0, sym, pt, ws, tan, tpt, J, lu, 1,
            steps, stages, stage_abar, stage_coef, out_coef, mem_coef, n_mem, n_noise, keys,
            lw, mean, iv, U, full, p0, p1, p2, p3)
        norm = 0.0
        for a in range(d):
            norm += (m[0, a] - y[a]) ** 2
        norm = math.sqrt(norm)
        for it in range(61):
            if norm < tol or it == 60:
                for a in range(d):
                    for c in range(d):
                        A[a, c] = tan[0, a, c]
                out[0] = det(A)
                return it if norm < tol else -1
            for a in range(d):
                m[0, a] -= y[a]
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
                    m[0, a] = x[a] - lam * step[a]
                run(i, m, 0, sym, pt, ws, tan, tpt, J, lu, 1,
                    steps, stages, stage_abar, stage_coef, out_coef, mem_coef, n_mem, n_noise, keys,
                    lw, mean, iv, U, full, p0, p1, p2, p3)
                trial = 0.0
                for a in range(d):
                    trial += (m[0, a] - y[a]) ** 2
                trial = math.sqrt(trial)
                if trial <= norm or tries == 12:
                    break
                lam *= 0.5
            for a in range(d):
                x[a] -= lam * step[a]
            norm = trial
        return -1

    return stable(invert_one, run)


@lru_cache(maxsize=None)
def make_invert_point(invert_one):
    """Grid point ``i``: copy in, solve, copy ``x`` and ``det`` out (CPU block loop and CUDA thread)."""

    @numba.njit(cache=True, error_model="numpy", _nrt=False)
    def invert_point(i, y, x, det, its, tol, xi, yi, out, m, step, A, B, sym, pt, ws, tan, tpt, J, lu,
                     steps, stages, stage_abar, stage_coef, out_coef, mem_coef, n_mem, n_noise, keys,
                     lw, mean, iv, U, full, p0, p1, p2, p3):
        d = y.shape[1]
        for a in range(d):
            xi[a] = x[i, a]
            yi[a] = y[i, a]
        its[i] = invert_one(i, yi, xi, tol, out, m, step, A, B, sym, pt, ws, tan, tpt, J, lu,
                            steps, stages, stage_abar, stage_coef, out_coef, mem_coef, n_mem, n_noise, keys,
                            lw, mean, iv, U, full, p0, p1, p2, p3)
        for a in range(d):
            x[i, a] = xi[a]
        det[i] = out[0]

    return stable(invert_point, invert_one)


@lru_cache(maxsize=None)
def make_cpu_inverse(invert_one):
    point = make_invert_point(invert_one)

    @numba.njit(cache=True, error_model="numpy", _nrt=False)
    def block(lo, hi, y, x, det, its, tol, xi, yi, out, m, step, A, B, sym, pt, ws, tan, tpt, J, lu,
              steps, stages, stage_abar, stage_coef, out_coef, mem_coef, n_mem, n_noise, keys,
              lw, mean, iv, U, full, p0, p1, p2, p3):
        for i in range(lo, hi):
            point(i, y, x, det, its, tol, xi, yi, out, m, step, A, B, sym, pt, ws, tan, tpt, J, lu,
                  steps, stages, stage_abar, stage_coef, out_coef, mem_coef, n_mem, n_noise, keys,
                  lw, mean, iv, U, full, p0, p1, p2, p3)

    @numba.njit(parallel=True, cache=True, error_model="numpy")
    def kernel(y, x, det, its, tol, n_rows, wsize,
               steps, stages, stage_abar, stage_coef, out_coef, mem_coef, n_mem, n_noise, keys,
               lw, mean, iv, U, full, p0, p1, p2, p3):
        n, d = y.shape
        blocks = (n + 63) // 64
        for blk in numba.prange(blocks):
            out, m, step = np.empty(1), np.empty((1, d)), np.empty(d)
            xi, yi = np.empty(d), np.empty(d)
            A, B = np.empty((d, d)), np.empty((d, d))
            sym, pt, ws = np.empty((n_rows, d)), np.empty(d), np.empty(wsize)
            tan, tpt, J, lu = np.empty((n_rows, d, d)), np.empty((d, d)), np.empty((d, d)), np.empty((d, d))
            block(blk * 64, min(n, (blk + 1) * 64), y, x, det, its, tol, xi, yi, out, m, step, A, B, sym, pt, ws,
                  tan, tpt, J, lu, steps, stages, stage_abar, stage_coef, out_coef, mem_coef, n_mem, n_noise, keys,
                  lw, mean, iv, U, full, p0, p1, p2, p3)

    stable(block, invert_one)
    return stable(kernel, invert_one)


stabilize(globals())
