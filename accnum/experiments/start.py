"""The start's own error, and what the tables and figures say about it
(docs/math/orders.md#start-floor).

A sampler started from ``Y_T ~ N(0, I)`` instead of ``q_T`` carries an error no sampler
removes: the exact probability-flow map is a bijection that takes ``q_T`` to ``q_1``, so
started from ``N(0, I)`` it is off by exactly ``TV(N(0, I), q_T)`` and
``KL(N(0, I) || q_T)`` (both are invariant under bijections); the path KL carries
``KL(q_T || N(0, I))`` as its first term.  For a mixture these are integrals of closed
forms: the trapezoid rule on a fine grid in d <= 2, scrambled Sobol points beyond, with
the integrands written through ``expm1`` of the log-ratio so that their error is relative.

:func:`start_errors` measures them for every T of a run; :func:`warnings_for` says where
they come within a factor 3 of a measured error, where an observed order measures the
start and not the sampler.
"""

from __future__ import annotations

import math
import warnings as _warnings

import numpy as np
from scipy.special import ndtri
from scipy.stats import qmc

from .. import _checks
from ..errors import InvalidInput
from ..targets import resolve as resolve_target

#: a measured error within this factor of the start's own error is flagged
FACTOR = 3.0
QUANTITIES = ("tv", "kl", "kl_qp")


class StartErrorWarning(UserWarning):
    """The start's own error (from ``Y_T ~ N(0, I)``) is within a factor 3 of a measured error."""


def _integrands(log_rho):
    """Per point of N(0, I), with ``rho = q_T / phi``: the TV, KL(phi || q_T) and
    KL(q_T || phi) integrands, each non-negative and of order (rho - 1)^2 or |rho - 1|."""
    rm1 = np.expm1(log_rho)
    return {"tv": np.maximum(-rm1, 0.0), "kl": rm1 - log_rho,
            "kl_qp": (1.0 + rm1) * log_rho - rm1}


def _grid(qT, d, points):
    axis = np.linspace(-14.0, 14.0, points)
    w = np.full(points, axis[1] - axis[0])
    w[[0, -1]] *= 0.5
    if d == 1:
        x, wt = axis[:, None], w
    else:
        a, b = np.meshgrid(axis, axis, indexing="ij")
        x, wt = np.stack([a.ravel(), b.ravel()], axis=1), np.outer(w, w).ravel()
    log_phi = -0.5 * np.sum(x * x, axis=1) - 0.5 * d * math.log(2 * math.pi)
    ints = _integrands(qT.logpdf(x) - log_phi)
    pw = wt * np.exp(log_phi)
    return {k: (float(pw @ v), 0.0) for k, v in ints.items()}


def _qmc(qT, d, seed, replicates=16, m=4096):
    vals = {k: [] for k in QUANTITIES}
    for r in range(replicates):
        u = qmc.Sobol(d, scramble=True, seed=np.random.default_rng([seed, 7, r])).random(m)
        x = ndtri(np.clip(u, 2**-60, 1 - 2**-53))
        log_phi = -0.5 * np.sum(x * x, axis=1) - 0.5 * d * math.log(2 * math.pi)
        for k, v in _integrands(qT.logpdf(x) - log_phi).items():
            vals[k].append(float(v.mean()))
    return {k: (float(np.mean(v)), float(np.std(v, ddof=1) / math.sqrt(replicates))) for k, v in vals.items()}


def start_error(target, schedule, seed: int = 0) -> dict:
    """``TV(N(0, I), q_T)``, ``KL(N(0, I) || q_T)`` (``kl``) and ``KL(q_T || N(0, I))``
    (``kl_qp``) for ``schedule``'s last level, each with its standard error (0 for the
    grid rules of d <= 2), and the method."""
    tg = resolve_target(target)
    sched = _checks.schedule(schedule)
    seed = _checks.seed(seed)
    qT = tg.diffused(sched.alpha_bar[sched.T])
    if tg.d <= 2:
        got, method = _grid(qT, tg.d, 20001 if tg.d == 1 else 1201), "trapezoid rule on [-14, 14]^d"
    else:
        got, method = _qmc(qT, tg.d, seed), "qmc x16, n=65536"
    out = {"T": sched.T, "method": method}
    for k, (v, se) in got.items():
        out[k], out[k + "_se"] = max(v, 0.0), se
    return out


def floor_of(metric: str) -> str | None:
    """Which start error a metric sits above (its registry entry's ``extra["start_floor"]``)."""
    from .. import metrics

    try:
        m = metrics.get(metric)
    except InvalidInput:
        return None
    return m.extra.get("start_floor")


def warnings_for(records, starts, factor: float = FACTOR) -> list[str]:
    """One line for every sampler whose measured errors come within ``factor`` of the start's
    own error (``starts``: :func:`start_error` per T), naming the metrics and T."""
    by_T = {s["T"]: s for s in starts}
    hits: dict = {}
    for r in records:
        key = floor_of(r["metric"])
        s = by_T.get(r["T"])
        est = r["estimate"]
        if key is None or s is None or est is None or not math.isfinite(est) or est <= 0:
            continue
        if s[key] * factor >= est:
            hits.setdefault(r["sampler"], {}).setdefault(r["metric"], []).append((r["T"], est, s[key]))
    out = []
    for sampler, per in hits.items():
        parts = []
        for metric, rows in per.items():
            T, est, st = rows[-1]
            parts.append(f"{metric} at T = {', '.join(str(t) for t, _, _ in rows)} (at T = {T}: {est:.2e} against "
                         f"the start's {st:.2e})")
        out.append(f"the start's own error from Y_T ~ N(0, I) is within a factor {factor:g} of {sampler}'s {'; '.join(parts)}: "
                   "the fitted order there measures the start, not the sampler; rerun with --init exact "
                   "(init='exact' in Python)")
    return out


def annotate(result, target, factory, Ts, init: str) -> None:
    """Add ``meta["start_error"]`` (from N(0, I) only) and ``meta["warnings"]`` to a rates
    result, and warn (:class:`StartErrorWarning`) for each warning."""
    if init != "gaussian":
        result.meta["warnings"] = []
        return
    starts = [start_error(target, factory(T)) for T in Ts]
    result.meta["start_error"] = starts
    result.meta["warnings"] = warnings_for(result.records, starts)
    for w in result.meta["warnings"]:
        _warnings.warn(w, StartErrorWarning, stacklevel=3)


def footer(meta) -> str:
    """The orders table's last lines: the variable the orders are in, what the raw slope
    means there, and the warnings."""
    name = meta.get("schedule_name", "li2024")
    if name == "li2024":
        text = ("orders in h = c1 log T / T; the raw slope against T sits below the order at moderate T (h_T carries "
                "log T, the theorems polylog factors)")
    elif name == "custom":
        text = ("orders in each schedule's own h (Schedule.h); the raw slope against T is minus the order only where "
                "h is proportional to 1/T")
    else:
        text = ("orders in h = 1/T, so the raw slope against T is exactly minus the order; the theorems' polylog "
                "factors can still lower the order at moderate T")
    fr = meta.get("fit_range")
    text += (f"; fitted over T = {fr[0]}..{fr[1]}" if fr else "") + "; 'local' is the order between neighbouring T"
    return "\n".join([text] + [f"warning: {w}" for w in meta.get("warnings", [])])
