"""ddpm-cov: the DDPM-type mean of Li et al. (2024, eq. (10)) with the one-step covariance
matched to second order through the score Jacobian (docs/math/samplers.md#ddpm-cov):

    Y_{t-1} = (Y_t + beta_t s_t(Y_t) + sqrt(beta_t) L_t Z_t) / sqrt(alpha_t),   L_t L_t^T = I + beta_t J_t(Y_t)

i.e. ``Y_{t-1} | Y_t = y ~ N((y + beta_t s_t(y)) / sqrt(alpha_t), (beta_t/alpha_t)(I + beta_t J_t(y)))``:
the mean and covariance of the forward process's exact posterior when ``s = s*``
(docs/math/mixtures.md#one-step-tweedie).  ``L_t`` is the symmetric square root of the
symmetrised ``I + beta_t J_t`` (by its eigendecomposition: rotating the target rotates it,
so the sampler is rotation-equivariant path by path, as every other sampler is); the step
refuses, naming the step and the sample, where that matrix is not positive definite (possible only with a score model whose Jacobian is
not that of a smoothed density).  The noise is multiplied by a matrix that depends on
``Y_t``: the step does not trace into the compiled kernels and runs on ``numpy``.
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import InvalidInput, MissingCapability, NumericalFailure
from ..tangent import Tangent
from .base import Facts, GaussianStepSampler


class DDPMCov(GaussianStepSampler):
    facts = Facts(
        name="ddpm-cov", kind="sde", nfe=1, normals=1, order=None, metric="path-kl",
        source="Li, Huang, Efimov, Wei, Chi, Chen (ICML 2024), DDPM-type update (10) for the mean; "
               "covariance (beta/alpha)(I + beta J_t) of the exact one-step posterior (Tweedie) through the score "
               "Jacobian (accnum)",
        note="no claim; measured in path KL and grid TV in docs/case-studies/ddpm-cov.md. Needs a score model with a "
             "Jacobian (one score-and-Jacobian evaluation per step); the noise is multiplied by (I + beta J)^(1/2), "
             "which depends on the point, so the step does not trace: numpy backend only",
    )

    def mean_map(self, t, u, model, sched):
        return (u + sched.beta[t] * model(sched.alpha_bar[t], u)) / math.sqrt(sched.alpha[t])

    def moments(self, t, y, model, sched):
        if not isinstance(y, np.ndarray):
            raise TypeError("multiplies its normal by (I + beta_t J_t(Y_t))^(1/2), a matrix that depends on the point")
        if not model.has_jacobian:
            raise MissingCapability(f"sampler 'ddpm-cov' needs the score Jacobian (its covariance is "
                                    f"(beta/alpha)(I + beta J_t)); score model {model.describe()} has none: give it "
                                    "score_and_jacobian()")
        ab, a, b = sched.alpha_bar[t], sched.alpha[t], sched.beta[t]
        ev = model(ab, Tangent.identity(y))            # one evaluation: s_t(y) and J_t(y)
        s, J = ev.value, ev.jac
        n, d = y.shape
        M = np.eye(d)[None] + (0.5 * b) * (J + np.swapaxes(J, 1, 2))
        if not np.all(np.isfinite(M)):
            i = int(np.argmax(~np.all(np.isfinite(M), axis=(1, 2))))
            raise NumericalFailure(f"sampler 'ddpm-cov': step t = {t}: the score Jacobian is not finite at sample {i}")
        lam, Q = np.linalg.eigh(M)
        if not np.all(lam[:, 0] > 0):
            i = int(np.argmin(lam[:, 0]))
            raise InvalidInput(f"sampler 'ddpm-cov': step t = {t}: I + beta_t J_t(Y_t) is not positive definite at "
                               f"sample {i} (smallest eigenvalue {lam[i, 0]:.3g}, beta_t = {b:.3g}), so no covariance "
                               "(beta/alpha)(I + beta J) exists there; the score model's Jacobian is not that of a "
                               "smoothed density (with the exact score it always is)")
        root = np.einsum("nik,nk,njk->nij", Q, np.sqrt(lam), Q)   # the symmetric square root (I + beta J)^(1/2)
        return (y + b * s) / math.sqrt(a), math.sqrt(b / a) * root
