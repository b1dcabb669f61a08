"""The ``accnum`` command line.

Every command validates its input through the library; an :class:`~accnum.errors.AccnumError`
(bad input, a missing capability, an unusable backend) becomes one line on stderr and exit
status 2, with no traceback and no output file.  Any other exception is a bug and shows as
one.  Output paths are checked before any work, and a run's files are written together
(:class:`accnum.io.Outputs`): an error or an interrupt (SIGINT, SIGTERM) replaces nothing.
"""

from __future__ import annotations

import argparse
import io
import signal
import sys

import numpy as np

from . import __version__
from .errors import AccnumError, InvalidInput


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, status 2, no usage dump
        raise _UsageError(message)


class _UsageError(Exception):
    pass


def _schedule_args(p):
    from . import schedules

    p.add_argument("--schedule", default="li2024", help=f"noise schedule: {', '.join(schedules.names())} (default li2024)")
    p.add_argument("--c0", type=float, default=None, help="li2024: beta_1 = T^-c0 (default 2)")
    p.add_argument("--c1", type=float, default=None, help="li2024: plateau beta = c1 log T / T (default 4)")


def _backend_arg(p, computes: bool = True):
    what = ("where samplers and metrics run" if computes else "checked for availability (listings compute nothing)")
    p.add_argument("--backend", default="auto", choices=["auto", "numpy", "cpu", "cuda"],
                   help=f"{what}: auto (cuda on a GPU, else cpu), numpy (reference), cpu (Numba), cuda (default auto)")


def _check_backend(args) -> str:
    """The backend that will run; a one-line error if the requested one cannot run here."""
    from .kernels import resolve_backend

    return resolve_backend(args.backend)


def _output_args(p, stem):
    p.add_argument("--out", default="accnum-out", help="output folder (default ./accnum-out/)")
    p.add_argument("--json", default=None, help="also write the JSON result to this path")
    p.add_argument("--no-plot", action="store_true", help=f"skip {stem}.png")


def schedule_params(args) -> dict:
    params = {}
    for key in ("c0", "c1"):
        val = getattr(args, key)
        if val is not None:
            if args.schedule != "li2024":
                raise InvalidInput(f"--{key} applies to the li2024 schedule only, not {args.schedule!r}")
            params[key] = val
    return params


def _progress(desc):
    from tqdm import tqdm

    return lambda it: tqdm(it, desc=desc, unit="step", leave=False, file=sys.stderr, disable=None)


# ------------------------------------------------------------------- commands
def cmd_info(args):
    import platform

    import numba

    from . import kernels

    _check_backend(args)
    state, why = kernels.cuda_status()
    try:
        import numba_cuda
        nc = numba_cuda.__version__
    except ImportError:
        nc = "not installed (pip install \"accnum[cuda]\")"
    rows = [("item", "value"),
            ("accnum", __version__), ("python", platform.python_version()), ("numpy", np.__version__),
            ("numba", numba.__version__), ("numba-cuda", nc),
            ("cpu threads", str(numba.get_num_threads())),
            ("backend numpy", "usable (reference)"),
            ("backend cpu", f"usable ({numba.get_num_threads()} threads, threading layer {numba.config.THREADING_LAYER})"),
            ("backend cuda", {"device": f"usable: {why}", "simulator": f"usable under the simulator: {why}",
                              "none": f"not usable: {why}"}[state]),
            ("backend auto", f"-> {kernels.resolve_backend('auto')}")]
    _print_table(rows)


def cmd_samplers(args):
    from . import samplers

    _check_backend(args)

    rows = [("name", "kind", "NFE/step", "normals", "claimed order", "metric", "source")]
    for name in samplers.names():
        f = samplers.get(name).facts
        rows.append((f.name, f.kind.upper(), str(f.nfe), str(f.normals), f"{f.order:g}", f.metric, f.source))
    _print_table(rows)


