"""Sensitivity to score error: sampler error against calibrated (eps_score, eps_Jacobi).

For every requested pair a perturbation of the chosen kind is calibrated on the schedule
(:func:`accnum.perturb.calibrated`), its achieved ``eps`` measured on independent exact
draws (:func:`accnum.assumptions.measure`), and each sampler's error measured with it.
The dependence on ``eps_score`` is fitted as ``err - err_0 ~ c eps^p`` (the paper's bounds
are linear, p = 1, in eps_score and eps_Jacobi).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from .. import _checks, perturb
from ..assumptions import measure
from .. import metrics as _metrics
from ..metrics import NonInvertibleMap, check_metric
from ..samplers import get as get_sampler
from ..targets import resolve as resolve_target
from .tidy import TidyResult
from .orders import fit_slope
from .provenance import versions
from .rates import _backend_for, _measure, _sampler_list
from ..errors import InvalidInput, InvalidType

RECORD_FIELDS = ("target", "sampler", "kind", "T", "eps_score_requested", "eps_jacobi_requested", "eps_score", "eps_score_se",
                 "eps_jacobi", "eps_jacobi_se", "metric", "estimate", "stderr", "seed", "backend", "note")


def default_metric(sampler, target, kind: str) -> str:
    """The metric a sensitivity study measures ``sampler`` in: the first of ``rates``' defaults
    that the perturbation ``kind`` allows (the ``noise`` kind has no Jacobian and is not
    deterministic), else a sample-based distance."""
    sampler, target = get_sampler(sampler), resolve_target(target)
    probe = perturb.make(kind, target, 0.0)
    for name in _metrics.default_metrics(sampler, target):
        needs = _metrics.get(name).needs
        if ("jacobian" in needs and not probe.has_jacobian) or ("deterministic" in needs and not probe.deterministic):
            continue
        return name
    return "w1" if target.d == 1 else "sliced-w2"


def _eps_list(name, values) -> list[float]:
    if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
        raise InvalidType(f"{name} must be a list of numbers, got {type(values).__name__}")
    vals = [_checks.real(name, v, low=0.0, high=perturb.EPS_MAX, high_open=True) for v in values]
    if not vals:
        raise InvalidInput(f"{name} must not be empty")
    return _checks.distinct(name, vals)


@dataclass
class SensitivityResult(TidyResult):
    SUMMARY = "fits"
    FIELDS = RECORD_FIELDS

    records: list[dict]
    fits: list[dict]
    meta: dict = field(default_factory=dict)
    timing: dict = field(default_factory=dict)

    def table(self) -> str:
        head = ("sampler", "eps_score req", "eps_Jacobi req", "eps_score measured", "eps_Jacobi measured", "metric",
                "error")
        rows = [head]
        for r in self.records:
            est = r["estimate"]
            err = f"{est:.4e} ± {r['stderr']:.1e}" if est is not None and math.isfinite(est) else (r["note"] or "n/a")
            ej = "-" if not math.isfinite(r["eps_jacobi"]) else f"{r['eps_jacobi']:.4g} ± {r['eps_jacobi_se']:.1g}"
            rows.append((r["sampler"], f"{r['eps_score_requested']:g}", f"{r['eps_jacobi_requested']:g}",
                         f"{r['eps_score']:.4g} ± {r['eps_score_se']:.1g}", ej, r["metric"], err))
        w = [max(len(str(r[i])) for r in rows) for i in range(len(head))]
        lines = ["  ".join(str(c).ljust(x) for c, x in zip(r, w, strict=True)).rstrip() for r in rows]
        lines.insert(1, "  ".join("-" * x for x in w))
        if self.fits:
            lines.append("")
            lines.append("fitted dependence on eps_score: err - err(0) ~ c eps_score^p (paper's bounds: p = 1)")
            for f in self.fits:
                p = "n/a" if not math.isfinite(f["p"]) else f"{f['p']:.2f} [{f['ci_low']:.2f}, {f['ci_high']:.2f}]"
                lines.append(f"  {f['sampler']:<10} eps_Jacobi = {f['eps_jacobi_requested']:<6g} {f['metric']:<8} "
                             f"p = {p}  (err(0) = {f['err0']:.3e}, {f['points']} points)")
        return "\n".join(lines)

    def plot(self, path) -> None:
        """Write the sensitivity figure (:func:`accnum.plot.sensitivity`) as a PNG to a path
        or a binary file; matplotlib's backend is left as it is."""
        from .. import plot

        plot.save_png(plot.sensitivity(self), path)


