"""What every metric returns: an estimate with its standard error and provenance."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import MissingCapability, NonInvertibleMap, UntraceableStep  # noqa: F401  (NonInvertibleMap: re-exported)


@dataclass(repr=False)
class Estimate:
    metric: str
    estimate: float
    stderr: float
    n: int = 0
    method: str = ""
    extra: dict = field(default_factory=dict)
    backend: str = ""     #: where it was computed (numpy, cpu, cuda)

    @property
    def rel_stderr(self) -> float:
        return self.stderr / abs(self.estimate) if self.estimate else float("inf")

    def __str__(self) -> str:
        return f"{self.metric} = {self.estimate:.4e} ± {self.stderr:.1e} ({self.method}, n={self.n})"

    __repr__ = __str__




def require_tangents(metric: str, sampler, sched, model, to: int = 1, mean_maps: bool = False) -> None:
    """What a metric that pushes tangents through the steps needs: the score's Jacobian, and
    steps linear in their inputs (the tracer's test; ``mean_maps``: a kernel sampler's mean
    maps only).  A one-line :class:`~accnum.errors.MissingCapability` names what is missing."""
    from .. import kernels
    from ..score import require_jacobian

    require_jacobian(model, metric, "it pushes tangents through every score evaluation of the step")
    try:
        if mean_maps:
            kernels.program.trace_mean_maps(sampler, sched)
        else:
            kernels.trace(sampler, sched, to)
    except UntraceableStep as err:
        raise MissingCapability(f"metric {metric!r} pushes tangents through the steps, which must be linear in their "
                                f"inputs; sampler {sampler.name!r} {err.rule}") from None
