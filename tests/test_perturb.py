"""Score-error injection, assumption measurement and the sensitivity study (issue 5)."""

import math
import os
import subprocess
import sys

import numpy as np
import pytest

import accnum
from accnum.errors import MissingCapability
from accnum import perturb, samplers, schedules, targets
from accnum.assumptions import measure
from accnum.experiments.sensitivity import sensitivity
from accnum.metrics.exact import exact
from accnum.metrics.path_kl import path_kl

GMM1D = targets.get("gmm1d")
SCHED = schedules.li2024(50)


@pytest.mark.parametrize("target", ["gmm1d", "aniso2d"])
@pytest.mark.parametrize("eps_s, eps_j", [(0.01, 0.0), (0.03, 0.1), (0.1, 1.0), (0.003, 0.3)])
def test_smooth_calibration_meets_request_within_5_percent(target, eps_s, eps_j):
    tg = targets.get(target)
    p = perturb.calibrated("smooth", tg, SCHED, eps_s, eps_j, seed=3)
    got = measure(p, tg, SCHED, n=1000, seed=11)      # independent draws
    assert abs(got.eps_score - eps_s) < 0.05 * eps_s
    if eps_j == 0:
        assert got.eps_jacobi == 0
    else:
        assert abs(got.eps_jacobi - eps_j) < 0.05 * eps_j
    assert got.score_profile.shape == (SCHED.T,) and got.eps_score_se < 0.01 * eps_s


@pytest.mark.parametrize("kind", ["bias", "scale", "time", "noise"])
def test_other_kinds_meet_eps_score(kind):
    p = perturb.calibrated(kind, GMM1D, SCHED, 0.02, seed=1)
    got = measure(p, GMM1D, SCHED, n=1000, seed=12)
    assert abs(got.eps_score - 0.02) < 0.05 * 0.02
    if kind == "bias":
        assert got.eps_jacobi == 0
    if kind == "noise":
        assert math.isnan(got.eps_jacobi)
    if kind == "scale":   # eps_J = |delta| * mean ||J*||
        ref = measure(perturb.Scale(GMM1D, 1.0), GMM1D, SCHED, n=1000, seed=12).eps_jacobi
        assert math.isclose(got.eps_jacobi, abs(p.delta) * ref, rel_tol=1e-9)


def test_perturbation_jacobians_are_exact():
    tg = targets.get("aniso2d")
    x = np.random.default_rng(0).standard_normal((8, 2))
    for p in (perturb.SmoothField(tg, 0.1, 2.0, seed=4), perturb.Bias(tg, [0.1, -0.2]), perturb.Scale(tg, 0.1),
              perturb.TimeMismatch(tg, 0.2)):
        s, jac = p.score_and_jacobian(0.6, x)
        np.testing.assert_allclose(s, p.score(0.6, x), rtol=1e-13)
        h = 1e-6
        fd = np.stack([(p.score(0.6, x + h * e) - p.score(0.6, x - h * e)) / (2 * h) for e in np.eye(2)], axis=2)
        np.testing.assert_allclose(jac, fd, rtol=1e-5, atol=1e-6)


def test_exact_metric_with_perturbed_score_matches_samples():
    p = perturb.calibrated("smooth", GMM1D, SCHED, 0.01, 0.1)
    tv = exact(GMM1D, "accel-ode", SCHED, score=p)["tv"]
    x = accnum.sample(GMM1D, "accel-ode", SCHED, n=80_000, score=p).x[:, 0]
    edges = np.linspace(-6, 6, 201)
    h, _ = np.histogram(x, edges)
    qm = np.diff(GMM1D.diffused(SCHED.alpha_bar[1]).cdf(edges))
    hist = 0.5 * np.abs(h / x.size - qm).sum()
    assert abs(hist - tv.estimate) < 0.05 * tv.estimate + 0.01


