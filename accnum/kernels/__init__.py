"""Compiled backends: ``cpu`` (Numba, parallel) and ``cuda`` (numba-cuda), one source.

    sampler.step (NumPy, the single source)  --trace-->  Program (coefficients per step)
    Program + score component (scores.py)    --------->  executor (step.py, @numba.njit)
    executor  --> cpu.py  (prange over samples)   |   cuda.py (one thread per sample)

:func:`execute` runs a program for ``n`` samples and returns ``Y_to`` and, when asked,
``log|det dY_to/dY_T|`` and the first non-invertible step of each sample.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from .. import noise as _noise
from ..score import ExactScore
from . import plug, scores
from .plug import compilable
from .program import Program, trace
from ..errors import BackendUnavailable, InvalidInput

BACKENDS = ("numpy", "cpu", "cuda", "auto")
_CUDA_HINT = 'pip install "accnum[cuda]" (numba-cuda), and run on a machine with an NVIDIA GPU or set NUMBA_ENABLE_CUDASIM=1'


def cuda_status() -> tuple[str, str]:
    """``("device", name)``, ``("simulator", why)`` or ``("none", why)`` for the cuda backend."""
    import numba

    if numba.config.ENABLE_CUDASIM:
        if not _numba_cuda_installed():   # numba's own simulator cannot type accnum's kernels
            return "none", "NUMBA_ENABLE_CUDASIM=1 is set but numba-cuda is not installed"
        return "simulator", "NUMBA_ENABLE_CUDASIM=1 (CUDA simulator, slow)"
    return _cuda_device()


def _numba_cuda_installed() -> bool:
    import importlib.util

    return importlib.util.find_spec("numba_cuda") is not None


@lru_cache(maxsize=1)
def _cuda_device() -> tuple[str, str]:
    """Asked once per process: the driver does not come and go."""
    try:
        import numba_cuda  # noqa: F401
        from numba import cuda
    except ImportError:
        return "none", "numba-cuda is not installed"
    try:
        if cuda.is_available():
            name = cuda.get_current_device().name
            return "device", name.decode() if isinstance(name, bytes) else str(name)
    except Exception as e:  # pragma: no cover - driver problems
        return "none", f"no usable CUDA driver ({e})"
    return "none", "no CUDA GPU found"


def resolve_backend(backend: str, model=None) -> str:
    """The backend that runs: ``auto`` is ``cuda`` on a GPU, else ``cpu``, else ``numpy``
    (for a score with no compiled form); an explicit ``cuda`` without one is an error."""
    if backend == "auto":
        if model is not None and not compilable(model):
            return "numpy"
        return "cuda" if cuda_status()[0] == "device" else "cpu"
    if backend == "cuda":
        state, why = cuda_status()
        if state == "none":
            hint = 'pip install "accnum[cuda]" (numba-cuda)' if "CUDASIM" in why else _CUDA_HINT
            raise BackendUnavailable(f"backend 'cuda' is not usable here: {why}; {hint}")
    return backend


@lru_cache(maxsize=None)
def _runner(score, score_jac):
    from .step import make_runner

    return make_runner(score, score_jac)


@lru_cache(maxsize=None)
def _cpu_kernel(score, score_jac):
    from .cpu import make_cpu_kernel

    return make_cpu_kernel(_runner(score, score_jac))


def _args(program: Program, comp, seed):
    lw, mean, iv, U, full = scores.mixture_tables(comp.mixture, comp.abars)
    return (program.steps, program.stages, program.stage_abar, program.stage_coef, program.out_coef,
            program.mem_coef, program.n_mem, program.n_noise, program.noise_keys(seed),
            lw, mean, iv, U, full) + tuple(comp.params)


def execute(backend: str, target, model, sampler, sched, y0, seed: int, to: int = 1, jac: bool = False):
    """Run ``sampler`` on ``backend`` (``cpu``/``cuda``) from ``y0`` (an ``(n, d)`` array, or
    the integer ``n`` to draw ``Y_T ~ N(0, I)`` from stream step 0 inside the kernel).

    Returns ``(y, logdet, bad)``: ``Y_to`` (n, d), ``log|det|`` and the first step whose
    Jacobian determinant is not positive (0 if none), the last two only with ``jac``."""
    program = trace(sampler, sched, to)
    comp = plug.component(model, target, program)
    if jac and not comp.has_jacobian:
        raise InvalidInput("the 'noise' perturbation has no Jacobian: exact deterministic metrics and path KL are "
                         "undefined under it (use a sample metric: sliced-w2, energy, w1, ks)")
    draw = isinstance(y0, (int, np.integer))
    n, d = (int(y0), target.d) if draw else y0.shape
    y = np.empty((n, d)) if draw else np.ascontiguousarray(y0, dtype=np.float64).copy()
    logdet, bad = np.zeros(n), np.zeros(n, dtype=np.int64)
    init_key = _noise.stream_key(seed, 0, 0)
    n_rows = program.n_sym + 1 + program.n_mem
    wsize = scores.workspace_size(max(target.K, comp.mixture.K), d)
    args = _args(program, comp, seed)
    if n:
        if backend == "cpu":
            _cpu_kernel(comp.score, comp.score_jac)(y, logdet, bad, 2 if jac else 0, draw, init_key, n_rows, wsize,
                                                    *args)
        elif backend == "cuda":
            from .cuda import launch

            launch(_runner(comp.score, comp.score_jac), y, logdet, bad, 2 if jac else 0, draw, init_key, n_rows, wsize,
                   args)
        else:  # pragma: no cover - callers resolve the backend first
            raise InvalidInput(f"backend {backend!r} has no kernels")
    plug.advance_counters(model, program)
    return y, logdet, bad


_MEAN_MAP_ARGS: dict = {}
_PAIR_TABLES: dict = {}


def _mean_map_args(sampler, sched, model, target):
    """Program (a row per step, :func:`~accnum.kernels.program.trace_mean_maps`), component
    and kernel arguments of a sampler's mean maps.  The grid asks twice and the path KL
    per sample size, so for the exact score (no state) they are kept, checked by identity
    (the entry holds its objects, so their ids cannot be reused)."""
    from .program import trace_mean_maps

    program = trace_mean_maps(sampler, sched)
    key = (id(program), id(model), id(target))
    hit = _MEAN_MAP_ARGS.get(key)
    if hit is not None and hit[0] is program and hit[1] is model and hit[2] is target:
        return hit[3:]
    comp = plug.component(model, target, program)
    out = (program, comp, _args(program, comp, 0))
    if type(model) is ExactScore:
        if len(_MEAN_MAP_ARGS) > 64:
            _MEAN_MAP_ARGS.clear()
        _MEAN_MAP_ARGS[key] = (program, model, target, *out)
    return out


def _map(comp, program):
    """The compiled mean map of ``program``'s rows over ``comp`` (:func:`accnum.kernels.pathkl.make_map`)."""
    from .pathkl import make_map
    from .step import make_mean_row, single_rows

    return make_map(_runner(comp.score, comp.score_jac), make_mean_row(comp.score, comp.score_jac), single_rows(program))


