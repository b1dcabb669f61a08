"""A sampler's steps as a coefficient program, read off the one NumPy source by tracing.

Every step in accnum is a linear combination, with coefficients that depend only on
``t`` and the schedule, of the current point ``Y_t``, the values the sampler carries
from the previous step (``state``), the step's standard normals and its score
evaluations, each evaluated at such a combination (see :mod:`accnum.samplers.base`).
Running ``sampler.step`` once per ``t`` on symbolic :class:`Lin` vectors instead of arrays
records those coefficients.  The compiled kernels (:mod:`accnum.kernels.executor`) execute
the recorded program, so no sampler formula is written a second time: the NumPy step is
the single source for the ``numpy``, ``cpu`` and ``cuda`` backends.

Symbol layout of one sample (each symbol a d-vector), ``P = 1 + M + k + S`` rows:
``0`` = ``Y_t``; ``1..M`` = carried state; ``1+M..M+k`` = normals ``Z_t^(j)``;
``1+M+k..`` = score evaluations of the step, in call order.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from .. import _memory
from ..errors import UntraceableStep


class _Broken(Exception):
    """A tracing rule a step broke (see :func:`_trace`, which names the sampler and step)."""


def _refuse(what):
    def method(self, *args, **kwargs):
        raise _Broken(what)
    return method


class Lin:
    """A symbolic vector ``sum_p c_p sym_p``: only sums and multiplication by numbers are
    defined; anything else a step might do to a point is refused with the rule it breaks."""

    __slots__ = ("c",)

    def __init__(self, c: dict):
        self.c = c

    def __add__(self, other):
        if not isinstance(other, Lin):
            raise _Broken("adds a constant to a point (a step may add points and scale them by numbers only)")
        out = dict(self.c)
        for k, v in other.c.items():
            out[k] = out.get(k, 0.0) + v
        return Lin(out)

    __radd__ = __add__

    def __neg__(self):
        return Lin({k: -v for k, v in self.c.items()})

    def __sub__(self, other):
        return self + (-other)

    def __rsub__(self, other):
        return (-self) + other

    def __mul__(self, a):
        if isinstance(a, Lin) or not _is_number(a):
            raise _Broken("multiplies a point by a point or an array (a step must be linear in its inputs: points "
                          "may be scaled by numbers only)")
        a = float(a)
        return Lin({k: a * v for k, v in self.c.items()})

    __rmul__ = __mul__

    def __truediv__(self, a):
        if isinstance(a, Lin) or not _is_number(a):
            raise _Broken("divides by a point or an array (a step may scale points by numbers only)")
        a = float(a)
        return Lin({k: v / a for k, v in self.c.items()})

    def __rtruediv__(self, other):
        raise _Broken("divides by a point (a step must be linear in its inputs)")

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        # a NumPy number on the left (``np.float64(b) * y``) arrives here: the same rules apply
        if method == "__call__" and not kwargs and ufunc in _ARITHMETIC and len(inputs) == ufunc.nin:
            return _ARITHMETIC[ufunc](*inputs)
        raise _Broken(f"applies np.{ufunc.__name__} to a point (a step must be linear in its inputs)")

    def __array_function__(self, func, types, args, kwargs):
        raise _Broken(f"applies np.{func.__name__} to a point (a step may add points and scale them by numbers only)")

    __pow__ = __rpow__ = _refuse("raises a point to a power (a step must be linear in its inputs)")
    __abs__ = _refuse("takes the absolute value of a point (a step must be linear in its inputs)")
    __lt__ = __le__ = __gt__ = __ge__ = _refuse("compares a point with something (the step branches on the values of "
                                                "points; it may branch on t and the schedule only)")
    __bool__ = _refuse("uses a point as a truth value (the step branches on the values of points; it may branch "
                       "on t and the schedule only)")
    __float__ = __int__ = _refuse("converts a point to a number")
    __getitem__ = __setitem__ = _refuse("indexes into a point (a step works on whole points, not coordinate by "
                                        "coordinate)")
    __iter__ = _refuse("iterates over a point (a step works on whole points, not coordinate by coordinate)")

    def __getattr__(self, name):
        raise _Broken(f"reads the attribute {name!r} of a point (a point is only added and scaled by numbers)")


_ARITHMETIC = {np.add: lambda a, b: a + b if isinstance(a, Lin) else b.__radd__(a),
               np.subtract: lambda a, b: a - b if isinstance(a, Lin) else b.__rsub__(a),
               np.multiply: lambda a, b: a * b if isinstance(a, Lin) else b.__rmul__(a),
               np.true_divide: lambda a, b: a / b if isinstance(a, Lin) else b.__rtruediv__(a),
               np.negative: lambda a: -a}


def _is_number(a) -> bool:
    return isinstance(a, (int, float, np.integer, np.floating)) and not isinstance(a, bool)


class _Normals(list):
    def __getitem__(self, j):
        try:
            return super().__getitem__(j)
        except IndexError:
            raise _Broken(f"uses the normal z[{j}] but its facts declare normals = {len(self)} per step") from None


class _Recorder:
    """Stands in for the score model: records each call's noise level and argument."""

    def __init__(self):
        self.calls: list[tuple[float, Lin]] = []

    def __call__(self, alpha_bar, x):
        try:
            ab = float(alpha_bar)
        except (TypeError, ValueError):
            raise _Broken(f"evaluates the score at a noise level of type {type(alpha_bar).__name__}") from None
        if not 0.0 < ab <= 1.0:
            raise _Broken(f"evaluates the score at alpha_bar = {ab!r} (a noise level lies in (0, 1])")
        self.calls.append((ab, x))
        return Lin({("s", len(self.calls) - 1): 1.0})


