"""Closed forms for Gaussian targets (K = 1), any dimension (docs/math/metrics.md#gaussian-closed-forms).

With ``q_0 = N(mu, Sigma)`` every score is affine, so every sampler here is an affine map
plus Gaussian noise: the law of ``Y_1`` is Gaussian and follows from propagating the mean
and covariance.  Deterministic samplers: one tangent pass at the mean gives ``F(m_T)`` and
``DF`` (exact, since ``F`` is affine), ``Cov = DF Cov_T DF^T``.  Kernel samplers: per step
``m' = m_t(m)``, ``C' = M (C + v0 I) M^T + v1 I`` with ``M = Dm_t``.

An isotropic target ``N(mu, v I)`` with its exact score moves every coordinate by the same
scalar affine maps, so the output is ``N(B mu, c^2 I)`` with ``(B, c^2)`` from the 1-D
problem (docs/math/metrics.md#isotropic-reduction): O(T) work in any ``d``.  TV between two
such laws reduces to a 1-D integral of chi-square tails (docs/math/metrics.md#isotropic-tv).
"""

from __future__ import annotations

import math

import numpy as np
from scipy import integrate
from scipy.linalg import sqrtm
from scipy.special import chdtr, chdtrc, ndtr

from ..samplers import KernelSampler
from ..samplers import get as get_sampler
from .. import _checks, _memory
from ..run import resolve_score
from ..score import ExactScore
from ..tangent import Tangent
from ..targets import GaussianMixture
from ..targets import resolve as resolve_target
from . import registry
from .base import Estimate, require_tangents
from ..errors import InvalidInput, MissingCapability


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
            y, st = sampler.checked_step(t, y, [], model, sched, st)
        A = y.jac[0]
        return y.value[0], A @ cov @ A.T
    if not isinstance(sampler, KernelSampler):
        raise InvalidInput(f"no closed form for {sampler.name}")
    for t in range(sched.T, 1, -1):
        v0, v1 = sampler.kernel(t, sched)
        lin = sampler.checked_mean_map(t, Tangent.identity(mean[None, :]), model, sched)
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


def _isotropic_variance(target) -> float | None:
    """The common variance ``v`` of a Gaussian target ``N(mu, v I)``, or None."""
    if target.K != 1 or target.kind == "full":
        return None
    var = target._var[0]
    return float(var[0]) if np.all(var == var[0]) else None


def _reducible(target, score) -> bool:
    """An isotropic Gaussian target run with its own exact score: every coordinate moves by
    the same scalar affine maps (docs/math/metrics.md#isotropic-reduction)."""
    if _isotropic_variance(target) is None:
        return False
    return score is None or (type(score) is ExactScore and score.target.content_hash() == target.content_hash())


def output_law_isotropic(target, sampler, schedule, init: str = "gaussian") -> tuple[np.ndarray, float]:
    """``(mean, c^2)`` of ``Y_1 ~ N(mean, c^2 I)`` for an isotropic Gaussian target with its
    exact score, from the 1-D problem with mean 1 (docs/math/metrics.md#isotropic-reduction)."""
    target = resolve_target(target)
    v = _isotropic_variance(target)
    if v is None:
        raise InvalidInput("the isotropic reduction needs a Gaussian target N(mu, v I) (K = 1, one variance)")
    m1, S1 = output_law(GaussianMixture([1.0], [[1.0]], [v]), sampler, schedule, init)
    return float(m1[0]) * target.means[0], float(S1[0, 0])


def _as_means(m1, m2, a, b):
    """Mean vectors of one shape (finite) and positive variances ``a``, ``b``."""
    m1, m2 = (np.atleast_1d(_checks.finite(k, _checks.as_float_array(k, v, ndim=(0, 1)))) for k, v in
              (("m1", m1), ("m2", m2)))
    if m1.shape != m2.shape or m1.size == 0:
        raise InvalidInput(f"m1 and m2 must be mean vectors of one shape, got {m1.shape} and {m2.shape}")
    # beyond 1e+-100 the ratios and logs of the closed forms leave float64
    _checks.real("a", a, low=1e-100, high=1e100)
    _checks.real("b", b, low=1e-100, high=1e100)
    return m1, m2


def kl_gauss_iso(m1, a, m2, b) -> float:
    """``KL(N(m1, a I) || N(m2, b I))`` (variances ``a``, ``b``) without cancellation:
    ``(d (e - log(1 + e)) + |m1 - m2|^2 / b) / 2`` with ``e = a / b - 1``."""
    m1, m2 = _as_means(m1, m2, a, b)
    eps = (a - b) / b
    return float(0.5 * (m1.size * (eps - math.log1p(eps)) + np.sum((m1 - m2) ** 2) / b))


