"""Every sampler against an independent implementation, the Gaussian closed forms, facts."""

import math

import numpy as np
import pytest
from reference import run as reference

import accnum
from accnum import noise, samplers, schedules, targets
from accnum.run import integrate

ALL = samplers.names()


def _exact_noise(sampler, sched, n, d, seed=0):
    k = samplers.get(sampler).facts.normals
    rng = np.random.default_rng(seed)
    return rng.standard_normal((sched.T + 1, k, n, d)) if k else None


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("target", ["gmm1d", "aniso2d"])
def test_trajectory_matches_reference(name, target):
    tg = targets.get(target)
    sched = schedules.li2024(40)
    init = np.random.default_rng(1).standard_normal((16, tg.d)) * 1.3
    z = _exact_noise(name, sched, 16, tg.d)
    res = accnum.sample(tg, name, sched, init=init, noise=z)
    score = lambda a, x: tg.diffused(a).score(x)
    jac = lambda a, x: tg.diffused(a).score_jacobian(x)
    ref = reference(name, score, sched, init, (lambda t, j: z[t, j]) if z is not None else None, jac=jac)
    np.testing.assert_allclose(res.x, ref, rtol=1e-10, atol=1e-12)
    assert res.nfe == samplers.get(name).facts.nfe * (sched.T - 1)


# issue 15's samplers: tighter tolerance, short runs (warm-up and lower-order final steps),
# log-SNR-uniform steps and the step into abar = 1
NEW = ["dpmpp-3m", "dpmpp-3m-corrected", "unipc-2", "unipc-3", "deis-2", "deis-3", "randmid-ode"]


@pytest.mark.parametrize("name", NEW + [samplers.randmid.RandomizedMidpointODE(7)], ids=str)
@pytest.mark.parametrize("sched", [schedules.li2024(40), schedules.li2024(10), schedules.logsnr_uniform(30),
                                   schedules.edm(16)], ids=lambda s: s.describe())
@pytest.mark.parametrize("to", [1, 0])
def test_new_samplers_match_reference_tightly(name, sched, to):
    tg = targets.get("aniso2d")
    init = np.random.default_rng(2).standard_normal((16, tg.d)) * 1.3
    s = samplers.get(name)
    res = accnum.sample(tg, s, sched, init=init, to=to, backend="numpy")
    score = lambda a, x: tg.diffused(a).score(x)
    ref = reference(s.name, score, sched, init, to=to)
    np.testing.assert_allclose(res.x, ref, rtol=1e-12, atol=1e-12)
    assert res.nfe == s.facts.nfe * (sched.T - to)


@pytest.mark.parametrize("target", ["gmm1d", "aniso2d", "ring8"])
@pytest.mark.parametrize("to", [1, 0])
def test_ddpm_cov_matches_reference_tightly(target, to):
    """ddpm-cov against the literal reference (entry-by-entry Cholesky of I + beta J) for the same
    normals, to 1e-12, on 1-D, anisotropic 2-D and the 8-mode ring (where J changes sign)."""
    tg = targets.get(target)
    sched = schedules.li2024(40)
    init = np.random.default_rng(4).standard_normal((16, tg.d)) * 1.3
    z = np.random.default_rng(5).standard_normal((sched.T + 1, 1, 16, tg.d))
    res = accnum.sample(tg, "ddpm-cov", sched, init=init, noise=z, to=to)
    ref = reference("ddpm-cov", lambda a, x: tg.diffused(a).score(x), sched, init, lambda t, j: z[t, j], to=to,
                    jac=lambda a, x: tg.diffused(a).score_jacobian(x))
    np.testing.assert_allclose(res.x, ref, rtol=1e-12, atol=1e-12)
    assert res.nfe == sched.T - to


