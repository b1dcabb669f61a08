"""The accelerated stochastic sampler of Li et al. (2024), and the form its README prints.

accel-sde (docs/math/samplers.md#accel-sde):
    Y^+_t   = Y_t + sqrt(beta_t / 2) Z_t
    Y_{t-1} = (Y^+_t + beta_t s_t(Y^+_t) + sqrt(beta_t / 2) Z^+_t) / sqrt(alpha_t)
accel-sde-readme: Y_{t-1} = (Y^+_t + beta_t s_t(Y^+_t)) / sqrt(alpha_t) + sqrt(beta_t / 2) Z^+_t,
whose one-step covariance is off by -beta^2/2 I at second order (docs/math/samplers.md#second-order), so it does
not accelerate.
"""

from __future__ import annotations

import math

from .base import Facts, KernelSampler


class _AccelSDEBase(KernelSampler):
    def mean_map(self, t, u, model, sched):
        a = sched.alpha[t]
        b = sched.beta[t]
        return (u + b * model(sched.alpha_bar[t], u)) / math.sqrt(a)


class AccelSDE(_AccelSDEBase):
    facts = Facts(
        name="accel-sde", kind="sde", nfe=1, normals=2, order=2.0, metric="path-kl",
        source="Li, Huang, Efimov, Wei, Chi, Chen (ICML 2024), accelerated stochastic sampler",
        note="TV O(1/T), i.e. path KL O(1/T^2)",
    )

    def kernel(self, t, sched):
        a = sched.alpha[t]
        b = sched.beta[t]
        return 0.5 * b, 0.5 * b / a


class AccelSDEReadme(_AccelSDEBase):
    facts = Facts(
        name="accel-sde-readme", kind="sde", nfe=1, normals=2, order=2.0, metric="path-kl",
        source="Efimov et al., AcceleratedDiffusionSamplers README, as printed (Z+ outside 1/sqrt(alpha))",
        note="order claimed by the README; measured about 1 in path KL, no acceleration (docs/rates.md)",
    )

    def kernel(self, t, sched):
        b = sched.beta[t]
        return 0.5 * b, 0.5 * b
