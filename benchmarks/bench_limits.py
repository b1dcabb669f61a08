"""What bounds the two ratio goals of issue 16 on this machine, measured in one run.

    python benchmarks/bench_limits.py                    # both parts (about a minute on 2 cores)
    python benchmarks/bench_limits.py --only throughput  # part 1
    python benchmarks/bench_limits.py --only compile     # part 2

1. throughput: how the ``cpu`` backend's time per sample-step of ``ddim-li`` grows with the
   number of components K (isotropic mixtures of K components on a circle, d = 2, ``li2024``
   T = 50, n = 2e5), as core-cycles per sample-step (cores x clock / rate); the cost per
   component and the fixed cost fitted by least squares; the cost of one exponential,
   accnum's own vectorised ``vexp_neg`` over a block of lanes on one core. A sample-step
   of ``ddim-li`` on an 8-component mixture takes 8 exponentials (``accel-ode`` 16), so
   ``cores x clock / (8 x exp cycles)`` bounds its rate even if everything else were
   free; printed beside 10x JAX ``jit`` measured in the same run (bench_speed.py's JAX
   implementation).
2. compile: the default ``accnum rates`` (with its plot) run in a fresh process with an empty
   Numba cache, then again with the same cache, each timed in-process with Numba's event
   recorder on its compiler lock (everything Numba compiles) and its LLVM lock (LLVM's
   optimisation and code emission), so that compile time splits into LLVM and Numba's own
   typing and lowering (the rest). A first run of at most 1.5x the warm one leaves a compile
   budget of half the warm run; printed beside the frontend alone and the whole compile
   spread perfectly over the usable cores.

Every number comes from this run on this machine; nothing is assumed but the clock read as in
bench_speed.py (its clock_ghz).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def _best(fn, repeat: int) -> float:
    from bench_speed import _best as best_of

    return best_of(fn, repeat)[0]


# --------------------------------------------------------------------------- part 1
def ring(K: int):
    """K isotropic components of variance 0.1 evenly on the circle of radius 3, equal weights."""
    from accnum.targets import GaussianMixture

    ang = 2 * np.pi * np.arange(K) / K
    return GaussianMixture(np.full(K, 1.0 / K), 3.0 * np.c_[np.cos(ang), np.sin(ang)], np.full(K, 0.1))


def exp_cycles(ghz: float, lanes: int = 128, reps: int = 200_000, repeat: int = 3) -> float:
    """Core-cycles per element of accnum's ``vexp_neg`` in a lane loop like the score's (one thread)."""
    import numba

    from accnum.kernels.layout import OPTS
    from accnum.kernels.vmath import vexp_neg

    @numba.njit(**{**OPTS, "cache": False})
    def loop(x, y, reps):
        for _ in range(reps):
            for l in range(x.shape[0]):
                y[l] = vexp_neg(x[l])

    x = -np.random.default_rng(0).random(lanes) * 20.0
    y = np.empty(lanes)
    loop(x, y, 1)
    return _best(lambda: loop(x, y, reps), repeat) * ghz * 1e9 / (reps * lanes)


def fit_line(ks, cycles) -> tuple[float, float]:
    """Least-squares ``cycles = fixed + per_component K``: ``(fixed, per_component)``."""
    A = np.c_[np.ones(len(ks)), np.asarray(ks, dtype=np.float64)]
    (fixed, per), *_ = np.linalg.lstsq(A, np.asarray(cycles, dtype=np.float64), rcond=None)
    return float(fixed), float(per)


def throughput(n: int, T: int, repeat: int, ks) -> None:
    import numba

    import accnum
    from accnum import schedules
    from bench_speed import SAMPLERS, Problem, clock_ghz, jax_runner

    ghz, clock_from = clock_ghz()
    cores = numba.get_num_threads()
    sched = schedules.li2024(T)
    steps = T - 1
    y0 = np.random.default_rng(0).standard_normal((n, 2))
    print(f"\n## throughput: ddim-li, isotropic K-component rings (d = 2), {sched.describe()}, n = {n:.0e}, "
          f"{steps} steps, {cores} threads x {ghz:.2f} GHz ({clock_from}), best of {repeat}\n")
    print(f"{'K':>3s} {'sample-steps/s':>15s} {'core-cycles per sample-step':>28s}")
    cycles = []
    for K in ks:
        mix = ring(K)
        accnum.sample(mix, "ddim-li", sched, init=y0[:64], backend="cpu")        # compile or load
        sec = _best(lambda: accnum.sample(mix, "ddim-li", sched, init=y0, backend="cpu"), repeat)  # noqa: B023
        rate = n * steps / sec
        cycles.append(cores * ghz * 1e9 / rate)
        print(f"{K:3d} {rate:15.3e} {cycles[-1]:28.1f}", flush=True)
    fixed, per = fit_line(ks, cycles)
    ex = exp_cycles(ghz)
    print(f"\nfit: {fixed:.1f} cycles fixed + {per:.2f} cycles per component; one exponential (vexp_neg, 128 lanes, "
          f"one thread): {ex:.2f} cycles, {100 * ex / per:.0f}% of a component's cost\n")
    pb = Problem("ring8", T)
    print(f"{'sampler':10s} {'exps/step':>9s} {'ceiling: exps only':>19s} {'10x jax jit':>12s} {'accnum cpu':>11s}   "
          f"cycles per sample-step left to all but the exps: at 10x jax / now")
    for name in SAMPLERS:
        evals = 1 if name == "ddim-li" else 2
        exps = evals * len(pb.w)
        ceiling = cores * ghz * 1e9 / (exps * ex)
        run_jax = jax_runner(name, pb)
        accnum.sample(pb.target, name, pb.sched, init=y0[:64], backend="cpu")
        cpu = n * steps / _best(lambda: accnum.sample(pb.target, name, pb.sched, init=y0, backend="cpu"), repeat)  # noqa: B023
        rest = lambda rate, e=exps: cores * ghz * 1e9 / rate - e * ex  # noqa: E731
        if run_jax is None:
            jx, left = "no JAX", f"- / {rest(cpu):.1f}"
        else:
            run_jax(y0)
            goal = 10 * n * steps / _best(lambda: run_jax(y0), repeat)  # noqa: B023
            jx, left = f"{goal:.3e}", f"{rest(goal):.1f} / {rest(cpu):.1f}"
        print(f"{name:10s} {exps:9d} {ceiling:19.3e} {jx:>12s} {cpu:11.3e}   {left}", flush=True)
    print("\n(ceiling: the rate if a sample-step cost only its exponentials; every other operation of the score and "
          "the step adds to that)")


# --------------------------------------------------------------------------- part 2
def _child(out: str) -> None:
    """In a fresh process: the default ``accnum rates`` timed with recorders on Numba's locks."""
    import contextlib

    from numba.core import event

    with contextlib.ExitStack() as stack:
        recs = {k: stack.enter_context(event.install_recorder(f"numba:{k}")) for k in ("compiler_lock", "llvm_lock")}
        t0 = time.perf_counter()
        from accnum.cli import main

        try:
            main(["rates", "--out", out])
        except SystemExit as e:
            if e.code not in (0, None):
                raise
        wall = time.perf_counter() - t0
    held = {}
    for k, rec in recs.items():
        depth, total, start = 0, 0.0, 0.0
        for ts, ev in rec.buffer:       # outermost acquisitions only (the locks are re-entrant)
            if ev.is_start:
                start = ts if depth == 0 else start
                depth += 1
            else:
                depth -= 1
                total += (ts - start) if depth == 0 else 0.0
        held[k] = total
    print(json.dumps({"wall": wall, **held}))