def cmd_targets(args):
    from . import targets

    _check_backend(args)

    rows = [("name", "d", "K", "description")]
    for name in targets.names():
        t = targets.get(name)
        rows.append((name + (" (default)" if name == targets.DEFAULT else ""), str(t.d), str(t.K), targets.describe(name)))
    _print_table(rows)
    print("\nParameterised: gauss:d=8, gmm:d=8,K=4.  Any JSON file in the SPEC §2 format also works.")


def cmd_sample(args):
    from . import sample, schedules, targets
    from .io import Outputs, check_file

    if not args.out.endswith(".npy"):
        raise InvalidInput(f"--out must name a .npy file, got {args.out!r}")
    out_path = check_file(args.out, "--out")
    target = targets.resolve(args.target)
    sched = schedules.get(args.schedule, args.T, **schedule_params(args))
    res = sample(target, args.sampler, sched, n=args.n, seed=args.seed, init=args.init, to=args.to,
                 progress=_progress(args.sampler), backend=args.backend)
    buf = io.BytesIO()
    np.save(buf, res.x)
    out = Outputs()
    out.add(out_path, buf.getvalue())
    out.commit()
    print(f"{res.x.shape[0]} samples of Y_{res.to} (d = {res.x.shape[1]}) from {res.sampler} on {res.schedule}, "
          f"{res.nfe} score evaluations each, seed {res.seed}, backend {res.backend} -> {args.out}")
    print(f"sample mean {np.array2string(res.x.mean(axis=0), precision=4)}; "
          f"target q_{res.to} mean {np.array2string(target.diffused(sched.alpha_bar[res.to]).mean(), precision=4)}")


