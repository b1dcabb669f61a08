"""What every sampler is: its step and its facts (diffrax-style).

A sampler advances ``Y_t -> Y_{t-1}`` given the score model, the schedule and the
step's standard normals ``z`` (a list of ``normals`` arrays of shape (n, d)).  Steps use
only sums, scalar multiples and score evaluations, so the same code runs on arrays and
on :class:`~accnum.tangent.Tangent` objects (exact metrics, Gaussian closed forms) and
traces into a program for the compiled backends (:mod:`accnum.kernels.program`).
Multistep samplers keep previous score evaluations in ``state``.

To write your own (docs/extending.md): subclass :class:`Sampler`, give it ``facts`` and a
``step``; a stochastic sampler whose step is ``m_t(Y_t + sqrt(v0) Z) + sqrt(v1) Z'``
subclasses :class:`KernelSampler` and gives ``kernel`` and ``mean_map`` instead, which
the path KL and the grid TV need.  ``accnum.samplers.check(sampler)`` says what it
supports and why.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import numpy as np

from ..errors import InvalidInput, InvalidType

KINDS = ("ode", "sde")


@dataclass(frozen=True)
class Facts:
    """A sampler's facts, checked when made: ``name`` (no spaces, commas or colons: it is
    written in lists and import paths), ``kind`` ``"ode"`` (a deterministic map) or
    ``"sde"`` (a stochastic kernel), ``nfe`` score evaluations per step (>= 1), ``normals``
    standard-normal vectors drawn per step (0 for an ODE sampler, >= 1 for an SDE one),
    ``order`` the claimed order in ``h`` (docs/math/orders.md#step-size-h; None: no claim),
    ``metric`` the metric the claim is made in, ``source`` paper and equation."""

    name: str
    kind: str            # "ode" (deterministic map) or "sde" (stochastic kernel)
    nfe: int             # score evaluations per step
    normals: int         # standard normal vectors per step
    order: float | None  # claimed order in h
    metric: str          # the metric the order is claimed in
    source: str          # paper and equation
    note: str = ""

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name.strip() or any(c in self.name for c in " ,:"):
            raise InvalidInput(f"Facts: name must be a non-empty string without spaces, commas or colons, got {self.name!r}")
        if self.kind not in KINDS:
            raise InvalidInput(f"Facts({self.name!r}): kind must be 'ode' or 'sde', got {self.kind!r}")
        for attr, low in (("nfe", 1), ("normals", 0)):
            v = getattr(self, attr)
            if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < low:
                raise InvalidInput(f"Facts({self.name!r}): {attr} must be an integer >= {low}, got {v!r}")
        if self.kind == "ode" and self.normals != 0:
            raise InvalidInput(f"Facts({self.name!r}): an ODE sampler draws no normals (normals = 0), got {self.normals}")
        if self.kind == "sde" and self.normals < 1:
            raise InvalidInput(f"Facts({self.name!r}): an SDE sampler draws normals (normals >= 1), got {self.normals}")
        if self.order is not None and (isinstance(self.order, bool) or not isinstance(self.order, numbers.Real)
                                       or not math.isfinite(self.order) or self.order <= 0):
            raise InvalidInput(f"Facts({self.name!r}): order must be a positive number or None, got {self.order!r}")
        for attr in ("metric", "source", "note"):
            if not isinstance(getattr(self, attr), str):
                raise InvalidType(f"Facts({self.name!r}): {attr} must be a string, got {type(getattr(self, attr)).__name__}")
        if not self.source.strip():
            raise InvalidInput(f"Facts({self.name!r}): source must name the paper and equation")
        if not self.metric.strip():
            raise InvalidInput(f"Facts({self.name!r}): metric must name the metric the order is claimed in (tv, path-kl, ...)")


class Sampler:
    facts: Facts

    @property
    def name(self) -> str:
        return self.facts.name

    def initial_state(self) -> dict:
        return {}

    def step(self, t: int, y, z, model, sched, state: dict):  # pragma: no cover - abstract
        raise NotImplementedError

    def checked_step(self, t: int, y, z, model, sched, state: dict):
        """:meth:`step`, its answer checked: the NumPy paths call this, so that a step that
        returns the wrong shape, forgets the state or reads a normal it did not declare is
        refused in one line naming the step, not turned into wrong numbers downstream."""
        out = self.step(t, y, _Normals(z, self.name, t), model, sched, state)
        if not (isinstance(out, tuple) and len(out) == 2 and isinstance(out[1], dict)):
            raise InvalidInput(f"sampler {self.name!r}: step t = {t} returned {type(out).__name__}; a step returns "
                               "(new point, state dict)")
        _same_points(self.name, f"step t = {t}", y, out[0])
        return out

    def __repr__(self) -> str:
        return f"<sampler {self.facts.name}>"


class _Normals(list):
    """The step's normals; reading one beyond those declared in the facts is refused."""

    def __init__(self, z, name, t):
        super().__init__(z)
        self._name, self._t = name, t

    def __getitem__(self, j):
        try:
            return super().__getitem__(j)
        except IndexError:
            raise InvalidInput(f"sampler {self._name!r}: step t = {self._t} uses the normal z[{j}] but its facts "
                               f"declare normals = {len(self)} per step") from None


def _same_points(name: str, where: str, given, got) -> None:
    """``got`` must be points like ``given``: an ``(n, d)`` float array, or a Tangent of one."""
    from ..tangent import Tangent

    want = given.value.shape if isinstance(given, Tangent) else np.shape(given)
    value = got.value if isinstance(got, Tangent) and isinstance(given, Tangent) else got
    if isinstance(given, Tangent) and not isinstance(got, Tangent):
        raise InvalidInput(f"sampler {name!r}: {where} returned a {type(got).__name__} where the input was a tangent "
                           "(a step may only add points and scale them by numbers)")
    if not isinstance(value, np.ndarray) or value.shape != want or value.dtype.kind != "f":
        shape = value.shape if isinstance(value, np.ndarray) else type(value).__name__
        raise InvalidInput(f"sampler {name!r}: {where} returned points of shape {shape}, expected {want} "
                           "(float64, one row per sample)")


class KernelSampler(Sampler):
    """A stochastic sampler whose step is ``Y_{t-1} = m_t(Y_t + sqrt(v0) Z) + sqrt(v1) Z'``.

    Subclasses give the one-step kernel through :meth:`kernel`; the step, the path KL
    (docs/math/metrics.md#kernel-density) and grid propagation all read the same three pieces, so each kernel is
    written once.  ``v0 = 0`` means no intermediate point (one normal per step).
    """

    def kernel(self, t: int, sched) -> tuple[float, float]:  # pragma: no cover - abstract
        """``(v0, v1)``: pre- and post-noise variances of step ``t``."""
        raise NotImplementedError

    def mean_map(self, t: int, u, model, sched):  # pragma: no cover - abstract
        """``m_t(u)``, the deterministic part of step ``t``."""
        raise NotImplementedError

    def checked_mean_map(self, t: int, u, model, sched):
        """:meth:`mean_map`, its answer checked like :meth:`Sampler.checked_step`'s."""
        out = self.mean_map(t, u, model, sched)
        _same_points(self.name, f"mean_map at step t = {t}", u, out)
        return out

    def step(self, t, y, z, model, sched, state):
        v0, v1 = self.kernel(t, sched)
        if v0 > 0:
            y = y + math.sqrt(v0) * z[0]
        y = self.mean_map(t, y, model, sched)
        if v1 > 0:
            y = y + math.sqrt(v1) * z[-1]
        return y, state


class GaussianStepSampler(Sampler):
    """A stochastic sampler whose step, given ``Y_t = y``, is Gaussian with a covariance that
    depends on ``y``: ``Y_{t-1} = m_t(y) + L_t(y) Z``, ``L_t L_t^T = Sigma_t(y)``, one normal
    per step (docs/math/metrics.md#full-covariance-kernel).

    Subclasses give :meth:`mean_map` (the deterministic part, run on arrays and tangents:
    the grid TV inverts it) and :meth:`moments` (``m_t(y)`` and a factor ``L_t(y)`` of shape
    ``(n, d, d)`` with ``L L^T = Sigma_t``, invertible, from one score evaluation).  The path KL and the 1-D
    grid TV read these two.  The noise is multiplied by a matrix that depends on the point,
    so the step does not trace: such a sampler runs on the ``numpy`` backend only.
    """

    def mean_map(self, t: int, u, model, sched):  # pragma: no cover - abstract
        """``m_t(u)``, the step's mean."""
        raise NotImplementedError

    checked_mean_map = KernelSampler.checked_mean_map

    def moments(self, t: int, y, model, sched):  # pragma: no cover - abstract
        """``(m_t(y), L_t(y))``: the step's mean ``(n, d)`` and covariance factor ``(n, d, d)``."""
        raise NotImplementedError

    def step(self, t, y, z, model, sched, state):
        mean, chol = self.moments(t, y, model, sched)
        return mean + np.einsum("nij,nj->ni", chol, z[0]), state
