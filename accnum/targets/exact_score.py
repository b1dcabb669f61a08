"""The exact score and score Jacobian of a Gaussian mixture at any noise level, in NumPy and,
side by side, in the compiled kernels' form (docs/math/mixtures.md#exact-score).

At noise level ``abar`` the mixture ``sum_k w_k N(mu_k, Sigma_k)`` becomes
``q = sum_k w_k N(m_k, C_k)``, ``m_k = sqrt(abar) mu_k``, ``C_k = abar Sigma_k + (1 - abar) I``.
With the responsibilities ``gamma_k(x) = w_k N(x; m_k, C_k) / q(x)`` and
``g_k(x) = -C_k^{-1}(x - m_k)``:

    s(x) = sum_k gamma_k g_k
    J(x) = sum_k gamma_k ((g_k - s)(g_k - s)^T - C_k^{-1})        (centred: no cancellation)

NumPy (:func:`score_parts`, :func:`score_and_jacobian`) works through Cholesky factors of
``C_k``; the compiled form (:func:`tables`, :func:`score_lanes`, :func:`score_jac_lanes`)
through ``C_k = U_k diag(1 / iv_k) U_k^T`` (``U_k = I`` unless the covariances are full),
on a block of lanes ``X[a, l]``, the responsibilities by log-sum-exp and renormalised.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numba
import numpy as np

from .. import _memory
from ..kernels.layout import OPTS
from ..kernels.numba_compat import stabilize
from ..kernels.vmath import vexp_neg, vlog

_LOG_2PI = math.log(2.0 * math.pi)


# ---------------------------------------------------------------------------------- NumPy
def score_parts(mix, x):
    """``(s, gamma, g)`` at points ``x`` (n, d): the score, the responsibilities (n, K) and the
    component gradients ``g_k`` (n, K, d)."""
    z = mix._whitened(x)
    logr, _ = mix._log_responsibilities(z)
    gam = np.exp(logr)
    # renormalised: far out, joint and lse are both large and exp(joint - lse) sums to 1
    # only within |lse| * eps, which the score would carry as a relative error
    gam /= np.sum(gam, axis=1, keepdims=True)
    g = mix._grads(z)
    return np.einsum("nk,nkd->nd", gam, g), gam, g


def score_and_jacobian(mix, x):
    """``(s, J)`` at points ``x``: the score (n, d) and its Jacobian (n, d, d), centred form."""
    s, gam, g = score_parts(mix, x)
    dev = g - s[:, None, :]
    jac = np.einsum("nk,nki,nkj->nij", gam, dev, dev)
    if mix.kind == "full":
        jac -= np.einsum("nk,kij->nij", gam, mix._precisions())
    else:
        idx = np.arange(mix.d)
        jac[:, idx, idx] -= gam @ (1.0 / mix._var)
    return s, jac


# ------------------------------------------------------------------------------- compiled
class Tables(NamedTuple):
    """The mixture at each evaluation ``q``'s noise level ``abar_q``: ``lw[q, k] = log w_k -
    1/2 log det C_k``, ``sab[q] = sqrt(abar_q)``, ``iv[q, k, a]`` the inverse eigenvalues of
    ``C_k``, ``mu[k]`` the means in the eigenbasis ``U_k`` (``U`` is 1 x 1 x 1 unless ``full``)."""

    lw: np.ndarray
    sab: np.ndarray
    iv: np.ndarray
    mu: np.ndarray
    U: np.ndarray
    full: bool


def tables(mix, abars) -> Tables:
    """The compiled score's parameters for ``mix`` at the noise levels ``abars`` (Q,)."""
    ab = np.asarray(abars, dtype=np.float64).reshape(-1)
    _memory.require(8.0 * (2 * mix.d + 1) * ab.size * mix.K,
                    f"the compiled score's tables at {ab.size} noise levels ({ab.size} x {mix.K} x {mix.d} arrays)",
                    f"K = {mix.K}, d = {mix.d} at {ab.size} noise levels (T)")
    if mix.kind == "full":
        lam, U = np.linalg.eigh(mix.covariances)                      # Sigma_k = U diag(lam) U^T
        mu = np.einsum("kji,kj->ki", U, mix.means)                    # U^T mu
        full = True
    else:
        lam, mu, U, full = mix._var, mix.means, np.zeros((1, 1, 1)), False
    var = ab[:, None, None] * lam[None] + (1.0 - ab)[:, None, None]   # (Q, K, d)
    with np.errstate(divide="ignore"):
        lw = np.log(mix.weights)[None, :] - 0.5 * np.sum(np.log(var), axis=2)
    return Tables(np.ascontiguousarray(lw), np.sqrt(ab), np.ascontiguousarray(1.0 / var), np.ascontiguousarray(mu),
                  np.ascontiguousarray(U), full)


