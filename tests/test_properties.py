"""Property tests (Hypothesis) of the stated rates and of structure, on random mixtures.

Profiles (tests/conftest.py): ``ci`` (default, derandomised, small), ``dev``,
``thorough`` (HYPOTHESIS_PROFILE=thorough, 500 examples).  Rate properties are costly
and keep their own small example counts, scaled by the profile.
"""

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

import accnum
from accnum import GaussianMixture, samplers, schedules
from accnum.experiments.orders import observed_order
from accnum.metrics.exact import exact
from accnum.metrics.gaussian import closed_form
from accnum.metrics.path_kl import path_kl
from strategies import any_schedules, li_schedules, mixtures

ALL = samplers.names()
ODE = [s for s in ALL if samplers.get(s).facts.kind == "ode"]
SDE = [s for s in ALL if samplers.get(s).facts.kind == "sde"]
RATE_EXAMPLES = max(2, settings().max_examples // 10)
# no shrinking: each example costs seconds; a failure is reported as found (and kept as an @example)
slow = settings(max_examples=RATE_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck),
                phases=[Phase.explicit, Phase.reuse, Phase.generate])


# ------------------------------------------------------------------------------- rates
# Claims are upper bounds, stated in h (h_T = c1 log T / T for li2024, 1/T otherwise) up to
# polylog factors.  A factor log(1/h)^k lowers the local slope in h by k / log(1/h): 0.25
# per power at T ~ 1600 on li2024 (h ~ 0.018).  Measured on N(0, 1) and gmm1d: the local TV
# order of accel-ode in h rises from 1.76 (T = 200..800) to 1.85 (T = 1600..6400) and
# ddim-li's from 0.81 to 0.87; path KL of ddpm / ddpm-li reaches 0.82..0.87 over
# T = 800..3200.  So over T = 800..3200 an order >= claimed - 0.25 (one power of log) is
# what the claims predict, and the first-order samplers are no faster than claimed + 0.25.
#
# Li et al.'s samplers are checked where their theory lives, li2024(c0=2, c1=4), but from
# Y_T ~ q_T: with Y_T ~ N(0, I) the start's own mismatch, TV(q_T, N(0, I)) ~ |mean| sqrt(abar_T)
# with sqrt(abar_T) ~ 0.6 / T on this schedule, is an O(1/T) floor that caps every observed
# order at 1 for targets with a non-zero mean (found by this test; docs/rates.md).
# The practical peers claim their order in uniform steps of their own variable: checked on
# logsnr_uniform with Y_T ~ q_T (so that the start's own mismatch, a floor, does not mask the
# order), where ddim/dpm-solver-2/dpmpp-2m/heun-edm measure 1.01/2.04/2.06/2.05 on gmm1d.
LI_ODE = ["ddim-li", "accel-ode", "accel-ode-reuse"]
PEERS = ["ddim", "dpm-solver-2", "dpmpp-2m", "heun-edm", "accel-ode-eps"]
TS = [800, 1600, 3200]


def _order(target, name, schedule, metric, init, Ts=TS, n=1024):
    vals, h = [], []
    for T in Ts:
        sched = schedules.get(schedule, T)
        if metric == "tv":
            e = exact(target, name, sched, n=n, init=init, metrics=("tv",))["tv"]
        else:
            e = path_kl(target, name, sched, n=400, init=init)
        assert e.stderr < 0.05 * e.estimate, e
        vals.append(e.estimate)
        h.append(sched.h)
    return observed_order(Ts, h, vals)["order"], vals


def _check(name, order, vals):
    claimed = samplers.get(name).facts.order
    assert vals[-1] < vals[0], (name, vals)                      # error decreases at large T
    assert order >= claimed - 0.25, (name, order, claimed)
    if claimed == 1.0:
        assert order <= claimed + 0.25, (name, order, claimed)


@pytest.mark.parametrize("name", LI_ODE)
@slow
@given(target=mixtures(max_k=4, max_d=2, max_cond=3.0))
@example(target=GaussianMixture([1.0], [[1.5]], [0.5]))     # the mean-shift floor found with Y_T ~ N(0, I)
def test_li_ode_orders_meet_their_claims(name, target):
    order, vals = _order(target, name, "li2024", "tv", "exact")
    _check(name, order, vals)


