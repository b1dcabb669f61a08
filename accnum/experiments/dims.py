"""The dimension dependence of samplers at fixed T (docs/studies.md#dims).

``dimension_sweep(...)`` measures each sampler's error on a family of targets with the same
structure in every d (``twomodes``, ``isogauss``, ``gmm:K=4,layout=fixed``), at one T, and
fits the exponent of d with its 95% interval (docs/math/orders.md#exponent-of-d).  The
cells are those of a one-group study (:mod:`.study`), run in-process or on Dask and, with a
store, kept and resumed (:mod:`.store`).  Metrics come from the registry: the closed forms
``gauss-tv``/``gauss-kl`` on a Gaussian family (exact in any d at O(T) cost), else the
registry's defaults for each sampler at each d.  A TV near 1 saturates and its exponent
falls: the result says so.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field

from .. import metrics as _metrics
from .. import targets as _targets
from ..errors import AccnumError, InvalidType
from ..samplers import get as get_sampler
from .orders import fit_range as _fit_range
from .orders import local_slopes, observed_exponent
from .provenance import versions
from .tidy import TidyResult

#: a TV above this is near saturation: its exponent of d is biased low
TV_SATURATION = 0.5
RECORD_FIELDS = ("family", "target", "d", "sampler", "metric", "T", "schedule", "init", "estimate", "stderr", "n",
                 "seed", "backend", "note", "local_exponent", "key")


def gaussian_metrics(family: str, ds, samplers) -> list[str] | None:
    """``gauss-tv`` and ``gauss-kl`` where they apply to every sampler at every d of a
    Gaussian family; None for a mixture family."""
    tg = _targets.resolve(_targets.in_dimension(family, min(ds)))
    if tg.K != 1:
        return None
    out = []
    for m in ("gauss-tv", "gauss-kl"):
        metric = _metrics.get(m)
        if all(metric.problem(get_sampler(s), _targets.resolve(_targets.in_dimension(family, d)), suggest=False) is None
               for s in samplers for d in (min(ds), max(ds))):
            out.append(m)
    return out or None


@dataclass
class DimsResult(TidyResult):
    SUMMARY = "exponents"
    FIELDS = RECORD_FIELDS

    records: list[dict]
    exponents: list[dict]
    meta: dict = field(default_factory=dict)
    timing: dict = field(default_factory=dict)

    def _metrics(self):
        return sorted({r["metric"] for r in self.records}, key=lambda m: (_metrics.registry.rank(m), m))

    def _samplers(self):
        seen = self.meta.get("samplers") or []
        return seen + sorted({r["sampler"] for r in self.records} - set(seen))

    def table(self) -> str:
        """Errors by d (estimate ± standard error, and the local exponent from the d before),
        one block per metric, then the fitted exponents of d."""
        ds = sorted({r["d"] for r in self.records})
        by = {(r["sampler"], r["metric"], r["d"]): r for r in self.records}
        lines = []
        for metric in self._metrics():
            cols = [s for s in self._samplers() if any((s, metric, d) in by for d in ds)]
            rows = [[f"{metric}  d"] + [c for s in cols for c in (s, "local")]]
            for d in ds:
                row = [str(d)]
                for s in cols:
                    r = by.get((s, metric, d))
                    est = None if r is None else r["estimate"]
                    row.append("" if r is None else f"{est:.3e} ± {r['stderr']:.0e}" if est is not None
                               and math.isfinite(est) else (r.get("note") or "n/a")[:20])
                    loc = None if r is None else r.get("local_exponent")
                    row.append("-" if loc is None or not math.isfinite(loc) else f"{loc:.2f}")
                rows.append(row)
            lines += _block(rows) + [""]
        head = ("sampler", "metric", "exponent of d (95% CI)", "d range", "points", "last local")
        erows = [head]
        for e in self.exponents:
            ci = f"{e['exponent']:.2f} [{e['ci_low']:.2f}, {e['ci_high']:.2f}]" if math.isfinite(e["exponent"]) else "n/a"
            span = "-" if e["d_low"] is None else f"{e['d_low']}..{e['d_high']}"
            last = e.get("last_local")
            erows.append((e["sampler"], e["metric"], ci, span, str(e["points"]),
                          "-" if last is None or not math.isfinite(last) else f"{last:.2f}"))
        w = [max(len(r[i]) for r in erows) for i in range(len(head))]
        txt = ["  ".join(c.ljust(x) for c, x in zip(r, w, strict=True)).rstrip() for r in erows]
        lines += txt[:1] + ["  ".join("-" * x for x in w)] + txt[1:]
        m = self.meta
        lines.append(f"\nerr ~ C d^q at T = {m.get('T')} on {m.get('family')} ({m.get('schedule', '')}, init "
                     f"{m.get('init')}); 'local' is the exponent between neighbouring d")
        lines += [f"warning: {w}" for w in self.warnings()]
        return "\n".join(lines)

    def warnings(self) -> list[str]:
        return [e["warning"] for e in self.exponents if e.get("warning")]

    def plot(self, path) -> None:
        """Log-log error against d, one panel per metric, the fitted power drawn dashed."""
        from .study_plots import error_panels

        fig = error_panels(self.records, "d", self._metrics(), self._samplers(),
                           {(e["sampler"], e["metric"]): e for e in self.exponents}, "exponent",
                           f"{self.meta.get('family')}, T = {self.meta.get('T')}, init {self.meta.get('init')}: "
                           "dashed = fitted power of d")
        fig.savefig(path, format="png", dpi=110)


def _block(rows) -> list[str]:
    """Right-aligned columns under a rule."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    text = ["  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return text[:1] + ["  ".join("-" * w for w in widths)] + text[1:]


