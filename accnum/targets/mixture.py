"""Gaussian mixtures with exact scores and score Jacobians at every noise level
(docs/math/mixtures.md).

``q_0 = sum_k w_k N(mu_k, Sigma_k)``; under the forward process (Li et al. 2024, eq. 3)
``q_t = sum_k w_k N(sqrt(abar_t) mu_k, abar_t Sigma_k + (1 - abar_t) I)``, so every
quantity the samplers and the metrics need has a closed form.  Responsibilities use
log-sum-exp; full covariances are handled through Cholesky factors only.
"""

from __future__ import annotations

import json
import math
import os

import numpy as np
from scipy.linalg import solve_triangular
from scipy.special import logsumexp, ndtr

from .. import _checks, _memory, noise
from . import exact_score
from ..errors import InvalidInput, InvalidType
from ..io import read_text, write_atomic

_LOG_2PI = math.log(2.0 * math.pi)
#: counter-generator stream of ``GaussianMixture.sample`` (steps 0..T belong to samplers)
SAMPLE_STREAM = 2**32 - 1


class GaussianMixture:
    """A mixture ``sum_k w_k N(mu_k, Sigma_k)`` in ``d`` dimensions.

    ``covariances`` may be full ``(K, d, d)``, diagonal ``(K, d)`` or isotropic ``(K,)``;
    ``means`` is ``(K, d)`` (``(K,)`` is read as ``d = 1``).  Weights must be
    non-negative and sum to 1 within 1e-9 relative, unless ``normalize=True``.
    """

    def __init__(self, weights, means, covariances, normalize: bool = False):
        w = _checks.finite("weights", _checks.as_float_array("weights", weights, ndim=(1,)))
        K = w.shape[0]
        if K < 1:
            raise InvalidInput("weights must hold at least one component")
        if np.any(w < 0):
            raise InvalidInput("weights must be non-negative")
        if not np.any(w > 0):
            raise InvalidInput("weights must not all be zero")
        if _checks.flag("normalize", normalize):
            w = w / np.max(w)      # first by the largest: a sum of huge weights would overflow
            w = w / w.sum()
        elif abs(w.sum() - 1.0) > 1e-9:
            total = w.sum()
            raise InvalidInput(f"weights must sum to 1 (got {total:.12g}); pass normalize=True to rescale")

        mu = _checks.finite("means", _checks.as_float_array("means", means, ndim=(1, 2)))
        if mu.ndim == 1:
            mu = mu[:, None]
        if mu.shape[0] != K:
            raise InvalidInput(f"means must have {K} rows (one per weight), got shape {mu.shape}")
        d = mu.shape[1]
        if d < 1:
            raise InvalidInput("means must have at least one column")

        cov = _checks.finite("covariances", _checks.as_float_array("covariances", covariances, ndim=(1, 2, 3)))
        if cov.shape[0] != K:
            raise InvalidInput(f"covariances must have {K} entries (one per weight), got shape {cov.shape}")
        if cov.ndim == 3 and d == 1 and cov.shape[1:] == (1, 1):
            cov = cov[:, :, 0]       # a 1 x 1 covariance is a variance: the diagonal form covers it
        if cov.ndim == 1:
            kind, var = "isotropic", np.repeat(cov[:, None], d, axis=1)
        elif cov.ndim == 2:
            if cov.shape[1] != d:
                raise InvalidInput(f"diagonal covariances must have shape ({K}, {d}), got {cov.shape}")
            kind, var = "diagonal", cov
        else:
            if cov.shape[1:] != (d, d):
                raise InvalidInput(f"full covariances must have shape ({K}, {d}, {d}), got {cov.shape}")
            kind, var = "full", None
        if var is not None and np.any(var <= 0):
            raise InvalidInput("covariances must be positive")
        chol = None
        if kind == "full":
            scale = np.max(np.abs(cov), axis=(1, 2))
            asym = np.max(np.abs(cov - np.swapaxes(cov, 1, 2)), axis=(1, 2))
            bad = np.nonzero(asym > 1e-10 * scale)[0]
            if bad.size:
                raise InvalidInput(f"covariances[{bad[0]}] is not symmetric")
            cov = 0.5 * (cov + np.swapaxes(cov, 1, 2))
            chol = np.empty_like(cov)
            for k in range(K):
                try:
                    chol[k] = np.linalg.cholesky(cov[k])
                except np.linalg.LinAlgError:
                    raise InvalidInput(f"covariances[{k}] is not positive definite") from None
                if not np.all(np.diag(chol[k]) > 0):
                    raise InvalidInput(f"covariances[{k}] is not positive definite")

        self.weights, self.means, self.covariances = w, mu, cov
        #: the built-in name it was made from (``gmm:d=8,K=4``), or None for a user's mixture
        self.name: str | None = None
        self.K, self.d, self.kind = K, d, kind
        self._var, self._chol = var, chol
        with np.errstate(divide="ignore"):
            self._logw = np.log(w)
        self._diffused_cache: dict[float, GaussianMixture] = {}

    # ------------------------------------------------------------------ basics
    def __repr__(self) -> str:
        return f"GaussianMixture(K={self.K}, d={self.d}, covariances={self.kind})"

    def content_hash(self) -> str:
        """A hash of the weights, means and covariances: the same mixture, the same hash."""
        import hashlib

        h = hashlib.blake2b(digest_size=10)
        for arr in (self.weights, self.means, self.covariances):
            h.update(str(arr.shape).encode())
            h.update(np.ascontiguousarray(arr, dtype=np.float64).tobytes())
        return h.hexdigest()

    def covariance_matrices(self) -> np.ndarray:
        """Covariances as ``(K, d, d)`` matrices, whatever form they were given in."""
        if self.kind == "full":
            return self.covariances.copy()
        return np.einsum("ki,ij->kij", self._var, np.eye(self.d))

    def mean(self) -> np.ndarray:
        return self.weights @ self.means

    def covariance(self) -> np.ndarray:
        """Covariance of the mixture (law of total covariance)."""
        m = self.mean()
        dev = self.means - m
        return np.einsum("k,kij->ij", self.weights, self.covariance_matrices()) + np.einsum(
            "k,ki,kj->ij", self.weights, dev, dev
        )

    def _precision_matrices(self) -> np.ndarray:
        if self.kind != "full":
            return np.einsum("ki,ij->kij", 1.0 / self._var, np.eye(self.d))
        eye = np.eye(self.d)
        out = np.empty_like(self.covariances)
        for k in range(self.K):
            linv = solve_triangular(self._chol[k], eye, lower=True)
            out[k] = linv.T @ linv
        return out

    # ---------------------------------------------------------- component terms
    def _whitened(self, x: np.ndarray) -> np.ndarray:
        """``L_k^{-1}(x - m_k)`` as ``(n, K, d)``: the largest temporaries of the NumPy maths
        (a few such arrays at once), so their memory is checked here."""
        _memory.require(8.0 * 4 * x.shape[0] * self.K * self.d, f"the mixture's per-component terms of {x.shape[0]} "
                        f"points ({x.shape[0]} x {self.K} x {self.d} arrays)", f"K = {self.K}, d = {self.d}")
        diff = x[:, None, :] - self.means[None, :, :]
        if self.kind != "full":
            return diff / np.sqrt(self._var)[None]
        out = np.empty_like(diff)
        for k in range(self.K):
            out[:, k, :] = solve_triangular(self._chol[k], diff[:, k, :].T, lower=True).T
        return out

    def _logdets(self) -> np.ndarray:
        if self.kind != "full":
            return np.sum(np.log(self._var), axis=1)
        return 2.0 * np.sum(np.log(np.diagonal(self._chol, axis1=1, axis2=2)), axis=1)

    def _component_logpdf(self, z: np.ndarray) -> np.ndarray:
        return -0.5 * (np.sum(z * z, axis=2) + self.d * _LOG_2PI + self._logdets()[None, :])

    def _log_responsibilities(self, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        joint = self._logw[None, :] + self._component_logpdf(z)
        lse = logsumexp(joint, axis=1)
        return joint - lse[:, None], lse

    def _grads(self, z: np.ndarray) -> np.ndarray:
        """``g_k(x) = -C_k^{-1}(x - m_k)`` (docs/math/mixtures.md#exact-score) as ``(n, K, d)``, from the whitened ``z``."""
        if self.kind != "full":
            return -z / np.sqrt(self._var)[None]
        out = np.empty_like(z)
        for k in range(self.K):
            out[:, k, :] = -solve_triangular(self._chol[k], z[:, k, :].T, lower=True, trans="T").T
        return out

    # ------------------------------------------------------------ public maths
    def logpdf(self, x) -> np.ndarray | float:
        x, single = _checks.points("x", x, self.d)
        _, lse = self._log_responsibilities(self._whitened(x))
        return lse[0] if single else lse

    def pdf(self, x) -> np.ndarray | float:
        return np.exp(self.logpdf(x))

    def responsibilities(self, x) -> np.ndarray:
        """``gamma_k(x) = w_k N(x; m_k, C_k) / q(x)``, shape ``(n, K)`` (or ``(K,)``)."""
        x, single = _checks.points("x", x, self.d)
        logr, _ = self._log_responsibilities(self._whitened(x))
        r = np.exp(logr)
        return r[0] if single else r

    def score(self, x) -> np.ndarray:
        """``s(x) = grad log q(x) = sum_k gamma_k g_k`` (docs/math/mixtures.md#exact-score)."""
        x, single = _checks.points("x", x, self.d)
        s = self._score_and_parts(x)[0]
        return s[0] if single else s

    def _score_and_parts(self, x):
        return exact_score.score_parts(self, x)

    def score_jacobian(self, x) -> np.ndarray:
        """``J(x) = grad s(x) = sum_k gamma_k (g_k g_k^T - C_k^{-1}) - s s^T`` (docs/math/mixtures.md#exact-jacobian),
        evaluated in the centred form ``sum_k gamma_k ((g_k - s)(g_k - s)^T - C_k^{-1})``
        to avoid cancellation; shape ``(n, d, d)``."""
        x, single = _checks.points("x", x, self.d)
        jac = self._score_and_jacobian(x)[1]
        return jac[0] if single else jac

    def _score_and_jacobian(self, x):
        return exact_score.score_and_jacobian(self, x)

    def _precisions(self) -> np.ndarray:
        if not hasattr(self, "_prec_cache"):
            self._prec_cache = self._precision_matrices()
        return self._prec_cache

    def cdf(self, x) -> np.ndarray:
        """Cumulative distribution function; one-dimensional mixtures only."""
        if self.d != 1:
            raise InvalidInput(f"cdf needs a one-dimensional target, this one has d = {self.d}")
        x = _checks.as_float_array("x", x)
        sd = np.sqrt(self._var[:, 0])
        return np.sum(self.weights * ndtr((x[..., None] - self.means[:, 0]) / sd), axis=-1)

    # ---------------------------------------------------------------- sampling
    def sample(self, n: int, seed: int = 0) -> np.ndarray:
        """``n`` exact draws, shape ``(n, d)``; a pure function of ``(seed, n)``
        through the counter-based generator of :mod:`accnum.noise`."""
        n = _checks.integer("n", n, minimum=1)
        _memory.require(8.0 * n * (2 * self.d + 2), f"{n} draws in d = {self.d}", f"n = {n}")
        return self._sample_stream(n, _checks.seed(seed), SAMPLE_STREAM)

    def _sample_stream(self, n: int, seed: int, step: int, slot: int = 0) -> np.ndarray:
        """Exact draws from counter stream ``(seed, step)``, slots ``slot`` and ``slot + 1``."""
        u = noise.uniforms(seed, step, slot, n, 1)[:, 0]
        comp = np.searchsorted(np.cumsum(self.weights), u * self.weights.sum(), side="right")
        comp = np.minimum(comp, self.K - 1)
        # a zero-weight component can be hit only when u lands exactly on a cumsum edge
        z = noise.normals(seed, step, slot + 1, n, self.d)
        if self.kind == "full":
            return self.means[comp] + np.einsum("nij,nj->ni", self._chol[comp], z)
        return self.means[comp] + np.sqrt(self._var[comp]) * z

    # ------------------------------------------------------- forward process
    def diffused(self, alpha_bar: float) -> GaussianMixture:
        """The law of ``X_t = sqrt(abar) X_0 + sqrt(1 - abar) Z`` (docs/math/mixtures.md#diffused-mixture)."""
        a = _checks.real("alpha_bar", alpha_bar, low=0.0, high=1.0)
        if a == 1.0:
            return self
        cached = self._diffused_cache.get(a)
        if cached is not None:
            return cached
        shift = np.eye(self.d)[None] if self.kind == "full" else 1.0
        cov = a * self.covariances + (1.0 - a) * shift
        out = GaussianMixture(self.weights, math.sqrt(a) * self.means, cov)
        if len(self._diffused_cache) > 8192:
            self._diffused_cache.clear()
        self._diffused_cache[a] = out
        return out

    def posterior(self, x_t, alpha_t: float, alpha_bar_prev: float):
        """Law of ``X_{t-1} | X_t = x_t`` when this mixture is ``q_0`` (docs/math/mixtures.md#posterior).

        The prior is ``q_{t-1} = diffused(alpha_bar_prev)`` and
        ``X_t | X_{t-1} ~ N(sqrt(alpha_t) X_{t-1}, (1 - alpha_t) I)``.  Component ``k``
        has weight ``gamma_k(x_t)`` under ``q_t`` and is the Gaussian conditional of that
        component.  Returns a :class:`GaussianMixture` for a ``(d,)`` point and a list of
        them for ``(n, d)`` points.
        """
        a = _checks.real("alpha_t", alpha_t, low=0.0, high=1.0, low_open=True, high_open=True)
        alpha_bar_prev = _checks.real("alpha_bar_prev", alpha_bar_prev, low=0.0, high=1.0, low_open=True)
        prior = self.diffused(alpha_bar_prev)
        x, single = _checks.points("x_t", x_t, self.d)
        beta = 1.0 - a
        cp = prior.covariance_matrices()                      # C'_k
        ct = a * cp + beta * np.eye(self.d)[None]             # C_k at time t
        gam = self.diffused(alpha_bar_prev * a).responsibilities(x)
        post_cov = np.empty_like(cp)
        gain = np.empty_like(cp)
        for k in range(self.K):
            lt = np.linalg.cholesky(ct[k])
            # gain = sqrt(a) C'_k C_k^{-1}, via the Cholesky factor of C_k
            gain[k] = math.sqrt(a) * solve_triangular(
                lt, solve_triangular(lt, cp[k], lower=True), lower=True, trans="T"
            ).T
            pc = cp[k] - math.sqrt(a) * gain[k] @ cp[k]
            post_cov[k] = 0.5 * (pc + pc.T)
        out = []
        for i in range(x.shape[0]):
            resid = x[i][None, :] - math.sqrt(a) * prior.means
            means = prior.means + np.einsum("kij,kj->ki", gain, resid)
            out.append(GaussianMixture(gam[i], means, post_cov, normalize=True))
        return out[0] if single else out

    # ------------------------------------------------------------- file format
    def to_dict(self) -> dict:
        return {"weights": self.weights.tolist(), "means": self.means.tolist(), "covariances": self.covariances.tolist()}

    def to_json(self, path: str | os.PathLike | None = None) -> str:
        """The target file's JSON text (docs/math/mixtures.md#target-file); written to ``path`` when one is given."""
        text = json.dumps(self.to_dict())
        if path is not None and not isinstance(path, (str, os.PathLike)):
            raise InvalidType(f"path must be a file path (str or os.PathLike), got {type(path).__name__}")
        if path is not None:
            write_atomic(path, text.encode())
        return text

    @classmethod
    def from_dict(cls, data, source: str = "target") -> GaussianMixture:
        if not isinstance(data, dict):
            raise InvalidInput(f"{source}: expected a JSON object with weights, means, covariances")
        for key in ("weights", "means", "covariances"):
            if key not in data:
                raise InvalidInput(f"{source}: missing key {key!r}")
        unknown = sorted(set(data) - {"weights", "means", "covariances", "normalize"})
        if unknown:
            raise InvalidInput(f"{source}: unknown key {unknown[0]!r} (valid: weights, means, covariances, normalize)")
        normalize = data.get("normalize", False)
        if not isinstance(normalize, bool):
            raise InvalidInput(f"{source}: normalize must be true or false (a JSON boolean), got {normalize!r}")
        try:
            return cls(data["weights"], data["means"], data["covariances"], normalize=normalize)
        except (InvalidInput, InvalidType) as err:
            raise InvalidInput(f"{source}: {err}") from None

    @classmethod
    def from_json(cls, path: str | os.PathLike) -> GaussianMixture:
        """Read a target file (docs/math/mixtures.md#target-file)."""
        source = f"target file {os.fspath(path)!r}"
        text = read_text(path, source)
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise InvalidInput(f"{source} is not valid JSON: {err.msg} at line {err.lineno}") from None
        except ValueError as err:      # an integer literal longer than Python converts (4300 digits)
            if isinstance(err, InvalidInput):
                raise
            raise InvalidInput(f"{source}: a number in it cannot be read ({str(err).split(':')[0]})") from None
        except RecursionError:
            raise InvalidInput(f"{source} is nested too deeply to be a target file "
                               "(weights, means and covariances are at most three levels deep)") from None
        return cls.from_dict(data, source)

