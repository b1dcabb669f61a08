"""Running a sampler: ``accnum.sample`` and the integration loop it shares with the metrics.

Iterations run ``t = T, ..., to + 1`` and return ``Y_to`` (docs/math/index.md#conventions: ``to = 1`` is the
theory's convention, compared with ``q_1``; ``to = 0`` runs the last step too).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import _checks, _memory, kernels
from . import noise as _noise
from .samplers import get as get_sampler
from .schedules import Schedule
from .score import ExactScore, ScoreModel
from .targets import resolve as resolve_target
from .errors import InvalidInput, InvalidType, MissingCapability, NumericalFailure, UntraceableStep

BACKENDS = kernels.BACKENDS


@dataclass
class SampleResult:
    """Samples ``x`` (n, d) and what produced them.  With ``path=True``, also the trajectory:
    ``path`` (T - to + 1, n, d), the points before the first step (``Y_T``) and after every
    step, with each row's step index ``t`` (``Y_t``), noise level ``abar`` and
    ``sigma = sqrt(1 - abar)``."""

    x: np.ndarray
    sampler: str
    schedule: str
    T: int
    nfe: int
    seed: int
    backend: str
    to: int
    meta: dict = field(default_factory=dict)
    path: np.ndarray | None = None
    t: np.ndarray | None = None
    abar: np.ndarray | None = None
    sigma: np.ndarray | None = None

    _FIELDS = ("sampler", "schedule", "T", "nfe", "seed", "backend", "to")

    def save(self, file) -> None:
        """Write an ``.npz`` with ``x``, the trajectory arrays (when kept) and what produced
        them; :meth:`load` reads it back (``accnum sample --path`` writes this file)."""
        arrays = {"x": self.x, **{k: np.asarray(getattr(self, k)) for k in self._FIELDS}}
        if self.path is not None:
            arrays.update(path=self.path, t=self.t, abar=self.abar, sigma=self.sigma)
        np.savez(file, **arrays)

    @classmethod
    def load(cls, file) -> SampleResult:
        """The :class:`SampleResult` saved by :meth:`save` (an ``.npz`` of ``accnum sample
        --path``), e.g. for :func:`accnum.plot.trajectories`."""
        try:
            with np.load(file, allow_pickle=False) as z:
                data = {k: z[k] for k in z.files}
        except (OSError, ValueError) as err:
            raise InvalidInput(f"cannot read samples from {file!r}: {err}") from None
        missing = [k for k in ("x", *cls._FIELDS) if k not in data]
        if missing:
            raise InvalidInput(f"{file!r} is not a file written by accnum sample --path (missing {', '.join(missing)})")
        meta = {k: data[k].item() for k in cls._FIELDS}
        meta = {k: (int(v) if k in ("T", "nfe", "seed", "to") else str(v)) for k, v in meta.items()}
        extra = {k: data.get(k) for k in ("path", "t", "abar", "sigma")}
        return cls(x=data["x"], **meta, **extra)


def integrate(sampler, model, sched: Schedule, y, to: int = 1, noise_at=None, progress=None, record=None):
    """Run ``sampler`` from ``Y_T = y`` down to ``Y_to``.

    ``noise_at(t)`` returns the list of standard-normal arrays step ``t`` uses (required
    when the sampler draws any).  ``y`` may be an array or a Tangent.  ``record(y)``, when
    given, is called with the points before the first step and after every step.
    """
    state = sampler.initial_state()
    k = sampler.facts.normals
    steps = range(sched.T, to, -1)
    if progress is not None:
        steps = progress(steps)
    if record is not None:
        record(y)
    for t in steps:
        z = noise_at(t) if k else []
        y, state = sampler.checked_step(t, y, z, model, sched, state)
        if record is not None:
            record(y)
    return y


def initial_points(target, sched: Schedule, n: int, seed: int, init="gaussian") -> np.ndarray:
    """``Y_T``: ``"gaussian"`` draws N(0, I) (the theory's start), ``"exact"`` draws q_T;
    an ``(n, d)`` array is used as given.  Draws use stream ``step = 0``."""
    if isinstance(init, str):
        _checks.choice("init", init, ("gaussian", "exact"))
        if init == "gaussian":
            return _noise.normals(seed, 0, 0, n, target.d)
        return target.diffused(sched.alpha_bar[sched.T])._sample_stream(n, seed, 0)
    arr = _checks.as_float_array("init", init, ndim=(2,))
    if arr.shape != (n, target.d):
        raise InvalidInput(f"init must have shape ({n}, {target.d}), got {arr.shape}")
    return _checks.finite("init", arr.copy())


def _check_noise(noise, sampler, sched, n, d) -> np.ndarray:
    arr = _checks.finite("noise", _checks.as_float_array("noise", noise, ndim=(4,)))
    want = (sched.T + 1, sampler.facts.normals, n, d)
    if arr.shape != want:
        raise InvalidInput(f"noise must have shape (T+1, k, n, d) = {want} for {sampler.name}, got {arr.shape}")
    return arr


def _backend_for(backend, model, noise, trace=None) -> str:
    """The backend that runs (see :func:`accnum.kernels.resolve_backend`).  The kernels draw
    their own noise, need a score model with a compiled form and a step they can trace
    (``trace()`` traces it, raising :class:`~accnum.errors.UntraceableStep`): ``auto`` runs
    what they cannot take on ``numpy``; an explicit ``cpu``/``cuda`` refuses it in one line."""
    _checks.choice("backend", backend, BACKENDS)
    if backend == "auto" and noise is not None:
        return "numpy"
    explicit = backend in ("cpu", "cuda")
    problem = model.compiled_problem()
    backend = kernels.resolve_backend(backend, problem is None)
    if backend in ("cpu", "cuda"):
        if noise is not None:
            raise InvalidInput(f"noise arrays run on backend 'numpy' only (backend {backend!r} draws its own noise)")
        if problem is not None:
            raise MissingCapability(f"{problem}: run it with backend='numpy' (--backend numpy), which backend='auto' "
                                    "picks for it")
        if trace is not None:
            try:
                trace()
            except UntraceableStep:
                if explicit:
                    raise
                return "numpy"
    return backend


def resolve_score(score, target) -> ScoreModel:
    """``score`` checked against ``target`` (None: the target's exact score)."""
    if score is None:
        return ExactScore(target)
    if not isinstance(score, ScoreModel):
        raise InvalidType(f"score must be a ScoreModel (e.g. accnum.ExactScore(target)), got {type(score).__name__}")
    d = score.dimension
    if d is not None and d != target.d:
        raise InvalidInput(f"score is a score model for d = {d}, but the target has d = {target.d}")
    return score


def _memory_for_samples(n: int, d: int, K: int, backend: str) -> None:
    """Refuse ``n`` samples that cannot fit: the kernels hold the points and a few per-sample
    numbers; the NumPy reference also (n, K, d) temporaries of the score."""
    per_sample = 8.0 * (4 * d + 4) if backend in ("cpu", "cuda") else 8.0 * (8 * K * d + 8 * d)
    _memory.require(n * per_sample, f"{n} samples in {d} dimensions on backend {backend!r}", f"n = {n}")


def sample(target, sampler, schedule: Schedule, n: int | None = None, seed: int = 0, init=None,
           noise=None, backend: str = "auto", to: int = 1, score: ScoreModel | None = None,
           progress=None, path: bool = False) -> SampleResult:
    """Draw ``n`` samples of ``Y_to`` with ``sampler`` on ``schedule``.

    ``target`` is a :class:`~accnum.GaussianMixture`, a built-in name or a JSON path;
    ``score`` defaults to the target's exact score.  ``init`` is ``None``/``"gaussian"``
    (N(0, I)), ``"exact"`` (q_T) or an ``(n, d)`` array.  ``noise`` of shape
    ``(T+1, k, n, d)`` replaces the generated normals (``noise[t, j]`` at step ``t``);
    otherwise they are a pure function of ``(seed, sample index, step, slot)``.

    ``backend``: ``"numpy"`` (the readable reference), ``"cpu"`` (Numba kernels),
    ``"cuda"`` (numba-cuda; a GPU or the simulator) or ``"auto"`` (cuda on a GPU, else
    cpu; numpy for what the kernels cannot take).  All draw the same noise and agree to
    ``max(1e-12, 8 T eps)`` relative.  ``path=True`` also returns every step's points
    (:class:`SampleResult`; memory ``(T + 1) n d`` numbers, only when asked).
    """
    target = resolve_target(target)
    sampler = get_sampler(sampler)
    schedule = _checks.schedule(schedule)
    seed = _checks.seed(seed)
    _checks.choice("backend", backend, BACKENDS)
    to = _checks.integer("to", to, minimum=0)
    if to > 1:
        raise InvalidInput(f"to must be 0 or 1, got {to}")
    if n is None:
        if isinstance(init, np.ndarray) and init.ndim == 2:
            n = init.shape[0]
        elif noise is not None and np.ndim(noise) == 4:
            n = np.shape(noise)[2]
        else:
            n = 10_000
    n = _checks.integer("n", n, minimum=1)
    model = resolve_score(score, target)
    backend = _backend_for(backend, model, noise, lambda: kernels.trace(sampler, schedule, to))
    _memory_for_samples(n, target.d, target.K, backend)
    if not isinstance(path, bool):
        raise InvalidType(f"path must be True or False, got {type(path).__name__}")
    if path:
        rows = schedule.T - to + 1
        _memory.require(8.0 * rows * n * target.d, f"the trajectory of {n} samples over {rows} points",
                        f"n = {n}, T = {schedule.T}")
    if noise is not None:
        arr = _check_noise(noise, sampler, schedule, n, target.d)
        noise_at = lambda t: list(arr[t])
    else:
        k = sampler.facts.normals
        noise_at = lambda t: [_noise.normals(seed, t, j, n, target.d) for j in range(k)]
    init = "gaussian" if init is None else init
    calls0 = model.calls
    trajectory = None
    if backend == "numpy":
        y = initial_points(target, schedule, n, seed, init)
        recorded = [] if path else None
        with np.errstate(over="ignore", invalid="ignore"):   # overflow is reported below, in one line
            x = integrate(sampler, model, schedule, y, to, noise_at, progress,
                          recorded.append if path else None)
        if path:
            trajectory = np.stack(recorded)
    else:
        # N(0, I) starting points are drawn inside the kernel (same stream, step 0)
        y = n if isinstance(init, str) and init == "gaussian" else initial_points(target, schedule, n, seed, init)
        x, _, _, trajectory = kernels.execute(backend, target, model, sampler, schedule, y, seed, to, path=path)
    if not np.all(np.isfinite(x)):
        bad = int(np.count_nonzero(~np.all(np.isfinite(x), axis=1)))
        raise NumericalFailure(f"{sampler.name} on {schedule.describe()} produced non-finite values for {bad} of {n} "
                               f"samples with the score model {_describe(model)}: the scores or the step overflow "
                               "float64, or one of them gives NaN")
    steps = np.arange(schedule.T, to - 1, -1) if path else None
    abar = np.asarray(schedule.alpha_bar)[steps] if path else None
    return SampleResult(
        x=x, sampler=sampler.name, schedule=schedule.describe(), T=schedule.T, nfe=model.calls - calls0,
        seed=seed, backend=backend, to=to, path=trajectory, t=steps, abar=abar,
        sigma=np.sqrt(1.0 - abar) if path else None,
    )


def _describe(model) -> str:
    return model.describe()
