"""Throughput of the NumPy reference backend: sample-steps per second for every sampler.

    python benchmarks/bench_reference.py [--n 100000] [--T 100]

Prints a table measured in one run (the baseline that compiled backends are compared
against).  Timings vary with the machine; the ratios between samplers do not much.
"""

import argparse
import time

import accnum
from accnum import samplers, schedules, targets


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=100_000)
    p.add_argument("--T", type=int, default=100)
    p.add_argument("--target", default="gmm:d=2,K=8")
    a = p.parse_args()
    tg = targets.resolve(a.target)
    sched = schedules.li2024(a.T)
    print(f"target {a.target} (d = {tg.d}, K = {tg.K}), n = {a.n}, T = {a.T}, backend numpy")
    print(f"{'sampler':18s} {'seconds':>8s} {'sample-steps/s':>15s} {'score evals/s':>14s}")
    for name in samplers.names():
        t0 = time.perf_counter()
        res = accnum.sample(tg, name, sched, n=a.n, seed=0, backend="numpy")
        dt = time.perf_counter() - t0
        steps = a.n * (a.T - 1)
        print(f"{name:18s} {dt:8.2f} {steps / dt:15.3e} {a.n * res.nfe / dt:14.3e}")


if __name__ == "__main__":
    main()