def w2_gauss_iso(m1, a, m2, b) -> float:
    """2-Wasserstein distance between ``N(m1, a I)`` and ``N(m2, b I)``."""
    m1, m2 = _as_means(m1, m2, a, b)
    return float(math.sqrt(np.sum((m1 - m2) ** 2) + m1.size * (math.sqrt(a) - math.sqrt(b)) ** 2))


def tv_gauss_iso(m1, a, m2, b) -> float:
    """TV between ``N(m1, a I)`` and ``N(m2, b I)`` in any dimension (docs/math/metrics.md#isotropic-tv).

    Along the line through the means ``u`` is normal; across it ``R = |x_perp|^2`` is ``a``
    (or ``b``) times a chi-square with ``d - 1`` degrees of freedom, independent of ``u``.
    The set ``{p1 > p2}`` is ``{R > r(u)}`` for ``a > b`` and ``{R < r(u)}`` for ``a < b``,
    so the TV is one integral over ``u`` of normal densities times chi-square tails."""
    m1, m2 = _as_means(m1, m2, a, b)
    return tv_gauss_iso_reduced(float(np.linalg.norm(m1 - m2)), a, b, m1.size)


def tv_gauss_iso_reduced(delta: float, a: float, b: float, d: int) -> float:
    """:func:`tv_gauss_iso` for means ``delta`` apart: law 1 puts ``u ~ N(delta, a)``, law 2
    ``u ~ N(0, b)`` (docs/math/metrics.md#isotropic-tv)."""
    if d == 1:
        return tv_gauss_1d(delta, a, 0.0, b)
    if a == b:
        return float(math.erf(delta / (2.0 * math.sqrt(2.0 * a))))
    eps = (a - b) / b
    lead = d * a * math.log1p(eps) / eps        # r(u) = -u^2 - (2 u delta - delta^2) b / (a - b) + lead
    slope = b / (a - b)
    inside = chdtrc if a > b else chdtr         # P(A | u): P(R > r(u)) for a > b, P(R < r(u)) for a < b
    outside = chdtr if a > b else chdtrc
    k = d - 1
    ca, cb = 1.0 / math.sqrt(2 * math.pi * a), 1.0 / math.sqrt(2 * math.pi * b)

    def integrand(u):
        ru = max(-u * u - (2.0 * u * delta - delta * delta) * slope + lead, 0.0)
        f1 = ca * math.exp(-0.5 * (u - delta) ** 2 / a)
        f2 = cb * math.exp(-0.5 * u * u / b)
        p1, p2 = inside(k, ru / a), inside(k, ru / b)
        if p1 + p2 <= 1.0:
            return f1 * p1 - f2 * p2
        return (f1 - f2) - (f1 * outside(k, ru / a) - f2 * outside(k, ru / b))   # the same, from the smaller tails

    sa, sb = math.sqrt(a), math.sqrt(b)
    lo, hi = min(delta - 14 * sa, -14 * sb), max(delta + 14 * sa, 14 * sb)
    # where r(u) = 0 the conditional probabilities stop being 0 or 1: breakpoints for the rule
    disc = (delta * slope) ** 2 + delta * delta * slope + lead
    pts = [delta, 0.0, 0.5 * delta]
    if disc > 0:
        pts += [-delta * slope + sgn * math.sqrt(disc) for sgn in (-1.0, 1.0)]
    pts = sorted({p for p in pts if lo < p < hi})
    val, _ = integrate.quad(integrand, lo, hi, points=pts, limit=400, epsabs=0.0, epsrel=1e-11)
    return float(min(max(val, 0.0), 1.0))


def _multiple_of_identity(S) -> float | None:
    c = float(S[0, 0])
    return c if np.max(np.abs(S - c * np.eye(S.shape[0]))) <= 1e-12 * abs(c) else None


