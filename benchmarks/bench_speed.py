"""Speed of the ``cpu`` backend against independent NumPy and JAX implementations, and the
first-run cost of the compiled kernels (issue 16).

    python benchmarks/bench_speed.py                    # both parts (about 4 min on 2 cores)
    python benchmarks/bench_speed.py --only throughput  # part 1 only
    python benchmarks/bench_speed.py --only first-run   # part 2 only

1. throughput: ``ddim-li`` and ``accel-ode`` on ``ring8`` (8 isotropic components in 2-D),
   ``li2024`` with T = 50, n = 2e5 samples, float64, from the same starting points, run by

   * accnum's ``cpu`` backend (``accnum.sample(..., backend="cpu")``, Numba kernels);
   * a vectorised NumPy implementation written here from the update formulas
     (docs/math/samplers.md) and the closed-form score of the diffused mixture
     (docs/math/mixtures.md), not accnum's ``numpy`` backend;
   * the same in JAX, the whole loop in one ``jax.jit`` (``lax.fori_loop``), float64
     (``pip install '.[bench]'``; without JAX its line says "not installed").

   Prints sample-steps/s of each (best of ``--repeat`` after a warm-up call), the largest
   difference between their outputs relative to the largest coordinate (they must agree to
   1e-10), the ratios cpu/numpy and cpu/JAX (goal: cpu >= 10x JAX), and the ``cpu``
   backend's achieved GFLOP/s against the double-precision peak of this machine, derived
   at run time from the cores this process may use (``os.sched_getaffinity``), the clock
   and the vector flags (avx512f / avx2 / fma) in ``/proc/cpuinfo``.
2. first-run: the default ``accnum rates`` (no arguments, into a temporary ``--out``), each
   run a fresh process: with an empty Numba cache (a new ``NUMBA_CACHE_DIR``), again with the
   same cache (warm), and with another empty cache after ``accnum info --warm``; wall time
   of each and the ratios to the warm run (goal: first run <= 1.5x warm).

Every ratio is measured within the one run; they vary with the machine and its load.
"""

from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

import accnum
from accnum import schedules, targets

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_backends import _flops_per_sample_step  # noqa: E402  (the flop count of issue 4, shared)

SAMPLERS = ("ddim-li", "accel-ode")
TOLERANCE = 1e-10


# --------------------------------------------------------------------------- the problem
class Problem:
    """The mixture's parameters and the schedule's coefficients as plain arrays: everything
    the independent implementations read from accnum (data, not code)."""

    def __init__(self, target: str, T: int):
        self.target = targets.resolve(target)
        if self.target.kind != "isotropic":
            raise SystemExit(f"bench_speed: the independent implementations take isotropic mixtures, {target} is "
                             f"{self.target.kind}")
        self.sched = schedules.li2024(T)
        p = self.target.to_dict()
        self.w = np.asarray(p["weights"], dtype=np.float64)
        self.mu = np.asarray(p["means"], dtype=np.float64).reshape(len(self.w), -1)
        self.c = np.asarray(p["covariances"], dtype=np.float64).reshape(len(self.w))
        self.T, self.d = T, self.mu.shape[1]
        # per step t = 0 .. T + 1: alpha, beta, abar, with alpha_{T+1} := alpha_T
        # (docs/math/samplers.md#first-steps), so abar_{T+1} = abar_T alpha_T
        s = self.sched
        self.alpha = np.append(np.asarray(s.alpha, dtype=np.float64), s.alpha[T])
        self.beta = 1.0 - self.alpha
        self.abar = np.append(np.asarray(s.alpha_bar, dtype=np.float64), s.alpha_bar[T] * s.alpha[T])
        self.steps = np.arange(T, 1, -1)   # t = T .. 2: Y_T -> Y_1 (to = 1)


