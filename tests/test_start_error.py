"""Honest tables and plots (issue 13, item 9): the footer for every schedule, and the start's own
error from N(0, I) measured, drawn and warned about."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from accnum import GaussianMixture, plot, schedules
from accnum.experiments.rates import convergence
from accnum.experiments.start import StartErrorWarning, start_error, warnings_for
from accnum.metrics.gaussian import kl_gauss, tv_gauss_1d


def test_start_error_reference_values():
    """docs/math/orders.md#start-floor: for gmm1d, TV(q_T, N(0, 1)) = 1.496e-4 at T = 400 and
    3.77e-5 at T = 1600 on li2024(2, 4)."""
    assert start_error("gmm1d", schedules.li2024(400))["tv"] == pytest.approx(1.496e-4, rel=1e-3)
    assert start_error("gmm1d", schedules.li2024(1600))["tv"] == pytest.approx(3.77e-5, rel=2e-3)


@pytest.mark.parametrize("d", [1, 3])
def test_start_error_of_a_gaussian_against_its_closed_forms(d):
    tg = GaussianMixture([1.0], np.full((1, d), 1.5), np.full((1, d), 0.5))
    s = schedules.li2024(200)
    got = start_error(tg, s)
    a = s.alpha_bar[200]
    m, v = math.sqrt(a) * 1.5, a * 0.5 + 1 - a
    if d == 1:
        assert got["tv"] == pytest.approx(tv_gauss_1d(0.0, 1.0, m, v), rel=1e-6)   # trapezoid rule over a kink
        assert got["tv_se"] == 0.0
    else:
        assert got["method"].startswith("qmc") and got["tv_se"] < 0.01 * got["tv"]
    z, one = np.zeros(d), np.eye(d)
    kl = kl_gauss(z, one, np.full(d, m), v * one)
    kl_qp = kl_gauss(np.full(d, m), v * one, z, one)
    tol = 1e-8 if d == 1 else 5 * got["kl_se"] / kl
    assert got["kl"] == pytest.approx(kl, rel=max(tol, 1e-8))
    assert got["kl_qp"] == pytest.approx(kl_qp, rel=max(5 * got["kl_qp_se"] / kl_qp, 1e-8))


def test_a_start_error_close_to_the_measured_errors_warns_and_shows():
    """A Gaussian with mean 1.5: from N(0, 1) the start's own TV is within a factor 3 of
    accel-ode's (docs/rates.md: it caps the observed order); from q_T nothing is said."""
    tg = GaussianMixture([1.0], [[1.5]], [0.5])
    with pytest.warns(StartErrorWarning, match="init exact"):
        res = convergence(tg, ["accel-ode"], "li2024", [200, 400, 800], metric="tv", n=1024)
    assert len(res.meta["warnings"]) == 1 and "accel-ode's tv at T = " in res.meta["warnings"][0]
    assert "warning: the start's own error" in res.table() and "--init exact" in res.table()
    starts = {r["T"]: r["tv"] for r in res.meta["start_error"]}
    assert set(starts) == {200, 400, 800}
    fig = plot.convergence(res)
    floors = [line for ax in fig.axes for line in ax.get_lines() if line.get_gid() == "floor"]
    assert len(floors) == 1 and list(floors[0].get_ydata()) == [starts[T] for T in (200, 400, 800)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        exact = convergence(tg, ["accel-ode"], "li2024", [200, 400, 800], metric="tv", n=1024, init="exact")
    assert exact.meta["warnings"] == [] and "start_error" not in exact.meta
    assert not [ln for ax in plot.convergence(exact).axes for ln in ax.get_lines() if ln.get_gid() == "floor"]


def test_no_warning_where_the_start_is_far_below():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = convergence("gmm1d", ["ddim-li"], "li2024", [100, 200], metric="tv", n=512)
    assert res.meta["warnings"] == [] and "warning" not in res.table()


def test_warnings_for_reads_the_registry_floor():
    starts = [{"T": 100, "tv": 1e-3, "kl": 1e-6, "kl_qp": 1e-6}]
    rec = lambda m, e: {"sampler": "s", "metric": m, "T": 100, "estimate": e}  # noqa: E731
    assert warnings_for([rec("tv", 2.9e-3)], starts) and not warnings_for([rec("tv", 3.1e-3)], starts)
    assert warnings_for([rec("grid-tv", 2e-3)], starts) and warnings_for([rec("marginal-tv", 2e-3)], starts)
    assert warnings_for([rec("path-kl", 2e-6)], starts) and not warnings_for([rec("w1", 1e-9)], starts)


@pytest.mark.parametrize("schedule, words", [("li2024", "h = c1 log T / T"),
                                             ("logsnr_uniform", "h = 1/T, so the raw slope against T is exactly minus")])
def test_the_footer_says_what_the_orders_are_in(schedule, words):
    res = convergence("gmm1d", ["ddim"], schedule, [40, 80, 160], metric="tv", n=512, init="exact")
    table = res.table()
    assert words in table
    o = res.orders[0]
    if schedule == "logsnr_uniform":
        assert "sits below the order" not in table
        assert o["raw_slope"] == pytest.approx(-o["order"], rel=1e-12)
    else:
        assert -o["order"] < o["raw_slope"] < -0.7 * o["order"]
