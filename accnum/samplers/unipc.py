"""UniPC (Zhao, Bai, Rao, Zhou, Lu; NeurIPS 2023), the B(h) = e^h - 1 ("bh2") variant in
data prediction, as diffusers' ``UniPCMultistepScheduler`` runs it (``predict_x0=True``,
``solver_type="bh2"``, ``lower_order_final=True``, ``final_sigmas_type="zero"``).
The update as implemented: docs/math/samplers.md#unipc.

Notation: ``lambda = log(alpha/sigma)``, ``m_j = x0_j(.)`` the data prediction evaluated at
the *uncorrected* point of step ``j``, ``hh = -h``, ``B(h) = e^{hh} - 1``,
``b_i = i! hh phi_{i+1}(hh) / B(h)`` (``phi_k`` of :mod:`._expint`), and for nodes
``r_1..r_{k-1}`` and ``r_k = 1`` the matrix ``R_{ij} = r_j^{i-1}`` (the paper's UniP-p and
UniC-p; wl-zhao/UniPC ``multistep_uni_pc_bh_update``):

UniP-k (predictor, step t -> t-1; h = lambda_{t-1} - lambda_t, r_i = (lambda_{t+i} - lambda_t)/h):
    D_i = (m_{t+i} - m_t) / r_i,  rho = 1/2 (k = 2) or R[:-1,:-1]^{-1} b[:-1] (k >= 3)
    Y_{t-1} = (sigma_{t-1}/sigma_t) Y^c_t - alpha_{t-1} (e^{hh} - 1) m_t - alpha_{t-1} B(h) sum_i rho_i D_i
UniC-k (corrector of Y_t, run when m_t is known; h = lambda_t - lambda_{t+1}, nodes from t+1):
    Y^c_t = (sigma_t/sigma_{t+1}) Y^c_{t+1} - alpha_t (e^{hh} - 1) m_{t+1}
            - alpha_t B(h) (sum_{i<k} rho_i D_i + rho_k (m_t - m_{t+1})),  rho = R^{-1} b (1/2 for k = 1)

The corrector reuses the evaluation ``m_t`` at the uncorrected ``Y_t``, which the next
predictor also uses: one NFE per step.  Orders: the predictor at ``t`` has order
``min(p, t, T - t + 1)`` (warm-up, and diffusers' ``lower_order_final`` counted in a run
that ends at ``abar_0 = 1``), the corrector the order of the predictor it corrects.  The
step into ``abar = 1`` returns ``m_1`` (``sigma_0 = 0``).  ``to=1`` returns the last
predictor's ``Y_1`` uncorrected, as the scheduler holds it before its final call.
"""

from __future__ import annotations

import math

import numpy as np

from ..schedules import log_snr
from ..score import x0_from_score
from ._expint import phi
from .base import Facts, Sampler


def _bh2_rhs(h: float, k: int):
    """``(e^{hh} - 1, B(h), b_1..b_k)`` with ``hh = -h``, bh2: ``B(h) = e^{hh} - 1``."""
    hh = -h
    h_phi_1 = math.expm1(hh)
    b = np.array([math.factorial(i) * hh * phi(i + 1, hh) / h_phi_1 for i in range(1, k + 1)])
    return h_phi_1, h_phi_1, b


def _vandermonde(rks) -> np.ndarray:
    return np.array([[r ** (i - 1) for r in rks] for i in range(1, len(rks) + 1)])


