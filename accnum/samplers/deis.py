"""DEIS multistep (Zhang & Chen, ICLR 2023), as diffusers' ``DEISMultistepScheduler`` runs
it (``algorithm_type="deis"``, ``solver_type="logrho"``, ``lower_order_final=True``).
The update as implemented: docs/math/samplers.md#deis.

With ``rho = sigma/alpha = sqrt((1 - abar)/abar)`` the probability-flow ODE is exactly
``d(x/alpha) = eps(x, rho) d rho``.  The k-step Adams–Bashforth
form extrapolates ``eps`` by the Lagrange polynomial through ``(log rho_{t+j}, eps_{t+j})``,
``j = 0..k-1``, and integrates it exactly:

    Y_{t-1} = alpha_{t-1} (Y_t/alpha_t + sum_j C_j eps_{t+j}),
    C_j = int_{rho_t}^{rho_{t-1}} l_j(log rho) d rho,   l_j(u) = prod_{m != j} (u - u_m)/(u_j - u_m)

(diffusers writes the ``C_j`` through closed antiderivatives ``ind_fn``; here
``u = log rho_t + w`` and ``int_0^D w^n e^w dw = D^{n+1} J_n(D)``, :func:`moment_integral`,
which keeps full precision at small steps).  The first steps are lower order (warm-up);
for runs shorter than 15 steps the last two are first and second order.  diffusers' run
ends at ``abar_1 < 1`` (its ``sigma_last``), i.e. accnum's ``to=1``; the extra step into
``abar = 1`` (``to=0``) is taken first order (DDIM).
"""

from __future__ import annotations

import math

import numpy as np

from ..score import eps_from_score
from ._expint import moment_integral
from .base import Facts, Sampler
from .dpm_solver import first_order_eps


def _log_rho(ab: float) -> float:
    return 0.5 * (math.log1p(-ab) - math.log(ab))


def lagrange_rho_weights(u_nodes, u_start: float, u_end: float, rho_start: float) -> list[float]:
    """``C_j = int l_j(u) e^u du`` over ``[u_start, u_end]`` for nodes ``u_nodes`` (``u = log rho``)."""
    D = u_end - u_start
    delta = [u - u_start for u in u_nodes]
    k = len(delta)
    mom = [D ** (n + 1) * moment_integral(n, D) for n in range(k)]   # int_0^D w^n e^w dw
    out = []
    for j in range(k):
        others = [delta[m] for m in range(k) if m != j]
        coeffs = np.poly(others)[::-1] if others else np.array([1.0])   # ascending powers of w
        denom = math.prod(delta[j] - o for o in others)
        out.append(rho_start * float(sum(c * mom[n] for n, c in enumerate(coeffs))) / denom)
    return out


class _DEIS(Sampler):
    p: int

    def step(self, t, y, z, model, sched, state):
        ab, ab_prev = sched.alpha_bar[t], sched.alpha_bar[t - 1]
        e_t = eps_from_score(ab, model(ab, y))
        hist = [e_t] + [state[f"e{i}"] for i in range(1, self.p) if f"e{i}" in state]   # eps_t, eps_{t+1}, ...
        new_state = {f"e{i + 1}": e for i, e in enumerate(hist[: self.p - 1])}
        order = min(self.p, len(hist))
        if sched.T - 1 < 15 and t <= 3:
            order = min(order, t - 1)    # lower_order_final / lower_order_second (run of T - 1 steps)
        if ab_prev == 1.0 or order <= 1:
            return first_order_eps(y, e_t, ab, ab_prev), new_state
        u = [_log_rho(sched.alpha_bar[t + j]) for j in range(order)]
        C = lagrange_rho_weights(u, u[0], _log_rho(ab_prev), math.sqrt((1.0 - ab) / ab))
        acc = y / math.sqrt(ab)
        for c, e in zip(C, hist, strict=False):
            acc = acc + c * e
        return math.sqrt(ab_prev) * acc, new_state


class DEIS2(_DEIS):
    p = 2
    facts = Facts(
        name="deis-2", kind="ode", nfe=1, normals=0, order=2.0, metric="tv",
        source="Zhang & Chen (ICLR 2023, arXiv 2204.13902), multistep AB-DEIS, as diffusers "
               "DEISMultistepScheduler(solver_order=2, solver_type='logrho')",
        note="eps prediction, Lagrange extrapolation in log rho integrated exactly in rho",
    )


class DEIS3(_DEIS):
    p = 3
    facts = Facts(
        name="deis-3", kind="ode", nfe=1, normals=0, order=3.0, metric="tv",
        source="Zhang & Chen (ICLR 2023, arXiv 2204.13902), multistep AB-DEIS, as diffusers "
               "DEISMultistepScheduler(solver_order=3, solver_type='logrho')",
        note="eps prediction, Lagrange extrapolation in log rho integrated exactly in rho",
    )