def exponents_of(records, rng=None, samplers=None) -> list[dict]:
    """The exponent of d per (sampler, metric), local exponents into the records, and a
    warning where a total variation is near saturation."""
    out = []
    pairs = []
    for r in records:
        if (r["sampler"], r["metric"]) not in pairs:
            pairs.append((r["sampler"], r["metric"]))
    order = samplers or []
    pairs.sort(key=lambda p: (order.index(p[0]) if p[0] in order else len(order), _metrics.registry.rank(p[1]), p))
    for s, m in pairs:
        rs = sorted((r for r in records if r["sampler"] == s and r["metric"] == m), key=lambda r: r["d"])
        d, err = [r["d"] for r in rs], [r["estimate"] for r in rs]
        for r, loc in zip(rs, local_slopes(d, err), strict=True):
            r["local_exponent"] = float("nan") if loc is None else loc
        e = observed_exponent(d, err, rng)
        e.update(sampler=s, metric=m, last_local=rs[-1]["local_exponent"] if len(rs) > 1 else float("nan"))
        top = max((x for x in err if x is not None and math.isfinite(x)), default=0.0)
        if m in _metrics.registry.TV_LIKE and top >= TV_SATURATION:
            at = next(r["d"] for r in rs if r["estimate"] == top)
            e["warning"] = (f"{s} {m} reaches {top:.2f} at d = {at}: a TV near 1 saturates and its exponent of d falls; "
                            "fit over smaller d (--fit-range) or read the KL")
        out.append(e)
    return out


def result_from_rows(rows, meta: dict, rng=None, seconds: float = 0.0) -> DimsResult:
    records = [{f: r.get(f) for f in RECORD_FIELDS} for r in sorted(rows, key=lambda r: (r["sampler"], r["metric"], r["d"]))]
    return DimsResult(records, exponents_of(records, rng, meta.get("samplers")), meta, {"seconds": seconds})


def dimension_sweep(family: str, samplers, ds, T: int = 200, schedule: str = "li2024", schedule_params=None,
                    metric=None, n: int | None = None, seed: int = 0, init: str = "gaussian", target_rse: float = 0.02,
                    backend: str = "auto", store=None, workers: int | None = None, scheduler: str | None = None,
                    max_cell_seconds: float | None = None, fit_range=None, progress: bool = True,
                    connect_timeout: float = 10.0) -> DimsResult:
    """Errors of ``samplers`` on ``family`` at every d in ``ds`` and T steps, and the fitted
    exponents of d (see the module doc).  ``store``: a folder that keeps the cells (a
    re-run resumes), else nothing is kept; ``workers``/``scheduler``: run on Dask;
    ``max_cell_seconds``: defer the larger d whose predicted time exceeds it."""
    from .runner import run_study
    from .store import MemoryStore, Store
    from .study import from_dict

    t0 = time.perf_counter()
    listed = lambda v: list(v) if isinstance(v, (list, tuple)) else [v]   # noqa: E731  (the study checks each value)
    names = listed(samplers)
    rng = _fit_range(fit_range)
    if schedule_params is not None and not isinstance(schedule_params, dict):
        raise InvalidType(f"schedule_params must be a dict, got {type(schedule_params).__name__}")
    if store is not None and not isinstance(store, (str, os.PathLike)):
        raise InvalidType(f"store must be a folder path, got {type(store).__name__}")
    group = {"targets": [family], "d": listed(ds), "samplers": names, "T": [T],
             "schedules": [{"name": schedule, **(schedule_params or {})}], "seeds": [seed], "init": init,
             "target_rse": target_rse, "backend": backend}
    if n is not None:
        group["n"] = n
    if max_cell_seconds is not None:
        group["max_cell_seconds"] = max_cell_seconds
    if metric is not None:
        group["metrics"] = listed(metric)
    else:
        try:
            gm = gaussian_metrics(family, group["d"], names) if all(isinstance(d, int) for d in group["d"]) \
                and group["d"] else None
        except AccnumError:   # a bad family or d: the study's own checks say what is wrong
            gm = None
        if gm:
            group["metrics"] = gm
    study = from_dict(group, "dims")
    keep = Store(store, argument="--store") if store is not None else MemoryStore()
    report = run_study(study.cells, keep, workers=workers, scheduler=scheduler, progress=progress,
                       connect_timeout=connect_timeout)
    keys = {c.key for c in study.cells}
    rows = [r for r in keep.rows() if r["key"] in keys]
    first = rows[0] if rows else {}
    meta = {"family": family, "T": T, "schedule": first.get("schedule", "").replace(f"T={T}", "T"),
            "init": init, "seed": seed, "samplers": [get_sampler(s).name for s in names],
            "ds": sorted({c.d for c in study.cells}), "fit_range": list(rng) if rng else None,
            "store": getattr(keep, "path", None), **versions()}
    res = result_from_rows(rows, meta, rng, time.perf_counter() - t0)
    res.timing["run"] = report.lines()
    return res


__all__ = ["DimsResult", "dimension_sweep", "exponents_of", "gaussian_metrics", "result_from_rows"]
