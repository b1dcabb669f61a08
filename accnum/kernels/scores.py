"""Compiled score components: the exact mixture score (SPEC §2) and its perturbations (SPEC §5).

A score component is a pair of ``@numba.njit`` functions with one calling convention,
so the step kernels take any of them without being rewritten (issue 4, item 8):

    score(q, i, x, out, o, ws, lw, mean, iv, U, full, p0, p1, p2, p3)
    score_jac(q, i, x, out, o, J, ws, lw, mean, iv, U, full, p0, p1, p2, p3)

``q`` is the evaluation's index in the program (row * S + stage), ``i`` the sample
index, ``x`` the point; row ``o`` of the 2-D ``out`` and the matrix ``J`` receive ``s(x)``
and ``grad s(x)`` (a row index, not a view: a view costs two atomic reference-count
updates, which dominated these kernels); ``ws`` is scratch of :func:`workspace_size`.  The mixture enters through its diffused tables for
each evaluation (:func:`mixture_tables`): ``q_t = sum_k w_k N(m_k, C_k)`` with
``C_k = U_k diag(1 / iv_k) U_k^T`` (``U_k = I`` unless ``full``), ``m_k = sqrt(abar) mu_k``
stored as ``U_k^T m_k``, and ``lw_k = log w_k - 1/2 log det C_k``.  ``p0..p3`` are the
perturbation's own arrays.

With ``z_k = U_k^T x - U_k^T m_k`` and ``g_k = -U_k (iv_k * z_k)`` (SPEC §2):
``s = sum_k gamma_k g_k``, ``J = sum_k gamma_k ((g_k - s)(g_k - s)^T - C_k^{-1})`` (centred).
"""

from __future__ import annotations

import math

import numba
import numpy as np

from .rng import normal, sample_key
from ._stable import stabilize

_LOG_2PI = math.log(2.0 * math.pi)


def workspace_size(K: int, d: int) -> int:
    return K + K * d + d


def mixture_tables(target, abars: np.ndarray):
    """``lw (Q, K)``, ``mean (Q, K, d)``, ``iv (Q, K, d)``, ``U (K, d, d)``, ``full`` for the
    diffused mixture at each noise level in ``abars`` (flattened program stages)."""
    ab = np.asarray(abars, dtype=np.float64).reshape(-1)
    if target.kind == "full":
        lam, U = np.linalg.eigh(target.covariances)                       # C = U diag(lam) U^T
        mu = np.einsum("kji,kj->ki", U, target.means)                       # U^T mu
        full = 1
    else:
        lam, mu = target._var, target.means
        U = np.zeros((target.K, target.d, target.d))
        U[:] = np.eye(target.d)
        full = 0
    var = ab[:, None, None] * lam[None] + (1.0 - ab)[:, None, None]        # (Q, K, d)
    iv = 1.0 / var
    mean = np.sqrt(ab)[:, None, None] * mu[None]
    with np.errstate(divide="ignore"):
        lw = np.log(target.weights)[None, :] - 0.5 * np.sum(np.log(var), axis=2)
    return lw, mean, iv, np.ascontiguousarray(U), full


@numba.njit(cache=True, error_model="numpy", inline="always")
def _components(q, x, ws, lw, mean, iv, U, full):
    """One pass over the components: ``ws[:K]`` = gamma_k(x) (log-sum-exp) and
    ``ws[K + k d + a]`` = ``v_k = -iv_k * (U_k^T x - U_k^T m_k)``, so that ``g_k = U_k v_k``."""
    K, d = lw.shape[1], x.shape[0]
    top = -np.inf
    for k in range(K):
        e = lw[q, k]
        o = K + k * d
        if full:
            for a in range(d):
                xa = 0.0
                for b in range(d):
                    xa += U[k, b, a] * x[b]
                z = xa - mean[q, k, a]
                e -= 0.5 * iv[q, k, a] * z * z
                ws[o + a] = -iv[q, k, a] * z
        else:
            for a in range(d):
                z = x[a] - mean[q, k, a]
                e -= 0.5 * iv[q, k, a] * z * z
                ws[o + a] = -iv[q, k, a] * z
        ws[k] = e
        top = max(top, e)
    tot = 0.0
    for k in range(K):
        w = math.exp(ws[k] - top)
        ws[k] = w
        tot += w
    inv = 1.0 / tot
    for k in range(K):
        ws[k] *= inv


@numba.njit(cache=True, error_model="numpy", inline="always")
def mixture_logpdf(q, x, ws, lw, mean, iv, U, full):
    """``log q(x)`` of the mixture in table row ``q`` (log-sum-exp; uses ``ws[:K]``)."""
    K, d = lw.shape[1], x.shape[0]
    top = -np.inf
    for k in range(K):
        e = lw[q, k]
        for a in range(d):
            if full:
                xa = 0.0
                for b in range(d):
                    xa += U[k, b, a] * x[b]
            else:
                xa = x[a]
            z = xa - mean[q, k, a]
            e -= 0.5 * iv[q, k, a] * z * z
        ws[k] = e
        top = max(top, e)
    tot = 0.0
    for k in range(K):
        tot += math.exp(ws[k] - top)
    return top + math.log(tot) - 0.5 * d * _LOG_2PI


@numba.njit(cache=True, error_model="numpy", inline="always")
def mixture_score(q, i, x, out, o, ws, lw, mean, iv, U, full, p0, p1, p2, p3):
    """The exact score ``s*_t(x) = sum_k gamma_k g_k`` (SPEC §2).  Written flat: a call per
    component costs more than the component's arithmetic."""
    K, d = lw.shape[1], x.shape[0]
    _components(q, x, ws, lw, mean, iv, U, full)
    for a in range(d):
        out[o, a] = 0.0
    if full:
        for k in range(K):
            off = K + k * d
            for a in range(d):
                ga = 0.0
                for b in range(d):
                    ga += U[k, a, b] * ws[off + b]
                out[o, a] += ws[k] * ga
    else:
        for k in range(K):
            off = K + k * d
            for a in range(d):
                out[o, a] += ws[k] * ws[off + a]


