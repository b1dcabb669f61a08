"""Hypothesis strategies for valid targets and schedules (issue 6)."""

import math

import numpy as np
from hypothesis import strategies as st

from accnum import GaussianMixture, schedules


def _covariance(rng, d, form, cond):
    """One covariance of the given form with eigenvalues spread over a ratio ``cond``."""
    if form == "isotropic":
        return float(rng.uniform(0.1, 1.0))
    eig = np.geomspace(1.0, 1.0 / cond, d) * rng.uniform(0.3, 1.2)
    rng.shuffle(eig)
    if form == "diagonal":
        return eig
    q, _ = np.linalg.qr(rng.standard_normal((d, d)))
    c = q @ np.diag(eig) @ q.T
    return 0.5 * (c + c.T)


@st.composite
def mixtures(draw, max_k=5, max_d=3, min_d=1, forms=("isotropic", "diagonal", "full"), max_cond=1e3):
    """Random valid mixtures: K in 1..max_k, d in min_d..max_d, random weights, means at
    least 1.5 apart, covariances of one form with condition numbers up to ``max_cond``."""
    K = draw(st.integers(1, max_k))
    d = draw(st.integers(min_d, max_d))
    form = draw(st.sampled_from(forms))
    cond = draw(st.sampled_from([c for c in (1.0, 3.0, 30.0, 1e3) if c <= max_cond]))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    w = rng.uniform(0.2, 1.0, K)
    means, radius = [], 1.0 + 0.8 * K
    while len(means) < K:
        m = rng.uniform(-radius, radius, d)
        if all(np.linalg.norm(m - o) >= 1.5 for o in means):
            means.append(m)
        else:
            radius *= 1.02   # always terminates: the box grows until the points fit
    covs = [_covariance(rng, d, form, cond) for _ in range(K)]
    return GaussianMixture(w / w.sum(), np.array(means), np.array(covs))


@st.composite
def li_schedules(draw, T_min=20, T_max=400):
    T = draw(st.integers(T_min, T_max))
    c1 = draw(st.floats(2.0, 6.0))
    if c1 * math.log(T) / T >= 0.9:
        T = max(T, int(3 * c1 * math.log(T_max)) + 2)
    c0 = draw(st.floats(0.5, 3.0))
    return schedules.li2024(T, c0=c0, c1=c1)


@st.composite
def any_schedules(draw, T_min=10, T_max=300):
    name = draw(st.sampled_from(schedules.names()))
    T = draw(st.integers(T_min, T_max))
    if name == "li2024":
        return draw(li_schedules(max(T_min, 20), T_max))
    return schedules.get(name, T)