def sensitivity(target, samplers, schedule, eps_scores, eps_jacobis=(0.0,), kind: str = "smooth", metric=None,
                n: int | None = None, seed: int = 0, measure_n: int = 1000, progress=None,
                backend: str = "auto") -> SensitivityResult:
    """Error of each sampler for each ``(eps_score, eps_jacobi)`` pair (see the module doc).

    ``schedule`` is a :class:`Schedule`.  Pairs that ``kind`` cannot realise (``eps_jacobi
    > 0`` with ``eps_score = 0``) are recorded with a note instead of an estimate.
    ``backend`` runs the samplers and exact metrics; the ``noise`` kind's i.i.d. draws also
    run on the kernels.
    """
    tg = resolve_target(target)
    sams = [get_sampler(s) for s in _sampler_list(samplers)]
    schedule = _checks.schedule(schedule)
    _checks.choice("kind", kind, perturb.KINDS)
    ess, ejs = _eps_list("eps_score", eps_scores), _eps_list("eps_jacobi", eps_jacobis)
    if kind not in perturb.JACOBIAN_KINDS and any(e > 0 for e in ejs):
        raise InvalidInput(f"kind {kind!r} has no Jacobian dial: eps_jacobi must be 0 (only 'smooth' sets it)")
    seed = _checks.seed(seed)
    if n is not None:
        n = _checks.integer("n", n, minimum=10)
    measure_n = _checks.integer("measure_n", measure_n, minimum=10)
    backend = _backend_for(backend, perturb.make(kind, tg, 0.0), None)
    plan = []
    probe = perturb.make(kind, tg, 0.0)
    for s in sams:
        m = check_metric(metric or default_metric(s, tg, kind), s, tg)
        if ("jacobian" in m.needs and not probe.has_jacobian) or ("deterministic" in m.needs and not probe.deterministic):
            raise InvalidInput(f"metric {m.name!r} needs the score's Jacobian or its exact kernel; the {kind!r} "
                               "perturbation has neither (use sliced-w2, energy, w1 or ks)")
        plan.append((s, m))
    pairs = [(es, ej) for ej in ejs for es in ess]
    records = []
    t0 = time.perf_counter()
    it = progress(pairs) if progress is not None else pairs
    for es, ej in it:
        base = {"target": tg.name or "custom", "kind": kind, "T": schedule.T, "eps_score_requested": es,
                "eps_jacobi_requested": ej, "seed": seed, **versions()}
        if kind == "smooth" and ej > 0 and es == 0:
            for s, m in plan:
                records.append({**base, "backend": backend, "sampler": s.name, "metric": m.name, "eps_score": 0.0,
                                "eps_score_se": 0.0,
                                "eps_jacobi": float("nan"), "eps_jacobi_se": float("nan"), "estimate": float("nan"),
                                "stderr": float("nan"), "note": "needs eps_score > 0"})
            continue
        pert = perturb.calibrated(kind, tg, schedule, es, ej if kind == "smooth" else None, seed=seed)
        got = measure(pert, tg, schedule, n=measure_n, seed=seed + 1000)
        for s, m in plan:
            note, ran = pert.describe(), backend
            try:
                e = _measure(tg, s, schedule, (m,), n, seed, "gaussian", 0.02, pert, backend)[m.name]
                est, se, ran = e.estimate, e.stderr, e.backend or backend
            except NonInvertibleMap as err:
                est, se, note = float("nan"), float("nan"), f"not invertible: {err}"
            records.append({**base, "backend": ran, "sampler": s.name, "metric": m.name, "eps_score": got.eps_score,
                            "eps_score_se": got.eps_score_se, "eps_jacobi": got.eps_jacobi,
                            "eps_jacobi_se": got.eps_jacobi_se, "estimate": est, "stderr": se, "note": note})
    fits = []
    for s, m in plan:
        for ej in ejs:
            rs = [r for r in records if r["sampler"] == s.name and r["eps_jacobi_requested"] == ej
                  and math.isfinite(r["estimate"])]
            zero = [r for r in records if r["sampler"] == s.name and r["eps_score_requested"] == 0
                    and r["eps_jacobi_requested"] == 0 and math.isfinite(r["estimate"])]
            if not zero:
                continue
            e0, se0 = zero[0]["estimate"], zero[0]["stderr"]
            use = [r for r in rs if r["eps_score"] > 0 and r["estimate"] - e0 > 3 * (r["stderr"] + se0)]
            if len(use) >= 2:
                fit = fit_slope(np.log([r["eps_score"] for r in use]), np.log([r["estimate"] - e0 for r in use]))
                p, lo, hi = fit["slope"], fit["ci_low"], fit["ci_high"]
            else:
                p = lo = hi = float("nan")
            fits.append({"sampler": s.name, "metric": m.name, "eps_jacobi_requested": ej, "p": p, "ci_low": lo,
                         "ci_high": hi, "err0": e0, "points": len(use)})
    meta = {"target": tg.name or "custom", "target_hash": tg.content_hash(), "schedule": schedule.describe(),
            "kind": kind, "samplers": [s.name for s, _ in plan], "seed": seed, **versions(), "backend": backend}
    return SensitivityResult(records, fits, meta, {"seconds": time.perf_counter() - t0})

