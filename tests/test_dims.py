"""Issue 14, item 2: the exponent of d at fixed T (accnum dims)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from accnum.errors import InvalidStudy
from accnum.experiments.dims import dimension_sweep


def _cli(cwd, *argv):
    return subprocess.run([sys.executable, "-m", "accnum.cli", *argv], cwd=cwd, capture_output=True, text=True)


def test_closed_forms_on_the_isotropic_gaussian_give_kl_linear_in_d():
    """Every coordinate of N(mu, v I) carries the same error, so the KL is d times the 1-D
    KL (exponent 1) and the TV grows like sqrt(d) while it is small."""
    res = dimension_sweep("isogauss", ["accel-ode", "accel-sde"], [1, 4, 16, 64, 256], T=100, init="exact",
                          progress=False)
    exps = {(e["sampler"], e["metric"]): e for e in res.exponents}
    assert set(exps) == {(s, m) for s in ("accel-ode", "accel-sde") for m in ("gauss-tv", "gauss-kl")}
    for s in ("accel-ode", "accel-sde"):
        kl, tv = exps[(s, "gauss-kl")], exps[(s, "gauss-tv")]
        assert kl["ci_low"] <= 1.0 <= kl["ci_high"] and abs(kl["exponent"] - 1) < 1e-6
        assert 0.4 < tv["exponent"] < 0.6 and tv["points"] == 5
    assert not res.warnings()


def test_a_saturated_tv_is_flagged_and_a_fit_range_avoids_it():
    res = dimension_sweep("isogauss", ["ddim-li"], [1, 10, 100, 1000], T=50, init="exact", metric="gauss-tv",
                          progress=False)
    assert res.warnings() and "saturates" in res.warnings()[0] and "warning:" in res.table()
    low = dimension_sweep("isogauss", ["ddim-li"], [1, 10, 100, 1000], T=50, init="exact", metric="gauss-tv",
                          fit_range="1:10", progress=False)
    assert low.exponents[0]["points"] == 2 and low.exponents[0]["exponent"] > res.exponents[0]["exponent"]


def test_exact_tv_on_a_fixed_mixture_grows_with_d(tmp_path):
    res = dimension_sweep("twomodes", ["ddim-li", "accel-ode"], [1, 2, 4], T=40, init="exact", n=256,
                          store=tmp_path / "s", progress=False)
    by = {(r["sampler"], r["metric"], r["d"]): r["estimate"] for r in res.records}
    assert by[("ddim-li", "tv", 4)] > by[("ddim-li", "tv", 1)] > by[("accel-ode", "tv", 1)]
    assert {r["metric"] for r in res.records} == {"tv", "kl"}
    again = dimension_sweep("twomodes", ["ddim-li", "accel-ode"], [1, 2, 4, 8], T=40, init="exact", n=256,
                            store=tmp_path / "s", progress=False)
    assert again.timing["run"][0].startswith("cells: 2 run, 6 already stored")      # extends, does not redo
    assert [r["estimate"] for r in again.records if r["d"] < 8] == [r["estimate"] for r in res.records]


def test_dims_refuses_what_it_cannot_measure():
    with pytest.raises(InvalidStudy, match="none of the metrics named applies to ddpm-li"):
        dimension_sweep("twomodes", ["ddpm-li"], [1, 8], T=20, metric="path-kl", progress=False)
    with pytest.raises(InvalidStudy, match="has no dimension parameter d"):
        dimension_sweep("ring8", ["ddim-li"], [1, 2], T=20, progress=False)


def test_dims_cli_writes_its_outputs(tmp_path):
    proc = _cli(tmp_path, "dims", "--family", "isogauss", "--d", "1,8,64", "--T", "60", "--samplers",
                "ddpm-li,accel-sde", "--init", "exact")
    assert proc.returncode == 0, proc.stderr
    assert "exponent of d (95% CI)" in proc.stdout
    assert sorted(os.listdir(tmp_path / "accnum-out")) == ["dims.csv", "dims.json", "dims.png"]
    data = json.loads((tmp_path / "accnum-out" / "dims.json").read_text())
    assert {e["metric"] for e in data["exponents"]} == {"gauss-tv", "gauss-kl"}
    proc = _cli(tmp_path, "dims", "--family", "ring8", "--out", "o2")
    assert proc.returncode == 2 and "no dimension parameter d" in proc.stderr and not os.path.exists(tmp_path / "o2")
