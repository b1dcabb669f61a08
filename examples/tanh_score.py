"""A user's compiled score: the exact score plus a small random two-layer tanh network of
``(x, log-SNR)``, a stand-in for a learned score's error, with its analytic Jacobian.

    e(x, lambda) = W2 tanh(W1 x + c lambda + b),      De = W2 diag(1 - tanh^2) W1

``TanhNet`` gives the network's NumPy score and Jacobian and, through ``compiled``, the
same maths as two ``@numba.njit`` functions on a block of lanes (``X[a, l]``: coordinate
``a`` of sample ``l``), which the ``cpu`` and ``cuda`` backends run.  ``accnum.score.Sum``
adds it to the exact score; the sum is compiled too:

    from accnum import ExactScore, schedules, targets
    from accnum.score import Sum
    tg = targets.get("gmm1d")
    score = Sum(ExactScore(tg), TanhNet(d=1, hidden=16, scale=0.05, seed=0))
    accnum.sample(tg, "accel-ode", schedules.li2024(200), score=score, backend="cpu")
"""

import math

import numba
import numpy as np

from accnum.kernels.vmath import vtanh
from accnum.schedules import log_snr
from accnum.score import CompiledScore, ScoreModel

OPTIONS = dict(cache=True, error_model="numpy", fastmath={"contract"})


@numba.njit(**OPTIONS)
def _hidden(p, q, j, X, u, L):
    """``u[l] = tanh(W1[j] . x_l + c[j] lambda_q + b[j])``."""
    W1, b, c, W2, lam = p
    base = b[j] + c[j] * lam[q]
    for l in range(L):
        u[l] = base
    for a in range(X.shape[0]):
        w = W1[j, a]
        for l in range(L):
            u[l] += w * X[a, l]
    for l in range(L):
        u[l] = vtanh(u[l])              # vectorisable tanh (accnum.kernels.vmath), 2.5 ulp


@numba.njit(**OPTIONS)
def net_score(p, q, i0, L, X, OUT, ws):
    W1, W2 = p[0], p[3]
    d = X.shape[0]
    for a in range(d):
        for l in range(L):
            OUT[a, l] = 0.0
    u = ws[0]
    for j in range(W1.shape[0]):
        _hidden(p, q, j, X, u, L)
        for a in range(d):
            w = W2[a, j]
            for l in range(L):
                OUT[a, l] += w * u[l]


@numba.njit(**OPTIONS)
def net_score_jac(p, q, i0, L, X, OUT, J, ws):
    W1, W2 = p[0], p[3]
    d = X.shape[0]
    for a in range(d):
        for l in range(L):
            OUT[a, l] = 0.0
        for b in range(d):
            for l in range(L):
                J[a, b, l] = 0.0
    u = ws[0]
    for j in range(W1.shape[0]):
        _hidden(p, q, j, X, u, L)
        for a in range(d):
            w = W2[a, j]
            for l in range(L):
                OUT[a, l] += w * u[l]
            for b in range(d):
                wb = w * W1[j, b]
                for l in range(L):
                    J[a, b, l] += wb * (1.0 - u[l] * u[l])


class TanhNet(ScoreModel):
    """``e(x, lambda) = W2 tanh(W1 x + c lambda + b)`` with ``hidden`` units: standard normal
    ``W1, c, b``, ``W2`` scaled so that ``|e|`` is about ``scale``."""

    def __init__(self, d: int, hidden: int = 16, scale: float = 0.05, seed: int = 0):
        super().__init__()
        rng = np.random.default_rng(seed)
        self.d = d
        self.W1 = rng.standard_normal((hidden, d))
        self.b, self.c = rng.standard_normal(hidden), 0.3 * rng.standard_normal(hidden)
        self.W2 = scale * rng.standard_normal((d, hidden)) / math.sqrt(hidden)

    @property
    def dimension(self):
        return self.d

    def _h(self, alpha_bar, x):
        return np.tanh(x @ self.W1.T + self.c * float(log_snr(alpha_bar)) + self.b)   # (n, hidden)

    def score(self, alpha_bar, x):
        return self._h(alpha_bar, x) @ self.W2.T

    def score_and_jacobian(self, alpha_bar, x):
        h = self._h(alpha_bar, x)
        return h @ self.W2.T, np.einsum("aj,nj,jb->nab", self.W2, 1.0 - h * h, self.W1)

    def compiled(self, evaluations):
        lam = np.asarray(log_snr(evaluations.abar), dtype=np.float64)
        lam[~np.isfinite(lam)] = 0.0          # slots a step does not use sit at abar = 1
        return CompiledScore(net_score, net_score_jac, (self.W1, self.b, self.c, self.W2, lam), workspace=1,
                             name="tanh-net")

    def describe(self):
        return f"tanh-net(hidden={self.W1.shape[0]})"
