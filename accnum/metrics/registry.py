"""The metric registry: one :class:`Metric` object per metric, read by ``rates``,
``sensitivity``, the command line and the docs.

A metric says what it applies to (sampler kinds, dimensions, what it needs of the score
model and the target), its default and smallest sample sizes, how a sampler's claimed order
translates into it, and how it is computed.  Metrics that share a computation (exact TV
and KL come from the same change of variables) share a ``compute`` function, which returns
every requested metric of its family from one pass.

A user's metric is registered with :func:`register` (or, from an installed package, with
an entry point in the group ``accnum.metrics`` naming a ``Metric``); from then on it runs
through ``accnum rates --metric NAME`` like a built-in one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, NamedTuple

from .. import _checks
from ..errors import InvalidInput, InvalidType

KINDS = ("ode", "sde")
#: what a metric may need: the score's Jacobian, a deterministic score, a sampler's
#: Gaussian one-step kernel, a Gaussian target (K = 1)
NEEDS = ("jacobian", "deterministic", "kernel", "gaussian-target")


class Request(NamedTuple):
    """What a metric is computed for."""

    target: object
    sampler: object
    schedule: object
    n: int | None
    seed: int
    init: str
    score: object
    backend: str


def _no_claim(facts, metric):
    return None, ""


@dataclass(frozen=True)
class Metric:
    """One metric (see the module doc).  ``compute(request, names) -> {name: Estimate}``;
    ``claim(facts, metric) -> (order or None, basis)`` translates a sampler's claim;
    ``default_for(kind, d)`` says whether ``rates`` measures it when no metric is named;
    ``memory(n, target, backend)`` refuses a sample size that cannot fit."""

    name: str
    summary: str
    compute: Callable
    kinds: tuple = KINDS
    min_d: int = 1
    max_d: int | None = None
    needs: tuple = ()
    default_n: int | None = None
    min_n: int = 0
    adaptive: bool = False
    rank: int = 50
    claim: Callable = _no_claim
    default_for: Callable | None = None
    memory: Callable | None = None
    requirement: Callable | None = None   #: (sampler, target) -> a reason it does not apply, or None
    how: str = ""
    extra: dict = field(default_factory=dict)

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name or any(c in self.name for c in " ,:"):
            raise InvalidInput(f"metric name must be a non-empty string without spaces, commas or colons, got "
                               f"{self.name!r}")
        if not callable(self.compute):
            raise InvalidType(f"metric {self.name!r}: compute must be callable (request, names) -> {{name: Estimate}}")
        bad = [k for k in self.kinds if k not in KINDS]
        if not self.kinds or bad:
            raise InvalidInput(f"metric {self.name!r}: kinds must be a non-empty subset of {KINDS}, got {self.kinds!r}")
        bad = [x for x in self.needs if x not in NEEDS]
        if bad:
            raise InvalidInput(f"metric {self.name!r}: unknown need {bad[0]!r} (valid: {', '.join(NEEDS)})")
        for attr in ("min_d", "min_n"):
            _checks.integer(f"metric {self.name!r}: {attr}", getattr(self, attr), minimum=0)

    def problem(self, sampler, target, suggest: bool = True) -> str | None:
        """Why this metric cannot be computed for ``sampler`` on ``target`` (None: it can);
        ``suggest`` lists the metrics that can."""
        from ..samplers import GaussianStepSampler, KernelSampler

        f = sampler.facts
        d = target.d
        if f.kind not in self.kinds:
            other = "deterministic" if f.kind == "ode" else "stochastic"
            wanted = " and ".join("deterministic" if k == "ode" else "stochastic" for k in self.kinds)
            hint = f" (metrics for it: {', '.join(names_for(sampler, target))})" if suggest else ""
            return f"metric {self.name!r} is for {wanted} samplers; {f.name} is {other}{hint}"
        if d < self.min_d or (self.max_d is not None and d > self.max_d):
            span = f"d = {self.min_d}" if self.max_d == self.min_d else (
                f"d <= {self.max_d}" if self.min_d <= 1 else f"{self.min_d} <= d <= {self.max_d}")
            return f"metric {self.name!r} supports {span}; the target has d = {d}"
        if "kernel" in self.needs and not isinstance(sampler, (KernelSampler, GaussianStepSampler)):
            return (f"metric {self.name!r} needs a Gaussian one-step kernel; {f.name} has none (it is not a KernelSampler "
                    "or GaussianStepSampler)")
        if "gaussian-target" in self.needs and target.K != 1:
            return f"metric {self.name!r} needs a Gaussian target (K = 1); this one has K = {target.K}"
        return self.requirement(sampler, target) if self.requirement is not None else None

    def check(self, sampler, target) -> None:
        problem = self.problem(sampler, target)
        if problem:
            raise InvalidInput(problem)

    def check_n(self, n: int) -> None:
        if n < self.min_n:
            raise InvalidInput(f"n = {n} is too small for metric {self.name!r}: it needs n >= {self.min_n}")


_REGISTRY: dict[str, Metric] = {}
_BUILTIN: set[str] = set()
_ENTRY_POINTS_LOADED = False


def register(metric: Metric, replace: bool = False) -> Metric:
    """Add ``metric`` to the registry (a name already taken is refused unless ``replace``;
    a built-in metric is never replaced)."""
    if not isinstance(metric, Metric):
        raise InvalidType(f"metric must be an accnum.metrics.Metric, got {type(metric).__name__}")
    if metric.name in _BUILTIN:
        raise InvalidInput(f"metric name {metric.name!r} is a built-in metric's; choose another name")
    if metric.name in _REGISTRY and not replace:
        raise InvalidInput(f"metric {metric.name!r} is registered already (pass replace=True to replace it)")
    _REGISTRY[metric.name] = metric
    return metric


def _builtin(metric: Metric) -> Metric:
    _REGISTRY[metric.name] = metric
    _BUILTIN.add(metric.name)
    return metric


def unregister(name: str) -> None:
    """Remove a user's metric (built-in ones stay)."""
    if name in _BUILTIN:
        raise InvalidInput(f"metric {name!r} is built in and cannot be removed")
    _REGISTRY.pop(name, None)


