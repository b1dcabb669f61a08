"""Metrics: cross-checks between independent routes to the same number (issue 3)."""

import math

import numpy as np
import pytest

import accnum
from accnum import GaussianMixture, schedules, targets
from accnum.metrics import NonInvertibleMap, check_metric, evaluate
from accnum.metrics.exact import exact
from accnum.metrics.gaussian import closed_form, tv_gauss_1d
from accnum.metrics.grid import grid_tv
from accnum.metrics.path_kl import path_kl
from accnum.metrics.samples import sample_metrics
from accnum.score import ScoreModel

GMM1D = targets.get("gmm1d")


def test_reproduces_spec_section_8_at_T_200():
    # reference values (docs/math/orders.md#reference-values): 40001-point quadrature, li2024(c0=2, c1=4), T = 200
    sched = schedules.li2024(200)
    d = exact(GMM1D, "ddim-li", sched, n=40001, method="quadrature")
    a = exact(GMM1D, "accel-ode", sched, n=40001, method="quadrature")
    assert f"{d['tv'].estimate:.3e}" == "6.090e-02" and f"{d['kl'].estimate:.3e}" == "2.284e-02"
    assert f"{a['tv'].estimate:.3e}" == "4.345e-03" and f"{a['kl'].estimate:.3e}" == "6.260e-05"


@pytest.mark.parametrize("name", ["ddim-li", "accel-ode", "dpmpp-2m", "accel-ode-eps"])
def test_exact_tv_agrees_with_grid_tv(name):
    sched = schedules.li2024(60)
    ex = exact(GMM1D, name, sched, n=4096, method="qmc")["tv"]
    gr = grid_tv(GMM1D, name, sched, G=20001)
    assert ex.rel_stderr < 0.02
    assert abs(ex.estimate - gr.estimate) < 4 * ex.stderr + 5 * gr.stderr + 1e-6 * gr.estimate, (ex, gr)


def test_qmc_mc_and_quadrature_agree():
    sched = schedules.li2024(80)
    q = exact(GMM1D, "accel-ode", sched, n=20001, method="quadrature")
    s = exact(GMM1D, "accel-ode", sched, n=4096, method="qmc")
    m = exact(GMM1D, "accel-ode", sched, n=20000, method="mc", seed=3)
    for k in ("tv", "kl"):
        assert abs(s[k].estimate - q[k].estimate) < 4 * s[k].stderr
        assert abs(m[k].estimate - q[k].estimate) < 4 * m[k].stderr


@pytest.mark.parametrize("name", ["ddim-li", "accel-ode", "accel-ode-reuse", "heun-edm", "dpm-solver-2"])
def test_gaussian_closed_form_matches_exact_estimator(name):
    tg = targets.get("gauss", d=2)
    sched = schedules.li2024(40)
    cf = closed_form(tg, name, sched)
    ex = exact(tg, name, sched, n=4096, metrics=("kl",))["kl"]
    assert abs(cf["kl"].estimate - ex.estimate) < 4 * ex.stderr + 1e-9


def test_gaussian_1d_tv_closed_form():
    tg = GaussianMixture([1.0], [[0.4]], [0.5])
    sched = schedules.li2024(50)
    cf = closed_form(tg, "ddim-li", sched)["tv"]
    ex = exact(tg, "ddim-li", sched, n=20001, method="quadrature")["tv"]
    assert math.isclose(cf.estimate, ex.estimate, rel_tol=1e-6)
    # TV of two unit normals a distance 1 apart: 2 Phi(1/2) - 1
    assert math.isclose(tv_gauss_1d(0.0, 1.0, 1.0, 1.0), 0.3829249225480262, rel_tol=1e-12)


@pytest.mark.parametrize("name", ["ddpm-li", "accel-sde", "accel-sde-readme", "ddpm"])
def test_path_kl_bounds_the_marginal_kl(name):
    tg = GaussianMixture([1.0], [[0.5]], [0.3])
    sched = schedules.li2024(60)
    pk = path_kl(tg, name, sched, n=4000)
    marginal = closed_form(tg, name, sched)["kl_qp"].estimate
    assert pk.estimate + 3 * pk.stderr >= marginal
    assert pk.rel_stderr < 0.05


def test_gauss_hermite_has_converged():
    sched = schedules.li2024(40)
    a = path_kl(GMM1D, "accel-sde", sched, n=500, nodes=8)
    b = path_kl(GMM1D, "accel-sde", sched, n=500, nodes=20)
    assert abs(a.estimate - b.estimate) < 1e-3 * b.estimate   # same draws: quadrature error only


def test_accel_sde_readme_does_not_accelerate():
    # reference values: li2024(c0=1, c1=4), path KL raw slopes: accel-sde about -2.3, readme about -0.68
    vals = {}
    for name in ("accel-sde", "accel-sde-readme", "ddpm-li"):
        vals[name] = [path_kl(GMM1D, name, schedules.li2024(T, c0=1.0), n=1000).estimate for T in (50, 100, 200, 400)]
    slope = {k: np.polyfit(np.log([50, 100, 200, 400]), np.log(v), 1)[0] for k, v in vals.items()}
    assert -2.6 < slope["accel-sde"] < -2.0
    assert -0.85 < slope["accel-sde-readme"] < -0.5
    assert -0.85 < slope["ddpm-li"] < -0.5