@pytest.mark.parametrize("name", samplers.names())
def test_every_sampler_runs_with_every_kind(name):
    for kind in perturb.KINDS:
        p = perturb.make(kind, GMM1D, 0.05, seed=2, frequency=1.0)
        if isinstance(samplers.get(name), samplers.GaussianStepSampler) and not p.has_jacobian:
            with pytest.raises(MissingCapability, match=f"sampler '{name}' needs the score Jacobian"):
                accnum.sample(GMM1D, name, SCHED, n=50, score=p)
            continue
        x = accnum.sample(GMM1D, name, SCHED, n=50, score=p).x
        assert np.all(np.isfinite(x))


def test_noise_kind_has_no_exact_metric():
    p = perturb.make("noise", GMM1D, 0.05)
    with pytest.raises(ValueError, match="needs the score Jacobian"):
        exact(GMM1D, "ddim-li", SCHED, n=64, score=p)
    with pytest.raises(ValueError, match="needs a deterministic score"):
        path_kl(GMM1D, "accel-sde", SCHED, n=64, score=p)
    with pytest.raises(ValueError, match="'noise' perturbation has neither"):
        sensitivity("gmm1d", ["ddim-li"], SCHED, [0.01], kind="noise", metric="tv")


def test_bad_requests():
    with pytest.raises(ValueError, match="eps_score must be >= 0"):
        perturb.calibrated("smooth", GMM1D, SCHED, -0.1)
    with pytest.raises(ValueError, match="kind 'bias' has no Jacobian dial"):
        perturb.calibrated("bias", GMM1D, SCHED, 0.1, 0.2)
    with pytest.raises(ValueError, match="needs eps_score > 0"):
        perturb.calibrated("smooth", GMM1D, SCHED, 0.0, 0.2)
    with pytest.raises(ValueError, match="unknown kind 'wobble'"):
        perturb.calibrated("wobble", GMM1D, SCHED, 0.1)
    with pytest.raises(ValueError, match="eps_score must be >= 0"):
        sensitivity("gmm1d", ["ddim-li"], SCHED, [-0.1])


def test_sensitivity_is_reproducible_and_grows_with_eps():
    a = sensitivity("gmm1d", ["accel-ode", "ddpm-li"], SCHED, [0, 0.03, 0.1], [0, 0.3], seed=4, n=1024)
    b = sensitivity("gmm1d", ["accel-ode", "ddpm-li"], SCHED, [0, 0.03, 0.1], [0, 0.3], seed=4, n=1024)
    np.testing.assert_array_equal([r["estimate"] for r in a.records], [r["estimate"] for r in b.records])
    for s in ("accel-ode", "ddpm-li"):
        e = [r["estimate"] for r in a.records if r["sampler"] == s and r["eps_jacobi_requested"] == 0]
        assert e[0] < e[1] < e[2], (s, e)
    d = a.to_dict()
    for key in ("sampler", "kind", "T", "eps_score_requested", "eps_jacobi_requested", "eps_score", "eps_score_se",
                "eps_jacobi", "eps_jacobi_se", "metric", "estimate", "stderr", "seed", "backend"):
        assert key in d["records"][0]
    assert "fitted dependence" in a.table()


def test_sensitivity_cli(tmp_path):
    run = lambda *a: subprocess.run([sys.executable, "-m", "accnum.cli", "sensitivity", *a], cwd=tmp_path,  # noqa: E731
                                    capture_output=True, text=True, check=False)
    bad = run("--eps-score", "-0.1")
    assert bad.returncode == 2 and "must be non-negative" in bad.stderr and os.listdir(tmp_path) == []
    bad = run("--kind", "noise", "--metric", "kl", "--T", "20")
    assert bad.returncode == 2 and "has neither" in bad.stderr and os.listdir(tmp_path) == []
    ok = run("--T", "30", "--eps-score", "0,0.05", "--sampler", "ddim-li", "--json", "s.json")
    assert ok.returncode == 0, ok.stderr
    assert sorted(os.listdir(tmp_path / "accnum-out")) == ["sensitivity.csv", "sensitivity.json", "sensitivity.png"]
