"""Counter-based normal draws: every number is a pure function of
``(seed, step, slot, sample index, coordinate)``, in NumPy and, side by side, in the
compiled kernels.

This is what lets the NumPy reference, the compiled CPU kernels and the CUDA kernels draw
the same noise, whatever the thread count or block size (docs/math/noise.md).  Each key is
hashed by a chain of splitmix64 finalisers (Steele, Lea & Flood 2014); two 53-bit uniforms
give one normal by the cosine branch of Box–Muller.  Only integer operations decide the
uniforms, so they are bit-identical on every backend; the normal differs at most in the
last ulps of ``log`` and ``cos`` (the kernels use :mod:`accnum.kernels.vmath`'s vectorisable
forms, within two ulps of NumPy's).

Stream layout: a sampler's step ``t`` uses ``step = t`` (1..T) and slots ``0..k-1``;
``step = 0`` is the initial point ``Y_T``; ``GaussianMixture.sample`` uses step 2**32 - 1.
Slot 2**32 - 1 of step ``t`` is reserved for a sampler's own random parameters, drawn
with the sampler's seed rather than the sampling seed: ``randmid-ode`` takes its random
midpoint time of step ``t`` as ``uniforms(sampler_seed, t, 2**32 - 1, 1, 1)``.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from .kernels.layout import OPTS
from .kernels.numba_compat import stabilize
from .kernels.vmath import vcos_2pi, vlog

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_TWO_M53 = 2.0**-53


def mix64(z):
    """splitmix64's finaliser on uint64 arrays (wrapping arithmetic)."""
    z = np.asarray(z, dtype=np.uint64)
    with np.errstate(over="ignore"):
        z = (z ^ (z >> np.uint64(30))) * _M1
        z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


def stream_key(seed: int, step, slot):
    """The 64-bit key of one ``(seed, step, slot)`` stream; ``step`` and ``slot`` may be
    integer arrays (broadcast together), giving an array of keys."""
    with np.errstate(over="ignore"):
        k = mix64(np.uint64(seed) + _GOLDEN)
    k = mix64(k ^ np.asarray(step, dtype=np.uint64))
    return mix64(k ^ np.asarray(slot, dtype=np.uint64))


def _uniform_pair(seed, step, slot, n, d, start=0):
    key = stream_key(seed, step, slot)
    i = np.arange(start, start + n, dtype=np.uint64)[:, None]
    j = np.arange(d, dtype=np.uint64)[None, :]
    k = mix64(key ^ i)
    two_j = np.uint64(2) * j
    a = mix64(k ^ (two_j + np.uint64(1)))
    b = mix64(k ^ (two_j + np.uint64(2)))
    u1 = ((a >> np.uint64(11)) + np.uint64(1)).astype(np.float64) * _TWO_M53   # in (0, 1]
    u2 = (b >> np.uint64(11)).astype(np.float64) * _TWO_M53                    # in [0, 1)
    return u1, u2


def normals(seed: int, step: int, slot: int, n: int, d: int, start: int = 0) -> np.ndarray:
    """Standard normals of shape ``(n, d)`` for samples ``start .. start+n-1``."""
    u1, u2 = _uniform_pair(seed, step, slot, n, d, start)
    return np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)


def uniforms(seed: int, step: int, slot: int, n: int, d: int, start: int = 0) -> np.ndarray:
    """Uniforms on ``(0, 1]`` of shape ``(n, d)`` (the first uniform of each pair)."""
    return _uniform_pair(seed, step, slot, n, d, start)[0]


# ------------------------------------------------------------------ compiled, one number at a time
# The same integer operations as above, for the kernels.  Every constant is a uint64: Numba
# turns mixed signed/unsigned integer arithmetic into floats.
_S30, _S27, _S31, _S11 = np.uint64(30), np.uint64(27), np.uint64(31), np.uint64(11)
_ONE, _TWO = np.uint64(1), np.uint64(2)


@numba.njit(**OPTS)
def mix64_one(z):
    """splitmix64's finaliser on one uint64 (:func:`mix64`)."""
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


@numba.njit(**OPTS)
def sample_key(stream, i):
    """The key of sample ``i`` in a stream (a key of :func:`stream_key`)."""
    return mix64_one(stream ^ np.uint64(i))


@numba.njit(**OPTS)
def uniform_one(key, j):
    """Coordinate ``j``'s uniform on (0, 1] under sample key ``key`` (:func:`uniforms`)."""
    a = mix64_one(key ^ (_TWO * np.uint64(j) + _ONE))
    return np.float64((a >> _S11) + _ONE) * _TWO_M53


@numba.njit(**OPTS)
def normal_one(key, j):
    """Coordinate ``j``'s standard normal under sample key ``key`` (:func:`normals`)."""
    two_j = _TWO * np.uint64(j)
    a = mix64_one(key ^ (two_j + _ONE))
    b = mix64_one(key ^ (two_j + _TWO))
    u1 = np.float64((a >> _S11) + _ONE) * _TWO_M53
    u2 = np.float64(b >> _S11) * _TWO_M53
    return math.sqrt(-2.0 * vlog(u1)) * vcos_2pi(u2)


@numba.njit(**OPTS)
def normals_lanes(stream, i0, out):
    """``out[a, l]`` = coordinate ``a``'s normal of sample ``i0 + l`` in ``stream``: a block of
    lanes (the loop over lanes innermost, so it vectorises)."""
    d, L = out.shape
    for a in range(d):
        for l in range(L):
            out[a, l] = normal_one(sample_key(stream, i0 + l), a)


stabilize(globals())
