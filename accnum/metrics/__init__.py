"""Error metrics (SPEC §4): exact where the sampler allows, sample-based everywhere.

=============  ==================================  ===========================================
metric         samplers                            how
=============  ==================================  ===========================================
``tv``, ``kl`` deterministic, any d                change of variables (:mod:`.exact`)
``path-kl``    stochastic (Gaussian kernels), d<=3  exact posterior + Gauss–Hermite (:mod:`.path_kl`)
``grid-tv``    deterministic 1-D; stochastic d<=2  grid push / propagation (:mod:`.grid`)
``gauss-*``    any, Gaussian targets (K = 1)       closed forms (:mod:`.gaussian`)
``sliced-w2``, any, any d                          samples vs exact draws (:mod:`.samples`)
``energy``,
``w1``, ``ks``
=============  ==================================  ===========================================

:func:`evaluate` dispatches by name; :func:`default_metrics` says what ``accnum rates``
measures for a sampler.
"""

from __future__ import annotations

from .. import _checks
from ..samplers import get as get_sampler
from .base import Estimate, NonInvertibleMap
from .exact import exact
from .gaussian import closed_form
from .grid import grid_tv
from .path_kl import path_kl
from .samples import sample_metrics
from ..errors import InvalidInput

METRICS = ("tv", "kl", "path-kl", "grid-tv", "gauss-kl", "gauss-w2", "gauss-tv", "sliced-w2", "energy", "w1", "ks")
SAMPLE_METRICS = ("sliced-w2", "energy", "w1", "ks")


def default_metrics(sampler, d: int) -> tuple[str, ...]:
    """What the rates experiment measures: exact TV/KL for ODE samplers; path KL (and grid
    TV in 1-D) for SDE samplers; sample-based distances beyond the exact metrics' reach."""
    f = get_sampler(sampler).facts
    if f.kind == "ode":
        return ("tv", "kl")
    if d == 1:
        return ("path-kl", "grid-tv")
    if d <= 3:
        return ("path-kl",)
    return ("sliced-w2",)


def min_n(metric: str) -> int:
    """The smallest sample size ``metric`` accepts (grid and closed forms take none: 0)."""
    from .exact import min_n as exact_min

    return {"tv": exact_min("qmc"), "kl": exact_min("qmc"), "path-kl": 10, "sliced-w2": 50, "energy": 50, "w1": 50,
            "ks": 50}.get(metric, 0)


def default_n(metric: str) -> int:
    """The sample size ``metric`` starts from when none is given (before any enlargement)."""
    return {"tv": 8192, "kl": 8192, "path-kl": 2000}.get(metric, 20_000 if metric in SAMPLE_METRICS else 0)


def check_memory(metric: str, n: int, target, backend: str) -> None:
    """Refuse, before any work, a sample size ``n`` whose arrays ``metric`` cannot hold here."""
    from ..run import _memory_for_samples
    from .exact import _memory_for_tangents
    from .path_kl import memory_check

    if metric in ("tv", "kl"):
        _memory_for_tangents(n, target.d, target.K, backend)
    elif metric == "path-kl":
        memory_check(n, target, backend)
    elif metric in SAMPLE_METRICS:
        _memory_for_samples(2 * n, target.d, target.K, backend)   # the samples and as many exact draws


def check_metric(metric: str, sampler, d: int) -> None:
    """A one-line ValueError when ``metric`` cannot be computed for ``sampler`` in ``d``."""
    _checks.choice("metric", metric, METRICS)
    f = get_sampler(sampler).facts
    if metric in ("tv", "kl") and f.kind != "ode":
        raise InvalidInput(f"metric {metric!r} is the exact change-of-variables metric for deterministic samplers; "
                         f"{f.name} is stochastic (use path-kl, grid-tv or a sample metric)")
    if metric == "path-kl" and f.kind != "sde":
        raise InvalidInput(f"metric 'path-kl' is for stochastic samplers; {f.name} is deterministic (use tv or kl)")
    if metric == "path-kl" and d > 3:
        raise InvalidInput(f"metric 'path-kl' supports d <= 3, the target has d = {d}")
    if metric == "grid-tv" and (d > 2 or (f.kind == "ode" and d > 1)):
        raise InvalidInput(f"metric 'grid-tv' needs a grid in d <= 2 (d = 1 for deterministic samplers); the target has d = {d}")
    if metric in ("w1", "ks", "gauss-tv") and d != 1:
        raise InvalidInput(f"metric {metric!r} is one-dimensional; the target has d = {d}")


def evaluate(metric: str, target, sampler, schedule, n: int | None = None, seed: int = 0, init: str = "gaussian",
             score=None) -> Estimate:
    """One metric of ``sampler``'s ``Y_1`` against ``q_1``; ``n`` is the metric's sample size."""
    from ..run import sample
    from ..targets import resolve

    target = resolve(target)
    schedule = _checks.schedule(schedule)
    check_metric(metric, sampler, target.d)
    kw = {} if n is None else {"n": n}
    if metric in ("tv", "kl"):
        return exact(target, sampler, schedule, seed=seed, init=init, score=score,
                     method="qmc", metrics=(metric,), **kw)[metric]
    if metric == "path-kl":
        return path_kl(target, sampler, schedule, seed=seed, init=init, score=score, **kw)
    if metric == "grid-tv":
        return grid_tv(target, sampler, schedule, init=init, score=score)
    if metric.startswith("gauss-"):
        return closed_form(target, sampler, schedule, init=init, score=score)[metric[6:]]
    x = sample(target, sampler, schedule, n=n or 20_000, seed=seed, init=init, score=score).x
    return sample_metrics(x, target, alpha_bar=schedule.alpha_bar[1], seed=seed, metrics=(metric,))[metric]


__all__ = ["Estimate", "NonInvertibleMap", "METRICS", "closed_form", "default_metrics", "check_metric", "evaluate",
           "exact", "grid_tv", "path_kl", "sample_metrics"]