@pytest.mark.parametrize("name", PEERS)
@slow
@given(target=mixtures(max_k=4, max_d=2, max_cond=3.0))
def test_peer_orders_meet_their_claims(name, target):
    order, vals = _order(target, name, "logsnr_uniform", "tv", "exact", Ts=[100, 200, 400], n=8192)
    _check(name, order, vals)


@pytest.mark.parametrize("name", ["ddpm-li", "accel-sde", "ddpm"])
@slow
@given(target=mixtures(max_k=4, max_d=1, max_cond=3.0))
@example(target=GaussianMixture([1.0], [[0.0]], [0.5]))   # ddpm: 0.72 over T = 200..800, 0.82 over 800..3200
def test_sde_orders_meet_their_claims_in_path_kl(name, target):
    order, vals = _order(target, name, "li2024", "path-kl", "exact")
    _check(name, order, vals)


@pytest.mark.xfail(strict=True, reason="docs/rates.md: the README's printed accel-sde (Z+ outside "
                   "1/sqrt(alpha)) has DDPM's one-step error and path-KL order about 0.8, not the claimed 2")
def test_accel_sde_readme_meets_its_claim():
    target = GaussianMixture([0.3, 0.5, 0.2], [[-2.0], [0.5], [3.0]], [0.3, 0.6, 0.2])
    order, vals = _order(target, "accel-sde-readme", "li2024", "path-kl", "exact")
    _check("accel-sde-readme", order, vals)


# -------------------------------------------------------------------------- structure
def _rotated(target, R, shift):
    covs = target.covariance_matrices()
    return GaussianMixture(target.weights, target.means @ R.T + shift, np.einsum("ij,kjl,ml->kim", R, covs, R))


@pytest.mark.parametrize("name", ALL)
@settings(deadline=None)
@given(target=mixtures(max_d=3, max_cond=30.0), angle=st.floats(0, 2 * math.pi), seed=st.integers(0, 100))
def test_rotation_and_translation_equivariance(name, target, angle, seed):
    d = target.d
    rng = np.random.default_rng(seed)
    R, _ = np.linalg.qr(rng.standard_normal((d, d)))
    c = rng.uniform(-2, 2, d)
    sched = schedules.li2024(30)
    n, k = 16, samplers.get(name).facts.normals
    y = rng.standard_normal((n, d))
    z = rng.standard_normal((sched.T + 1, k, n, d)) if k else None
    base = accnum.sample(target, name, sched, init=y, noise=z).x
    moved = _rotated(target, R, c)
    zr = np.einsum("ij,tknj->tkni", R, z) if k else None
    out = accnum.sample(moved, name, sched, init=y @ R.T + math.sqrt(sched.alpha_bar[sched.T]) * c, noise=zr).x
    expect = base @ R.T + math.sqrt(sched.alpha_bar[1]) * c
    np.testing.assert_allclose(out, expect, rtol=1e-8, atol=1e-8 * (1 + np.abs(expect).max()))


@settings(deadline=None)
@given(target=mixtures(), perm_seed=st.integers(0, 1000))
def test_permuting_components_changes_nothing(target, perm_seed):
    perm = np.random.default_rng(perm_seed).permutation(target.K)
    other = GaussianMixture(target.weights[perm], target.means[perm], target.covariances[perm])
    sched = schedules.li2024(25)
    for name in ("accel-ode", "accel-sde"):
        a = accnum.sample(target, name, sched, n=32, seed=1).x
        b = accnum.sample(other, name, sched, n=32, seed=1).x
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-10)
    x = target.sample(20, seed=2)
    np.testing.assert_allclose(target.score_jacobian(x), other.score_jacobian(x), rtol=1e-10, atol=1e-10)


@settings(deadline=None)
@given(target=mixtures(), ab=st.floats(1e-6, 1.0))
def test_diffused_laws(target, ab):
    assert target.diffused(1.0) is target
    q = target.diffused(ab)
    np.testing.assert_allclose(q.mean(), math.sqrt(ab) * target.mean(), atol=1e-12)
    np.testing.assert_allclose(q.covariance(), ab * target.covariance() + (1 - ab) * np.eye(target.d), atol=1e-10)


