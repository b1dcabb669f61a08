"""Densities on grids, for pictures: the exact ``q_t`` and the law of a sampler's ``Y_t``
(docs/math/metrics.md#grid), computed by the grid metric's own routes.

- a kernel (SDE) sampler, d <= 2: the density propagated on the grid (:func:`.propagate`),
  kept at the steps asked for;
- a deterministic sampler, d = 1: the pushed grid (:func:`.pushed`): the mass between two
  neighbouring starting points stays between their images, so on the cell
  ``[y_i, y_{i+1}]`` the density is ``P_i / (y_{i+1} - y_i)``, at every step;
- a deterministic sampler, d = 2, the output ``Y_1`` only: the change of variables
  (docs/math/metrics.md#exact-tv-kl) on a grid of starting points,
  ``p(F(x)) = q_1(F(x)) / rho(x)``, its logarithm interpolated from the pushed points onto
  the grid.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ... import _checks, _memory
from ...errors import InvalidInput
from ...run import _backend_for, resolve_score
from ...samplers import KernelSampler
from ...samplers import get as get_sampler
from ...targets import resolve as resolve_target
from ..base import NonInvertibleMap
from . import _extent, _Grid, propagate, pushed

DEFAULT_G = {1: 1024, 2: 128}


@dataclass
class GridLaw:
    """Densities on a uniform grid: ``axes`` (one array per dimension), ``t`` the step index
    of each row (the law of ``Y_t`` or ``q_t``; -1 for a level off the schedule), ``abar``
    its noise level, ``p`` the density ``(len(t),) + grid shape`` (the sampler's, or q's for
    the target), ``q`` the exact ``q_t`` on the same grid, ``sampler`` (None for the
    target) and ``method``."""

    axes: tuple
    t: np.ndarray
    abar: np.ndarray
    p: np.ndarray
    q: np.ndarray
    sampler: str | None
    method: str

    @property
    def d(self) -> int:
        return len(self.axes)


def _grid_for(target, d, G, lo=None, hi=None):
    if lo is None:
        lo, hi = _extent(target, None, d, "gaussian")
    return _Grid(np.asarray(lo, dtype=float), np.asarray(hi, dtype=float), G)


def _G(G, d):
    G = DEFAULT_G[d] if G is None else _checks.integer("G", G, minimum=16)
    _memory.require(8.0 * 40 * float(G) ** d, f"a grid of {G}^{d} cells", f"G = {G}")
    return G


def _q_rows(target, grid, abars):
    return np.stack([target.diffused(float(a)).pdf(grid.points).reshape(grid.shape) for a in abars])


def target_law(target, abars, G: int | None = None, t=None) -> GridLaw:
    """The exact ``q`` at each noise level of ``abars`` (in (0, 1]) on a grid of ``G`` points
    per axis (defaults 1024 in 1-D, 128 in 2-D) over the grid metric's extent; ``t`` labels
    the rows with step indices."""
    tg = resolve_target(target)
    if tg.d > 2:
        raise InvalidInput(f"densities are drawn on grids in d <= 2; the target has d = {tg.d}")
    a = _checks.finite("abars", _checks.as_float_array("abars", abars, ndim=(0, 1))).reshape(-1)
    if a.size < 1 or np.any(a <= 0) or np.any(a > 1):
        raise InvalidInput("abars must hold noise levels in (0, 1]")
    steps = np.full(a.size, -1) if t is None else np.asarray(t, dtype=int).reshape(-1)
    if steps.size != a.size:
        raise InvalidInput(f"t must label every level: {a.size} levels, {steps.size} labels")
    G = _G(G, tg.d)
    grid = _grid_for(tg, tg.d, G)
    q = _q_rows(tg, grid, a)
    return GridLaw(tuple(grid.axes), steps, a, q, q, None, "exact mixture density")


def _steps(sched, steps, d, ode):
    if steps is None:
        return list(range(sched.T, 0, -1)) if d == 1 else [1]
    if isinstance(steps, (int, np.integer)):
        steps = [steps]
    out = sorted({_checks.integer("steps", s, minimum=1) for s in steps}, reverse=True)
    if not out:
        raise InvalidInput("steps must name at least one step")
    if out[0] > sched.T:
        raise InvalidInput(f"steps must lie in 1..T = {sched.T}, got {out[0]}")
    if ode and d == 2 and out != [1]:
        raise InvalidInput("the law of a deterministic sampler in 2-D is drawn for its output Y_1 only (steps=1)")
    return out


def sampler_law(target, sampler, schedule, G: int | None = None, init: str = "gaussian", steps=None, score=None,
                backend: str = "auto") -> GridLaw:
    """The law of ``sampler``'s ``Y_t`` for each ``t`` in ``steps`` (default every step in
    1-D, ``Y_1`` in 2-D) on a grid (see the module doc), with the exact ``q_t`` beside it."""
    tg = resolve_target(target)
    s = get_sampler(sampler)
    sched = _checks.schedule(schedule)
    _checks.choice("init", init, ("gaussian", "exact"))
    model = resolve_score(score, tg)
    d, ode = tg.d, s.facts.kind == "ode"
    if d > 2:
        raise InvalidInput(f"densities are drawn on grids in d <= 2; the target has d = {d}")
    if not ode and not isinstance(s, KernelSampler):
        raise InvalidInput(f"the law of a stochastic sampler is propagated through its Gaussian one-step kernel; "
                           f"{s.name} has none")
    want = _steps(sched, steps, d, ode)
    G = _G(G, d)
    if ode and d == 1:
        return _ode_1d(tg, s, sched, G, init, model, want)
    if ode:
        return _ode_2d(tg, s, sched, G, init, model, backend)
    from ...kernels.points import batch_model
    from ...kernels.program import trace_mean_maps
    from ...score import require_deterministic
    from ..base import require_tangents

    require_deterministic(model, "grid-tv")
    require_tangents("grid-tv", s, sched, model, mean_maps=True)
    backend = _backend_for(backend, model, None, lambda: trace_mean_maps(s, sched))
    compiled = (backend, tg, model) if backend != "numpy" and model.has_jacobian else None
    kept = {}
    grid, _ = propagate(tg, s, sched, G, init, batch_model(model, d, backend), compiled,
                        on_step=lambda t, p: kept.__setitem__(t, p.copy()) if t in want else None)
    abar = np.array([sched.alpha_bar[t] for t in want])
    return GridLaw(tuple(grid.axes), np.array(want), abar, np.stack([kept[t] for t in want]),
                   _q_rows(tg, grid, abar), s.name, f"grid propagation, {G}^{d} points")


def _ode_1d(tg, s, sched, G, init, model, want):
    rows = []
    x, cdf_pi, _ = pushed(tg, s, sched, 4 * G + 1, init, model, record=lambda y: rows.append(np.array(y)[:, 0]))
    mass = np.diff(cdf_pi)
    grid = _grid_for(tg, 1, G)
    out = []
    for t in want:
        y = rows[sched.T - t]                      # rows: Y_T, then after each step
        width = np.diff(y)
        if np.any(width <= 0):
            raise NonInvertibleMap(f"{s.name} on {sched.describe()}: the map is not increasing on the grid at step "
                                   f"{t}; its law has no density there")
        mid = 0.5 * (y[1:] + y[:-1])
        out.append(np.interp(grid.axes[0], mid, mass / width, left=0.0, right=0.0))
    abar = np.array([sched.alpha_bar[t] for t in want])
    return GridLaw(tuple(grid.axes), np.array(want), abar, np.stack(out), _q_rows(tg, grid, abar), s.name,
                   f"pushed grid, {4 * G + 1} points")


def _ode_2d(tg, s, sched, G, init, model, backend):
    from scipy.interpolate import griddata

    from ...run import sample
    from ..exact import log_rho

    if init == "gaussian":
        lo, hi = np.full(2, -6.0), np.full(2, 6.0)
    else:
        qT = tg.diffused(sched.alpha_bar[sched.T])
        sd = np.sqrt(np.max(qT._var if qT._var is not None else np.einsum("kii->ki", qT.covariances), axis=0))
        lo, hi = np.min(qT.means, axis=0) - 6 * sd, np.max(qT.means, axis=0) + 6 * sd
    start = _Grid(lo, hi, 2 * G)
    lr = log_rho(tg, s, sched, start.points, init, score=model, backend=backend)
    y = sample(tg, s, sched, n=start.points.shape[0], init=start.points.copy(), score=model, backend=backend).x
    q1 = tg.diffused(sched.alpha_bar[1])
    log_dens = q1.logpdf(y) - lr
    grid = _grid_for(tg, 2, G)
    # the log-density is nearly quadratic near a mode: interpolated linearly, it keeps the
    # peaks' mass far better than the density itself would
    p = np.exp(griddata(y, log_dens, grid.points, method="linear", fill_value=-np.inf)).reshape(grid.shape)
    abar = np.array([sched.alpha_bar[1]])
    return GridLaw(tuple(grid.axes), np.array([1]), abar, p[None], _q_rows(tg, grid, abar), s.name,
                   f"change of variables on {2 * G}^2 starting points, interpolated")


__all__ = ["GridLaw", "sampler_law", "target_law"]