class _UniPC(Sampler):
    p: int

    def _lam(self, sched, t):
        return float(log_snr(sched.alpha_bar[t]))

    def _corrector(self, t, y_prev, m_t, hist, sched, k):
        """UniC-k: the corrected Y_t from the corrected Y_{t+1} = ``y_prev``; ``hist[i]`` is m_{t+1+i}."""
        ab, ab_next = sched.alpha_bar[t], sched.alpha_bar[t + 1]
        lam0 = self._lam(sched, t + 1)
        h = self._lam(sched, t) - lam0
        rks = [(self._lam(sched, t + 1 + i) - lam0) / h for i in range(1, k)] + [1.0]
        h_phi_1, B_h, b = _bh2_rhs(h, k)
        rhos = [0.5] if k == 1 else [float(r) for r in np.linalg.solve(_vandermonde(rks), b)]
        m0 = hist[0]
        res = rhos[-1] * (m_t - m0)
        for i in range(1, k):
            res = res + (rhos[i - 1] / rks[i - 1]) * (hist[i] - m0)
        a = math.sqrt(ab)
        return math.sqrt((1.0 - ab) / (1.0 - ab_next)) * y_prev - (a * h_phi_1) * m0 - (a * B_h) * res

    def _predictor(self, t, y, m_t, hist, sched, k):
        """UniP-k from Y_t = ``y`` (corrected); ``hist[i]`` is m_{t+1+i}."""
        ab, ab_prev = sched.alpha_bar[t], sched.alpha_bar[t - 1]
        lam0 = self._lam(sched, t)
        h = self._lam(sched, t - 1) - lam0
        h_phi_1, B_h, b = _bh2_rhs(h, k)
        a_prev = math.sqrt(ab_prev)
        out = math.sqrt((1.0 - ab_prev) / (1.0 - ab)) * y - (a_prev * h_phi_1) * m_t
        if k == 1:
            return out
        rks = [(self._lam(sched, t + i) - lam0) / h for i in range(1, k)] + [1.0]
        rhos = [0.5] if k == 2 else [float(r) for r in np.linalg.solve(_vandermonde(rks)[:-1, :-1], b[:-1])]
        for i in range(1, k):
            out = out - (a_prev * B_h * rhos[i - 1] / rks[i - 1]) * (hist[i - 1] - m_t)
        return out

    def step(self, t, y, z, model, sched, state):
        T, p = sched.T, self.p
        ab, ab_prev = sched.alpha_bar[t], sched.alpha_bar[t - 1]
        m_t = x0_from_score(ab, y, model(ab, y))
        hist = [state[f"m{i}"] for i in range(1, p + 1) if f"m{i}" in state]   # m_{t+1}, m_{t+2}, ...
        if hist:
            y = self._corrector(t, state["y"], m_t, hist, sched, min(p, t + 1, T - t))
        new_state = {"y": y, "m1": m_t}
        for i, m in enumerate(hist[: p - 1]):
            new_state[f"m{i + 2}"] = m
        if ab_prev == 1.0:
            return m_t, new_state     # UniP-1 into sigma = 0: (0) Y^c_1 + alpha_0 m_1
        return self._predictor(t, y, m_t, hist, sched, min(p, t, T - t + 1)), new_state


class UniPC2(_UniPC):
    p = 2
    facts = Facts(
        name="unipc-2", kind="ode", nfe=1, normals=0, order=3.0, metric="tv",
        source="Zhao et al. (NeurIPS 2023, arXiv 2302.04867), UniP-p + UniC-p with B(h) = e^h - 1, "
               "as wl-zhao/UniPC multistep_uni_pc_bh_update and "
               "diffusers UniPCMultistepScheduler(solver_order=2, solver_type='bh2', predict_x0=True)",
        note="UniP-2 + UniC-2: order p + 1 = 3 claimed (the paper: UniC-p raises UniP-p's order by one; "
             "diffusers: 'effective order solver_order + 1')",
    )


class UniPC3(_UniPC):
    p = 3
    facts = Facts(
        name="unipc-3", kind="ode", nfe=1, normals=0, order=4.0, metric="tv",
        source="Zhao et al. (NeurIPS 2023, arXiv 2302.04867), UniP-p + UniC-p with B(h) = e^h - 1, "
               "as wl-zhao/UniPC multistep_uni_pc_bh_update and "
               "diffusers UniPCMultistepScheduler(solver_order=3, solver_type='bh2', predict_x0=True)",
        note="UniP-3 + UniC-3: order p + 1 = 4 claimed; the predictor into abar_1 is UniP-2 (lower_order_final)",
    )
