"""The executor: a traced program (:mod:`accnum.kernels.program`) run on a block of lanes.

One function serves every backend and every kernel that runs a sampler's steps (sampling,
the exact metrics' tangents, the mean maps of path KL and grid TV): it is specialised at
compile time for the score model's compiled functions, passed as arguments (no closure),
and runs the program's rows ``r_lo .. r_hi - 1`` on lanes ``0 .. L - 1`` of the scratch.

Scratch (:class:`RunScratch`, rows ``P + 1 + M`` of the symbol layout of
:mod:`accnum.kernels.program`): ``sym (rows, d, L)`` the symbols (row 0 is ``Y``; rows
``P .. P + M`` receive the new ``Y`` and state before they replace the old), ``pt (d, L)``
an evaluation point, ``ws (W, L)`` the score's workspace, and for tangents (``jac``)
``tan (rows, d, d, L)``, ``tpt``, ``J``, ``lu (d, d, L)``; per lane ``bad`` and ``logdet``.

``jac``: 0 values only; 1 also the tangent ``dY/dY_start`` (left in ``tan[0]``); 2 also the
sign of its determinant after every step (the first step where it is not positive goes to
``bad``) and ``log|det|`` at the end (the exact metrics, docs/math/metrics.md#log-det).
"""

from __future__ import annotations

from typing import NamedTuple

import numba
import numpy as np

from ..noise import normal_one, normals_lanes, sample_key
from .layout import OPTS, layout, load_lanes, take
from .linalg import det_sign_lane, slogdet_lane
from .numba_compat import stabilize


class RunScratch(NamedTuple):
    sym: tuple
    pt: tuple
    ws: tuple
    tan: tuple
    tpt: tuple
    J: tuple
    lu: tuple
    bad: tuple
    logdet: tuple


def run_scratch(rows: int, d: int, workspace: int, L: int, jac: bool, extra: dict | None = None, cls=RunScratch):
    """``(total, layout)`` of the executor's scratch for ``L`` lanes (plus ``extra`` fields of ``cls``)."""
    dj, tr = (d, rows) if jac else (1, 1)
    shapes = dict(sym=(rows, d, L), pt=(d, L), ws=(max(workspace, 1), L), tan=(tr, dj, dj, L), tpt=(dj, dj, L),
                  J=(dj, dj, L), lu=(dj, dj, L), bad=(L,), logdet=(L,))
    shapes.update(extra or {})
    return layout(cls, **shapes)


def lane_bytes(rows: int, d: int, workspace: int, jac: bool) -> int:
    """Numbers of scratch one lane needs (to size blocks, :func:`accnum.kernels.layout.lanes_for`)."""
    return rows * d + d + workspace + ((rows + 3) * d * d if jac else 4) + 2


@numba.njit(inline="always", **OPTS)
def views(buf, lay):
    """The executor's scratch views of a block's buffer, as a tuple for :func:`run_rows`."""
    return (take(buf, lay.sym), take(buf, lay.pt), take(buf, lay.ws), take(buf, lay.tan), take(buf, lay.tpt),
            take(buf, lay.J), take(buf, lay.lu), take(buf, lay.bad), take(buf, lay.logdet))


@numba.njit(**OPTS)
def lincomb(dst, src, coef, upto, L):
    """``dst[..., l] = sum_{p < upto} coef[p] src[p, ..., l]`` over the first axis of ``src``,
    ``p`` ascending, zero coefficients skipped (``dst`` 2-D for points, 3-D for tangents)."""
    flat, s = dst.reshape((-1, dst.shape[-1])), src.reshape((src.shape[0], -1, src.shape[-1]))
    m = flat.shape[0]
    for a in range(m):
        for l in range(L):
            flat[a, l] = 0.0
    for p in range(upto):
        c = coef[p]
        if c != 0.0:
            for a in range(m):
                for l in range(L):
                    flat[a, l] += c * s[p, a, l]


@numba.njit(**OPTS)
def matmul_lanes(dst, A, B, L):
    """``dst[:, :, l] = A[:, :, l] @ B[:, :, l]`` for every lane."""
    d, e, f = A.shape[0], A.shape[1], B.shape[1]
    for a in range(d):
        for b in range(f):
            for l in range(L):
                dst[a, b, l] = 0.0
            for m in range(e):
                for l in range(L):
                    dst[a, b, l] += A[a, m, l] * B[m, b, l]