@dataclass(frozen=True)
class Program:
    """The recorded steps ``t = T, ..., to + 1`` (row ``r`` is step ``steps[r]``)."""

    sampler: str
    steps: np.ndarray        # (R,) int64, t of each row
    n_mem: int               # M
    n_noise: int             # k
    n_stage: int             # S, the most score evaluations of any step
    stages: np.ndarray       # (R,) int64, evaluations of each step
    stage_abar: np.ndarray   # (R, S) noise level of each evaluation
    stage_coef: np.ndarray   # (R, S, P) point of each evaluation
    out_coef: np.ndarray     # (R, P) Y_{t-1}
    mem_coef: np.ndarray     # (R, M, P) carried state after the step
    state: tuple = ()        # the names of the carried state (the keys of the step's ``state`` dict)

    @property
    def n_sym(self) -> int:
        return 1 + self.n_mem + self.n_noise + self.n_stage

    def noise_keys(self, seed: int) -> np.ndarray:
        """``(R, max(k, 1))`` uint64 stream keys of the step normals (:func:`accnum.noise.stream_key`)."""
        from .. import noise

        keys = np.zeros((len(self.steps), max(self.n_noise, 1)), dtype=np.uint64)
        if self.n_noise:
            keys[:] = noise.stream_key(seed, self.steps[:, None], np.arange(self.n_noise)[None, :])
        return keys

    @property
    def rows(self) -> int:
        """Symbol rows of the executor's scratch: the ``P`` symbols and room for the new values."""
        return self.n_sym + 1 + self.n_mem

    def arrays(self, seed: int = 0) -> ProgramArrays:
        """The program as the kernels take it (:class:`ProgramArrays`), its normals keyed by ``seed``."""
        return ProgramArrays(self.steps, self.stages, self.stage_coef, self.out_coef, self.mem_coef,
                             self.noise_keys(seed), self.n_mem, self.n_noise)

    def evaluations(self):
        """``(abar, ordinal)`` per evaluation slot ``q = r * S + stage``: its noise level and its
        place in call order (-1 for a slot the step does not use), what a score model's
        compiled form is built for (:meth:`accnum.score.ScoreModel.compiled`)."""
        abar = self.stage_abar.reshape(-1).copy()
        ordinal = np.full(abar.shape, -1, dtype=np.int64)
        S = self.n_stage
        e = 0
        for r, m in enumerate(self.stages):
            for st in range(int(m)):
                ordinal[r * S + st] = e
                e += 1
        return abar, ordinal


class ProgramArrays(NamedTuple):
    """A :class:`Program` bundled for the kernels (one argument instead of eight)."""

    steps: np.ndarray
    stages: np.ndarray
    stage_coef: np.ndarray
    out_coef: np.ndarray
    mem_coef: np.ndarray
    keys: np.ndarray
    n_mem: int
    n_noise: int


class _MeanMap:
    """A kernel sampler's deterministic part ``m_t`` (no noise, no state) as a one-step sampler."""

    def __init__(self, sampler):
        self.sampler = sampler
        self.name = f"{sampler.name}:mean-map"

    def step(self, t, y, z, model, sched, state):
        return self.sampler.mean_map(t, y, model, sched), state


def _schedule_key(sched) -> bytes:
    return hashlib.blake2b(sched.beta.tobytes(), digest_size=16).digest()   # beta fixes the schedule


def trace_mean_maps(sampler, sched) -> Program:
    """The mean maps ``m_t`` of ``sampler`` at ``t = T, ..., 2`` as the rows of one program
    (row ``r`` is step ``T - r``; run a row alone: the rows do not compose).  The path KL
    and the grid TV evaluate each row independently, in one kernel call for all steps;
    the last few programs are kept (the grid asks twice, the path KL per sample size)."""
    if not _cacheable(sampler):
        return trace(_MeanMap(sampler), sched, steps=range(sched.T, 1, -1), normals=0)
    key = (sampler, _schedule_key(sched))   # the sampler itself: a user's sampler may share a name
    hit = _MEAN_MAPS.get(key)
    if hit is None:
        if len(_MEAN_MAPS) > 64:
            _MEAN_MAPS.clear()
        hit = _MEAN_MAPS[key] = trace(_MeanMap(sampler), sched, steps=range(sched.T, 1, -1), normals=0)
    return hit


_MEAN_MAPS: dict = {}


