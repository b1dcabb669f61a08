"""Sample-based distances to the exact target, for any sampler and any dimension (docs/math/metrics.md#sample-metrics).

These compare ``n`` sampler outputs with ``q_1``: the sliced 2-Wasserstein distance and
the energy distance against ``n`` exact draws of ``q_1``; in 1-D, the Wasserstein-1 and
Kolmogorov–Smirnov distances to the exact CDF.  Their standard errors come from
``batches`` disjoint sub-samples: the spread of the batch estimates, scaled down to the
whole sample at the rate the statistic's noise falls (``n^{-1/2}``; ``1/n`` for the energy
distance).  All carry a positive finite-sample bias (of order ``n^{-1/2}``; ``1/n`` for the
energy distance), so they resolve errors only down to that floor.
"""

from __future__ import annotations

import math

import numpy as np

from .. import _checks
from ..targets import resolve as resolve_target
from . import registry
from .base import Estimate
from ..errors import InvalidInput, InvalidType

_REF_STREAM = 2**32 - 2   # counter stream of the reference draws of q_1


def _as_samples(x, d):
    x, _ = _checks.points("x", x, d)
    return _checks.finite("x", x)


def _directions(d, m, seed):
    rng = np.random.default_rng([seed, 17])
    v = rng.standard_normal((m, d))
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def sliced_w2_value(x, y, dirs) -> float:
    px, py = np.sort(x @ dirs.T, axis=0), np.sort(y @ dirs.T, axis=0)
    return math.sqrt(float(np.mean((px - py) ** 2)))


def energy_value(x, y) -> float:
    """Energy distance ``2 E|X - Y| - E|X - X'| - E|Y - Y'|`` (V-statistics, chunked)."""
    def mean_dist(a, b):
        total = 0.0
        for i in range(0, a.shape[0], 1024):
            total += np.sum(np.linalg.norm(a[i:i + 1024, None, :] - b[None, :, :], axis=2))
        return total / (a.shape[0] * b.shape[0])

    return 2 * mean_dist(x, y) - mean_dist(x, x) - mean_dist(y, y)


def _batched(fn, x, y, batches, rate: float = 0.5):
    """Standard error of ``fn(x, y)`` from ``batches`` disjoint sub-samples: the spread of the
    batch estimates, scaled from a batch's size to the whole by ``(size / n)^rate``, the rate
    at which the statistic's noise shrinks (1/2 for sliced W2, W1 and KS; 1 for the energy
    distance, a V-statistic whose noise near zero falls like 1/n)."""
    n = x.shape[0]
    size = n // batches
    vals = [fn(x[i * size:(i + 1) * size], y[i * size:(i + 1) * size]) for i in range(batches)]
    return float(np.std(vals, ddof=1)) * (size / n) ** rate if batches > 1 else 0.0


def sample_metrics(x, target, alpha_bar: float = None, seed: int = 0, projections: int = 128, batches: int = 10,
                   metrics=None) -> dict[str, Estimate]:
    """Distances from samples ``x`` (n, d) to ``q = target.diffused(alpha_bar)`` (default
    ``alpha_bar = 1``: the target itself)."""
    target = resolve_target(target)
    q = target if alpha_bar is None else target.diffused(alpha_bar)
    x = _as_samples(x, target.d)
    n, d = x.shape
    batches = _checks.integer("batches", batches, minimum=2)
    if n < 5 * batches:
        raise InvalidInput(f"x must hold at least {5 * batches} samples for standard errors over {batches} batches, got {n}")
    seed = _checks.seed(seed)
    projections = _checks.integer("projections", projections, minimum=1)
    valid = ("sliced-w2", "energy", "w1", "ks") if d == 1 else ("sliced-w2", "energy")
    if metrics is None:
        metrics = valid
    else:
        metrics = (metrics,) if isinstance(metrics, str) else metrics
        if not isinstance(metrics, (list, tuple)) or not metrics:
            raise InvalidType(f"metrics must be a name or a list of names from {', '.join(valid)}")
        for m in metrics:
            _checks.choice("metrics", m, valid)
    y = q._sample_stream(n, seed, _REF_STREAM)
    out = {}
    if "sliced-w2" in metrics:
        dirs = _directions(d, projections, seed)
        fn = lambda a, b: sliced_w2_value(a, b, dirs)  # noqa: E731
        out["sliced-w2"] = Estimate("sliced-w2", fn(x, y), _batched(fn, x, y, batches), n, f"{projections} projections")
    if "energy" in metrics:
        m = min(n, 4000)
        out["energy"] = Estimate("energy", energy_value(x[:m], y[:m]), _batched(energy_value, x[:m], y[:m], batches, rate=1.0), m,
                                 "V-statistic")
    if d == 1:
        if "w1" in metrics:
            fn = lambda a, b: w1_to_cdf(a[:, 0], q)  # noqa: E731
            out["w1"] = Estimate("w1", fn(x, y), _batched(fn, x, y, batches), n, "exact cdf")
        if "ks" in metrics:
            fn = lambda a, b: ks_to_cdf(a[:, 0], q)  # noqa: E731
            out["ks"] = Estimate("ks", fn(x, y), _batched(fn, x, y, batches), n, "exact cdf")
    return out


