"""Forward-mode tangents for sampler steps.

Every sampler step in accnum is a linear combination, with scalar coefficients, of its
input, score evaluations and noise.  A :class:`Tangent` carries a batch of points
``value`` (n, d) together with their derivative ``jac`` (n, d, m) with respect to some
m-dimensional input (the sampler's starting point ``Y_T``).  The same step code then
runs on plain arrays (sampling) and on tangents (the exact change-of-variables metrics of
docs/math/metrics.md#exact-tv-kl and the Gaussian closed forms), so each step's formula is written once.
Score models map a tangent ``(x, D)`` to ``(s(x), J(x) D)``.
"""

from __future__ import annotations

import numpy as np
from .errors import InvalidType


class Tangent:
    __slots__ = ("jac", "value")

    def __init__(self, value: np.ndarray, jac: np.ndarray):
        self.value, self.jac = value, jac

    @classmethod
    def identity(cls, x: np.ndarray) -> Tangent:
        n, d = x.shape
        return cls(x.copy(), np.broadcast_to(np.eye(d), (n, d, d)).copy())

    def _lift(self, other):
        if isinstance(other, Tangent):
            return other
        return Tangent(np.asarray(other, dtype=np.float64), np.zeros_like(self.jac))

    def __add__(self, other):
        o = self._lift(other)
        return Tangent(self.value + o.value, self.jac + o.jac)

    __radd__ = __add__

    def __sub__(self, other):
        o = self._lift(other)
        return Tangent(self.value - o.value, self.jac - o.jac)

    def __rsub__(self, other):
        return self._lift(other) - self

    def __neg__(self):
        return Tangent(-self.value, -self.jac)

    def __mul__(self, c):
        if isinstance(c, (Tangent, np.ndarray)):
            raise InvalidType("a Tangent is multiplied by scalars only: sampler steps are linear")
        return Tangent(c * self.value, c * self.jac)

    __rmul__ = __mul__

    def __truediv__(self, c):
        return self * (1.0 / c)


def value(x):
    """The point part of an array or a tangent."""
    return x.value if isinstance(x, Tangent) else x
