"""DPM-Solver++(2M) (Lu et al. 2022b, arXiv 2211.01095), Algorithm 2, data prediction.

With ``lambda = log(alpha/sigma)``, ``h = lambda_{t-1} - lambda_t``,
``h_prev = lambda_t - lambda_{t+1}``, ``r = h_prev / h`` and ``D_t = x0_t(Y_t)``:

    D       = (1 + 1/(2r)) D_t - 1/(2r) D_{t+1}            (D = D_t at the first step)
    Y_{t-1} = (sigma_{t-1}/sigma_t) Y_t - alpha_{t-1} (e^{-h} - 1) D

A final step into ``abar = 1`` is first order (as in the reference implementation).
"""

from __future__ import annotations

import math

from ..schedules import log_snr
from ..score import x0_from_score
from .base import Facts, Sampler


class DPMPP2M(Sampler):
    facts = Facts(
        name="dpmpp-2m", kind="ode", nfe=1, normals=0, order=2.0, metric="tv",
        source="Lu, Zhou, Bao, Chen, Li, Zhu (2022b, arXiv 2211.01095), Algorithm 2 (DPM-Solver++(2M))",
    )

    def step(self, t, y, z, model, sched, state):
        ab, ab_prev = sched.alpha_bar[t], sched.alpha_bar[t - 1]
        d_t = x0_from_score(ab, y, model(ab, y))
        d = d_t
        if "d_prev" in state and ab_prev < 1.0:
            h = float(log_snr(ab_prev) - log_snr(ab))
            r = float(log_snr(ab) - log_snr(sched.alpha_bar_ext(t + 1))) / h
            d = (1.0 + 0.5 / r) * d_t - (0.5 / r) * state["d_prev"]
        # (sigma_{t-1}/sigma_t) y - alpha_{t-1}(e^{-h} - 1) D, with e^{-h} = alpha_t sigma_{t-1} / (sigma_t alpha_{t-1})
        sig_ratio = math.sqrt((1.0 - ab_prev) / (1.0 - ab))
        out = sig_ratio * y + (math.sqrt(ab_prev) - sig_ratio * math.sqrt(ab)) * d
        return out, {"d_prev": d_t}
