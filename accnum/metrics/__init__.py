"""Error metrics (docs/math/metrics.md): exact where the sampler allows, sample-based everywhere.

=============  ==================================  ===========================================
metric         samplers                            how
=============  ==================================  ===========================================
``tv``, ``kl`` deterministic, any d                change of variables (:mod:`.exact`)
``path-kl``    stochastic (Gaussian kernels), d<=3  exact posterior + Gauss–Hermite (:mod:`.path_kl`)
``grid-tv``    deterministic 1-D; stochastic d<=2  grid push / propagation (:mod:`.grid`)
``marginal-``  any (stochastic: d<=2)              ``tv`` for maps, ``grid-tv`` for kernels
``tv``                                             (:mod:`.marginal`)
``gauss-*``    any, Gaussian targets (K = 1)       closed forms (:mod:`.gaussian`)
``sliced-w2``, any, any d                          samples vs exact draws (:mod:`.samples`)
``energy``,
``w1``, ``ks``
=============  ==================================  ===========================================

Every metric is a :class:`Metric` object in the registry (:mod:`.registry`): what it
applies to, its sample sizes, how a sampler's claim translates into it, how it is
computed.  :func:`evaluate` computes one by name; ``accnum rates`` measures
:func:`default_metrics` when no metric is named.  A user's metric joins with
:func:`register`.
"""

from __future__ import annotations

from .. import _checks
from ..samplers import get as get_sampler
from . import exact as _exact_module  # noqa: F401  (registers tv, kl)
from . import gaussian as _gaussian_module  # noqa: F401  (registers gauss-*)
from . import marginal as _marginal_module  # noqa: F401  (registers marginal-tv)
from . import samples as _samples_module  # noqa: F401  (registers the sample metrics)
from .base import Estimate, NonInvertibleMap
from .exact import exact
from .gaussian import closed_form
from .grid import grid_tv
from .path_kl import path_kl
from .registry import Metric, Request, claimed_order, defaults, get, names, names_for, register, unregister
from .samples import sample_metrics


def default_metrics(sampler, target) -> tuple[str, ...]:
    """What ``rates`` measures for ``sampler`` on ``target`` (a mixture, or its dimension)
    when no metric is named: exact TV/KL for ODE samplers; path KL (and grid TV in 1-D) for
    SDE samplers; sample-based distances beyond the exact metrics' reach."""
    return defaults(get_sampler(sampler), _as_target(target))


def check_metric(metric: str, sampler, target) -> Metric:
    """The metric, or a one-line error when it cannot be computed for ``sampler`` on ``target``."""
    m = get(metric)
    m.check(get_sampler(sampler), _as_target(target))
    return m


def _as_target(target):
    """A mixture, or a stand-in of dimension ``d`` and one component (what the checks read)."""
    if isinstance(target, int):
        from types import SimpleNamespace

        return SimpleNamespace(d=target, K=1)
    from ..targets import resolve

    return resolve(target)


def evaluate(metric: str, target, sampler, schedule, n: int | None = None, seed: int = 0, init: str = "gaussian",
             score=None, backend: str = "auto") -> Estimate:
    """One metric of ``sampler``'s ``Y_1`` against ``q_1``; ``n`` is the metric's sample size."""
    from ..targets import resolve

    target = resolve(target)
    sampler = get_sampler(sampler)
    schedule = _checks.schedule(schedule)
    m = check_metric(metric, sampler, target)
    if n is not None:
        n = _checks.integer("n", n, minimum=1)
        m.check_n(n)
    return m.compute(Request(target, sampler, schedule, n, _checks.seed(seed), init, score, backend), (m.name,))[m.name]


__all__ = ["Estimate", "Metric", "NonInvertibleMap", "Request", "check_metric", "claimed_order", "closed_form",
           "default_metrics", "evaluate", "exact", "get", "grid_tv", "names", "names_for", "path_kl", "register",
           "sample_metrics", "unregister"]
