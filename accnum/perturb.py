"""Perturbed scores ``s_t = s*_t + e_t`` (docs/math/perturbations.md), as score models for every sampler.

Kinds:

* ``smooth`` — a random-feature field ``e(x) = a A cos(Omega x + b)``: its score error
  scales with ``a``, its Jacobian error ``-a A diag(sin(Omega x + b)) Omega`` with
  ``a |Omega|``, so the two dials are independent and ``J_t`` stays exact;
* ``bias`` — a constant vector (no Jacobian error);
* ``scale`` — miscalibration ``(1 + delta) s*_t`` (Jacobian error ``delta J*_t``);
* ``time`` — ``s*`` at a wrong noise level, log-SNR shifted by ``delta``;
* ``noise`` — i.i.d. ``N(0, sigma^2 I)`` added at every evaluation: it has no Jacobian,
  so the exact deterministic metrics are undefined under it.

:func:`calibrated` builds a perturbation that meets a requested ``(eps_score,
eps_Jacobi)`` as defined in docs/math/perturbations.md#assumptions (averages over ``t`` of expectations under ``q_t``),
solving for the parameters on a fixed set of exact draws; the achieved values are then
measured on independent draws by :mod:`accnum.assumptions`.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from . import _checks, noise
from .schedules import alpha_bar_from_log_snr, log_snr
from .kernels.layout import OPTS
from .kernels.numba_compat import stabilize
from .score import CompiledScore, ExactScore, ScoreModel
from .targets import exact_score
from .targets import resolve as resolve_target
from .errors import InvalidInput

KINDS = ("smooth", "bias", "scale", "time", "noise")
#: eps_score is a root mean square: its square, the quantity the assumption bounds, must be a float64
EPS_MAX = 1e150
JACOBIAN_KINDS = ("smooth",)      # kinds whose Jacobian error is a free dial


class Perturbed(ScoreModel):
    """Base: the exact score of ``target`` plus an error term."""

    kind = "none"
    has_jacobian = True

    def __init__(self, target):
        super().__init__()
        self.target = resolve_target(target)
        self.exact = ExactScore(self.target)

    def error(self, alpha_bar, x):  # pragma: no cover - abstract
        raise NotImplementedError

    def error_jacobian(self, alpha_bar, x):  # pragma: no cover - abstract
        raise NotImplementedError

    def score(self, alpha_bar, x):
        return self.exact.score(alpha_bar, x) + self.error(alpha_bar, x)

    def score_and_jacobian(self, alpha_bar, x):
        s, jac = self.exact.score_and_jacobian(alpha_bar, x)
        return s + self.error(alpha_bar, x), jac + self.error_jacobian(alpha_bar, x)

    def describe(self) -> str:
        return self.kind


class SmoothField(Perturbed):
    """``e(x) = a A cos(omega Omega0 x + b)`` with ``m`` random features (fixed by ``seed``):
    ``A`` (d, m) with N(0, 1/m) entries, ``Omega0`` (m, d) standard normal, ``b`` uniform."""

    kind = "smooth"

    def __init__(self, target, amplitude: float, frequency: float, features: int = 64, seed: int = 0):
        super().__init__(target)
        self.amplitude = _checks.real("amplitude", amplitude, low=0.0)
        self.frequency = _checks.real("frequency", frequency, low=0.0)
        m = _checks.integer("features", features, minimum=1)
        rng = np.random.default_rng([_checks.seed(seed), 5])
        d = target.d
        self.A = rng.standard_normal((d, m)) / math.sqrt(m)
        self.omega0 = rng.standard_normal((m, d))
        self.phase = rng.uniform(0, 2 * math.pi, m)

    def _arg(self, x):
        return self.frequency * x @ self.omega0.T + self.phase          # (n, m)

    def error(self, alpha_bar, x):
        return self.amplitude * np.cos(self._arg(x)) @ self.A.T

    def error_jacobian(self, alpha_bar, x):
        sin = np.sin(self._arg(x))                                       # (n, m)
        return -self.amplitude * self.frequency * np.einsum("im,nm,mj->nij", self.A, sin, self.omega0)

    def score_and_jacobian(self, alpha_bar, x):
        s, jac = self.exact.score_and_jacobian(alpha_bar, x)
        arg = self._arg(x)
        e = self.amplitude * np.cos(arg) @ self.A.T
        je = -self.amplitude * self.frequency * np.einsum("im,nm,mj->nij", self.A, np.sin(arg), self.omega0)
        return s + e, jac + je

    def compiled(self, evaluations):
        base = self.exact.compiled(evaluations)
        p = (base.params, np.ascontiguousarray(self.amplitude * self.A), np.ascontiguousarray(self.frequency * self.omega0),
             self.phase.copy(), base.workspace)
        return CompiledScore(smooth_score, smooth_score_jac, p, base.workspace + 1, "smooth")

    def describe(self):
        return f"smooth(a={self.amplitude:.4g}, omega={self.frequency:.4g})"


@numba.njit(**OPTS)
def _smooth_arg(p, f, X, arg, L):
    """``arg[l] = b_f + (omega Omega0 X[:, l])_f``, the feature's phase at each lane."""
    Om, b = p[2], p[3]
    c = b[f]
    for l in range(L):
        arg[l] = c
    for a in range(X.shape[0]):
        w = Om[f, a]
        for l in range(L):
            arg[l] += w * X[a, l]


