"""The low-rank route for exact log-determinants (accnum.kernels.lowrank) against the dense one."""

import importlib

import numpy as np
import pytest

import accnum
from accnum import perturb, schedules
from accnum.errors import MissingCapability
from accnum.kernels import lowrank
from accnum.targets import resolve as resolve_target

ex = importlib.import_module("accnum.metrics.exact")   # the module (accnum.metrics.exact is the function)
ONE_STEP = ("ddim-li", "accel-ode", "ddim", "dpm-solver-2", "heun-edm")


def _both(target, sampler, sched, x, score=None, init="gaussian"):
    dense = ex.log_rho(target, sampler, sched, x, init, score, backend="cpu", route="dense")
    fast = ex.log_rho(target, sampler, sched, x, init, score, backend="cpu", route="lowrank")
    return dense, fast


@pytest.mark.parametrize("sampler", ONE_STEP)
@pytest.mark.parametrize("spec", ["gmm1d", "ring8", "gmm:d=5,K=3", "gmm:d=16,K=4", "gmm:d=64,K=2"])
def test_lowrank_matches_dense(sampler, spec):
    target = resolve_target(spec)
    sched = schedules.li2024(24)
    x = np.random.default_rng(1).standard_normal((19, target.d))   # 19: a partial last block of lanes
    dense, fast = _both(target, sampler, sched, x)
    assert np.all(np.isfinite(dense))
    np.testing.assert_allclose(fast, dense, rtol=1e-10, atol=1e-10 * np.abs(dense).max())


def test_lowrank_matches_dense_with_affine_perturbation():
    target = resolve_target("gmm:d=12,K=3")
    sched = schedules.logsnr_uniform(16)
    x = np.random.default_rng(2).standard_normal((9, 12))
    for kind, param in (("bias", 0.05), ("scale", 0.03)):
        model = perturb.make(kind, target, param, seed=3)
        dense, fast = _both(target, "accel-ode", sched, x, model)
        np.testing.assert_allclose(fast, dense, rtol=1e-10, atol=1e-10 * np.abs(dense).max())


def test_exact_metrics_agree_and_name_the_route():
    target, sched = "gmm:d=32,K=3", schedules.li2024(40)
    d = accnum.metrics.exact(target, "ddim-li", sched, n=256, backend="cpu", route="dense")
    f = accnum.metrics.exact(target, "ddim-li", sched, n=256, backend="cpu", route="lowrank")
    for m in ("tv", "kl"):
        assert f[m].estimate == pytest.approx(d[m].estimate, rel=1e-10, abs=1e-13)
        assert "low-rank" in f[m].method and "low-rank" not in d[m].method


def test_auto_route_chooses_by_dimension_and_state():
    sched = schedules.li2024(20)
    ring8, big = resolve_target("ring8"), resolve_target("gmm:d=40,K=2")
    model = ex.resolve_score(None, big)
    assert ex.route_for("auto", "cpu", big, model, accnum.samplers.get("ddim-li"), sched) == "lowrank"
    assert ex.route_for("auto", "cpu", ring8, ex.resolve_score(None, ring8), accnum.samplers.get("ddim-li"),
                        sched) == "dense"                                   # d = 2 < 2 r: dense is cheaper
    assert ex.route_for("auto", "cpu", big, model, accnum.samplers.get("dpmpp-2m"), sched) == "dense"
    assert ex.route_for("auto", "numpy", big, model, accnum.samplers.get("ddim-li"), sched) == "dense"


@pytest.mark.parametrize("spec, sampler, backend, words", [
    ("gmm:d=8,K=2", "dpmpp-2m", "cpu", "carries state"),
    ("gmm:d=8,K=2", "accel-ode-reuse", "cpu", "carries state"),
    ("gauss:d=8", "ddim-li", "cpu", "low-rank Jacobian"),          # full covariance
    ("aniso2d", "ddim-li", "cpu", "low-rank Jacobian"),
    ("gmm:d=8,K=2", "ddim-li", "numpy", "compiled backends"),
])
def test_lowrank_route_refuses_in_one_line(spec, sampler, backend, words):
    x = np.zeros((3, resolve_target(spec).d))
    with pytest.raises(MissingCapability, match=words) as e:
        ex.log_rho(spec, sampler, schedules.li2024(20), x, backend=backend, route="lowrank")
    assert "\n" not in str(e.value)


def test_route_is_validated():
    with pytest.raises(ValueError, match="route"):
        ex.log_rho("gmm1d", "ddim", schedules.li2024(20), np.zeros((3, 1)), route="fast")


def test_lowrank_route_reports_the_same_non_invertible_step():
    # too few steps for a stiff target: the first non-positive determinant is found on both routes
    target = resolve_target("gmm:d=9,K=3")
    sched = schedules.linear(3)
    x = np.random.default_rng(0).standard_normal((64, 9)) * 3
    errs = []
    for route in ("dense", "lowrank"):
        try:
            ex.log_rho(target, "heun-edm", sched, x, backend="cpu", route=route)
            errs.append(None)
        except accnum.errors.NonInvertibleMap as e:
            errs.append(str(e))
    assert errs[0] is not None and "not invertible at step t = 2" in errs[0]
    assert errs[0] == errs[1]


def test_route_of_lists_every_sampler():
    got = {n: lowrank.route_of(accnum.samplers.get(n)) for n in accnum.samplers.names()}
    assert got["ddim-li"] == got["accel-ode"] == "O(d)"
    assert got["dpmpp-2m"] == "O(d^3)" and got["ddpm"] == "-"


@pytest.mark.parametrize("scale", [1.0, 1e-90, 1e120])
def test_log_det_lemma_against_slogdet_when_products_leave_the_normal_range(scale):
    # |delta| products of a chunk under- or overflow at these scales: the factors' logs are
    # then taken one by one; a zero and negative entries give the sign
    rng = np.random.default_rng(4)
    d, r, L = 21, 3, 4
    delta = rng.uniform(0.5, 2.0, (d, L)) * rng.choice([-1.0, 1.0], (d, L))
    U, V = rng.standard_normal((r, d, L)), rng.standard_normal((r, d, L))
    delta[5, 3] = 0.0
    sign, logabs = np.empty(L), np.empty(L)      # of scale (diag(delta) + U V^T)
    lowrank._log_det(delta * scale, U * scale, V.copy(), r, np.empty((r, r, L)), L, sign, logabs, np.empty(L),
                     np.empty(L), np.empty((r, L)))
    for l in range(3):
        s, la = np.linalg.slogdet(np.diag(delta[:, l]) + U[:, :, l].T @ V[:, :, l])
        assert sign[l] == s and logabs[l] == pytest.approx(la + d * np.log(scale), rel=1e-12)
    assert sign[3] == 0.0
