"""Path KL of a stochastic sampler, the quantity the convergence proofs bound
(docs/math/metrics.md#path-kl):

    KL(q_{1:T} || p_{1:T}) = KL(q_T || pi_T) + sum_{t=2}^T E_{x ~ q_t} KL(q(.|x) || p_t(.|x))

``q(.|x)`` is the exact posterior of the forward process (:mod:`.pairs`); ``p_t(.|x)`` the
sampler's one-step kernel ``Y_{t-1} = m_t(x + sqrt(v0) Z) + sqrt(v1) Z'`` (:mod:`.density`),
or, for a :class:`~accnum.samplers.GaussianStepSampler`, ``N(m_t(x), L_t(x) L_t(x)^T)`` with a
covariance that depends on ``x`` (docs/math/metrics.md#full-covariance-kernel; NumPy only).
Each inner KL is estimated as ``E_q[r - 1 - log r]`` with ``r = p / q`` over exact draws of
``(X_{t-1}, X_t)``.  On the compiled backends one kernel call draws the pairs and evaluates
both densities for a chunk of steps, a lane per pair; the NumPy reference does the same
step by step.  The tensor Gauss–Hermite rule has ``nodes^d`` points per pair: d <= 3.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numba
import numpy as np

from ... import _checks, _memory
from ...errors import InvalidInput
from ...kernels.executor import lane_bytes, run_scratch, views
from ...kernels.layout import OPTS, launch, lanes_for, take
from ...kernels.numba_compat import stabilize
from ...kernels.program import trace, trace_mean_maps
from ...kernels.sampling import compiled_score
from ...run import _backend_for, resolve_score
from ...samplers import GaussianStepSampler, KernelSampler
from ...samplers import get as get_sampler
from ...score import no_jacobian, require_deterministic, require_jacobian
from ...targets import resolve as resolve_target
from .. import registry
from ..base import Estimate, require_tangents
from .density import gh_rule, kernel_logpdf, kernel_logpdf_lanes
from .pairs import draw, draw_lanes, gauss_logpdf, log_q, log_q_lanes, pair_tables

MAX_D = 3
_SLOT = 100  # counter-stream slots of the metric's own draws (samplers use 0..k-1)
MAX_NODES = 64     # Gauss–Hermite nodes per dimension: the outer nodes of a larger rule carry weights below 1e-48
_CHUNK = 1 << 22   # compiled: log-ratios held at once (steps per kernel call = _CHUNK // n)


def memory_check(n: int, target, backend: str, nodes: int = 8) -> None:
    """The kernels hold a log-ratio and a pair per sample and step (a chunk of steps at a
    time); NumPy the Gauss-Hermite nodes of every pair and the score's temporaries at them."""
    d, K = target.d, target.K
    per_pair = 8.0 * (8 * d + 4) if backend in ("cpu", "cuda") else 8.0 * nodes ** d * (6 * d + 2 * K * d)
    _memory.require(n * per_pair + 8.0 * nodes ** d * (d + 1), f"path KL's {n} exact pairs per step ({nodes}^{d} quadrature nodes each) on "
                    f"backend {backend!r}", f"n = {n}")


def _kl_terms(log_r):
    """Per row of ``log r = log p - log q`` (one row per step): the inner KL's estimate
    ``mean(r - 1 - log r)`` and the variance of its terms."""
    vals = np.expm1(log_r) - log_r
    return vals.mean(axis=-1), vals.var(axis=-1, ddof=1)


