"""What every sampler is: its step and its facts (diffrax-style).

A sampler advances ``Y_t -> Y_{t-1}`` given the score model, the schedule and the
step's standard normals ``z`` (a list of ``normals`` arrays of shape (n, d)).  Steps use
only sums, scalar multiples and score evaluations, so the same code runs on arrays and
on :class:`~accnum.tangent.Tangent` objects (exact metrics, Gaussian closed forms).
Multistep samplers keep previous score evaluations in ``state``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Facts:
    name: str
    kind: str            # "ode" (deterministic map) or "sde" (stochastic kernel)
    nfe: int             # score evaluations per step
    normals: int         # standard normal vectors per step (k of SPEC §3)
    order: float | None  # claimed order in h (SPEC §6)
    metric: str          # the metric the order is claimed in
    source: str          # paper and equation
    note: str = ""


class Sampler:
    facts: Facts

    @property
    def name(self) -> str:
        return self.facts.name

    def initial_state(self) -> dict:
        return {}

    def step(self, t: int, y, z, model, sched, state: dict):  # pragma: no cover - abstract
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<sampler {self.facts.name}>"


class KernelSampler(Sampler):
    """A stochastic sampler whose step is ``Y_{t-1} = m_t(Y_t + sqrt(v0) Z) + sqrt(v1) Z'``.

    Subclasses give the one-step kernel through :meth:`kernel`; the step, the path KL
    (SPEC §4) and grid propagation all read the same three pieces, so each kernel is
    written once.  ``v0 = 0`` means no intermediate point (one normal per step).
    """

    def kernel(self, t: int, sched) -> tuple[float, float]:  # pragma: no cover - abstract
        """``(v0, v1)``: pre- and post-noise variances of step ``t``."""
        raise NotImplementedError

    def mean_map(self, t: int, u, model, sched):  # pragma: no cover - abstract
        """``m_t(u)``, the deterministic part of step ``t``."""
        raise NotImplementedError

    def step(self, t, y, z, model, sched, state):
        v0, v1 = self.kernel(t, sched)
        if v0 > 0:
            y = y + math.sqrt(v0) * z[0]
        y = self.mean_map(t, y, model, sched)
        if v1 > 0:
            y = y + math.sqrt(v1) * z[-1]
        return y, state
