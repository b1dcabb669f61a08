"""Study files (docs/studies.md#study-file): axes over targets, dimensions, samplers,
schedules, T, perturbations, seeds and metrics, read from TOML and checked whole.

Every combination of a group's axes is a set of cells (one per family of metrics, see
:mod:`.cells`).  Top-level keys are defaults for every ``[[group]]``; a file without groups
is one group.  Everything is checked before any work starts, and every problem is reported
at once (:class:`~accnum.errors.InvalidStudy`): unknown keys, empty axes, invalid values,
metrics that do not apply to a sampler on a target, sizes too large for the memory.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from .. import _checks, kernels, perturb
from .. import metrics as _metrics
from .. import schedules as _schedules
from .. import targets as _targets
from ..errors import AccnumError, InvalidInput, InvalidStudy, InvalidType
from ..io import read_text
from ..samplers import get as get_sampler
from .cells import cell_key, family_of

AXES = ("targets", "d", "samplers", "schedules", "T", "seeds", "perturbations", "metrics")
SETTINGS = ("init", "n", "target_rse", "backend", "max_cell_seconds")
TOP_KEYS = ("description", "store", "group") + AXES + SETTINGS
GROUP_KEYS = ("name",) + AXES + SETTINGS
DEFAULTS = {"schedules": ["li2024"], "seeds": [0], "perturbations": ["none"], "metrics": "default",
            "init": "gaussian", "n": None, "target_rse": 0.02, "backend": "auto", "max_cell_seconds": None}
PERTURBATION_KEYS = ("kind", "eps_score", "eps_jacobi", "seed")
MAX_CELLS = 200_000
_BAD = object()


@dataclass(frozen=True)
class Cell:
    """One cell: its specification and key, the ladder it belongs to (cells that differ only
    in d, run in order of d so that a time budget can stop a ladder), and a label."""

    spec: dict
    key: str
    label: str
    d: int
    ladder: str | None = None
    budget: float | None = None


@dataclass
class Study:
    cells: list[Cell]
    store: str | None = None
    description: str = ""
    groups: list[str] = field(default_factory=list)


class _Problems:
    def __init__(self):
        self.items: list[str] = []

    def add(self, where: str, message: str) -> None:
        line = f"{where}: {message}" if where else message
        if line not in self.items:
            self.items.append(line)

    def attempt(self, where: str, fn, *args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except AccnumError as err:
            self.add(where, str(err).splitlines()[0])
            return _BAD


def load(path, store: str | None = None) -> Study:
    """Read and check the study file ``path`` (TOML); ``store`` overrides its ``store`` key."""
    import tomllib

    if not isinstance(path, (str, os.PathLike)):
        raise InvalidType(f"study file must be a path, got {type(path).__name__}")
    if store is not None and not isinstance(store, (str, os.PathLike)):
        raise InvalidType(f"store must be a folder path, got {type(store).__name__}")
    path = os.fspath(path)
    source = os.path.basename(path)
    text = read_text(path, f"study file {path!r}")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise InvalidInput(f"study file {path!r} is not valid TOML: {err}") from None
    base = os.path.dirname(os.path.abspath(path))
    study = from_dict(data, source, base)
    if store is not None:
        study.store = os.path.abspath(store)
    elif study.store is None:
        study.store = os.path.join(base, os.path.splitext(source)[0] + ".store")
    return study


def from_dict(data: dict, source: str = "study", base: str = ".") -> Study:
    """A :class:`Study` from its parsed form; every problem reported at once."""
    problems = _Problems()
    if not isinstance(data, dict):
        raise InvalidStudy(source, ["a study is a table of keys (TOML)"])
    for k in data:
        if k not in TOP_KEYS:
            problems.add("", f"unknown key {_show(k)} (valid: {', '.join(TOP_KEYS)})")
    store = data.get("store")
    if store is not None and not isinstance(store, str):
        problems.add("store", f"must be a folder path (a string), got {_show(store)}")
        store = None
    groups = data.get("group")
    defaults = {k: v for k, v in data.items() if k in AXES + SETTINGS}
    if groups is None:
        groups = [{}]
    elif not isinstance(groups, list) or not groups or not all(isinstance(g, dict) for g in groups):
        problems.add("group", "must be one or more [[group]] tables")
        groups = []
    cells: dict[str, Cell] = {}
    names = []
    for i, g in enumerate(groups):
        name = g.get("name", f"#{i + 1}" if len(groups) > 1 else "")
        where = f"group {_show(name)}" if name else ""
        names.append(name)
        for k in g:
            if k not in GROUP_KEYS:
                problems.add(where, f"unknown key {_show(k)} (valid: {', '.join(GROUP_KEYS)})")
        for c in _group_cells({**DEFAULTS, **defaults, **{k: v for k, v in g.items() if k != "name"}}, where, base,
                              problems):
            cells.setdefault(c.key, c)
    if not problems.items and len(cells) > MAX_CELLS:
        problems.add("", f"the study has {len(cells)} cells; at most {MAX_CELLS} are allowed")
    if problems.items:
        raise InvalidStudy(source, problems.items)
    desc = data.get("description", "")
    return Study(list(cells.values()), None if store is None else os.path.join(base, store), str(desc), names)


def _axis(g, key, where, problems, check) -> list:
    """A non-empty list (a single value is a list of one), each entry checked, none twice."""
    if key not in g:
        problems.add(where, f"{key} is missing (it must list at least one value)")
        return []
    vals = g[key] if isinstance(g[key], list) else [g[key]]
    if not vals:
        problems.add(where, f"{key} must not be empty")
        return []
    out = []
    for v in vals:
        r = problems.attempt(where, check, v)
        if r is not _BAD:
            if r in out:
                problems.add(where, f"{key} lists {_show(v)} more than once")
            out.append(r)
    return out


def _show(v) -> str:
    """A value for a one-line message: short scalars as written, anything else by its type."""
    if v is None or isinstance(v, (bool, int, float, str)):
        text = repr(v)
        return text if len(text) <= 40 and "\n" not in text else f"a {type(v).__name__} of length {len(text)}"
    return f"a {type(v).__name__}"


def _int(name, minimum):
    return lambda v: _checks.integer(name, v, minimum=minimum)


def _seed(v):
    return _checks.seed(v)


def _schedule(v):
    if isinstance(v, str):
        _checks.choice("schedule", v, _schedules.names())
        return {"name": v, "params": {}}
    if not isinstance(v, dict) or "name" not in v:
        raise InvalidInput(f"schedules: each entry is a name or a table with a name, got {_show(v)}")
    params = {k: v[k] for k in v if k != "name"}
    for k, p in params.items():
        _checks.real(f"schedule parameter {k}", p)
    _checks.choice("schedule", v["name"], _schedules.names())
    return {"name": v["name"], "params": {k: float(p) for k, p in sorted(params.items())}}


def _perturbation(v):
    if isinstance(v, str) and v == "none":
        return None
    if not isinstance(v, dict):
        raise InvalidInput(f"perturbations: each entry is 'none' or a table with kind and eps_score, got {_show(v)}")
    unknown = [k for k in v if k not in PERTURBATION_KEYS]
    if unknown:
        raise InvalidInput(f"perturbations: unknown key {unknown[0]!r} (valid: {', '.join(PERTURBATION_KEYS)})")
    if "kind" not in v or "eps_score" not in v:
        raise InvalidInput(f"perturbations: a table needs kind and eps_score, got {_show(v)}")
    _checks.choice("perturbation kind", v["kind"], perturb.KINDS)
    out = {"kind": v["kind"], "eps_score": _checks.real("eps_score", v["eps_score"], low=0.0, high=perturb.EPS_MAX,
                                                         high_open=True)}
    if v.get("eps_jacobi") is not None:
        out["eps_jacobi"] = _checks.real("eps_jacobi", v["eps_jacobi"], low=0.0)
        if out["eps_jacobi"] and v["kind"] not in perturb.JACOBIAN_KINDS:
            raise InvalidInput(f"perturbations: kind {v['kind']!r} has no Jacobian dial (eps_jacobi: only for smooth)")
    out["seed"] = _checks.seed(v.get("seed", 0))
    return out


def _setting(g, key, where, problems, check):
    r = problems.attempt(where, check, g[key]) if g[key] is not None else None
    return None if r is _BAD else r


def _targets_at(g, where, base, problems) -> list[tuple[object, object]]:
    """``(spec target, mixture)`` for every target (and every d, with a d axis)."""
    out = []
    if "d" in g:
        ds = _axis(g, "d", where, problems, _int("d", 1))
        for fam in _axis(g, "targets", where, problems, lambda v: _targets.family(v) and v):
            for d in ds:
                name = _targets.in_dimension(fam, d)
                tg = problems.attempt(where, _targets.resolve, name)
                if tg is not _BAD:
                    out.append((name, tg))
        return out

    def one(name):
        if name.endswith(".json") or os.sep in name:
            tg = _targets.resolve(os.path.join(base, name))
            return ({"mixture": tg.to_dict(), "name": os.path.basename(name)}, tg)
        return (name, _targets.resolve(name))

    for name in _axis(g, "targets", where, problems, _target_name):
        r = problems.attempt(where, one, name)
        if r is not _BAD:
            out.append(r)
    return out


def _target_name(v):
    if not isinstance(v, str):
        raise InvalidInput(f"targets: each entry is a built-in name or a JSON file, got {_show(v)}")
    return v


def _group_cells(g, where, base, problems) -> list[Cell]:
    start = len(problems.items)
    tgs = _targets_at(g, where, base, problems)
    sams = _axis(g, "samplers", where, problems, lambda v: get_sampler(v) and v)
    scheds = _axis(g, "schedules", where, problems, _schedule)
    Ts = _axis(g, "T", where, problems, _int("T", 2))
    seeds = _axis(g, "seeds", where, problems, _seed)
    perts = _axis(g, "perturbations", where, problems, _perturbation)
    default = isinstance(g["metrics"], str) and g["metrics"] == "default"
    metrics = "default" if default else _axis(g, "metrics", where, problems, lambda m: _metrics.get(m).name)
    init = _setting(g, "init", where, problems, lambda v: _checks.choice("init", v, ("gaussian", "exact")))
    n = _setting(g, "n", where, problems, _int("n", 1))
    rse = _setting(g, "target_rse", where, problems,
                   lambda v: _checks.real("target_rse", v, low=0.0, high=1.0, low_open=True))
    backend = _setting(g, "backend", where, problems, lambda v: _checks.choice("backend", v, kernels.BACKENDS))
    budget = _setting(g, "max_cell_seconds", where, problems,
                      lambda v: _checks.real("max_cell_seconds", v, low=0.0, low_open=True))
    for sc in scheds:
        for T in Ts:
            problems.attempt(where, _schedules.get, sc["name"], T, **sc["params"])
    if len(problems.items) > start or None in (init, rse, backend):
        return []
    cells = []
    empty: dict[tuple, list] = {}      # (sampler, family, why) -> the d where no named metric applies
    used: set[str] = set()
    first_why: dict[str, str] = {}
    for spec_target, tg in tgs:
        for sname in sams:
            s = get_sampler(sname)
            if metrics == "default":
                chosen = list(_metrics.default_metrics(s, tg))
            else:
                chosen = []
                for m in metrics:
                    why = _metrics.get(m).problem(s, tg, suggest=False)
                    if why:
                        first_why.setdefault(m, why.split(";")[0])
                    else:
                        chosen.append(m)
                        used.add(m)
            if not chosen:
                why = "; ".join(sorted({_metrics.get(m).problem(s, tg, suggest=False).split(";")[0] for m in metrics}))
                empty.setdefault((s.name, family_of(tg.name)[0], why), []).append(tg.d)
                continue
            be = _backend(backend, s, tg, scheds, Ts, where, problems)
            if be is None:
                continue
            for m in chosen:
                metric = _metrics.get(m)
                if n is not None and problems.attempt(where, metric.check_n, n) is _BAD:
                    continue
                size = n if n is not None else (16 if metric.adaptive else 1) * (metric.default_n or 0)
                if metric.memory is not None and size:
                    problems.attempt(where, metric.memory, size, tg, be)
            for p in perts:
                if p is not None and problems.attempt(where, _metrics_take, chosen, p, tg) is _BAD:
                    continue
                for fam in _families(chosen):
                    for sc in scheds:
                        for T in Ts:
                            for seed in seeds:
                                spec = {"target": spec_target, "target_hash": tg.content_hash(), "sampler": sname,
                                        "schedule": sc, "T": T, "perturbation": p, "init": init, "seed": seed,
                                        "metrics": fam, "n": n, "target_rse": rse, "backend": be}
                                ladder = None
                                if "d" in g:
                                    rung = {k: v for k, v in spec.items() if k not in ("target", "target_hash")}
                                    ladder = cell_key({**rung, "family": family_of(tg.name)[0]})
                                label = f"{s.name} {','.join(fam)} {tg.name or 'custom'} T={T}"
                                cells.append(Cell(spec, cell_key(spec), label, tg.d, ladder, budget))
    for (sname, fam, why), ds in empty.items():
        problems.add(where, f"none of the metrics named applies to {sname} on {fam} at d = "
                            f"{', '.join(str(d) for d in sorted(set(ds)))} ({why})")
    for m in metrics if metrics != "default" else []:
        if m not in used and not empty:
            problems.add(where, f"metric {m!r} applies to none of the group's samplers and targets ({first_why[m]})")
    return [] if len(problems.items) > start else cells


def _families(chosen) -> list[list[str]]:
    """Metrics that share a computation go into one cell (exact tv and kl: one pass)."""
    groups: dict = {}
    for m in chosen:
        groups.setdefault(_metrics.get(m).compute, []).append(m)
    return [sorted(ms, key=lambda m: (_metrics.get(m).rank, m)) for ms in groups.values()]


def _metrics_take(chosen, p, tg) -> None:
    probe = perturb.make(p["kind"], tg, 0.0)
    for m in chosen:
        needs = _metrics.get(m).needs
        if "jacobian" in needs and not probe.has_jacobian:
            raise InvalidInput(f"metric {m!r} needs the score Jacobian; perturbation kind {p['kind']!r} has none")
        if "deterministic" in needs and not probe.deterministic:
            raise InvalidInput(f"metric {m!r} needs a deterministic score; perturbation kind {p['kind']!r} draws noise")


def _backend(backend, s, tg, scheds, Ts, where, problems) -> str | None:
    """The backend a sampler's cells run on, resolved here (``auto``: what this machine
    would use) so that it is part of every cell's key."""
    from ..run import _backend_for
    from ..score import ExactScore

    sched = _schedules.get(scheds[0]["name"], Ts[0], **scheds[0]["params"])
    r = problems.attempt(where, _backend_for, backend, ExactScore(tg), None, lambda: kernels.trace(s, sched))
    return None if r is _BAD else r


def summary(study: Study, done: set[str]) -> str:
    """One line: cells in all, already stored, to run."""
    todo = sum(1 for c in study.cells if c.key not in done)
    return (f"{len(study.cells)} cells in {max(1, len(study.groups))} group(s): {len(study.cells) - todo} already in the "
            f"store, {todo} to run")


__all__ = ["Cell", "Study", "from_dict", "load", "summary"]