# --------------------------------------------------------------------------- NumPy
def score_numpy(x, abar, pb):
    """Score of ``q_abar = sum_k w_k N(sqrt(abar) mu_k, (abar c_k + 1 - abar) I)`` at ``x (n, d)``:
    ``sum_k r_k(x) (m_k - x) / v_k`` with responsibilities ``r`` by a stabilised softmax;
    (n, K) temporaries, one coordinate at a time."""
    m = math.sqrt(abar) * pb.mu
    v = abar * pb.c + (1.0 - abar)
    diffs = [m[:, a][None, :] - x[:, a][:, None] for a in range(pb.d)]   # (n, K) each
    q = diffs[0] * diffs[0]
    for da in diffs[1:]:
        q += da * da
    logr = (np.log(pb.w) - 0.5 * pb.d * np.log(v))[None, :] - q * (0.5 / v)[None, :]
    logr -= logr.max(axis=1, keepdims=True)
    r = np.exp(logr)
    r *= (1.0 / (r.sum(axis=1, keepdims=True)))
    r *= (1.0 / v)[None, :]
    return np.stack([np.einsum("nk,nk->n", r, da) for da in diffs], axis=1)


def run_numpy(name, y0, pb):
    y = y0.copy()
    al, be, ab = pb.alpha, pb.beta, pb.abar
    for t in pb.steps:
        s = score_numpy(y, ab[t], pb)
        if name == "ddim-li":
            y = (y + 0.5 * be[t] * s) / math.sqrt(al[t])
        else:   # accel-ode
            y_minus = math.sqrt(al[t + 1]) * (y - 0.5 * be[t + 1] * s)
            s_next = score_numpy(y_minus, ab[t + 1], pb)
            corr = (be[t] ** 2 / (4.0 * be[t + 1])) * (s - math.sqrt(al[t + 1]) * s_next)
            y = (y + 0.5 * be[t] * s + corr) / math.sqrt(al[t])
    return y


# --------------------------------------------------------------------------- JAX
def jax_runner(name, pb):
    """``y0 -> Y_1``: the whole loop in one ``jax.jit`` (``lax.fori_loop``), float64; None
    without JAX."""
    try:
        import jax
    except ImportError:
        return None
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    w, mu, c = jnp.asarray(pb.w), jnp.asarray(pb.mu), jnp.asarray(pb.c)
    al, be, ab = jnp.asarray(pb.alpha), jnp.asarray(pb.beta), jnp.asarray(pb.abar)
    T, d = pb.T, pb.d

    def score(x, abar):
        m = jnp.sqrt(abar) * mu                       # (K, d)
        v = abar * c + (1.0 - abar)                   # (K,)
        diff = m[None, :, :] - x[:, None, :]          # (n, K, d)
        q = jnp.sum(diff * diff, axis=-1)
        logr = jnp.log(w) - 0.5 * d * jnp.log(v) - 0.5 * q / v
        r = jax.nn.softmax(logr, axis=1) / v
        return jnp.einsum("nk,nkd->nd", r, diff)

    def body(i, y):
        t = T - i
        s = score(y, ab[t])
        if name == "ddim-li":
            return (y + 0.5 * be[t] * s) / jnp.sqrt(al[t])
        y_minus = jnp.sqrt(al[t + 1]) * (y - 0.5 * be[t + 1] * s)
        s_next = score(y_minus, ab[t + 1])
        corr = (be[t] ** 2 / (4.0 * be[t + 1])) * (s - jnp.sqrt(al[t + 1]) * s_next)
        return (y + 0.5 * be[t] * s + corr) / jnp.sqrt(al[t])

    run = jax.jit(lambda y0: jax.lax.fori_loop(0, len(pb.steps), body, y0))
    return lambda y0: np.asarray(run(jnp.asarray(y0)).block_until_ready())


# --------------------------------------------------------------------------- peak
def _cpuinfo() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            return f.read()
    except OSError:
        return ""


