"""A user's own sampler, written against accnum's public interface only: a third-order
multistep data-prediction solver of the DPM-Solver++(3M) type (Lu et al. 2022b,
arXiv 2211.01095, the multistep update of order 3 in the official code).

Run it from the command line by its import path, next to the built-in samplers:

    accnum rates --samplers examples.my_samplers:My3M,ddim --schedule logsnr_uniform --init exact --T 20,40,80,160

With ``lambda = log(alpha/sigma)`` (``alpha = sqrt(abar)``, ``sigma = sqrt(1 - abar)``), step
sizes ``h = lambda_{t-1} - lambda_t``, ``h0 = lambda_t - lambda_{t+1}``,
``h1 = lambda_{t+1} - lambda_{t+2}``, ``r0 = h0/h``, ``r1 = h1/h`` and the data predictions
``D_t = x0_t(Y_t)`` of this and the two previous steps:

    D1_0 = (D_t - D_{t+1}) / r0,   D1_1 = (D_{t+1} - D_{t+2}) / r1
    D1   = D1_0 + r0 / (r0 + r1) (D1_0 - D1_1),   D2 = (D1_0 - D1_1) / (r0 + r1)
    Y_{t-1} = (sigma_{t-1}/sigma_t) Y_t - alpha_{t-1} phi1 D_t + alpha_{t-1} phi2 D1 - alpha_{t-1} phi3 D2

with ``phi1 = expm1(-h)``, ``phi2 = phi1/h + 1``, ``phi3 = phi2/h - 1/2``; the first step is
first order and the second is second order (``D2 = 0``, ``D1 = D1_0``).
"""

import math

from accnum.samplers import Facts, Sampler
from accnum.schedules import log_snr
from accnum.score import x0_from_score


class My3M(Sampler):
    facts = Facts(name="my-3m", kind="ode", nfe=1, normals=0, order=3.0, metric="tv",
                  source="a user's DPM-Solver++(3M)-type solver (Lu et al. 2022b, arXiv 2211.01095, multistep order 3)")

    def step(self, t, y, z, model, sched, state):
        ab, ab_prev = sched.alpha_bar[t], sched.alpha_bar[t - 1]
        d_t = x0_from_score(ab, y, model(ab, y))
        lam, lam_prev = float(log_snr(ab)), float(log_snr(ab_prev))
        h = lam_prev - lam
        phi1 = math.expm1(-h)
        out = math.sqrt((1 - ab_prev) / (1 - ab)) * y - math.sqrt(ab_prev) * phi1 * d_t
        if "d1" in state:                                         # second order from the second step on
            h0 = lam - float(log_snr(sched.alpha_bar_ext(t + 1)))
            r0 = h0 / h
            d1_0 = (d_t - state["d1"]) * (1.0 / r0)
            phi2 = phi1 / h + 1.0
            if "d2" in state:                                     # third order from the third step on
                h1 = float(log_snr(sched.alpha_bar_ext(t + 1))) - float(log_snr(sched.alpha_bar_ext(t + 2)))
                r1 = h1 / h
                d1_1 = (state["d1"] - state["d2"]) * (1.0 / r1)
                d1 = d1_0 + (r0 / (r0 + r1)) * (d1_0 - d1_1)
                d2 = (d1_0 - d1_1) * (1.0 / (r0 + r1))
                phi3 = phi2 / h - 0.5
                out = out + math.sqrt(ab_prev) * phi2 * d1 - math.sqrt(ab_prev) * phi3 * d2
            else:
                out = out + math.sqrt(ab_prev) * phi2 * d1_0
        new = {"d1": d_t}
        if "d1" in state:
            new["d2"] = state["d1"]
        return out, new
