"""Issue 14, items 4-6: study files, cells with deterministic keys, the results store,
resuming, and the same cells on a Dask cluster (a LocalCluster on the loopback)."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from accnum.errors import InvalidInput, InvalidStudy, TooLarge
from accnum.experiments import runner, study
from accnum.experiments.cells import cell_key, run_cell
from accnum.experiments.report import build
from accnum.experiments.store import MemoryStore, Store

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SMALL = {"targets": ["twomodes"], "d": [1, 2], "samplers": ["ddim-li", "accel-ode", "ddpm-li"], "T": [16, 32],
         "metrics": ["tv", "kl", "path-kl"], "n": 64, "init": "exact", "backend": "numpy"}


def _values(store) -> dict:
    return {(r["key"], r["metric"]): (r["estimate"], r["stderr"], r["n"]) for r in store.rows()}


def _cli(cwd, *argv):
    return subprocess.run([sys.executable, "-m", "accnum.cli", *argv], cwd=cwd, capture_output=True, text=True)


# ------------------------------------------------------------------------------------ keys
def test_a_cells_key_is_a_hash_of_its_whole_specification():
    cells = study.from_dict(SMALL).cells
    assert len(cells) == 2 * 3 * 2 and len({c.key for c in cells}) == len(cells)
    again = study.from_dict(dict(reversed(list(SMALL.items())))).cells
    assert [c.key for c in cells] == [c.key for c in again]          # order of keys in the file does not matter
    spec = dict(cells[0].spec)
    assert cell_key(spec) == cells[0].key
    for change in ({"seed": 1}, {"T": 17}, {"n": 65}, {"backend": "cpu"}, {"init": "gaussian"}):
        assert cell_key({**spec, **change}) != cells[0].key
    # tv and kl come from one pass: one cell; path-kl another
    assert {tuple(c.spec["metrics"]) for c in cells} == {("tv", "kl"), ("path-kl",)}


# ------------------------------------------------------------------------------ bad input
def test_a_malformed_study_lists_every_problem_before_any_work():
    bad = {"targets": ["twomodes", "ring8"], "d": [1, 0, 1], "samplers": ["ddim-li", "nope"], "T": [], "n": "x",
           "colour": "blue", "perturbations": [{"kind": "bad", "eps_score": 0.1}], "seeds": [-1],
           "schedules": [{"name": "li2024", "c0": 300}], "metrics": ["tv", "w9"]}
    with pytest.raises(InvalidStudy) as err:
        study.from_dict(bad, "bad.toml")
    text = "\n".join(err.value.problems)
    for fragment in ("unknown key 'colour'", "d must be >= 1", "d lists 1 more than once", "'ring8' has no dimension",
                     "unknown sampler 'nope'", "T must not be empty", "n must be an integer", "unknown perturbation kind",
                     "seed must be >= 0", "unknown metric 'w9'"):
        assert fragment in text, (fragment, text)
    assert str(err.value).splitlines()[0] == f"bad.toml: {len(err.value.problems)} problems, nothing was run"


@pytest.mark.parametrize("patch, fragment", [
    ({"metrics": ["tv", "path-kl"], "samplers": ["ddim-li"]}, "applies to none of the group's samplers"),
    ({"d": [2, 8], "samplers": ["ddpm-li"], "metrics": ["path-kl"]}, "none of the metrics named applies to ddpm-li "
                                                                     "on twomodes at d = 8"),
    ({"perturbations": [{"kind": "noise", "eps_score": 0.1}], "samplers": ["ddim-li"], "metrics": ["tv"]},
     "needs the score Jacobian"),
    ({"perturbations": [{"kind": "bias", "eps_score": 0.1, "eps_jacobi": 0.2}]}, "has no Jacobian dial"),
    ({"n": 10, "samplers": ["ddim-li"], "metrics": ["tv"]}, "n = 10 is too small for metric 'tv'"),
    ({"group": [{"name": "a", "T": [20]}, {"name": "b", "samplers": []}]}, "group 'b': samplers must not be empty"),
    ({"group": [{"name": "a", "colour": 1}]}, "group 'a': unknown key 'colour'"),
    ({"target_rse": 0}, "target_rse must be > 0"),
    ({"max_cell_seconds": -1}, "max_cell_seconds must be > 0"),
])
def test_study_rules(patch, fragment):
    with pytest.raises(InvalidStudy) as err:
        study.from_dict({**SMALL, **patch})
    assert any(fragment in p for p in err.value.problems), err.value.problems


def test_a_d_too_large_for_the_memory_is_refused_before_allocating():
    with pytest.raises(InvalidStudy) as err:
        study.from_dict({**SMALL, "targets": ["gauss"], "d": [2, 10**6], "samplers": ["ddim-li"], "metrics": ["tv"]})
    assert any("d = 1000000" in p and "of memory" in p for p in err.value.problems), err.value.problems
    from accnum.experiments.dims import dimension_sweep

    with pytest.raises((TooLarge, InvalidStudy), match="of memory"):
        dimension_sweep("twomodes", ["ddim-li"], [1, 10**11], T=20, n=64, progress=False)


def test_the_cli_prints_every_problem_and_writes_nothing(tmp_path):
    (tmp_path / "bad.toml").write_text('targets = ["twomodes"]\nd = []\nsamplers = ["nope"]\nT = [1]\nfoo = 2\n')
    proc = _cli(tmp_path, "sweep", "bad.toml")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert lines[0] == "accnum: error: bad.toml: 4 problems, nothing was run", lines
    assert len(lines) == 5 and all(line.startswith("  - ") for line in lines[1:])
    assert sorted(os.listdir(tmp_path)) == ["bad.toml"]
    (tmp_path / "broken.toml").write_text("targets = [\n")
    proc = _cli(tmp_path, "sweep", "broken.toml")
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1 and "not valid TOML" in proc.stderr


# -------------------------------------------------------------------- store and resuming
def test_resume_skips_finished_cells_and_recomputes_a_lost_one(tmp_path):
    cells = study.from_dict(SMALL).cells
    store = Store(tmp_path / "s")
    first = runner.run_study(cells, store, progress=False)
    assert first.ran == len(cells) and not first.failed
    files = sorted(os.listdir(tmp_path / "s" / "cells"))
    assert files == sorted(f"{c.key}.parquet" for c in cells)
    before = _values(store)
    again = runner.run_study(cells, Store(tmp_path / "s"), progress=False)
    assert again.ran == 0 and again.skipped == len(cells)
    os.unlink(tmp_path / "s" / "cells" / files[3])                      # a cell lost (or never finished)
    third = runner.run_study(cells, Store(tmp_path / "s"), progress=False)
    assert third.ran == 1 and third.skipped == len(cells) - 1
    assert _values(Store(tmp_path / "s", create=False)) == before      # the same numbers, bit for bit


def test_an_interrupted_study_keeps_what_finished(tmp_path):
    cells = study.from_dict(SMALL).cells
    seen = []

    def stop_after_three(cell):
        seen.append(cell.key)
        if len(seen) == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        runner.run_study(cells, Store(tmp_path / "s"), progress=False, on_stored=stop_after_three)
    store = Store(tmp_path / "s")
    assert store.keys() == set(seen)
    assert not [f for f in os.listdir(tmp_path / "s" / "cells") if not f.endswith(".parquet")]   # no partial file
    rest = runner.run_study(cells, store, progress=False)
    assert rest.ran == len(cells) - 3 and rest.skipped == 3


def test_a_store_refuses_a_folder_that_is_not_one(tmp_path):
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "notes.txt").write_text("mine")
    with pytest.raises(InvalidInput, match="not an accnum results store"):
        Store(tmp_path / "x")
    with pytest.raises(InvalidInput, match="does not exist"):
        Store(tmp_path / "nothing", create=False)


def test_a_store_writes_a_key_once():
    store = MemoryStore()
    assert store.write("k", [{"a": 1}]) and not store.write("k", [{"a": 2}])
    assert store.rows() == [{"a": 1}]


# ---------------------------------------------------------------- the time budget in d
def test_prediction_of_the_next_rung():
    assert runner.predict([], 8) is None
    assert runner.predict([(4, 0.1)], 8) == pytest.approx(0.8)                  # q = 3 when nothing is slow
    assert runner.predict([(8, 2.0), (16, 4.0)], 32) == pytest.approx(8.0)     # q = 1 fitted
    assert runner.predict([(8, 2.0), (16, 64.0)], 32) == pytest.approx(64 * 16)  # q capped at 4


def test_a_budget_defers_the_larger_d_and_a_later_run_takes_them_up(tmp_path):
    spec = {**SMALL, "samplers": ["ddim-li"], "metrics": ["tv"], "d": [1, 2, 4], "T": [16]}
    cells = study.from_dict({**spec, "max_cell_seconds": 1e-9}).cells
    store = Store(tmp_path / "s")
    rep = runner.run_study(cells, store, progress=False)
    assert rep.ran == 1 and sum(n for _, n in rep.deferred) == 2
    assert "d = 2..4" in rep.deferred[0][0] and "max_cell_seconds = 1e-09" in rep.deferred[0][0]
    later = runner.run_study(study.from_dict(spec).cells, store, progress=False)   # same keys, no budget
    assert later.ran == 2 and later.skipped == 1


# ----------------------------------------------------------------------------- report
def test_report_prints_orders_and_exponents_and_draws_them(tmp_path):
    cells = study.from_dict({**SMALL, "samplers": ["ddim-li", "accel-ode"], "metrics": ["tv", "kl"],
                             "T": [16, 32, 64]}).cells
    runner.run_study(cells, Store(tmp_path / "s"), progress=False)
    rep = build(Store(tmp_path / "s", create=False).rows())
    assert {s.kind for s in rep.sections} == {"orders", "exponents"}
    proc = _cli(tmp_path, "report", "s", "--out", "rep", "--format", "markdown")
    assert proc.returncode == 0, proc.stderr
    assert "observed order (95% CI)" in proc.stdout and "exponent of d (95% CI)" in proc.stdout
    assert ". orders in T: twomodes:d=1" in proc.stdout and "```text" in proc.stdout and "\n### " in proc.stdout
    pngs = [f for f in os.listdir(tmp_path / "rep") if f.endswith(".png")]
    assert len(pngs) == len(rep.sections)
    assert all((tmp_path / "rep" / f).read_bytes()[:4] == b"\x89PNG" for f in pngs)
    data = json.loads((tmp_path / "rep" / "report.json").read_text())
    assert {s["kind"] for s in data["sections"]} == {"orders", "exponents"}
    proc = _cli(tmp_path, "report", "nowhere")
    assert proc.returncode == 2 and "does not exist" in proc.stderr
    doc = tmp_path / "doc.md"
    doc.write_text("intro\n<!-- accnum report begin -->\nold\n<!-- accnum report end -->\nafter\n")
    proc = _cli(tmp_path, "report", "s", "--into", "doc.md")
    text = doc.read_text()
    assert proc.returncode == 0 and "old" not in text and text.startswith("intro\n") and text.endswith("after\n")
    assert "exponent of d (95% CI)" in text
    doc.write_text("no markers")
    proc = _cli(tmp_path, "report", "s", "--into", "doc.md")
    assert proc.returncode == 2 and "must hold the line" in proc.stderr and doc.read_text() == "no markers"


def test_the_plots_use_no_pyplot_state():
    code = ("import sys; from accnum.experiments import report, dims, study_plots; "
            "print('matplotlib.pyplot' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "False", out.stderr


# ------------------------------------------------------------------------------ Dask
distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def cluster():
    c = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                 dashboard_address="127.0.0.1:0", silence_logs=logging.CRITICAL, memory_limit=0)
    yield c
    c.close()


def test_cells_on_a_cluster_equal_cells_in_process_bit_for_bit(tmp_path):
    spec = {**SMALL, "group": [{"name": "cpu", "samplers": ["ddim-li", "accel-ode"], "metrics": ["tv", "kl"],
                                "backend": "cpu"},
                               {"name": "numpy"},
                               {"name": "gauss", "targets": ["isogauss"], "d": [1, 100], "metrics": ["gauss-tv", "gauss-kl"],
                                "samplers": ["ddpm-li", "accel-sde"]}]}
    cells = study.from_dict(spec).cells
    here = Store(tmp_path / "here")
    runner.run_study(cells, here, progress=False)
    there = Store(tmp_path / "there")
    rep = runner.run_study(cells, there, workers=2, progress=False)
    assert rep.ran == len(cells) and not rep.failed
    assert _values(there) == _values(here) and len(_values(here)) > len(cells)


def test_a_worker_killed_mid_study_loses_nothing_and_stores_nothing_twice(tmp_path, cluster):
    spec = {"targets": ["twomodes"], "d": [1, 2], "samplers": ["ddim-li", "accel-ode"], "T": [100, 200, 300],
            "n": 4096, "init": "exact", "backend": "numpy"}
    cells = study.from_dict(spec).cells
    reference = {}
    for c in cells[:2]:
        reference[c.key] = run_cell(c.spec)["rows"]
    writes = []

    class Counting(Store):
        def write(self, key, rows):
            writes.append(key)
            return super().write(key, rows)

    store = Counting(tmp_path / "s")
    killed = {}
    client = distributed.Client(cluster, set_as_default=False)

    def kill_one_busy_worker():
        deadline = time.time() + 60
        while time.time() < deadline and not killed:
            busy = {w: ts for w, ts in client.processing().items() if ts}
            if busy and store.keys():
                addr, tasks = next(iter(busy.items()))
                pid = client.run(os.getpid, workers=[addr])[addr]
                killed.update(addr=addr, tasks=tasks)
                os.kill(pid, signal.SIGKILL)
            time.sleep(0.05)

    killer = threading.Thread(target=kill_one_busy_worker)
    killer.start()
    try:
        rep = runner.run_study(cells, store, scheduler=cluster.scheduler_address, progress=False)
    finally:
        killer.join()
        client.close()
    assert killed["tasks"], "no worker was busy"                  # the kill landed while cells were running
    assert rep.ran == len(cells) and not rep.failed
    assert sorted(writes) == sorted(c.key for c in cells)          # each cell written once
    assert sorted(os.listdir(tmp_path / "s" / "cells")) == sorted(f"{c.key}.parquet" for c in cells)
    rows = store.rows()
    assert len(rows) == 2 * len(cells)                             # tv and kl, once each
    for key, ref in reference.items():
        got = [(r["metric"], r["estimate"], r["stderr"]) for r in rows if r["key"] == key]
        assert got == [(r["metric"], r["estimate"], r["stderr"]) for r in ref]


def test_an_unreachable_scheduler_is_one_line(tmp_path):
    (tmp_path / "s.toml").write_text(textwrap.dedent("""
        targets = ["twomodes"]
        d = [1]
        samplers = ["ddim-li"]
        T = [16]
        n = 64
    """))
    proc = _cli(tmp_path, "sweep", "s.toml", "--scheduler", "tcp://127.0.0.1:9", "--connect-timeout", "1")
    assert proc.returncode == 2, proc.stderr
    err = proc.stderr.strip().splitlines()
    assert len(err) == 1 and "--scheduler tcp://127.0.0.1:9: no Dask scheduler answers there" in err[0], err
    proc = _cli(tmp_path, "sweep", "s.toml", "--scheduler", "localhost")
    assert proc.returncode == 2 and "must look like tcp://HOST:PORT" in proc.stderr


_NO_DASK = textwrap.dedent("""
    import sys
    sys.modules["distributed"] = None
    from accnum.cli import main
    sys.exit(main(sys.argv[1:]))