def ks_to_cdf(x, dist) -> float:
    """Kolmogorov–Smirnov distance between the empirical CDF of ``x`` and ``dist.cdf``."""
    xs = np.sort(np.asarray(x, dtype=np.float64))
    n = xs.size
    F = dist.cdf(xs)
    return float(max(np.max(np.arange(1, n + 1) / n - F), np.max(F - np.arange(n) / n)))


def w1_to_cdf(x, dist, points: int = 20001) -> float:
    """``W1 = integral |F_n - F|``: exact steps of ``F_n`` merged with a fine grid for ``F``."""
    xs = np.sort(np.asarray(x, dtype=np.float64))
    n = xs.size
    sd = math.sqrt(float(dist.covariance()[0, 0]))
    mu = float(dist.mean()[0])
    lo, hi = min(xs[0], mu - 12 * sd), max(xs[-1], mu + 12 * sd)
    grid = np.union1d(np.linspace(lo, hi, points), xs)
    Fn = np.searchsorted(xs, grid, side="right") / n
    # F_n is constant on [grid_i, grid_{i+1}); F is smooth there: trapezoid on |F_n(left) - F|
    left = np.abs(Fn[:-1] - dist.cdf(grid[:-1]))
    right = np.abs(Fn[:-1] - dist.cdf(grid[1:]))
    return float(np.sum(0.5 * (left + right) * np.diff(grid)))


# ------------------------------------------------------------------------------- registry
def _compute(req, names):
    from ..run import sample

    res = sample(req.target, req.sampler, req.schedule, n=req.n or 20_000, seed=req.seed, init=req.init,
                 score=req.score, backend=req.backend)
    out = sample_metrics(res.x, req.target, alpha_bar=req.schedule.alpha_bar[1], seed=req.seed, metrics=tuple(names))
    for est in out.values():
        est.backend = res.backend
    return out


def _memory(n, target, backend):
    from ..run import _memory_for_samples

    _memory_for_samples(2 * n, target.d, target.K, backend)   # the samples and as many exact draws


_COMMON = dict(compute=_compute, default_n=20_000, min_n=50, memory=_memory)
SLICED_W2 = registry._builtin(registry.Metric(
    "sliced-w2", "sliced 2-Wasserstein distance of samples to exact draws of q_1 (any d)", rank=20,
    default_for=lambda kind, d: kind == "sde" and d > 3, how="128 random projections; 10 batches for the error",
    **_COMMON))
ENERGY = registry._builtin(registry.Metric(
    "energy", "energy distance of samples to exact draws of q_1 (any d)", rank=21,
    how="V-statistic on 4000 points; 10 batches", **_COMMON))
W1 = registry._builtin(registry.Metric("w1", "Wasserstein-1 distance of samples to the exact CDF (1-D)", max_d=1,
                                       rank=22, how="against the exact mixture CDF", **_COMMON))
KS = registry._builtin(registry.Metric("ks", "Kolmogorov-Smirnov distance of samples to the exact CDF (1-D)", max_d=1,
                                       rank=23, how="against the exact mixture CDF", **_COMMON))
