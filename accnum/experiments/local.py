"""Local against global error of deterministic samplers: the one-step error against the
exact probability-flow map, and the error after all steps (docs/math/flow.md#local-global).

For each T, ``n`` exact draws of ``q_T`` are carried by the exact flow (:mod:`accnum.flow`)
through every level of the schedule: ``x_T, ..., x_1``.

- **Local error** of step ``t``: the sampler takes one step from the exact point ``x_t``,
  its history (what a multistep sampler carries in ``state``) also computed at exact
  points, and ``e_t = RMS_i |Y_{t-1}^{(i)} - x_{t-1}^{(i)}|``.  Reported per T: the mean of
  ``e_t`` over the steps (``local``) and the whole profile.
- **Global error**: the sampler runs all its steps from the same ``x_T``;
  ``RMS_i |Y_1^{(i)} - x_1^{(i)}|`` (``global``).

A method of order ``p`` makes a one-step error of order ``p + 1`` in the step size and,
summed over ``1/h`` steps, a global error of order ``p``.  Both are pathwise (the same
starting points), a stronger notion than the TV of the output law.  Orders are fitted in
``h`` (docs/math/orders.md#fit).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from .. import _checks
from ..errors import InvalidInput, InvalidType
from ..flow import flow_path
from ..run import initial_points, sample
from ..samplers import get as get_sampler
from ..score import ExactScore
from ..targets import resolve as resolve_target
from .provenance import record_base, versions
from .rates import RatesResult, _checked_factory, fit_orders, _nfe, _resolve_ts, _sampler_list, schedule_factory

DEFAULT_SAMPLERS = ("ddim-li", "accel-ode")
DEFAULT_TS = (25, 50, 100, 200, 400)
QUANTITIES = ("local", "global")


@dataclass
class LocalErrorResult(RatesResult):
    """A rates-like result whose metrics are ``local`` (mean one-step error) and ``global``
    (error after all steps), with the claimed orders ``p + 1`` and ``p``; ``profiles`` holds
    each run's one-step errors along the schedule."""

    profiles: list = field(default_factory=list)

    def to_dict(self) -> dict:
        out = super().to_dict()
        out["profiles"] = self.profiles
        return out

    def plot(self, path) -> None:
        """Write the local-against-global figure (:func:`accnum.plot.local_error`) as a PNG."""
        from .. import plot

        plot.save_png(plot.local_error(self), path)


def _rms(diff):
    """RMS of the points' error norms and its standard error (delta method)."""
    sq = np.sum(diff * diff, axis=1)
    ms = float(sq.mean())
    rms = math.sqrt(ms)
    se = float(sq.std(ddof=1) / math.sqrt(sq.size)) / (2 * rms) if rms > 0 and sq.size > 1 else 0.0
    return rms, se


def one_step_errors(target, sampler, schedule, x_path, model=None):
    """``e_t`` for ``t = T, ..., 2`` (RMS over the points) of ``sampler`` started at every
    step from the exact points ``x_path`` (``(T, n, d)``, rows ``x_T, ..., x_1``), its state
    carried from exact points too."""
    model = model or ExactScore(target)
    state = sampler.initial_state()
    T = schedule.T
    errs, ses = [], []
    with np.errstate(over="ignore", invalid="ignore"):
        for t in range(T, 1, -1):
            y, state = sampler.step(t, x_path[T - t], [], model, schedule, state)
            e, se = _rms(np.asarray(y) - x_path[T - t + 1])
            errs.append(e)
            ses.append(se)
    return np.array(errs), np.array(ses)


