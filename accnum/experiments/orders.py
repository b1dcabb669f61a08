"""Fitting observed orders (docs/math/orders.md#fit): ``log err = a + p log h`` by least squares.

``h = h_T`` (``c1 log T / T`` for li2024, ``1/T`` otherwise).  The confidence interval is
the t-interval of the slope; the raw slope against T and the slope against total NFE are
reported beside it, since ``h_T`` carries a ``log T`` and the theorems polylog factors.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats
from ..errors import InvalidInput


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


def observed_order(T, h, err, nfe=None) -> dict:
    """Order ``p`` of ``err ~ h^p`` with its 95% CI, the raw slope against ``T`` and, when
    given, the slope against total NFE.  Non-finite or non-positive errors are dropped."""
    T, h, err = (np.asarray(a, dtype=np.float64) for a in (T, h, err))
    keep = np.isfinite(err) & (err > 0)
    if keep.sum() < 2:
        return {"order": float("nan"), "ci_low": float("nan"), "ci_high": float("nan"), "raw_slope": float("nan"),
                "nfe_slope": float("nan"), "points": int(keep.sum())}
    fit = fit_slope(np.log(h[keep]), np.log(err[keep]))
    out = {"order": fit["slope"], "ci_low": fit["ci_low"], "ci_high": fit["ci_high"], "intercept": fit["intercept"],
           "raw_slope": fit_slope(np.log(T[keep]), np.log(err[keep]))["slope"], "points": int(keep.sum())}
    if nfe is not None:
        out["nfe_slope"] = fit_slope(np.log(np.asarray(nfe, dtype=np.float64)[keep]), np.log(err[keep]))["slope"]
    return out