""")


def test_without_dask_in_process_works_and_the_cluster_modes_say_what_to_install(tmp_path):
    (tmp_path / "s.toml").write_text('targets = ["twomodes"]\nd = [1]\nsamplers = ["ddim-li"]\nT = [16]\nn = 64\n')
    run = lambda *a: subprocess.run([sys.executable, "-c", _NO_DASK, *a], cwd=tmp_path, capture_output=True, text=True)  # noqa: E731
    proc = run("sweep", "s.toml", "--workers", "2")
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert 'pip install "accnum[dask]"' in proc.stderr
    proc = run("sweep", "s.toml")
    assert proc.returncode == 0 and "cells: 1 run" in proc.stdout, proc.stderr


def test_report_reads_a_user_samplers_claim_through_its_import_path(tmp_path, monkeypatch):
    """The store keeps a user's sampler by name and import path; the report imports it again
    to compare its fitted order with its claim (it showed '-' when it looked up the name)."""
    monkeypatch.syspath_prepend(str(ROOT))
    cells = study.from_dict({"targets": ["gmm1d"], "samplers": ["examples.my_samplers:My3M"], "T": [16, 32, 64],
                             "metrics": ["tv"], "n": 64, "init": "exact", "backend": "numpy",
                             "schedules": ["logsnr_uniform"]}).cells
    runner.run_study(cells, Store(tmp_path / "s"), progress=False)
    # a fresh process, where my-3m is registered only if the report imports it
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    proc = _cli(tmp_path, "report", "s", "--out", "rep")
    assert proc.returncode == 0, proc.stderr
    data = json.loads((tmp_path / "rep" / "report.json").read_text())
    (sec,) = data["sections"]
    (order,) = sec["orders"]
    assert order["sampler"] == "my-3m" and order["claimed"] == 3.0
