"""The generated parts of the documentation site, as Markdown, read from accnum itself.

``tools/docs/hooks.py`` puts them into the pages where a marker asks for one, e.g.
``<!-- generate: sampler-facts li-deterministic -->``:

=========================================  ====================================================
``sampler-facts FAMILY``                   the registry's facts of the family's samplers
``measured-orders FAMILY``                 the orders measured by ``tools/docs/measure_orders.py``
``metric-registry``                        every registered metric, from the metric registry
``cli-reference``                          every command's usage and options, from the parser
=========================================  ====================================================

Run ``python tools/docs/gen.py NAME [ARG]`` to print one.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ORDERS_JSON = ROOT / "docs" / "data" / "measured-orders.json"

#: the sampler families, one page each (docs/samplers/FAMILY.md)
FAMILIES = {
    "li-deterministic": "Li et al.'s deterministic samplers",
    "li-stochastic": "Li et al.'s stochastic samplers",
    "peers": "practical peers",
    "newest": "the newest solvers",
}

#: the newest solvers practitioners pick (third order, UniPC, DEIS, randomized midpoint)
NEWEST = ("dpmpp-3m", "dpmpp-3m-corrected", "unipc-2", "unipc-3", "deis-2", "deis-3", "randmid-ode")

#: samplers documented together under one heading of docs/math/samplers.md
MATH_ANCHOR = {"dpmpp-3m-corrected": "dpmpp-3m", "unipc-2": "unipc", "unipc-3": "unipc", "deis-2": "deis",
               "deis-3": "deis"}


def family_of(facts) -> str:
    """A built-in sampler's family: Li et al.'s (the paper's samplers and the authors' README
    forms), by kind; every other built-in sampler is a practical peer."""
    if facts.name in NEWEST:
        return "newest"
    li = facts.source.startswith(("Li, Huang", "Efimov et al."))
    if not li:
        return "peers"
    return "li-deterministic" if facts.kind == "ode" else "li-stochastic"


def family_members(family: str) -> list[str]:
    from accnum import samplers

    if family not in FAMILIES:
        raise ValueError(f"unknown sampler family {family!r}; known: {', '.join(FAMILIES)}")
    return [n for n in samplers.names(builtin_only=True) if family_of(samplers.get(n).facts) == family]


def _cell(text) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def sampler_facts(family: str) -> str:
    """The facts table of a family, one row per sampler, from ``accnum.samplers``."""
    from accnum import samplers

    rows = ["| sampler | kind | NFE per step | normals per step | claimed order (in h) | claimed in |",
            "|---|---|---|---|---|---|"]
    sources = []
    for name in family_members(family):
        f = samplers.get(name).facts
        order = "none" if f.order is None else f"{f.order:g}"
        anchor = MATH_ANCHOR.get(f.name, f.name)
        rows.append(f"| [`{f.name}`](../math/samplers.md#{anchor}) | {f.kind.upper()} | {f.nfe} | {f.normals} | {order} "
                    f"| `{f.metric}` |")
        sources.append(f"- `{f.name}`: {f.source}." + (f" *{f.note[:1].upper() + f.note[1:]}.*" if f.note else ""))
    return ("\n".join(rows) + "\n\nSources and notes:\n\n" + "\n".join(sources)
            + "\n\n*Generated from `accnum.samplers.get(name).facts` (`accnum samplers` prints the same).*\n")


def _load_orders() -> dict:
    if not ORDERS_JSON.exists():
        raise FileNotFoundError(f"{ORDERS_JSON.relative_to(ROOT)} is missing: run python tools/docs/measure_orders.py")
    return json.loads(ORDERS_JSON.read_text())


def check_measured(data: dict | None = None) -> list[str]:
    """What is out of date in the measured orders: a family whose samplers are not the
    registry's, or a run by another accnum version.  Empty when current."""
    import accnum

    data = _load_orders() if data is None else data
    problems = []
    if data.get("version") != accnum.__version__:
        problems.append(f"measured with accnum {data.get('version')}, this is {accnum.__version__}")
    for fam in FAMILIES:
        got = data.get("families", {}).get(fam, {}).get("result", {}).get("meta", {}).get("samplers")
        want = family_members(fam)
        if got != want:
            problems.append(f"family {fam}: measured {got}, the registry has {want}")
    return problems


def _fmt(x, spec=".2f") -> str:
    return "n/a" if x is None or (isinstance(x, float) and not math.isfinite(x)) else format(x, spec)