@numba.njit(cache=True, error_model="numpy", inline="always")
def mixture_score_jac(q, i, x, out, o, J, ws, lw, mean, iv, U, full, p0, p1, p2, p3):
    """``s*_t(x)`` and ``J*_t(x) = sum_k gamma_k ((g_k - s)(g_k - s)^T - C_k^{-1})`` (centred, SPEC §2)."""
    K, d = lw.shape[1], x.shape[0]
    mixture_score(q, i, x, out, o, ws, lw, mean, iv, U, full, p0, p1, p2, p3)
    g = K + K * d          # g_k - s lives in ws[g:g+d] (an offset: array views cost atomic refcounts)
    for a in range(d):
        for b in range(d):
            J[a, b] = 0.0
    for k in range(K):
        gk = ws[k]
        off = K + k * d
        for a in range(d):
            if full:
                ga = 0.0
                for b in range(d):
                    ga += U[k, a, b] * ws[off + b]
            else:
                ga = ws[off + a]
            ws[g + a] = ga - out[o, a]
        for a in range(d):
            for b in range(d):
                J[a, b] += gk * ws[g + a] * ws[g + b]
        # - gamma_k C_k^{-1} = - gamma_k U_k diag(iv_k) U_k^T
        if full:
            for a in range(d):
                for b in range(d):
                    c = 0.0
                    for m in range(d):
                        c += U[k, a, m] * iv[q, k, m] * U[k, b, m]
                    J[a, b] -= gk * c
        else:
            for a in range(d):
                J[a, a] -= gk * iv[q, k, a]


# ------------------------------------------------------------ perturbations (SPEC §5)
@numba.njit(cache=True, error_model="numpy", inline="always")
def _smooth_arg(f, x, p1, p2):
    arg = p2[f]
    for b in range(x.shape[0]):
        arg += p1[f, b] * x[b]
    return arg


@numba.njit(cache=True, error_model="numpy", inline="always")
def smooth_score(q, i, x, out, o, ws, lw, mean, iv, U, full, p0, p1, p2, p3):
    """``s* + e``, ``e(x) = a A cos(omega Omega0 x + b)``: p0 = a A (d, m), p1 = omega Omega0 (m, d), p2 = b (m)."""
    mixture_score(q, i, x, out, o, ws, lw, mean, iv, U, full, p0, p1, p2, p3)
    for f in range(p0.shape[1]):
        c = math.cos(_smooth_arg(f, x, p1, p2))
        for a in range(x.shape[0]):
            out[o, a] += p0[a, f] * c


@numba.njit(cache=True, error_model="numpy", inline="always")
def smooth_score_jac(q, i, x, out, o, J, ws, lw, mean, iv, U, full, p0, p1, p2, p3):
    """... and ``J* + grad e = J* - a A diag(sin(omega Omega0 x + b)) omega Omega0``."""
    mixture_score_jac(q, i, x, out, o, J, ws, lw, mean, iv, U, full, p0, p1, p2, p3)
    d = x.shape[0]
    for f in range(p0.shape[1]):
        arg = _smooth_arg(f, x, p1, p2)
        c, sn = math.cos(arg), math.sin(arg)
        for a in range(d):
            out[o, a] += p0[a, f] * c
            for b in range(d):
                J[a, b] -= p0[a, f] * sn * p1[f, b]


@numba.njit(cache=True, error_model="numpy", inline="always")
def affine_score(q, i, x, out, o, ws, lw, mean, iv, U, full, p0, p1, p2, p3):
    """``(1 + delta) s* + bias``: p0[0] = 1 + delta, p1 = bias (d,)."""
    mixture_score(q, i, x, out, o, ws, lw, mean, iv, U, full, p0, p1, p2, p3)
    for a in range(x.shape[0]):
        out[o, a] = p0[0] * out[o, a] + p1[a]


@numba.njit(cache=True, error_model="numpy", inline="always")
def affine_score_jac(q, i, x, out, o, J, ws, lw, mean, iv, U, full, p0, p1, p2, p3):
    mixture_score_jac(q, i, x, out, o, J, ws, lw, mean, iv, U, full, p0, p1, p2, p3)
    d = x.shape[0]
    for a in range(d):
        out[o, a] = p0[0] * out[o, a] + p1[a]
        for b in range(d):
            J[a, b] *= p0[0]


@numba.njit(cache=True, error_model="numpy", inline="always")
def noisy_score(q, i, x, out, o, ws, lw, mean, iv, U, full, p0, p1, p2, p3):
    """``s* + sigma Z`` with a fresh Z per evaluation: p0[0] = sigma, p3 = the uint64 stream
    key of each evaluation ``q`` (:class:`accnum.perturb.EvaluationNoise`)."""
    mixture_score(q, i, x, out, o, ws, lw, mean, iv, U, full, p0, p1, p2, p3)
    key = sample_key(p3[q], i)
    for a in range(x.shape[0]):
        out[o, a] += p0[0] * normal(key, a)


@numba.njit(cache=True, error_model="numpy")
def no_jacobian(q, i, x, out, o, J, ws, lw, mean, iv, U, full, p0, p1, p2, p3):  # pragma: no cover - never run
    mixture_score_jac(q, i, x, out, o, J, ws, lw, mean, iv, U, full, p0, p1, p2, p3)


stabilize(globals())