def _measure(cache: str, out: str) -> dict:
    env = {**os.environ, "NUMBA_CACHE_DIR": cache}
    res = subprocess.run([sys.executable, os.path.abspath(__file__), "--child", out], env=env, capture_output=True,
                         text=True)
    if res.returncode != 0:
        raise SystemExit(f"bench_limits: the default accnum rates failed:\n{res.stderr[-2000:]}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def compile_split() -> None:
    print("\n## compile: default `accnum rates` (with its plot), each a fresh process, timed in-process\n")
    with tempfile.TemporaryDirectory() as tmp:
        cache, out = os.path.join(tmp, "cache"), os.path.join(tmp, "out")
        cold = _measure(cache, out)
        warm = _measure(cache, out)
    cores = len(os.sched_getaffinity(0))
    print(f"{'run':12s} {'wall s':>7s} {'compiling s':>12s} {'LLVM s':>7s} {'Numba typing+lowering s':>24s}")
    for label, r in (("empty cache", cold), ("warm", warm)):
        print(f"{label:12s} {r['wall']:7.1f} {r['compiler_lock']:12.1f} {r['llvm_lock']:7.1f} "
              f"{r['compiler_lock'] - r['llvm_lock']:24.1f}")
    budget = 0.5 * warm["wall"]
    frontend = cold["compiler_lock"] - cold["llvm_lock"]
    spread = cold["compiler_lock"] / cores
    print(f"\nfirst run / warm: {cold['wall'] / warm['wall']:.2f}x (goal <= 1.5x)")
    print(f"compile budget of a 1.5x first run: {budget:.1f} s; Numba's typing and lowering alone: {frontend:.1f} s "
          f"({frontend / budget:.1f}x the budget); the whole compile spread perfectly over {cores} cores: "
          f"{spread:.1f} s ({spread / budget:.1f}x)")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", choices=["throughput", "compile"], default=None, help="run one part")
    p.add_argument("--n", type=float, default=2e5, help="samples (default 2e5)")
    p.add_argument("--T", type=int, default=50, help="steps of the li2024 schedule (default 50)")
    p.add_argument("--repeat", type=int, default=3, help="timed runs of each, the best reported (default 3)")
    p.add_argument("--K", default="1,2,4,8,16", help="components of the rings (default 1,2,4,8,16)")
    p.add_argument("--child", help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.child:
        _child(a.child)
        return
    import numba

    import accnum

    ks = [int(k) for k in a.K.split(",")]
    if len(ks) < 2 or min(ks) < 1:
        p.error("--K: at least two component counts, each >= 1")
    print(f"accnum {accnum.__version__}, numba {numba.__version__} ({numba.config.NUMBA_NUM_THREADS} threads); "
          f"{len(os.sched_getaffinity(0))} usable cores")
    if a.only in (None, "throughput"):
        throughput(int(a.n), a.T, a.repeat, ks)
    if a.only in (None, "compile"):
        compile_split()


if __name__ == "__main__":
    main()