def clock_ghz(info: str | None = None) -> tuple[float, str]:
    """The clock in GHz and where it was read: the highest ``cpu MHz`` in /proc/cpuinfo, or
    cpufreq's maximum when larger (2 GHz, said so, when neither is readable)."""
    info = _cpuinfo() if info is None else info
    mhz = [float(ln.split(":")[1]) for ln in info.splitlines() if ln.startswith("cpu MHz")]
    ghz, clock_from = (max(mhz) / 1000, "cpu MHz in /proc/cpuinfo") if mhz else (2.0, "unknown, 2 GHz assumed")
    try:
        with open("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq") as f:
            top = int(f.read()) / 1e6
        if top > ghz:
            ghz, clock_from = top, "cpufreq cpuinfo_max_freq"
    except (OSError, ValueError):
        pass
    return ghz, clock_from


def peak_gflops(fma_units: int = 2) -> tuple[float, str]:
    """Double-precision peak of the cores this process may use, and how it was derived:
    cores (``os.sched_getaffinity``) x clock (the highest ``cpu MHz`` in /proc/cpuinfo, or
    cpufreq's maximum when larger) x lanes (8 with avx512f, 4 with avx2/avx, else 2) x 2
    flops per FMA when the ``fma`` flag is there x ``fma_units`` vector units per core
    (not readable from /proc/cpuinfo: an assumption, printed)."""
    cores = len(os.sched_getaffinity(0))
    info = _cpuinfo()
    ghz, clock_from = clock_ghz(info)
    line = next((ln for ln in info.splitlines() if ln.startswith("flags")), "")
    flags = set(line.split(":", 1)[1].split()) if ":" in line else set()
    lanes, isa = (8, "avx512f") if "avx512f" in flags else (4, "avx2") if "avx2" in flags else \
        (4, "avx") if "avx" in flags else (2, "sse2")
    fma = 2 if "fma" in flags else 1
    per_cycle = lanes * fma * fma_units
    peak = cores * ghz * per_cycle
    how = (f"{cores} cores (sched_getaffinity) x {ghz:.2f} GHz ({clock_from}) x {lanes} float64 lanes ({isa}) x "
           f"{fma} ({'fma' if fma == 2 else 'no fma'}) x {fma_units} vector units per core (assumed) = {peak:.1f} GFLOP/s")
    return peak, how


# --------------------------------------------------------------------------- part 1
def _best(fn, repeat):
    best, out = math.inf, None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def throughput(n: int, T: int, repeat: int, fma_units: int, target: str) -> list[str]:
    pb = Problem(target, T)
    steps = len(pb.steps)
    y0 = np.random.default_rng(0).standard_normal((n, pb.d))
    peak, how = peak_gflops(fma_units)
    print(f"\n## throughput: {target} (d = {pb.d}, K = {len(pb.w)}, {pb.target.kind}), {pb.sched.describe()}, "
          f"n = {n:.0e}, {steps} steps (Y_T -> Y_1), float64, best of {repeat}\n")
    print(f"peak: {how}\n")
    print(f"{'sampler':10s} {'implementation':14s} {'seconds':>8s} {'sample-steps/s':>15s} {'GFLOP/s':>8s} "
          f"{'% peak':>7s} {'max rel diff':>13s}")
    failures = []
    for name in SAMPLERS:
        flops = _flops_per_sample_step(name, pb.target, pb.sched)
        small = y0[:64]
        accnum.sample(pb.target, name, pb.sched, init=small, backend="cpu")   # compile or load the kernels
        run_np, run_jax = (lambda: run_numpy(name, y0, pb)), jax_runner(name, pb)   # noqa: B023
        rows = [("accnum cpu", lambda: accnum.sample(pb.target, name, pb.sched, init=y0, backend="cpu").x),  # noqa: B023
                ("numpy", run_np)]
        if run_jax is not None:
            run_jax(y0)   # compile
            rows.append(("jax jit", lambda: run_jax(y0)))  # noqa: B023
        rates, ref = {}, None
        for label, fn in rows:
            sec, out = _best(fn, repeat)
            rates[label] = n * steps / sec
            ref = out if ref is None else ref
            rel = float(np.max(np.abs(out - ref)) / np.max(np.abs(ref)))
            if rel > TOLERANCE:
                failures.append(f"{name}: {label} differs from accnum cpu by {rel:.1e} relative")
            gf = rates[label] * flops / 1e9
            print(f"{name:10s} {label:14s} {sec:8.3f} {rates[label]:15.3e} {gf:8.2f} {100 * gf / peak:6.1f}% "
                  f"{'-' if label == 'accnum cpu' else f'{rel:.1e}':>13s}", flush=True)
        if run_jax is None:
            print(f"{name:10s} {'jax jit':14s} not installed (pip install '.[bench]')")
        cpu = rates["accnum cpu"]
        vs_jax = f"{cpu / rates['jax jit']:.1f}x (goal >= 10x)" if "jax jit" in rates else "n/a (JAX not installed)"
        print(f"{name:10s} cpu / numpy {cpu / rates['numpy']:.1f}x   cpu / jax {vs_jax}   "
              f"({flops:.0f} flops per sample-step counted)\n", flush=True)
    return failures