def workspace(K: int, d: int) -> int:
    """Rows of per-lane workspace the compiled score uses (``ws`` of shape ``(rows, L)``)."""
    return K * (d + 1) + 3 + 2 * d


@numba.njit(**OPTS)
def _log_weights(p, q, X, ws, L, grad):
    """The log-weights ``ws[k] = e_k = log w_k - 1/2 log|C_k| - 1/2 (x - m_k)^T C_k^{-1} (x - m_k)``
    of the components at evaluation ``q``'s noise level and their largest ``ws[top] = max_k e_k``
    for every lane (docs/math/mixtures.md#responsibilities); with ``grad`` also
    ``ws[K + k d + a] = v_k,a = -iv_k,a (U_k^T x - U_k^T m_k)_a`` (so that ``g_k = U_k v_k``).
    The one pass over the whitened coordinates that the score and the log-density share."""
    lw, sab, iv, mu, U, full = p
    K, d = lw.shape[1], X.shape[0]
    top = ws[K * (d + 1)]
    xr = ws[K * (d + 1) + 3:K * (d + 1) + 3 + d]
    s = sab[q]
    for l in range(L):
        top[l] = -math.inf
    for k in range(K):
        e = ws[k]
        c = lw[q, k]
        for l in range(L):
            e[l] = c
        if full:
            for a in range(d):
                for l in range(L):
                    xr[a, l] = 0.0
                for b in range(d):
                    u = U[k, b, a]
                    for l in range(L):
                        xr[a, l] += u * X[b, l]
        for a in range(d):
            m = s * mu[k, a]
            v = iv[q, k, a]
            h = 0.5 * v
            if grad:
                g = ws[K + k * d + a]
                for l in range(L):
                    z = (xr[a, l] if full else X[a, l]) - m
                    e[l] -= h * z * z
                    g[l] = -v * z
            else:
                for l in range(L):
                    z = (xr[a, l] if full else X[a, l]) - m
                    e[l] -= h * z * z
        for l in range(L):
            top[l] = max(top[l], e[l])


@numba.njit(**OPTS)
def _normalise(ws, K, d, L):
    """``ws[k] <- gamma_k = w_k / sum_j w_j`` from the weights :func:`score_lanes` leaves."""
    tot = ws[K * (d + 1) + 1]
    for k in range(K):
        e = ws[k]
        for l in range(L):
            e[l] *= tot[l]


@numba.njit(**OPTS)
def _gradient(p, k, a, ws, L, out):
    """``out[l] = (g_k)_a`` for every lane, from ``v_k`` (``g_k = U_k v_k``)."""
    U, full = p[4], p[5]
    K, d = p[0].shape[1], p[3].shape[1]
    if full:
        for l in range(L):
            out[l] = 0.0
        for b in range(d):
            u = U[k, a, b]
            vb = ws[K + k * d + b]
            for l in range(L):
                out[l] += u * vb[l]
    else:
        va = ws[K + k * d + a]
        for l in range(L):
            out[l] = va[l]


@numba.njit(**OPTS)
def score_lanes(p, q, i0, L, X, OUT, ws):
    """The exact score ``s(x) = sum_k gamma_k g_k = (sum_k w_k g_k) / sum_k w_k`` at ``X[:, l]``
    into ``OUT[:, l]``, with ``w_k = exp(e_k - max_j e_j)`` (:func:`_log_weights`): one pass
    over the components takes the exponentials and sums both numerator and denominator.
    Leaves ``ws[k] = w_k``, ``ws[tot] = 1 / sum_k w_k`` and ``ws[K + k d + a] = v_k,a`` for the
    Jacobians (:func:`_normalise` turns the weights into the responsibilities)."""
    K, d = p[0].shape[1], X.shape[0]
    _log_weights(p, q, X, ws, L, True)
    top, tot, tmp = ws[K * (d + 1)], ws[K * (d + 1) + 1], ws[K * (d + 1) + 2]
    for a in range(d):
        for l in range(L):
            OUT[a, l] = 0.0
    for l in range(L):
        tot[l] = 0.0
    for k in range(K):
        e = ws[k]
        for l in range(L):
            w = vexp_neg(e[l] - top[l])
            e[l] = w
            tot[l] += w
        for a in range(d):
            if p[5]:
                _gradient(p, k, a, ws, L, tmp)
                g = tmp
            else:
                g = ws[K + k * d + a]
            for l in range(L):
                OUT[a, l] += e[l] * g[l]
    for l in range(L):
        tot[l] = 1.0 / tot[l]
    for a in range(d):
        for l in range(L):
            OUT[a, l] *= tot[l]


