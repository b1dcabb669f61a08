"""The one-step kernel density ``log p_t(y | x)`` of a kernel sampler, in NumPy and, side by
side, compiled (docs/math/metrics.md#kernel-density).

A kernel sampler's step is ``Y_{t-1} = m_t(Y_t + sqrt(v0) Z) + sqrt(v1) Z'``
(:class:`accnum.samplers.KernelSampler`).  With ``v0 = 0`` its density is Gaussian,
``N(y; m_t(x), v1 I)``.  With ``v0 > 0`` (accel-sde) it is the integral over the
intermediate point ``u``,

    p_t(y | x) = int N(u; x, v0 I) N(y; m_t(u), v1 I) du,

done by Gauss–Hermite quadrature centred on the Gaussian that the mean map linearised at
``x`` gives: ``m(u) ~ m(x) + M (u - x)``, ``M = Dm_t(x)``, so ``u | (x, y)`` has precision
``I / v0 + M^T M / v1`` and mean ``cov (x / v0 + M^T (y - m(x) + M x) / v1)``; the
tensor rule's nodes ``u_j = centre + chol(cov) z_j`` then give
``log p = log sum_j w_j f(u_j) / phi(u_j)``.
"""

from __future__ import annotations

import math

import numba
import numpy as np
from numpy.polynomial.hermite_e import hermegauss
from scipy.special import logsumexp

from ...kernels.executor import map_row
from ...kernels.layout import OPTS
from ...kernels.linalg import cholesky_lane, inverse_lane
from ...kernels.numba_compat import stabilize
from ...tangent import Tangent
from .pairs import gauss_logpdf, gauss_logpdf_lanes


def gh_rule(nodes: int, d: int):
    """Tensor Gauss–Hermite rule for E[f(Z)], Z ~ N(0, I_d): points (m^d, d), log-weights."""
    z, w = hermegauss(nodes)
    w = w / math.sqrt(2 * math.pi)
    grids = np.meshgrid(*([z] * d), indexing="ij")
    pts = np.stack([g.ravel() for g in grids], axis=1)
    logw = np.sum(np.log(np.stack(np.meshgrid(*([w] * d), indexing="ij"))).reshape(d, -1), axis=0)
    return pts, logw


# ---------------------------------------------------------------------------------- NumPy
def kernel_logpdf(sampler, t: int, sched, model, x: np.ndarray, y: np.ndarray, nodes: int = 8) -> np.ndarray:
    """``log p_t(y | x)`` of a kernel sampler's step ``t``, row by row (a
    :class:`~accnum.samplers.GaussianStepSampler`: :func:`full_cov_logpdf`)."""
    if not hasattr(sampler, "kernel") and hasattr(sampler, "moments"):
        return full_cov_logpdf(sampler, t, sched, model, x, y)
    v0, v1 = sampler.kernel(t, sched)
    if v0 == 0.0:
        return gauss_logpdf(y - sampler.checked_mean_map(t, x, model, sched), v1)
    n, d = x.shape
    lin = sampler.checked_mean_map(t, Tangent.identity(x), model, sched)   # m(x), Dm(x)
    mx, M = lin.value, lin.jac
    prec = np.eye(d)[None] / v0 + np.einsum("nki,nkj->nij", M, M) / v1
    rhs = x / v0 + np.einsum("nki,nk->ni", M, y - mx + np.einsum("nij,nj->ni", M, x)) / v1
    cov = np.linalg.inv(prec)
    centre = np.einsum("nij,nj->ni", cov, rhs)
    chol = np.linalg.cholesky(0.5 * (cov + np.swapaxes(cov, 1, 2)))
    pts, logw = gh_rule(nodes, d)
    u = centre[:, None, :] + np.einsum("nij,mj->nmi", chol, pts)                     # (n, m, d)
    m_u = sampler.checked_mean_map(t, u.reshape(-1, d), model, sched).reshape(u.shape)
    log_f = gauss_logpdf(u - x[:, None, :], v0) + gauss_logpdf(y[:, None, :] - m_u, v1)
    log_phi = (-0.5 * np.sum(pts * pts, axis=1)[None] - 0.5 * d * math.log(2 * math.pi)
               - np.sum(np.log(np.diagonal(chol, axis1=1, axis2=2)), axis=1)[:, None])
    return logsumexp(log_f - log_phi + logw[None], axis=1)