# --------------------------------------------------------------------------- part 2
def _accnum(args, env, cwd) -> float:
    t0 = time.perf_counter()
    res = subprocess.run([sys.executable, "-m", "accnum.cli", *args], env=env, cwd=cwd, capture_output=True, text=True)
    sec = time.perf_counter() - t0
    if res.returncode != 0:
        raise SystemExit(f"bench_speed: accnum {' '.join(args)} failed ({res.returncode}):\n{res.stderr[-2000:]}")
    return sec


def first_run() -> None:
    print("\n## first run: default `accnum rates` (with its plot), each a fresh process, wall time\n")
    with tempfile.TemporaryDirectory() as tmp:
        cold_cache, warmed_cache, out = (os.path.join(tmp, x) for x in ("cache-a", "cache-b", "out"))
        env = lambda cache: {**os.environ, "NUMBA_CACHE_DIR": cache}  # noqa: E731
        rates = ["rates", "--out", out]
        cold = _accnum(rates, env(cold_cache), tmp)
        warm = _accnum(rates, env(cold_cache), tmp)
        pre = _accnum(["info", "--warm"], env(warmed_cache), tmp)
        after = _accnum(rates, env(warmed_cache), tmp)
    print(f"{'run':44s} {'wall s':>7s} {'/ warm':>7s}")
    print(f"{'empty cache (first run)':44s} {cold:7.1f} {cold / warm:6.2f}x   (goal <= 1.5x)")
    print(f"{'same cache again (warm)':44s} {warm:7.1f} {1:6.2f}x")
    print(f"{'accnum info --warm, on an empty cache':44s} {pre:7.1f}")
    print(f"{'first run after accnum info --warm':44s} {after:7.1f} {after / warm:6.2f}x")


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", choices=["throughput", "first-run"], default=None, help="run one part")
    p.add_argument("--n", type=float, default=2e5, help="samples (default 2e5)")
    p.add_argument("--T", type=int, default=50, help="steps of the li2024 schedule (default 50)")
    p.add_argument("--target", default="ring8", help="an isotropic target (default ring8)")
    p.add_argument("--repeat", type=int, default=3, help="timed runs of each, the best reported (default 3)")
    p.add_argument("--fma-units", type=int, default=2, help="vector FMA units per core assumed in the peak (default 2)")
    a = p.parse_args()
    import numba

    try:
        import jax
        jx = f"jax {jax.__version__}"
    except ImportError:
        jx = "jax not installed"
    print(f"accnum {accnum.__version__}, numba {numba.__version__} ({numba.config.NUMBA_NUM_THREADS} threads), "
          f"numpy {np.__version__}, {jx}; {len(os.sched_getaffinity(0))} usable cores")
    failures = []
    if a.only in (None, "throughput"):
        failures = throughput(int(a.n), a.T, a.repeat, a.fma_units, a.target)
    if a.only in (None, "first-run"):
        first_run()
    if failures:
        print("\nDISAGREEMENT beyond 1e-10:\n  " + "\n  ".join(failures))
        sys.exit(1)


if __name__ == "__main__":
    main()
