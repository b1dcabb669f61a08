"""Small dense linear algebra on lane ``l`` of ``(d, d, L)`` arrays (tangents, Newton and
Gauss–Hermite matrices).  Pivoting makes each lane take its own path, so these loop over
one lane at a time; ``d`` is small wherever they are used."""

from __future__ import annotations

import math

import numba

from .layout import OPTS
from .numba_compat import stabilize


@numba.njit(**OPTS)
def lu_lane(A, l):
    """LU with partial pivoting of ``A[:, :, l]`` in place (``U`` on and above the diagonal);
    returns the sign of the row permutation, or 0 for a singular matrix."""
    d = A.shape[0]
    sign = 1.0
    for c in range(d):
        piv, best = c, abs(A[c, c, l])
        for r in range(c + 1, d):
            if abs(A[r, c, l]) > best:
                piv, best = r, abs(A[r, c, l])
        if best == 0.0:
            return 0.0
        if piv != c:
            sign = -sign
            for b in range(d):
                A[c, b, l], A[piv, b, l] = A[piv, b, l], A[c, b, l]
        for r in range(c + 1, d):
            f = A[r, c, l] / A[c, c, l]
            for b in range(c + 1, d):
                A[r, b, l] -= f * A[c, b, l]
    return sign


@numba.njit(**OPTS)
def det_sign_lane(A, l):
    """The sign of ``det A[:, :, l]``, in place, without logarithms (the per-step check)."""
    sign = lu_lane(A, l)
    for c in range(A.shape[0]):
        sign = -sign if A[c, c, l] < 0 else sign
    return sign


@numba.njit(**OPTS)
def slogdet_lane(A, l):
    """``(sign, log|det A[:, :, l]|)``, in place."""
    sign, logabs = lu_lane(A, l), 0.0
    if sign == 0.0:
        return 0.0, -math.inf
    for c in range(A.shape[0]):
        sign = -sign if A[c, c, l] < 0 else sign
        logabs += math.log(abs(A[c, c, l]))
    return sign, logabs


@numba.njit(**OPTS)
def det_lane(A, l):
    """``det A[:, :, l]``, in place (small, well-scaled matrices: the grid's Newton Jacobians)."""
    out = lu_lane(A, l)
    for c in range(A.shape[0]):
        out *= A[c, c, l]
    return out


@numba.njit(**OPTS)
def inverse_lane(A, out, l):
    """``out[:, :, l] = A[:, :, l]^{-1}`` by Gauss–Jordan with partial pivoting (``A`` is overwritten)."""
    d = A.shape[0]
    for r in range(d):
        for c in range(d):
            out[r, c, l] = 1.0 if r == c else 0.0
    for c in range(d):
        piv = c
        for r in range(c + 1, d):
            if abs(A[r, c, l]) > abs(A[piv, c, l]):
                piv = r
        for b in range(d):
            A[c, b, l], A[piv, b, l] = A[piv, b, l], A[c, b, l]
            out[c, b, l], out[piv, b, l] = out[piv, b, l], out[c, b, l]
        f = 1.0 / A[c, c, l]
        for b in range(d):
            A[c, b, l] *= f
            out[c, b, l] *= f
        for r in range(d):
            if r != c:
                g = A[r, c, l]
                for b in range(d):
                    A[r, b, l] -= g * A[c, b, l]
                    out[r, b, l] -= g * out[c, b, l]


@numba.njit(**OPTS)
def cholesky_lane(A, out, l):
    """Lower Cholesky factor of the symmetric part of ``A[:, :, l]`` into ``out[:, :, l]``."""
    d = A.shape[0]
    for r in range(d):
        for c in range(d):
            out[r, c, l] = 0.0
    for c in range(d):
        acc = 0.5 * (A[c, c, l] + A[c, c, l])
        for k in range(c):
            acc -= out[c, k, l] * out[c, k, l]
        out[c, c, l] = math.sqrt(acc)
        for r in range(c + 1, d):
            acc = 0.5 * (A[r, c, l] + A[c, r, l])
            for k in range(c):
                acc -= out[r, k, l] * out[c, k, l]
            out[r, c, l] = acc / out[c, c, l]


stabilize(globals())