def measured_orders(family: str) -> str:
    """The measured orders of a family: how they were measured, the orders table and the
    errors, from docs/data/measured-orders.json."""
    from accnum.experiments.rates import RatesResult

    data = _load_orders()
    fam = data["families"][family]
    res = fam["result"]
    result = RatesResult(res["records"], [{k: (float("nan") if v is None and k != "claimed" else v) for k, v in o.items()}
                                          for o in res["orders"]], res["meta"])
    lines = [f"Measured with accnum {data['version']} (NumPy {res['meta']['numpy']}, Numba {res['meta']['numba']}) by",
             "", "```console", f"$ {fam['command']}", "```", "",
             f"{fam['why']} Regenerate with `python tools/docs/measure_orders.py` (CI does before every docs build; "
             f"this family took {data['timing'].get(family, float('nan')):.0f} s on a 2-core machine).", "",
             "| sampler | metric | observed order (95% CI) | raw slope vs T | slope vs NFE | claimed |",
             "|---|---|---|---|---|---|"]
    for o in result.orders:
        ci = f"{_fmt(o['order'])} [{_fmt(o['ci_low'])}, {_fmt(o['ci_high'])}]"
        claimed = "—" if o["claimed"] is None else f"{o['claimed']:g} ({o['claim_basis']})"
        lines.append(f"| `{o['sampler']}` | `{o['metric']}` | {ci} | {_fmt(o['raw_slope'])} | {_fmt(o.get('nfe_slope'))} "
                     f"| {claimed} |")
    h = r"c_1 \log T / T" if res["meta"]["h_name"].startswith("c1") else "1/T"
    lines += ["", f"Orders are in $h = {h}$ "
              "([math/orders.md](../math/orders.md#fit)). The errors (estimate ± standard error):", "",
              "```text", result.table().split("\nsampler ")[0].rstrip(), "```", "",
              "The raw data: [measured-orders.json](../data/measured-orders.json).", ""]
    return "\n".join(lines)


def metric_registry() -> str:
    """Every registered metric, from ``accnum.metrics.registry``."""
    from accnum.metrics import registry

    rows = ["| metric | what it measures | samplers | dimensions | needs | default n |",
            "|---|---|---|---|---|---|"]
    hows = []
    for name in registry.names():
        m = registry.get(name)
        kinds = ", ".join({"ode": "deterministic", "sde": "stochastic"}[k] for k in m.kinds)
        dims = f"d ≥ {m.min_d}" if m.max_d is None else (f"d = {m.max_d}" if m.max_d == m.min_d else f"d ≤ {m.max_d}")
        needs = ", ".join(m.needs) or "—"
        n = "—" if m.default_n is None else f"{m.default_n}" + (" (enlarged to 2% rse)" if m.adaptive else "")
        rows.append(f"| `{m.name}` | {_cell(m.summary)} | {kinds} | {dims} | {needs} | {n} |")
        if m.how:
            hows.append(f"- `{m.name}`: {m.how}.")
    return ("\n".join(rows) + "\n\nHow each is computed:\n\n" + "\n".join(hows)
            + "\n\n*Generated from `accnum.metrics.registry` (`accnum metrics` prints the same); `needs`: what the "
            "score model, the sampler or the target must provide; default n: the sample size before any enlargement "
            "(— where the metric has none: grids, closed forms).*\n")


def _subcommands(parser):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action.choices
    return {}


@contextlib.contextmanager
def _columns(n: int):
    old = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = str(n)
    try:
        yield
    finally:
        if old is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = old


def cli_reference() -> str:
    """Every command's usage and options, from ``accnum.cli.build_parser()``."""
    from accnum.cli import build_parser
    from accnum.cli.registry import commands

    with _columns(80):
        parser = build_parser()
        subs = _subcommands(parser)
        out = ["```console", "$ accnum --help", parser.format_help().rstrip(), "```", ""]
        for cmd in commands():
            sp = subs[cmd.name]
            out += [f"## accnum {cmd.name} {{#{cmd.name}}}", "", cmd.help[:1].upper() + cmd.help[1:] + ".", "",
                    "```console", f"$ accnum {cmd.name} --help", sp.format_help().rstrip(), "```", ""]
    return "\n".join(out)


GENERATORS = {"sampler-facts": sampler_facts, "measured-orders": measured_orders, "metric-registry": metric_registry,
              "cli-reference": cli_reference}


def generate(name: str, *args: str) -> str:
    if name not in GENERATORS:
        raise ValueError(f"unknown generated part {name!r}; known: {', '.join(GENERATORS)}")
    return GENERATORS[name](*args)


if __name__ == "__main__":
    sys.stdout.write(generate(*sys.argv[1:]))
