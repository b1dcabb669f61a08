"""Randomized-midpoint predictor for the probability-flow ODE (Gupta, Cai & Chen 2024,
arXiv 2406.00924, the Shen–Lee randomized midpoint with exponential weighting).
The update as implemented: docs/math/samplers.md#randmid-ode.

In OU time ``tau = -log(abar)/2`` the reverse probability-flow ODE is
``dx/du = x + s(x, tau_t - u)``, so over a step of length ``h = tau_t - tau_{t-1} =
-log(alpha_t)/2``, ``x(h) = e^h x(0) + int_0^h e^{h-v} s(x(v)) dv``.  With ``a ~ U(0, 1]``
the integral is estimated at the random time ``a h``, where ``x`` is predicted by one
exponential-Euler step:

    x_mid   = e^{a h} Y_t + (e^{a h} - 1) s_t(Y_t)
    Y_{t-1} = e^{h} Y_t + h e^{(1 - a) h} s_{tau_t - a h}(x_mid),     abar at a h: abar_t e^{2 a h}

(unbiased for the integral given the exact midpoint).  Only the ODE predictor is
implemented; the paper's underdamped-Langevin corrector steps are stochastic and are not.

The draws: ``a_t = accnum.noise.uniforms(seed, t, RANDMID_SLOT, 1, 1)``, one per step and
shared by every sample, from the sampler's own ``seed`` (not the sampling seed).  Given
``seed`` the sampler is a fixed linear-step map, so the exact metrics apply conditional
on the draws; ``randmid-ode`` is seed 0 and ``RandomizedMidpointODE(seed)`` any other.
"""

from __future__ import annotations

import math
from dataclasses import replace

from .. import noise
from .base import Facts, Sampler

RANDMID_SLOT = 2**32 - 1   # reserved slot of step t for a sampler's own random parameters (accnum.noise)


class RandomizedMidpointODE(Sampler):
    facts = Facts(
        name="randmid-ode", kind="ode", nfe=2, normals=0, order=1.0, metric="tv",
        source="Gupta, Cai, Chen (2024, arXiv 2406.00924), randomized-midpoint predictor for the probability-flow "
               "ODE (Shen & Lee 2019 with exponential weighting)",
        note="claimed: TV eps in ~O(L^{5/3} d^{5/12}/eps) steps with their corrector, i.e. order 1; "
             "random times from the sampler's seed (default 0), conditional on them a deterministic map; "
             "written from the step as public implementations cite it (eqs. (7)-(8)), the paper text was not available",
    )

    def __init__(self, seed: int = 0):
        self.seed = int(seed)
        if self.seed:
            self.facts = replace(type(self).facts, name=f"randmid-ode@{self.seed}")

    def midpoint_fraction(self, t: int) -> float:
        """``a_t`` in (0, 1], the step's random time as a fraction of the step."""
        return float(noise.uniforms(self.seed, t, RANDMID_SLOT, 1, 1)[0, 0])

    def step(self, t, y, z, model, sched, state):
        ab = sched.alpha_bar[t]
        h = -0.5 * math.log(sched.alpha[t])
        a = self.midpoint_fraction(t)
        x_mid = math.exp(a * h) * y + math.expm1(a * h) * model(ab, y)
        ab_mid = min(1.0, ab * math.exp(2.0 * a * h))   # <= abar_{t-1}; min() guards rounding at t = 1
        return math.exp(h) * y + (h * math.exp((1.0 - a) * h)) * model(ab_mid, x_mid), state