def test_ddpm_cov_is_ddpm_li_when_the_jacobian_vanishes_and_refuses_what_it_cannot_do():
    tg, sched = targets.get("aniso2d"), schedules.li2024(20)
    ex = accnum.ExactScore(tg)
    flat = accnum.ScoreFunction(ex.score, jacobian=lambda a, x: np.zeros(x.shape + (x.shape[1],)), d=2)
    a = accnum.sample(tg, "ddpm-cov", sched, n=9, seed=2, score=flat).x
    b = accnum.sample(tg, "ddpm-li", sched, n=9, seed=2, score=flat).x   # the same stream: slot 0 of each step
    np.testing.assert_allclose(a, b, rtol=1e-14, atol=1e-14)
    with pytest.raises(accnum.errors.MissingCapability, match="ddpm-cov' needs the score Jacobian"):
        accnum.sample(tg, "ddpm-cov", sched, n=3, score=accnum.ScoreFunction(ex.score, d=2))
    big = accnum.ScoreFunction(ex.score, jacobian=lambda a, x: np.broadcast_to(-1e4 * np.eye(2), (x.shape[0], 2, 2)), d=2)
    with pytest.raises(accnum.errors.InvalidInput, match=r"step t = 20: I \+ beta_t J_t\(Y_t\) is not positive definite"):
        accnum.sample(tg, "ddpm-cov", sched, n=3, score=big)
    with pytest.raises(accnum.errors.UntraceableStep, match="ddpm-cov' cannot run on the compiled backends"):
        accnum.sample(tg, "ddpm-cov", sched, n=3, backend="cpu")


def test_single_ddim_li_step_by_hand():
    # q_0 = N(0, v), T = 2: one step from Y_2 = y with s_2(y) = -y / (abar_2 v + 1 - abar_2)
    tg = accnum.GaussianMixture([1.0], [[0.0]], [2.0])
    sched = schedules.li2024(10)
    T = sched.T
    y = np.array([[0.7]])
    out = integrate(samplers.get("ddim-li"), accnum.ExactScore(tg), sched, y, to=T - 1)[0, 0]
    b = sched.beta[T]
    ab = np.prod(1 - sched.beta[1:])
    expected = (0.7 - b / 2 * 0.7 / (ab * 2.0 + 1 - ab)) / math.sqrt(1 - b)
    assert math.isclose(out, expected, rel_tol=1e-13)


def _gaussian_law(name, tg, sched):
    """Exact law of Y_1 for a Gaussian target and Y_T ~ N(0, I): every step is affine."""
    d = tg.d
    mean_, chol = tg.means[0], np.linalg.cholesky(tg.covariances[0])
    P0 = np.linalg.inv(chol @ chol.T)

    def score(a, x):  # -C^{-1}(x - m), C = a Sigma + (1 - a) I, written independently
        C = a * (chol @ chol.T) + (1 - a) * np.eye(d)
        return -np.linalg.solve(C, (x - math.sqrt(a) * mean_).T).T

    def jac(a, x):  # -C^{-1}, the same at every x
        C = a * (chol @ chol.T) + (1 - a) * np.eye(d)
        return np.broadcast_to(-np.linalg.inv(C), (x.shape[0], d, d))

    del P0
    f = samplers.get(name).facts
    basis = np.vstack([np.zeros(d), np.eye(d)])
    if f.kind == "ode":
        img = reference(name, score, sched, basis)
        b0 = img[0]
        A = (img[1:] - b0).T
        return b0, A @ A.T
    # stochastic, single-step kernels: propagate mean and covariance step by step
    m, S = np.zeros(d), np.eye(d)
    beta = np.array(sched.beta)
    for t in range(sched.T, 1, -1):
        one = schedules.Schedule("one", np.r_[beta[: t + 1]], 1.0)
        zero = lambda tt, j: np.zeros((basis.shape[0], d))
        img = reference(name, score, one, basis, zero, to=t - 1, jac=jac)
        c = img[0]
        M = (img[1:] - c).T
        # noise loadings: response to a unit normal in each slot
        S_new = M @ S @ M.T
        for j in range(f.normals):
            for i in range(d):
                zz = lambda tt, jj, i=i, j=j: np.tile(np.eye(d)[i] * (jj == j), (basis.shape[0], 1))
                col = reference(name, score, one, basis[:1], zz, to=t - 1, jac=jac)[0] - c
                S_new = S_new + np.outer(col, col)
        m, S = M @ m + c, S_new
    return m, S


