"""Samplers at equal cost: for each budget of score evaluations (NFE), each sampler runs the
most steps that fit, its error is measured on one metric, and the best sampler per budget
is named (docs/math/orders.md#raw-slope: a 2-NFE method must beat a 1-NFE method at equal
NFE, not at equal T).

Steps from a budget ``B``: a sampler whose facts declare ``k`` score evaluations per step
makes ``k (T - 1)`` of them for its ``T - 1`` steps down to ``Y_1``, so it gets
``T = 1 + floor(B / k)``, the largest T within the budget (rounded down: no sampler spends
more than ``B``).  The NFE counted on the traced steps is recorded beside it.

A cell that cannot be measured (a budget below one step, a T the schedule refuses, a map
that is not invertible at that T) is recorded with a note in its cell; the rest of the run
goes on.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

from .. import _checks
from ..errors import InvalidInput, InvalidType
from ..metrics import NonInvertibleMap, check_metric
from ..run import _backend_for, resolve_score
from ..samplers import get as get_sampler
from ..targets import resolve as resolve_target
from .provenance import record_base, versions
from .rates import _checked_factory, _measure, _nfe, _sampler_list, schedule_factory
from .tidy import TidyResult

DEFAULT_BUDGETS = (10, 20, 50, 100, 200)
DEFAULT_SAMPLERS = ("ddim-li", "accel-ode", "ddpm-li", "accel-sde")
RECORD_FIELDS = ("target", "sampler", "schedule", "budget", "nfe_per_step", "T", "h", "nfe", "metric", "estimate",
                 "stderr", "n", "seed", "init", "backend", "version", "note")
ROUNDING = "T = 1 + floor(NFE / NFE per step): the most steps (T - 1 of them, down to Y_1) that fit the budget"


def steps_for_budget(sampler, budget: int) -> int:
    """``T = 1 + floor(budget / nfe per step)`` (the facts' NFE per step); 1 means not one
    step fits."""
    sampler = get_sampler(sampler)
    budget = _checks.integer("budget", budget, minimum=1)
    return 1 + budget // sampler.facts.nfe


def _budgets(budgets) -> list[int]:
    return _checks.increasing("budgets", budgets, "budget", 1, "integers (NFE per sample)")


@dataclass
class CompareResult(TidyResult):
    """Records per (budget, sampler) and ``best``: per budget the sampler with the smallest
    error, the runner-up and their ratio."""

    SUMMARY = "best"
    FIELDS = RECORD_FIELDS

    records: list[dict]
    best: list[dict]
    meta: dict = field(default_factory=dict)
    timing: dict = field(default_factory=dict)

    def cell(self, budget: int, sampler: str) -> dict:
        """The record of one (budget, sampler)."""
        for r in self.records:
            if r["budget"] == budget and r["sampler"] == sampler:
                return r
        raise InvalidInput(f"no cell for budget {budget!r} and sampler {sampler!r}")

    def table(self) -> str:
        samplers, budgets = self.meta["samplers"], self.meta["budgets"]
        head = ["NFE"] + samplers + ["best"]
        rows = [head]
        for b in budgets:
            row = [str(b)]
            for s in samplers:
                r = self.cell(b, s)
                if _finite(r["estimate"]):
                    row.append(f"{r['estimate']:.3e} ± {r['stderr']:.0e} (T={r['T']})")
                else:
                    row.append(_short(r["note"], r["T"]))
            best = next(x for x in self.best if x["budget"] == b)
            row.append(best["sampler"] or "-")
            rows.append(row)
        w = [max(len(r[i]) for r in rows) for i in range(len(head))]
        lines = [f"{self.meta['metric']} at equal cost: {self.meta['target']}, {self.meta['schedule']}, "
                 f"start {self.meta['init']}"]
        lines += ["  ".join(c.rjust(x) for c, x in zip(r, w, strict=True)) for r in rows[:1]]
        lines.append("  ".join("-" * x for x in w))
        lines += ["  ".join(c.rjust(x) for c, x in zip(r, w, strict=True)) for r in rows[1:]]
        lines.append("")
        for x in self.best:
            if x["sampler"] is None:
                lines.append(f"NFE {x['budget']}: no sampler could be measured")
            elif x["runner_up"] is None:
                lines.append(f"NFE {x['budget']}: {x['sampler']} (the only one measured)")
            else:
                sure = "" if x["distinct"] else " (within 2 standard errors: not resolved)"
                lines.append(f"NFE {x['budget']}: {x['sampler']} best, {x['ratio']:.3g} times smaller than "
                             f"{x['runner_up']}{sure}")
        why = {}   # the full reason for each kind of cell that could not be measured, once
        for r in self.records:
            if not _finite(r["estimate"]) and r["note"]:
                why.setdefault(_short(r["note"], r["T"]).split(" (")[0].split(" at ")[0], (r["sampler"], r["note"]))
        for kind, (sampler, note) in why.items():
            lines.append(f"{kind}: e.g. {sampler}: {note}")
        lines.append(f"\n{ROUNDING}; the traced NFE is in the JSON and CSV.")
        return "\n".join(lines)

    def plot(self, path) -> None:
        """Write the equal-cost figure (:func:`accnum.plot.compare`) as a PNG."""
        from .. import plot

        plot.save_png(plot.compare(self), path)


def _finite(v) -> bool:
    return v is not None and isinstance(v, float) and math.isfinite(v)


def _short(note: str, T: int) -> str:
    """A cell's note in a few words."""
    if note.startswith("not invertible"):
        return f"not invertible (T={T})"
    if note.startswith("budget"):
        return "below one step"
    if note.startswith("schedule"):
        return f"no schedule at T={T}"
    return (note or "n/a")[:24]


def _best(records, budgets, samplers) -> list[dict]:
    out = []
    for b in budgets:
        rs = sorted((r for r in records if r["budget"] == b and _finite(r["estimate"])), key=lambda r: r["estimate"])
        if not rs:
            out.append({"budget": b, "sampler": None, "T": None, "estimate": None, "stderr": None, "runner_up": None,
                        "ratio": None, "distinct": None})
            continue
        top = rs[0]
        entry = {"budget": b, "sampler": top["sampler"], "T": top["T"], "estimate": top["estimate"],
                 "stderr": top["stderr"], "runner_up": None, "ratio": None, "distinct": None}
        if len(rs) > 1:
            nxt = rs[1]
            entry.update(runner_up=nxt["sampler"], ratio=nxt["estimate"] / top["estimate"] if top["estimate"] > 0
                         else float("inf"),
                         distinct=bool(nxt["estimate"] - top["estimate"] > 2 * (nxt["stderr"] + top["stderr"])))
        out.append(entry)
    return out


def equal_cost(target, samplers=DEFAULT_SAMPLERS, budgets=DEFAULT_BUDGETS, schedule="li2024",
               metric: str = "marginal-tv", n: int | None = None, seed: int = 0, init: str = "gaussian",
               schedule_params: dict | None = None, score=None, backend: str = "auto", progress=None,
               target_rse: float = 0.02) -> CompareResult:
    """Each sampler at each NFE budget (see the module doc), measured on ``metric`` (one for
    all; the default ``marginal-tv`` measures ODE and SDE samplers alike), and the best
    sampler per budget.  ``progress`` wraps the list of (budget, sampler) cells."""
    tg = resolve_target(target)
    sams = [get_sampler(s) for s in _sampler_list(samplers)]
    budgets = _budgets(budgets)
    seed = _checks.seed(seed)
    _checks.choice("init", init, ("gaussian", "exact"))
    target_rse = _checks.real("target_rse", target_rse, low=0.0, high=1.0, low_open=True)
    model = resolve_score(score, tg)
    backend = _backend_for(backend, model, None)
    if not isinstance(metric, str):
        raise InvalidType(f"metric must be a metric's name, got {type(metric).__name__}")
    ms = {s.name: check_metric(metric, s, tg) for s in sams}
    if n is not None:
        n = _checks.integer("n", n, minimum=1)
        next(iter(ms.values())).check_n(n)
    if callable(schedule):
        factory, sched_name = _checked_factory(schedule), "custom"
    else:
        if schedule_params is not None and not isinstance(schedule_params, dict):
            raise InvalidType(f"schedule_params must be a dict, got {type(schedule_params).__name__}")
        factory, sched_name = schedule_factory(schedule, **(schedule_params or {})), schedule
    cells = [(b, s) for b in budgets for s in sams]
    records = []
    described = None
    t0 = time.perf_counter()
    for b, s in (progress(cells) if progress is not None else cells):
        k = s.facts.nfe
        T = 1 + b // k
        rec = {**record_base(tg, s, model, init), "budget": b, "nfe_per_step": k, "T": T, "h": float("nan"),
               "nfe": 0, "metric": metric, "estimate": float("nan"), "stderr": float("nan"), "n": 0, "seed": seed,
               "backend": backend, **versions(), "schedule": f"{sched_name}(T={T})", "note": ""}
        records.append(rec)
        if T < 2:
            rec["note"] = f"budget {b} is below one step of {s.name} ({k} NFE)"
            continue
        try:
            sched = factory(T)
        except (InvalidInput, InvalidType) as err:
            rec["note"] = f"schedule at T = {T}: {err}"
            continue
        described = described or sched.describe().replace(f"T={T}", "T")
        rec.update(schedule=sched.describe(), h=sched.h, nfe=_nfe(s, tg, sched))
        try:
            e = _measure(tg, s, sched, (ms[s.name],), n, seed, init, target_rse, model, backend)[metric]
        except NonInvertibleMap as err:
            rec["note"] = f"not invertible: {err}"
            continue
        rec.update(estimate=e.estimate, stderr=e.stderr, n=e.n, backend=e.backend or backend, note=e.method)
    names = [s.name for s in sams]
    meta = {"target": tg.name or "custom", "schedule": described or sched_name, "schedule_name": sched_name,
            "budgets": budgets, "samplers": names, "metric": metric, "seed": seed, "init": init, "rounding": ROUNDING,
            "score": model.describe(), **versions(), "backend": backend}
    return CompareResult(records, _best(records, budgets, names), meta, {"seconds": time.perf_counter() - t0})
