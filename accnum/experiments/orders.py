"""Fitting observed orders (docs/math/orders.md#fit): ``log err = a + p log h`` by least squares.

``h = h_T`` (``c1 log T / T`` for li2024, ``1/T`` otherwise).  The confidence interval is
the t-interval of the slope; the raw slope against T and the slope against total NFE are
reported beside it, since ``h_T`` carries a ``log T`` and the theorems polylog factors.
Beside the one fitted order: the local orders between neighbouring T
(docs/math/orders.md#local-order), a fit over a sub-range of T, the polylog fit
``err = C T^-p (log T)^k`` (docs/math/orders.md#polylog-fit) and the exponent of the
dimension at fixed T (docs/math/orders.md#exponent-of-d), all from the same least squares.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

from .. import _checks
from ..errors import InvalidInput, InvalidType

_NAN = float("nan")


def fit_slope(x, y, level: float = 0.95) -> dict:
    """OLS slope of ``y`` on ``x`` with its standard error and ``level`` t-interval."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    m = x.size
    if m < 2:
        raise InvalidInput("an order needs at least two values of T")
    xm = x - x.mean()
    sxx = float(xm @ xm)
    slope = float(xm @ (y - y.mean()) / sxx)
    intercept = float(y.mean() - slope * x.mean())
    if m > 2:
        resid = y - intercept - slope * x
        se = math.sqrt(float(resid @ resid) / (m - 2) / sxx)
        half = float(stats.t.ppf(0.5 + level / 2, m - 2)) * se
    else:
        se, half = float("nan"), float("nan")
    return {"slope": slope, "intercept": intercept, "se": se, "ci_low": slope - half, "ci_high": slope + half}


def fit_linear(X, y, level: float = 0.95) -> dict:
    """OLS of ``y`` on the columns of ``X`` (an intercept is added): coefficients, their
    standard errors and ``level`` t-intervals (``m - 1 - columns`` degrees of freedom; none
    when the fit is exact)."""
    X, y = np.asarray(X, dtype=np.float64), np.asarray(y, dtype=np.float64)
    A = np.column_stack([np.ones(y.size), X])
    m, q = A.shape
    if m < q:
        raise InvalidInput(f"a fit with {q - 1} slopes needs at least {q} points, got {m}")
    coef, *_ = np.linalg.lstsq(A, y, rcond=None)
    dof = m - q
    if dof > 0:
        resid = y - A @ coef
        cov = float(resid @ resid) / dof * np.linalg.inv(A.T @ A)
        se = np.sqrt(np.maximum(np.diag(cov), 0.0))
        half = float(stats.t.ppf(0.5 + level / 2, dof)) * se
    else:
        se = half = np.full(q, np.nan)
    return {"coef": coef[1:], "intercept": float(coef[0]), "se": se[1:], "ci_low": coef[1:] - half[1:],
            "ci_high": coef[1:] + half[1:], "dof": dof}


def local_slopes(x, err) -> list[float | None]:
    """Slope of ``log err`` against ``log x`` between each point and the one before it
    (None for the first point and where an error is not finite and positive)."""
    x, err = np.asarray(x, dtype=np.float64), np.asarray(err, dtype=np.float64)
    out: list[float | None] = [None]
    for i in range(1, x.size):
        a, b = err[i - 1], err[i]
        ok = all(math.isfinite(v) and v > 0 for v in (a, b)) and x[i] != x[i - 1]
        out.append(float(math.log(b / a) / math.log(x[i] / x[i - 1])) if ok else None)
    return out


def fit_range(value) -> tuple[int, int] | None:
    """``(lo, hi)``, ``"lo:hi"`` or None: the inclusive range of T (or d) a fit uses."""
    if value is None:
        return None
    if isinstance(value, str):
        lo, sep, hi = value.partition(":")
        if not sep:
            raise InvalidInput(f"fit range must look like LO:HI (e.g. 200:1600), got {value!r}")
        try:
            value = (int(lo), int(hi))
        except ValueError:
            raise InvalidInput(f"fit range must be two integers LO:HI, got {value!r}") from None
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise InvalidType(f"fit range must be (lo, hi) or 'LO:HI', got a {type(value).__name__}")
    lo, hi = (_checks.integer("fit range", v, minimum=1) for v in value)
    if hi <= lo:
        raise InvalidInput(f"fit range must have LO < HI, got {lo}:{hi}")
    return lo, hi


