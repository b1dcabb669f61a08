"""Noise schedules (docs/math/forward.md): the arrays ``alpha[0..T]`` and ``alpha_bar[0..T]``.

Every schedule is a :class:`Schedule`; the factories below build the named ones and
``get(name, T, **params)`` looks them up by name.
"""

from __future__ import annotations

import inspect
import math

import numpy as np

from .. import _checks, _memory
from ..errors import InvalidInput, InvalidType

#: log of the smallest beta_1 = T^-c0 li2024 accepts (float64's normal range ends near exp(-708))
_LOG_TINY = 700.0


class Schedule:
    """``alpha[t]``, ``beta[t] = 1 - alpha[t]`` and ``alpha_bar[t]`` for ``t = 0..T``, with
    ``alpha[0] = alpha_bar[0] = 1``.

    ``beta`` is the primary array (kept to full relative precision even at 1e-12);
    ``alpha_bar = prod alpha`` is accumulated in logs.  ``h`` is the step-size scale in
    which orders are stated (docs/math/orders.md#step-size-h): ``c1 log T / T`` for ``li2024``, ``1 / T`` otherwise.
    """

    def __init__(self, name: str, beta, h: float, params: dict | None = None):
        if not isinstance(name, str):
            raise InvalidType(f"schedule name must be a string, got {type(name).__name__}")
        h = _checks.real("h", h, low=0.0, low_open=True)
        beta = _checks.as_float_array("beta", beta)
        if beta.ndim != 1 or beta.size < 3 or beta[0] != 0.0:
            raise InvalidInput("beta must be a 1-D array [0, beta_1, ..., beta_T] with T >= 2")
        if not np.all(np.isfinite(beta)) or np.any(beta[1:] <= 0) or np.any(beta[1:] >= 1):
            raise InvalidInput(f"schedule {name!r}: every beta_t must lie in (0, 1)")
        if params is not None and not isinstance(params, dict):
            raise InvalidType(f"params must be a dict of the schedule's parameters, got {type(params).__name__}")
        self.name, self.h, self.params = name, float(h), dict(params or {})
        self.beta = beta
        self.alpha = 1.0 - beta
        self.alpha_bar = np.exp(np.cumsum(np.log1p(-beta)))
        self.alpha_bar[0] = 1.0
        for arr in (self.beta, self.alpha, self.alpha_bar):
            arr.setflags(write=False)

    @classmethod
    def from_alpha_bar(cls, name: str, alpha_bar, h: float, params: dict | None = None) -> Schedule:
        """The schedule with these ``alpha_bar[0..T]`` (``alpha_bar[0] = 1``, strictly decreasing)."""
        ab = _checks.as_float_array("alpha_bar", alpha_bar, ndim=(1,))
        if ab.size < 3 or ab[0] != 1.0 or not np.all(np.isfinite(ab)) or np.any(ab[1:] <= 0) or np.any(np.diff(ab) >= 0):
            raise InvalidInput(f"schedule {name!r}: alpha_bar must be [1, abar_1, ..., abar_T] with T >= 2, "
                               "decreasing strictly from 1 and staying positive")
        beta = np.concatenate([[0.0], -np.expm1(np.diff(np.log(ab)))])
        return cls(name, beta, h, params)

    @property
    def T(self) -> int:
        return self.beta.size - 1

    def alpha_bar_ext(self, t: int) -> float:
        """``alpha_bar[t]`` for ``0 <= t <= T + 1``, with the convention
        ``alpha_{T+1} := alpha_T`` (docs/math/forward.md#beyond-t) beyond the end."""
        if t == self.T + 1:
            return float(self.alpha_bar[self.T] * self.alpha[self.T])
        return float(self.alpha_bar[t])

    def alpha_ext(self, t: int) -> float:
        return float(self.alpha[min(t, self.T)])

    def beta_ext(self, t: int) -> float:
        return float(self.beta[min(t, self.T)])

    def describe(self) -> str:
        extra = ", ".join(f"{k}={v:g}" for k, v in self.params.items())
        return f"{self.name}(T={self.T}{', ' + extra if extra else ''})"

    def __repr__(self) -> str:
        return f"<Schedule {self.describe()}>"


