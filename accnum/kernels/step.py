"""The per-sample program executor, compiled for the CPU and inside CUDA kernels.

:func:`make_runner` closes the executor over one score component
(:mod:`accnum.kernels.scores`) and returns an ``@numba.njit`` function that advances one
sample through every step of a :class:`~accnum.kernels.program.Program`, optionally with
its tangent ``dY/dY_T`` (the change-of-variables metrics of SPEC §4).  It allocates
nothing: the caller passes the scratch, ``np.empty`` on the CPU, ``cuda.local.array``
on a GPU, so the same function serves both (issue 4, item 1).

Scratch of one sample: ``sym (P + 1 + M, d)`` holds the symbols (rows ``P..P+M`` take
the new ``Y`` and state before they replace the old), ``pt (d)`` an evaluation point,
``ws`` the score's workspace, ``tan (P + 1 + M, d, d)``, ``tpt (d, d)``, ``J (d, d)`` and
``lu (d, d)`` the tangents (unused, and may be 1 x 1 x 1, when ``jac`` is 0).
``jac``: 0 values only; 1 also the tangent (left in ``tan[0]``); 2 also the sign check
of ``det dY/dY_T`` after every step and ``log|det|`` at the end (the exact metrics).
"""

from __future__ import annotations

import math
from functools import lru_cache

import numba

from .rng import normal, sample_key
from ._stable import stabilize, variant


@numba.njit(cache=True, error_model="numpy", inline="always")
def lu_factor(A):
    """LU with partial pivoting in place (``U`` on and above the diagonal); returns the sign
    of the row permutation, or 0 for a singular ``A``."""
    d = A.shape[0]
    sign = 1.0
    for c in range(d):
        piv, best = c, abs(A[c, c])
        for r in range(c + 1, d):
            if abs(A[r, c]) > best:
                piv, best = r, abs(A[r, c])
        if best == 0.0:
            return 0.0
        if piv != c:
            sign = -sign
            for b in range(d):
                A[c, b], A[piv, b] = A[piv, b], A[c, b]
        for r in range(c + 1, d):
            f = A[r, c] / A[c, c]
            for b in range(c + 1, d):
                A[r, b] -= f * A[c, b]
    return sign


@numba.njit(cache=True, error_model="numpy")
def slogdet(A):
    """``(sign, log|det A|)``, in place."""
    sign, logabs = lu_factor(A), 0.0
    if sign == 0.0:
        return 0.0, -math.inf
    for c in range(A.shape[0]):
        sign = -sign if A[c, c] < 0 else sign
        logabs += math.log(abs(A[c, c]))
    return sign, logabs


@numba.njit(cache=True, error_model="numpy")
def det_sign(A):
    """The sign of ``det A``, in place, without logarithms (the per-step check)."""
    sign = lu_factor(A)
    for c in range(A.shape[0]):
        sign = -sign if A[c, c] < 0 else sign
    return sign


@numba.njit(cache=True, error_model="numpy")
def det(A):
    """``det A``, in place (small, well-scaled matrices: the grid's Newton Jacobians)."""
    out = lu_factor(A)
    for c in range(A.shape[0]):
        out *= A[c, c]
    return out


@lru_cache(maxsize=None)
def make_mean_row(score, score_jac):
    """One program row made of a single evaluation, with no state and no noise: a kernel
    sampler's mean map at one step, ``Y <- c_y Y + c_s s(c_in Y)`` (and its Jacobian in
    ``tan[0]`` when ``jac``), evaluated once per path-KL pair and grid point.  The same sums
    as the executor's general loop (to the bit), without its bookkeeping; inlined where it
    is called, since a call with the executor's arguments costs more than the evaluation."""

    @variant(score, score_jac, cache=True, error_model="numpy", inline="always", _nrt=False)
    def mean_row(r, i, Y, yr, sym, pt, ws, tan, J, jac, stage_coef, out_coef, lw, mean, iv, U, full, p0, p1, p2, p3):
        d = Y.shape[1]
        c_in, c_y, c_s = stage_coef[r, 0, 0], out_coef[r, 0], out_coef[r, 1]
        for a in range(d):
            pt[a] = c_in * Y[yr, a]
        if jac:
            score_jac(r, i, pt, sym, 1, J, ws, lw, mean, iv, U, full, p0, p1, p2, p3)
            for a in range(d):
                for b in range(d):
                    tan[0, a, b] = (c_y if a == b else 0.0) + c_s * (J[a, b] * c_in)
        else:
            score(r, i, pt, sym, 1, ws, lw, mean, iv, U, full, p0, p1, p2, p3)
        for a in range(d):
            Y[yr, a] = c_y * Y[yr, a] + c_s * sym[1, a]

    return mean_row


def single_rows(program) -> bool:
    """Whether every row of ``program`` is one :func:`make_mean_row` can run."""
    return program.n_stage == 1 and program.n_mem == 0 and program.n_noise == 0 and bool((program.stages == 1).all())


