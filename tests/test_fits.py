"""Issue 14, item 3: fits a theorist can use: local orders, a fit range, C T^-p (log T)^k."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from accnum.errors import InvalidInput
from accnum.experiments.orders import fit_polylog, fit_range, local_slopes, observed_exponent, observed_order
from accnum.experiments.rates import convergence

T = np.array([25, 50, 100, 200, 400, 800, 1600, 3200], dtype=float)
WIGGLE = 1 + 0.002 * np.array([1, -1, 1, -1, 1, -1, 1, -1])


def test_polylog_fit_recovers_p_and_k():
    err = 3.0 * T ** -1.5 * np.log(T) ** 2 * WIGGLE
    free = fit_polylog(T, err)
    assert free["p_low"] < 1.5 < free["p_high"] and free["k_low"] < 2 < free["k_high"]
    assert abs(free["p"] - 1.5) < 0.05 and abs(free["k"] - 2) < 0.3
    fixed = fit_polylog(T, err, p=1.5)
    assert fixed["k_low"] < 2 < fixed["k_high"] and fixed["k_high"] - fixed["k_low"] < 0.1
    # a pure power law has no log factor
    assert abs(fit_polylog(T, 2.0 * T ** -1.0 * WIGGLE, p=1.0)["k"]) < 0.05


def test_polylog_fit_needs_enough_points():
    assert math.isnan(fit_polylog(T[:3], T[:3] ** -1.0)["p"])
    assert math.isfinite(fit_polylog(T[:3], T[:3] ** -1.0, p=1.0)["k"])


def test_local_slopes_of_a_power_law_and_of_a_bend():
    assert np.allclose(local_slopes(T, 5 * T ** -2.0)[1:], -2.0)
    bend = np.where(T < 300, T ** -1.0, 300.0 ** 1.0 * T ** -2.0)      # order 1, then 2
    loc = local_slopes(T, bend)
    assert loc[0] is None and loc[1] == pytest.approx(-1.0) and loc[-1] == pytest.approx(-2.0)
    assert local_slopes([1, 2], [1.0, 0.0]) == [None, None]


def test_a_fit_range_fits_only_its_points():
    bend = np.where(T < 300, T ** -1.0, 300.0 * T ** -2.0)
    whole = observed_order(T, 1 / T, bend)
    tail = observed_order(T, 1 / T, bend, rng=(400, 3200))
    assert tail["points"] == 4 and tail["order"] == pytest.approx(2.0, abs=1e-9)
    assert 1.2 < whole["order"] < 1.8


@pytest.mark.parametrize("value, fragment", [("200", "LO:HI"), ("a:b", "two integers"), ("400:200", "LO < HI"),
                                             ((0, 5), "must be >= 1")])
def test_fit_range_is_checked(value, fragment):
    with pytest.raises(InvalidInput, match=fragment):
        fit_range(value)


def test_exponent_of_d():
    d = np.array([1, 2, 4, 8, 16, 32])
    e = observed_exponent(d, 0.01 * d ** 0.5 * (1 + 0.01 * np.array([1, -1, 1, -1, 1, -1])))
    assert e["ci_low"] < 0.5 < e["ci_high"] and e["points"] == 6
    assert observed_exponent(d, 0.01 * d ** 0.5, rng=(4, 32))["points"] == 4


def test_rates_results_carry_local_orders_range_and_polylog():
    res = convergence("gmm1d", ["ddim-li", "accel-ode"], "li2024", [50, 100, 200, 400], metric="tv", n=512,
                      fit_range=(100, 400))
    data = json.loads(res.to_json())
    for o in data["orders"]:
        rs = [r for r in data["records"] if r["sampler"] == o["sampler"]]
        assert o["points"] == 3 and o["fit_range"] == [100, 400]
        ref = observed_order([r["T"] for r in rs[1:]], [r["h"] for r in rs[1:]], [r["estimate"] for r in rs[1:]])
        assert o["order"] == pytest.approx(ref["order"], rel=1e-12)
        assert rs[0]["local_order"] is None
        h, e = [r["h"] for r in rs[1:3]], [r["estimate"] for r in rs[1:3]]
        assert rs[2]["local_order"] == pytest.approx(math.log(e[1] / e[0]) / math.log(h[1] / h[0]), rel=1e-12)
        assert o["poly_p_fixed"] == o["claimed"] and math.isfinite(o["poly_kf"])
    assert "local_order" in res.to_csv().splitlines()[0]
    table = res.table()
    assert "fitted over T = 100..400" in table and "C T^-p (log T)^k" in table
    # the accelerated sampler's local order is above ddim-li's at every pair of T
    by = {(r["sampler"], r["T"]): r["local_order"] for r in data["records"]}
    assert all(by[("accel-ode", t)] > by[("ddim-li", t)] + 0.5 for t in (100, 200, 400))


def test_rates_refuses_a_fit_range_with_fewer_than_two_points():
    with pytest.raises(InvalidInput, match="fewer than two"):
        convergence("gmm1d", ["ddim-li"], Ts=[50, 100], fit_range="200:400")