def _number_list(text: str, name: str, kind=float) -> list:
    """A comma-separated list of ``kind`` (int or float); floats must be non-negative."""
    word = "integers" if kind is int else "numbers"
    try:
        vals = [kind(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise InvalidInput(f"{name} must be a comma-separated list of {word}, got {text!r}") from None
    if not vals:
        raise InvalidInput(f"{name} must not be empty")
    if kind is float and any(v < 0 or v != v for v in vals):
        raise InvalidInput(f"{name} must be non-negative, got {text!r}")
    return vals


def cmd_rates(args):
    from . import samplers as _samplers
    from . import targets
    from .experiments.rates import DEFAULT_SAMPLERS, DEFAULT_TS, convergence

    target = targets.resolve(args.target)
    names = _samplers.names() if args.samplers == "all" else (
        list(DEFAULT_SAMPLERS) if args.samplers is None else [s.strip() for s in args.samplers.split(",") if s.strip()])
    if not names:
        raise InvalidInput("--samplers must name at least one sampler")
    Ts = DEFAULT_TS if args.T is None else _number_list(args.T, "--T", int)
    outputs = _prepare_outputs(args)
    res = convergence(target, names, args.schedule, Ts, metric=args.metric, n=args.n, seed=args.seed, init=args.init,
                      schedule_params=schedule_params(args), progress=_progress_tasks(), backend=args.backend)
    res.meta["target"] = args.target
    for r in res.records:
        r["target"] = args.target
    print(res.table())
    _write_outputs(res, outputs, "rates", args)


def cmd_sensitivity(args):
    from . import schedules, targets
    from .experiments.sensitivity import sensitivity

    target = targets.resolve(args.target)
    names = [s.strip() for s in args.sampler.split(",") if s.strip()]
    if not names:
        raise InvalidInput("--sampler must name at least one sampler")
    ess = _number_list(args.eps_score, "--eps-score")
    ejs = _number_list(args.eps_jacobi, "--eps-jacobi")
    sched = schedules.get(args.schedule, args.T, **schedule_params(args))
    outputs = _prepare_outputs(args)
    from tqdm import tqdm

    prog = lambda it: tqdm(it, unit="eps pair", file=sys.stderr, disable=None, leave=False)  # noqa: E731
    res = sensitivity(target, names, sched, ess, ejs, kind=args.kind, metric=args.metric, n=args.n, seed=args.seed,
                      progress=prog, backend=args.backend)
    res.meta["target"] = args.target
    print(res.table())
    _write_outputs(res, outputs, "sensitivity", args)


def _prepare_outputs(args) -> tuple[str, str | None]:
    """Check, before any work, that ``--out`` (a folder, made at the end if need be) and
    ``--json`` (which may lie inside that folder) can be written."""
    from .io import check_file, check_folder

    out_dir = check_folder(args.out, "--out")
    json_path = check_file(args.json, "--json", will_create=out_dir) if args.json else None
    return out_dir, json_path


def _write_outputs(res, outputs: tuple[str, str | None], stem: str, args) -> None:
    """``stem``.csv, .json and (unless --no-plot) .png into the ``--out`` folder, and the JSON
    to ``--json``: every file made in memory first, then all written as one unit."""
    import os

    from .io import Outputs

    out_dir, json_path = outputs
    out = Outputs()
    out.add(os.path.join(out_dir, f"{stem}.csv"), res.to_csv().encode())
    out.add(os.path.join(out_dir, f"{stem}.json"), res.to_json().encode())
    if json_path:
        out.add(json_path, res.to_json().encode())
    wrote = [f"{stem}.csv", f"{stem}.json"]
    if not args.no_plot:
        buf = io.BytesIO()
        res.plot(buf)
        out.add(os.path.join(out_dir, f"{stem}.png"), buf.getvalue())
        wrote.append(f"{stem}.png")
    out.commit()
    print(f"\nwrote {', '.join(wrote)} to {out_dir}" + (f" and {args.json}" if args.json else "")
          + f" ({res.meta['seconds']:.1f} s)")


def _progress_tasks():
    from tqdm import tqdm

    def wrap(tasks):
        bar = tqdm(tasks, unit="run", file=sys.stderr, disable=None, leave=False)
        for task in bar:
            bar.set_description(f"{task[0].name} T={task[2]}")
            yield task

    return wrap


def _print_table(rows):
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for j, r in enumerate(rows):
        print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
        if j == 0:
            print("  ".join("-" * w for w in widths))


# --------------------------------------------------------------------- parser
def build_parser() -> argparse.ArgumentParser:
    from . import samplers, targets

    p = _Parser(prog="accnum", description="Numerical analysis of diffusion-model samplers on exact-score Gaussian mixtures.")
    p.add_argument("--version", action="version", version=f"accnum {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    sp = sub.add_parser("samplers", help="list the samplers and their facts", description="List every registered sampler with its facts.")
    _backend_arg(sp, computes=False)
    sp.set_defaults(func=cmd_samplers)
    sp = sub.add_parser("targets", help="list the built-in targets", description="List the built-in targets.")
    _backend_arg(sp, computes=False)
    sp.set_defaults(func=cmd_targets)
    sp = sub.add_parser("info", help="versions and usable backends",
                        description="Print the versions of accnum and its compilers, and which backends can run here "
                                    "(CUDA device, simulator or none).")
    _backend_arg(sp, computes=False)
    sp.set_defaults(func=cmd_info)

    sp = sub.add_parser("sample", help="draw samples with a sampler", description="Run a sampler and save Y_1 (or Y_0) as .npy.")
    sp.add_argument("--target", default=targets.DEFAULT, help="built-in name (gmm1d, gmm:d=8,K=4, ...) or a JSON file")
    sp.add_argument("--sampler", default="accel-ode", help=f"one of: {', '.join(samplers.names())}")
    _schedule_args(sp)
    sp.add_argument("--T", type=int, default=200, help="number of steps (default 200)")
    sp.add_argument("--n", type=int, default=10_000, help="number of samples (default 10000)")
    sp.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    sp.add_argument("--init", default="gaussian", choices=["gaussian", "exact"], help="Y_T ~ N(0, I) or q_T")
    sp.add_argument("--to", type=int, default=1, choices=[0, 1], help="stop at Y_1 (theory) or Y_0")
    sp.add_argument("--out", default="samples.npy", help="output .npy file (default samples.npy)")
    _backend_arg(sp)
    sp.set_defaults(func=cmd_sample)

    sp = sub.add_parser("rates", help="measure convergence orders (the main job)",
                        description="Measure each sampler's error over a grid of T with exact metrics, fit the observed "
                                    "orders and compare them with the claimed ones.  Writes rates.csv, rates.json and "
                                    "rates.png into --out.")
    sp.add_argument("--target", default=targets.DEFAULT, help="built-in name (gmm1d, gmm:d=2,K=4, ...) or a JSON file")
    sp.add_argument("--samplers", default=None,
                    help="comma-separated sampler names, or 'all' (default ddim-li,accel-ode,ddpm-li,accel-sde)")
    _schedule_args(sp)
    sp.add_argument("--T", default=None, help="comma-separated step counts (default 25,50,100,200,400,800,1600)")
    sp.add_argument("--metric", default=None, help="one metric for all samplers: tv, kl, path-kl, grid-tv, gauss-kl, "
                                                 "gauss-w2, gauss-tv, sliced-w2, energy, w1, ks (default: per sampler)")
    sp.add_argument("--n", type=int, default=None, help="sample size per estimate (default: per metric, enlarged to a "
                                                      "2%% relative standard error)")
    sp.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    sp.add_argument("--init", default="gaussian", choices=["gaussian", "exact"], help="Y_T ~ N(0, I) or q_T")
    _output_args(sp, "rates")
    _backend_arg(sp)
    sp.set_defaults(func=cmd_rates)

    sp = sub.add_parser("sensitivity", help="error against injected score and Jacobian error",
                        description="Inject calibrated score errors (SPEC §5), measure the achieved eps_score and "
                                    "eps_Jacobi, and each sampler's error with them.  Writes sensitivity.csv, "
                                    "sensitivity.json and sensitivity.png into --out.")
    sp.add_argument("--target", default=targets.DEFAULT, help="built-in name or a JSON file")
    sp.add_argument("--sampler", default="accel-ode", help="sampler name, or several separated by commas")
    _schedule_args(sp)
    sp.add_argument("--T", type=int, default=400, help="number of steps (default 400)")
    sp.add_argument("--eps-score", default="0,0.003,0.01,0.03,0.1", help="requested eps_score values")
    sp.add_argument("--eps-jacobi", default="0", help="requested eps_Jacobi values (kind smooth only)")
    sp.add_argument("--kind", default="smooth", choices=["smooth", "bias", "scale", "time", "noise"],
                    help="perturbation kind (default smooth)")
    sp.add_argument("--metric", default=None, help="error metric (default: tv for ODE, path-kl for SDE samplers; "
                                                 "w1/sliced-w2 for kind noise)")
    sp.add_argument("--n", type=int, default=None, help="sample size per estimate (default: per metric)")
    sp.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    _output_args(sp, "sensitivity")
    _backend_arg(sp)
    sp.set_defaults(func=cmd_sensitivity)
    return p


def main(argv=None) -> int:
    parser = build_parser()
    previous = _catch_sigterm()
    try:
        args = parser.parse_args(argv)
        if not getattr(args, "command", None):
            parser.print_help()
            return 0
        args.func(args)
    except _UsageError as err:
        print(f"accnum: error: {err}", file=sys.stderr)
        return 2
    except AccnumError as err:
        print(f"accnum: error: {str(err).splitlines()[0] if str(err) else type(err).__name__}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("accnum: interrupted", file=sys.stderr)
        return 130
    except _Terminated:
        print("accnum: terminated", file=sys.stderr)
        return 143
    finally:
        _restore_sigterm(previous)
    return 0


class _Terminated(BaseException):
    """SIGTERM, raised where the program is so that partial outputs are cleaned up."""


def _on_sigterm(signum, frame):
    raise _Terminated()


def _catch_sigterm():
    try:
        return signal.signal(signal.SIGTERM, _on_sigterm)
    except ValueError:   # not the main thread: leave the default
        return None


def _restore_sigterm(previous) -> None:
    if previous is not None:
        signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())
