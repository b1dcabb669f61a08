"""Counter-based normal draws: every number is a pure function of
``(seed, step, slot, sample index, coordinate)``.

This is what lets the NumPy reference, compiled CPU kernels and CUDA kernels draw the
same noise, whatever the thread count (SPEC §3, "Noise").  Each key is hashed by a chain
of splitmix64 finalisers (Steele, Lea & Flood 2014); two 53-bit uniforms give one normal
by the cosine branch of Box–Muller.  Only integer operations decide the uniforms, so they
are bit-identical on every backend; the normal differs at most by the last-ulp behaviour
of ``log``/``cos``.

Stream layout: a sampler's step ``t`` uses ``step = t`` (1..T) and slots ``0..k-1``;
``step = 0`` is the initial point ``Y_T``; ``GaussianMixture.sample`` uses step 2**32 - 1.
Slot 2**32 - 1 of step ``t`` is reserved for a sampler's own random parameters, drawn
with the sampler's seed rather than the sampling seed: ``randmid-ode`` takes its random
midpoint time of step ``t`` as ``uniforms(sampler_seed, t, 2**32 - 1, 1, 1)``.
"""

from __future__ import annotations

import numpy as np

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
