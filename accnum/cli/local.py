"""``accnum local-error``: one-step against global error of deterministic samplers."""

from __future__ import annotations

from .common import (backend_arg, number_list, output_args, prepare_outputs, progress, sampler_list, schedule_args,
                     schedule_params, target_arg, write_outputs)
from .registry import Command


def _args(p):
    target_arg(p)
    p.add_argument("--samplers", default=None,
                   help="comma-separated deterministic samplers: built-in names or import paths package.module:Class "
                        "(default ddim-li,accel-ode)")
    schedule_args(p)
    p.add_argument("--T", default=None, help="comma-separated step counts (default 25,50,100,200,400)")
    p.add_argument("--n", type=int, default=512, help="exact draws of q_T per T (default 512)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    output_args(p, "local-error")
    backend_arg(p)


def _run(args):
    from .. import targets
    from ..experiments.local import DEFAULT_SAMPLERS, DEFAULT_TS, local_error

    target = targets.resolve(args.target)
    names = sampler_list(args.samplers, DEFAULT_SAMPLERS)
    Ts = DEFAULT_TS if args.T is None else number_list(args.T, "--T", int)
    outputs = prepare_outputs(args)
    res = local_error(target, names, args.schedule, Ts, n=args.n, seed=args.seed, schedule_params=schedule_params(args),
                      backend=args.backend, progress=progress("T values", "T"))
    print(res.table())
    write_outputs(res, outputs, "local-error", args)


COMMANDS = [
    Command("local-error", "one-step (local) against global error, orders p + 1 and p",
            "Start every step of each deterministic sampler from the exact probability-flow trajectory and measure "
            "its one-step error, run it through all steps for the global error, and fit both orders against T.  "
            "Writes local-error.csv, local-error.json and local-error.png into --out.", _args, _run),
]
