"""Closed forms for Gaussian targets (K = 1), any dimension (docs/math/metrics.md#gaussian-closed-forms).

With ``q_0 = N(mu, Sigma)`` every score is affine, so every sampler here is an affine map
plus Gaussian noise: the law of ``Y_1`` is Gaussian and follows from propagating the mean
and covariance.  Deterministic samplers: one tangent pass at the mean gives ``F(m_T)`` and
``DF`` (exact, since ``F`` is affine), ``Cov = DF Cov_T DF^T``.  Kernel samplers: per step
``m' = m_t(m)``, ``C' = M (C + v0 I) M^T + v1 I`` with ``M = Dm_t``.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.linalg import sqrtm
from scipy.special import ndtr

from ..samplers import KernelSampler
from ..samplers import get as get_sampler
from .. import _checks, _memory
from ..run import resolve_score
from ..tangent import Tangent
from ..targets import resolve as resolve_target
from . import registry
from .base import Estimate, require_tangents
from ..errors import InvalidInput


def output_law(target, sampler, schedule, init: str = "gaussian", score=None):
    """Mean and covariance of ``Y_1`` for a Gaussian target."""
    target = resolve_target(target)
    sampler = get_sampler(sampler)
    schedule = _checks.schedule(schedule)
    _checks.choice("init", init, ("gaussian", "exact"))
    if target.K != 1:
        raise InvalidInput(f"closed forms need a Gaussian target (K = 1), this one has K = {target.K}")
    if sampler.facts.kind == "sde" and not isinstance(sampler, KernelSampler):
        raise InvalidInput(f"no closed form for {sampler.name}: a stochastic sampler needs a Gaussian one-step kernel")
    model = resolve_score(score, target)
    require_tangents("gauss-kl", sampler, schedule, model, mean_maps=sampler.facts.kind == "sde")
    _memory.require(8.0 * 8 * target.d ** 2, f"the {target.d} x {target.d} covariances of the closed form",
                    f"d = {target.d}")
    d, sched = target.d, schedule
    if init == "gaussian":
        mean, cov = np.zeros(d), np.eye(d)
    else:
        qT = target.diffused(sched.alpha_bar[sched.T])
        mean, cov = qT.means[0].copy(), qT.covariance_matrices()[0]
    if sampler.facts.kind == "ode":
        y = Tangent.identity(mean[None, :])
        st = sampler.initial_state()
        for t in range(sched.T, 1, -1):
            y, st = sampler.step(t, y, [], model, sched, st)
        A = y.jac[0]
        return y.value[0], A @ cov @ A.T
    if not isinstance(sampler, KernelSampler):
        raise InvalidInput(f"no closed form for {sampler.name}")
    for t in range(sched.T, 1, -1):
        v0, v1 = sampler.kernel(t, sched)
        lin = sampler.mean_map(t, Tangent.identity(mean[None, :]), model, sched)
        M = lin.jac[0]
        mean = lin.value[0]
        cov = M @ (cov + v0 * np.eye(d)) @ M.T + v1 * np.eye(d)
        cov = 0.5 * (cov + cov.T)
    return mean, cov


def kl_gauss(m1, S1, m2, S2) -> float:
    """``KL(N(m1, S1) || N(m2, S2))``."""
    d = m1.size
    L2 = np.linalg.cholesky(S2)
    sol = np.linalg.solve(L2, np.linalg.solve(L2, S1).T)   # L2^{-1} S1 L2^{-T}
    diff = np.linalg.solve(L2, m2 - m1)
    logdet = 2 * np.sum(np.log(np.diag(L2))) - np.linalg.slogdet(S1)[1]
    return float(0.5 * (np.trace(sol) + diff @ diff - d + logdet))


def w2_gauss(m1, S1, m2, S2) -> float:
    """2-Wasserstein distance between two Gaussians."""
    r2 = sqrtm(S2)
    cross = sqrtm(r2 @ S1 @ r2)
    val = np.sum((m1 - m2) ** 2) + np.trace(S1 + S2 - 2 * np.real(cross))
    return float(math.sqrt(max(val, 0.0)))


def tv_gauss_1d(m1, v1, m2, v2) -> float:
    """TV between ``N(m1, v1)`` and ``N(m2, v2)`` on the line, from the density crossings."""
    s1, s2 = math.sqrt(v1), math.sqrt(v2)
    # log N1 - log N2 = 0  <=>  a x^2 + b x + c = 0
    a = 0.5 / v2 - 0.5 / v1
    b = m1 / v1 - m2 / v2
    c = 0.5 * m2 * m2 / v2 - 0.5 * m1 * m1 / v1 + math.log(s2 / s1)
    if abs(a) < 1e-14 * (1 / v1 + 1 / v2):
        roots = [] if b == 0 else [-c / b]
    else:
        disc = b * b - 4 * a * c
        roots = [] if disc < 0 else sorted([(-b - math.sqrt(disc)) / (2 * a), (-b + math.sqrt(disc)) / (2 * a)])
    pts = [-math.inf, *roots, math.inf]
    F1 = lambda x: ndtr((x - m1) / s1)  # noqa: E731
    F2 = lambda x: ndtr((x - m2) / s2)  # noqa: E731
    return 0.5 * sum(abs((F1(hi) - F1(lo)) - (F2(hi) - F2(lo))) for lo, hi in zip(pts[:-1], pts[1:], strict=True))


def closed_form(target, sampler, schedule, init: str = "gaussian", score=None) -> dict[str, Estimate]:
    """``kl`` (KL(p || q_1)), ``kl_qp`` (KL(q_1 || p), the direction path KL bounds), ``w2``
    and, in 1-D, ``tv`` of a sampler's ``Y_1`` on a Gaussian target."""
    target = resolve_target(target)
    m, S = output_law(target, sampler, schedule, init, score)
    q1 = target.diffused(schedule.alpha_bar[1])
    mq, Sq = q1.means[0], q1.covariance_matrices()[0]
    how = "gaussian closed form"
    out = {
        "kl": Estimate("kl", kl_gauss(m, S, mq, Sq), 0.0, 0, how, backend="numpy"),
        "kl_qp": Estimate("kl_qp", kl_gauss(mq, Sq, m, S), 0.0, 0, how, backend="numpy"),
        "w2": Estimate("w2", w2_gauss(m, S, mq, Sq), 0.0, 0, how, backend="numpy"),
    }
    if target.d == 1:
        out["tv"] = Estimate("tv", tv_gauss_1d(m[0], S[0, 0], mq[0], Sq[0, 0]), 0.0, 0, how, backend="numpy")
    return out