def local_error(target="gmm1d", samplers=DEFAULT_SAMPLERS, schedule="li2024", Ts=DEFAULT_TS, n: int = 512,
                seed: int = 0, schedule_params: dict | None = None, backend: str = "auto",
                progress=None) -> LocalErrorResult:
    """Local (one-step) and global error of deterministic ``samplers`` against the exact
    probability-flow map, over ``Ts``, with fitted orders (see the module doc).

    ``schedule`` is a name (with ``schedule_params``) or a callable ``T -> Schedule``; ``n``
    exact draws of ``q_T`` start every run; ``backend`` runs the global runs
    (:func:`accnum.sample`); the one-step runs use the NumPy steps.  ``progress`` wraps the
    list of T.
    """
    tg = resolve_target(target)
    sams = [get_sampler(s) for s in _sampler_list(samplers)]
    for s in sams:
        if s.facts.kind != "ode":
            raise InvalidInput(f"local error against the probability-flow map needs deterministic samplers; {s.name} is "
                               "stochastic")
    Ts = _resolve_ts(Ts)
    n = _checks.integer("n", n, minimum=10)
    seed = _checks.seed(seed)
    if callable(schedule):
        factory, sched_name = _checked_factory(schedule), "custom"
    else:
        if schedule_params is not None and not isinstance(schedule_params, dict):
            raise InvalidType(f"schedule_params must be a dict, got {type(schedule_params).__name__}")
        factory, sched_name = schedule_factory(schedule, **(schedule_params or {})), schedule
    scheds = {T: factory(T) for T in Ts}     # every schedule valid before any work
    model = ExactScore(tg)
    records, profiles = [], []
    t0 = time.perf_counter()
    for T in (progress(Ts) if progress is not None else Ts):
        sched = scheds[T]
        x_T = initial_points(tg, sched, n, seed, "exact")
        path = flow_path(tg, x_T, sched.alpha_bar[T:0:-1])          # x_T, ..., x_1
        for s in sams:
            base = {**record_base(tg, s, model, "exact"), "schedule": sched.describe(), "T": T, "h": sched.h,
                    "nfe": _nfe(s, tg, sched), "n": n, "seed": seed, **versions()}
            errs, ses = one_step_errors(tg, s, sched, path, model)
            y1 = sample(tg, s, sched, n=n, init=x_T, backend=backend)
            g, gse = _rms(y1.x - path[-1])
            records.append({**base, "metric": "local", "estimate": float(errs.mean()),
                            "stderr": float(math.sqrt(np.sum(ses ** 2)) / errs.size), "backend": "numpy",
                            "note": f"mean over {errs.size} steps of the RMS one-step error"})
            records.append({**base, "metric": "global", "estimate": g, "stderr": gse, "backend": y1.backend,
                            "note": "RMS error of Y_1 against the exact flow"})
            profiles.append({"sampler": s.name, "T": T, "t": list(range(T, 1, -1)),
                             "abar_from": [float(sched.alpha_bar[t]) for t in range(T, 1, -1)],
                             "error": errs.tolist(), "stderr": ses.tolist()})
    # fitted orders, local orders between neighbouring T and the polylog fits, as in rates;
    # the claims are p + 1 (one step) and p (all steps), not a metric's translation
    pairs = [(s, q) for s in sams for q in QUANTITIES]
    orders = fit_orders(records, pairs, polylog_p=None)
    for o, (s, q) in zip(orders, pairs, strict=True):
        p = s.facts.order
        o["claimed"] = None if p is None else (p + 1 if q == "local" else p)
        o["claim_basis"] = "" if p is None else ("order p + 1 of one step" if q == "local" else "order p of the method")
    first = scheds[Ts[0]]
    meta = {"target": tg.name or "custom", "schedule": first.describe().replace(f"T={Ts[0]}", "T"),
            "schedule_name": sched_name, "Ts": Ts, "samplers": [s.name for s in sams], "seed": seed, "init": "exact",
            "h_name": {"li2024": "c1 log T / T", "custom": "Schedule.h"}.get(sched_name, "1/T"), "n": n,
            "reference": "closed form" if tg.K == 1 else "DOP853, rtol 1e-12", "warnings": [], **versions()}
    return LocalErrorResult(records, orders, meta, {"seconds": time.perf_counter() - t0}, profiles)
