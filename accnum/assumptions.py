"""Measuring the assumption quantities for a score model
(docs/math/perturbations.md#assumptions):

    eps_score^2 = (1/T) sum_t E_{q_t} ||s_t - s*_t||^2
    eps_Jacobi  = (1/T) sum_t E_{q_t} ||J_t - J*_t||_op

over ``t = 1..T``, from exact draws of each ``q_t``, with standard errors (independent
draws per step; delta method for the square root) and per-step profiles.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from . import _checks, _memory
from .score import ExactScore
from .targets import resolve as resolve_target

_STREAM = 2**32 - 3


@dataclass
class Assumptions:
    eps_score: float
    eps_score_se: float
    eps_jacobi: float
    eps_jacobi_se: float
    score_profile: np.ndarray     # E_{q_t} ||s_t - s*_t||^2 for t = 1..T
    jacobi_profile: np.ndarray    # E_{q_t} ||J_t - J*_t||_op for t = 1..T
    n: int

    def __str__(self):
        return (f"eps_score = {self.eps_score:.4g} ± {self.eps_score_se:.1g}, "
                f"eps_Jacobi = {self.eps_jacobi:.4g} ± {self.eps_jacobi_se:.1g} (n = {self.n} per step)")


def _draws(target, schedule, n, seed):
    return [target.diffused(schedule.alpha_bar[t])._sample_stream(n, seed, _STREAM, 2 * t) for t in range(1, schedule.T + 1)]


def measure_on(score, target, schedule, draws, jacobian: bool = True, profiles: bool = False) -> dict:
    exact = ExactScore(target)
    additive = getattr(score, "kind", None) in ("smooth", "bias")   # s - s* is known in closed form
    T = schedule.T
    s_mean, s_var, j_mean, j_var = np.zeros(T), np.zeros(T), np.zeros(T), np.zeros(T)
    for i, t in enumerate(range(1, T + 1)):
        x = draws[i]
        ab = schedule.alpha_bar[t]
        if additive:
            diff = score.error(ab, x)
            if jacobian:
                op = np.linalg.norm(score.error_jacobian(ab, x), ord=2, axis=(1, 2))
                j_mean[i], j_var[i] = op.mean(), op.var(ddof=1)
            sq = np.sum(diff**2, axis=1)
            s_mean[i], s_var[i] = sq.mean(), sq.var(ddof=1)
            continue
        if jacobian:
            s, jac = score.score_and_jacobian(ab, x)
            s0, jac0 = exact.score_and_jacobian(ab, x)
            op = np.linalg.norm(jac - jac0, ord=2, axis=(1, 2))
            j_mean[i], j_var[i] = op.mean(), op.var(ddof=1)
        else:
            s, s0 = score.score(ab, x), exact.score(ab, x)
        sq = np.sum((s - s0) ** 2, axis=1)
        s_mean[i], s_var[i] = sq.mean(), sq.var(ddof=1)
    n = draws[0].shape[0]
    e2 = s_mean.mean()
    e2_se = math.sqrt(s_var.sum() / n) / T
    eps = math.sqrt(e2)
    out = {"eps_score": eps, "eps_score_se": e2_se / (2 * eps) if eps > 0 else e2_se ** 0.5,
           "eps_jacobi": float(j_mean.mean()) if jacobian else float("nan"),
           "eps_jacobi_se": math.sqrt(j_var.sum() / n) / T if jacobian else float("nan")}
    if profiles:
        out["score_profile"], out["jacobi_profile"] = s_mean, (j_mean if jacobian else np.full(T, np.nan))
    return out


def measure(score, target, schedule, n: int = 2000, seed: int = 0) -> Assumptions:
    """``eps_score`` and ``eps_Jacobi`` of ``score`` on ``schedule`` with standard
    errors and per-step profiles; the Jacobian part is NaN for a score without Jacobian."""
    from .run import resolve_score

    target = resolve_target(target)
    schedule = _checks.schedule(schedule)
    score = resolve_score(score, target)
    n = _checks.integer("n", n, minimum=10)
    seed = _checks.seed(seed)
    # the draws of every step at once, and one step's score and Jacobian temporaries
    _memory.require(8.0 * n * (schedule.T * target.d + 4 * (target.K * target.d + target.d ** 2)),
                    f"{n} exact draws at each of {schedule.T} noise levels", f"n = {n}")
    jac = score.has_jacobian
    r = measure_on(score, target, schedule, _draws(target, schedule, n, seed), jacobian=jac, profiles=True)
    return Assumptions(r["eps_score"], r["eps_score_se"], r["eps_jacobi"], r["eps_jacobi_se"], r["score_profile"],
                       r["jacobi_profile"], n)