# ------------------------------------------------------------------------------- registry
def _compute(req, names):
    cf = closed_form(req.target, req.sampler, req.schedule, init=req.init, score=req.score)
    return {m: cf[m[len("gauss-"):]] for m in names}


def _requirement(sampler, target):
    if sampler.facts.kind == "sde" and not isinstance(sampler, KernelSampler):
        return f"the gauss-* closed forms need a Gaussian one-step kernel; {sampler.name} has none"
    return None


_COMMON = dict(compute=_compute, needs=("jacobian", "deterministic", "gaussian-target"), requirement=_requirement,
               how="mean and covariance of Y_1 propagated exactly through the affine steps (any d)")
GAUSS_KL = registry._builtin(registry.Metric("gauss-kl", "KL(p_{Y_1} || q_1) in closed form (Gaussian targets)",
                                             rank=10, claim=registry.claim_kl, extra={"start_floor": "kl"},
                                             **_COMMON))
GAUSS_W2 = registry._builtin(registry.Metric("gauss-w2", "2-Wasserstein distance in closed form (Gaussian targets)",
                                             rank=11, **_COMMON))
GAUSS_TV = registry._builtin(registry.Metric("gauss-tv", "total variation in closed form (Gaussian targets, 1-D)",
                                             max_d=1, rank=12, claim=registry.claim_tv, extra={"start_floor": "tv"},
                                             **_COMMON))
