"""Tables and figures from a results store (docs/studies.md#report).

The stored rows are split into contexts: rows that differ only in T (one target, schedule,
start, perturbation, seed, sample size and backend) give orders as ``accnum rates`` does
(:func:`accnum.experiments.rates.fit_orders`: the fitted order in h, local orders, the polylog
fit); rows of one target family that differ only in d (at one T) give exponents of d
(:mod:`.dims`).  Every section is a result object (``table()``, ``to_dict()``), and every
figure a :class:`matplotlib.figure.Figure`.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field

from .. import metrics as _metrics
from .dims import result_from_rows
from .orders import fit_range as _fit_range
from .rates import RatesResult, fit_orders
from .study_plots import error_panels

#: what must agree for rows to share a section (besides the axis that varies)
SHARED = ("schedule_name", "schedule_params", "init", "perturbation", "seed", "n", "target_rse", "backend")

#: before each table: the pages' code-block checker (tools/docs/blocks.py) reads it as output, not code
_OUTPUT_MARK = "<!-- docs: output — a table written by accnum report -->"


@dataclass
class Section:
    kind: str            #: "orders" (T varies) or "exponents" (d varies)
    title: str
    result: object


@dataclass
class StudyReport:
    sections: list = field(default_factory=list)
    cells: int = 0
    rows: int = 0

    def summary(self) -> str:
        """Every fitted exponent of d and order in T, one line each."""
        rows = [("section", "sampler", "metric", "fitted (95% CI)", "range", "last local", "claimed")]
        for i, s in enumerate(self.sections, 1):
            r = s.result
            fits = r.exponents if s.kind == "exponents" else r.orders
            for f in fits:
                v, lo, hi = (f["exponent"], f["ci_low"], f["ci_high"]) if s.kind == "exponents" else \
                    (f["order"], f["ci_low"], f["ci_high"])
                ci = "n/a" if not math.isfinite(v) else f"{v:.2f}" + (f" [{lo:.2f}, {hi:.2f}]" if math.isfinite(lo) else "")
                if s.kind == "exponents":
                    span, last = f"d = {f['d_low']}..{f['d_high']}", f.get("last_local")
                    claimed = "-"
                else:
                    Ts = [x["T"] for x in r.records if x["sampler"] == f["sampler"] and x["metric"] == f["metric"]]
                    span = f"T = {min(Ts)}..{max(Ts)}"
                    last = [x.get("local_order") for x in r.records if x["sampler"] == f["sampler"]
                            and x["metric"] == f["metric"]][-1]
                    claimed = "-" if f.get("claimed") is None else f"{f['claimed']:g}"
                kind = "d^q" if s.kind == "exponents" else "h^p"
                warn = " (saturates)" if f.get("warning") else ""
                rows.append((f"{i} {kind}", f["sampler"], f["metric"], ci + warn, span,
                             "-" if last is None or not math.isfinite(last) else f"{last:.2f}", claimed))
        w = [max(len(r[j]) for r in rows) for j in range(len(rows[0]))]
        txt = ["  ".join(c.ljust(x) for c, x in zip(r, w, strict=True)).rstrip() for r in rows]
        return "\n".join(txt[:1] + ["  ".join("-" * x for x in w)] + txt[1:])

    def text(self, fmt: str = "text") -> str:
        head = f"{self.cells} cells ({self.rows} rows); {len(self.sections)} sections with more than one T or d"
        out = [f"**{head}**" if fmt == "markdown" else head, ""]
        if self.sections:
            titles = [f"{i}. {s.title}" for i, s in enumerate(self.sections, 1)]
            if fmt == "markdown":
                out += ["Sections:", "", *[f"- {t}" for t in titles], "", _OUTPUT_MARK, "```text", self.summary(), "```", ""]
            else:
                out += [*titles, "", self.summary(), ""]
        for i, s in enumerate(self.sections, 1):
            if fmt == "markdown":
                out += [f"### {i}. {s.title}", "", _OUTPUT_MARK, "```text", s.result.table(), "```", ""]
            else:
                out += [f"== {i}. {s.title} ==", s.result.table(), ""]
        return "\n".join(out).rstrip() + "\n"

    def to_json(self) -> str:
        return json.dumps({"sections": [{"kind": s.kind, "title": s.title, **s.result.to_dict()} for s in self.sections]},
                          indent=1)

    def figures(self):
        """``(name, Figure)`` per section."""
        out = []
        for i, s in enumerate(self.sections, 1):
            r = s.result
            metrics = sorted({x["metric"] for x in r.records}, key=lambda m: (_metrics.registry.rank(m), m))
            samplers = r.meta.get("samplers", [])
            if s.kind == "orders":
                fits = {(o["sampler"], o["metric"]): o for o in r.orders}
                fig = error_panels(r.records, "T", metrics, samplers, fits, "raw_slope", s.title + ": dashed = fitted "
                                   "power of T")
            else:
                fits = {(e["sampler"], e["metric"]): e for e in r.exponents}
                fig = error_panels(r.records, "d", metrics, samplers, fits, "exponent", s.title + ": dashed = fitted "
                                   "power of d")
            out.append((f"report-{i:02d}-{s.kind}.png", fig))
        return out


def _context(row, keys) -> tuple:
    return tuple(row.get(k) for k in keys)


def _schedule(r) -> str:
    return r["schedule"].replace(f"T={r['T']}", "T")


def _size(r) -> str:
    spec = json.loads(r["spec"])
    return f"n = {spec['n']}" if spec["n"] is not None else f"n enlarged to rse {spec['target_rse']:g}"


def _samplers(rows) -> list[str]:
    return sorted({r["sampler"] for r in rows})


def build(rows, fit_range_T=None, fit_range_d=None, polylog_p="claimed") -> StudyReport:
    """The sections of a store's rows (see the module doc)."""
    rng_T, rng_d = _fit_range(fit_range_T), _fit_range(fit_range_d)
    rep = StudyReport(cells=len({r["key"] for r in rows}), rows=len(rows))
    by_T: dict = {}
    by_d: dict = {}
    for r in rows:
        spec = json.loads(r["spec"])    # the requested n, target_rse and backend (the row has those used)
        shared = _context(r, SHARED[:5]) + tuple(spec[k] for k in ("n", "target_rse", "backend"))
        by_T.setdefault((r["target"], r["target_hash"]) + shared, []).append(r)
        by_d.setdefault((r["family"], r["T"]) + shared, []).append(r)
    for rs in by_d.values():
        if len({r["d"] for r in rs}) < 2 or rs[0]["family"] == "custom":
            continue
        r0 = rs[0]
        title = (f"exponents of d: {r0['family']}, T = {r0['T']}, {_schedule(r0)}, init {r0['init']}, "
                 f"perturbation {r0['perturbation']}, seed {r0['seed']}, {_size(r0)}")
        meta = {"family": r0["family"], "T": r0["T"], "schedule": _schedule(r0),
                "init": r0["init"], "seed": r0["seed"], "samplers": _samplers(rs),
                "fit_range": list(rng_d) if rng_d else None}
        rep.sections.append(Section("exponents", title, result_from_rows(rs, meta, rng_d)))
    for rs in by_T.values():
        if len({r["T"] for r in rs}) < 2:
            continue
        r0 = rs[0]
        records = sorted(({**r} for r in rs), key=lambda r: (r["sampler"], r["metric"], r["T"]))
        pairs = sorted({(r["sampler"], r["metric"]) for r in records},
                       key=lambda p: (p[0], _metrics.registry.rank(p[1]), p[1]))
        orders = fit_orders(records, [(_sampler_of(records, n), m) for n, m in pairs], rng_T, polylog_p)
        name = r0["schedule_name"]
        meta = {"target": r0["target"], "schedule": _schedule(r0), "schedule_name": name,
                "Ts": sorted({r["T"] for r in rs}), "samplers": _samplers(rs), "seed": r0["seed"], "init": r0["init"],
                "h_name": "c1 log T / T" if name == "li2024" else "1/T", "fit_range": list(rng_T) if rng_T else None,
                "polylog_p": polylog_p}
        title = (f"orders in T: {r0['target']}, {_schedule(r0)}, init {r0['init']}, perturbation {r0['perturbation']}, "
                 f"seed {r0['seed']}, {_size(r0)}")
        rep.sections.append(Section("orders", title, RatesResult(records, orders, meta)))
    rep.sections.sort(key=lambda s: (s.kind != "exponents", _natural(s.title)))
    return rep


def _sampler_of(records, name: str):
    """A user's sampler by the import path its records carry (so that its claimed order is
    read from its facts); a built-in one, or one that no longer imports, by its name."""
    src = next((r.get("sampler_source") for r in records if r["sampler"] == name), "builtin")
    if src and src != "builtin":
        from ..samplers import get as get_sampler

        try:
            sampler = get_sampler(src)
        except Exception:   # moved or removed since the study ran: no claim to compare
            return name
        if sampler.name == name:
            return sampler
    return name


def _natural(text: str) -> list:
    """Sort key with numbers compared as numbers (d=2 before d=16)."""
    import re

    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", text)]
