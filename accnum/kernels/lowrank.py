"""Exact log-determinants in time linear in d: step Jacobians as diagonal plus low rank.

For a mixture with isotropic or diagonal covariances the score Jacobian is
``J = diag(D) + A B^T`` with rank ``K`` (docs/math/mixtures.md#jacobian-structure).  A
sampler step is a linear combination of its input, the state and score evaluations
(:mod:`accnum.kernels.program`); without state (every one-step sampler) its Jacobian with
respect to its own input ``Y_t`` is built from identities, numbers and such ``J``, and
stays diagonal plus low rank:

* a linear combination ``sum_p c_p T_p`` adds the diagonals and puts the factors side by
  side (ranks add), except that columns with the same right factor are added (a right
  factor is copied unchanged from a point's tangent into its evaluation's, and carries an
  id: for accel-ode this keeps the rank at 2K instead of 3K);
* an evaluation ``s(x)`` at a point with tangent ``T = diag(delta) + U V^T`` has tangent
  ``J T = diag(D delta) + [D U, A] [V, delta B + V (U^T B)]^T`` (rank ``+ K``).

``log|det DF|`` of the whole map is the sum of the steps' (the chain rule), each by the
matrix determinant lemma: ``log|det(diag(delta) + U V^T)| = sum_a log|delta_a| +
log|det(I_r + V^T diag(1/delta) U)|``, in ``O(d r^2 + r^3)`` per step and sample instead of
the dense route's ``O(d^3)`` (:mod:`accnum.kernels.executor`).  The sign of each step's
determinant is checked as the dense route checks it.

Samplers that carry state (multistep: the map is no longer a composition of per-step maps
of ``Y`` alone) and full covariances keep the dense route.
"""

from __future__ import annotations

from typing import NamedTuple

import numba
import numpy as np

from .. import noise
from ..errors import MissingCapability
from .executor import lincomb, start_lanes
from .layout import OPTS, Prepared, layout, run, store_lanes, take
from .linalg import slogdet_lane
from .vmath import vlog
from .numba_compat import stabilize
from .program import trace


class LowRankScratch(NamedTuple):
    sym: tuple     # (rows, d, L) values
    pt: tuple      # (d, L) an evaluation point
    ws: tuple      # (W, L) the score's workspace
    dl: tuple      # (rows, d, L) diagonal of each symbol's tangent
    U: tuple       # (rows, R, d, L) its left factors
    V: tuple       # (rows, R, d, L) its right factors
    pdl: tuple     # (d, L), the evaluation point's tangent
    pU: tuple      # (R, d, L)
    pV: tuple      # (R, d, L)
    D: tuple       # (d, L) the score Jacobian's diagonal
    A: tuple       # (d, K, L) and factors
    B: tuple       # (d, K, L)
    UtB: tuple     # (R, K, L) U^T B
    G: tuple       # (R, R, L) the determinant lemma's small matrix
    bad: tuple     # (L,)
    logdet: tuple  # (L,)
    rk: tuple      # (rows,) ranks of the symbols' tangents (the same for every lane)
    vid: tuple     # (rows, R) the id of each right-factor column (where it was made)
    pvid: tuple    # (R,)


def ranks(program, K: int) -> int:
    """The largest rank a tangent reaches in ``program``'s steps (the factors' columns)."""
    P = program.stage_coef.shape[2]
    top = 0
    for r in range(len(program.steps)):
        rk = np.zeros(P)
        s0 = 1 + program.n_mem + program.n_noise
        for st in range(int(program.stages[r])):
            row = s0 + st
            r_pt = sum(rk[p] for p in range(row) if program.stage_coef[r, st, p] != 0.0)
            rk[row] = r_pt + K
            top = max(top, rk[row])
        top = max(top, sum(rk[p] for p in range(P) if program.out_coef[r, p] != 0.0))
    return int(top)


