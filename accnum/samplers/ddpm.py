"""DDPM ancestral sampling (Ho, Jain & Abbeel, NeurIPS 2020), Algorithm 2 with the
posterior variance ``sigma_t^2 = beta~_t = (1 - abar_{t-1}) / (1 - abar_t) beta_t``:

    Y_{t-1} = (Y_t - beta_t / sqrt(1 - abar_t) eps_t(Y_t)) / sqrt(alpha_t) + sigma_t Z

Since ``eps = -sqrt(1 - abar) s``, the mean equals ddpm-li's; only the variance differs.
"""

from __future__ import annotations

import math

from ..score import eps_from_score
from .base import Facts, KernelSampler


class DDPM(KernelSampler):
    facts = Facts(
        name="ddpm", kind="sde", nfe=1, normals=1, order=1.0, metric="path-kl",
        source="Ho, Jain, Abbeel (NeurIPS 2020), Algorithm 2, sigma_t^2 = beta~_t (eq. 7)",
    )

    def kernel(self, t, sched):
        b = sched.beta[t]
        return 0.0, (1.0 - sched.alpha_bar[t - 1]) / (1.0 - sched.alpha_bar[t]) * b

    def mean_map(self, t, u, model, sched):
        ab, a, b = sched.alpha_bar[t], sched.alpha[t], sched.beta[t]
        eps = eps_from_score(ab, model(ab, u))
        return (u - b / math.sqrt(1.0 - ab) * eps) / math.sqrt(a)
