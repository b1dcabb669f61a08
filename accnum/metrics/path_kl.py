"""Path KL of a stochastic sampler, the quantity the convergence proofs bound (SPEC §4):

    KL(q_{1:T} || p_{1:T}) = KL(q_T || pi_T) + sum_{t=2}^T E_{x ~ q_t} KL(q(.|x) || p_t(.|x))

``q(.|x)`` is the exact posterior of the forward process, evaluated by Bayes' rule
(``q_{t-1}(y) N(x; sqrt(alpha_t) y, beta_t I) / q_t(x)``, the density of
``GaussianMixture.posterior``); ``p_t(.|x)`` is the sampler's one-step kernel
``Y_{t-1} = m_t(x + sqrt(v0) Z) + sqrt(v1) Z'``.  When ``v0 > 0`` (accel-sde) the kernel
density is an integral over the intermediate point, done by Gauss–Hermite quadrature
around the Gaussian that the linearised mean map gives.  Each inner KL is estimated as
``E_q[r - 1 - log r]`` with ``r = p / q`` over exact draws of ``(X_{t-1}, X_t)``.

The tensor-product rule has ``nodes^d`` points per sample: d <= 3 is supported.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.polynomial.hermite_e import hermegauss
from scipy.special import logsumexp

from .. import _checks, _memory, kernels, noise
from ..kernels.program import trace_mean_maps
from ..run import _backend_for, resolve_score
from ..score import require_deterministic
from ..samplers import KernelSampler
from ..samplers import get as get_sampler
from ..tangent import Tangent
from ..targets import resolve as resolve_target
from .base import Estimate, require_tangents
from ..errors import InvalidInput

MAX_D = 3
_SLOT = 100  # counter-stream slots of the metric's own draws (samplers use 0..k-1)
_CHUNK = 1 << 22   # compiled: log-ratios held at once (steps per kernel call = _CHUNK // n)


def _gauss_logpdf(r, var):
    d = r.shape[-1]
    return -0.5 * np.sum(r * r, axis=-1) / var - 0.5 * d * math.log(2 * math.pi * var)


def _gh_rule(nodes: int, d: int):
    """Tensor Gauss–Hermite rule for E[f(Z)], Z ~ N(0, I_d): points (m^d, d), log-weights."""
    z, w = hermegauss(nodes)
    w = w / math.sqrt(2 * math.pi)
    grids = np.meshgrid(*([z] * d), indexing="ij")
    pts = np.stack([g.ravel() for g in grids], axis=1)
    logw = np.sum(np.log(np.stack(np.meshgrid(*([w] * d), indexing="ij"))).reshape(d, -1), axis=0)
    return pts, logw


def kernel_logpdf(sampler: KernelSampler, t: int, sched, model, x: np.ndarray, y: np.ndarray, nodes: int = 8) -> np.ndarray:
    """``log p_t(y | x)`` of a kernel sampler's step ``t``, row by row."""
    v0, v1 = sampler.kernel(t, sched)
    if v0 == 0.0:
        return _gauss_logpdf(y - sampler.mean_map(t, x, model, sched), v1)
    n, d = x.shape
    lin = sampler.mean_map(t, Tangent.identity(x), model, sched)   # m(x), Dm(x)
    mx, M = lin.value, lin.jac
    # Gaussian approximation of u | (x, y) under the linearised mean map
    prec = np.eye(d)[None] / v0 + np.einsum("nki,nkj->nij", M, M) / v1
    rhs = x / v0 + np.einsum("nki,nk->ni", M, y - mx + np.einsum("nij,nj->ni", M, x)) / v1
    cov = np.linalg.inv(prec)
    centre = np.einsum("nij,nj->ni", cov, rhs)
    chol = np.linalg.cholesky(0.5 * (cov + np.swapaxes(cov, 1, 2)))
    pts, logw = _gh_rule(nodes, d)
    u = centre[:, None, :] + np.einsum("nij,mj->nmi", chol, pts)                     # (n, m, d)
    m_u = sampler.mean_map(t, u.reshape(-1, d), model, sched).reshape(u.shape)
    log_f = _gauss_logpdf(u - x[:, None, :], v0) + _gauss_logpdf(y[:, None, :] - m_u, v1)
    log_phi = (-0.5 * np.sum(pts * pts, axis=1)[None] - 0.5 * d * math.log(2 * math.pi)
               - np.sum(np.log(np.diagonal(chol, axis1=1, axis2=2)), axis=1)[:, None])
    return logsumexp(log_f - log_phi + logw[None], axis=1)


