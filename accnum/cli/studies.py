"""Commands for studies: dims (error against d at fixed T), sweep (a study file, kept in a
store and resumable, in-process or on Dask) and report (tables and figures from a store)."""

from __future__ import annotations

import io
import os
import sys

from ..errors import InvalidInput
from .common import backend_arg, number_list, output_args, prepare_outputs, sampler_list, schedule_args, \
    schedule_params, write_outputs
from .registry import Command

DIMS_SAMPLERS = ("ddim-li", "accel-ode", "ddpm-li", "accel-sde")
BEGIN, END = "<!-- accnum report begin -->", "<!-- accnum report end -->"


def _cluster_args(p) -> None:
    g = p.add_mutually_exclusive_group()
    g.add_argument("--workers", type=int, default=None, metavar="N",
                   help="run the cells on a local Dask cluster of N worker processes (loopback; needs accnum[dask])")
    g.add_argument("--scheduler", default=None, metavar="tcp://HOST:PORT",
                   help="run the cells on an existing Dask scheduler (needs accnum[dask])")
    p.add_argument("--connect-timeout", type=float, default=10.0, metavar="S",
                   help="seconds the scheduler may take to answer (default 10)")


def _dims_args(p):
    p.add_argument("--family", default="twomodes",
                   help="a target family in d: twomodes, isogauss, gmm:K=4,layout=fixed, gauss (default twomodes)")
    p.add_argument("--d", default="1,2,4,8,16,32", help="comma-separated dimensions (default 1,2,4,8,16,32)")
    p.add_argument("--samplers", default=None,
                   help=f"comma-separated names or import paths, or 'all' (default {','.join(DIMS_SAMPLERS)})")
    schedule_args(p)
    p.add_argument("--T", type=int, default=200, help="number of steps, fixed across d (default 200)")
    p.add_argument("--metric", default=None, help="comma-separated metrics (default: gauss-tv,gauss-kl on a Gaussian "
                                                 "family, else each sampler's defaults at each d)")
    p.add_argument("--n", type=int, default=None, help="sample size per estimate (default: per metric, enlarged to "
                                                      "the target relative standard error)")
    p.add_argument("--target-rse", type=float, default=0.02, help="relative standard error at which enlargement "
                                                                  "stops (default 0.02)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--init", default="gaussian", choices=["gaussian", "exact"], help="Y_T ~ N(0, I) or q_T")
    p.add_argument("--fit-range", default=None, metavar="LO:HI", help="fit the exponent over the d in LO..HI only")
    p.add_argument("--store", default=None, help="keep the cells in this results store (a re-run resumes)")
    p.add_argument("--max-cell-seconds", type=float, default=None, metavar="S",
                   help="defer the larger d whose predicted time per cell exceeds S seconds")
    _cluster_args(p)
    output_args(p, "dims")
    backend_arg(p)


def _dims(args):
    from ..experiments.dims import dimension_sweep
    from ..io import check_folder

    names = sampler_list(args.samplers, DIMS_SAMPLERS)
    ds = number_list(args.d, "--d", int)
    metric = None if args.metric is None else [m.strip() for m in args.metric.split(",") if m.strip()]
    outputs = prepare_outputs(args)
    if args.store is not None:
        check_folder(args.store, "--store")
    res = dimension_sweep(args.family, names, ds, T=args.T, schedule=args.schedule,
                          schedule_params=schedule_params(args), metric=metric, n=args.n, seed=args.seed,
                          init=args.init, target_rse=args.target_rse, backend=args.backend, store=args.store,
                          workers=args.workers, scheduler=args.scheduler, max_cell_seconds=args.max_cell_seconds,
                          fit_range=args.fit_range, connect_timeout=args.connect_timeout)
    print(res.table())
    for line in res.timing.get("run", []):
        print(line, file=sys.stderr)
    write_outputs(res, outputs, "dims", args)


def _sweep_args(p):
    p.add_argument("spec", help="the study file (TOML; see docs/studies.md)")
    p.add_argument("--store", default=None, help="results store (default: the file's 'store' key, else SPEC.store "
                                                 "beside the file)")
    p.add_argument("--dry-run", action="store_true", help="check the study and say what would run; compute nothing")
    _cluster_args(p)


