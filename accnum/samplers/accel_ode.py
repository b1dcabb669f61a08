"""The accelerated deterministic sampler of Li et al. (2024) and two one-NFE variants.

accel-ode (docs/math/samplers.md#accel-ode):
    Y^-_t   = sqrt(alpha_{t+1}) (Y_t - beta_{t+1}/2 s_t(Y_t))
    Y_{t-1} = (Y_t + beta_t/2 s_t(Y_t)
               + beta_t^2/(4 beta_{t+1}) (s_t(Y_t) - sqrt(alpha_{t+1}) s_{t+1}(Y^-_t))) / sqrt(alpha_t)
with alpha_{T+1} := alpha_T.  accel-ode-reuse replaces s_{t+1}(Y^-_t) by the previous
step's s_{t+1}(Y_{t+1}); accel-ode-eps is the authors' README form in epsilon
parameterisation (its first line alone is Song et al.'s DDIM).
"""

from __future__ import annotations

import math

from ..score import eps_from_score
from .base import Facts, Sampler

_PAPER = "Li, Huang, Efimov, Wei, Chi, Chen (ICML 2024)"


def _correction(t, s_t, s_next, sched):
    """``beta_t^2 / (4 beta_{t+1}) (s_t - sqrt(alpha_{t+1}) s_{t+1})``, the momentum term."""
    b, b_next = sched.beta[t], sched.beta_ext(t + 1)
    return (b * b / (4.0 * b_next)) * (s_t - math.sqrt(sched.alpha_ext(t + 1)) * s_next)


class AccelODE(Sampler):
    facts = Facts(
        name="accel-ode", kind="ode", nfe=2, normals=0, order=2.0, metric="tv",
        source=f"{_PAPER}, accelerated deterministic sampler (mid-point Phi_t, update Psi_t)",
    )

    def step(self, t, y, z, model, sched, state):
        a, a_next = sched.alpha[t], sched.alpha_ext(t + 1)
        b, b_next = sched.beta[t], sched.beta_ext(t + 1)
        s = model(sched.alpha_bar[t], y)
        y_minus = math.sqrt(a_next) * (y - 0.5 * b_next * s)
        s_next = model(sched.alpha_bar_ext(t + 1), y_minus)
        return (y + 0.5 * b * s + _correction(t, s, s_next, sched)) / math.sqrt(a), state


class AccelODEReuse(Sampler):
    facts = Facts(
        name="accel-ode-reuse", kind="ode", nfe=1, normals=0, order=2.0, metric="tv",
        source=f"{_PAPER}, accel-ode with s_(t+1)(Y_(t+1)) reused (multistep)",
        note="order 2 expected as a two-step method; not claimed in the paper",
    )

    def step(self, t, y, z, model, sched, state):
        a = sched.alpha[t]
        b = sched.beta[t]
        s = model(sched.alpha_bar[t], y)
        out = y + 0.5 * b * s
        if "s_prev" in state:
            out = out + _correction(t, s, state["s_prev"], sched)
        return out / math.sqrt(a), {"s_prev": s}


class AccelODEEps(Sampler):
    facts = Facts(
        name="accel-ode-eps", kind="ode", nfe=1, normals=0, order=2.0, metric="tv",
        source="Efimov et al., AcceleratedDiffusionSamplers README (epsilon form)",
        note="the authors' practical 1-NFE form; raw slope about -1.4 measured on gmm1d (pushed-grid TV, li2024)",
    )

    def step(self, t, y, z, model, sched, state):
        ab, ab_prev = sched.alpha_bar[t], sched.alpha_bar[t - 1]
        eps = eps_from_score(ab, model(ab, y))
        # Song et al.'s DDIM in epsilon form
        out = y / math.sqrt(sched.alpha[t]) + (math.sqrt(1.0 - ab_prev) - math.sqrt(1.0 - ab) / math.sqrt(sched.alpha[t])) * eps
        if "eps_prev" in state:
            ab_next = sched.alpha_bar_ext(t + 1)
            # eps linear in abar between abar_{t+1} and abar_t, integrated exactly in
            # sigma = sqrt((1 - abar)/abar): the arcsin terms.
            coef = math.sqrt(ab_prev) / (ab - ab_next) * (
                ab * math.sqrt(1.0 - ab_prev) / math.sqrt(ab_prev) + math.asin(math.sqrt(ab_prev))
                - ab * math.sqrt(1.0 - ab) / math.sqrt(ab) - math.asin(math.sqrt(ab))
            )
            out = out + coef * (state["eps_prev"] - eps)
        return out, {"eps_prev": eps}