# ----------------------------------------------------------------------- log-SNR
def log_snr(alpha_bar):
    """``lambda = 0.5 log(abar / (1 - abar))``; ``+inf`` at ``abar = 1``."""
    ab = np.asarray(alpha_bar, dtype=np.float64)
    with np.errstate(divide="ignore"):
        return 0.5 * (np.log(ab) - np.log1p(-ab))


def alpha_bar_from_log_snr(lam):
    """Inverse of :func:`log_snr`: ``abar = sigmoid(2 lambda)``."""
    lam = np.asarray(lam, dtype=np.float64)
    return 0.5 * (1.0 + np.tanh(lam))


def interpolate_log_snr(alpha_bar_a: float, alpha_bar_b: float, r: float) -> float:
    """The ``alpha_bar`` a fraction ``r`` of the way from ``a`` to ``b`` in log-SNR."""
    la, lb = log_snr(alpha_bar_a), log_snr(alpha_bar_b)
    return float(alpha_bar_from_log_snr(la + r * (lb - la)))


# ---------------------------------------------------------------------- factories
def _T(T) -> int:
    T = _checks.integer("T", T, minimum=2)
    # beta, alpha, alpha_bar and the temporaries that build them: about ten arrays of T + 1
    _memory.require(8.0 * 10 * (T + 1), f"a schedule of {T} steps", f"T = {T}")
    return T


def li2024(T: int, c0: float = 2.0, c1: float = 4.0) -> Schedule:
    """The schedule of Li et al. (2024), eq. (5): ``beta_1 = T^{-c0}``,
    ``beta_{t+1} = (c1 log T / T) min(beta_1 (1 + c1 log T / T)^t, 1)``."""
    T = _T(T)
    c0 = _checks.real("c0", c0, low=0.0, low_open=True)
    c1 = _checks.real("c1", c1, low=0.0, low_open=True)
    h = c1 * math.log(T) / T
    if c0 * math.log(T) > _LOG_TINY:
        raise InvalidInput(f"c0 = {c0:g} is too large for T = {T}: beta_1 = T^-c0 = 10^{-c0 * math.log10(T):.4g} "
                           f"underflows float64 (needs c0 log T <= {_LOG_TINY:.0f}, i.e. c0 <= {_LOG_TINY / math.log(T):.4g})")
    if h >= 1.0:
        raise InvalidInput(f"T = {T} is too small for c1 = {c1}: beta = c1 log T / T = {h:.3g} must be < 1")
    t = np.arange(1, T, dtype=np.float64)
    b1 = T ** (-c0)
    # (1 + h)^t overflows for large t; its min with 1 only needs the log
    ramp = np.exp(np.minimum(math.log(b1) + t * math.log1p(h), 0.0))
    beta = np.concatenate([[0.0, b1], h * ramp])
    return Schedule("li2024", beta, h, {"c0": c0, "c1": c1})


def linear(T: int, beta_start: float = 1e-4, beta_end: float = 0.02, train_steps: int = 1000) -> Schedule:
    """Ho et al. (2020): betas linear from 1e-4 to 0.02 over 1000 training steps,
    respaced to ``T`` steps (Nichol & Dhariwal 2021, §4) at ``tau_t = round(t N / T)``."""
    T = _T(T)
    beta_start = _checks.real("beta_start", beta_start, low=0.0, high=1.0, low_open=True, high_open=True)
    beta_end = _checks.real("beta_end", beta_end, low=0.0, high=1.0, low_open=True, high_open=True)
    N = _checks.integer("train_steps", train_steps, minimum=2)
    _memory.require(8.0 * 3 * N, f"the {N} training steps' alpha_bar", f"train_steps = {N}")
    if T > N:
        raise InvalidInput(f"T must be <= train_steps = {N} for the respaced linear schedule, got {T}")
    train_ab = np.cumprod(1.0 - np.linspace(beta_start, beta_end, N))
    tau = np.round(np.arange(1, T + 1) * N / T).astype(int) - 1
    ab = np.concatenate([[1.0], train_ab[tau]])
    return Schedule.from_alpha_bar("linear", ab, 1.0 / T, {"beta_start": beta_start, "beta_end": beta_end})


