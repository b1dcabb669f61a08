"""DDIM (Song, Meng & Ermon, ICLR 2021), eq. (12) with eta = 0, in x0/eps form:

    Y_{t-1} = sqrt(abar_{t-1}) x0_t(Y_t) + sqrt(1 - abar_{t-1}) eps_t(Y_t)
"""

from __future__ import annotations

import math

from ..score import eps_from_score, x0_from_score
from .base import Facts, Sampler


class DDIM(Sampler):
    facts = Facts(
        name="ddim", kind="ode", nfe=1, normals=0, order=1.0, metric="tv",
        source="Song, Meng, Ermon (ICLR 2021), eq. (12), eta = 0",
    )

    def step(self, t, y, z, model, sched, state):
        ab, ab_prev = sched.alpha_bar[t], sched.alpha_bar[t - 1]
        s = model(ab, y)
        return math.sqrt(ab_prev) * x0_from_score(ab, y, s) + math.sqrt(1.0 - ab_prev) * eps_from_score(ab, s), state