def _load_entry_points() -> None:
    global _ENTRY_POINTS_LOADED
    if _ENTRY_POINTS_LOADED:
        return
    _ENTRY_POINTS_LOADED = True
    from importlib.metadata import entry_points

    for ep in entry_points(group="accnum.metrics"):
        try:
            metric = ep.load()
        except Exception as err:   # an installed plugin that fails to import must not break accnum
            raise InvalidInput(f"metric entry point {ep.name!r} ({ep.value}) does not load: {err}") from None
        if metric.name not in _REGISTRY:
            register(metric)


def names() -> list[str]:
    """Every registered metric, in display order."""
    _load_entry_points()
    return [m.name for m in sorted(_REGISTRY.values(), key=lambda m: (m.rank, m.name))]


def get(name) -> Metric:
    """The metric ``name`` (a :class:`Metric` is passed through)."""
    if isinstance(name, Metric):
        return name
    _load_entry_points()
    _checks.choice("metric", name, names())
    return _REGISTRY[name]


def names_for(sampler, target) -> list[str]:
    """The metrics that can be computed for ``sampler`` on ``target``."""
    return [n for n in names() if _REGISTRY[n].problem(sampler, target, suggest=False) is None]


def defaults(sampler, target) -> tuple[str, ...]:
    """What ``rates`` measures for ``sampler`` on ``target`` when no metric is named."""
    kind, d = sampler.facts.kind, target.d
    return tuple(n for n in names() if _REGISTRY[n].default_for is not None and _REGISTRY[n].default_for(kind, d)
                 and _REGISTRY[n].problem(sampler, target, suggest=False) is None)


def claimed_order(sampler, metric: str) -> tuple[float | None, str]:
    """The order a sampler's claim implies in ``metric`` (in ``h``), and on what basis."""
    facts = sampler.facts
    if facts.order is None or not math.isfinite(facts.order):
        return None, ""
    return get(metric).claim(facts, metric)


def rank(metric: str) -> int:
    m = _REGISTRY.get(metric)
    return m.rank if m is not None else 99


# --------------------------------------------- how a claimed order translates (docs/math/orders.md#claims)
TV_LIKE = ("tv", "grid-tv", "gauss-tv", "marginal-tv")
KL_LIKE = ("kl", "gauss-kl")


def claim_tv(facts, metric):
    """A total variation: a claim in TV holds as stated; a path-KL claim bounds TV by Pinsker."""
    if facts.metric in TV_LIKE:
        return facts.order, "stated (TV)"
    if facts.metric == "path-kl":
        return facts.order / 2, "implied bound: TV <= sqrt(KL/2)"
    return None, ""


def claim_kl(facts, metric):
    """A KL of the output law: twice a TV claim's order (KL ~ TV^2 for smooth errors)."""
    if facts.metric in TV_LIKE:
        return 2 * facts.order, "implied: KL ~ TV^2 for smooth errors"
    if facts.metric in KL_LIKE:
        return facts.order, "stated (KL)"
    return None, ""


def claim_path_kl(facts, metric):
    """The path KL: only a claim made in it."""
    return (facts.order, "stated (path KL)") if facts.metric == "path-kl" else (None, "")
