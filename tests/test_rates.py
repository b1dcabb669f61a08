"""Observed orders against claimed ones, and the rates command (issue 3)."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from accnum.experiments.orders import fit_slope
from accnum.experiments.rates import claimed_order, convergence


def test_fit_slope_recovers_a_known_power_law():
    h = np.array([0.1, 0.05, 0.025, 0.0125])
    fit = fit_slope(np.log(h), np.log(3 * h**1.7 * (1 + 0.01 * np.array([1, -1, 1, -1]))))
    assert abs(fit["slope"] - 1.7) < 0.02 and fit["ci_low"] < 1.7 < fit["ci_high"]


def test_orders_of_ddim_li_and_accel_ode_on_the_default_target():
    """Observed orders in h = c1 log T / T over T = 200..1600 against the claims.

    Tolerance 0.25: the theorems' bounds carry polylog factors beyond h; one extra power of
    log T changes the local slope in h by about 1 / log T, 0.16 at T ~ 600, so 0.25 admits
    about one and a half such powers and nothing like a change of order (which is >= 0.5)."""
    res = convergence("gmm1d", ["ddim-li", "accel-ode"], "li2024", [200, 400, 800, 1600], metric="tv", n=2048)
    orders = {o["sampler"]: o for o in res.orders}
    for s in ("ddim-li", "accel-ode"):
        claimed, _ = claimed_order(s, "tv")
        assert abs(orders[s]["order"] - claimed) < 0.25, orders[s]
    # the accelerated sampler is a full order faster, within the fit's own uncertainty
    assert orders["accel-ode"]["ci_low"] - orders["ddim-li"]["ci_high"] > 0.75
    assert all(r["estimate"] > 0 and r["stderr"] < 0.02 * r["estimate"] for r in res.records)


def test_orders_of_the_issue_15_multistep_solvers():
    """On log-SNR-uniform steps from q_T (docs/case-studies): the claims of UniPC and DEIS
    hold, DPM-Solver++(3M) as the reference codes write it is second order (its D2 term
    has half the weight, local error -alpha h^3 x0''/12) and the corrected step third."""
    names = ["dpmpp-3m", "dpmpp-3m-corrected", "unipc-2", "unipc-3", "deis-2", "deis-3"]
    res = convergence("gmm1d", names, "logsnr_uniform", [100, 200, 400], metric="tv", n=2048, init="exact")
    got = {o["sampler"]: o["order"] for o in res.orders}
    expect = {"dpmpp-3m": 2.0, "dpmpp-3m-corrected": 3.0, "unipc-2": 3.0, "unipc-3": 4.0, "deis-2": 2.0, "deis-3": 3.0}
    for s, p in expect.items():
        assert abs(got[s] - p) < 0.25, (s, got[s])


def test_ddpm_cov_one_step_kl_is_third_order_in_beta():
    """The local error behind ddpm-cov's order (docs/case-studies/ddpm-cov.md): one step at a fixed
    noise level (abar 0.5), its KL from the exact posterior falls like beta^3 (Gaussian with the
    posterior's exact mean and covariance: only the third cumulant beta^3 grad J is missed), as
    accel-sde's does, while ddpm-li's, whose covariance misses beta^2 J, falls like beta^2."""
    from accnum import samplers, schedules, targets
    from accnum.metrics.path_kl import density, pairs
    from accnum.score import ExactScore

    tg = targets.get("gmm1d")
    betas = [0.02, 0.01, 0.005]
    kl = {s: [] for s in ("ddpm-li", "accel-sde", "ddpm-cov")}
    for b in betas:
        sched = schedules.Schedule.from_alpha_bar("one-step", np.array([1.0, 0.5, 0.5 * (1 - b)]), 1.0)
        y, x = pairs.draw(tg, sched, 2, 8000, 0, 100)
        lq = pairs.log_q(tg, sched, 2, y, x)
        for s in kl:
            lr = density.kernel_logpdf(samplers.get(s), 2, sched, ExactScore(tg), x, y) - lq
            kl[s].append(float(np.mean(np.expm1(lr) - lr)))
    slope = {s: np.polyfit(np.log(betas), np.log(v), 1)[0] for s, v in kl.items()}
    assert abs(slope["ddpm-li"] - 2) < 0.25, slope
    assert abs(slope["ddpm-cov"] - 3) < 0.3 and abs(slope["accel-sde"] - 3) < 0.3, slope


def test_ddpm_cov_path_kl_order_is_about_two():
    """Matching the one-step covariance through J lifts the path-KL order from ddpm-li's ~0.8
    to ~2 in h = c1 log T / T (measured, T = 100..400 on gmm1d, init exact), the accelerated
    order; its marginal TV order rises too (ddpm-li ~1)."""
    res = convergence("gmm1d", ["ddpm-li", "ddpm-cov"], "li2024", [100, 200, 400], metric="path-kl", n=2000,
                      init="exact", backend="numpy")
    got = {o["sampler"]: o["order"] for o in res.orders}
    assert 1.6 < got["ddpm-cov"] < 2.4 and got["ddpm-li"] < 1.1, got
    by = {(r["sampler"], r["T"]): r["estimate"] for r in res.records}
    assert all(by[("ddpm-cov", T)] < 0.01 * by[("ddpm-li", T)] for T in (100, 200, 400)), by


def test_errors_decrease_and_json_layout():
    res = convergence("gmm1d", ["ddim", "ddpm-li"], "li2024", [30, 60], n=512)
    d = res.to_dict()
    assert set(d) >= {"records", "orders"}
    rec = d["records"][0]
    for key in ("target", "sampler", "schedule", "T", "nfe", "metric", "estimate", "stderr", "seed", "backend"):
        assert key in rec
    for key in ("sampler", "metric", "order", "ci_low", "ci_high", "claimed"):
        assert key in d["orders"][0]
    for s, m in {(r["sampler"], r["metric"]) for r in res.records}:
        e = [r["estimate"] for r in res.records if r["sampler"] == s and r["metric"] == m]
        assert e[1] < e[0], (s, m, e)
    assert "observed order" in res.table()


def test_bad_inputs():
    with pytest.raises(ValueError, match="Ts must be strictly increasing"):
        convergence("gmm1d", ["ddim-li"], Ts=[100, 100])
    with pytest.raises(ValueError, match="Ts must not be empty"):
        convergence("gmm1d", ["ddim-li"], Ts=[])
    with pytest.raises(ValueError, match="ddpm-li is stochastic"):
        convergence("gmm1d", ["ddpm-li"], Ts=[50, 100], metric="kl")
    with pytest.raises(ValueError, match="too small for c1"):
        convergence("gmm1d", ["ddim-li"], Ts=[3, 100])


def _cli(tmp_path, *argv):
    return subprocess.run([sys.executable, "-m", "accnum.cli", *argv], cwd=tmp_path, capture_output=True, text=True,
                          check=False)


def test_rates_cli_writes_csv_json_png(tmp_path):
    proc = _cli(tmp_path, "rates", "--T", "25,50,100", "--samplers", "ddim-li,accel-sde", "--n", "512",
                "--json", "r.json")
    assert proc.returncode == 0, proc.stderr
    assert "observed order" in proc.stdout
    assert sorted(os.listdir(tmp_path / "accnum-out")) == ["rates.csv", "rates.json", "rates.png"]
    data = json.loads((tmp_path / "r.json").read_text())
    assert {r["metric"] for r in data["records"]} == {"tv", "kl", "path-kl", "grid-tv"}
    assert (tmp_path / "accnum-out" / "rates.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--metric", "tv", "--samplers", "ddpm-li"], "ddpm-li is stochastic"),
        (["--T", "100,50"], "Ts must be strictly increasing"),
        (["--T", ""], "--T must not be empty"),
        (["--target", "gmm:d=3,K=2", "--metric", "grid-tv", "--samplers", "ddpm-li"], "metric 'grid-tv' supports d <= 2"),
        (["--n", "3", "--samplers", "ddpm-li", "--T", "20,40"], "it needs n >= 10"),
        (["--samplers", "nope"], "unknown sampler 'nope'"),
        (["--out", "missing/deeper"], "does not exist"),
    ],
)
def test_rates_cli_bad_input(tmp_path, argv, message):
    proc = _cli(tmp_path, "rates", *argv)
    assert proc.returncode == 2, proc.stderr
    err = proc.stderr.strip().splitlines()
    assert len(err) == 1 and message in err[0] and "Traceback" not in proc.stderr
    assert os.listdir(tmp_path) == []