@numba.njit(**OPTS)
def _combine(dl, U, V, rk, vid, coef, upto, L, pdl, pU, pV, pvid):
    """The tangent of ``sum_{p < upto} coef[p] sym[p]``: diagonals added, factors side by side
    (``U`` columns scaled), columns with the same right factor (same id) added; returns its rank."""
    d = dl.shape[1]
    for a in range(d):
        for l in range(L):
            pdl[a, l] = 0.0
    r = 0
    for p in range(upto):
        c = coef[p]
        if c != 0.0:
            for a in range(d):
                for l in range(L):
                    pdl[a, l] += c * dl[p, a, l]
            for j in range(int(rk[p])):
                m = 0
                while m < r and pvid[m] != vid[p, j]:
                    m += 1
                if m < r:                       # the same right factor: add the left ones
                    for a in range(d):
                        for l in range(L):
                            pU[m, a, l] += c * U[p, j, a, l]
                else:
                    for a in range(d):
                        for l in range(L):
                            pU[r, a, l] = c * U[p, j, a, l]
                            pV[r, a, l] = V[p, j, a, l]
                    pvid[r] = vid[p, j]
                    r += 1
    return r


@numba.njit(**OPTS)
def _evaluate(score_lr, sp, q, i0, L, pt, out, D, A, B, ws, pdl, pU, pV, pvid, r, dl, U, V, vid, new_id, UtB):
    """``out = s(pt)`` and its tangent ``J (diag(pdl) + pU pV^T)`` into ``dl, U, V`` (new right
    factors get ids ``new_id + k``); returns its rank.  Two passes over the coordinates (``U^T B``,
    then everything else): at large d the factors do not fit in cache, and each pass streams them."""
    score_lr(sp, q, i0, L, pt, out, D, A, B, ws)
    d, K = A.shape[0], A.shape[1]
    for j in range(r):
        for k in range(K):
            for l in range(L):
                UtB[j, k, l] = 0.0
    if r > 0:
        for a in range(d):
            for j in range(r):
                for k in range(K):
                    for l in range(L):
                        UtB[j, k, l] += pU[j, a, l] * B[a, k, l]
    for j in range(r):
        vid[j] = pvid[j]
    for k in range(K):
        vid[r + k] = new_id + k
    for a in range(d):
        for l in range(L):
            dl[a, l] = D[a, l] * pdl[a, l]
        for j in range(r):
            for l in range(L):
                U[j, a, l] = D[a, l] * pU[j, a, l]
                V[j, a, l] = pV[j, a, l]
        for k in range(K):
            for l in range(L):
                U[r + k, a, l] = A[a, k, l]
                V[r + k, a, l] = pdl[a, l] * B[a, k, l]
            for j in range(r):
                for l in range(L):
                    V[r + k, a, l] += pV[j, a, l] * UtB[j, k, l]
    return r + K


#: coordinates whose |delta| are multiplied before one logarithm is taken
CHUNK = 16


