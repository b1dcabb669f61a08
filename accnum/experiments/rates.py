"""Convergence-order experiments: errors over a grid of T, fitted orders, table and plot.

``convergence(...)`` runs every (sampler, metric, T), returns a :class:`RatesResult` with a
tidy table of records (docs/math/orders.md#records) and the fitted orders
(docs/math/orders.md#fit) against the claimed ones, the local orders between neighbouring T
(docs/math/orders.md#local-order) and the polylog fit ``C T^-p (log T)^k``
(docs/math/orders.md#polylog-fit), optionally over a sub-range of T.  The metrics come from the registry
(:mod:`accnum.metrics.registry`): what each applies to, its sample sizes and how a claim
translates into it.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field


from .. import _checks, kernels
from .. import metrics as _metrics
from .. import schedules as _schedules
from ..errors import InvalidInput, InvalidType
from ..metrics import NonInvertibleMap, Request, check_metric, default_metrics
from ..run import _backend_for, resolve_score, sample
from ..samplers import get as get_sampler
from ..targets import resolve as resolve_target
from .orders import fit_polylog, fit_range as _fit_range, local_slopes, observed_order
from .provenance import record_base, versions
from .start import annotate as annotate_start
from .start import footer as start_footer
from .tidy import TidyResult

DEFAULT_TS = (25, 50, 100, 200, 400, 800, 1600)
DEFAULT_SAMPLERS = ("ddim-li", "accel-ode", "ddpm-li", "accel-sde")
RECORD_FIELDS = ("target", "target_hash", "sampler", "sampler_source", "score", "init", "schedule", "T", "h", "nfe",
                 "metric", "estimate", "stderr", "n", "seed", "backend", "version", "numpy", "numba", "note", "local_order")


def claimed_order(sampler, metric: str) -> tuple[float | None, str]:
    """The order a sampler's claim implies in ``metric`` (in ``h``), and on what basis."""
    return _metrics.claimed_order(get_sampler(sampler), metric)


def _sampler_list(samplers) -> list:
    """Sampler names or objects, at least one, none twice (a repeat would be fitted as more data)."""
    if isinstance(samplers, str) or not hasattr(samplers, "__iter__"):
        samplers = [samplers]
    samplers = list(samplers)
    if not samplers:
        raise InvalidInput("samplers must not be empty")
    _checks.distinct("samplers", [getattr(s, "name", s) for s in samplers])
    return samplers


def _resolve_ts(Ts) -> list[int]:
    return _checks.increasing("Ts", Ts, "T", 2)


def schedule_factory(name: str = "li2024", **params):
    """``T -> Schedule`` for a named schedule; the schedule is checked at each T it is built
    for (:func:`convergence` builds every requested T before any work starts)."""
    _checks.choice("schedule", name, _schedules.names())
    return lambda T: _schedules.get(name, T, **params)


def _checked_factory(factory):
    """A user's ``T -> Schedule`` callable, its results checked."""
    def build(T):
        sched = factory(T)
        if not isinstance(sched, _schedules.Schedule):
            raise InvalidType(f"schedule({T}) returned a {type(sched).__name__}, not a Schedule")
        if sched.T != T:
            raise InvalidInput(f"schedule({T}) returned a schedule with T = {sched.T} steps, not {T}")
        return sched
    return build


