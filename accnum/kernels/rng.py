"""The counter-based normal generator of :mod:`accnum.noise`, one sample at a time, for
the compiled kernels (CPU and CUDA).  Integer operations are the same as the NumPy
version, so the uniforms are bit-identical; the normal differs at most in the last ulp
of ``log``/``cos``.  Every constant is a ``uint64``: Numba turns mixed signed/unsigned
integer arithmetic into floats."""

from __future__ import annotations

import math

import numba
import numpy as np
from ._stable import stabilize

_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31, _S11 = np.uint64(30), np.uint64(27), np.uint64(31), np.uint64(11)
_ONE, _TWO = np.uint64(1), np.uint64(2)
_TWO_M53 = 2.0**-53
_TWO_PI = 2.0 * math.pi


@numba.njit(cache=True, inline="always")
def mix64(z):
    """splitmix64's finaliser (Steele, Lea & Flood 2014), wrapping uint64 arithmetic."""
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


@numba.njit(cache=True, inline="always")
def sample_key(stream, i):
    """The key of sample ``i`` in a stream (``noise.stream_key``)."""
    return mix64(stream ^ np.uint64(i))


@numba.njit(cache=True, inline="always")
def uniform(key, j):
    """Coordinate ``j``'s uniform on (0, 1] under sample key ``key`` (``noise.uniforms``)."""
    a = mix64(key ^ (_TWO * np.uint64(j) + _ONE))
    return np.float64((a >> _S11) + _ONE) * _TWO_M53


@numba.njit(cache=True, inline="always")
def normal(key, j):
    """Coordinate ``j``'s standard normal under sample key ``key`` (Box–Muller, cosine branch)."""
    two_j = _TWO * np.uint64(j)
    a = mix64(key ^ (two_j + _ONE))
    b = mix64(key ^ (two_j + _TWO))
    u1 = np.float64((a >> _S11) + _ONE) * _TWO_M53
    u2 = np.float64(b >> _S11) * _TWO_M53
    return math.sqrt(-2.0 * math.log(u1)) * math.cos(_TWO_PI * u2)


stabilize(globals())
