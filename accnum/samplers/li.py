"""The DDIM- and DDPM-type samplers in the score form analysed by Li et al. (2024).

ddim-li:  Y_{t-1} = (Y_t + beta_t/2 s_t(Y_t)) / sqrt(alpha_t)
ddpm-li:  Y_{t-1} = (Y_t + beta_t s_t(Y_t) + sqrt(beta_t) Z_t) / sqrt(alpha_t)
"""

from __future__ import annotations

import math

from .base import Facts, KernelSampler, Sampler


class DDIMLi(Sampler):
    facts = Facts(
        name="ddim-li", kind="ode", nfe=1, normals=0, order=1.0, metric="tv",
        source="Li, Huang, Efimov, Wei, Chi, Chen (ICML 2024), DDIM-type update (8)",
    )

    def step(self, t, y, z, model, sched, state):
        a = sched.alpha[t]
        b = sched.beta[t]
        s = model(sched.alpha_bar[t], y)
        return (y + 0.5 * b * s) / math.sqrt(a), state


class DDPMLi(KernelSampler):
    facts = Facts(
        name="ddpm-li", kind="sde", nfe=1, normals=1, order=1.0, metric="path-kl",
        source="Li, Huang, Efimov, Wei, Chi, Chen (ICML 2024), DDPM-type update (10)",
        note="TV bound O(1/sqrt T), i.e. path KL O(1/T); O(d/T) in TV per Li & Yan 2024",
    )

    def kernel(self, t, sched):
        a = sched.alpha[t]
        b = sched.beta[t]
        return 0.0, b / a

    def mean_map(self, t, u, model, sched):
        a = sched.alpha[t]
        b = sched.beta[t]
        return (u + b * model(sched.alpha_bar[t], u)) / math.sqrt(a)
