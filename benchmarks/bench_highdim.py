"""Exact TV and KL in high dimension on the low-rank route, measured in one run (issue 14).

    python benchmarks/bench_highdim.py                  # d = 1000 and 10000, checks at d = 16, 32
    python benchmarks/bench_highdim.py --quick          # d = 1000 only, check at d = 16
    python benchmarks/bench_highdim.py --d 1000 3000    # other dimensions
    python benchmarks/bench_highdim.py --profile 10000  # where a step's time goes, one thread

The target has the same structure in every d: two isotropic components, means +-1.5 e_1,
variances 0.2 and 0.6, equal weights.  For ``ddim-li`` and ``accel-ode`` on
``li2024(T)`` (T = 200) it times ``accnum.metrics.exact`` (both TV and KL from one call,
the metric's default sample size: scrambled Sobol, 16 scramblings) from ``init="exact"``
(``Y_T ~ q_T``) on the ``cpu`` backend:

1. at each ``--d``, on the low-rank route (time linear in d), against the goals
   (d = 1000: under 60 s, d = 10000: under 600 s per sampler);
2. at each ``--check-d``, on both routes: the estimates' largest relative difference and
   the dense route's time over the low-rank route's.

``--profile D`` instead times, on one thread and one block of lanes at d = D, a whole run of
each sampler (per sample and step) and the parts of a step of :mod:`accnum.kernels.lowrank`
called one at a time on the same scratch: the score with its low-rank Jacobian, an
evaluation's tangent, a combination of tangents and the determinant lemma.

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
from accnum.metrics import NonInvertibleMap, registry
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


def profile(d: int, T: int) -> None:
    """Per-step parts of the low-rank route on one block, one thread (see the module doc)."""
    numba.set_num_threads(1)
    print(f"one thread, one block of lanes; d = {d}, T = {T}; ns per lane and coordinate")
    for s in SAMPLERS:
        _profile_one(s, d, T)


def _clock(fn, reps):
    fn()
    t0 = time.perf_counter()
    for _ in range(reps):
        fn()
    return (time.perf_counter() - t0) / reps


def _profile_one(s: str, d: int, T: int) -> None:
    from accnum.kernels import lowrank as lr
    from accnum.samplers import get as get_sampler
    from accnum.score import ExactScore

    tg, sched, sampler = target(d), schedules.li2024(T), get_sampler(s)
    p = lr.prepare("cpu", tg, ExactScore(tg), sampler, sched, np.random.default_rng(0).standard_normal((8, d)), 0)
    lay, sp, L, f = p.args[-1], p.args[6], p.lanes, p.score_jac
    buf = np.random.default_rng(1).standard_normal(p.total) * 0.01
    v = {name: buf[o:o + size].reshape(shape) for name, (o, size, shape) in zip(lay._fields, lay, strict=True)}   # take()'s views
    v["pdl"][:] = 1.0 + 0.01 * np.random.default_rng(2).standard_normal(v["pdl"].shape)
    K, R, rows, ws = v["A"].shape[1], v["pU"].shape[0], v["sym"].shape[0], v["ws"]
    reps, steps = max(3, 2_000_000 // d), T - 1
    whole = _clock(lambda: p.body(0, 1, L, p.n, np.empty(p.total), p.score, f, p.args), 2) / steps
    parts = {"score and its low-rank Jacobian": _clock(lambda: f(sp, 0, 0, L, v["pt"], v["sym"][1], v["D"], v["A"],
                                                                 v["B"], ws), reps)}

    def evaluation(r):
        return lambda: lr._evaluate(f, sp, 0, 0, L, v["pt"], v["sym"][1], v["D"], v["A"], v["B"], ws, v["pdl"],
                                    v["pU"], v["pV"], v["pvid"], r, v["dl"][1], v["U"][1], v["V"][1], v["vid"][1], 3,
                                    v["UtB"])

    for r in sorted({0, min(K, R - K)}):
        parts[f"evaluation, input rank {r} (incl. score)"] = _clock(evaluation(r), reps)
    v["rk"][:] = 0.0
    v["rk"][1] = K
    v["vid"][1, :K] = np.arange(K) + 5
    coef = np.zeros(rows)
    coef[:2] = 0.5, 0.3
    parts[f"combination, rank {K}"] = _clock(lambda: lr._combine(v["dl"], v["U"], v["V"], v["rk"], v["vid"], coef, 2, L,
                                                                 v["pdl"], v["pU"], v["pV"], v["pvid"]), reps)
    r_out = min(R, lr.ranks(accnum.kernels.trace(sampler, sched), K))
    parts[f"determinant lemma, rank {r_out}"] = _clock(lambda: lr._log_det(v["pdl"], v["pU"], v["pV"], r_out, v["G"], L,
                                                                           ws[0], ws[1], ws[2], ws[3], ws[4:]), reps)
    print(f"\n{s} ({p.calls // steps} evaluations per step): whole run {whole / L * 1e6:.1f} us per sample and step "
          f"= {whole / L / d * 1e9:.2f} ns per coordinate")
    for k, t in parts.items():
        print(f"  {k:38s} {t / L / d * 1e9:6.2f}")


def load() -> str:
    return "load average (1, 5, 15 min): " + ", ".join(f"{v:.2f}" for v in os.getloadavg())


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--d", type=int, nargs="+", help="dimensions on the low-rank route (default 1000 10000)")
    p.add_argument("--check-d", type=int, nargs="+", help="dimensions run on both routes (default 16 32)")
    p.add_argument("--T", type=int, default=200)
    p.add_argument("--n", type=int, default=None, help="sample size (default: the exact metric's default)")
    p.add_argument("--quick", action="store_true", help="d = 1000 only, both routes at d = 16 only")
    p.add_argument("--profile", type=int, metavar="D", help="where a step's time goes at d = D (one thread)")
    a = p.parse_args()
    if a.profile:
        print(f"cores {os.cpu_count()}; at start {load()}")
        profile(a.profile, a.T)
        print(f"\nat end {load()}")
        return
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
            t0 = time.perf_counter()
            try:
                dt, est = timed(d, s, sched, n, "lowrank")
            except NonInvertibleMap as e:     # raised after every point ran: the time is the whole run's
                dt, est = time.perf_counter() - t0, str(e).split(": ", 1)[1]
            goal = GOALS.get(d)
            mark = "-" if goal is None else ("met" if dt < goal else "MISSED")
            if isinstance(est, str):
                print(f"{d:6d} {s:10s} {dt:8.1f} {mark:>6s} no TV/KL: {est}", flush=True)
                continue
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
