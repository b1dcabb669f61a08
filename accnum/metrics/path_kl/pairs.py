"""The exact pairs ``(X_{t-1}, X_t)`` the path KL averages over, and their exact conditional
log-density, in NumPy and, side by side, compiled (docs/math/metrics.md#inner-kl).

``y = X_{t-1} ~ q_{t-1}`` is drawn as :meth:`GaussianMixture._sample_stream` draws (the
component by the first uniform of stream ``(seed, t, slot)``, the normals of
``(seed, t, slot + 1)``), then ``x = sqrt(alpha_t) y + sqrt(beta_t) Z`` with ``Z`` from
``(seed, t, slot + 2)``; both forms draw the same numbers.  The exact conditional density of
``y`` given ``x`` follows from Bayes' rule:

    log q(y | x) = log q_{t-1}(y) + log N(x; sqrt(alpha_t) y, beta_t I) - log q_t(x)
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numba
import numpy as np

from ... import noise
from ...kernels.layout import OPTS
from ...kernels.numba_compat import stabilize
from ...targets import exact_score


def gauss_logpdf(r, var):
    """``log N(r; 0, var I)`` row by row."""
    d = r.shape[-1]
    return -0.5 * np.sum(r * r, axis=-1) / var - 0.5 * d * math.log(2 * math.pi * var)


# ---------------------------------------------------------------------------------- NumPy
def draw(target, sched, t: int, n: int, seed: int, slot: int):
    """``(y, x)``: ``n`` exact pairs ``(X_{t-1}, X_t)`` at step ``t``."""
    a, b = sched.alpha[t], sched.beta[t]
    y = target.diffused(sched.alpha_bar[t - 1])._sample_stream(n, seed, t, slot)
    x = math.sqrt(a) * y + math.sqrt(b) * noise.normals(seed, t, slot + 2, n, target.d)
    return y, x


def log_q(target, sched, t: int, y, x):
    """``log q(y | x)``, the exact posterior density of ``X_{t-1}`` at ``y`` given ``X_t = x``."""
    a, b = sched.alpha[t], sched.beta[t]
    q_prev, q_t = target.diffused(sched.alpha_bar[t - 1]), target.diffused(sched.alpha_bar[t])
    return q_prev.logpdf(y) + gauss_logpdf(x - math.sqrt(a) * y, b) - q_t.logpdf(x)


# ------------------------------------------------------------------------------- compiled
class PairTables(NamedTuple):
    """Per program row ``r`` (step ``t = T - r``): ``sa = sqrt(alpha_t)``, ``beta_t``, the
    mixture tables of ``q_{t-1}`` and ``q_t`` (evaluations ``2r`` and ``2r + 1``), and what
    ``q_{t-1}`` is drawn with: cumulative weights (then their sum), means, covariance factors."""

    sa: np.ndarray
    beta: np.ndarray
    truth: tuple
    cw: np.ndarray
    mean: np.ndarray
    fac: np.ndarray
    keys: np.ndarray


def pair_tables(target, sched, seed: int, slot: int) -> PairTables:
    ts = np.arange(sched.T, 1, -1)
    abars = np.stack([sched.alpha_bar[ts - 1], sched.alpha_bar[ts]], axis=1).reshape(-1)
    cw, mean, fac = [], [], []
    for t in ts:
        q_prev = target.diffused(sched.alpha_bar[t - 1])
        cw.append(np.append(np.cumsum(q_prev.weights), q_prev.weights.sum()))
        mean.append(q_prev.means)
        fac.append(q_prev._chol if q_prev.kind == "full" else np.einsum("ki,ij->kij", np.sqrt(q_prev._var), np.eye(target.d)))
    keys = noise.stream_key(seed, ts[:, None], slot + np.arange(3)[None, :])
    return PairTables(np.sqrt(sched.alpha[ts]), np.ascontiguousarray(sched.beta[ts]), exact_score.tables(target, abars),
                      np.array(cw), np.ascontiguousarray(np.array(mean)), np.ascontiguousarray(np.array(fac)),
                      np.ascontiguousarray(keys))


@numba.njit(**OPTS)
def draw_lanes(pt, row, p0, L, Y, X, Z):
    """Pairs ``p0 .. p0 + L - 1`` of row ``row`` into ``Y[:, l]``, ``X[:, l]`` (as :func:`draw`)."""
    K, d = pt.mean.shape[1], pt.mean.shape[2]
    sa, sb = pt.sa[row], math.sqrt(pt.beta[row])
    for l in range(L):
        i = p0 + l
        u = noise.uniform_one(noise.sample_key(pt.keys[row, 0], i), 0) * pt.cw[row, K]
        comp = 0
        while comp < K and pt.cw[row, comp] <= u:
            comp += 1
        comp = min(comp, K - 1)
        ky = noise.sample_key(pt.keys[row, 1], i)
        for a in range(d):
            Z[a, l] = noise.normal_one(ky, a)
        for a in range(d):
            acc = 0.0
            for b in range(d):
                acc += pt.fac[row, comp, a, b] * Z[b, l]
            Y[a, l] = pt.mean[row, comp, a] + acc
        kx = noise.sample_key(pt.keys[row, 2], i)
        for a in range(d):
            X[a, l] = sa * Y[a, l] + sb * noise.normal_one(kx, a)


@numba.njit(**OPTS)
def gauss_logpdf_lanes(R, var, out, L):
    """``out[l] = log N(R[:, l]; 0, var I)``."""
    d = R.shape[0]
    c = 0.5 * d * math.log(2.0 * math.pi * var)
    for l in range(L):
        out[l] = 0.0
    for a in range(d):
        for l in range(L):
            out[l] += R[a, l] * R[a, l]
    for l in range(L):
        out[l] = -0.5 * out[l] / var - c


@numba.njit(**OPTS)
def log_q_lanes(pt, row, Y, X, R, ws, out, tmp, L):
    """``out[l] = log q(Y[:, l] | X[:, l])`` (as :func:`log_q`); ``R``, ``tmp`` scratch."""
    d = X.shape[0]
    sa = pt.sa[row]
    exact_score.logpdf_lanes(pt.truth, 2 * row, Y, ws, out, L)
    for a in range(d):
        for l in range(L):
            R[a, l] = X[a, l] - sa * Y[a, l]
    gauss_logpdf_lanes(R, pt.beta[row], tmp, L)
    for l in range(L):
        out[l] += tmp[l]
    exact_score.logpdf_lanes(pt.truth, 2 * row + 1, X, ws, tmp, L)
    for l in range(L):
        out[l] -= tmp[l]


stabilize(globals())
