"""Equal cost (issue 13, item 7) and one marginal TV across kinds (item 8)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from accnum import metrics, samplers, schedules, targets
from accnum.errors import InvalidInput
from accnum.experiments.compare import equal_cost, steps_for_budget
from accnum.experiments.rates import convergence
from accnum.metrics import Metric


def _cli(tmp_path, *argv):
    return subprocess.run([sys.executable, "-m", "accnum.cli", *argv], cwd=tmp_path, capture_output=True, text=True)


# ------------------------------------------------------------------------ equal cost
def test_steps_for_a_budget_round_down():
    assert steps_for_budget("ddim-li", 10) == 11        # 10 steps of 1 NFE
    assert steps_for_budget("accel-ode", 10) == 6       # 5 steps of 2 NFE
    assert steps_for_budget("accel-ode", 11) == 6       # 5.5 steps: rounded down, never over the budget
    assert steps_for_budget("heun-edm", 1) == 1         # not one step fits
    with pytest.raises(InvalidInput, match="budget must be >= 1"):
        steps_for_budget("ddim", 0)


def test_best_per_budget_and_a_non_invertible_cell():
    """accel-ode-eps folds at T = 5 on logsnr_uniform (budget 4): its cell says so, the run goes on,
    and at budget 8 (T = 9 for both 1-NFE samplers) it beats ddim."""
    res = equal_cost("gmm1d", ["accel-ode-eps", "ddim"], [4, 8], "logsnr_uniform", n=512)
    cell = res.cell(4, "accel-ode-eps")
    assert cell["T"] == 5 and cell["note"].startswith("not invertible") and cell["estimate"] != cell["estimate"]
    assert res.cell(4, "ddim")["estimate"] > 0 and res.cell(8, "accel-ode-eps")["T"] == 9
    best = {b["budget"]: b for b in res.best}
    assert best[4]["sampler"] == "ddim" and best[4]["runner_up"] is None
    assert best[8]["sampler"] == "accel-ode-eps" and best[8]["runner_up"] == "ddim"
    assert best[8]["ratio"] == pytest.approx(res.cell(8, "ddim")["estimate"] / res.cell(8, "accel-ode-eps")["estimate"])
    assert best[8]["distinct"] is True
    table = res.table()
    assert "not invertible (T=5)" in table and "NFE 8: accel-ode-eps best" in table and "floor(NFE / NFE per step)" in table


def test_a_budget_the_schedule_refuses_is_a_cell_note():
    """li2024 needs c1 log T / T < 1 (T >= 9 with c1 = 4): accel-ode's T = 6 at 10 NFE is noted in its cell."""
    res = equal_cost("gmm1d", ["ddim-li", "accel-ode"], [10, 20], n=512)
    assert res.cell(10, "accel-ode")["note"].startswith("schedule at T = 6")
    assert res.cell(20, "accel-ode")["T"] == 11 and res.cell(20, "accel-ode")["nfe"] == 20
    assert res.cell(10, "ddim-li")["nfe"] == 10
    assert "no schedule at T=6" in res.table()
    assert {b["budget"]: b["sampler"] for b in res.best} == {10: "ddim-li", 20: "accel-ode"}


def test_compare_bad_input():
    for kw, fragment in [({"budgets": [20, 10]}, "strictly increasing"), ({"budgets": []}, "must not be empty"),
                         ({"metric": "path-kl"}, "ddim-li is deterministic"),
                         ({"samplers": ["ddim", "ddim"]}, "more than once")]:
        args = {"target": "gmm1d", "samplers": ["ddim-li", "ddpm-li"], "budgets": [10], **kw}
        with pytest.raises(InvalidInput, match=fragment):
            equal_cost(**args)


def test_compare_cli(tmp_path):
    proc = _cli(tmp_path, "compare", "--nfe", "4,8", "--samplers", "accel-ode-eps,ddim", "--schedule", "logsnr_uniform",
                "--n", "512")
    assert proc.returncode == 0, proc.stderr
    assert "not invertible (T=5)" in proc.stdout and "NFE 8: accel-ode-eps best" in proc.stdout
    assert sorted(os.listdir(tmp_path / "accnum-out")) == ["compare.csv", "compare.json", "compare.png"]
    data = json.loads((tmp_path / "accnum-out" / "compare.json").read_text())
    assert [b["sampler"] for b in data["best"]] == ["ddim", "accel-ode-eps"]
    assert (tmp_path / "accnum-out" / "compare.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize("argv, message", [
    (["--nfe", "0"], "budget must be >= 1"),
    (["--nfe", "10,x"], "--nfe must be a comma-separated list of integers"),
    (["--metric", "kl"], "ddpm-li is stochastic"),
    (["--samplers", "nope"], "unknown sampler 'nope'"),
])
def test_compare_cli_bad_input(tmp_path, argv, message):
    proc = _cli(tmp_path, "compare", *argv)
    assert proc.returncode == 2
    err = proc.stderr.strip().splitlines()
    assert len(err) == 1 and message in err[0] and "Traceback" not in proc.stderr
    assert os.listdir(tmp_path) == []


# -------------------------------------------------------------------------- marginal TV
def test_marginal_tv_is_a_registered_metric_for_both_kinds():
    m = metrics.get("marginal-tv")
    assert isinstance(m, Metric) and "marginal-tv" in metrics.names() and m.kinds == ("ode", "sde")
    g = targets.get("gmm1d")
    assert all("marginal-tv" in metrics.names_for(samplers.get(s), g) for s in ("ddim-li", "ddpm-li", "accel-sde"))
    assert metrics.claimed_order(samplers.get("accel-ode"), "marginal-tv") == (2.0, "stated (TV)")
    with pytest.raises(InvalidInput, match="propagates its density on a grid, d <= 2"):
        metrics.check_metric("marginal-tv", "ddpm-li", "gmm:d=3,K=2")
    metrics.check_metric("marginal-tv", "ddim-li", "gmm:d=3,K=2")     # maps: any d


def test_marginal_tv_is_the_exact_tv_for_maps_and_the_grid_tv_for_kernels():
    s = schedules.li2024(40)
    for sampler, route, words in (("accel-ode", "tv", "exact tv, qmc"), ("ddpm-li", "grid-tv", "grid-tv, grid")):
        a = metrics.evaluate("marginal-tv", "gmm1d", sampler, s)
        b = metrics.evaluate(route, "gmm1d", sampler, s)
        assert a.estimate == b.estimate and a.stderr == b.stderr
        assert a.method.startswith(words)


def test_ode_and_sde_samplers_in_one_rates_run_on_one_metric(tmp_path):
    res = convergence("gmm1d", ["ddim-li", "ddpm-li"], "li2024", [50, 100, 200], metric="marginal-tv", n=1024)
    assert {r["metric"] for r in res.records} == {"marginal-tv"}
    notes = {r["sampler"]: r["note"] for r in res.records}
    assert notes["ddim-li"].startswith("exact tv") and notes["ddpm-li"].startswith("grid-tv")
    orders = {o["sampler"]: o for o in res.orders}
    assert orders["ddim-li"]["claimed"] == 1 and orders["ddpm-li"]["claimed"] == 0.5
    assert 0.6 < orders["ddim-li"]["order"] < 1.1 and 0.8 < orders["ddpm-li"]["order"] < 1.3
    proc = _cli(tmp_path, "rates", "--samplers", "ddim-li,accel-sde", "--metric", "marginal-tv", "--T", "30,60",
                "--n", "512")
    assert proc.returncode == 0, proc.stderr
    assert "marginal-tv  T" in proc.stdout