def full_cov_logpdf(sampler, t: int, sched, model, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``log N(y; m_t(x), L L^T)`` with ``(m_t(x), L)`` = ``sampler.moments(t, x, ...)``:
    ``-|L^{-1}(y - m)|^2 / 2 - log|det L| - d/2 log(2 pi)``."""
    mean, L = sampler.moments(t, x, model, sched)
    d = x.shape[1]
    r = np.linalg.solve(L, (y - mean)[..., None])[..., 0]
    logdet = np.linalg.slogdet(L)[1]
    return -0.5 * np.sum(r * r, axis=1) - logdet - 0.5 * d * math.log(2 * math.pi)


# ------------------------------------------------------------------------------- compiled
@numba.njit(inline="always", **OPTS)
def kernel_logpdf_lanes(score, score_jac, prog, sp, sc, row, i0, L, X, Y, v0, v1, pts, logw, g, out):
    """``out[l] = log p(Y[:, l] | X[:, l])`` (as :func:`kernel_logpdf`) for the kernel whose mean
    map is row ``row`` of the mean-map program ``prog``; ``sc`` the executor's scratch,
    ``g = (U, R, V, A, B, C, logdiag, top, tot)`` the quadrature's."""
    U, R, V, A, B, C, logdiag, top, tot = g
    d = X.shape[0]
    sym, tan = sc[0], sc[3]
    map_row(score, score_jac, prog, sp, sc, row, i0, L, X, 1 if v0 > 0.0 else 0)
    if v0 == 0.0:
        for a in range(d):
            for l in range(L):
                R[a, l] = Y[a, l] - sym[0, a, l]
        gauss_logpdf_lanes(R, v1, out, L)
        return
    # the Gaussian approximation of u | (x, y) under the linearised mean map M = tan[0]
    for a in range(d):
        for l in range(L):
            U[a, l] = 0.0
        for c in range(d):
            for l in range(L):
                U[a, l] += tan[0, a, c, l] * X[c, l]
        for l in range(L):
            R[a, l] = Y[a, l] - sym[0, a, l] + U[a, l]           # y - m + M x
    for a in range(d):
        for l in range(L):
            V[a, l] = 0.0
        for c in range(d):
            for l in range(L):
                V[a, l] += tan[0, c, a, l] * R[c, l]
        for l in range(L):
            V[a, l] = X[a, l] / v0 + V[a, l] / v1                 # rhs
        for c in range(d):
            for l in range(L):
                A[a, c, l] = 0.0
            for k in range(d):
                for l in range(L):
                    A[a, c, l] += tan[0, k, a, l] * tan[0, k, c, l]
            for l in range(L):
                A[a, c, l] = (1.0 / v0 if a == c else 0.0) + A[a, c, l] / v1   # precision
    for l in range(L):
        inverse_lane(A, B, l)                                     # B = cov
        cholesky_lane(B, C, l)                                    # C = chol(cov)
        logdiag[l] = 0.0
        for a in range(d):
            logdiag[l] += math.log(C[a, a, l])
    for a in range(d):
        for l in range(L):
            R[a, l] = 0.0
        for c in range(d):
            for l in range(L):
                R[a, l] += B[a, c, l] * V[c, l]                   # R = centre
    for l in range(L):
        top[l] = -math.inf
        tot[l] = 0.0
    for j in range(pts.shape[0]):
        pp = 0.0
        for a in range(d):
            pp += pts[j, a] * pts[j, a]
        for a in range(d):
            for l in range(L):
                U[a, l] = R[a, l]
            for c in range(d):
                z = pts[j, c]
                for l in range(L):
                    U[a, l] += C[a, c, l] * z
        map_row(score, score_jac, prog, sp, sc, row, i0, L, U, np.int64(0))
        for l in range(L):
            s0, s1 = 0.0, 0.0
            for a in range(d):
                s0 += (U[a, l] - X[a, l]) ** 2
                s1 += (Y[a, l] - sym[0, a, l]) ** 2
            # log N(u; x, v0) + log N(y; m(u), v1) - log phi(u) + log w_j, constants hoisted
            e = -0.5 * s0 / v0 - 0.5 * s1 / v1 + 0.5 * pp + logdiag[l] + logw[j]
            if e > top[l]:
                tot[l] = tot[l] * math.exp(top[l] - e) + 1.0
                top[l] = e
            else:
                tot[l] += math.exp(e - top[l])
    # the hoisted constants: -d/2 log(2 pi v0) - d/2 log(2 pi v1) + d/2 log(2 pi)
    c = 0.5 * d * (math.log(2.0 * math.pi * v0) + math.log(v1))
    for l in range(L):
        out[l] = top[l] + math.log(tot[l]) - c


stabilize(globals())
