"""Users' samplers and scores on the compiled backend against the built-in ones (issue 12),
measured in one run.

    python benchmarks/bench_extending.py [--n 200000] [--T 50] [--repeat 5]

1. A user's sampler with the same step as a built-in one (a copy of ``ddim-li``'s step in a
   ``Sampler`` subclass of the user's, and the same for ``accel-ode``): sample-steps per
   second of each, and the ratio (goal: within 10%).
2. A user's compiled score against the built-in mixture score, time per evaluation: the
   isotropic mixture score written by a user through the public protocol
   (``ScoreModel.compiled``) as docs/extending.md recommends (every innermost loop over
   lanes, ``accnum.kernels.vmath.vexp_neg``; goal: within 2x of the built-in) and naively
   (a loop per lane with ``math.exp``, which keeps the code scalar), the built-in exact
   score, and the exact score plus the tanh network of ``examples/tanh_score.py``, each in
   ``ddim-li`` (one evaluation per step).

Timings are the best of ``--repeat`` runs after a warm-up (compilation) run; the ratios are
measured, not assumed, and vary with the machine.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time

import numba
import numpy as np

import accnum
from accnum import ExactScore, schedules, targets
from accnum.kernels.vmath import vexp_neg
from accnum.samplers import Facts, Sampler
from accnum.score import CompiledScore, ScoreModel, Sum

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from examples.tanh_score import TanhNet  # noqa: E402


class UserDDIMLi(Sampler):
    facts = Facts("user-ddim-li", "ode", 1, 0, 1.0, "tv", "a user's copy of ddim-li's step")

    def step(self, t, y, z, model, sched, state):
        return (y + 0.5 * sched.beta[t] * model(sched.alpha_bar[t], y)) / math.sqrt(sched.alpha[t]), state


class UserAccelODE(Sampler):
    facts = Facts("user-accel-ode", "ode", 2, 0, 2.0, "tv", "a user's copy of accel-ode's step")

    def step(self, t, y, z, model, sched, state):
        a, a_next = sched.alpha[t], sched.alpha_ext(t + 1)
        b, b_next = sched.beta[t], sched.beta_ext(t + 1)
        s = model(sched.alpha_bar[t], y)
        y_minus = math.sqrt(a_next) * (y - 0.5 * b_next * s)
        s_next = model(sched.alpha_bar_ext(t + 1), y_minus)
        corr = (b * b / (4.0 * b_next)) * (s - math.sqrt(a_next) * s_next)
        return (y + 0.5 * b * s + corr) / math.sqrt(a), state


@numba.njit(cache=True, error_model="numpy", fastmath={"contract"})
def user_mixture_score(p, q, i0, L, X, OUT, ws):
    """The isotropic mixture score as a user would write it: per lane, log-sum-exp with math.exp."""
    logw, mu, var, ab = p
    K, d = mu.shape
    a = ab[q]
    for l in range(L):
        top = -math.inf
        for k in range(K):
            v = a * var[k] + 1.0 - a
            e = logw[k] - 0.5 * d * math.log(v)
            for j in range(d):
                z = X[j, l] - math.sqrt(a) * mu[k, j]
                e -= 0.5 * z * z / v
            ws[k, l] = e
            top = max(top, e)
        tot = 0.0
        for k in range(K):
            ws[k, l] = math.exp(ws[k, l] - top)
            tot += ws[k, l]
        for j in range(d):
            s = 0.0
            for k in range(K):
                v = a * var[k] + 1.0 - a
                s += ws[k, l] / tot * (-(X[j, l] - math.sqrt(a) * mu[k, j]) / v)
            OUT[j, l] = s


@numba.njit(cache=True, error_model="numpy", fastmath={"contract"})
def user_mixture_score_lanes(p, q, i0, L, X, OUT, ws):
    """The same score written as docs/extending.md recommends: every innermost loop over lanes,
    the vectorisable exp of accnum.kernels.vmath, per-evaluation numbers read once."""
    logw, mu, var, ab = p
    K, d = mu.shape
    a = ab[q]
    sa = math.sqrt(a)
    top, tot = ws[K], ws[K + 1]
    for l in range(L):
        top[l] = -math.inf
        tot[l] = 0.0
    for k in range(K):
        v = a * var[k] + 1.0 - a
        c = logw[k] - 0.5 * d * math.log(v)
        e = ws[k]
        for l in range(L):
            e[l] = c
        for j in range(d):
            m, h = sa * mu[k, j], 0.5 / v
            for l in range(L):
                z = X[j, l] - m
                e[l] -= h * z * z
        for l in range(L):
            top[l] = max(top[l], e[l])
    for k in range(K):
        e = ws[k]
        for l in range(L):
            e[l] = vexp_neg(e[l] - top[l])
            tot[l] += e[l]
    for j in range(d):
        for l in range(L):
            OUT[j, l] = 0.0
        for k in range(K):
            v = a * var[k] + 1.0 - a
            m, iv = sa * mu[k, j], 1.0 / v
            e = ws[k]
            for l in range(L):
                OUT[j, l] -= e[l] / tot[l] * (X[j, l] - m) * iv


class UserMixtureScore(ScoreModel):
    """An isotropic mixture's exact score, by a user (no Jacobian: sampling only)."""

    def __init__(self, target, lanes: bool = False):
        super().__init__()
        self.t, self.lanes = target, lanes

    def score(self, alpha_bar, x):
        return self.t.diffused(alpha_bar).score(x)

    def compiled(self, evaluations):
        p = (np.log(self.t.weights), self.t.means, self.t.covariances.copy(), evaluations.abar.copy())
        fn = user_mixture_score_lanes if self.lanes else user_mixture_score
        return CompiledScore(fn, None, p, workspace=self.t.K + 2, name="user-mixture")


