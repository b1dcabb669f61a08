"""DPM-Solver-2 (Lu et al., NeurIPS 2022), Algorithm 1 (singlestep, r1 = 1/2): with
``alpha = sqrt(abar)``, ``sigma = sqrt(1 - abar)``, ``lambda = log(alpha / sigma)``,
``h = lambda_{t-1} - lambda_t`` and the midpoint ``s`` at ``lambda_t + h/2``,

    u       = (alpha_s / alpha_t) Y_t - sigma_s (e^{h/2} - 1) eps_t(Y_t)
    Y_{t-1} = (alpha_{t-1} / alpha_t) Y_t - sigma_{t-1} (e^h - 1) eps_s(u)

A step into ``abar = 1`` (``--to 0``) has infinite ``h``; it is taken as a first-order
(DDIM) step, whose coefficients stay finite.
"""

from __future__ import annotations

import math

from ..schedules import interpolate_log_snr
from ..score import eps_from_score
from .base import Facts, Sampler


def first_order_eps(y, eps, ab, ab_prev):
    """DPM-Solver-1 = DDIM: ``(alpha_{t-1}/alpha_t) y - sigma_{t-1}(e^h - 1) eps``, written
    with ``sigma_{t-1} e^h = alpha_{t-1} sigma_t / alpha_t`` so that it stays finite at abar = 1."""
    ratio = math.sqrt(ab_prev / ab)
    return ratio * y - (ratio * math.sqrt(1.0 - ab) - math.sqrt(1.0 - ab_prev)) * eps


class DPMSolver2(Sampler):
    facts = Facts(
        name="dpm-solver-2", kind="ode", nfe=2, normals=0, order=2.0, metric="tv",
        source="Lu, Zhou, Bao, Chen, Li, Zhu (NeurIPS 2022), Algorithm 1 (DPM-Solver-2), r1 = 0.5",
    )

    def step(self, t, y, z, model, sched, state):
        ab, ab_prev = sched.alpha_bar[t], sched.alpha_bar[t - 1]
        eps = eps_from_score(ab, model(ab, y))
        if ab_prev == 1.0:
            return first_order_eps(y, eps, ab, ab_prev), state
        ab_mid = interpolate_log_snr(ab, ab_prev, 0.5)
        u = first_order_eps(y, eps, ab, ab_mid)
        eps_mid = eps_from_score(ab_mid, model(ab_mid, u))
        return first_order_eps(y, eps_mid, ab, ab_prev), state