@numba.njit(**OPTS)
def _log_det(pdl, pU, pV, r, G, L, sign_out, logabs_out, prod, inv, u):
    """``log|det(diag(pdl) + pU pV^T)|`` and its sign per lane, by the determinant lemma
    (``prod``, ``inv`` (L,) and ``u`` (r, L) scratch; the arguments are not changed).  One pass
    over the coordinates: ``sum log|delta_a|`` as the log of products of :data:`CHUNK` factors (a
    chunk whose product leaves the normal range takes its factors' logs one by one), and
    ``G = I + V^T diag(1/delta) U`` accumulated as it goes (the scaled row of ``U`` kept in ``u``,
    which stays in the first-level cache: nothing is written back to the d-long factors)."""
    d = pdl.shape[0]
    for l in range(L):
        logabs_out[l] = 0.0
        sign_out[l] = 1.0
        prod[l] = 1.0
    for i in range(r):
        for j in range(r):
            for l in range(L):
                G[i, j, l] = 1.0 if i == j else 0.0
    for a in range(d):
        for l in range(L):                 # selects, no branches: the loop stays vector code
            x = pdl[a, l]
            prod[l] *= abs(x)
            sign_out[l] *= 1.0 if x > 0.0 else (-1.0 if x < 0.0 else 0.0)
            inv[l] = 1.0 / x
        for j in range(r):
            for l in range(L):
                u[j, l] = pU[j, a, l] * inv[l]
        for i in range(r):
            for j in range(r):
                for l in range(L):
                    G[i, j, l] += pV[i, a, l] * u[j, l]
        if (a + 1) % CHUNK == 0 or a == d - 1:
            out = 0
            for l in range(L):
                v = prod[l]
                normal = 2.2250738585072014e-308 <= v <= 1.7976931348623157e308
                lv = vlog(v)
                logabs_out[l] += lv if normal else 0.0
                out += 0 if normal else 1
            if out:                        # under- or overflow (or a zero): those lanes' factors one by one
                for l in range(L):
                    v = prod[l]
                    if not 2.2250738585072014e-308 <= v <= 1.7976931348623157e308:
                        for b in range(a - (a % CHUNK), a + 1):
                            w = abs(pdl[b, l])
                            logabs_out[l] += vlog(w) if w > 0.0 else -np.inf
            for l in range(L):
                prod[l] = 1.0
    for l in range(L):
        if r > 0 and sign_out[l] != 0.0:
            s, la = slogdet_lane(G[:r, :r], l)
            sign_out[l] *= s
            logabs_out[l] += la


@numba.njit(**OPTS)
def lowrank_body(b_lo, b_hi, L, n, buf, score, score_lr, args):
    """Samples of blocks ``b_lo .. b_hi - 1`` (block ``b``: ``i0 = bL .. i0 + L - 1``): every
    step, its log-determinant by the lemma summed, the first step whose determinant is not
    positive in ``bad``."""
    y, logdet, bad_out, draw_init, init_key, prog, sp, lay = args
    sym, pt, ws = take(buf, lay.sym), take(buf, lay.pt), take(buf, lay.ws)
    dl, U, V = take(buf, lay.dl), take(buf, lay.U), take(buf, lay.V)
    pdl, pU, pV = take(buf, lay.pdl), take(buf, lay.pU), take(buf, lay.pV)
    D, A, B, UtB, G = take(buf, lay.D), take(buf, lay.A), take(buf, lay.B), take(buf, lay.UtB), take(buf, lay.G)
    bad, ld, rk = take(buf, lay.bad), take(buf, lay.logdet), take(buf, lay.rk)
    vid, pvid = take(buf, lay.vid), take(buf, lay.pvid)
    steps, stages, stage_coef, out_coef, mem_coef, keys, n_mem, n_noise = prog
    d = y.shape[1]
    P, S = stage_coef.shape[2], stage_coef.shape[1]
    s0 = 1 + n_mem + n_noise
    for blk in range(b_lo, b_hi):
        i0 = blk * L
        start_lanes(sym[0], y, draw_init, init_key, i0, L, n)
        for l in range(L):
            bad[l] = 0.0
            ld[l] = 0.0
        for r in range(steps.shape[0]):
            # the step's input: identity tangent
            for a in range(d):
                for l in range(L):
                    dl[0, a, l] = 1.0
            rk[0] = 0.0
            for st in range(stages[r]):
                row = s0 + st
                lincomb(pt, sym, stage_coef[r, st], row, L)
                rp = _combine(dl, U, V, rk, vid, stage_coef[r, st], row, L, pdl, pU, pV, pvid)
                rk[row] = _evaluate(score_lr, sp, r * S + st, i0, L, pt, sym[row], D, A, B, ws, pdl, pU, pV, pvid, rp,
                                    dl[row], U[row], V[row], vid[row], row * (A.shape[1] + 1) + 1, UtB)
            lincomb(sym[P], sym, out_coef[r], P, L)
            ro = _combine(dl, U, V, rk, vid, out_coef[r], P, L, pdl, pU, pV, pvid)
            _log_det(pdl, pU, pV, ro, G, L, ws[0], ws[1], ws[2], ws[3], ws[4:])    # the workspace's first rows: free between evaluations
            for l in range(L):
                ld[l] += ws[1, l]
                if bad[l] == 0.0 and ws[0, l] <= 0.0:
                    bad[l] = steps[r]
            for a in range(d):
                for l in range(L):
                    sym[0, a, l] = sym[P, a, l]
        store_lanes(y, sym[0], i0, L, n)
        for l in range(min(L, n - i0)):
            logdet[i0 + l] = ld[l]
            bad_out[i0 + l] = np.int64(bad[l])