@numba.njit(**OPTS)
def start_lanes(Y, y, draw, key, i0, L, n):
    """A block's ``Y_T`` into ``Y (d, L)``: ``N(0, I)`` drawn from stream ``key`` (``draw``), or
    the given points ``y (n, d)``."""
    if draw:
        normals_lanes(key, i0, Y)
    else:
        load_lanes(Y, y, i0, L, n)


@numba.njit(**OPTS)
def begin(sc, n_mem, n_noise, L, jac):
    """Start a run from ``Y = sym[0]``: no state, identity tangent, no step found bad yet."""
    sym, tan, bad = sc[0], sc[3], sc[7]
    d = sym.shape[1]
    for p in range(1, 1 + n_mem):
        for a in range(d):
            for l in range(L):
                sym[p, a, l] = 0.0
    if jac:
        for p in range(1 + n_mem + n_noise):
            for a in range(d):
                for b in range(d):
                    for l in range(L):
                        tan[p, a, b, l] = 1.0 if (p == 0 and a == b) else 0.0
    for l in range(L):
        bad[l] = 0.0


@numba.njit(**OPTS)
def run_rows(score, score_jac, prog, sp, sc, i0, L, r_lo, r_hi, jac):
    """Advance lanes ``0 .. L - 1`` (items ``i0 + l``) through program rows ``r_lo .. r_hi - 1``
    from ``sym[0]`` (see :func:`begin`); the result is left in ``sym[0]`` (and ``tan[0]``,
    ``bad``, ``logdet``)."""
    sym, pt, ws, tan, tpt, J, lu, bad, logdet = sc
    steps, stages, stage_coef, out_coef, mem_coef, keys, n_mem, n_noise = prog
    d = sym.shape[1]
    P = stage_coef.shape[2]
    S = stage_coef.shape[1]
    z0 = 1 + n_mem
    s0 = z0 + n_noise
    for r in range(r_lo, r_hi):
        for j in range(n_noise):
            stream = keys[r, j]
            for a in range(d):
                for l in range(L):
                    sym[z0 + j, a, l] = normal_one(sample_key(stream, i0 + l), a)
        for st in range(stages[r]):
            row = s0 + st
            lincomb(pt, sym, stage_coef[r, st], row, L)
            if jac:
                lincomb(tpt, tan, stage_coef[r, st], row, L)
                score_jac(sp, r * S + st, i0, L, pt, sym[row], J, ws)
                matmul_lanes(tan[row], J, tpt, L)
            else:
                score(sp, r * S + st, i0, L, pt, sym[row], ws)
        # the new Y into row P, the new state m into row P + 1 + m; then they replace the old
        for o in range(n_mem + 1):
            coef = out_coef[r] if o == 0 else mem_coef[r, o - 1]
            lincomb(sym[P + o], sym, coef, P, L)
            if jac:
                lincomb(tan[P + o], tan, coef, P, L)
        for o in range(n_mem + 1):
            for a in range(d):
                for l in range(L):
                    sym[o, a, l] = sym[P + o, a, l]
            if jac:
                for a in range(d):
                    for b in range(d):
                        for l in range(L):
                            tan[o, a, b, l] = tan[P + o, a, b, l]
        if jac == 2:
            for l in range(L):
                if bad[l] == 0.0:
                    for a in range(d):
                        for b in range(d):
                            lu[a, b, l] = tan[0, a, b, l]
                    if det_sign_lane(lu, l) <= 0.0:
                        bad[l] = steps[r]
    if jac == 2:
        for l in range(L):
            for a in range(d):
                for b in range(d):
                    lu[a, b, l] = tan[0, a, b, l]
            logdet[l] = slogdet_lane(lu, l)[1]


@numba.njit(inline="always", **OPTS)
def map_row(score, score_jac, prog, sp, sc, row, i0, L, P, jac):
    """``sym[0] <- m(P)`` (and ``tan[0] <- Dm(P)`` with ``jac``): program row ``row`` run alone on
    the points ``P (d, L)`` (a mean map of :func:`accnum.kernels.program.trace_mean_maps`)."""
    sym = sc[0]
    for a in range(P.shape[0]):
        for l in range(L):
            sym[0, a, l] = P[a, l]
    begin(sc, np.int64(0), np.int64(0), L, jac)
    run_rows(score, score_jac, prog, sp, sc, i0, L, row, row + 1, jac)


stabilize(globals())