def _pair_tables(target, sched):
    """Per step ``t = T..2`` (row ``T - t``): ``v``-independent arrays of the exact pairs
    ``(X_{t-1}, X_t)``: ``sqrt(alpha_t)``, ``beta_t``, the log-density tables of ``q_{t-1}``
    and ``q_t`` (rows ``2r``, ``2r + 1``) and ``q_{t-1}``'s cumulative weights, means and
    covariance factors (those :meth:`GaussianMixture._sample_stream` draws with)."""
    from .program import _schedule_key

    key = (id(target), _schedule_key(sched))
    hit = _PAIR_TABLES.get(key)
    if hit is not None and hit[0] is target:
        return hit[1]
    ts = np.arange(sched.T, 1, -1)
    abars = np.stack([sched.alpha_bar[ts - 1], sched.alpha_bar[ts]], axis=1).reshape(-1)
    cw, smean, sfac = [], [], []
    for t in ts:
        q_prev = target.diffused(sched.alpha_bar[t - 1])
        cw.append(np.append(np.cumsum(q_prev.weights), q_prev.weights.sum()))
        smean.append(q_prev.means)
        sfac.append(q_prev._chol if q_prev.kind == "full"
                    else np.einsum("ki,ij->kij", np.sqrt(q_prev._var), np.eye(target.d)))
    out = (np.sqrt(sched.alpha[ts]), np.ascontiguousarray(sched.beta[ts]), scores.mixture_tables(target, abars),
           np.array(cw), np.ascontiguousarray(np.array(smean)), np.ascontiguousarray(np.array(sfac)))
    if len(_PAIR_TABLES) > 16:
        _PAIR_TABLES.clear()
    _PAIR_TABLES[key] = (target, out)
    return out


