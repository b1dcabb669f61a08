"""Marginal TV on a grid (docs/math/metrics.md#grid), independent of the change-of-variables machinery.

Deterministic samplers, 1-D: a fine grid of starting points is pushed through the map;
the mass between neighbouring points is known under ``pi_T`` (its CDF) and under ``q_1``
(the exact mixture CDF at the pushed points), and TV of the two partitions converges to
TV from below as the grid refines.

Stochastic (kernel) samplers, 1-D and 2-D: the density is kept as point values on a
uniform grid.  A step ``Y_{t-1} = m(Y_t + sqrt(v0) Z) + sqrt(v1) Z'`` is split exactly
into a Gaussian convolution (FFT, exact for any variance, however small), the
push-forward by the mean map ``m`` (semi-Lagrangian: ``p(m^{-1}(y)) / |det Dm|``, with
``m^{-1}`` by Newton's method on the exact Jacobian and ``p`` interpolated by cubic
splines) and a second convolution.  The map must be invertible on the grid; otherwise
the step is reported.

Stochastic samplers with a state-dependent covariance (:class:`~accnum.samplers.GaussianStepSampler`,
1-D): ``p'(y) = int p(x) N(y; m(x), sigma(x)^2) dx`` at each grid point ``y`` by
Gauss–Hermite quadrature in ``x`` centred on the preimage ``m^{-1}(y)`` (Newton) with the
kernel's width in source space, ``sigma / m'`` (docs/math/metrics.md#grid-full-covariance).

Both report a grid-refinement check: the same computation on a grid half as fine, and
``|fine - coarse|`` as the standard error (a conservative estimate of the fine grid's).
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import ndtr

from ... import _checks, _memory
from ...kernels.points import batch_model
from ...kernels.program import trace, trace_mean_maps
from ...run import _backend_for, integrate, resolve_score
from ...score import require_deterministic, require_jacobian
from ...samplers import GaussianStepSampler, KernelSampler
from ...samplers import get as get_sampler
from ...tangent import Tangent
from ...targets import resolve as resolve_target
from .. import registry
from ..base import Estimate, NonInvertibleMap, require_tangents
from . import newton
from ...errors import InvalidInput

def _extent(target, sched, d, init):
    lo, hi = np.full(d, -8.0), np.full(d, 8.0)
    sd = np.sqrt(np.einsum("kii->ki", target.covariance_matrices()))
    lo = np.minimum(lo, np.min(target.means - 8 * sd, axis=0))
    hi = np.maximum(hi, np.max(target.means + 8 * sd, axis=0))
    return lo, hi


# ----------------------------------------------------------------- deterministic, 1-D
def pushed(target, sampler, sched, G, init, model, record=None):
    """A deterministic sampler's map on ``G`` starting points (1-D): ``(x, cdf_pi, y)``, the
    points, the CDF of ``pi_T`` at them and their images ``y = F(x)``; ``record(y)`` sees the
    points before the first step and after every step."""
    lo, hi = _extent(target, sched, 1, init)
    x = np.linspace(lo[0], hi[0], G)
    if init == "gaussian":
        cdf_pi = ndtr(x)
    else:
        cdf_pi = target.diffused(sched.alpha_bar[sched.T]).cdf(x)
    y = integrate(sampler, model, sched, x[:, None].copy(), 1, record=record)[:, 0]
    return x, cdf_pi, y


def _pushed_tv(target, sampler, sched, G, init, model):
    x, cdf_pi, y = pushed(target, sampler, sched, G, init, model)
    if np.any(np.diff(y) <= 0):
        raise NonInvertibleMap(f"{sampler.name} on {sched.describe()}: the map is not increasing on the grid; grid TV undefined")
    cdf_q = target.diffused(sched.alpha_bar[1]).cdf(y)

    def tv_of(idx):
        p = np.diff(np.concatenate([[0.0], cdf_pi[idx], [1.0]]))
        q = np.diff(np.concatenate([[0.0], cdf_q[idx], [1.0]]))
        return 0.5 * float(np.sum(np.abs(p - q)))

    return tv_of(np.arange(G)), tv_of(np.arange(0, G, 2))



# ------------------------------------------------------------- stochastic, 1-D / 2-D
def _gauss_convolve(p, delta, var):
    """Convolution with N(0, var I) by FFT (zero-padded: no wrap-around)."""
    if var <= 0:
        return p
    shape = p.shape
    big = np.zeros([2 * s_ for s_ in shape])
    big[tuple(slice(0, s_) for s_ in shape)] = p
    f = np.fft.rfftn(big)
    mult = np.ones(1)
    for k, n_ in enumerate(big.shape):
        freq = np.fft.rfftfreq(n_, delta[k]) if k == len(shape) - 1 else np.fft.fftfreq(n_, delta[k])
        g = np.exp(-2.0 * (math.pi * freq) ** 2 * var)
        mult = np.multiply.outer(mult, g) if k else g
    out = np.fft.irfftn(f * mult, s=big.shape, axes=tuple(range(big.ndim)))
    # circular convolution with the Gaussian centred at index 0; with 2x zero padding the
    # wrapped-around part comes from offsets beyond the whole grid, where the kernel is nil
    return np.maximum(out[tuple(slice(0, s_) for s_ in shape)], 0.0)


def _push_forward(p, grid, sampler, t, sched, model, x):
    """Density of ``m(U)`` at the grid points given the density ``p`` of ``U``: the preimages
    by damped Newton from ``x`` (:func:`.newton.solve`)."""
    solved = newton.solve(sampler, t, sched, model, grid.points, x)
    if solved is None:
        raise _not_converged(sampler, t)
    return _resample(p, grid, *solved, sampler, t)


def _not_converged(sampler, t):
    return NonInvertibleMap(f"{sampler.name}: step t = {t}: the mean map could not be inverted on the grid "
                            "(Newton did not converge); grid TV is undefined here, try a larger T")


class _Preimages:
    """Compiled push-forward: the preimages ``m_t^{-1}`` of the grid points for a run of
    steps per kernel call (each point stops at its own tolerance, and each step's solve
    starts from the previous step's solution), handed out a step at a time."""

    POINT_STEPS = 1 << 20   # grid points x steps solved per call

    def __init__(self, compiled, sampler, sched, grid):
        self.backend, self.target, self.model = compiled
        self.sampler, self.sched, self.y = sampler, sched, grid.points
        self.tol = newton.newton_tol(grid.points)
        self.x = None
        self.t_hi = self.t_lo = 0

    def __call__(self, p, grid, t, x0):
        """The pushed density at step ``t``; ``x0`` starts a new run of solves there (None:
        continue from the previous step's preimages)."""
        if x0 is not None or not self.t_lo <= t <= self.t_hi:
            start = x0 if x0 is not None else self.x[-1]
            self.t_hi, self.t_lo = t, max(2, t - max(1, self.POINT_STEPS // len(self.y)) + 1)
            self.x, self.det, self.its = newton.solve_compiled(
                self.backend, self.target, self.model, self.sampler, self.sched, self.t_hi, self.t_lo, self.y, start,
                self.tol)
        r = self.t_hi - t
        if np.any(self.its[r] < 0):
            raise _not_converged(self.sampler, t)
        return _resample(p, grid, self.x[r], self.det[r], self.sampler, t)


def _resample(p, grid, x, det, sampler, t):
    """``p(x) / det Dm(x)``: the pushed density at the grid points whose preimages are ``x``."""
    from scipy.ndimage import map_coordinates

    if np.any(det <= 0):
        raise NonInvertibleMap(f"{sampler.name}: step t = {t}: the mean map is not invertible "
                               "(Jacobian determinant <= 0); grid TV is undefined here, try a larger T")
    coords = ((x - grid.lo) / grid.delta).T.reshape((len(grid.lo),) + p.shape)
    vals = map_coordinates(p, coords, order=3, mode="constant", cval=0.0)
    return np.maximum(vals, 0.0) / det.reshape(p.shape)


def _full_cov_step(p, grid, sampler, t, sched, model, x0, nodes: int = 24):
    """One step of a 1-D :class:`GaussianStepSampler`: ``p'(y) = int p(x) N(y; m(x), sigma(x)^2) dx``
    by Gauss–Hermite in ``x = x*(y) + w(y) xi``, ``x* = m^{-1}(y)``, ``w = sigma(x*) / m'(x*)``;
    ``p`` between grid points by cubic splines (zero outside the grid)."""
    from numpy.polynomial.hermite_e import hermegauss
    from scipy.ndimage import map_coordinates

    solved = newton.solve(sampler, t, sched, model, grid.points, x0)
    if solved is None:
        raise _not_converged(sampler, t)
    xs, det = solved
    if np.any(det <= 0):
        raise NonInvertibleMap(f"{sampler.name}: step t = {t}: the mean map is not invertible "
                               "(Jacobian determinant <= 0); grid TV is undefined here, try a larger T")
    _, L = sampler.moments(t, xs, model, sched)
    width = np.abs(L[:, 0, 0]) / det                                       # the kernel's width in source space
    xi, w = hermegauss(nodes)
    w = w / math.sqrt(2 * math.pi)
    X = xs[:, 0][:, None] + width[:, None] * xi[None, :]            # (G, nodes)
    mean, LX = sampler.moments(t, X.reshape(-1, 1), model, sched)
    mean, sd = mean[:, 0].reshape(X.shape), np.abs(LX[:, 0, 0]).reshape(X.shape)
    pX = np.maximum(map_coordinates(p, ((X.ravel() - grid.lo[0]) / grid.delta[0])[None], order=3, mode="constant",
                                    cval=0.0), 0.0).reshape(X.shape)
    y = grid.points[:, 0][:, None]
    log_k = -0.5 * ((y - mean) / sd) ** 2 - np.log(sd) + 0.5 * xi[None, :] ** 2   # N(y; m, sd^2) / phi(xi), 2 pi cancels
    return np.sum(w[None, :] * pX * np.exp(log_k), axis=1) * width


def _quadrature_step(p, grid, sampler, t, sched, model, v1):
    """``p'(y) = int p(x) N(y; m(x), v1 I) dx`` by the trapezoid rule over the grid points;
    the Gaussian factorises over axes, so 2-D costs two (S, G) matrices."""
    m = sampler.checked_mean_map(t, grid.points, model, sched)
    w = p.ravel() * grid.weights()
    mats = [np.exp(-0.5 * (grid.axes[k][None, :] - m[:, k][:, None]) ** 2 / v1) / math.sqrt(2 * math.pi * v1)
            for k in range(m.shape[1])]
    if len(mats) == 1:
        return w @ mats[0]
    return mats[0].T @ (w[:, None] * mats[1])


class _Grid:
    def __init__(self, lo, hi, G):
        self.lo, self.hi, self.G = lo, hi, G
        self.delta = (hi - lo) / (G - 1)
        self.axes = axes = [np.linspace(lo[k], hi[k], G) for k in range(len(lo))]
        mesh = np.meshgrid(*axes, indexing="ij")
        self.shape = (G,) * len(lo)
        self.points = np.stack([m.ravel() for m in mesh], axis=1)   # (G^d, d)

    def weights(self):
        """Trapezoid weights of the grid points, flattened."""
        w = np.ones(self.G)
        w[[0, -1]] = 0.5
        out = np.ones(1)
        for k in range(len(self.lo)):
            out = np.multiply.outer(out, w * self.delta[k]) if k else w * self.delta[k]
        return out.ravel()

    def integrate(self, f):
        """Trapezoid rule of point values ``f`` of shape ``self.shape``."""
        w = np.ones(self.G)
        w[[0, -1]] = 0.5
        out = f
        for k in range(len(self.lo)):
            out = np.tensordot(w, out, axes=([0], [0])) * self.delta[k]
        return float(out)


def _propagate_tv(target, sampler, sched, G, init, model, compiled=None):
    grid, p = propagate(target, sampler, sched, G, init, model, compiled)
    q1 = target.diffused(sched.alpha_bar[1]).pdf(grid.points).reshape(grid.shape)
    mass = grid.integrate(p)
    return 0.5 * grid.integrate(np.abs(p - q1)) + 0.5 * abs(1.0 - mass), 1.0 - mass


def propagate(target, sampler, sched, G, init, model, compiled=None, on_step=None):
    """The density of a kernel sampler's ``Y_1`` as point values on a ``G^d`` grid (see the
    module doc): ``(grid, p)``.  ``on_step(t, p)``, when given, sees the density of ``Y_T``
    (``t = T``) and then of ``Y_{t-1}`` after every step ``t``."""
    d = target.d
    lo, hi = _extent(target, sched, d, init)
    grid = _Grid(lo, hi, G)
    if init == "gaussian":
        p = np.exp(-0.5 * np.sum(grid.points**2, axis=1)) / (2 * math.pi) ** (d / 2)
    else:
        p = target.diffused(sched.alpha_bar[sched.T]).pdf(grid.points)
    p = p.reshape(grid.shape)
    if on_step is not None:
        on_step(sched.T, p)
    push = _Preimages(compiled, sampler, sched, grid) if compiled is not None else None
    restart = True   # compiled: start the Newton solves afresh (first step, or after a failed one)
    for t in range(sched.T, 1, -1):
        if isinstance(sampler, GaussianStepSampler):
            p = _full_cov_step(p, grid, sampler, t, sched, model, math.sqrt(sched.alpha[t]) * grid.points)
            continue
        v0, v1 = sampler.kernel(t, sched)
        p = _gauss_convolve(p, grid.delta, v0)
        x0 = math.sqrt(sched.alpha[t]) * grid.points if push is None or restart else None
        try:
            if push is not None:
                p = push(p, grid, t, x0)
                restart = False
            else:
                p = _push_forward(p, grid, sampler, t, sched, model, x0)
            p = _gauss_convolve(p, grid.delta, v1)
        except NonInvertibleMap:
            restart = True
            # a folding mean map: integrate over the source points instead; the trapezoid rule
            # is accurate (relative error ~ 2 exp(-2 pi^2 w^2 / delta^2) < 1e-5) while the
            # kernel's width in source space, w = sd / max |Dm|, is at least 0.8 cells
            jac = sampler.checked_mean_map(t, Tangent.identity(grid.points), model, sched).jac
            width = math.sqrt(v1) / float(np.max(np.linalg.norm(jac, ord=2, axis=(1, 2))))
            if width < 0.8 * float(np.max(grid.delta)):
                raise NonInvertibleMap(
                    f"{sampler.name}: step t = {t}: the mean map folds over and its kernel (width {width:.3g} in source "
                    f"space) is narrower than 0.8 grid cells ({float(np.max(grid.delta)):.3g}); use a finer grid (larger G)"
                ) from None
            p = _quadrature_step(p, grid, sampler, t, sched, model, v1)
        if on_step is not None:
            on_step(t - 1, p)
    return grid, p


def grid_tv(target, sampler, schedule, G: int | None = None, init: str = "gaussian", score=None,
            backend: str = "auto") -> Estimate:
    """Marginal ``TV(p_{Y_1}, q_1)`` on a grid with a refinement check (see the module doc).

    ``G`` is the number of grid points (deterministic, 1-D; default 40001) or cells per
    axis (stochastic; defaults 2048 in 1-D, 128 in 2-D).  On the ``cpu``/``cuda``
    backends the score evaluations on the grid run in compiled kernels.
    """
    target = resolve_target(target)
    sampler = get_sampler(sampler)
    schedule = _checks.schedule(schedule)
    _checks.choice("init", init, ("gaussian", "exact"))
    model = resolve_score(score, target)
    d = target.d
    if isinstance(sampler, GaussianStepSampler):
        if d != 1:
            raise InvalidInput(f"grid-tv for {sampler.name} (a state-dependent one-step covariance) is one-dimensional; "
                               f"this target has d = {d}")
        require_deterministic(model, "grid-tv")
        require_jacobian(model, "grid-tv", f"{sampler.name}'s one-step covariance is made from it")
        backend = _backend_for(backend, model, None, lambda: trace(sampler, schedule))
    elif sampler.facts.kind == "sde" and isinstance(sampler, KernelSampler) and d <= 2:
        require_deterministic(model, "grid-tv")
        require_tangents("grid-tv", sampler, schedule, model, mean_maps=True)
        backend = _backend_for(backend, model, None, lambda: trace_mean_maps(sampler, schedule))
    else:
        backend = _backend_for(backend, model, None)
    compiled = (backend, target, model) if backend != "numpy" and model.has_jacobian else None
    if isinstance(sampler, GaussianStepSampler):
        compiled = None
    model = batch_model(model, target.d, backend)
    if sampler.facts.kind == "ode" and d != 1:    # the dimension before the memory: no G makes it fit
        raise InvalidInput(f"grid-tv for deterministic samplers is one-dimensional; this target has d = {d} "
                           "(use the exact tv metric)")
    if d > 2:
        raise InvalidInput(f"grid-tv needs d <= 2 (the grid has G^d cells); this target has d = {d}")
    if G is not None:
        G = _checks.integer("G", G, minimum=10)
        # the density, its FFT-padded copies (2^d larger, complex) and the preimages: ~ 40 numbers a cell
        _memory.require(8.0 * 40 * float(G) ** d, f"a grid of {G}^{d} cells", f"G = {G}")
    if sampler.facts.kind == "ode":
        if d != 1:
            raise InvalidInput(f"grid-tv for deterministic samplers is one-dimensional; this target has d = {d} "
                             "(use the exact tv metric)")
        G = _checks.integer("G", 40001 if G is None else G, minimum=11)
        fine, coarse = _pushed_tv(target, sampler, schedule, G, init, model)
        method = f"pushed grid, {G} points"
        extra = {"coarse": coarse}
    else:
        if d > 2:
            raise InvalidInput(f"grid-tv needs d <= 2 (the grid has G^d cells); this target has d = {d}")
        if not isinstance(sampler, (KernelSampler, GaussianStepSampler)):
            raise InvalidInput(f"grid-tv needs a Gaussian one-step kernel; {sampler.name} has none")
        G = _checks.integer("G", (2048 if d == 1 else 128) if G is None else G, minimum=10)
        fine, lost = _propagate_tv(target, sampler, schedule, G, init, model, compiled)
        coarse, _ = _propagate_tv(target, sampler, schedule, G // 2, init, model, compiled)
        method = f"grid propagation, {G}^{d} points"
        extra = {"coarse": coarse, "mass_defect": lost}
    return Estimate("grid-tv", fine, abs(fine - coarse), G, method, extra, backend=backend if compiled else "numpy")


# ------------------------------------------------------------------------------- registry
def _requirement(sampler, target):
    if sampler.facts.kind == "ode" and target.d != 1:
        return (f"metric 'grid-tv' for deterministic samplers is one-dimensional; the target has d = {target.d} "
                "(use the exact tv metric)")
    if isinstance(sampler, GaussianStepSampler) and target.d != 1:
        return (f"metric 'grid-tv' for {sampler.name} (a state-dependent one-step covariance) is one-dimensional; "
                f"the target has d = {target.d}")
    if sampler.facts.kind == "sde" and not isinstance(sampler, (KernelSampler, GaussianStepSampler)):
        return f"metric 'grid-tv' needs a Gaussian one-step kernel; {sampler.name} has none"
    return None


def _compute(req, names):
    return {"grid-tv": grid_tv(req.target, req.sampler, req.schedule, init=req.init, score=req.score,
                               backend=req.backend)}


GRID_TV = registry._builtin(registry.Metric(
    "grid-tv", "marginal total variation of Y_1 against q_1 on a grid (refinement error)", _compute, max_d=2,
    needs=("deterministic",), rank=3, claim=registry.claim_tv, default_for=lambda kind, d: kind == "sde" and d == 1,
    requirement=_requirement, extra={"start_floor": "tv"},
    how="deterministic samplers (1-D): a fine grid pushed through the map; stochastic (d <= 2): the density "
        "propagated on a grid (FFT convolutions, Newton push-forward of the mean map)"))