def in_range(x, rng: tuple[int, int] | None) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    return np.ones(x.size, bool) if rng is None else (x >= rng[0]) & (x <= rng[1])


def observed_order(T, h, err, nfe=None, rng: tuple[int, int] | None = None) -> dict:
    """Order ``p`` of ``err ~ h^p`` with its 95% CI, the raw slope against ``T`` and, when
    given, the slope against total NFE, over the T in ``rng`` (all when None).
    Non-finite or non-positive errors are dropped."""
    T, h, err = (np.asarray(a, dtype=np.float64) for a in (T, h, err))
    keep = np.isfinite(err) & (err > 0) & in_range(T, rng)
    if keep.sum() < 2:
        return {"order": _NAN, "ci_low": _NAN, "ci_high": _NAN, "raw_slope": _NAN, "nfe_slope": _NAN,
                "points": int(keep.sum())}
    fit = fit_slope(np.log(h[keep]), np.log(err[keep]))
    out = {"order": fit["slope"], "ci_low": fit["ci_low"], "ci_high": fit["ci_high"], "intercept": fit["intercept"],
           "raw_slope": fit_slope(np.log(T[keep]), np.log(err[keep]))["slope"], "points": int(keep.sum())}
    if nfe is not None:
        out["nfe_slope"] = fit_slope(np.log(np.asarray(nfe, dtype=np.float64)[keep]), np.log(err[keep]))["slope"]
    return out


def fit_polylog(T, err, p: float | None = None, rng: tuple[int, int] | None = None) -> dict:
    """``err = C T^-p (log T)^k`` (docs/math/orders.md#polylog-fit): ``log err = a - p log T +
    k log log T`` by least squares, ``p`` and ``k`` with 95% t-intervals; with ``p`` given,
    only ``k`` is fitted (to ``log err + p log T``).  NaN where there are too few points
    (four for both, three for ``k`` alone)."""
    T, err = _checks.as_float_array("T", T, ndim=(1,)), _checks.as_float_array("err", err, ndim=(1,))
    if p is not None:
        p = _checks.real("p", p)
    keep = np.isfinite(err) & (err > 0) & in_range(T, rng) & (T > math.e)
    lt, ll, le = np.log(T[keep]), np.log(np.log(T[keep])), np.log(err[keep])
    out = {"p": _NAN, "p_low": _NAN, "p_high": _NAN, "k": _NAN, "k_low": _NAN, "k_high": _NAN, "p_fixed": p}
    if p is None:
        if keep.sum() >= 4:
            fit = fit_linear(np.column_stack([-lt, ll]), le)
            out.update(p=float(fit["coef"][0]), p_low=float(fit["ci_low"][0]), p_high=float(fit["ci_high"][0]),
                       k=float(fit["coef"][1]), k_low=float(fit["ci_low"][1]), k_high=float(fit["ci_high"][1]))
    elif keep.sum() >= 3:
        fit = fit_slope(ll, le + p * lt)
        out.update(p=float(p), p_low=float(p), p_high=float(p), k=fit["slope"], k_low=fit["ci_low"],
                   k_high=fit["ci_high"])
    return out


def observed_exponent(d, err, rng: tuple[int, int] | None = None) -> dict:
    """Exponent ``q`` of ``err ~ d^q`` at fixed T (docs/math/orders.md#exponent-of-d), with its
    95% interval, over the d in ``rng``; the local exponents between neighbouring d beside it."""
    d, err = np.asarray(d, dtype=np.float64), np.asarray(err, dtype=np.float64)
    keep = np.isfinite(err) & (err > 0) & in_range(d, rng)
    out = {"exponent": _NAN, "ci_low": _NAN, "ci_high": _NAN, "points": int(keep.sum()),
           "d_low": int(d[keep].min()) if keep.any() else None, "d_high": int(d[keep].max()) if keep.any() else None}
    if keep.sum() >= 2:
        fit = fit_slope(np.log(d[keep]), np.log(err[keep]))
        out.update(exponent=fit["slope"], ci_low=fit["ci_low"], ci_high=fit["ci_high"], intercept=fit["intercept"])
    return out