def applies(model, program, d: int) -> str | None:
    """Why the low-rank route cannot run this program with this score model (None: it can)."""
    if program.n_mem or program.n_noise:
        return "the sampler carries state from step to step (its map is not a composition of per-step maps of Y)"
    return None


def route_of(sampler) -> str:
    """How exact metrics compute this sampler's log-determinants on a diagonal mixture:
    ``"O(d)"`` (the low-rank route), ``"O(d^3)"`` (dense: the sampler carries state) or
    ``"-"`` (stochastic: no exact change-of-variables metric)."""
    from ..schedules import li2024

    if sampler.facts.kind != "ode":
        return "-"
    program = trace(sampler, li2024(16), 1)
    return "O(d^3)" if program.n_mem or program.n_noise else "O(d)"


def prepare(backend: str, target, model, sampler, sched, y0, seed: int, to: int = 1) -> Prepared:
    """The compiled score, scratch layout and arguments of a low-rank run (a one-line
    :class:`MissingCapability` when the route cannot run it)."""
    from .sampling import compiled_score

    program = trace(sampler, sched, to)
    d = target.d
    why = applies(model, program, d)
    form = compiled_score(model, program, d)
    if why is None and form.score_lowrank is None:
        why = f"score model {model.describe()} gives no low-rank Jacobian (full covariances, or a perturbation without one)"
    if why is not None:
        raise MissingCapability(f"the low-rank route cannot run {sampler.name}: {why}; the dense route can")
    K = form.rank
    R = max(1, ranks(program, K))
    rows = program.stage_coef.shape[2] + 1
    lanes = 1 if backend == "cuda" else 8      # one AVX-512 vector of lanes; a block stays in L3 even at d = 10^4
    total, lay = layout(LowRankScratch, sym=(rows, d, lanes), pt=(d, lanes), ws=(max(form.workspace, 4 + R), lanes),
                        dl=(rows, d, lanes), U=(rows, R, d, lanes), V=(rows, R, d, lanes), pdl=(d, lanes),
                        pU=(R, d, lanes), pV=(R, d, lanes), D=(d, lanes), A=(d, K, lanes), B=(d, K, lanes),
                        UtB=(R, K, lanes), G=(max(R, 2), max(R, 2), lanes), bad=(lanes,), logdet=(lanes,), rk=(rows,),
                        vid=(rows, R), pvid=(R,))
    draw = isinstance(y0, (int, np.integer))
    n = int(y0) if draw else y0.shape[0]
    y = np.empty((n, d)) if draw else np.ascontiguousarray(y0, dtype=np.float64).copy()
    logdet, bad = np.zeros(n), np.zeros(n, dtype=np.int64)
    args = (y, logdet, bad, draw, noise.stream_key(seed, 0, 0), program.arrays(seed), form.params, lay)
    return Prepared(lowrank_body, form.score, form.score_lowrank, n, lanes, total, args, (y, logdet, bad),
                    int(program.stages.sum()))


def execute(backend: str, target, model, sampler, sched, y0, seed: int, to: int = 1):
    """``(y, logdet, bad)`` as :func:`accnum.kernels.sampling.execute` with ``jac=True`` gives
    them, by the low-rank route (a one-line :class:`MissingCapability` when it cannot run)."""
    return run(backend, prepare(backend, target, model, sampler, sched, y0, seed, to), model)


stabilize(globals())
