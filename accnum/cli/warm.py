"""``accnum info --warm``: compile, ahead of time and into Numba's on-disk cache, every
kernel the default commands need, so that their first run does not compile.

Numba compiles one machine-code *specialisation* of a kernel per combination of argument
types (the score model's functions are arguments, so a kernel is specialised for each);
the types do not depend on sizes (n, T), only on the command's choices (target kind,
sampler, metric, perturbation).  So a tiny run of each default command, on its default
target, samplers, metrics and schedule with small n and T, compiles (or loads from the
cache) exactly the specialisations the full run needs.  The commands' defaults are read
from their parsers, so the tasks follow them.

What is cached is the ``cpu`` backend's kernels (``NUMBA_CACHE_DIR``, or ``__pycache__``
beside accnum's modules); the ``cuda`` backend compiles per process and is not cached.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from typing import Callable, NamedTuple

#: sizes of the tiny runs: small enough to cost little beyond compiling, at least the
#: metrics' smallest sample sizes
WARM_TS = (10, 20)
WARM_N = 256
WARM_SAMPLE_N = 64
WARM_MEASURE_N = 100


class Task(NamedTuple):
    label: str
    run: Callable[[], object]


class Done(NamedTuple):
    label: str
    seconds: float
    compiled: Counter   # accnum's functions compiled (qualified names), with how many specialisations
    internal: int       # specialisations of Numba's own helpers compiled along with them


def _defaults(parser, command: str):
    """The parsed defaults of ``accnum COMMAND`` (no arguments)."""
    return parser.parse_args([command])


def tasks(parser) -> list[Task]:
    """One tiny run per default sampler of ``rates`` (with its default metrics), and one each
    for ``sample`` and ``sensitivity``, every one on the ``cpu`` backend."""
    from .. import schedules, targets
    from ..experiments.rates import DEFAULT_SAMPLERS, convergence
    from ..experiments.sensitivity import sensitivity
    from ..metrics import default_metrics
    from ..run import sample
    from ..samplers import get as get_sampler
    from .common import number_list, sampler_list, schedule_params

    out = []
    a = _defaults(parser, "rates")
    tg = targets.resolve(a.target)
    for name in sampler_list(a.samplers, DEFAULT_SAMPLERS):
        metrics = ", ".join(default_metrics(get_sampler(name), tg))

        def run(name=name, a=a, tg=tg):
            return convergence(tg, [name], a.schedule, WARM_TS, n=WARM_N, seed=a.seed, init=a.init,
                               schedule_params=schedule_params(a), backend="cpu")

        out.append(Task(f"rates {name} ({metrics})", run))

    s = _defaults(parser, "sample")

    def run_sample(s=s):
        sched = schedules.get(s.schedule, WARM_TS[0], **schedule_params(s))
        return sample(targets.resolve(s.target), s.sampler, sched, n=WARM_SAMPLE_N, seed=s.seed, init=s.init, to=s.to,
                      backend="cpu")

    out.append(Task(f"sample {s.sampler}", run_sample))

    e = _defaults(parser, "sensitivity")

    def run_sensitivity(e=e):
        sched = schedules.get(e.schedule, WARM_TS[-1], **schedule_params(e))
        eps = [v for v in number_list(e.eps_score, "--eps-score")][:2]
        return sensitivity(targets.resolve(e.target), sampler_list(e.sampler, ()), sched, eps,
                           number_list(e.eps_jacobi, "--eps-jacobi")[:1], kind=e.kind, metric=e.metric, n=WARM_N,
                           seed=e.seed, measure_n=WARM_MEASURE_N, backend="cpu")

    out.append(Task(f"sensitivity {e.sampler} ({e.kind})", run_sensitivity))
    return out


def warm(parser, progress=None) -> list[Done]:
    """Run every task, recording what Numba compiled (cache misses) in each."""
    from numba.core import event

    todo = tasks(parser)
    it = progress(todo) if progress is not None else todo
    done = []
    for task in it:
        if hasattr(it, "set_description"):
            it.set_description(task.label)
        rec = event.RecordingListener()
        t0 = time.perf_counter()
        with event.install_listener("numba:compile", rec):
            task.run()
        funcs = [ev.data["dispatcher"].py_func for _, ev in rec.buffer if ev.is_start]
        ours = Counter(f.__qualname__ for f in funcs if f.__module__.split(".")[0] == "accnum")
        done.append(Done(task.label, time.perf_counter() - t0, ours, len(funcs) - sum(ours.values())))
    return done


def cache_location() -> str:
    import numba

    return numba.config.CACHE_DIR or "__pycache__ beside accnum's modules (NUMBA_CACHE_DIR is not set)"


def report(done: list[Done], seconds: float, out=sys.stdout) -> None:
    """What was compiled, task by task, and how long it took."""
    print(f"\nwarmed the cpu kernels of the default commands (Numba cache: {cache_location()})\n", file=out)
    width = max(len(d.label) for d in done)
    print(f"{'task':{width}s}  {'compiled':>8s}  {'seconds':>7s}  functions compiled (specialisations)", file=out)
    print(f"{'-' * width}  {'-' * 8}  {'-' * 7}  {'-' * 36}", file=out)
    for d in done:
        what = ", ".join(f"{k}" + (f" x{v}" if v > 1 else "") for k, v in sorted(d.compiled.items()))
        what = (what + (f" (+ {d.internal} of Numba's helpers)" if d.internal else "")) or \
            "none (all in the cache already)"
        print(f"{d.label:{width}s}  {sum(d.compiled.values()) + d.internal:8d}  {d.seconds:7.1f}  {what}", file=out)
    total = sum(sum(d.compiled.values()) + d.internal for d in done)
    print(f"\ncompiled {total} kernel specialisations in {seconds:.1f} s; the default commands (rates, sample, "
          "sensitivity) on the cpu backend now load them from the cache", file=out)