@pytest.mark.parametrize("name", ODE)
@settings(max_examples=max(3, settings().max_examples // 5), deadline=None)
@given(target=mixtures(max_k=1, max_d=3, max_cond=30.0), T=st.integers(10, 60))
def test_gaussian_targets_match_closed_forms(name, target, T):
    sched = schedules.li2024(max(T, 12))
    cf = closed_form(target, name, sched)["kl"].estimate
    ex = exact(target, name, sched, n=1024, metrics=("kl",))["kl"]
    assert abs(ex.estimate - cf) < 5 * ex.stderr + 1e-10 * (1 + cf)


@settings(max_examples=max(3, settings().max_examples // 5), deadline=None)
@given(target=mixtures(max_d=1, max_cond=30.0), name=st.sampled_from(ODE))
def test_exact_metrics_agree_with_samples(target, name):
    """The exact law of Y_1 (CDF via the map) against 20000 sampler draws: the KS distance
    between them is within the Kolmogorov 0.1% critical value."""
    sched = schedules.li2024(40)
    from scipy.special import ndtr

    x0 = np.linspace(-9, 9, 4001)[:, None]
    Fx = accnum.run.integrate(samplers.get(name), accnum.ExactScore(target), sched, x0.copy(), 1)[:, 0]
    assert np.all(np.diff(Fx) > 0)
    draws = np.sort(accnum.sample(target, name, sched, n=20000, seed=3).x[:, 0])
    cdf = np.interp(draws, Fx, ndtr(x0[:, 0]))
    n = draws.size
    ks = max(np.max(np.arange(1, n + 1) / n - cdf), np.max(cdf - np.arange(n) / n))
    assert ks < 1.95 / math.sqrt(n)
    # and the exact TV is a TV: in [0, 1], with a small standard error
    tv = exact(target, name, sched, n=1024, metrics=("tv",))["tv"]
    assert 0 <= tv.estimate <= 1 and tv.stderr < 0.1 * tv.estimate + 1e-12


# ------------------------------------------------------------------------- robustness
@pytest.mark.parametrize("name", ALL)
@settings(max_examples=max(3, settings().max_examples // 5), deadline=None)
@given(target=mixtures(max_cond=1e3), sched=any_schedules(T_max=80))
@example(target=GaussianMixture([1 - 1e-300, 1e-300], [[0.0], [5.0]], [0.1, 0.1]), sched=schedules.li2024(50))
def test_no_nan_on_random_targets_and_schedules(name, target, sched):
    x = accnum.sample(target, name, sched, n=16, seed=0).x
    assert np.all(np.isfinite(x))


@pytest.mark.parametrize("name", ALL)
def test_extremes(name):
    # |x| up to 1e6, weights down to 1e-300, beta_1 = 1e-12, alpha_bar down to 1e-12
    tiny_beta = schedules.li2024(100, c0=6.0)
    assert math.isclose(tiny_beta.beta[1], 1e-12, rel_tol=1e-12)
    deep = schedules.logsnr_uniform(60, lambda_min=-13.8)
    assert deep.alpha_bar[-1] < 1.1e-12
    target = GaussianMixture([1 - 1e-300, 1e-300], [[0.0], [4.0]], [0.2, 0.1])
    init = np.array([[1e6], [-1e6], [0.0], [3.0]])
    for sched in (tiny_beta, deep):
        x = accnum.sample(target, name, sched, init=init, n=4, seed=0).x
        assert np.all(np.isfinite(x)), (name, sched.name, x)


@pytest.mark.parametrize("name", ["accel-ode", "accel-sde", "dpmpp-2m", "heun-edm"])
def test_large_dimension_and_many_components(name):
    target = accnum.targets.get("gmm", d=64, K=64)
    x = accnum.sample(target, name, schedules.li2024(20), n=8, seed=0).x
    assert x.shape == (8, 64) and np.all(np.isfinite(x))
    if samplers.get(name).facts.kind == "ode":
        e = exact(accnum.targets.get("gmm", d=16, K=16), name, schedules.li2024(20), n=64, method="mc")["kl"]
        assert math.isfinite(e.estimate)


@settings(deadline=None)
@given(sched=li_schedules())
def test_li2024_schedule_properties(sched):
    b = sched.beta
    assert np.all((b[1:] > 0) & (b[1:] < 1)) and np.all(np.diff(sched.alpha_bar) < 0)
    assert b[2:].max() <= sched.h * (1 + 1e-12)
