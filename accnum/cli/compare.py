"""``accnum compare``: samplers at equal cost (NFE budgets), the best per budget."""

from __future__ import annotations

from .common import (backend_arg, bar, number_list, output_args, prepare_outputs, sampler_list, schedule_args,
                     schedule_params, target_arg, write_outputs)
from .registry import Command


def _args(p):
    target_arg(p)
    p.add_argument("--samplers", default=None,
                   help="comma-separated built-in names or import paths package.module:Class, or 'all' "
                        "(default ddim-li,accel-ode,ddpm-li,accel-sde)")
    p.add_argument("--nfe", default=None, help="comma-separated NFE budgets per sample, increasing "
                                               "(default 10,20,50,100,200)")
    schedule_args(p)
    p.add_argument("--metric", default="marginal-tv",
                   help="one metric for all samplers (default marginal-tv: exact TV for ODE, grid TV for SDE samplers)")
    p.add_argument("--n", type=int, default=None, help="sample size per estimate (default: per metric)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--init", default="gaussian", choices=["gaussian", "exact"], help="Y_T ~ N(0, I) or q_T")
    output_args(p, "compare")
    backend_arg(p)


def _run(args):
    from .. import targets
    from ..experiments.compare import DEFAULT_BUDGETS, DEFAULT_SAMPLERS, equal_cost

    target = targets.resolve(args.target)
    names = sampler_list(args.samplers, DEFAULT_SAMPLERS)
    budgets = DEFAULT_BUDGETS if args.nfe is None else number_list(args.nfe, "--nfe", int)
    outputs = prepare_outputs(args)
    res = equal_cost(target, names, budgets, args.schedule, metric=args.metric, n=args.n, seed=args.seed,
                     init=args.init, schedule_params=schedule_params(args), backend=args.backend,
                     progress=_cells())
    print(res.table())
    write_outputs(res, outputs, "compare", args)


def _cells():
    """A progress bar over the (budget, sampler) cells, naming the one running."""
    return lambda cells: bar(cells, "cell", describe=lambda cell: f"{cell[1].name} at {cell[0]} NFE")


COMMANDS = [
    Command("compare", "samplers at equal cost: the best per NFE budget",
            "For each NFE budget give each sampler the most steps that fit (T = 1 + floor(NFE / NFE per step)), "
            "measure one metric for all (default marginal-tv), and name the best sampler per budget; a cell that "
            "cannot be measured (not invertible, no schedule at that T) says so in its cell.  Writes compare.csv, "
            "compare.json and compare.png into --out.", _args, _run),
]
