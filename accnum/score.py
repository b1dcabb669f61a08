"""Score models: what a sampler calls at every step.

A score model answers ``model(alpha_bar, x)`` with ``s(x) ≈ grad log q_t(x)`` at noise
level ``alpha_bar``; for a :class:`~accnum.tangent.Tangent` input it also pushes the
tangent through the score Jacobian.  :class:`ExactScore` is the exact mixture score of
SPEC §2.  The parameterisation conversions of SPEC §2 are written here once and used by
every sampler that works in noise or data prediction.
"""

from __future__ import annotations

import math

import numpy as np

from .errors import MissingCapability
from .tangent import Tangent


class ScoreModel:
    """Base class: subclasses implement :meth:`score` and, optionally,
    :meth:`score_and_jacobian` (the metrics that push tangents need it)."""

    def __init__(self):
        self.calls = 0

    def score(self, alpha_bar: float, x: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def score_and_jacobian(self, alpha_bar: float, x: np.ndarray):
        raise MissingCapability(f"score model {type(self).__name__} has no Jacobian (it defines no "
                                "score_and_jacobian)")

    #: the same x gives the same score at every call (False for a score that draws its own noise)
    deterministic = True

    @property
    def has_jacobian(self) -> bool:
        """Whether :meth:`score_and_jacobian` is provided (a subclass that defines it has one)."""
        return type(self).score_and_jacobian is not ScoreModel.score_and_jacobian

    def __call__(self, alpha_bar: float, x):
        self.calls += 1
        if isinstance(x, Tangent):
            s, jac = self.score_and_jacobian(alpha_bar, x.value)
            return Tangent(s, np.einsum("nij,njk->nik", jac, x.jac))
        return self.score(alpha_bar, x)


class ExactScore(ScoreModel):
    """The exact score ``s*_t`` and Jacobian ``J*_t`` of a Gaussian-mixture target."""

    def __init__(self, target):
        super().__init__()
        self.target = target

    def score(self, alpha_bar, x):
        return self.target.diffused(alpha_bar)._score_and_parts(x)[0]

    def score_and_jacobian(self, alpha_bar, x):
        return self.target.diffused(alpha_bar)._score_and_jacobian(x)


def require_jacobian(model, metric: str, why: str) -> None:
    """A one-line :class:`~accnum.errors.MissingCapability` when ``metric`` needs the score
    Jacobian (``why``: what it uses it for) and ``model`` has none."""
    if not model.has_jacobian:
        raise MissingCapability(f"metric {metric!r} needs the score Jacobian ({why}); score model "
                                f"{_name(model)} has none: give it score_and_jacobian(), or use a sample metric "
                                "(sliced-w2, energy, w1, ks)")


def require_deterministic(model, metric: str) -> None:
    """A one-line :class:`~accnum.errors.MissingCapability` when ``metric`` integrates a
    sampler's one-step kernel and ``model`` draws fresh noise at every evaluation."""
    if not model.deterministic:
        raise MissingCapability(f"metric {metric!r} needs a deterministic score (it integrates the sampler's Gaussian "
                                f"one-step kernel); score model {_name(model)} draws fresh noise at every evaluation, "
                                "so the kernel is a mixture over that noise: use a sample metric (sliced-w2, energy, "
                                "w1, ks)")


def _name(model) -> str:
    describe = getattr(model, "describe", None)
    return describe() if callable(describe) else type(model).__name__


# ------------------------------------------------------------ conversions (SPEC §2)
def eps_from_score(alpha_bar: float, s):
    """Noise prediction ``eps_t(x) = -sqrt(1 - abar_t) s_t(x)``."""
    return -math.sqrt(1.0 - alpha_bar) * s


def x0_from_score(alpha_bar: float, x, s):
    """Data prediction (Tweedie) ``x0_t(x) = (x + (1 - abar_t) s_t(x)) / sqrt(abar_t)``."""
    return (x + (1.0 - alpha_bar) * s) / math.sqrt(alpha_bar)