def cosine(T: int, s: float = 0.008, max_beta: float = 0.999) -> Schedule:
    """Nichol & Dhariwal (2021), eq. (17): ``abar(t) = f(t)/f(0)``,
    ``f(t) = cos(((t/T + s)/(1 + s)) pi/2)^2``, betas clipped at 0.999."""
    T = _T(T)
    s = _checks.real("s", s, low=0.0, low_open=True)
    max_beta = _checks.real("max_beta", max_beta, low=0.0, high=1.0, low_open=True, high_open=True)
    f = np.cos((np.arange(T + 1) / T + s) / (1 + s) * math.pi / 2) ** 2
    beta = np.minimum(1.0 - f[1:] / f[:-1], max_beta)
    return Schedule("cosine", np.concatenate([[0.0], beta]), 1.0 / T, {"s": s})


def edm(T: int, sigma_min: float = 0.002, sigma_max: float = 80.0, rho: float = 7.0) -> Schedule:
    """Karras et al. (2022), eq. (5): ``sigma_i = (smax^(1/rho) + i/(T-1) (smin^(1/rho) -
    smax^(1/rho)))^rho``, ``sigma_T = smax`` .. ``sigma_1 = smin``, ``abar = 1/(1 + sigma^2)``."""
    T = _T(T)
    sigma_min = _checks.real("sigma_min", sigma_min, low=0.0, low_open=True)
    sigma_max = _checks.real("sigma_max", sigma_max, low=sigma_min, low_open=True)
    rho = _checks.real("rho", rho, low=0.0, low_open=True)
    i = np.arange(T, dtype=np.float64)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        lo, hi = np.float64(sigma_min) ** (1 / rho), np.float64(sigma_max) ** (1 / rho)
        sig = (hi + i / (T - 1) * (lo - hi)) ** rho
        ab = np.concatenate([[1.0], 1.0 / (1.0 + sig[::-1] ** 2)])
    if not (np.isfinite(lo) and np.isfinite(hi) and hi > lo and np.all(np.isfinite(sig)) and np.all(np.diff(ab) < 0)):
        raise InvalidInput(f"rho = {rho:g} is out of range for sigma_min = {sigma_min:g}, sigma_max = {sigma_max:g}: "
                           "sigma^(1/rho) over/underflows float64 or the grid collapses (rho = 7 is EDM's choice)")
    return Schedule.from_alpha_bar("edm", ab, 1.0 / T, {"sigma_min": sigma_min, "sigma_max": sigma_max, "rho": rho})


def logsnr_uniform(T: int, lambda_min: float = -6.0, lambda_max: float = 6.0) -> Schedule:
    """Log-SNR uniform in ``t``: ``lambda_1 = lambda_max`` .. ``lambda_T = lambda_min``."""
    T = _T(T)
    lambda_min = _checks.real("lambda_min", lambda_min)
    lambda_max = _checks.real("lambda_max", lambda_max, low=lambda_min, low_open=True)
    lam = np.linspace(lambda_max, lambda_min, T)
    ab = np.concatenate([[1.0], alpha_bar_from_log_snr(lam)])
    return Schedule.from_alpha_bar("logsnr_uniform", ab, 1.0 / T, {"lambda_min": lambda_min, "lambda_max": lambda_max})


_FACTORIES = {"li2024": li2024, "linear": linear, "cosine": cosine, "edm": edm, "logsnr_uniform": logsnr_uniform}


def names() -> list[str]:
    return list(_FACTORIES)


def get(name: str, T: int, **params) -> Schedule:
    """The schedule ``name`` with ``T`` steps; ``params`` go to its factory."""
    _checks.choice("schedule", name, _FACTORIES)
    factory = _FACTORIES[name]
    accepted = [p for p in inspect.signature(factory).parameters if p != "T"]
    for key in params:
        if key not in accepted:
            raise InvalidInput(f"schedule {name!r} takes parameters {', '.join(accepted)}, not {key!r}")
    return factory(T, **params)