@pytest.mark.parametrize("name", ALL)
def test_gaussian_target_matches_affine_recursion(name):
    tg = targets.get("gauss", d=2)
    sched = schedules.li2024(30)
    n = 40_000
    mean, cov = _gaussian_law(name, tg, sched)
    x = accnum.sample(tg, name, sched, n=n, seed=11).x
    se = np.sqrt(np.diag(cov) / n)
    assert np.all(np.abs(x.mean(0) - mean) < 5 * se), (x.mean(0), mean)
    # sample covariance: relative error of a variance estimate is about sqrt(2/n)
    emp = np.cov(x.T)
    scale = np.sqrt(np.outer(np.diag(cov), np.diag(cov)))
    assert np.all(np.abs(emp - cov) < 6 * math.sqrt(2 / n) * scale), (emp, cov)


def test_generated_noise_equals_explicit_noise():
    tg, sched = targets.get("ring8"), schedules.li2024(20)
    n, seed = 7, 5
    res = accnum.sample(tg, "accel-sde", sched, n=n, seed=seed, backend="numpy")
    z = np.zeros((sched.T + 1, 2, n, 2))
    for t in range(1, sched.T + 1):
        for j in range(2):
            z[t, j] = noise.normals(seed, t, j, n, 2)
    init = noise.normals(seed, 0, 0, n, 2)
    again = accnum.sample(tg, "accel-sde", sched, init=init, noise=z)
    np.testing.assert_array_equal(res.x, again.x)


def test_samples_do_not_depend_on_batch():
    tg, sched = targets.get("gmm1d"), schedules.li2024(20)
    big = accnum.sample(tg, "ddpm-li", sched, n=50, seed=3).x
    small = accnum.sample(tg, "ddpm-li", sched, n=10, seed=3).x
    np.testing.assert_array_equal(big[:10], small)


@pytest.mark.parametrize("name", ALL)
def test_facts_are_complete(name):
    f = samplers.get(name).facts
    assert f.kind in ("ode", "sde") and f.nfe >= 1 and f.source
    assert f.order > 0 if f.order is not None else "no claim" in f.note   # an unclaimed order says so
    assert (f.normals == 0) == (f.kind == "ode")


def test_to_zero_and_init_exact():
    tg, sched = targets.get("gmm1d"), schedules.li2024(50)
    for name in ALL:
        x = accnum.sample(tg, name, sched, n=200, seed=0, to=0, init="exact").x
        assert np.all(np.isfinite(x)), name


def test_bad_run_arguments():
    tg, sched = targets.get("gmm1d"), schedules.li2024(20)
    with pytest.raises(ValueError, match="unknown sampler 'x'; valid: ddim-li"):
        accnum.sample(tg, "x", sched)
    with pytest.raises(ValueError, match="n must be >= 1"):
        accnum.sample(tg, "ddim-li", sched, n=0)
    with pytest.raises(ValueError, match=r"noise must have shape \(T\+1, k, n, d\)"):
        accnum.sample(tg, "ddpm-li", sched, n=4, noise=np.zeros((21, 2, 4, 1)))
    with pytest.raises(ValueError, match=r"init must have shape \(4, 1\)"):
        accnum.sample(tg, "ddim-li", sched, n=4, init=np.zeros((4, 2)))
    with pytest.raises(TypeError, match="schedule must be a Schedule"):
        accnum.sample(tg, "ddim-li", "li2024")
    with pytest.raises(ValueError, match="unknown backend 'gpu'"):
        accnum.sample(tg, "ddim-li", sched, backend="gpu")
    with pytest.raises(ValueError, match="seed must be >= 0"):
        accnum.sample(tg, "ddim-li", sched, seed=-1)
