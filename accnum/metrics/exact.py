"""Exact TV and KL of a deterministic sampler's output by change of variables (docs/math/metrics.md#exact-tv-kl).

The sampler is a map ``F: y_T -> y_1``.  With ``pi_T`` the law of ``Y_T`` and
``rho(x) = q_1(F(x)) |det DF(x)| / pi_T(x)``:

    TV(p_{Y_1}, q_1)   = E_{x ~ pi_T} [(1 - rho(x))_+]
    KL(p_{Y_1} || q_1) = E_{x ~ pi_T} [rho - 1 - log rho]

``DF`` is propagated step by step as a tangent through every score evaluation
(:mod:`accnum.tangent`), so multistep samplers get the chain rule through reused
evaluations for free.  Both integrands vanish where the sampler is exact, so the
estimate's error is relative, not absolute.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import ndtri
from scipy.stats import qmc

from .. import _checks, _memory, kernels
from ..run import _backend_for, _describe, initial_points, resolve_score
from ..samplers import get as get_sampler
from ..tangent import Tangent
from ..targets import resolve as resolve_target
from . import registry
from .base import Estimate, NonInvertibleMap, require_tangents
from ..errors import InvalidInput, InvalidType, MissingCapability, NumericalFailure

METHODS = ("qmc", "mc", "quadrature")


def _log_pi(x, init, target, sched):
    if init == "gaussian":
        return -0.5 * np.sum(x * x, axis=1) - 0.5 * x.shape[1] * math.log(2 * math.pi)
    return target.diffused(sched.alpha_bar[sched.T]).logpdf(x)


def _not_invertible(sampler, sched, t, bad, n):
    return NonInvertibleMap(
        f"{sampler.name} on {sched.describe()}: the map is not invertible at step t = {t} "
        f"(Jacobian determinant <= 0 at {bad} of {n} points); exact TV/KL are undefined, try a larger T"
    )


ROUTES = ("auto", "dense", "lowrank")


def route_for(route: str, backend: str, target, model, sampler, sched, to: int = 1) -> str:
    """``dense`` or ``lowrank``: how ``log|det DF|`` is computed (docs/math/metrics.md#log-det).
    ``lowrank`` (time linear in d; :mod:`accnum.kernels.lowrank`) needs a compiled backend, a
    sampler without state and a score whose Jacobian is diagonal plus low rank; ``auto``
    takes it where it applies and pays (``d >= max(8, 2 r)``, ``r`` the step's rank)."""
    _checks.choice("route", route, ROUTES)
    if route == "dense":
        return "dense"
    why = None
    if backend == "numpy":
        why = "it runs on the compiled backends (cpu, cuda) only"
    else:
        from ..kernels import lowrank
        from ..kernels.sampling import compiled_score

        program = kernels.trace(sampler, sched, to)
        why = lowrank.applies(model, program, target.d)
        if why is None:
            form = compiled_score(model, program, target.d)
            if form.score_lowrank is None:
                why = f"score model {model.describe()} gives no low-rank Jacobian (full covariances?)"
            elif route == "auto" and target.d < max(8, 2 * lowrank.ranks(program, form.rank)):
                return "dense"
    if why is None:
        return "lowrank"
    if route == "lowrank":
        raise MissingCapability(f"route 'lowrank' cannot run {sampler.name}: {why}")
    return "dense"


def log_rho(target, sampler, sched, x, init="gaussian", score=None, to: int = 1, check: bool = True,
            backend: str = "auto", route: str = "auto"):
    """``log rho(x)`` for starting points ``x`` (n, d); raises :class:`NonInvertibleMap`
    naming the first step whose Jacobian determinant is not positive.  On the ``cpu`` and
    ``cuda`` backends the tangent and its log-determinant run inside the kernels, by the
    dense route or, for diagonal covariances and samplers without state, in time linear in
    d (``route``, :func:`route_for`)."""
    target = resolve_target(target)
    sampler = get_sampler(sampler)
    sched = _checks.schedule(sched)
    if sampler.facts.kind != "ode":
        raise InvalidInput(f"exact change-of-variables metrics need a deterministic sampler; {sampler.name} is stochastic "
                           "(use path-kl or grid-tv)")
    _checks.choice("init", init, ("gaussian", "exact"))
    to = _checks.integer("to", to, minimum=0)
    x, _ = _checks.points("x", x, target.d)
    model = resolve_score(score, target)
    require_tangents("tv", sampler, sched, model, to)
    backend = _backend_for(backend, model, None, lambda: kernels.trace(sampler, sched, to))
    route = route_for(route, backend, target, model, sampler, sched, to)
    _memory_for_tangents(x.shape[0], target.d, target.K, backend, route)
    if backend != "numpy":
        if route == "lowrank":
            from ..kernels import lowrank

            y, logdet, first_bad = lowrank.execute(backend, target, model, sampler, sched, x, 0, to)
        else:
            y, logdet, first_bad, _ = kernels.execute(backend, target, model, sampler, sched, x, 0, to, jac=True)
        if check and np.any(first_bad):
            t = int(first_bad.max())
            raise _not_invertible(sampler, sched, t, int(np.count_nonzero(first_bad == t)), x.shape[0])
        _check_finite(y, logdet, sampler, sched, model)
        return target.diffused(sched.alpha_bar[to]).logpdf(y) + logdet - _log_pi(x, init, target, sched)
    y = Tangent.identity(x)
    st = sampler.initial_state()
    with np.errstate(over="ignore", invalid="ignore"):   # overflow is reported in one line below
        for t in range(sched.T, to, -1):
            y, st = sampler.checked_step(t, y, [], model, sched, st)
            if check:
                sign, _ = np.linalg.slogdet(y.jac)
                bad = int(np.count_nonzero(sign <= 0))
                if bad and np.all(np.isfinite(y.jac)):
                    raise _not_invertible(sampler, sched, t, bad, x.shape[0])
        _, logdet = np.linalg.slogdet(y.jac)
    _check_finite(y.value, logdet, sampler, sched, model)
    q1 = target.diffused(sched.alpha_bar[to])
    return q1.logpdf(y.value) + logdet - _log_pi(x, init, target, sched)


def _check_finite(y, logdet, sampler, sched, model):
    bad = ~(np.all(np.isfinite(y), axis=1) & np.isfinite(logdet))
    if np.any(bad):
        raise NumericalFailure(f"{sampler.name} on {sched.describe()} produced non-finite points or log-determinants "
                               f"for {int(bad.sum())} of {len(bad)} starting points with the score model "
                               f"{_describe(model)}: the scores, Jacobians or the step overflow float64, or one of them "
                               "gives NaN")


def _integrands(lr):
    rho_m1 = np.expm1(lr)
    return {"tv": np.maximum(-rho_m1, 0.0), "kl": rho_m1 - lr}


def exact(target, sampler, schedule, n: int = 8192, seed: int = 0, init: str = "gaussian",
          method: str = "qmc", replicates: int = 16, score=None, metrics=("tv", "kl"),
          backend: str = "auto", route: str = "auto") -> dict[str, Estimate]:
    """Exact ``TV`` and ``KL(p || q_1)`` of a deterministic sampler (docs/math/metrics.md#exact-tv-kl).

    ``method``: ``"qmc"`` (scrambled Sobol, ``replicates`` independent scramblings give the
    standard error), ``"mc"`` (i.i.d. draws from ``pi_T``) or
    ``"quadrature"`` (1-D only: trapezoid rule on ``n`` points over +-12 sd of ``pi_T``,
    error estimated by halving the grid).  ``route``: how the log-determinants are computed
    (:func:`route_for`; the estimate's ``method`` names it).
    """
    target = resolve_target(target)
    sampler = get_sampler(sampler)
    schedule = _checks.schedule(schedule)
    _checks.choice("method", method, METHODS)
    _checks.choice("init", init, ("gaussian", "exact"))
    metrics = (metrics,) if isinstance(metrics, str) else metrics
    if not isinstance(metrics, (tuple, list)) or not metrics:
        raise InvalidType(f"metrics must be 'tv', 'kl' or a sequence of them, got {metrics!r}")
    metrics = tuple(_checks.choice("metrics", m, ("tv", "kl")) for m in metrics)
    n = _checks.integer("n", n, minimum=1)
    if method == "qmc":
        replicates = _checks.integer("replicates", replicates, minimum=2)
    if n < min_n(method, replicates):
        why = {"qmc": f"2 * replicates = {min_n(method, replicates)} (two points for each scrambling)",
               "mc": "10 (for a Monte Carlo standard error)",
               "quadrature": "11 (the halving check uses every other point)"}[method]
        raise InvalidInput(f"n must be >= {why}, got {n}")
    seed = _checks.seed(seed)
    model = resolve_score(score, target)
    require_tangents("tv", sampler, schedule, model)
    backend = _backend_for(backend, model, None, lambda: kernels.trace(sampler, schedule))
    route = route_for(route, backend, target, model, sampler, schedule)
    score = model
    _memory_for_tangents(n, target.d, target.K, backend, route)   # before the points are drawn
    if method == "quadrature":
        return _quadrature(target, sampler, schedule, n, init, score, metrics, backend, route)
    if method == "qmc":
        # points per scrambling: a power of two keeps the Sobol sequence balanced (and SciPy quiet)
        m = 1 << max(1, math.ceil(math.log2(n / replicates)))
        # one batch through the sampler, split into the independent scramblings afterwards
        x = np.concatenate([_sobol_points(target, schedule, init, m, np.random.default_rng([seed, r]))
                            for r in range(replicates)])
        ints = _integrands(log_rho(target, sampler, schedule, x, init, score, backend=backend, route=route))
        tag = "" if route == "dense" else ", low-rank"
        out = {}
        for k in metrics:
            v = ints[k].reshape(replicates, m).mean(axis=1)
            out[k] = Estimate(k, float(v.mean()), float(v.std(ddof=1) / math.sqrt(replicates)), m * replicates,
                              f"qmc x{replicates}{tag}", backend=backend)
        return out
    x = initial_points(target, schedule, n, seed, init)
    ints = _integrands(log_rho(target, sampler, schedule, x, init, score, backend=backend, route=route))
    return {k: Estimate(k, float(ints[k].mean()), float(ints[k].std(ddof=1) / math.sqrt(n)), n, "mc", backend=backend)
            for k in metrics}


def min_n(method: str = "qmc", replicates: int = 16) -> int:
    """The smallest sample size each method accepts: two points per QMC scrambling, ten
    Monte Carlo draws, eleven quadrature points (the halving check then has six)."""
    return {"qmc": 2 * replicates, "mc": 10, "quadrature": 11}[method]


def _memory_for_tangents(n: int, d: int, K: int, backend: str, route: str = "dense") -> None:
    """The kernels hold a point, a log-determinant and a flag per sample, and per thread a
    block's scratch (dense: d x d tangents for a few symbol rows; low-rank: a few d x K
    factors per row and lane); the NumPy reference a d x d tangent per sample and the score's
    (n, K, d) temporaries besides."""
    import numba

    if backend in ("cpu", "cuda"):
        block = 8.0 * 8 * d * d if route == "dense" else 8.0 * 8 * 6 * (2 * K + 2) * 8 * d
        need = n * 8.0 * (3 * d + 3) + numba.get_num_threads() * block
        how = f"{route} route"
    else:
        need, how = n * 8.0 * (6 * d * d + 8 * K * d), "NumPy reference"
    _memory.require(need, f"the exact metric's {n} points in {d} dimensions ({how}, backend {backend!r})",
                    f"n = {n}, d = {d}")


def _sobol_points(target, schedule, init, m, rng):
    """``m`` scrambled-Sobol points transformed to ``pi_T``: N(0, I), or for ``init='exact'``
    the mixture q_T (first coordinate picks the component by its weight's CDF)."""
    d = target.d
    extra = 0 if init == "gaussian" else 1
    u = qmc.Sobol(d + extra, scramble=True, seed=rng).random(m)
    z = ndtri(np.clip(u[:, extra:], 2**-60, 1 - 2**-53))
    if init == "gaussian":
        return z
    qT = target.diffused(schedule.alpha_bar[schedule.T])
    comp = np.minimum(np.searchsorted(np.cumsum(qT.weights), u[:, 0], side="right"), qT.K - 1)
    if qT.kind == "full":
        return qT.means[comp] + np.einsum("nij,nj->ni", qT._chol[comp], z)
    return qT.means[comp] + np.sqrt(qT._var[comp]) * z


def _quadrature(target, sampler, schedule, n, init, score, metrics, backend, route="dense"):
    if target.d != 1:
        raise InvalidInput(f"method 'quadrature' is for one-dimensional targets, this one has d = {target.d}")
    if init == "gaussian":
        lo, hi = -12.0, 12.0
    else:
        qT = target.diffused(schedule.alpha_bar[schedule.T])
        sd = np.sqrt(qT._var[:, 0])
        lo, hi = float(np.min(qT.means[:, 0] - 12 * sd)), float(np.max(qT.means[:, 0] + 12 * sd))

    def integrate_on(m):
        x = np.linspace(lo, hi, m)[:, None]
        lr = log_rho(target, sampler, schedule, x, init, score, backend=backend, route=route)
        w = np.exp(_log_pi(x, init, target, schedule)) * (hi - lo) / (m - 1)
        w[[0, -1]] *= 0.5
        ints = _integrands(lr)
        return {k: float(np.sum(w * ints[k])) for k in metrics}

    fine = integrate_on(n)
    coarse = integrate_on((n + 1) // 2)
    return {k: Estimate(k, fine[k], abs(fine[k] - coarse[k]), n, "quadrature", backend=backend) for k in metrics}


__all__ = ["NonInvertibleMap", "exact", "log_rho"]


# ------------------------------------------------------------------------------- registry
def _compute(req, names):
    kw = {} if req.n is None else {"n": req.n}
    return exact(req.target, req.sampler, req.schedule, seed=req.seed, init=req.init, method="qmc", score=req.score,
                 metrics=tuple(names), backend=req.backend, **kw)


def _memory_check(n, target, backend):
    _memory_for_tangents(n, target.d, target.K, backend)


_COMMON = dict(compute=_compute, kinds=("ode",), needs=("jacobian", "deterministic"), default_n=8192,
               min_n=min_n("qmc"), adaptive=True, default_for=lambda kind, d: kind == "ode", memory=_memory_check,
               how="change of variables: the tangent dY_1/dY_T carried through every step, rho = q_1(F(x)) "
                   "|det DF(x)| / pi_T(x), scrambled Sobol points (16 scramblings give the standard error)")
# extra["start_floor"]: the start's own error the metric sits above (accnum.experiments.start)
TV = registry._builtin(registry.Metric("tv", "exact total variation of Y_1 against q_1", rank=0,
                                       claim=registry.claim_tv, extra={"start_floor": "tv"}, **_COMMON))
KL = registry._builtin(registry.Metric("kl", "exact KL(p_{Y_1} || q_1)", rank=1, claim=registry.claim_kl,
                                       extra={"start_floor": "kl"}, **_COMMON))