@numba.njit(**OPTS)
def score_jac_lanes(p, q, i0, L, X, OUT, J, ws):
    """``s(x)`` and ``J(x) = sum_k gamma_k ((g_k - s)(g_k - s)^T - C_k^{-1})`` (centred)."""
    lw, sab, iv, mu, U, full = p
    K, d = lw.shape[1], X.shape[0]
    score_lanes(p, q, i0, L, X, OUT, ws)
    _normalise(ws, K, d, L)
    dev = ws[K * (d + 1) + 3 + d:K * (d + 1) + 3 + 2 * d]
    for a in range(d):
        for b in range(d):
            for l in range(L):
                J[a, b, l] = 0.0
    for k in range(K):
        gk = ws[k]
        for a in range(d):
            _gradient(p, k, a, ws, L, dev[a])
            for l in range(L):
                dev[a, l] -= OUT[a, l]
        for a in range(d):
            for b in range(d):
                for l in range(L):
                    J[a, b, l] += gk[l] * dev[a, l] * dev[b, l]
        # - gamma_k C_k^{-1} = - gamma_k U_k diag(iv_k) U_k^T
        if full:
            for a in range(d):
                for b in range(d):
                    c = 0.0
                    for m in range(d):
                        c += U[k, a, m] * iv[q, k, m] * U[k, b, m]
                    for l in range(L):
                        J[a, b, l] -= gk[l] * c
        else:
            for a in range(d):
                c = iv[q, k, a]
                for l in range(L):
                    J[a, a, l] -= gk[l] * c


@numba.njit(**OPTS)
def score_lowrank_lanes(p, q, i0, L, X, OUT, D, A, B, ws):
    """``s(x)`` and its Jacobian as diagonal plus rank K, for isotropic or diagonal covariances
    (docs/math/mixtures.md#jacobian-structure): ``J = diag(D) + A B^T`` with
    ``D = -sum_k gamma_k iv_k``, ``A[:, k] = gamma_k (g_k - s)``, ``B[:, k] = g_k - s``
    (``D (d, L)``, ``A`` and ``B`` of shape ``(d, K, L)``)."""
    lw, sab, iv, mu, U, full = p
    K, d = lw.shape[1], X.shape[0]
    score_lanes(p, q, i0, L, X, OUT, ws)
    _normalise(ws, K, d, L)
    for a in range(d):
        for l in range(L):
            D[a, l] = 0.0
    for k in range(K):
        gk = ws[k]
        for a in range(d):
            v, c = ws[K + k * d + a], iv[q, k, a]
            for l in range(L):
                dev = v[l] - OUT[a, l]
                B[a, k, l] = dev
                A[a, k, l] = gk[l] * dev
                D[a, l] -= gk[l] * c


@numba.njit(**OPTS)
def logpdf_lanes(p, q, X, ws, out, L):
    """``out[l] = log q(X[:, l])`` of the mixture at evaluation ``q``'s noise level (log-sum-exp
    of :func:`_log_weights`)."""
    K, d = p[0].shape[1], X.shape[0]
    top, tot = ws[K * (d + 1)], ws[K * (d + 1) + 1]
    _log_weights(p, q, X, ws, L, False)
    for l in range(L):
        tot[l] = 0.0
    for k in range(K):
        e = ws[k]
        for l in range(L):
            tot[l] += vexp_neg(e[l] - top[l])
    for l in range(L):
        out[l] = top[l] + vlog(tot[l]) - 0.5 * d * _LOG_2PI


stabilize(globals())