def _sweep(args):
    from ..experiments.runner import run_study
    from ..experiments.store import Store
    from ..experiments.study import load, summary

    study = load(args.spec, store=args.store)
    store = Store(study.store, argument="store")
    print(f"study {args.spec}: {summary(study, store.keys())}; store {study.store}")
    if args.dry_run:
        return
    report = run_study(study.cells, store, workers=args.workers, scheduler=args.scheduler,
                       connect_timeout=args.connect_timeout)
    for line in report.lines():
        print(line)
    print(f"accnum report {study.store}  # the tables and figures")
    if report.failed:
        sys.exit(1)


def _report_args(p):
    p.add_argument("store", help="a results store written by accnum sweep or accnum dims --store")
    p.add_argument("--format", default="text", choices=["text", "markdown"], help="tables as text (default) or "
                                                                                   "as Markdown sections")
    p.add_argument("--fit-range-T", default=None, metavar="LO:HI", help="fit the orders over the T in LO..HI")
    p.add_argument("--fit-range-d", default=None, metavar="LO:HI", help="fit the exponents over the d in LO..HI")
    p.add_argument("--polylog-p", default="claimed", metavar="P",
                   help="power of T held fixed in the polylog fit: 'claimed' (default), a number or 'none'")
    p.add_argument("--out", default=None, help="also write report.json and one PNG per section into this folder")
    p.add_argument("--into", default=None, metavar="FILE",
                   help=f"replace the text between '{BEGIN}' and '{END}' in FILE with the Markdown report")


def _report(args):
    from ..experiments.report import build
    from ..experiments.store import Store
    from ..io import Outputs, check_folder
    from .compute import _polylog_p

    store = Store(args.store, create=False, argument="store")
    out_dir = check_folder(args.out, "--out") if args.out else None
    into = _into_text(args.into) if args.into else None
    rep = build(store.rows(), args.fit_range_T, args.fit_range_d, _polylog_p(args.polylog_p))
    if not rep.sections and not rep.rows:
        raise InvalidInput(f"store {args.store!r} holds no cells yet")
    files = Outputs()
    if into is not None:
        head, tail = into
        files.add(args.into, (head + BEGIN + "\n" + rep.text("markdown") + END + tail).encode())
    if out_dir:
        files.add(os.path.join(out_dir, "report.json"), rep.to_json().encode())
        for name, fig in rep.figures():
            buf = io.BytesIO()
            fig.savefig(buf, format="png", dpi=110)
            files.add(os.path.join(out_dir, name), buf.getvalue())
    sys.stdout.write(rep.text(args.format))
    files.commit()
    if out_dir:
        print(f"wrote report.json and {len(rep.sections)} figures to {out_dir}")
    if into is not None:
        print(f"replaced the report in {args.into}")


def _into_text(path) -> tuple[str, str]:
    """The parts of ``path`` before and after the report markers (checked before any work)."""
    from ..io import check_file

    check_file(path, "--into")
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except OSError as err:
        raise InvalidInput(f"--into {path!r}: cannot read ({err.strerror or err})") from None
    if text.count(BEGIN) != 1 or text.count(END) != 1 or text.index(BEGIN) > text.index(END):
        raise InvalidInput(f"--into {path!r} must hold the line {BEGIN} once, followed by {END} once")
    return text[:text.index(BEGIN)], text[text.index(END) + len(END):]


COMMANDS = [
    Command("dims", "error against the dimension at fixed T, and its exponent",
            "Measure each sampler's error on a target family with the same structure in every d (twomodes, "
            "isogauss, gmm:K=4,layout=fixed) at one T, and fit the exponent of d with its 95% interval.  Writes "
            "dims.csv, dims.json and dims.png into --out.", _dims_args, _dims),
    Command("sweep", "run a study file (kept in a results store, resumable; in-process or on Dask)",
            "Run every cell of a study file (targets, d, samplers, schedules, T, perturbations, seeds, metrics) that "
            "is not yet in its results store, writing each cell as it completes.", _sweep_args, _sweep),
    Command("report", "orders and exponents tables, and figures, from a results store",
            "Print the orders (T varies) and exponents of d (d varies) of every section of a results store; --out "
            "also writes the figures.", _report_args, _report),
]
