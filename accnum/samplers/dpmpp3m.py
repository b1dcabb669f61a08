"""DPM-Solver++(3M): the third-order multistep data-prediction solver as the reference
codes write it, and the same step with its second-difference coefficient corrected.
The update as implemented: docs/math/samplers.md#dpmpp-3m.

With ``lambda = log(alpha/sigma)``, ``h = lambda_{t-1} - lambda_t``, ``h_0 = lambda_t -
lambda_{t+1}``, ``h_1 = lambda_{t+1} - lambda_{t+2}``, ``r0 = h_0/h``, ``r1 = h_1/h`` and
``m_j = x0_j(Y_j)`` (LuChengTHU/dpm-solver ``multistep_dpm_solver_third_update``,
``algorithm_type="dpmsolver++"``; diffusers ``multistep_dpm_solver_third_order_update``;
k-diffusion ``sample_dpmpp_3m_sde`` at eta = 0):

    D1_0 = (m_t - m_{t+1}) / r0,   D1_1 = (m_{t+1} - m_{t+2}) / r1
    D1   = D1_0 + r0/(r0 + r1) (D1_0 - D1_1),   D2 = (D1_0 - D1_1) / (r0 + r1)
    phi_1 = e^{-h} - 1,  phi_2 = phi_1/h + 1,  phi_3 = phi_2/h - 1/2
    Y_{t-1} = (sigma_{t-1}/sigma_t) Y_t - alpha_{t-1} phi_1 m_t + alpha_{t-1} phi_2 D1 - alpha_{t-1} phi_3 D2

``D2`` is ``h^2 x0''/2``, not ``h^2 x0''``: the exact integral needs ``-2 alpha phi_3 D2``
(docs/case-studies/dpmpp-3m.md), so the reference step has local error
``-alpha h^3 x0''/12 + O(h^4)`` and is second order.  ``dpmpp-3m-corrected`` uses ``2 D2``.

Step selection follows diffusers' ``DPMSolverMultistepScheduler`` (``solver_order=3``,
``solver_type="midpoint"``, ``lower_order_final=True``, ``final_sigmas_type="zero"``):
the first step is first order, the second the midpoint second-order step (Algorithm 2 of
Lu et al. 2022b), the step into ``abar = 1`` first order, and for T < 15 the step into
``abar_1`` second order.  accnum's ``to=0`` run is that scheduler's run; ``to=1`` stops
one step before it.
"""

from __future__ import annotations

import math

from ..schedules import log_snr
from ..score import x0_from_score
from ._expint import phi
from .base import Facts, Sampler

_SOURCE = ("Lu et al. 2022b (arXiv 2211.01095) via the reference code: LuChengTHU/dpm-solver "
           "multistep_dpm_solver_third_update (dpmsolver++), = diffusers DPMSolverMultistepScheduler "
           "(solver_order=3) = k-diffusion sample_dpmpp_3m_sde (eta=0)")


class DPMPP3M(Sampler):
    facts = Facts(
        name="dpmpp-3m", kind="ode", nfe=1, normals=0, order=3.0, metric="tv", source=_SOURCE,
        note="as the reference codes write it: -alpha phi_3 D2 with D2 = h^2 x0''/2; measured order 2 "
             "(docs/case-studies/dpmpp-3m.md)",
    )
    d2_factor = 1.0   # the reference codes' coefficient of -alpha_{t-1} phi_3 D2

    def step(self, t, y, z, model, sched, state):
        ab, ab_prev = sched.alpha_bar[t], sched.alpha_bar[t - 1]
        m0 = x0_from_score(ab, y, model(ab, y))
        new_state = {"m1": m0}
        if "m1" in state:
            new_state["m2"] = state["m1"]
        order = 1 if "m1" not in state else (2 if "m2" not in state else 3)
        if ab_prev == 1.0:
            order = 1                      # final step to sigma = 0 (final_sigmas_type="zero")
        elif sched.T < 15 and t == 2:
            order = min(order, 2)          # lower_order_second of a run shorter than 15 steps
        sig_ratio = math.sqrt((1.0 - ab_prev) / (1.0 - ab))
        a_prev = math.sqrt(ab_prev)
        # -alpha_{t-1} phi_1 = alpha_{t-1} - (sigma_{t-1}/sigma_t) alpha_t: finite at abar_{t-1} = 1
        c1 = a_prev - sig_ratio * math.sqrt(ab)
        out = sig_ratio * y + c1 * m0
        if order == 1:
            return out, new_state
        lam, lam_prev = float(log_snr(ab)), float(log_snr(ab_prev))
        h = lam_prev - lam
        r0 = (lam - float(log_snr(sched.alpha_bar[t + 1]))) / h
        d1_0 = (m0 - state["m1"]) / r0
        if order == 2:   # solver_type "midpoint": - 0.5 alpha_{t-1} phi_1 D1_0
            return out + (0.5 * c1) * d1_0, new_state
        r1 = (float(log_snr(sched.alpha_bar[t + 1])) - float(log_snr(sched.alpha_bar[t + 2]))) / h
        d1_1 = (state["m1"] - state["m2"]) / r1
        d1 = d1_0 + (r0 / (r0 + r1)) * (d1_0 - d1_1)
        d2 = (d1_0 - d1_1) / (r0 + r1)
        phi_2 = h * phi(2, -h)     # (e^{-h} - 1)/h + 1
        phi_3 = -h * phi(3, -h)    # phi_2/h - 1/2
        out = out + (a_prev * phi_2) * d1 - (self.d2_factor * a_prev * phi_3) * d2
        return out, new_state


class DPMPP3MCorrected(DPMPP3M):
    facts = Facts(
        name="dpmpp-3m-corrected", kind="ode", nfe=1, normals=0, order=3.0, metric="tv",
        source=_SOURCE + "; CORRECTED here: -2 alpha phi_3 D2 (accnum, docs/case-studies/dpmpp-3m.md)",
        note="not the reference code: its D2 coefficient doubled so the quadratic interpolant is integrated exactly",
    )
    d2_factor = 2.0