def best(fn, repeat):
    fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=200_000)
    p.add_argument("--T", type=int, default=50)
    p.add_argument("--repeat", type=int, default=5)
    a = p.parse_args()
    tg = targets.get("ring8")
    sched = schedules.li2024(a.T)
    steps = a.n * (a.T - 1)
    print(f"ring8 (d = 2, K = 8), li2024(T = {a.T}), n = {a.n}, backend cpu, {numba.get_num_threads()} threads, "
          f"best of {a.repeat}\n")
    print("## 1. a user's sampler against the built-in with the same step (goal: within 10%)\n")
    print(f"{'sampler':16s} {'sample-steps/s':>15s} {'user / built-in':>16s}")
    for builtin, user in (("ddim-li", UserDDIMLi()), ("accel-ode", UserAccelODE())):
        tb = best(lambda: accnum.sample(tg, builtin, sched, n=a.n, backend="cpu"), a.repeat)  # noqa: B023
        tu = best(lambda: accnum.sample(tg, user, sched, n=a.n, backend="cpu"), a.repeat)  # noqa: B023
        print(f"{builtin:16s} {steps / tb:15.3e}")
        print(f"{user.name:16s} {steps / tu:15.3e} {tb / tu:16.3f}")
    print("\n## 2. a user's compiled score against the built-in mixture score (ddim-li: one evaluation a step; "
          "goal: within 2x)\n")
    print(f"{'score model':28s} {'ns per evaluation':>18s} {'x built-in':>11s}")
    models = [("built-in exact", lambda: ExactScore(tg)),
              ("user's, lanes innermost", lambda: UserMixtureScore(tg, lanes=True)),
              ("user's, naive (math.exp)", lambda: UserMixtureScore(tg)),
              ("exact + tanh net (16)", lambda: Sum(ExactScore(tg), TanhNet(d=2, hidden=16)))]
    ref = None
    for label, make in models:
        t = best(lambda: accnum.sample(tg, "ddim-li", sched, n=a.n, score=make(), backend="cpu"), a.repeat)  # noqa: B023
        ns = 1e9 * t / steps
        ref = ref or ns
        print(f"{label:28s} {ns:18.1f} {ns / ref:11.2f}")


if __name__ == "__main__":
    main()