def path_kl(target, sampler, schedule, n: int = 2000, seed: int = 0, nodes: int = 8, init: str = "gaussian",
            score=None, backend: str = "auto") -> Estimate:
    """The path KL (docs/math/metrics.md#path-kl) with its standard error; ``extra["per_step"]`` holds the
    terms ``[KL(q_T || pi_T), step T, ..., step 2]`` and ``extra["tv_bound"]`` Pinsker's
    bound ``sqrt(KL / 2)`` on ``TV(q_1, p_{Y_1})``.  On the ``cpu``/``cuda`` backends the
    score evaluations at the pairs and quadrature nodes run in compiled kernels."""
    target = resolve_target(target)
    sampler = get_sampler(sampler)
    schedule = _checks.schedule(schedule)
    full_cov = isinstance(sampler, GaussianStepSampler)
    if not isinstance(sampler, KernelSampler) and not full_cov:
        if sampler.facts.kind == "ode":
            raise InvalidInput(f"path-kl needs a stochastic sampler with a Gaussian one-step kernel; {sampler.name} is "
                               "deterministic (use the exact tv/kl metrics)")
        raise InvalidInput(f"path-kl needs the Gaussian one-step kernel of {sampler.name}: make it a subclass of "
                           "accnum.samplers.KernelSampler with kernel() and mean_map(), or of GaussianStepSampler "
                           "(docs/extending.md)")
    if target.d > MAX_D:
        raise InvalidInput(f"path-kl supports d <= {MAX_D} (Gauss–Hermite tensor rule), this target has d = {target.d}")
    n = _checks.integer("n", n, minimum=10)
    nodes = _checks.integer("nodes", nodes, minimum=2)
    if nodes > MAX_NODES:
        raise InvalidInput(f"nodes must be <= {MAX_NODES} (a Gauss–Hermite rule with more nodes adds nothing in "
                           f"float64), got {nodes}")
    seed = _checks.seed(seed)
    _checks.choice("init", init, ("gaussian", "exact"))
    model = resolve_score(score, target)
    require_deterministic(model, "path-kl")
    if full_cov:   # its covariance is made from the score Jacobian; its step does not trace: numpy
        require_jacobian(model, "path-kl", f"{sampler.name}'s one-step covariance is made from it")
        backend = _backend_for(backend, model, None, lambda: trace(sampler, schedule))
    else:
        if any(sampler.kernel(t, schedule)[0] > 0 for t in range(schedule.T, 1, -1)):
            require_tangents("path-kl", sampler, schedule, model, mean_maps=True)
        backend = _backend_for(backend, model, None, lambda: trace_mean_maps(sampler, schedule))
    compiled = backend != "numpy" and model.has_jacobian and not full_cov
    memory_check(n, target, backend if compiled else "numpy", nodes)
    sched, d, T = schedule, target.d, schedule.T
    rule = gh_rule(nodes, d)

    terms, variances = [], []
    if init == "gaussian":
        qT = target.diffused(sched.alpha_bar[T])
        x = qT._sample_stream(n, seed, T + 1, _SLOT)
        m, v = _kl_terms(gauss_logpdf(x, 1.0) - qT.logpdf(x))
    else:
        m, v = 0.0, 0.0
    terms.append(float(m))
    variances.append(float(v))
    if compiled:   # the same pairs, drawn inside the kernel, every step of a chunk in one call
        rows = max(1, _CHUNK // n)
        for t_hi in range(T, 1, -rows):
            log_r = log_ratios(backend, target, model, sampler, sched, seed, n, rule, t_hi, max(2, t_hi - rows + 1))
            m, v = _kl_terms(log_r)
            terms += m.tolist()
            variances += v.tolist()
    else:
        for t in range(T, 1, -1):
            y, x = draw(target, sched, t, n, seed, _SLOT)                     # X_{t-1} ~ q_{t-1}, X_t | X_{t-1}
            m, v = _kl_terms(kernel_logpdf(sampler, t, sched, model, x, y, nodes) - log_q(target, sched, t, y, x))
            terms.append(float(m))
            variances.append(float(v))
    total = float(np.sum(terms))
    se = math.sqrt(float(np.sum(variances)) / n)
    return Estimate("path-kl", total, se, n, f"mc, gauss-hermite {nodes}^{d}" if d else "mc",
                    {"per_step": np.array(terms), "tv_bound": math.sqrt(max(total, 0.0) / 2)},
                    backend=backend if compiled else "numpy")


# ------------------------------------------------------------------------------- registry
def _compute(req, names):
    kw = {} if req.n is None else {"n": req.n}
    return {"path-kl": path_kl(req.target, req.sampler, req.schedule, seed=req.seed, init=req.init, score=req.score,
                               backend=req.backend, **kw)}


PATH_KL = registry._builtin(registry.Metric(
    "path-kl", "KL(q_{1:T} || p_{1:T}) of the whole path, the quantity the proofs bound", _compute, kinds=("sde",),
    max_d=MAX_D, needs=("kernel", "deterministic"), default_n=2000, min_n=10, adaptive=True, rank=2,
    claim=registry.claim_path_kl, default_for=lambda kind, d: kind == "sde" and d <= MAX_D, extra={"start_floor": "kl_qp"},
    memory=lambda n, target, backend: memory_check(n, target, backend),
    how="exact pairs (X_{t-1}, X_t), exact posterior by Bayes' rule, the sampler's one-step kernel (Gauss-Hermite "
        "over the intermediate point), E_q[r - 1 - log r] per step"))


# ------------------------------------------------------------------------------- compiled
class PairScratch(NamedTuple):
    """The executor's scratch (:class:`~accnum.kernels.executor.RunScratch`) and the pairs'."""

    sym: tuple
    pt: tuple
    ws: tuple
    tan: tuple
    tpt: tuple
    J: tuple
    lu: tuple
    bad: tuple
    logdet: tuple
    X: tuple
    Y: tuple
    Z: tuple
    U: tuple
    R: tuple
    V: tuple
    A: tuple
    B: tuple
    C: tuple
    logdiag: tuple
    top: tuple
    tot: tuple
    lq: tuple
    lp: tuple


@numba.njit(**OPTS)
def pairs_body(b_lo, b_hi, L, N, buf, score, score_jac, args):
    """Lanes = pairs, blocks ``b_lo .. b_hi - 1``: item ``i0 + l`` of block ``b`` (``i0 = bL``) is
    pair ``(i0 + l) % n_pad`` of row ``r0 + (i0 + l) // n_pad`` (``n_pad``, a multiple of the
    block's lanes, keeps a block within one row)."""
    out, n, n_pad, r0, V0, V1, pts, logw, pt, prog, sp, lay = args
    sc = views(buf, lay)
    X, Y, Z = take(buf, lay.X), take(buf, lay.Y), take(buf, lay.Z)
    g = (take(buf, lay.U), take(buf, lay.R), take(buf, lay.V), take(buf, lay.A), take(buf, lay.B), take(buf, lay.C),
         take(buf, lay.logdiag), take(buf, lay.top), take(buf, lay.tot))
    lq, lp = take(buf, lay.lq), take(buf, lay.lp)
    for blk in range(b_lo, b_hi):
        i0 = blk * L
        j, p0 = i0 // n_pad, i0 % n_pad
        row = r0 + j
        draw_lanes(pt, row, p0, L, Y, X, Z)
        log_q_lanes(pt, row, Y, X, g[1], sc[2], lq, g[7], L)
        kernel_logpdf_lanes(score, score_jac, prog, sp, sc, row, p0, L, X, Y, V0[row], V1[row], pts, logw, g, lp)
        for l in range(L):
            if p0 + l < n:
                out[j, p0 + l] = lp[l] - lq[l]


def log_ratios(backend: str, target, model, sampler, sched, seed: int, n: int, rule, t_hi: int, t_lo: int):
    """``log p_t(y | x) - log q(y | x)`` for ``n`` exact pairs at each step ``t = t_hi .. t_lo``
    (row ``t_hi - t``), in one kernel call (drawn as :func:`.pairs.draw` draws them)."""
    if not sched.T >= t_hi >= t_lo >= 2:
        raise InvalidInput(f"steps must satisfy T >= t_hi >= t_lo >= 2, got t_hi = {t_hi}, t_lo = {t_lo}")
    program = trace_mean_maps(sampler, sched)
    d = target.d
    form = compiled_score(model, program, d)
    pt = pair_tables(target, sched, seed, _SLOT)
    ts = np.arange(sched.T, 1, -1)
    r0, R = sched.T - t_hi, t_hi - t_lo + 1
    v = np.zeros((2, len(ts)))
    v[:, r0:r0 + R] = np.array([sampler.kernel(int(t), sched) for t in ts[r0:r0 + R]], dtype=np.float64).T
    ws = max(form.workspace, _truth_workspace(target))
    lanes = lanes_for(backend, lane_bytes(program.rows, d, ws, True) + 6 * d + 3 * d * d + 5)
    n_pad = -(-n // lanes) * lanes
    extra = dict(X=(d, lanes), Y=(d, lanes), Z=(d, lanes), U=(d, lanes), R=(d, lanes), V=(d, lanes), A=(d, d, lanes),
                 B=(d, d, lanes), C=(d, d, lanes), logdiag=(lanes,), top=(lanes,), tot=(lanes,), lq=(lanes,), lp=(lanes,))
    total, lay = run_scratch(program.rows, d, ws, lanes, True, extra, cls=PairScratch)
    out = np.empty((R, n))
    pts, logw = (np.ascontiguousarray(a, dtype=np.float64) for a in rule)
    args = (out, n, n_pad, r0, v[0], v[1], pts, logw, pt, program.arrays(0), form.params, lay)
    launch(backend, pairs_body, form.score, form.score_jac or no_jacobian, R * n_pad, lanes, total, args,
           outputs=(out,))
    model.count(int(np.sum(program.stages[r0:r0 + R])))
    return out


def _truth_workspace(target) -> int:
    from ...targets.exact_score import workspace

    return workspace(target.K, target.d)


stabilize(globals())
