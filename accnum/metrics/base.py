"""What every metric returns: an estimate with its standard error and provenance."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(repr=False)
class Estimate:
    metric: str
    estimate: float
    stderr: float
    n: int = 0
    method: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def rel_stderr(self) -> float:
        return self.stderr / abs(self.estimate) if self.estimate else float("inf")

    def __str__(self) -> str:
        return f"{self.metric} = {self.estimate:.4e} ± {self.stderr:.1e} ({self.method}, n={self.n})"

    __repr__ = __str__


class NonInvertibleMap(ValueError):
    """A deterministic sampler's step has a Jacobian determinant <= 0 somewhere: the map is
    not invertible and the change-of-variables metrics are undefined there."""
