"""Issue 14, item 2: target families with the same structure in every d, and the closed-form
TV and KL of N(m, c^2 I) laws in any d (docs/math/metrics.md#isotropic-tv)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from accnum import GaussianMixture, schedules, targets
from accnum.errors import InvalidInput
from accnum.metrics import gaussian
from accnum.metrics.gaussian import closed_form, kl_gauss, kl_gauss_iso, tv_gauss_1d, tv_gauss_iso


def _separations(tg):
    return np.linalg.norm(tg.means[:, None, :] - tg.means[None, :, :], axis=2)


@pytest.mark.parametrize("family", ["twomodes", "isogauss", "gmm:K=4,layout=fixed"])
def test_families_keep_their_structure_in_every_d(family):
    small, large = (targets.resolve(targets.in_dimension(family, d)) for d in (3, 40))
    assert np.array_equal(_separations(small), _separations(large))
    assert np.array_equal(small.weights, large.weights)
    assert np.array_equal(small.covariances, large.covariances) and small.kind == "isotropic"
    assert large.name == targets.in_dimension(family, 40)


def test_the_random_layout_spreads_with_d_and_the_fixed_one_does_not():
    grow = [_separations(targets.resolve(f"gmm:d={d},K=4")).max() for d in (4, 64)]
    assert grow[1] > 2 * grow[0]
    assert targets.resolve("twomodes:d=5").means[:, 0].tolist() == [-1.5, 1.5]


@pytest.mark.parametrize("spec, fragment", [
    ("gmm:d=2,K=4,layout=fixed", "layout=fixed needs d >= K - 1 = 3"),
    ("gmm:d=8,K=4,layout=grid", "unknown layout 'grid'"),
    ("twomodes:d=0", "d must be >= 1"),
    ("isogauss:d=x", "must be a number"),
])
def test_family_parameters_are_checked(spec, fragment):
    with pytest.raises(InvalidInput, match=fragment):
        targets.resolve(spec)


def test_a_family_must_take_d_and_leave_it_free():
    with pytest.raises(InvalidInput, match="no dimension parameter d"):
        targets.family("ring8")
    with pytest.raises(InvalidInput, match="fixes d"):
        targets.family("twomodes:d=4")


def _tv_monte_carlo(m1, a, m2, b, n=400_000, seed=0):
    """E_{x ~ N1}[(1 - p2/p1)_+] on n draws, with its standard error."""
    rng = np.random.default_rng(seed)
    d = m1.size
    x = m1 + math.sqrt(a) * rng.standard_normal((n, d))
    l1 = -0.5 * np.sum((x - m1) ** 2, axis=1) / a - 0.5 * d * math.log(a)
    l2 = -0.5 * np.sum((x - m2) ** 2, axis=1) / b - 0.5 * d * math.log(b)
    v = np.maximum(-np.expm1(l2 - l1), 0.0)
    return v.mean(), v.std() / math.sqrt(n)


@pytest.mark.parametrize("d, delta, a, b", [(2, 0.3, 1.0, 1.2), (3, 1.0, 0.8, 0.5), (10, 0.2, 1.0, 1.05),
                                            (50, 0.5, 1.0, 0.97), (200, 0.1, 1.0, 1.01), (5, 0.0, 1.0, 1.3)])
def test_isotropic_tv_against_monte_carlo(d, delta, a, b):
    m1, m2 = np.zeros(d), np.zeros(d)
    m1[0] = delta
    tv = tv_gauss_iso(m1, a, m2, b)
    est, se = _tv_monte_carlo(m1, a, m2, b)
    assert abs(tv - est) < 4 * se, (tv, est, se)
    assert tv == pytest.approx(tv_gauss_iso(m2, b, m1, a), rel=1e-9)          # symmetric
    rot = np.linalg.qr(np.random.default_rng(1).standard_normal((d, d)))[0]    # only |m1 - m2| matters
    assert tv == pytest.approx(tv_gauss_iso(rot @ m1 + 1.0, a, rot @ m2 + 1.0, b), rel=1e-9)


def test_isotropic_tv_limits():
    assert tv_gauss_iso([0.0], 1.0, [1.0], 1.0) == pytest.approx(tv_gauss_1d(0.0, 1.0, 1.0, 1.0), rel=1e-12)
    m = np.zeros(7)
    m[0] = 0.4
    assert tv_gauss_iso(m, 1.0, np.zeros(7), 1.0) == pytest.approx(math.erf(0.4 / (2 * math.sqrt(2))), rel=1e-12)
    # a variance ratio 1 + 1e-9 is a tiny perturbation of the equal-variance case, even in d = 10^4
    m = np.zeros(10_000)
    m[0] = 0.01
    near = tv_gauss_iso(m, 1.0, np.zeros(10_000), 1.0 + 1e-9)
    assert near == pytest.approx(math.erf(0.01 / (2 * math.sqrt(2))), rel=1e-4)
    # the variance mismatch alone: TV grows like sqrt(d) while small (KL = d e^2 / 4)
    tv = [tv_gauss_iso(np.zeros(d), 1.0, np.zeros(d), 1.0 + 1e-3) for d in (100, 10_000)]
    assert tv[1] / tv[0] == pytest.approx(10.0, rel=0.02)


def test_isotropic_kl_matches_the_dense_formula():
    m1, m2 = np.array([0.3, 0.0, -0.2]), np.zeros(3)
    assert kl_gauss_iso(m1, 0.7, m2, 1.1) == pytest.approx(kl_gauss(m1, 0.7 * np.eye(3), m2, 1.1 * np.eye(3)), rel=1e-12)


@pytest.mark.parametrize("sampler", ["ddim-li", "accel-ode", "ddpm-li", "accel-sde", "dpm-solver-2"])
@pytest.mark.parametrize("init", ["gaussian", "exact"])
def test_the_isotropic_reduction_equals_the_dense_law(sampler, init):
    tg, sched = targets.get("isogauss", d=4), schedules.li2024(60)
    m, S = gaussian.output_law(tg, sampler, sched, init)
    mi, c2 = gaussian.output_law_isotropic(tg, sampler, sched, init)
    assert np.max(np.abs(m - mi)) < 1e-14 and np.max(np.abs(S - c2 * np.eye(4))) < 1e-14
    q1 = tg.diffused(sched.alpha_bar[1])
    cf = closed_form(tg, sampler, sched, init)
    assert cf["kl"].estimate == pytest.approx(kl_gauss(m, S, q1.means[0], q1.covariance_matrices()[0]), rel=1e-12)


def test_gauss_tv_in_high_d_costs_no_d_squared_memory():
    """d = 10^5: a dense covariance would need 80 GB; the reduction needs O(d)."""
    tg = targets.get("isogauss", d=100_000)
    cf = closed_form(tg, "accel-sde", schedules.li2024(200), init="exact")
    assert 0.05 < cf["tv"].estimate < 0.9
    # every coordinate carries the same error: the KL is exactly d times the 1-D KL
    one = closed_form(targets.get("isogauss", d=1), "accel-sde", schedules.li2024(200), init="exact")["kl"].estimate
    assert cf["kl"].estimate == pytest.approx(100_000 * one, rel=1e-6)


def test_gauss_tv_refuses_a_non_isotropic_target_in_d_above_1():
    from accnum.metrics import check_metric

    with pytest.raises(InvalidInput, match="needs an isotropic Gaussian target"):
        check_metric("gauss-tv", "ddim-li", targets.get("gauss", d=3))
    with pytest.raises(InvalidInput, match="needs a Gaussian target"):
        check_metric("gauss-tv", "ddim-li", "twomodes:d=3")
    assert "tv" in closed_form(GaussianMixture([1.0], [[0.2, 0.1]], [0.5]), "ddim-li", schedules.li2024(30))