def make_runner(score, score_jac):
    """The executor for one score component (a closure, compiled once per component)."""

    mean_row = make_mean_row(score, score_jac)

    @variant(score, score_jac, cache=True, error_model="numpy", _nrt=False)
    def run(i, Y, yr, sym, pt, ws, tan, tpt, J, lu, jac, r_lo, r_hi,
            steps, stages, stage_abar, stage_coef, out_coef, mem_coef, n_mem, n_noise, keys,
            lw, mean, iv, U, full, p0, p1, p2, p3):
        """Advance sample ``i`` through program rows ``r_lo..r_hi-1`` (all of them: from ``Y_T = Y[yr]`` to
        ``Y_to``) in place (a row, not a view).  Returns the first
        step ``t`` at which ``det dY/dY_T <= 0`` (0: none) and ``log|det dY_to/dY_T|``
        (both only meaningful when ``jac == 2``)."""
        d = Y.shape[1]
        P = stage_coef.shape[2]
        S = stage_abar.shape[1]
        z0 = 1 + n_mem
        s0 = z0 + n_noise
        if r_hi == r_lo + 1 and S == 1 and s0 == 1 and stages[r_lo] == 1 and jac != 2:
            mean_row(r_lo, i, Y, yr, sym, pt, ws, tan, J, jac, stage_coef, out_coef,
                     lw, mean, iv, U, full, p0, p1, p2, p3)
            return 0, 0.0
        # rows written before they are read (normals, evaluations, new values) are not cleared;
        # coefficients of evaluations a step does not make are zero and skipped
        for a in range(d):
            sym[0, a] = Y[yr, a]
        for p in range(1, z0):
            for a in range(d):
                sym[p, a] = 0.0
        if jac:
            for p in range(s0):   # Y_T itself, the (absent) state and the normals
                for a in range(d):
                    for b in range(d):
                        tan[p, a, b] = 1.0 if (p == 0 and a == b) else 0.0
        bad = 0
        for r in range(r_lo, r_hi):
            for j in range(n_noise):
                key = sample_key(keys[r, j], i)
                for a in range(d):
                    sym[z0 + j, a] = normal(key, a)
            for st in range(stages[r]):
                row = s0 + st
                for a in range(d):
                    acc = 0.0
                    for p in range(row):
                        c = stage_coef[r, st, p]
                        if c != 0.0:
                            acc += c * sym[p, a]
                    pt[a] = acc
                if jac:
                    for a in range(d):
                        for b in range(d):
                            acc = 0.0
                            for p in range(row):
                                c = stage_coef[r, st, p]
                                if c != 0.0:
                                    acc += c * tan[p, a, b]
                            tpt[a, b] = acc
                    score_jac(r * S + st, i, pt, sym, row, J, ws, lw, mean, iv, U, full, p0, p1, p2, p3)
                    for a in range(d):
                        for b in range(d):
                            acc = 0.0
                            for m in range(d):
                                acc += J[a, m] * tpt[m, b]
                            tan[row, a, b] = acc
                else:
                    score(r * S + st, i, pt, sym, row, ws, lw, mean, iv, U, full, p0, p1, p2, p3)
            # new Y into row P, new state m into row P + 1 + m; then replace the old
            for o in range(n_mem + 1):
                dst = P + o
                for a in range(d):
                    acc = 0.0
                    for p in range(P):
                        c = out_coef[r, p] if o == 0 else mem_coef[r, o - 1, p]
                        if c != 0.0:
                            acc += c * sym[p, a]
                    sym[dst, a] = acc
                if jac:
                    for a in range(d):
                        for b in range(d):
                            acc = 0.0
                            for p in range(P):
                                c = out_coef[r, p] if o == 0 else mem_coef[r, o - 1, p]
                                if c != 0.0:
                                    acc += c * tan[p, a, b]
                            tan[dst, a, b] = acc
            for o in range(n_mem + 1):
                for a in range(d):
                    sym[o, a] = sym[P + o, a]
                if jac:
                    for a in range(d):
                        for b in range(d):
                            tan[o, a, b] = tan[P + o, a, b]
            if jac == 2 and bad == 0:
                for a in range(d):
                    for b in range(d):
                        lu[a, b] = tan[0, a, b]
                if det_sign(lu) <= 0.0:
                    bad = steps[r]
        for a in range(d):
            Y[yr, a] = sym[0, a]
        logdet = 0.0
        if jac == 2:
            for a in range(d):
                for b in range(d):
                    lu[a, b] = tan[0, a, b]
            _, logdet = slogdet(lu)
        return bad, logdet

    return run


def make_sample(run):
    """One sample of a sampling kernel, shared by the CPU block loop and the CUDA thread."""

    @variant(run, cache=True, error_model="numpy", _nrt=False)
    def sample_one(i, y, logdet, bad, jac, draw_init, init_key, sym, pt, ws, tan, tpt, J, lu,
                   steps, stages, stage_abar, stage_coef, out_coef, mem_coef, n_mem, n_noise, keys,
                   lw, mean, iv, U, full, p0, p1, p2, p3):
        """Sample ``i``: ``Y_T ~ N(0, I)`` from stream step 0 when ``draw_init``, then the run."""
        if draw_init:
            key = sample_key(init_key, i)
            for a in range(y.shape[1]):
                y[i, a] = normal(key, a)
        b, ld = run(i, y, i, sym, pt, ws, tan, tpt, J, lu, jac, 0, steps.shape[0],
                    steps, stages, stage_abar, stage_coef, out_coef, mem_coef, n_mem, n_noise, keys,
                    lw, mean, iv, U, full, p0, p1, p2, p3)
        bad[i] = b
        logdet[i] = ld

    return sample_one


stabilize(globals())
