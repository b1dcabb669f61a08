"""One cell of a study: a full specification, its deterministic key, and the function that
computes it (docs/studies.md#cells).

A cell is a plain JSON-able dict: the target (a built-in name, or a mixture given inline),
the sampler (a name or an import path), the schedule (name and parameters), T, the score
perturbation, the start, the seed, one family of metrics (computed in one pass, as ``rates``
does), the sample size or the target relative standard error, and the backend.  Its key is a
hash of that dict in canonical JSON, so the same specification has the same key in every
process and on every machine, and a study re-run finds its finished cells by key.

:func:`run_cell` is a pure function of the specification (counter-based noise, seeded
scramblings): in-process and on a Dask worker it returns the same numbers, bit for bit.
"""

from __future__ import annotations

import hashlib
import json
import math
import time

from .. import perturb
from .. import schedules as _schedules
from ..errors import AccnumError, NonInvertibleMap
from ..metrics import get as get_metric
from ..samplers import get as get_sampler
from ..targets import GaussianMixture, resolve as resolve_target
from .provenance import record_base, versions

#: the keys of a cell's specification (all of them, always, so that keys are comparable)
SPEC_KEYS = ("target", "target_hash", "sampler", "schedule", "T", "perturbation", "init", "seed", "metrics", "n",
             "target_rse", "backend")
#: the columns of a stored row, in order (docs/studies.md#store)
ROW_FIELDS = ("key", "target", "family", "d", "K", "target_hash", "sampler", "sampler_source", "score", "perturbation",
              "schedule", "schedule_name", "schedule_params", "T", "h", "nfe", "init", "seed", "metric", "estimate",
              "stderr", "n", "target_rse", "backend", "note", "version", "numpy", "numba", "spec", "seconds")


def canonical(spec: dict) -> str:
    """The specification as canonical JSON (sorted keys, no spaces, no NaN)."""
    return json.dumps(spec, sort_keys=True, separators=(",", ":"), allow_nan=False)


def cell_key(spec: dict) -> str:
    """A deterministic key: the first 24 hex digits of the SHA-256 of the canonical JSON."""
    return hashlib.sha256(canonical(spec).encode()).hexdigest()[:24]


def target_of(spec_target):
    """The mixture a cell's ``target`` names: a built-in name, or ``{"mixture": {...}}``."""
    if isinstance(spec_target, dict):
        tg = GaussianMixture.from_dict(spec_target["mixture"], "study target")
        tg.name = spec_target.get("name")
        return tg
    return resolve_target(spec_target)


def family_of(name: str | None) -> tuple[str, int | None]:
    """``"gmm:d=8,K=4,layout=fixed"`` -> ``("gmm:K=4,layout=fixed", 8)``; a name without ``d``
    is its own family."""
    if not name:
        return "custom", None
    base, _, args = name.partition(":")
    items = [a for a in args.split(",") if a]
    d = [a for a in items if a.split("=")[0].strip() == "d"]
    rest = [a for a in items if a not in d]
    fam = base + (":" + ",".join(rest) if rest else "")
    return fam, (int(d[0].split("=")[1]) if d else None)


def score_model(perturbation: dict | None, target, sched):
    """The score model a cell runs: the exact score, or a calibrated perturbation
    (:func:`accnum.perturb.calibrated`) meeting the requested ``eps_score``/``eps_jacobi``."""
    if perturbation is None:
        return None
    return perturb.calibrated(perturbation["kind"], target, sched, perturbation["eps_score"],
                              perturbation.get("eps_jacobi"), seed=perturbation.get("seed", 0))


def describe_perturbation(p: dict | None) -> str:
    if p is None:
        return "none"
    extra = "".join(f",{k}={p[k]:g}" for k in ("eps_jacobi",) if p.get(k) is not None)
    return f"{p['kind']}(eps_score={p['eps_score']:g}{extra},seed={p.get('seed', 0)})"


def run_cell(spec: dict) -> dict:
    """Compute one cell: ``{"key", "rows"}`` on success (one row per metric, a row with a note
    where the map is not invertible), ``{"key", "error"}`` for a deliberate error (bad input,
    a missing capability).  Anything else is a bug and raises."""
    from .rates import _measure, _nfe

    key = cell_key(spec)
    t0 = time.perf_counter()
    try:
        tg = target_of(spec["target"])
        sampler = get_sampler(spec["sampler"])
        sched_spec = spec["schedule"]
        sched = _schedules.get(sched_spec["name"], spec["T"], **sched_spec.get("params", {}))
        model = score_model(spec["perturbation"], tg, sched)
        ms = [get_metric(m) for m in spec["metrics"]]
        nfe = _nfe(sampler, tg, sched)
        notes = {}
        try:
            results = _measure(tg, sampler, sched, ms, spec["n"], spec["seed"], spec["init"], spec["target_rse"],
                               model, spec["backend"])
        except NonInvertibleMap as err:
            results, notes = {}, {m.name: f"not invertible: {err}" for m in ms}
        from ..run import resolve_score

        base = record_base(tg, sampler, resolve_score(model, tg), spec["init"])
    except AccnumError as err:
        return {"key": key, "error": str(err).splitlines()[0] if str(err) else type(err).__name__,
                "seconds": time.perf_counter() - t0}
    seconds = time.perf_counter() - t0
    family, _ = family_of(tg.name)
    rows = []
    for m in ms:
        e = results.get(m.name)
        rows.append({
            "key": key, "target": base["target"], "family": family, "d": tg.d, "K": tg.K,
            "target_hash": base["target_hash"], "sampler": base["sampler"], "sampler_source": base["sampler_source"],
            "score": base["score"], "perturbation": describe_perturbation(spec["perturbation"]),
            "schedule": sched.describe(), "schedule_name": sched_spec["name"],
            "schedule_params": canonical(sched_spec.get("params", {})), "T": spec["T"], "h": float(sched.h),
            "nfe": int(nfe), "init": spec["init"], "seed": spec["seed"], "metric": m.name,
            "estimate": float(e.estimate) if e else math.nan, "stderr": float(e.stderr) if e else math.nan,
            "n": int(e.n) if e else 0, "target_rse": spec["target_rse"],
            "backend": (e.backend or spec["backend"]) if e else spec["backend"],
            "note": notes.get(m.name, e.method if e else ""), **versions(), "spec": canonical(spec),
            "seconds": seconds,
        })
    return {"key": key, "rows": rows, "seconds": seconds}