def trace(sampler, sched, to: int = 1, steps=None, normals: int | None = None) -> Program:
    """Record ``sampler``'s steps on ``sched`` from ``t = T`` down to ``to + 1`` (or the
    given ``steps``, in that order).  Whole runs are kept (the last few): the rates
    experiment asks for the same program to count evaluations and to run it."""
    if steps is None and _cacheable(sampler):
        key = (sampler, to, normals, _schedule_key(sched))
        hit = _PROGRAMS.get(key)
        if hit is None:
            if len(_PROGRAMS) > 64:
                _PROGRAMS.clear()
            hit = _PROGRAMS[key] = _trace(sampler, sched, range(sched.T, to, -1), normals)
        return hit
    if steps is None:
        steps = range(sched.T, to, -1)
    return _trace(sampler, sched, steps, normals)


_PROGRAMS: dict = {}


def _cacheable(sampler) -> bool:
    """Only the built-in samplers' programs are kept: a user's sampler may change its
    parameters between runs, and a kept program would then be stale."""
    return type(sampler).__module__.startswith("accnum.samplers.")


def _traced_step(sampler, t, z, rec, sched, state):
    """One symbolic step, checked; a broken rule becomes :class:`UntraceableStep`, naming
    the sampler, the step and the rule, and saying how to run the sampler instead."""
    name = getattr(sampler, "name", type(sampler).__name__)

    def refuse(rule):
        err = UntraceableStep(f"sampler {name!r} cannot run on the compiled backends: at step t = {t} it {rule}; run "
                              "it with backend='numpy' (--backend numpy), which backend='auto' picks for it")
        err.rule = f"at step t = {t} it {rule}"
        return err

    try:
        out = sampler.step(t, Lin({("y",): 1.0}), z, rec, sched, state)
    except _Broken as err:
        raise refuse(str(err)) from None
    except Exception as err:   # any other failure on symbolic points is a rule broken too
        raise refuse(f"raised {type(err).__name__} ({err}) when given symbolic points, i.e. it does more than add "
                     "points and scale them by numbers") from None
    if not (isinstance(out, tuple) and len(out) == 2 and isinstance(out[1], dict)):
        raise refuse(f"returned {type(out).__name__} instead of (new point, state dict)")
    y, new_state = out
    if not isinstance(y, Lin):
        raise refuse(f"returned a {type(y).__name__} as the new point instead of a combination of its inputs")
    for key, value in new_state.items():
        if not isinstance(value, Lin):
            raise refuse(f"carries {_article(type(value).__name__)} in state[{key!r}] (state may hold points only: "
                         "combinations of the step's inputs and evaluations; keep counters out of it and branch on t)")
    return y, new_state


def _trace(sampler, sched, steps, normals) -> Program:
    # the symbolic rows (Python objects, about 2 kB a step) dominate until the arrays are built
    _memory.require(2000.0 * len(steps), f"tracing {sampler.name}'s {len(steps)} steps into a program",
                    f"T = {sched.T}")
    k = sampler.facts.normals if normals is None else normals
    mem_names: list[str] = []
    rows = []
    state = {}
    for t in steps:
        sym_state = {key: Lin({("m", key): 1.0}) for key in state}
        rec = _Recorder()
        z = _Normals(Lin({("z", j): 1.0}) for j in range(k))
        y, new_state = _traced_step(sampler, t, z, rec, sched, sym_state)
        for key in new_state:
            if key not in mem_names:
                mem_names.append(key)
        rows.append((t, rec.calls, y, new_state))
        state = new_state
    M, S = len(mem_names), max((len(r[1]) for r in rows), default=0)
    P = 1 + M + k + S
    index = {("y",): 0}
    index.update({("m", key): 1 + i for i, key in enumerate(mem_names)})
    index.update({("z", j): 1 + M + j for j in range(k)})
    index.update({("s", i): 1 + M + k + i for i in range(S)})

    def dense(lin: Lin) -> np.ndarray:
        v = np.zeros(P)
        for key, c in lin.c.items():
            v[index[key]] += c
        return v

    R = len(rows)
    stage_abar, stage_coef = np.ones((R, S)), np.zeros((R, S, P))
    out_coef, mem_coef = np.zeros((R, P)), np.zeros((R, M, P))
    stages = np.zeros(R, dtype=np.int64)
    for r, (_t, calls, y, new_state) in enumerate(rows):
        stages[r] = len(calls)
        for i, (ab, x) in enumerate(calls):
            stage_abar[r, i], stage_coef[r, i] = ab, dense(x)
        out_coef[r] = dense(y)
        for key, v in new_state.items():
            mem_coef[r, mem_names.index(key)] = dense(v)
    return Program(sampler.name, np.array([r[0] for r in rows], dtype=np.int64), M, k, S, stages,
                   stage_abar, stage_coef, out_coef, mem_coef, tuple(mem_names))


def _article(word: str) -> str:
    """``"an int"``, ``"a float"``."""
    return ("an " if word[:1].lower() in "aeiou" else "a ") + word
