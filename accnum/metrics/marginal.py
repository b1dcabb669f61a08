"""One marginal TV for every kind of sampler: ``TV(p_{Y_1}, q_1)`` by the best route each has
(docs/math/metrics.md#exact-tv-kl and #grid).

A deterministic sampler is a map: its exact TV by change of variables (:mod:`.exact`, any
d).  A stochastic sampler with a Gaussian one-step kernel has no map to change variables
through: its marginal TV by density propagation on a grid (:mod:`.grid`, d <= 2).  Both
estimate the same quantity, so ODE and SDE samplers can be compared in one ``rates`` run on
one metric (``--metric marginal-tv``); each record's note says which route produced it.
"""

from __future__ import annotations

from ..samplers import KernelSampler
from . import registry
from .base import Estimate
from .exact import exact, min_n
from .exact import _memory_check as _exact_memory
from .grid import grid_tv

#: the last grid estimate and what it was for: the adaptive sample-size loop of ``rates``
#: may ask again with a larger n, which a grid (whose resolution is not n) answers with the
#: same number.  The objects themselves are kept and compared by identity (a key of ids
#: could match a new object that took a freed one's id).
_LAST: list = []


def _same(req, cached) -> bool:
    r = cached[0]
    return (r.target is req.target and r.sampler is req.sampler and r.schedule is req.schedule and r.score is req.score
            and r.init == req.init and r.backend == req.backend)


def _compute(req, names):
    if req.sampler.facts.kind == "ode":
        kw = {} if req.n is None else {"n": req.n}
        e = exact(req.target, req.sampler, req.schedule, seed=req.seed, init=req.init, method="qmc", score=req.score,
                  metrics=("tv",), backend=req.backend, **kw)["tv"]
        route = f"exact tv, {e.method}"
    else:
        if _LAST and _same(req, _LAST[0]):
            e = _LAST[0][1]
        else:
            e = grid_tv(req.target, req.sampler, req.schedule, init=req.init, score=req.score, backend=req.backend)
            _LAST[:] = [(req, e)]
        route = f"grid-tv, {e.method}"
    return {"marginal-tv": Estimate("marginal-tv", e.estimate, e.stderr, e.n, route, dict(e.extra), backend=e.backend)}


def _requirement(sampler, target):
    if sampler.facts.kind == "sde":
        if not isinstance(sampler, KernelSampler):
            return f"metric 'marginal-tv' needs a Gaussian one-step kernel for a stochastic sampler; {sampler.name} has none"
        if target.d > 2:
            return (f"metric 'marginal-tv' of a stochastic sampler propagates its density on a grid, d <= 2; the target "
                    f"has d = {target.d} (use sliced-w2 or energy)")
    return None


def _memory(n, target, backend):
    _exact_memory(n, target, backend)


MARGINAL_TV = registry._builtin(registry.Metric(
    "marginal-tv", "TV(p_{Y_1}, q_1) for every sampler: exact (change of variables) for maps, grid for kernels",
    _compute, needs=("jacobian", "deterministic"), default_n=8192, min_n=min_n("qmc"), adaptive=True, rank=4,
    claim=registry.claim_tv, requirement=_requirement, memory=_memory, extra={"start_floor": "tv"},
    how="deterministic samplers: the exact tv (change of variables, any d); stochastic kernel samplers: the grid tv "
        "(density propagation, d <= 2); each record's note names the route"))