@dataclass
class RatesResult(TidyResult):
    SUMMARY = "orders"
    FIELDS = RECORD_FIELDS

    records: list[dict]
    orders: list[dict]
    meta: dict = field(default_factory=dict)
    timing: dict = field(default_factory=dict)

    # ------------------------------------------------------------------ output
    def table(self) -> str:
        """Errors by T (estimate ± standard error), one block per metric, then observed
        against claimed orders."""
        Ts = sorted({r["T"] for r in self.records})
        by = {(r["sampler"], r["metric"], r["T"]): r for r in self.records}
        lines = []
        for metric in self._metrics():
            cols = [s for s in self.meta.get("samplers", []) if (s, metric, Ts[0]) in by]
            rows = [[f"{metric}  T"] + [c for s in cols for c in (s, "local")]]
            for T in Ts:
                row = [str(T)]
                for s in cols:
                    r = by[(s, metric, T)]
                    est = r["estimate"]
                    row.append(f"{est:.3e} ± {r['stderr']:.0e}" if est is not None and math.isfinite(est)
                               else (r.get("note") or "n/a")[:20])
                    loc = r.get("local_order")
                    row.append("-" if loc is None or not math.isfinite(loc) else f"{loc:.2f}")
                rows.append(row)
            widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
            lines += ["  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in rows[:1]]
            lines.append("  ".join("-" * w for w in widths))
            lines += ["  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in rows[1:]]
            lines.append("")
        ohead = ("sampler", "metric", "observed order (95% CI)", "raw slope vs T", "slope vs NFE", "claimed")
        orows = [ohead]
        for o in sorted(self.orders, key=lambda o: self._col_key((o["sampler"], o["metric"]))):
            ci = f"{o['order']:.2f} [{o['ci_low']:.2f}, {o['ci_high']:.2f}]" if math.isfinite(o["order"]) else "n/a"
            claimed = "-" if o["claimed"] is None else f"{o['claimed']:g} ({o['claim_basis']})"
            orows.append((o["sampler"], o["metric"], ci, f"{o['raw_slope']:.2f}", f"{o.get('nfe_slope', float('nan')):.2f}",
                          claimed))
        ow = [max(len(r[i]) for r in orows) for i in range(len(ohead))]
        orows_txt = ["  ".join(c.ljust(w) for c, w in zip(r, ow, strict=True)).rstrip() for r in orows]
        lines += orows_txt[:1] + ["  ".join("-" * w for w in ow)] + orows_txt[1:]
        lines.append("\n" + start_footer(self.meta))
        lines += ["", self._polylog_table()]
        return "\n".join(lines)

    def _polylog_table(self) -> str:
        """``err = C T^-p (log T)^k``: p and k fitted together, and k with p fixed."""
        def ci(o, key):
            v, lo, hi = o.get(f"poly_{key}"), o.get(f"poly_{key}_low"), o.get(f"poly_{key}_high")
            if v is None or not math.isfinite(v):
                return "n/a"
            return f"{v:.2f} [{lo:.2f}, {hi:.2f}]" if lo is not None and math.isfinite(lo) else f"{v:.2f}"

        head = ("sampler", "metric", "p (95% CI)", "k (95% CI)", "k with p fixed (95% CI)")
        rows = [head]
        for o in sorted(self.orders, key=lambda o: self._col_key((o["sampler"], o["metric"]))):
            fixed = o.get("poly_p_fixed")
            kf = "n/a" if fixed is None else f"{ci(o, 'kf')} at p = {fixed:g}"
            rows.append((o["sampler"], o["metric"], ci(o, "p"), ci(o, "k"), kf))
        w = [max(len(r[i]) for r in rows) for i in range(len(head))]
        txt = ["  ".join(c.ljust(x) for c, x in zip(r, w, strict=True)).rstrip() for r in rows]
        return "\n".join(["polylog fit err = C T^-p (log T)^k (docs/math/orders.md#polylog-fit)", txt[0],
                          "  ".join("-" * x for x in w), *txt[1:]])

    def _metrics(self):
        return sorted({r["metric"] for r in self.records}, key=lambda m: (_metrics.registry.rank(m), m))

    def _col_key(self, key):
        order, metrics = self.meta.get("samplers", []), self._metrics()
        s, m = key
        return (order.index(s) if s in order else 99, metrics.index(m) if m in metrics else 99)

    def plot(self, path) -> None:
        """Write the convergence figure (:func:`accnum.plot.convergence`: error against T and
        against total NFE, claimed orders as reference slopes in the axis' variable) as a PNG
        to a path or a binary file; matplotlib's backend is left as it is."""
        from .. import plot

        plot.save_png(plot.convergence(self), path)


def _nfe(sampler, target, sched) -> int:
    """Score evaluations per sample: read off the traced steps (what a run counts), or
    counted on a one-sample NumPy run for a step the tracer cannot read."""
    try:
        return int(kernels.trace(sampler, sched).stages.sum())
    except TypeError:   # UntraceableStep: count on the NumPy reference
        return sample(target, sampler, sched, n=1, seed=0, backend="numpy").nfe


def _adaptive(fn, n0: int, target_rse: float, n_max: int):
    """Run ``fn(n)``; while the relative standard error exceeds ``target_rse``, rerun with
    the sample size that should meet it (1.5x margin, at most three times, capped at
    ``n_max``); with counter-based Monte Carlo draws each rerun extends the previous sample."""
    n, est = n0, fn(n0)
    for _ in range(3):
        first = est if isinstance(est, dict) else {"_": est}
        worst = max((e.rel_stderr for e in first.values() if e.estimate > 0), default=0.0)
        if worst <= target_rse or n >= n_max:
            break
        n = min(n_max, int(math.ceil(n * 1.5 * (worst / target_rse) ** 2)))
        est = fn(n)
    return est


def convergence(target, samplers=DEFAULT_SAMPLERS, schedule="li2024", Ts=DEFAULT_TS, metric=None, n: int | None = None,
                seed: int = 0, init: str = "gaussian", target_rse: float = 0.02, score=None, progress=None,
                schedule_params: dict | None = None, backend: str = "auto", fit_range=None,
                polylog_p="claimed") -> RatesResult:
    """Errors of ``samplers`` over ``Ts`` and their fitted orders.

    ``schedule`` is a name (with ``schedule_params``) or a callable ``T -> Schedule``;
    ``metric`` is None (per sampler: :func:`accnum.metrics.default_metrics`) or one metric
    name for all.  Exact and path-KL estimates are enlarged once where their relative
    standard error exceeds ``target_rse``.  ``progress`` wraps the task list (e.g. tqdm).
    ``backend`` runs the samplers and the exact metrics (:func:`accnum.sample`); each
    record names the backend its metric ran on.  ``fit_range`` (``(lo, hi)`` or ``"lo:hi"``)
    fits the orders over the T in that range only; ``polylog_p`` is the power of T held
    fixed in the second polylog fit: ``"claimed"`` (each sampler's claimed order), a number,
    or None (no fixed-p fit).
    """
    tg = resolve_target(target)
    sams = [get_sampler(s) for s in _sampler_list(samplers)]
    Ts = _resolve_ts(Ts)
    seed = _checks.seed(seed)
    _checks.choice("init", init, ("gaussian", "exact"))
    target_rse = _checks.real("target_rse", target_rse, low=0.0, high=1.0, low_open=True)
    frange = _fit_range(fit_range)
    if frange is not None and sum(frange[0] <= T <= frange[1] for T in Ts) < 2:
        raise InvalidInput(f"fit range {frange[0]}:{frange[1]} holds fewer than two of the T values {Ts}")
    if not (polylog_p is None or polylog_p == "claimed"):
        polylog_p = _checks.real("polylog_p", polylog_p)
    model = resolve_score(score, tg)
    requested = backend
    backend = _backend_for(backend, model, None)
    # "auto" is passed on, so that a sampler whose step does not trace (ddpm-cov) runs on numpy
    # while the others run compiled; an explicit backend is passed on as it is, and refused there
    run_backend = "auto" if requested == "auto" else backend
    if callable(schedule):
        factory, sched_name = _checked_factory(schedule), "custom"
    else:
        if schedule_params is not None and not isinstance(schedule_params, dict):
            raise InvalidType(f"schedule_params must be a dict, got {type(schedule_params).__name__}")
        factory, sched_name = schedule_factory(schedule, **(schedule_params or {})), schedule
    plan = []
    for s in sams:
        ms = default_metrics(s, tg) if metric is None else ((metric,) if isinstance(metric, str) else tuple(metric))
        _checks.distinct("metric", ms)
        plan.append((s, tuple(check_metric(m, s, tg) for m in ms)))
    if n is not None:
        n = _checks.integer("n", n, minimum=1)
    for m in {m.name: m for _, ms in plan for m in ms}.values():
        if n is not None:
            m.check_n(n)
        size = n if n is not None else (16 if m.adaptive else 1) * (m.default_n or 0)   # 16x: the enlargement's cap
        if m.memory is not None and size:
            m.memory(size, tg, backend)
    first = factory(Ts[0])
    for T in Ts:
        factory(T)   # every schedule is valid before any work starts
    tasks = [(s, ms, T) for s, ms in plan for T in Ts]
    records = []
    t_start = time.perf_counter()
    it = progress(tasks) if progress is not None else tasks
    for s, ms, T in it:
        sched = factory(T)
        nfe = _nfe(s, tg, sched)
        results, notes = {}, {}
        try:
            results.update(_measure(tg, s, sched, ms, n, seed, init, target_rse, model, run_backend))
        except NonInvertibleMap as err:
            notes = {m.name: f"not invertible: {err}" for m in ms}
        for m in ms:
            e = results.get(m.name)
            records.append({
                **record_base(tg, s, model, init), "schedule": sched.describe(), "T": T, "h": sched.h, "nfe": nfe,
                "metric": m.name, "estimate": e.estimate if e else float("nan"),
                "stderr": e.stderr if e else float("nan"), "n": e.n if e else 0, "seed": seed,
                "backend": (e.backend or backend) if e else backend, **versions(),
                "note": notes.get(m.name, e.method if e else ""),
            })
    orders = fit_orders(records, [(s, m.name) for s, ms in plan for m in ms], frange, polylog_p)
    meta = {"target": records[0]["target"] if records else "", "schedule": first.describe().replace(f"T={Ts[0]}", "T"),
            "schedule_name": sched_name, "Ts": Ts, "samplers": [s.name for s, _ in plan], "seed": seed, "init": init,
            "h_name": {"li2024": "c1 log T / T", "custom": "Schedule.h"}.get(sched_name, "1/T"), "score": model.describe(),
            **versions(), "backend": backend, "fit_range": list(frange) if frange else None, "polylog_p": polylog_p}
    result = RatesResult(records, orders, meta, {"seconds": time.perf_counter() - t_start})
    annotate_start(result, tg, factory, Ts, init)   # the start's own error, and a warning where it is close
    return result


def fit_orders(records, pairs, frange=None, polylog_p="claimed") -> list[dict]:
    """Per (sampler, metric) in ``pairs``: the fitted order (docs/math/orders.md#fit) over
    ``frange``, the claimed order, the polylog fits (docs/math/orders.md#polylog-fit); each
    record gets its ``local_order`` (docs/math/orders.md#local-order).  ``records`` are
    ordered by T within each pair; a sampler may be an object or a name."""
    orders = []
    for s, metric in pairs:
        name = getattr(s, "name", s)
        rs = sorted((r for r in records if r["sampler"] == name and r["metric"] == metric), key=lambda r: r["T"])
        T_, err = [r["T"] for r in rs], [r["estimate"] for r in rs]
        for r, loc in zip(rs, local_slopes([r["h"] for r in rs], err), strict=True):
            r["local_order"] = float("nan") if loc is None else loc
        o = observed_order(T_, [r["h"] for r in rs], err, [r["nfe"] for r in rs], frange)
        try:
            claimed, basis = _metrics.claimed_order(get_sampler(s), metric)
        except InvalidInput:        # a user's sampler that does not import here: no claim to compare
            claimed, basis = None, ""
        fixed = claimed if polylog_p == "claimed" else polylog_p
        free = fit_polylog(T_, err, rng=frange)
        kf = fit_polylog(T_, err, p=fixed, rng=frange) if fixed is not None else {}
        poly = {f"poly_{k}": free[k] for k in ("p", "p_low", "p_high", "k", "k_low", "k_high")}
        poly.update({"poly_p_fixed": fixed, **{f"poly_kf{k[1:]}": kf.get(k, float("nan")) for k in ("k", "k_low", "k_high")}})
        orders.append({"sampler": name, "metric": metric, **o, "claimed": claimed, "claim_basis": basis,
                       "fit_range": list(frange) if frange else None, **poly})
    return orders


def _measure(tg, s, sched, ms, n, seed, init, target_rse, model, backend="auto"):
    """Estimates of the metrics ``ms`` (registry objects), each family computed once;
    families that allow it are enlarged until ``target_rse`` (when no ``n`` is given)."""
    out = {}
    families: dict = {}
    for m in ms:
        families.setdefault(m.compute, []).append(m)
    req = Request(tg, s, sched, n, seed, init, model, backend)
    for compute, group in families.items():
        names = tuple(m.name for m in group)
        lead = group[0]
        if n is None and lead.adaptive and lead.default_n:
            out.update(_adaptive(lambda k: compute(req._replace(n=k), names), lead.default_n, target_rse,  # noqa: B023
                                 16 * lead.default_n))
        else:
            out.update(compute(req, names))
    return out
