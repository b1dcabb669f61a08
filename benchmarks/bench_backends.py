"""Throughput of every sampler on every usable backend, measured in one run (issue 4).

    python benchmarks/bench_backends.py            # the full grid (about 15 min on 2 cores)
    python benchmarks/bench_backends.py --quick    # n = 1e4, 1e5 only
    python benchmarks/bench_backends.py --only rates   # one table (goals, sweep, first, memory, rates)

Prints five tables:

1. goals: ddim-li and accel-ode at n = 1e6, d = 2, K = 8, T = 100, numpy and cpu (and cuda)
   each timed in full, and the cpu/numpy ratio (goal: >= 20);
2. sweep: sample-steps per second for every sampler and backend at n in {1e4, 1e5, 1e6},
   d in {1, 2, 8}, K in {1, 8, 32} (T = --T), with the ratio to numpy measured in the same
   run (numpy is timed on min(n, --numpy-cap) samples: its throughput does not grow with n);
   achieved GFLOP/s from a flop count of the score and the step, against an estimate of
   the machine's peak (cores x clock x FMA width);
3. first-call cost: compiling the kernels (empty cache) and loading them from the cache,
   each in a fresh process;
4. peak memory of one run (tracemalloc: NumPy-visible allocations) against n*d*8 bytes;
5. the default ``accnum rates`` (built-in target, every default sampler, metric and T) on
   each backend, each a fresh process timed from start to exit after one warm-up run, the
   ratio to numpy (goal: >= 5) and whether the printed tables agree.

Timings exclude the first call (compilation or cache load).  Ratios are measured, never
assumed; they vary with the machine.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import tracemalloc

import numba
import numpy as np

import accnum
from accnum import kernels, samplers, schedules, targets


def _peak_gflops():
    """cores x clock x double-precision flops per cycle (FMA: 2 per lane)."""
    ghz, flags = 2.0, ""
    try:
        with open("/proc/cpuinfo") as f:
            info = f.read()
        mhz = [float(line.split(":")[1]) for line in info.splitlines() if line.startswith("cpu MHz")]
        ghz = max(mhz) / 1000 if mhz else ghz
        flags = next((line for line in info.splitlines() if line.startswith("flags")), "")
    except OSError:
        pass
    lanes = 8 if "avx512f" in flags else 4 if "avx2" in flags else 2
    per_cycle = lanes * (2 if " fma" in flags else 1) * 2   # two FMA ports
    return numba.config.NUMBA_NUM_THREADS * ghz * per_cycle, ghz, per_cycle


def _flops_per_sample_step(name, tg, sched):
    """Score: per component ~ (6 d + 20) (+ 2 d^2 for full covariances; exp counted as 20);
    step: 2 flops per coefficient and coordinate of the traced program."""
    prog = kernels.trace(samplers.get(name), sched)
    per_comp = 6 * tg.d + 20 + (2 * tg.d * tg.d if tg.kind == "full" else 0)
    evals = float(np.mean(prog.stages))
    combos = (np.count_nonzero(prog.stage_coef) + np.count_nonzero(prog.out_coef)
              + np.count_nonzero(prog.mem_coef)) / len(prog.steps)
    return evals * (tg.K * per_comp + 2 * tg.d) + 2 * combos * tg.d


def _time(tg, name, sched, n, backend):
    t0 = time.perf_counter()
    accnum.sample(tg, name, sched, n=n, seed=0, backend=backend)
    return time.perf_counter() - t0


def _warm(tg, name, sched, backends):
    for b in backends:
        if b != "numpy":
            accnum.sample(tg, name, sched, n=8, seed=0, backend=b)


def goals(backends):
    tg, sched, n = targets.resolve("gmm:d=2,K=8"), schedules.li2024(100), 1_000_000
    print(f"\n## goals: n = {n:.0e}, d = 2, K = 8, T = 100 (goal: cpu >= 20x numpy)\n")
    print(f"{'sampler':10s} {'backend':8s} {'seconds':>8s} {'sample-steps/s':>15s} {'x numpy':>8s}")
    for name in ("ddim-li", "accel-ode"):
        _warm(tg, name, sched, backends)
        base = None
        for b in backends:
            dt = _time(tg, name, sched, n, b)
            base = dt if b == "numpy" else base
            print(f"{name:10s} {b:8s} {dt:8.2f} {n * 99 / dt:15.3e} {base / dt:8.1f}", flush=True)


def sweep(backends, ns, T, numpy_cap, names):
    peak, ghz, per_cycle = _peak_gflops()
    print(f"\n## sweep: T = {T}, li2024; peak estimate {peak:.0f} GFLOP/s "
          f"({numba.config.NUMBA_NUM_THREADS} threads x {ghz:.2f} GHz x {per_cycle} flops/cycle)\n")
    print(f"{'sampler':16s} {'d':>2s} {'K':>3s} {'n':>8s} {'backend':8s} {'sample-steps/s':>15s} {'x numpy':>8s} "
          f"{'GFLOP/s':>8s} {'% peak':>7s}")
    sched = schedules.li2024(T)
    for d in (1, 2, 8):
        for K in (1, 8, 32):
            tg = targets.resolve(f"gmm:d={d},K={K}")
            for name in names:
                _warm(tg, name, sched, backends)
                flops = _flops_per_sample_step(name, tg, sched)
                for n in ns:
                    rate_np = None
                    for b in backends:
                        m = min(n, numpy_cap) if b == "numpy" else n
                        rate = m * (T - 1) / _time(tg, name, sched, m, b)
                        rate_np = rate if b == "numpy" else rate_np
                        gf = rate * flops / 1e9
                        print(f"{name:16s} {d:2d} {K:3d} {n:8.0e} {b:8s} {rate:15.3e} {rate / rate_np:8.1f} "
                              f"{gf:8.2f} {100 * gf / peak:6.1f}%", flush=True)


_FIRST = """
import time, accnum
from accnum import schedules, targets
from accnum.metrics.exact import exact
tg, s = targets.resolve("gmm:d=2,K=8"), schedules.li2024(20)
t0 = time.perf_counter(); accnum.sample(tg, "accel-ode", s, n=100, backend="cpu")
t1 = time.perf_counter(); exact(tg, "accel-ode", s, n=64, backend="cpu")
t2 = time.perf_counter(); print(f"{t1 - t0:.2f} {t2 - t1:.2f}")
"""


def first_call():
    print("\n## first call (fresh process): sampling kernel, exact-metric kernel (with tangents)\n")
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache}
        for label in ("compile (empty cache)", "load from cache"):
            out = subprocess.run([sys.executable, "-c", _FIRST], env=env, capture_output=True, text=True, check=True)
            a, b = out.stdout.split()
            print(f"{label:24s} sampling {a:>6s} s   exact metric {b:>6s} s")


def memory(backends):
    tg, sched = targets.resolve("gmm:d=2,K=8"), schedules.li2024(100)
    print("\n## peak memory of one run (tracemalloc), accel-sde, d = 2, K = 8, T = 100\n")
    print(f"{'backend':8s} {'n':>8s} {'peak MB':>9s} {'/ (n d 8 B)':>12s}")
    for b in backends:
        _warm(tg, "accel-sde", sched, [b])   # loading the kernels is not the run's memory
        for n in (10_000, 100_000):
            tracemalloc.start()
            accnum.sample(tg, "accel-sde", sched, n=n, seed=0, backend=b)
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            print(f"{b:8s} {n:8.0e} {peak / 1e6:9.1f} {peak / (n * 2 * 8):12.1f}")


_RATES = "import sys; from accnum.cli import main; sys.exit(main(sys.argv[1:]))"


def rates(backends):
    print("\n## default `accnum rates` (fresh process each, after one warm-up run; goal: cpu >= 5x numpy)\n")
    print(f"{'backend':8s} {'wall s':>8s} {'vs numpy':>9s}  table")
    seconds, tables = {}, {}
    with tempfile.TemporaryDirectory() as out:
        for b in backends:
            cmd = [sys.executable, "-c", _RATES, "rates", "--backend", b, "--out", out, "--no-plot"]
            if b != "numpy":
                subprocess.run(cmd, capture_output=True, check=True)   # compile or load the kernels once
            t0 = time.perf_counter()
            res = subprocess.run(cmd, capture_output=True, text=True, check=True)
            seconds[b] = time.perf_counter() - t0
            # the table without the lines that name the backend or the time taken
            tables[b] = [ln for ln in res.stdout.splitlines() if "backend" not in ln and "wrote" not in ln]
            same = "same as numpy" if tables[b] == tables["numpy"] else "DIFFERS from numpy"
            print(f"{b:8s} {seconds[b]:8.1f} {seconds['numpy'] / seconds[b]:8.1f}x  {same}")


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="n in {1e4, 1e5} and no goal rows")
    p.add_argument("--T", type=int, default=10, help="steps in the sweep (default 10)")
    p.add_argument("--numpy-cap", type=int, default=10_000, help="largest n numpy is timed on in the sweep")
    p.add_argument("--samplers", default="all", help="comma-separated names (default all)")
    p.add_argument("--only", default=None, choices=["goals", "sweep", "first", "memory", "rates"], help="run one table")
    a = p.parse_args()
    backends = ["numpy", "cpu"] + (["cuda"] if kernels.cuda_status()[0] == "device" else [])
    names = samplers.names() if a.samplers == "all" else a.samplers.split(",")
    print(f"accnum {accnum.__version__}, numba {numba.__version__}, {numba.config.NUMBA_NUM_THREADS} threads, "
          f"backends {', '.join(backends)} (cuda: {kernels.cuda_status()[1]})")
    run = lambda part: a.only in (None, part)  # noqa: E731
    if run("goals") and not a.quick:
        goals(backends)
    if run("sweep"):
        sweep(backends, (10_000, 100_000) if a.quick else (10_000, 100_000, 1_000_000), a.T, a.numpy_cap, names)
    if run("first"):
        first_call()
    if run("memory"):
        memory(backends)
    if run("rates"):
        rates(backends)


if __name__ == "__main__":
    main()