def closed_form(target, sampler, schedule, init: str = "gaussian", score=None) -> dict[str, Estimate]:
    """``kl`` (KL(p || q_1)), ``kl_qp`` (KL(q_1 || p), the direction path KL bounds), ``w2``
    and ``tv`` (in 1-D, and in any d when both laws are ``N(m, c^2 I)``) of a sampler's
    ``Y_1`` on a Gaussian target.  An isotropic target with its exact score takes the
    isotropic reduction: O(T) work and O(d) memory in any d."""
    target = resolve_target(target)
    how = "gaussian closed form"
    if _reducible(target, score):
        sampler = get_sampler(sampler)
        schedule = _checks.schedule(schedule)
        _checks.choice("init", init, ("gaussian", "exact"))
        m, c2 = output_law_isotropic(target, sampler, schedule, init)
        q1 = target.diffused(schedule.alpha_bar[1])
        mq, vq = q1.means[0], float(q1._var[0, 0])
        vals = {"kl": kl_gauss_iso(m, c2, mq, vq), "kl_qp": kl_gauss_iso(mq, vq, m, c2),
                "w2": w2_gauss_iso(m, c2, mq, vq), "tv": tv_gauss_iso(m, c2, mq, vq)}
        return {k: Estimate(k, v, 0.0, 0, how + " (isotropic)", backend="numpy") for k, v in vals.items()}
    m, S = output_law(target, sampler, schedule, init, score)
    q1 = target.diffused(schedule.alpha_bar[1])
    mq, Sq = q1.means[0], q1.covariance_matrices()[0]
    out = {
        "kl": Estimate("kl", kl_gauss(m, S, mq, Sq), 0.0, 0, how, backend="numpy"),
        "kl_qp": Estimate("kl_qp", kl_gauss(mq, Sq, m, S), 0.0, 0, how, backend="numpy"),
        "w2": Estimate("w2", w2_gauss(m, S, mq, Sq), 0.0, 0, how, backend="numpy"),
    }
    if target.d == 1:
        out["tv"] = Estimate("tv", tv_gauss_1d(m[0], S[0, 0], mq[0], Sq[0, 0]), 0.0, 0, how, backend="numpy")
    else:
        a, b = _multiple_of_identity(S), _multiple_of_identity(Sq)
        if a is not None and b is not None:
            out["tv"] = Estimate("tv", tv_gauss_iso(m, a, mq, b), 0.0, 0, how, backend="numpy")
    return out


# ------------------------------------------------------------------------------- registry
def _compute(req, names):
    cf = closed_form(req.target, req.sampler, req.schedule, init=req.init, score=req.score)
    if "gauss-tv" in names and "tv" not in cf:
        model = resolve_score(req.score, req.target)
        raise MissingCapability(f"metric 'gauss-tv' in d = {req.target.d} needs both laws of the form N(m, c^2 I); the "
                                f"output covariance of {get_sampler(req.sampler).name} with score model "
                                f"{model.describe()} is not a multiple of the identity")
    return {m: cf[m[len("gauss-"):]] for m in names}


def _requirement(sampler, target):
    if sampler.facts.kind == "sde" and not isinstance(sampler, KernelSampler):
        return f"the gauss-* closed forms need a Gaussian one-step kernel; {sampler.name} has none"
    return None


def _tv_requirement(sampler, target):
    # a stand-in with only d and K (samplers.check asks which dimensions apply) is taken as isotropic
    if target.d > 1 and target.K == 1 and hasattr(target, "kind") and _isotropic_variance(target) is None:
        return (f"metric 'gauss-tv' in d = {target.d} needs an isotropic Gaussian target N(mu, v I); this one has "
                f"{target.kind} covariances")
    return _requirement(sampler, target)


def _memory_check(n, target, backend):
    """The dense route holds d x d covariances; the isotropic reduction O(d) numbers."""
    if not _reducible(target, None):
        _memory.require(8.0 * 8 * target.d ** 2, f"the {target.d} x {target.d} covariances of the closed form",
                        f"d = {target.d}")


_COMMON = dict(compute=_compute, needs=("jacobian", "deterministic", "gaussian-target"), requirement=_requirement,
               memory=_memory_check,
               how="mean and covariance of Y_1 propagated exactly through the affine steps (any d; an isotropic "
                   "target with its exact score by the 1-D reduction, O(T))")
GAUSS_KL = registry._builtin(registry.Metric("gauss-kl", "KL(p_{Y_1} || q_1) in closed form (Gaussian targets)",
                                             rank=10, claim=registry.claim_kl, extra={"start_floor": "kl"},
                                             **_COMMON))
GAUSS_W2 = registry._builtin(registry.Metric("gauss-w2", "2-Wasserstein distance in closed form (Gaussian targets)",
                                             rank=11, **_COMMON))
GAUSS_TV = registry._builtin(registry.Metric("gauss-tv", "total variation in closed form (Gaussian targets: 1-D, or "
                                             "isotropic N(mu, v I) in any d)", rank=12, claim=registry.claim_tv,
                                             extra={"start_floor": "tv"},
                                             **{**_COMMON, "requirement": _tv_requirement}))
