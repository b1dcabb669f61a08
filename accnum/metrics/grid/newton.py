"""The grid push-forward's preimages: ``m_t(x) = y`` solved by damped Newton at every grid
point, in NumPy and, side by side, compiled (docs/math/metrics.md#grid-propagation).

Newton's step ``x <- x - lam Dm(x)^{-1} (m(x) - y)``, the step halved (up to 12 times,
then taken anyway) while it does not reduce ``|m(x) - y|``; at most 60 steps.  NumPy
iterates all points until the worst meets the tolerance; the kernels stop each point (a
lane) at its own tolerance and start each step's solve from the previous step's
solution, so the two agree to the tolerance, far inside the grid's own error.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numba
import numpy as np

from ...errors import InvalidInput
from ...kernels.executor import lane_bytes, map_row, run_scratch, views
from ...kernels.layout import OPTS, launch, lanes_for, load_lanes, store_lanes, take
from ...kernels.linalg import det_lane, inverse_lane
from ...kernels.numba_compat import stabilize
from ...kernels.program import trace_mean_maps
from ...kernels.sampling import compiled_score
from ...score import no_jacobian
from ...tangent import Tangent


def newton_tol(y) -> float:
    """The Newton tolerance on ``|m(x) - y|`` at grid points ``y`` (both backends)."""
    return 1e-11 * (1.0 + np.max(np.abs(y)))


# ---------------------------------------------------------------------------------- NumPy
def solve(sampler, t: int, sched, model, y, x):
    """``(x, det Dm(x))`` with ``m_t(x) = y`` at every row of ``y``, from ``x``; ``None`` if
    Newton did not converge for every point."""
    tol = newton_tol(y)
    lin = sampler.checked_mean_map(t, Tangent.identity(x), model, sched)
    for _ in range(60):
        resid = lin.value - y
        norm = np.linalg.norm(resid, axis=1)
        if np.max(norm) < tol:
            break
        step = np.linalg.solve(lin.jac, resid[..., None])[..., 0]
        lam = np.ones(x.shape[0])
        for _ in range(12):
            trial = sampler.checked_mean_map(t, x - lam[:, None] * step, model, sched)
            worse = np.linalg.norm(trial - y, axis=1) > norm
            if not np.any(worse):
                break
            lam[worse] *= 0.5
        x = x - lam[:, None] * step
        lin = sampler.checked_mean_map(t, Tangent.identity(x), model, sched)
    else:
        return None
    return x, np.linalg.det(lin.jac)


# ------------------------------------------------------------------------------- compiled
class NewtonScratch(NamedTuple):
    sym: tuple
    pt: tuple
    ws: tuple
    tan: tuple
    tpt: tuple
    J: tuple
    lu: tuple
    bad: tuple
    logdet: tuple
    Y: tuple
    X: tuple
    Xt: tuple
    St: tuple
    M: tuple
    D: tuple
    A: tuple
    B: tuple
    norm: tuple
    lam: tuple
    done: tuple
    its: tuple
    det: tuple
    acc: tuple


@numba.njit(**OPTS)
def _norm(sym, Y, l):
    acc = 0.0
    for a in range(Y.shape[0]):
        acc += (sym[0, a, l] - Y[a, l]) ** 2
    return math.sqrt(acc)


@numba.njit(**OPTS)
def newton_body(b_lo, b_hi, L, n, buf, score, score_jac, args):
    """Grid points of blocks ``b_lo .. b_hi - 1`` (block ``b``: points ``i0 = bL .. i0 + L - 1``)
    as lanes, for program rows ``r0 .. r0 + R - 1`` in turn."""
    y, x0, x_out, det_out, its_out, tol, r0, prog, sp, lay = args
    sc = views(buf, lay)
    sym, tan = sc[0], sc[3]
    Y, X, Xt, St = take(buf, lay.Y), take(buf, lay.X), take(buf, lay.Xt), take(buf, lay.St)
    M, D, A, B = take(buf, lay.M), take(buf, lay.D), take(buf, lay.A), take(buf, lay.B)
    norm, lam, done, its = take(buf, lay.norm), take(buf, lay.lam), take(buf, lay.done), take(buf, lay.its)
    det, acc = take(buf, lay.det), take(buf, lay.acc)
    d = y.shape[1]
    for blk in range(b_lo, b_hi):
        i0 = blk * L
        load_lanes(Y, y, i0, L, n)
        load_lanes(X, x0, i0, L, n)
        for j in range(x_out.shape[0]):
            row = r0 + j
            map_row(score, score_jac, prog, sp, sc, row, i0, L, X, np.int64(1))
            for l in range(L):
                norm[l] = _norm(sym, Y, l)
                done[l] = 0.0
                for a in range(d):
                    M[a, l] = sym[0, a, l]
                    for b in range(d):
                        D[a, b, l] = tan[0, a, b, l]
            for it in range(61):
                active = False
                for l in range(L):
                    if done[l] == 0.0:
                        if norm[l] < tol or it == 60:
                            done[l] = 1.0
                            its[l] = it if norm[l] < tol else -1.0
                            for a in range(d):
                                for b in range(d):
                                    A[a, b, l] = D[a, b, l]
                            det[l] = det_lane(A, l)
                        else:
                            active = True
                if not active:
                    break
                for l in range(L):            # the Newton step of the points still going
                    acc[l] = done[l]
                    lam[l] = 1.0
                    if done[l] == 0.0:
                        for a in range(d):
                            for b in range(d):
                                A[a, b, l] = D[a, b, l]
                        inverse_lane(A, B, l)
                        for a in range(d):
                            s = 0.0
                            for c in range(d):
                                s += B[a, c, l] * (M[c, l] - Y[c, l])
                            St[a, l] = s
                # damped: halve each point's step while it does not reduce its residual (12 times at most,
                # then take it); the accepted trial's value and Jacobian serve the next iteration
                for tries in range(13):
                    for a in range(d):
                        for l in range(L):
                            Xt[a, l] = X[a, l] - lam[l] * St[a, l]
                    map_row(score, score_jac, prog, sp, sc, row, i0, L, Xt, np.int64(1))
                    pending = False
                    for l in range(L):
                        if acc[l] == 0.0:
                            trial = _norm(sym, Y, l)
                            if trial <= norm[l] or tries == 12:
                                acc[l] = 1.0
                                norm[l] = trial
                                for a in range(d):
                                    X[a, l] = Xt[a, l]
                                    M[a, l] = sym[0, a, l]
                                    for b in range(d):
                                        D[a, b, l] = tan[0, a, b, l]
                            else:
                                lam[l] *= 0.5
                                pending = True
                    if not pending:
                        break
            store_lanes(x_out[j], X, i0, L, n)
            for l in range(min(L, n - i0)):
                det_out[j, i0 + l] = det[l]
                its_out[j, i0 + l] = np.int64(its[l])


def solve_compiled(backend: str, target, model, sampler, sched, t_hi: int, t_lo: int, y, x0, tol: float):
    """Solve ``m_t(x) = y`` for each step ``t = t_hi .. t_lo`` in turn (row ``t_hi - t``), each
    step's solve starting from the previous one's solution (``x0`` for the first), in one
    kernel call.  Returns ``x (R, n, d)``, ``det Dm_t(x) (R, n)``, iterations ``(R, n)`` (-1:
    no convergence)."""
    if not sched.T >= t_hi >= t_lo >= 2:
        raise InvalidInput(f"steps must satisfy T >= t_hi >= t_lo >= 2, got t_hi = {t_hi}, t_lo = {t_lo}")
    program = trace_mean_maps(sampler, sched)
    y = np.ascontiguousarray(y, dtype=np.float64)
    x0 = np.ascontiguousarray(x0, dtype=np.float64)
    n, d = y.shape
    form = compiled_score(model, program, d)
    r0, R = sched.T - t_hi, t_hi - t_lo + 1
    x, det, its = np.empty((R, n, d)), np.empty((R, n)), np.empty((R, n), dtype=np.int64)
    lanes = lanes_for(backend, lane_bytes(program.rows, d, form.workspace, True) + 6 * d + 3 * d * d + 7)
    extra = dict(Y=(d, lanes), X=(d, lanes), Xt=(d, lanes), St=(d, lanes), M=(d, lanes), D=(d, d, lanes),
                 A=(d, d, lanes), B=(d, d, lanes), norm=(lanes,), lam=(lanes,), done=(lanes,), its=(lanes,),
                 det=(lanes,), acc=(lanes,))
    total, lay = run_scratch(program.rows, d, form.workspace, lanes, True, extra, cls=NewtonScratch)
    args = (y, x0, x, det, its, float(tol), r0, program.arrays(0), form.params, lay)
    launch(backend, newton_body, form.score, form.score_jac or no_jacobian, n, lanes, total, args,
           outputs=(x, det, its))
    return x, det, its


stabilize(globals())
