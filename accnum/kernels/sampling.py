"""Sampling on the compiled backends, and the exact metrics' tangents and log-determinants.

:func:`execute` traces the sampler, asks the score model for its compiled form, and runs
the program for every sample in blocks of lanes (:mod:`accnum.kernels.layout`) through
the executor (:mod:`accnum.kernels.executor`), with or without the tangent.
"""

from __future__ import annotations

import numba
import numpy as np

from .. import noise
from ..errors import MissingCapability
from ..score import Evaluations, no_jacobian
from .executor import begin, lane_bytes, run_rows, run_scratch, start_lanes, views
from .layout import OPTS, Prepared, lanes_for, run, store_lanes
from .numba_compat import identify, stabilize
from .program import trace


def compiled_score(model, program, d: int):
    """``model``'s compiled form for ``program``'s evaluations (one-line refusal when it has none)."""
    abar, ordinal = program.evaluations()
    form = model.compiled_form(Evaluations(abar, ordinal, d))
    identify(form.score)
    if form.score_jac is not None:
        identify(form.score_jac)
    return form


@numba.njit(**OPTS)
def sample_body(b_lo, b_hi, L, n, buf, score, score_jac, args):
    """Samples of blocks ``b_lo .. b_hi - 1`` (block ``b``: samples ``i0 = bL .. i0 + L - 1``):
    ``Y_T`` (given, or ``N(0, I)`` drawn from stream step 0), every step of the program, and
    (``jac = 2``) the log-determinant and first bad step."""
    y, logdet, bad, jac, draw_init, init_key, prog, sp, lay, path = args
    sc = views(buf, lay)
    sym = sc[0]
    R = prog.steps.shape[0]
    for blk in range(b_lo, b_hi):
        i0 = blk * L
        start_lanes(sym[0], y, draw_init, init_key, i0, L, n)
        begin(sc, prog.n_mem, prog.n_noise, L, jac)
        if path.shape[0] == R + 1:     # the trajectory was asked for: Y after every step (row 0: Y_T)
            store_lanes(path[0], sym[0], i0, L, n)
            for r in range(R):
                run_rows(score, score_jac, prog, sp, sc, i0, L, r, r + 1, jac)
                store_lanes(path[r + 1], sym[0], i0, L, n)
        else:
            run_rows(score, score_jac, prog, sp, sc, i0, L, np.int64(0), R, jac)
        store_lanes(y, sym[0], i0, L, n)
        for l in range(min(L, n - i0)):
            logdet[i0 + l] = sc[8][l]
            bad[i0 + l] = np.int64(sc[7][l])


def execute(backend: str, target, model, sampler, sched, y0, seed: int, to: int = 1, jac: bool = False,
            path: bool = False):
    """Run ``sampler`` on ``backend`` (``cpu``/``cuda``) from ``y0`` (an ``(n, d)`` array, or
    the integer ``n`` to draw ``Y_T ~ N(0, I)`` from stream step 0 inside the kernel).

    Returns ``(y, logdet, bad, trajectory)``: ``Y_to`` (n, d), ``log|det|`` and the first step
    whose Jacobian determinant is not positive (0 if none), the two only with ``jac``, and
    with ``path`` the points after every step ``(R + 1, n, d)`` (row 0: ``Y_T``), else None."""
    y, logdet, bad, trajectory = run(backend, prepare(backend, target, model, sampler, sched, y0, seed, to, jac, path),
                                     model)
    return y, logdet, bad, (trajectory if path else None)


def prepare(backend: str, target, model, sampler, sched, y0, seed: int, to: int = 1, jac: bool = False,
            path: bool = False) -> Prepared:
    """The compiled score, scratch layout and arguments of :func:`execute`'s run."""
    program = trace(sampler, sched, to)
    d = target.d
    form = compiled_score(model, program, d)
    if jac and form.score_jac is None:
        raise MissingCapability(f"the compiled form of score model {model.describe()} has no Jacobian (the exact "
                                "metrics push tangents through it)")
    draw = isinstance(y0, (int, np.integer))
    n = int(y0) if draw else y0.shape[0]
    y = np.empty((n, d)) if draw else np.ascontiguousarray(y0, dtype=np.float64).copy()
    logdet, bad = np.zeros(n), np.zeros(n, dtype=np.int64)
    lanes = lanes_for(backend, lane_bytes(program.rows, d, form.workspace, jac))
    total, lay = run_scratch(program.rows, d, form.workspace, lanes, jac)
    trajectory = np.empty((len(program.steps) + 1, n, d)) if path else np.empty((1, 1, 1))
    args = (y, logdet, bad, 2 if jac else 0, draw, noise.stream_key(seed, 0, 0), program.arrays(seed), form.params, lay,
            trajectory)
    return Prepared(sample_body, form.score, form.score_jac or no_jacobian, n, lanes, total, args,
                    (y, logdet, bad, trajectory), int(program.stages.sum()))


stabilize(globals())