def path_log_ratios(backend: str, target, model, sampler, sched, seed: int, n: int, slot: int, pts, logw,
                    t_hi: int, t_lo: int) -> np.ndarray:
    """``log p_t(y | x) - log q(y | x)`` for ``n`` exact pairs ``(y, x) = (X_{t-1}, X_t)`` at
    each step ``t = t_hi, ..., t_lo`` (row ``t_hi - t`` of the result; the path KL's inner
    loop, SPEC §4), all in one kernel call.  The pairs are drawn inside the kernel from
    counter streams ``(seed, t, slot..slot+2)`` exactly as :func:`accnum.metrics.path_kl.path_kl`
    draws them; ``(pts, logw)`` is the Gauss–Hermite rule for steps with an intermediate point."""
    from .pathkl import make_cpu_pairs, make_pairs

    if not sched.T >= t_hi >= t_lo >= 2:
        raise InvalidInput(f"steps must satisfy T >= t_hi >= t_lo >= 2, got t_hi = {t_hi}, t_lo = {t_lo}")
    program, comp, args = _mean_map_args(sampler, sched, model, target)
    r0, R = sched.T - t_hi, t_hi - t_lo + 1
    ts = np.arange(sched.T, 1, -1)
    sa, beta, lq, cw, smean, sfac = _pair_tables(target, sched)
    # the kernel variances and draw keys of the rows run (the others are not read)
    v = np.zeros((2, len(ts)))
    v[:, r0:r0 + R] = np.array([sampler.kernel(int(t), sched) for t in ts[r0:r0 + R]], dtype=np.float64).T
    dkeys = np.zeros((len(ts), 3), dtype=np.uint64)
    dkeys[r0:r0 + R] = _noise.stream_key(seed, ts[r0:r0 + R, None], slot + np.arange(3)[None, :])
    out = np.empty((R, n))
    n_rows = program.n_sym + 1 + program.n_mem
    wsize = scores.workspace_size(max(target.K, comp.mixture.K), target.d)
    pairs = make_pairs(_map(comp, program))
    head = (v[0], v[1], sa, beta,
            np.ascontiguousarray(pts, dtype=np.float64), np.ascontiguousarray(logw, dtype=np.float64), *lq,
            dkeys, cw, smean, sfac)
    if backend == "cuda":
        from numba import cuda

        from .cuda import THREADS, make_pairs_kernel

        _, kern = make_pairs_kernel(pairs, n_rows, target.d, wsize)
        dev = [cuda.to_device(a) if isinstance(a, np.ndarray) else a for a in (*head, *args)]
        dout = cuda.to_device(out)
        kern[(R * n + THREADS - 1) // THREADS, THREADS](r0, dout, *dev)
        dout.copy_to_host(out)
    elif n:
        make_cpu_pairs(pairs)(r0, out, n_rows, wsize, *head, *args)
    plug.advance_counters(model, program, r0, r0 + R)
    return out


def invert_mean_maps(backend: str, target, model, sampler, sched, t_hi: int, t_lo: int, y, x0, tol: float):
    """Solve ``m_t(x) = y`` at every row of ``y`` by damped Newton for each step
    ``t = t_hi, ..., t_lo`` in turn (the grid TV's push-forward), starting from ``x0`` and
    then from the previous step's solution, in one kernel call.  Returns ``x (R, n, d)``,
    ``det Dm_t(x) (R, n)`` and the iterations used ``(R, n)`` (-1: no convergence), row
    ``t_hi - t`` for step ``t``."""
    from .pathkl import make_cpu_inverse, make_inverse

    if not sched.T >= t_hi >= t_lo >= 2:
        raise InvalidInput(f"steps must satisfy T >= t_hi >= t_lo >= 2, got t_hi = {t_hi}, t_lo = {t_lo}")
    program, comp, args = _mean_map_args(sampler, sched, model, target)
    r0, R = sched.T - t_hi, t_hi - t_lo + 1
    y = np.ascontiguousarray(y, dtype=np.float64)
    x0 = np.ascontiguousarray(x0, dtype=np.float64)
    n, d = y.shape
    x, det, its = np.empty((R, n, d)), np.empty((R, n)), np.empty((R, n), dtype=np.int64)
    n_rows = program.n_sym + 1 + program.n_mem
    wsize = scores.workspace_size(max(target.K, comp.mixture.K), d)
    one = make_inverse(_map(comp, program))
    if backend == "cuda":
        from numba import cuda

        from .cuda import THREADS, make_inverse_kernel

        _, kern = make_inverse_kernel(one, n_rows, d, wsize)
        dev = [cuda.to_device(a) if isinstance(a, np.ndarray) else a for a in args]
        dx, ddet, dits = cuda.to_device(x), cuda.to_device(det), cuda.to_device(its)
        kern[(n + THREADS - 1) // THREADS, THREADS](r0, cuda.to_device(y), cuda.to_device(x0), dx, ddet, dits, float(tol),
                                                    *dev)
        dx.copy_to_host(x)
        ddet.copy_to_host(det)
        dits.copy_to_host(its)
    elif n:
        make_cpu_inverse(one)(r0, y, x0, x, det, its, float(tol), n_rows, wsize, *args)
    return x, det, its


__all__ = ["BACKENDS", "BackendUnavailable", "Program", "compilable", "cuda_status", "execute", "resolve_backend", "trace"]
