"""Elementary functions that LLVM can vectorise: pure arithmetic, no calls, tables or branches.

llvmlite here is not built with Intel's SVML, so ``math.exp`` in a loop over lanes stays a
scalar libm call and keeps the loop scalar.  These functions use only multiply, add
(fused where the kernels allow it), compare-and-select and 64-bit integer operations on a
float's bits (``np.float64(x).view(np.int64)``, an LLVM bitcast), so a loop over lanes
that calls them becomes vector code.  The same source compiles for CUDA.

Accuracy (measured against long-double references over their whole domains; the kernels'
tests check the end results against NumPy):

* ``vexp``/``vexp_neg``: e^x to 0.95 ulp, exactly 0 below -745.2 (and at -inf), subnormal
  results rounded once; ``x = n ln2 + r`` with ``n`` from the 1.5 * 2^52 shifter (which is
  why the kernels never allow ``fastmath`` reassociation: it folds the shifter away), a
  degree-13 Taylor polynomial for e^r, and 2^n written into the exponent field in two halves.
* ``vlog``: 0.84 ulp for normal positive x (fdlibm's ``e_log.c`` reduction and polynomial).
* ``vcos_2pi``: cos(fl(2 pi u)) for u in [0, 1) to 1.8 ulp (Cody–Waite reduction by pi/2).
* ``vtanh``: 2.5 ulp, through expm1 on the same reduction as exp.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from .layout import OPTS
from .numba_compat import stabilize

LOG2E = 1.4426950408889634          # 1/ln 2
LN2HI = 6.93147180369123816490e-01  # fdlibm: 0x3fe62e42fee00000 (low 21 bits zero)
LN2LO = 1.90821492927058770002e-10  # ln2 - LN2HI
SHIFT = 6755399441055744.0           # 1.5 * 2^52: x + SHIFT rounds x to an integer in the low bits
SHIFT_BITS = np.int64(0x4338000000000000)
BIAS = np.int64(1023)
S52 = np.int64(52)
ONE_I = np.int64(1)

# 1/k! for the Taylor polynomial of e^r (k = 2..13)
C2, C3, C4, C5, C6, C7 = [1.0 / math.factorial(k) for k in range(2, 8)]
C8, C9, C10, C11, C12, C13 = [1.0 / math.factorial(k) for k in range(8, 14)]


@numba.njit(**OPTS)
def _pow2(n):
    """2^n for -1022 <= n <= 1023 (an int64), by writing the exponent field."""
    return np.int64((n + BIAS) << S52).view(np.float64)


@numba.njit(**OPTS)
def _reduce(x):
    """(n as float, n as int64, r) with x = n ln2 + r, |r| <= ~0.347 (|x| <= ~1100)."""
    kd = x * LOG2E + SHIFT
    fn = kd - SHIFT                                     # exact: the nearest integer to x/ln2
    n = np.float64(kd).view(np.int64) - SHIFT_BITS      # the same integer, from the low bits
    r = (x - fn * LN2HI) - fn * LN2LO
    return fn, n, r


@numba.njit(**OPTS)
def _expm1_poly(r):
    """e^r - 1 for |r| <= 0.35 (Taylor to r^13; Horner)."""
    q = C13
    q = q * r + C12
    q = q * r + C11
    q = q * r + C10
    q = q * r + C9
    q = q * r + C8
    q = q * r + C7
    q = q * r + C6
    q = q * r + C5
    q = q * r + C4
    q = q * r + C3
    q = q * r + C2
    return r + (r * r) * q


@numba.njit(**OPTS)
def vexp(x):
    """e^x, max error ~1 ulp (see test_vmath.py), 0 for x < -745.2 or -inf, inf for x >= 710."""
    x = min(max(x, -746.0), 710.0)
    fn, n, r = _reduce(x)
    p = 1.0 + _expm1_poly(r)
    n1 = n >> ONE_I                  # arithmetic shift: n1 = floor(n/2), n2 = n - n1, both in [-539, 512]
    return (p * _pow2(n1)) * _pow2(n - n1)


@numba.njit(**OPTS)
def vexp_neg(x):
    """e^x for x <= 0 only (the responsibilities' exp(e_k - max e)): the same, one clamp less."""
    x = max(x, -746.0)
    fn, n, r = _reduce(x)
    p = 1.0 + _expm1_poly(r)
    n1 = n >> ONE_I
    return (p * _pow2(n1)) * _pow2(n - n1)


@numba.njit(**OPTS)
def vexpm1(x):
    """e^x - 1 for |x| <= 709 (accurate near 0: no cancellation for n = 0)."""
    x = min(max(x, -746.0), 709.0)
    fn, n, r = _reduce(x)
    pm = _expm1_poly(r)
    n1 = n >> ONE_I
    s = _pow2(n1) * _pow2(n - n1)    # 2^n exactly (n >= -1076: 2^n >= 2^-1076 may round to 0, harmless here)
    return s * pm + (s - 1.0)


@numba.njit(**OPTS)
def vtanh(x):
    """tanh x = expm1(2|x|) / (expm1(2|x|) + 2), signed; 1 for |x| > 20 (exactly, in double)."""
    ax = min(abs(x), 20.0)
    e = vexpm1(2.0 * ax)
    t = e / (e + 2.0)
    return t if x >= 0.0 else -t


# ------------------------------------------------------------------------- log (fdlibm e_log.c)
LG1 = 6.666666666666735130e-01
LG2 = 3.999999999940941908e-01
LG3 = 2.857142874366239149e-01
LG4 = 2.222219843214978396e-01
LG5 = 1.818357216161805012e-01
LG6 = 1.531383769920937332e-01
LG7 = 1.479819860511658591e-01
MANT = np.int64(0x000FFFFFFFFFFFFF)
ONE_BITS = np.int64(0x3FF0000000000000)
EXP_MASK = np.int64(0x7FF)
SQRT2 = 1.4142135623730951


@numba.njit(**OPTS)
def vlog(x):
    """log x for normal positive finite x (the generator's u1 in [2^-53, 1]); no special cases."""
    i = np.float64(x).view(np.int64)
    k = ((i >> S52) & EXP_MASK) - BIAS
    m = np.int64((i & MANT) | ONE_BITS).view(np.float64)   # in [1, 2)
    big = m > SQRT2
    m = 0.5 * m if big else m                              # in [sqrt2/2, sqrt2)
    fk = np.float64(k) + (1.0 if big else 0.0)
    f = m - 1.0
    s = f / (2.0 + f)
    z = s * s
    w = z * z
    t1 = w * (LG2 + w * (LG4 + w * LG6))
    t2 = z * (LG1 + w * (LG3 + w * (LG5 + w * LG7)))
    R = t2 + t1
    hfsq = 0.5 * f * f
    return fk * LN2HI - ((hfsq - (s * (hfsq + R) + fk * LN2LO)) - f)


# ------------------------------------------------------------------------- cos(2 pi u)
TWO_PI = 2.0 * math.pi
TWO_PI_HI = 6.28318530717958623200e+00
TWO_PI_LO = 2.44929359829470635445e-16   # 2 pi - TWO_PI_HI


@numba.njit(**OPTS)
def _cos_poly(t):
    """cos t, |t| <= pi/4 (Taylor to t^20)."""
    z = t * t
    p = 1.0 / 2432902008176640000.0         # 1/20!
    p = p * z - 1.0 / 6402373705728000.0    # 1/18!
    p = p * z + 1.0 / 20922789888000.0      # 1/16!
    p = p * z - 1.0 / 87178291200.0         # 1/14!
    p = p * z + 1.0 / 479001600.0           # 1/12!
    p = p * z - 1.0 / 3628800.0             # 1/10!
    p = p * z + 1.0 / 40320.0               # 1/8!
    p = p * z - 1.0 / 720.0                 # 1/6!
    p = p * z + 1.0 / 24.0                  # 1/4!
    return 1.0 - 0.5 * z + (z * z) * p


@numba.njit(**OPTS)
def _sin_poly(t):
    """sin t, |t| <= pi/4 (Taylor to t^21)."""
    z = t * t
    p = -1.0 / 51090942171709440000.0       # 1/21!
    p = p * z + 1.0 / 121645100408832000.0  # 1/19!
    p = p * z - 1.0 / 355687428096000.0     # 1/17!
    p = p * z + 1.0 / 1307674368000.0       # 1/15!
    p = p * z - 1.0 / 6227020800.0          # 1/13!
    p = p * z + 1.0 / 39916800.0            # 1/11!
    p = p * z - 1.0 / 362880.0              # 1/9!
    p = p * z + 1.0 / 5040.0                # 1/7!
    p = p * z - 1.0 / 120.0                 # 1/5!
    p = p * z + 1.0 / 6.0                   # 1/3!
    return t - (t * z) * p


@numba.njit(**OPTS)
def vcos_2pi(u):
    """cos(fl(2 pi u)), as accnum.noise computes it (np.cos(2 pi u)), for u in [0, 1):
    reduction of t = fl(2 pi u) by pi/2 in two parts (Cody-Waite; ample for |t| < 7)."""
    t = TWO_PI * u
    # q = round(t / (pi/2)) in 0..4, r = t - q pi/2 in three parts (fdlibm pio2_1, pio2_2, pio2_2t;
    # the first two have 33 significant bits, so q * part and the first subtractions are exact)
    q = (t * (2.0 / math.pi) + SHIFT) - SHIFT
    r = (t - q * 1.57079632673412561417e+00) - q * 6.07710050630396597660e-11
    r = r - q * 2.02226624879595063154e-21
    c = _cos_poly(r)
    s = _sin_poly(r)
    qi = np.float64(q + SHIFT).view(np.int64)            # low bits = q
    odd = (qi & ONE_I) != 0
    neg = ((qi + ONE_I) & np.int64(2)) != 0              # q = 1, 2 (mod 4)
    res = s if odd else c
    return -res if neg else res




stabilize(globals())