@numba.njit(**OPTS)
def smooth_score(p, q, i0, L, X, OUT, ws):
    """``s* + e``, ``e(x) = a A cos(omega Omega0 x + b)``: p = (tables, a A (d, m), omega Omega0 (m, d), b (m), row)."""
    exact_score.score_lanes(p[0], q, i0, L, X, OUT, ws)
    A, arg = p[1], ws[p[4]]
    for f in range(A.shape[1]):
        _smooth_arg(p, f, X, arg, L)
        for l in range(L):
            arg[l] = math.cos(arg[l])
        for a in range(X.shape[0]):
            w = A[a, f]
            for l in range(L):
                OUT[a, l] += w * arg[l]


@numba.njit(**OPTS)
def smooth_score_jac(p, q, i0, L, X, OUT, J, ws):
    """... and ``J* + grad e = J* - a A diag(sin(omega Omega0 x + b)) omega Omega0``."""
    exact_score.score_jac_lanes(p[0], q, i0, L, X, OUT, J, ws)
    A, Om, arg = p[1], p[2], ws[p[4]]
    d = X.shape[0]
    for f in range(A.shape[1]):
        _smooth_arg(p, f, X, arg, L)
        for l in range(L):
            c, sn = math.cos(arg[l]), math.sin(arg[l])
            for a in range(d):
                OUT[a, l] += A[a, f] * c
                for b in range(d):
                    J[a, b, l] -= A[a, f] * sn * Om[f, b]


class Bias(Perturbed):
    kind = "bias"

    def __init__(self, target, vector):
        super().__init__(target)
        v = _checks.finite("bias", _checks.as_float_array("bias", vector, ndim=(1,)))
        if v.shape != (target.d,):
            raise InvalidInput(f"bias must have shape ({target.d},), got {v.shape}")
        self.vector = v

    def error(self, alpha_bar, x):
        return np.broadcast_to(self.vector, x.shape)

    def error_jacobian(self, alpha_bar, x):
        return np.zeros((x.shape[0], x.shape[1], x.shape[1]))

    def compiled(self, evaluations):
        base = self.exact.compiled(evaluations)
        return CompiledScore(affine_score, affine_score_jac, (base.params, 1.0, self.vector.copy()), base.workspace,
                             "bias", affine_score_lowrank if base.score_lowrank else None, base.rank)

    def describe(self):
        return f"bias(|b|={math.hypot(*self.vector):.4g})"   # hypot: no overflow


class Scale(Perturbed):
    kind = "scale"

    def __init__(self, target, delta: float):
        super().__init__(target)
        self.delta = _checks.real("delta", delta, low=-1.0, low_open=True)

    def score(self, alpha_bar, x):
        return (1.0 + self.delta) * self.exact.score(alpha_bar, x)

    def score_and_jacobian(self, alpha_bar, x):
        s, jac = self.exact.score_and_jacobian(alpha_bar, x)
        return (1.0 + self.delta) * s, (1.0 + self.delta) * jac

    def compiled(self, evaluations):
        base = self.exact.compiled(evaluations)
        return CompiledScore(affine_score, affine_score_jac, (base.params, 1.0 + self.delta, np.zeros(self.target.d)),
                             base.workspace, "scale", affine_score_lowrank if base.score_lowrank else None, base.rank)

    def describe(self):
        return f"scale(delta={self.delta:.4g})"


@numba.njit(**OPTS)
def affine_score(p, q, i0, L, X, OUT, ws):
    """``c s* + b`` (scale: ``c = 1 + delta``, ``b = 0``; bias: ``c = 1``): p = (tables, c, b (d))."""
    exact_score.score_lanes(p[0], q, i0, L, X, OUT, ws)
    c, b = p[1], p[2]
    for a in range(X.shape[0]):
        ba = b[a]
        for l in range(L):
            OUT[a, l] = c * OUT[a, l] + ba


