"""Heun's method on the probability-flow ODE, Karras et al. (NeurIPS 2022), Algorithm 1.

In EDM variables ``x~ = Y / sqrt(abar)``, ``sigma = sqrt((1 - abar) / abar)`` the ODE is
``dx~/dsigma = (x~ - D(x~; sigma)) / sigma`` with ``D`` the data prediction (Tweedie):

    d       = (x~_t - D(x~_t; sigma_t)) / sigma_t
    x~'     = x~_t + (sigma_{t-1} - sigma_t) d
    x~_{t-1} = x~_t + (sigma_{t-1} - sigma_t) (d + d') / 2,  d' = (x~' - D(x~'; sigma_{t-1})) / sigma_{t-1}

The correction is skipped (Euler) on a step that ends at ``sigma = 0``, as in Algorithm 1.
"""

from __future__ import annotations

import math

from ..score import x0_from_score
from .base import Facts, Sampler


class HeunEDM(Sampler):
    facts = Facts(
        name="heun-edm", kind="ode", nfe=2, normals=0, order=2.0, metric="tv",
        source="Karras, Aittala, Aila, Laine (NeurIPS 2022), Algorithm 1 (deterministic Heun)",
        note="one NFE on a final step to sigma = 0 (Euler)",
    )

    def step(self, t, y, z, model, sched, state):
        ab, ab_prev = sched.alpha_bar[t], sched.alpha_bar[t - 1]
        sig, sig_prev = math.sqrt((1.0 - ab) / ab), math.sqrt((1.0 - ab_prev) / ab_prev)
        x = y / math.sqrt(ab)
        d = (x - x0_from_score(ab, y, model(ab, y))) / sig
        x_euler = x + (sig_prev - sig) * d
        if sig_prev == 0.0:
            return math.sqrt(ab_prev) * x_euler, state
        y_euler = math.sqrt(ab_prev) * x_euler
        d_prime = (x_euler - x0_from_score(ab_prev, y_euler, model(ab_prev, y_euler))) / sig_prev
        return math.sqrt(ab_prev) * (x + (sig_prev - sig) * 0.5 * (d + d_prime)), state
