"""Which compiled score component runs a score model, with its parameter arrays (issue 4, item 8).

:func:`component` maps the exact mixture score and each perturbation of
:mod:`accnum.perturb` to a pair of compiled functions from :mod:`accnum.kernels.scores`
and the arrays ``p0..p3`` they read; the noise levels the mixture tables are built at
(a time mismatch shifts them) and the evaluation count the model must advance by.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import noise as _noise
from .. import perturb
from ..score import ExactScore
from . import scores
from ..errors import InvalidInput


@dataclass
class Component:
    name: str
    score: object
    score_jac: object
    params: tuple          # p0, p1, p2, p3
    abars: np.ndarray      # (Q,) noise level the mixture tables are built at
    mixture: object = None  # the mixture whose exact score the tables hold: the model's own, never the target
    has_jacobian: bool = True


_EMPTY = np.zeros(1)
_EMPTY_KEYS = np.zeros(1, dtype=np.uint64)


#: the score models with a compiled form, by exact type: a user's subclass may override the
#: error term, so it runs on the NumPy backend
COMPILED = (ExactScore, perturb.SmoothField, perturb.Scale, perturb.Bias, perturb.TimeMismatch,
            perturb.EvaluationNoise)


def compilable(model) -> bool:
    return type(model) in COMPILED


def component(model, target, program) -> Component:
    """The compiled form of ``model`` for ``program``'s evaluations; ``ValueError`` if none."""
    if not compilable(model):
        raise InvalidInput(f"score model {type(model).__name__} has no compiled form; use backend='numpy'")
    abars = program.stage_abar.reshape(-1).copy()
    base = (_EMPTY, _EMPTY, _EMPTY, _EMPTY_KEYS)
    if type(model) is ExactScore:
        return Component("exact", scores.mixture_score, scores.mixture_score_jac, base, abars, model.target)
    if type(model) is perturb.SmoothField:
        p = (np.ascontiguousarray(model.amplitude * model.A), np.ascontiguousarray(model.frequency * model.omega0),
             model.phase.copy(), _EMPTY_KEYS)
        return Component("smooth", scores.smooth_score, scores.smooth_score_jac, p, abars, model.target)
    if type(model) in (perturb.Scale, perturb.Bias):
        scale = 1.0 + model.delta if type(model) is perturb.Scale else 1.0
        bias = model.vector.copy() if type(model) is perturb.Bias else np.zeros(target.d)
        return Component("affine", scores.affine_score, scores.affine_score_jac,
                         (np.array([scale]), bias, _EMPTY, _EMPTY_KEYS), abars, model.target)
    if type(model) is perturb.TimeMismatch:
        shifted = np.array([model._wrong(float(a)) for a in abars])
        return Component("time", scores.mixture_score, scores.mixture_score_jac, base, shifted, model.target)
    # EvaluationNoise: one counter-generator key per evaluation, in call order
    S = program.n_stage
    keys = np.zeros(len(abars), dtype=np.uint64)
    e = model._evals
    for r, m in enumerate(program.stages):
        for st in range(int(m)):
            e += 1
            keys[r * S + st] = _noise.stream_key(model.seed, 2**31 + e, 7)
    return Component("noise", scores.noisy_score, scores.no_jacobian,
                     (np.array([model.sigma]), _EMPTY, _EMPTY, keys), abars, model.target, has_jacobian=False)


def advance_counters(model, program, r_lo: int = 0, r_hi: int | None = None) -> None:
    """Count the evaluations a kernel made running program rows ``r_lo..r_hi-1`` (all by
    default), as the NumPy path counts its calls."""
    total = int(np.sum(program.stages[r_lo:r_hi]))
    model.calls += total
    if isinstance(model, perturb.EvaluationNoise):
        model._evals += total
