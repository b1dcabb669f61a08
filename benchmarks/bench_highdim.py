"""Exact TV and KL in high dimension on the low-rank route, measured in one run (issue 14).

    python benchmarks/bench_highdim.py                  # d = 1000 and 10000, checks at d = 16, 32
    python benchmarks/bench_highdim.py --quick          # d = 1000 only, check at d = 16
    python benchmarks/bench_highdim.py --d 1000 3000    # other dimensions

The target has the same structure in every d: two isotropic components, means +-1.5 e_1,
variances 0.2 and 0.6, equal weights.  For ``ddim-li`` and ``accel-ode`` on
``li2024(T)`` (T = 200) it times ``accnum.metrics.exact`` (both TV and KL from one call,
the metric's default sample size: scrambled Sobol, 16 scramblings) from ``init="exact"``
(``Y_T ~ q_T``) on the ``cpu`` backend:

1. at each ``--d``, on the low-rank route (time linear in d), against the goals
   (d = 1000: under 60 s, d = 10000: under 600 s per sampler);
2. at each ``--check-d``, on both routes: the estimates' largest relative difference and
   the dense route's time over the low-rank route's.

Every timing is one call after a warm-up call at a small size (the kernels are compiled
or loaded from the cache before the clock starts).  The machine's core count and load
average are printed at the start and the end: other work on the machine slows the run.
"""

from __future__ import annotations

import argparse
import inspect
import os
import time

import numba
import numpy as np

import accnum
from accnum import schedules
from accnum.metrics import registry
from accnum.targets import GaussianMixture

SAMPLERS = ("ddim-li", "accel-ode")
GOALS = {1000: 60.0, 10000: 600.0}


def target(d: int) -> GaussianMixture:
    """Two isotropic components, means +-1.5 e_1, variances 0.2 and 0.6, equal weights."""
    means = np.zeros((2, d))
    means[0, 0], means[1, 0] = 1.5, -1.5
    return GaussianMixture([0.5, 0.5], means, [0.2, 0.6])


def default_n() -> int:
    """The exact metric's default sample size (the registry's, which ``exact()`` shares)."""
    n = registry.get("tv").default_n
    assert n == inspect.signature(accnum.metrics.exact).parameters["n"].default == registry.get("kl").default_n
    return n


def timed(d, sampler, sched, n, route):
    t0 = time.perf_counter()
    est = accnum.metrics.exact(target(d), sampler, sched, n=n, init="exact", backend="cpu", route=route)
    return time.perf_counter() - t0, est


def load() -> str:
    return "load average (1, 5, 15 min): " + ", ".join(f"{v:.2f}" for v in os.getloadavg())


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--d", type=int, nargs="+", help="dimensions on the low-rank route (default 1000 10000)")
    p.add_argument("--check-d", type=int, nargs="+", help="dimensions run on both routes (default 16 32)")
    p.add_argument("--T", type=int, default=200)
    p.add_argument("--n", type=int, default=None, help="sample size (default: the exact metric's default)")
    p.add_argument("--quick", action="store_true", help="d = 1000 only, both routes at d = 16 only")
    a = p.parse_args()
    big = a.d or ([1000] if a.quick else [1000, 10000])
    small = a.check_d or ([16] if a.quick else [16, 32])
    n = a.n or default_n()
    sched = schedules.li2024(a.T)

    print(f"cores {os.cpu_count()}, numba threads {numba.get_num_threads()}; at start {load()}")
    print(f"target: 2 isotropic components, means +-1.5 e_1, variances 0.2 / 0.6, weights 1/2; "
          f"{sched.describe()}, init exact, n = {n} (qmc x16), backend cpu")
    for route in ("lowrank", "dense"):       # compile (or load from the cache) before any clock starts
        for s in SAMPLERS:
            timed(8, s, schedules.li2024(40), 64, route)

    print(f"\n## low-rank route (goals: {', '.join(f'd = {d}: < {g:.0f} s' for d, g in GOALS.items())})\n")
    print(f"{'d':>6s} {'sampler':10s} {'seconds':>8s} {'goal':>6s} {'TV':>22s} {'KL':>22s}")
    for d in big:
        for s in SAMPLERS:
            dt, est = timed(d, s, sched, n, "lowrank")
            goal = GOALS.get(d)
            mark = "-" if goal is None else ("met" if dt < goal else "MISSED")
            tv, kl = est["tv"], est["kl"]
            print(f"{d:6d} {s:10s} {dt:8.1f} {mark:>6s} {tv.estimate:12.6g} +- {tv.stderr:7.2g} "
                  f"{kl.estimate:12.6g} +- {kl.stderr:7.2g}", flush=True)

    print("\n## both routes (agreement: largest relative difference of the TV and KL estimates)\n")
    print(f"{'d':>6s} {'sampler':10s} {'dense s':>8s} {'lowrank s':>9s} {'dense/lowrank':>13s} {'agreement':>10s}")
    for d in small:
        for s in SAMPLERS:
            t_dense, e_dense = timed(d, s, sched, n, "dense")
            t_fast, e_fast = timed(d, s, sched, n, "lowrank")
            agree = max(abs(e_fast[m].estimate - e_dense[m].estimate) / abs(e_dense[m].estimate) for m in ("tv", "kl"))
            print(f"{d:6d} {s:10s} {t_dense:8.2f} {t_fast:9.2f} {t_dense / t_fast:13.1f} {agree:10.1e}", flush=True)
    print(f"\nat end {load()}")


if __name__ == "__main__":
    main()