def test_grid_tv_stochastic_1d_and_2d():
    sched = schedules.li2024(30, c0=1.0)
    e1 = grid_tv(GMM1D, "ddpm-li", sched)
    assert e1.stderr < 1e-3 * e1.estimate
    # marginal acceleration shows as a constant, not an order (docs/rates.md)
    assert grid_tv(GMM1D, "accel-sde", sched).estimate < 0.5 * e1.estimate
    ring = targets.get("ring8")
    sched2 = schedules.li2024(20, c0=1.0)
    e2 = grid_tv(ring, "ddpm-li", sched2)
    assert 0 < e2.estimate < 1 and e2.stderr < 0.1 * e2.estimate
    # against a sample-based cross-check: a 2-D histogram TV lies within sampling noise + binning
    x = accnum.sample(ring, "ddpm-li", sched2, n=200_000, seed=1).x
    edges = np.linspace(-5, 5, 41)
    h, _, _ = np.histogram2d(x[:, 0], x[:, 1], bins=[edges, edges])
    c = 0.5 * (edges[1:] + edges[:-1])
    pts = np.stack(np.meshgrid(c, c, indexing="ij"), -1).reshape(-1, 2)
    q = ring.diffused(sched2.alpha_bar[1]).pdf(pts).reshape(40, 40) * (edges[1] - edges[0]) ** 2
    hist_tv = 0.5 * np.abs(h / x.shape[0] - q).sum()
    assert abs(hist_tv - e2.estimate) < 0.3 * e2.estimate


def test_sample_metrics_detect_the_better_sampler():
    sched = schedules.li2024(100)
    q1 = sched.alpha_bar[1]
    bad = accnum.sample(GMM1D, "ddim-li", sched, n=20000).x
    good = accnum.sample(GMM1D, "accel-ode", sched, n=20000).x
    mb, mg = sample_metrics(bad, GMM1D, alpha_bar=q1), sample_metrics(good, GMM1D, alpha_bar=q1)
    for k in ("sliced-w2", "w1", "ks"):
        assert mb[k].estimate > mg[k].estimate + 3 * (mb[k].stderr + mg[k].stderr), k
    exact_draws = GMM1D.diffused(q1).sample(20000, seed=5)
    ks = sample_metrics(exact_draws, GMM1D, alpha_bar=q1)["ks"].estimate
    assert ks < 1.36 / math.sqrt(20000)   # 5% Kolmogorov critical value


class _Stiff(ScoreModel):
    """s(x) = -k x with k far beyond any diffused Gaussian: the DDIM map folds over."""

    def score(self, a, x):
        return -400.0 * x

    def score_and_jacobian(self, a, x):
        n, d = x.shape
        return -400.0 * x, np.broadcast_to(-400.0 * np.eye(d), (n, d, d)).copy()


def test_non_invertible_step_is_reported():
    with pytest.raises(NonInvertibleMap, match=r"not invertible at step t = \d+"):
        exact(GMM1D, "ddim-li", schedules.li2024(50), n=256, score=_Stiff())


def test_metric_compatibility_errors():
    with pytest.raises(ValueError, match="ddpm-li is stochastic"):
        check_metric("tv", "ddpm-li", 1)
    with pytest.raises(ValueError, match="grid-tv.* supports d <= 2"):
        check_metric("grid-tv", "ddpm-li", 3)
    with pytest.raises(ValueError, match="unknown metric 'nope'"):
        check_metric("nope", "ddim-li", 1)
    with pytest.raises(ValueError, match="'path-kl' supports d <= 3"):
        evaluate("path-kl", targets.get("gmm", d=4, K=2), "ddpm-li", schedules.li2024(20))
    with pytest.raises(ValueError, match="n must be >= 10"):
        path_kl(GMM1D, "ddpm-li", schedules.li2024(20), n=5)
    with pytest.raises(ValueError, match=r"n must be >= 2 \* replicates = 32"):
        exact(GMM1D, "ddim-li", schedules.li2024(20), n=20)


def test_ddpm_cov_is_exact_on_a_gaussian_target_by_both_kernel_routes():
    """On a Gaussian target ddpm-cov's one-step kernel is the exact posterior (Tweedie's mean and
    covariance), so its path KL vanishes and its grid TV is grid error; it is then the kernel
    sampler with v1 = (beta/alpha)(1 + beta J), whose FFT route the Gauss-Hermite route must match."""
    from accnum.samplers.li import DDPMLi

    V = 0.3
    tg = accnum.GaussianMixture([1.0], [[0.5]], [V])

    class Matched(DDPMLi):
        facts = accnum.samplers.Facts(name="matched", kind="sde", nfe=1, normals=1, order=None, metric="path-kl",
                                      source="test: ddpm-cov's kernel on a Gaussian target")

        def kernel(self, t, sched):
            ab, a, b = sched.alpha_bar[t], sched.alpha[t], sched.beta[t]
            return 0.0, b / a * (1 - b / (ab * V + 1 - ab))

    sched = schedules.li2024(40)
    g_cov = grid_tv(tg, "ddpm-cov", sched, init="exact", backend="numpy")
    g_ker = grid_tv(tg, Matched(), sched, init="exact", backend="numpy")
    g_li = grid_tv(tg, "ddpm-li", sched, init="exact", backend="numpy")
    assert abs(g_cov.estimate - g_ker.estimate) < 2e-10 and g_cov.estimate < 1e-7 < 1e-3 < g_li.estimate
    p_cov = path_kl(tg, "ddpm-cov", sched, n=300, init="exact", backend="numpy")
    p_li = path_kl(tg, "ddpm-li", sched, n=300, init="exact", backend="numpy")
    assert p_cov.estimate < 1e-20 and p_li.estimate > 1e-3
