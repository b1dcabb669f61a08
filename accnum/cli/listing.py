"""Commands that describe rather than compute: info, samplers, targets, metrics, check-sampler."""

from __future__ import annotations

import json
import platform

from .common import backend_arg, check_backend, print_table
from .registry import Command


def _info_args(p):
    p.add_argument("--warm", action="store_true",
                   help="also compile, into Numba's cache, every cpu kernel the default commands (rates, sample, "
                        "sensitivity) need, so that their first run does not compile")
    backend_arg(p, computes=False)


def _info(args):
    import numba
    import numpy as np

    from .. import __version__, kernels

    check_backend(args)
    state, why = kernels.cuda_status()
    try:
        import numba_cuda
        nc = numba_cuda.__version__
    except ImportError:
        nc = 'not installed (pip install "accnum[cuda]")'
    rows = [("item", "value"),
            ("accnum", __version__), ("python", platform.python_version()), ("numpy", np.__version__),
            ("numba", numba.__version__), ("numba-cuda", nc),
            ("cpu threads", str(numba.get_num_threads())),
            ("backend numpy", "usable (reference)"),
            ("backend cpu", f"usable ({numba.get_num_threads()} threads)"),
            ("backend cuda", {"device": f"usable: {why}", "simulator": f"usable under the simulator: {why}",
                              "none": f"not usable: {why}"}[state]),
            ("backend auto", f"-> {kernels.resolve_backend('auto')}")]
    print_table(rows)
    if args.warm:
        _warm()


def _warm():
    import sys
    import time

    from tqdm import tqdm

    from . import build_parser
    from .warm import report, warm

    t0 = time.perf_counter()
    done = warm(build_parser(), lambda tasks: tqdm(tasks, unit="task", file=sys.stderr, disable=None, leave=False))
    report(done, time.perf_counter() - t0)


def _samplers_args(p):
    backend_arg(p, computes=False)


def _samplers(args):
    from .. import samplers
    from ..kernels.lowrank import route_of

    check_backend(args)
    rows = [("name", "kind", "NFE/step", "normals", "claimed order", "metric", "exact log-det", "source")]
    for name in samplers.names():
        f = samplers.get(name).facts
        rows.append((f.name, f.kind.upper(), str(f.nfe), str(f.normals), "-" if f.order is None else f"{f.order:g}",
                     f.metric, route_of(samplers.get(name)), f.source))
    print_table(rows)
    print("\nexact log-det: the cost per sample of exact TV/KL on a diagonal mixture (gmm:d=..); O(d^3) for samplers "
          "that carry state and for full covariances.")


def _targets_args(p):
    p.add_argument("--show", metavar="NAME", default=None,
                   help="print one target (a built-in name such as gmm:d=8,K=4, or a JSON file) as JSON, in the target "
                        "file format")
    backend_arg(p, computes=False)


def _targets(args):
    from .. import targets

    check_backend(args)
    if args.show is not None:
        print(json.dumps(targets.resolve(args.show).to_dict(), indent=1))
        return
    rows = [("name", "d", "K", "description")]
    for name in targets.names():
        t = targets.get(name)
        rows.append((name + (" (default)" if name == targets.DEFAULT else ""), str(t.d), str(t.K), targets.describe(name)))
    print_table(rows)
    print("\nParameterised: gauss:d=8, gmm:d=8,K=4, gmm:d=8,K=4,layout=fixed, twomodes:d=8, isogauss:d=8.  Any JSON file "
          "in the target file format also works (accnum targets --show gmm1d prints one).")


def _metrics_args(p):
    backend_arg(p, computes=False)


def _metrics(args):
    from .. import metrics

    check_backend(args)
    rows = [("name", "samplers", "d", "sample size", "what")]
    for name in metrics.names():
        m = metrics.get(name)
        kinds = "/".join(k.upper() for k in m.kinds)
        d = "any" if m.max_d is None else (f"{m.min_d}" if m.max_d == m.min_d else f"<= {m.max_d}")
        rows.append((name, kinds, d, "-" if not m.default_n else str(m.default_n), m.summary))
    print_table(rows)


def _check_args(p):
    p.add_argument("sampler", help="a sampler: built-in name or import path package.module:Class")


def _check(args):
    from .. import samplers

    print(samplers.check(args.sampler))


COMMANDS = [
    Command("info", "versions and usable backends (--warm: compile the kernels ahead of time)", "Print the versions of "
            "accnum and its compilers, and which backends can run here (CUDA device, simulator or none).  With --warm, "
            "also compile every cpu kernel the default commands need into Numba's on-disk cache (NUMBA_CACHE_DIR), so "
            "that their first run loads instead of compiling.", _info_args, _info),
    Command("samplers", "list the samplers and their facts", "List every registered sampler with its facts (built-in, "
            "registered, and installed through the accnum.samplers entry points).", _samplers_args, _samplers),
    Command("targets", "list the built-in targets (--show NAME: one as JSON)", "List the built-in targets, or print one "
            "in the target file format.", _targets_args, _targets),
    Command("metrics", "list the metrics", "List every registered metric: which samplers and dimensions it applies to, "
            "its default sample size.", _metrics_args, _metrics),
    Command("check-sampler", "what a sampler supports, and why", "Trace a sampler's step and report, in words: whether it "
            "runs compiled, what it carries in state, its score evaluations per step against its facts, whether an SDE "
            "sampler exposes its one-step kernel, and which backends and metrics it supports.", _check_args, _check),
]
