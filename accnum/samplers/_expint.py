"""Exponential-integrator coefficients shared by the log-SNR multistep solvers.

``phi(k, z) = (e^z - sum_{j<k} z^j / j!) / z^k`` (so ``phi(1, z) = (e^z - 1)/z``), the
functions every exponential integrator is written in (Hochbruck & Ostermann 2010).
The reference codes build them by the recursion ``phi_{k+1} = (phi_k - 1/k!) / z``, which
loses ``k`` digits' worth of ``1/|z|`` at small steps; here the Taylor series is summed
for ``|z| < 1``, so the coefficients keep full precision at any T.  They depend only on
the schedule, never on a point, so the steps that use them stay linear.
"""

from __future__ import annotations

import math


def phi(k: int, z: float) -> float:
    """``(e^z - sum_{j<k} z^j/j!) / z^k``, accurate to rounding for every real ``z``."""
    if k == 0:
        return math.exp(z)
    if abs(z) < 1.0:
        # sum_{j>=0} z^j / (j + k)!
        term, total, j = 1.0 / math.factorial(k), 0.0, 0
        while True:
            total += term
            j += 1
            term *= z / (j + k)
            if abs(term) < 1e-17 * abs(total):
                return total + term
    head = sum(z**j / math.factorial(j) for j in range(k))
    return (math.exp(z) - head) / z**k


def moment_integral(k: int, a: float) -> float:
    """``int_0^1 s^k e^(a s) ds`` for real ``a`` (a series for ``|a| < 1``, else the
    stable-for-large-``|a|`` recursion ``J_k = (e^a - k J_{k-1}) / a``)."""
    if abs(a) < 1.0:
        term, total, j = 1.0, 0.0, 0
        while True:
            add = term / (k + j + 1)
            total += add
            j += 1
            term *= a / j
            if abs(add) < 1e-17 * abs(total):
                return total
    J = math.expm1(a) / a
    for m in range(1, k + 1):
        J = (math.exp(a) - m * J) / a
    return J
