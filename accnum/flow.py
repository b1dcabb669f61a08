"""The exact probability-flow map of a Gaussian mixture: where the ODE every deterministic
sampler discretises takes a point from one noise level to another
(docs/math/flow.md#ode).

In log-SNR ``lambda`` (docs/math/forward.md#log-snr), with ``abar = sigmoid(2 lambda)``, the
probability-flow ODE of the variance-preserving process is

    dx / d lambda = (1 - abar) (x + s*(x, abar)),

with ``s*`` the exact score of ``q_abar``.  Its flow carries ``q_abar`` to ``q_abar'``.  For a
Gaussian target (K = 1) the flow is affine and known in closed form: with
``Sigma = U diag(l) U^T``, ``x' = m' + U diag(sqrt(c'/c)) U^T (x - m)``, ``m = sqrt(abar) mu``,
``c = abar l + 1 - abar``.  For a mixture it is integrated with an adaptive 8th-order
Runge-Kutta method (DOP853) to a relative and absolute tolerance of 1e-12, the reference
against which a sampler's one-step (local) error is measured.
"""

from __future__ import annotations

import numpy as np
from scipy.integrate import solve_ivp
from scipy.special import expit

from . import _checks
from .errors import InvalidInput, NumericalFailure
from .targets import resolve as resolve_target

METHODS = ("auto", "closed", "ode")


def _levels(abars) -> np.ndarray:
    a = _checks.finite("abars", _checks.as_float_array("abars", abars, ndim=(1,)))
    if a.size < 1:
        raise InvalidInput("abars must hold at least one noise level")
    if np.any(a <= 0) or np.any(a >= 1):
        raise InvalidInput("abars must lie in (0, 1): the flow is not defined at abar = 0 or 1")
    d = np.diff(a)
    if a.size > 1 and not (np.all(d > 0) or np.all(d < 0)):
        raise InvalidInput("abars must be strictly monotone (all increasing, towards the data, or all decreasing)")
    return a


def _lam(a):
    return 0.5 * (np.log(a) - np.log1p(-a))


def _closed(tg, x, a):
    """Closed-form flow of a Gaussian target through the levels ``a`` (K = 1)."""
    lam_vals, U = np.linalg.eigh(tg.covariance_matrices()[0])
    mu = tg.means[0]
    z = (x - np.sqrt(a[0]) * mu) @ U                        # deviation in the eigenbasis
    c0 = a[0] * lam_vals + 1 - a[0]
    out = np.empty((a.size,) + x.shape)
    for i, ai in enumerate(a):
        ci = ai * lam_vals + 1 - ai
        out[i] = np.sqrt(ai) * mu + (z * np.sqrt(ci / c0)) @ U.T
    out[0] = x      # the start itself, not its round trip through the eigenbasis
    return out


def _ode(tg, x, a, rtol):
    n, d = x.shape
    lam = _lam(a)

    def rhs(l, y):
        ab, one_minus = float(expit(2 * l)), float(expit(-2 * l))
        pts = y.reshape(n, d)
        return (one_minus * (pts + tg.diffused(ab).score(pts))).ravel()

    if a.size == 1:
        return x[None].copy()
    sol = solve_ivp(rhs, (lam[0], lam[-1]), x.ravel(), method="DOP853", t_eval=lam, rtol=rtol, atol=rtol)
    if not sol.success or sol.y.shape[1] != a.size:
        raise NumericalFailure(f"the probability-flow ODE could not be integrated to rtol = {rtol:g}: {sol.message}")
    return sol.y.T.reshape(a.size, n, d)


def flow_path(target, x, abars, method: str = "auto", rtol: float = 1e-12) -> np.ndarray:
    """The exact flow of points ``x`` (n, d), which lie at noise level ``abars[0]``, through
    every level of ``abars`` (strictly monotone, in (0, 1)): an array ``(len(abars), n, d)``
    whose first row is ``x``.  ``method``: ``"closed"`` (Gaussian targets), ``"ode"``
    (DOP853 to ``rtol``) or ``"auto"`` (closed form when K = 1)."""
    tg = resolve_target(target)
    x, _ = _checks.points("x", x, tg.d)
    a = _levels(abars)
    _checks.choice("method", method, METHODS)
    rtol = _checks.real("rtol", rtol, low=1e-14, high=1e-3)
    if method == "closed" and tg.K != 1:
        raise InvalidInput(f"method 'closed' needs a Gaussian target (K = 1); this one has K = {tg.K}")
    if method == "closed" or (method == "auto" and tg.K == 1):
        return _closed(tg, x, a)
    return _ode(tg, x, a, rtol)


def flow(target, x, abar_from: float, abar_to: float, method: str = "auto", rtol: float = 1e-12) -> np.ndarray:
    """The exact flow map from noise level ``abar_from`` to ``abar_to`` applied to ``x`` (n, d)."""
    a0 = _checks.real("abar_from", abar_from, low=0.0, high=1.0, low_open=True, high_open=True)
    a1 = _checks.real("abar_to", abar_to, low=0.0, high=1.0, low_open=True, high_open=True)
    if a0 == a1:
        tg = resolve_target(target)
        return _checks.points("x", x, tg.d)[0].copy()
    return flow_path(target, x, [a0, a1], method, rtol)[-1]


__all__ = ["flow", "flow_path"]