@numba.njit(**OPTS)
def affine_score_lowrank(p, q, i0, L, X, OUT, D, A, B, ws):
    """... and its Jacobian ``c J*`` as diagonal plus low rank (``c D*``, ``c A*``, ``B*``)."""
    exact_score.score_lowrank_lanes(p[0], q, i0, L, X, OUT, D, A, B, ws)
    c, b = p[1], p[2]
    d, K = X.shape[0], A.shape[1]
    for a in range(d):
        ba = b[a]
        for l in range(L):
            OUT[a, l] = c * OUT[a, l] + ba
            D[a, l] *= c
        for k in range(K):
            for l in range(L):
                A[a, k, l] *= c


@numba.njit(**OPTS)
def affine_score_jac(p, q, i0, L, X, OUT, J, ws):
    exact_score.score_jac_lanes(p[0], q, i0, L, X, OUT, J, ws)
    c, b = p[1], p[2]
    d = X.shape[0]
    for a in range(d):
        ba = b[a]
        for l in range(L):
            OUT[a, l] = c * OUT[a, l] + ba
        for e in range(d):
            for l in range(L):
                J[a, e, l] *= c


class TimeMismatch(Perturbed):
    """``s*`` evaluated at the noise level whose log-SNR is shifted by ``delta``."""

    kind = "time"

    def __init__(self, target, delta: float):
        super().__init__(target)
        self.delta = _checks.real("delta", delta)

    def _wrong(self, alpha_bar):
        if alpha_bar >= 1.0:
            return alpha_bar
        return float(alpha_bar_from_log_snr(log_snr(alpha_bar) + self.delta))

    def score(self, alpha_bar, x):
        return self.exact.score(self._wrong(alpha_bar), x)

    def score_and_jacobian(self, alpha_bar, x):
        return self.exact.score_and_jacobian(self._wrong(alpha_bar), x)

    def compiled(self, evaluations):
        shifted = np.array([self._wrong(float(a)) for a in evaluations.abar])
        base = self.exact.compiled(evaluations._replace(abar=shifted))
        return base._replace(name="time")

    def describe(self):
        return f"time(dlambda={self.delta:.4g})"


class EvaluationNoise(Perturbed):
    """``s = s* + sigma Z`` with a fresh ``Z`` at every evaluation, drawn from the counter
    generator keyed by (seed, evaluation count): reproducible for the same call sequence."""

    kind = "noise"
    has_jacobian = False
    deterministic = False

    def __init__(self, target, sigma: float, seed: int = 0):
        super().__init__(target)
        self.sigma = _checks.real("sigma", sigma, low=0.0)
        self.seed = _checks.seed(seed)
        self._evals = 0

    def error(self, alpha_bar, x):
        self._evals += 1
        return self.sigma * noise.normals(self.seed, 2**31 + self._evals, 7, x.shape[0], x.shape[1])

    def score_and_jacobian(self, alpha_bar, x):
        raise InvalidInput("the 'noise' perturbation has no Jacobian: exact deterministic metrics and path KL are "
                         "undefined under it (use a sample metric: sliced-w2, energy, w1, ks)")

    def compiled(self, evaluations):
        """Evaluation ``o`` of a run (call order) draws from stream ``(seed, 2**31 + evals + o + 1, 7)``,
        as the NumPy path's ``o``-th call would."""
        base = self.exact.compiled(evaluations)
        keys = np.zeros(len(evaluations.ordinal), dtype=np.uint64)
        used = evaluations.ordinal >= 0
        keys[used] = noise.stream_key(self.seed, 2**31 + self._evals + 1 + evaluations.ordinal[used], 7)
        return CompiledScore(noisy_score, None, (base.params, self.sigma, keys), base.workspace, "noise")

    def count(self, evaluations):
        super().count(evaluations)
        self._evals += evaluations

    def describe(self):
        return f"noise(sigma={self.sigma:.4g})"


@numba.njit(**OPTS)
def noisy_score(p, q, i0, L, X, OUT, ws):
    """``s* + sigma Z`` with a fresh ``Z`` per evaluation: p = (tables, sigma, keys (Q) of the
    counter-generator streams of the evaluations, :class:`EvaluationNoise`)."""
    exact_score.score_lanes(p[0], q, i0, L, X, OUT, ws)
    sigma, stream = p[1], p[2][q]
    for a in range(X.shape[0]):
        for l in range(L):
            OUT[a, l] += sigma * noise.normal_one(noise.sample_key(stream, i0 + l), a)


