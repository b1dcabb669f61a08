"""Commands that compute: sample, rates, sensitivity."""

from __future__ import annotations

import io

import numpy as np

from ..errors import InvalidInput
from .common import (backend_arg, number_list, output_args, prepare_outputs, progress, progress_tasks, sampler_list,
                     schedule_args, schedule_params, target_arg, write_outputs)
from .registry import Command


def _sample_args(p):
    target_arg(p)
    p.add_argument("--sampler", default="accel-ode",
                   help="a built-in name (see accnum samplers) or an import path package.module:Class")
    schedule_args(p)
    p.add_argument("--T", type=int, default=200, help="number of steps (default 200)")
    p.add_argument("--n", type=int, default=10_000, help="number of samples (default 10000)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--init", default="gaussian", choices=["gaussian", "exact"], help="Y_T ~ N(0, I) or q_T")
    p.add_argument("--to", type=int, default=1, choices=[0, 1], help="stop at Y_1 (theory) or Y_0")
    p.add_argument("--path", action="store_true",
                   help="also keep every step's points: writes an .npz with x, path (T - to + 1, n, d), t, abar, sigma")
    p.add_argument("--out", default=None, help="output file: .npy (default samples.npy), or .npz with --path "
                                               "(default samples.npz)")
    backend_arg(p)


def _sample(args):
    from .. import sample, schedules, targets
    from ..io import Outputs, check_file

    ext = ".npz" if args.path else ".npy"
    out = args.out or f"samples{ext}"
    if not out.endswith(ext):
        raise InvalidInput(f"--out must name a {ext} file{' with --path' if args.path else ''}, got {out!r}")
    args.out = out
    out_path = check_file(out, "--out")
    target = targets.resolve(args.target)
    sched = schedules.get(args.schedule, args.T, **schedule_params(args))
    res = sample(target, args.sampler, sched, n=args.n, seed=args.seed, init=args.init, to=args.to,
                 progress=progress(str(args.sampler)), backend=args.backend, path=args.path)
    buf = io.BytesIO()
    if args.path:
        res.save(buf)
    else:
        np.save(buf, res.x)
    out = Outputs()
    out.add(out_path, buf.getvalue())
    out.commit()
    kept = f" and their paths ({res.path.shape[0]} points each)" if args.path else ""
    print(f"{res.x.shape[0]} samples of Y_{res.to} (d = {res.x.shape[1]}){kept} from {res.sampler} on {res.schedule}, "
          f"{res.nfe} score evaluations each, seed {res.seed}, backend {res.backend} -> {args.out}")
    print(f"sample mean {np.array2string(res.x.mean(axis=0), precision=4)}; "
          f"target q_{res.to} mean {np.array2string(target.diffused(sched.alpha_bar[res.to]).mean(), precision=4)}")


def _rates_args(p):
    from .. import metrics

    target_arg(p)
    p.add_argument("--samplers", default=None,
                   help="comma-separated built-in names or import paths package.module:Class, or 'all' "
                        "(default ddim-li,accel-ode,ddpm-li,accel-sde)")
    schedule_args(p)
    p.add_argument("--T", default=None, help="comma-separated step counts (default 25,50,100,200,400,800,1600)")
    p.add_argument("--metric", default=None, help=f"one metric for all samplers: {', '.join(metrics.names())} "
                                                 "(default: per sampler; accnum metrics lists them)")
    p.add_argument("--n", type=int, default=None, help="sample size per estimate (default: per metric, enlarged to a "
                                                      "2%% relative standard error)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--init", default="gaussian", choices=["gaussian", "exact"], help="Y_T ~ N(0, I) or q_T")
    p.add_argument("--fit-range", default=None, metavar="LO:HI",
                   help="fit the orders over the T in LO..HI only (e.g. 200:1600; default all)")
    p.add_argument("--polylog-p", default="claimed", metavar="P",
                   help="power of T held fixed in the polylog fit C T^-p (log T)^k: 'claimed' (default), a number, "
                        "or 'none'")
    output_args(p, "rates")
    backend_arg(p)


def _rates(args):
    from .. import targets
    from ..experiments.rates import DEFAULT_SAMPLERS, DEFAULT_TS, convergence

    target = targets.resolve(args.target)
    names = sampler_list(args.samplers, DEFAULT_SAMPLERS)
    Ts = DEFAULT_TS if args.T is None else number_list(args.T, "--T", int)
    outputs = prepare_outputs(args)
    res = convergence(target, names, args.schedule, Ts, metric=args.metric, n=args.n, seed=args.seed, init=args.init,
                      schedule_params=schedule_params(args), progress=progress_tasks(), backend=args.backend,
                      fit_range=args.fit_range, polylog_p=_polylog_p(args.polylog_p))
    print(res.table())
    write_outputs(res, outputs, "rates", args)


def _polylog_p(text: str):
    if text in ("claimed", "none"):
        return None if text == "none" else text
    try:
        return float(text)
    except ValueError:
        raise InvalidInput(f"--polylog-p must be 'claimed', 'none' or a number, got {text!r}") from None


def _sensitivity_args(p):
    target_arg(p)
    p.add_argument("--sampler", default="accel-ode",
                   help="sampler names or import paths package.module:Class, separated by commas")
    schedule_args(p)
    p.add_argument("--T", type=int, default=400, help="number of steps (default 400)")
    p.add_argument("--eps-score", default="0,0.003,0.01,0.03,0.1", help="requested eps_score values")
    p.add_argument("--eps-jacobi", default="0", help="requested eps_Jacobi values (kind smooth only)")
    p.add_argument("--kind", default="smooth", choices=["smooth", "bias", "scale", "time", "noise"],
                   help="perturbation kind (default smooth)")
    p.add_argument("--metric", default=None, help="error metric (default: tv for ODE, path-kl for SDE samplers; "
                                                 "w1/sliced-w2 for kind noise)")
    p.add_argument("--n", type=int, default=None, help="sample size per estimate (default: per metric)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    output_args(p, "sensitivity")
    backend_arg(p)


def _sensitivity(args):
    from .. import schedules, targets
    from ..experiments.sensitivity import sensitivity

    target = targets.resolve(args.target)
    names = sampler_list(args.sampler, ())
    ess = number_list(args.eps_score, "--eps-score")
    ejs = number_list(args.eps_jacobi, "--eps-jacobi")
    sched = schedules.get(args.schedule, args.T, **schedule_params(args))
    outputs = prepare_outputs(args)
    res = sensitivity(target, names, sched, ess, ejs, kind=args.kind, metric=args.metric, n=args.n, seed=args.seed,
                      progress=progress("eps pairs", "eps pair"), backend=args.backend)
    print(res.table())
    write_outputs(res, outputs, "sensitivity", args)


COMMANDS = [
    Command("sample", "draw samples with a sampler", "Run a sampler and save Y_1 (or Y_0) as .npy.", _sample_args,
            _sample),
    Command("rates", "measure convergence orders (the main job)",
            "Measure each sampler's error over a grid of T with exact metrics, fit the observed orders and compare "
            "them with the claimed ones.  Writes rates.csv, rates.json and rates.png into --out.", _rates_args, _rates),
    Command("sensitivity", "error against injected score and Jacobian error",
            "Inject calibrated score errors, measure the achieved eps_score and eps_Jacobi, and each sampler's error "
            "with them.  Writes sensitivity.csv, sensitivity.json and sensitivity.png into --out.", _sensitivity_args,
            _sensitivity),
]