def memory_check(n: int, target, backend: str, nodes: int = 8) -> None:
    """The kernels hold a log-ratio and a pair per sample and step (a chunk of steps at a
    time); NumPy the Gauss-Hermite nodes of every pair and the score's temporaries at them."""
    d, K = target.d, target.K
    per_pair = 8.0 * (8 * d + 4) if backend in ("cpu", "cuda") else 8.0 * nodes ** d * (6 * d + 2 * K * d)
    _memory.require(n * per_pair, f"path KL's {n} exact pairs per step ({nodes}^{d} quadrature nodes each) on "
                    f"backend {backend!r}", f"n = {n}")


def _kl_terms(log_r):
    """Per row of ``log r = log p - log q`` (one row per step): the inner KL's estimate
    ``mean(r - 1 - log r)`` and the variance of its terms."""
    vals = np.expm1(log_r) - log_r
    return vals.mean(axis=-1), vals.var(axis=-1, ddof=1)


def path_kl(target, sampler, schedule, n: int = 2000, seed: int = 0, nodes: int = 8, init: str = "gaussian",
            score=None, backend: str = "auto") -> Estimate:
    """The path KL of SPEC §4 with its standard error; ``extra["per_step"]`` holds the
    terms ``[KL(q_T || pi_T), step T, ..., step 2]`` and ``extra["tv_bound"]`` Pinsker's
    bound ``sqrt(KL / 2)`` on ``TV(q_1, p_{Y_1})``.  On the ``cpu``/``cuda`` backends the
    score evaluations at the pairs and quadrature nodes run in compiled kernels."""
    target = resolve_target(target)
    sampler = get_sampler(sampler)
    schedule = _checks.schedule(schedule)
    if not isinstance(sampler, KernelSampler):
        raise InvalidInput(f"path-kl needs a stochastic sampler with a Gaussian one-step kernel; {sampler.name} is "
                         "deterministic (use the exact tv/kl metrics)")
    if target.d > MAX_D:
        raise InvalidInput(f"path-kl supports d <= {MAX_D} (Gauss–Hermite tensor rule), this target has d = {target.d}")
    n = _checks.integer("n", n, minimum=10)
    nodes = _checks.integer("nodes", nodes, minimum=2)
    seed = _checks.seed(seed)
    _checks.choice("init", init, ("gaussian", "exact"))
    model = resolve_score(score, target)
    require_deterministic(model, "path-kl")
    if any(sampler.kernel(t, schedule)[0] > 0 for t in range(schedule.T, 1, -1)):
        require_tangents("path-kl", sampler, schedule, model, mean_maps=True)
    backend = _backend_for(backend, model, None, lambda: trace_mean_maps(sampler, schedule))
    compiled = backend != "numpy" and model.has_jacobian
    memory_check(n, target, backend if compiled else "numpy", nodes)
    sched, d, T = schedule, target.d, schedule.T
    rule = _gh_rule(nodes, d)

    terms, variances = [], []
    if init == "gaussian":
        qT = target.diffused(sched.alpha_bar[T])
        x = qT._sample_stream(n, seed, T + 1, _SLOT)
        m, v = _kl_terms(_gauss_logpdf(x, 1.0) - qT.logpdf(x))
    else:
        m, v = 0.0, 0.0
    terms.append(float(m))
    variances.append(float(v))
    if compiled:   # the same pairs, drawn inside the kernel, every step of a chunk in one call
        rows = max(1, _CHUNK // n)
        for t_hi in range(T, 1, -rows):
            log_r = kernels.path_log_ratios(backend, target, model, sampler, sched, seed, n, _SLOT, *rule,
                                            t_hi, max(2, t_hi - rows + 1))
            m, v = _kl_terms(log_r)
            terms += m.tolist()
            variances += v.tolist()
    else:
        for t in range(T, 1, -1):
            a, b = sched.alpha[t], sched.beta[t]
            q_prev, q_t = target.diffused(sched.alpha_bar[t - 1]), target.diffused(sched.alpha_bar[t])
            y = q_prev._sample_stream(n, seed, t, _SLOT)                      # X_{t-1} ~ q_{t-1}
            x = math.sqrt(a) * y + math.sqrt(b) * noise.normals(seed, t, _SLOT + 2, n, d)   # X_t | X_{t-1}
            log_q = q_prev.logpdf(y) + _gauss_logpdf(x - math.sqrt(a) * y, b) - q_t.logpdf(x)
            m, v = _kl_terms(kernel_logpdf(sampler, t, sched, model, x, y, nodes) - log_q)
            terms.append(float(m))
            variances.append(float(v))
    total = float(np.sum(terms))
    se = math.sqrt(float(np.sum(variances)) / n)
    return Estimate("path-kl", total, se, n, f"mc, gauss-hermite {nodes}^{d}" if d else "mc",
                    {"per_step": np.array(terms), "tv_bound": math.sqrt(max(total, 0.0) / 2)})
