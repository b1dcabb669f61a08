"""Measure the orders shown on the sampler family pages (docs/samplers/*.md) and write them to
docs/data/measured-orders.json, which the docs build reads (tools/docs/hooks.py).

    python tools/docs/measure_orders.py            # every family (about 2 minutes on 2 cores)
    python tools/docs/measure_orders.py peers      # one family, the others kept

Each family is one ``accnum rates`` command, run through the command line itself so that
the page shows exactly what was run; its members are read from the sampler registry, so a
new built-in sampler is measured without editing this file.  The T grids are short (a
quick run); the pages say so, and docs/rates.md has the long runs.  CI runs this before
``mkdocs build --strict``.  Results do not depend on the machine (counter-based noise, the
backends agree to 1e-12): a rerun changes only the timings unless accnum's numbers change.
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gen import FAMILIES, ORDERS_JSON, ROOT, family_members  # noqa: E402

#: per family: the rates options besides --samplers, and why they were chosen
RUNS = {
    "li-deterministic": (
        ["--T", "100,200,400,800"],
        "The paper's schedule `li2024(c0=2, c1=4)` from $Y_T \\sim \\mathcal N(0, I)$, exact TV and KL "
        "(change of variables).",
    ),
    "li-stochastic": (
        ["--T", "50,100,200,400"],
        "The paper's schedule `li2024(c0=2, c1=4)` from $Y_T \\sim \\mathcal N(0, I)$, path KL (the quantity "
        "the proofs bound) and marginal TV on a grid.",
    ),
    "peers": (
        ["--schedule", "logsnr_uniform", "--init", "exact", "--T", "50,100,200,400"],
        "Uniform steps in log-SNR (`logsnr_uniform`, $h = 1/T$: the variable these samplers claim their order "
        "in) from $Y_T \\sim q_T$, which removes the start's own error (see "
        "[the start-error floor](../case-studies/start-floor.md)).",
    ),
    "newest": (
        ["--schedule", "logsnr_uniform", "--init", "exact", "--T", "50,100,200,400"],
        "Uniform steps in log-SNR (`logsnr_uniform`, $h = 1/T$) from $Y_T \\sim q_T$, as for the practical "
        "peers; `randmid-ode` at one seed (its seed-averaged order is in "
        "[its case study](../case-studies/randmid-ode.md)).",
    ),
}


def measure(family: str) -> tuple[dict, float]:
    from accnum.cli import main

    options, why = RUNS[family]
    argv = ["rates", "--samplers", ",".join(family_members(family)), *options]
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "rates.json"
        t0 = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):
            rc = main([*argv, "--out", tmp, "--json", str(out), "--no-plot"])
        seconds = time.perf_counter() - t0
        if rc != 0:
            raise SystemExit(f"accnum {' '.join(argv)} failed with exit status {rc}")
        result = json.loads(out.read_text())
    result.pop("timing", None)
    return {"command": "accnum " + " ".join(argv), "why": why, "result": result}, seconds


def main(families: list[str]) -> None:
    import accnum

    bad = [f for f in families if f not in FAMILIES]
    if bad:
        raise SystemExit(f"unknown family {bad[0]!r}; known: {', '.join(FAMILIES)}")
    data = json.loads(ORDERS_JSON.read_text()) if ORDERS_JSON.exists() else {}
    data.setdefault("families", {})
    data.setdefault("timing", {})
    for fam in families or list(FAMILIES):
        entry, seconds = measure(fam)
        data["families"][fam] = entry
        data["timing"][fam] = round(seconds, 1)
        print(f"{fam}: {entry['command']} ({seconds:.1f} s)")
    data["version"] = accnum.__version__
    data["families"] = {f: data["families"][f] for f in FAMILIES if f in data["families"]}
    ORDERS_JSON.parent.mkdir(parents=True, exist_ok=True)
    ORDERS_JSON.write_text(json.dumps(data, indent=1) + "\n")
    print(f"wrote {ORDERS_JSON.relative_to(ROOT)}")


if __name__ == "__main__":
    main(sys.argv[1:])