def make(kind: str, target, param: float, seed: int = 0, frequency: float = 0.0, features: int = 64) -> Perturbed:
    """A perturbation of ``kind`` with its main parameter ``param`` (amplitude, |bias|,
    delta or sigma); ``frequency`` is the smooth field's second dial."""
    _checks.choice("kind", kind, KINDS)
    target = resolve_target(target)
    param = _checks.real("param", param)
    seed = _checks.seed(seed)
    if kind == "smooth":
        return SmoothField(target, param, frequency, features, seed)
    if kind == "bias":
        param = _checks.real("param", param, low=0.0)
        rng = np.random.default_rng([seed, 9])
        v = rng.standard_normal(target.d)
        return Bias(target, param * v / np.linalg.norm(v))
    if kind == "scale":
        return Scale(target, param)
    if kind == "time":
        return TimeMismatch(target, param)
    return EvaluationNoise(target, param, seed)


def calibrated(kind: str, target, schedule, eps_score: float, eps_jacobi: float | None = None, n: int = 250,
               seed: int = 0, features: int = 64) -> Perturbed:
    """A ``kind`` perturbation meeting the requested ``eps_score`` (and, for ``smooth``,
    ``eps_jacobi``) on ``schedule``, solved on ``n`` fixed exact draws per step."""
    from .assumptions import _draws, measure_on

    _checks.choice("kind", kind, KINDS)
    target = resolve_target(target)
    schedule = _checks.schedule(schedule)
    eps_score = _checks.real("eps_score", eps_score, low=0.0, high=EPS_MAX, high_open=True)
    n = _checks.integer("n", n, minimum=10)
    seed = _checks.seed(seed)
    if eps_jacobi is not None:
        eps_jacobi = _checks.real("eps_jacobi", eps_jacobi, low=0.0)
    if eps_jacobi and kind not in JACOBIAN_KINDS:
        raise InvalidInput(f"kind {kind!r} has no Jacobian dial (eps_jacobi must be 0 or omitted); only 'smooth' sets "
                         "eps_jacobi independently")
    if kind == "smooth" and eps_jacobi and eps_score == 0:
        raise InvalidInput("eps_jacobi > 0 needs eps_score > 0 for kind 'smooth' (its Jacobian error is a * |Omega| "
                         "times the field)")
    if eps_score == 0:
        return make(kind, target, 0.0, seed, 0.0, features)
    draws = _draws(target, schedule, n, seed + 1)
    pooled = np.concatenate(draws)   # equal n per step: pooled means are the averages over t

    def eps_of(p, freq=0.0):
        m = make(kind, target, p, seed, freq, features)
        if kind in ("smooth", "bias"):
            e2 = float(np.mean(np.sum(m.error(None, pooled) ** 2, axis=1)))
            ej = float(np.mean(np.linalg.norm(m.error_jacobian(None, pooled), ord=2, axis=(1, 2))))
            return {"eps_score": math.sqrt(e2), "eps_jacobi": ej}
        return measure_on(m, target, schedule, draws, jacobian=False)

    if kind in ("smooth", "bias", "scale", "noise"):
        # eps_score is proportional to the amplitude at a fixed frequency
        freq = 0.0
        if kind == "smooth" and eps_jacobi:
            freq = _solve_frequency(eps_of, eps_jacobi / eps_score)
        unit = eps_of(1.0, freq)["eps_score"]
        return make(kind, target, eps_score / unit, seed, freq, features)
    # time: eps_score grows monotonically with |delta| near 0; bisection on log delta
    lo, hi = 1e-8, 1.0
    while eps_of(hi)["eps_score"] < eps_score and hi < 64:
        hi *= 2
    for _ in range(60):
        mid = math.sqrt(lo * hi)
        if eps_of(mid)["eps_score"] < eps_score:
            lo = mid
        else:
            hi = mid
        if hi / lo < 1 + 1e-6:
            break
    return make(kind, target, math.sqrt(lo * hi), seed, 0.0, features)


def _solve_frequency(eps_of, ratio: float) -> float:
    """The smooth field's frequency with ``eps_jacobi / eps_score = ratio`` (secant in logs;
    the ratio is close to proportional to the frequency)."""
    def r(f):
        e = eps_of(1.0, f)
        return e["eps_jacobi"] / e["eps_score"]

    f0 = ratio / max(r(1.0), 1e-300)
    f1 = f0 * ratio / max(r(f0), 1e-300)
    for _ in range(30):
        g0, g1 = math.log(r(f0) / ratio), math.log(r(f1) / ratio)
        if abs(g1) < 1e-5 or g1 == g0:
            break
        f0, f1 = f1, math.exp(math.log(f1) - g1 * (math.log(f1) - math.log(f0)) / (g1 - g0))
    return f1


stabilize(globals())
