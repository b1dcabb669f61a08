"""Issue 12: users' own samplers, scores and metrics, compiled, from the API and the CLI.

The examples of docs/extending.md live in examples/ and run here: a user's third-order
multistep sampler from the CLI by import path, the tanh-network score compiled, a user metric.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import accnum
from accnum import ExactScore, samplers, schedules, targets
from accnum.cli import main
from accnum.errors import InvalidInput, InvalidType, MissingCapability
from accnum.experiments.rates import convergence
from accnum.metrics import Estimate, Metric, exact
from accnum.metrics.exact import log_rho
from accnum.samplers import Facts, Sampler
from accnum.score import ScoreFunction, Sum

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)   # the examples package, as the docs run it from the repository root

from examples.my_samplers import My3M  # noqa: E402
from examples.tanh_score import TanhNet  # noqa: E402

G = targets.get("gmm1d")
S = schedules.li2024(30)


def _cli(tmp_path, *argv, env=None):
    return subprocess.run([sys.executable, "-m", "accnum.cli", *argv], cwd=tmp_path, capture_output=True, text=True,
                          env={**os.environ, **(env or {})})


# -------------------------------------------------------------------------------- samplers
def test_facts_are_checked_when_made():
    for kwargs, fragment in [({"kind": "pde"}, "kind must be 'ode' or 'sde'"), ({"nfe": 0}, "nfe must be an integer >= 1"),
                             ({"name": "my sampler"}, "without spaces"), ({"normals": 1}, "ODE sampler draws no normals"),
                             ({"order": -1.0}, "order must be a positive number"), ({"source": " "}, "source must name")]:
        base = dict(name="x", kind="ode", nfe=1, normals=0, order=1.0, metric="tv", source="test")
        with pytest.raises(InvalidInput, match=fragment):
            Facts(**{**base, **kwargs})


def test_register_a_sampler_and_refuse_a_builtin_name():
    class Mine(Sampler):
        facts = Facts("mine-test", "ode", 1, 0, 1.0, "tv", "test")

        def step(self, t, y, z, model, sched, state):
            return (y + 0.5 * sched.beta[t] * model(sched.alpha_bar[t], y)) / np.sqrt(sched.alpha[t]), state

    class Impostor(Mine):
        facts = Facts("ddim", "ode", 1, 0, 1.0, "tv", "test")

    try:
        accnum.register_sampler(Mine)
        assert "mine-test" in samplers.names()
        assert accnum.sample(G, "mine-test", S, n=10).backend == "cpu"
        with pytest.raises(InvalidInput, match="'ddim' is a built-in sampler's"):
            accnum.register_sampler(Impostor)
        with pytest.raises(InvalidType, match="not a sampler"):
            accnum.register_sampler(dict)
    finally:
        samplers.unregister("mine-test")


def test_a_users_sampler_runs_like_the_builtin_with_the_same_step():
    """A user's copy of ddim-li's step traces to the same program and gives the same numbers."""
    class MyDDIMLi(Sampler):
        facts = Facts("my-ddim-li", "ode", 1, 0, 1.0, "tv", "test")

        def step(self, t, y, z, model, sched, state):
            return (y + 0.5 * sched.beta[t] * model(sched.alpha_bar[t], y)) / np.sqrt(sched.alpha[t]), state

    a = accnum.sample(G, MyDDIMLi(), S, n=50, seed=2, backend="cpu").x
    b = accnum.sample(G, "ddim-li", S, n=50, seed=2, backend="cpu").x
    assert np.array_equal(a, b)


def test_import_paths_from_the_api_and_their_errors(tmp_path, monkeypatch):
    assert samplers.get("examples.my_samplers:My3M").facts.name == "my-3m"
    (tmp_path / "userpkg_bad.py").write_text(textwrap.dedent("""
        from accnum.samplers import Facts, Sampler
        class NotOne:
            pass
        class Builtin(Sampler):
            facts = Facts("ddim", "ode", 1, 0, 1.0, "tv", "test")
            def step(self, t, y, z, model, sched, state):
                return y, state
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    for path, fragment in [("no_such_module_x:Thing", "cannot import 'no_such_module_x'"),
                           ("userpkg_bad:Missing", "has no attribute 'Missing'"),
                           ("userpkg_bad:NotOne", "is not a sampler"),
                           ("userpkg_bad:Builtin", "its name 'ddim' is a built-in sampler's"),
                           ("userpkg_bad", "must look like package.module:ClassName")]:
        with pytest.raises((InvalidInput, InvalidType), match=fragment):
            samplers.get(path if ":" in path else path + ":")


def test_a_users_sampler_from_the_cli_by_import_path(tmp_path):
    """docs/extending.md, example 1: the user's third-order multistep sampler in `accnum rates`."""
    proc = _cli(ROOT, "rates", "--samplers", "examples.my_samplers:My3M,ddim", "--schedule", "logsnr_uniform",
                "--init", "exact", "--T", "20,40,80", "--metric", "tv", "--n", "512", "--out", str(tmp_path / "o"),
                "--no-plot")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "my-3m" in proc.stdout
    records = json.loads((tmp_path / "o" / "rates.json").read_text())["records"]
    mine = [r for r in records if r["sampler"] == "my-3m"]
    assert mine and all(r["sampler_source"] == "examples.my_samplers:My3M" for r in mine)
    assert mine[-1]["estimate"] < mine[0]["estimate"]


def test_bad_import_paths_from_the_cli_are_one_line(tmp_path):
    for argv, fragment in [(["--samplers", "nope.mod:X"], "cannot import 'nope.mod'"),
                           (["--samplers", "examples.my_samplers:Nope"], "has no attribute 'Nope'")]:
        proc = _cli(ROOT, "rates", *argv, "--out", str(tmp_path / "o"))
        assert proc.returncode == 2 and fragment in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
    assert not (tmp_path / "o").exists()


def test_an_installed_package_adds_samplers_through_entry_points(tmp_path):
    """A distribution on the path that declares ``accnum.samplers`` entry points: its sampler
    is listed by ``accnum samplers`` and runs in every command, with no registration call."""
    (tmp_path / "plugin_samplers.py").write_text(textwrap.dedent("""
        import math
        from accnum.samplers import Facts, Sampler
        class Plugged(Sampler):
            facts = Facts("plugged-ddim", "ode", 1, 0, 1.0, "tv", "an installed plugin")
            def step(self, t, y, z, model, sched, state):
                return (y + 0.5 * sched.beta[t] * model(sched.alpha_bar[t], y)) / math.sqrt(sched.alpha[t]), state
    """))
    dist = tmp_path / "plugin_samplers-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: plugin-samplers\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[accnum.samplers]\nplugged = plugin_samplers:Plugged\n")
    env = {"PYTHONPATH": str(tmp_path) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = _cli(tmp_path, "samplers", env=env)
    assert proc.returncode == 0 and "plugged-ddim" in proc.stdout, proc.stderr
    proc = _cli(tmp_path, "sample", "--sampler", "plugged-ddim", "--T", "20", "--n", "8", "--out", "x.npy", env=env)
    assert proc.returncode == 0, proc.stderr


def test_check_sampler_reports_in_words(tmp_path, capsys):
    assert main(["check-sampler", "examples.my_samplers:My3M"]) == 0
    out = capsys.readouterr().out
    assert "step traces" in out and "state carried between steps: d1, d2" in out and "metric tv: for any d" in out
    report = samplers.check("accel-sde")
    assert report.ok and "one-step kernel: exposed" in str(report)

    class Clip(Sampler):
        facts = Facts("clip-check", "sde", 1, 1, 1.0, "path-kl", "test")

        def step(self, t, y, z, model, sched, state):
            return np.clip(y + sched.beta[t] * model(sched.alpha_bar[t], y) + z[0], -9, 9), state

    text = str(samplers.check(Clip()))
    assert "does not trace" in text and "np.clip" in text and "one-step kernel: not exposed" in text
    assert "[no ] backend cpu" in text


def test_check_sampler_finds_facts_that_lie():
    class Liar(Sampler):
        facts = Facts("liar", "ode", 1, 0, 1.0, "tv", "test")

        def step(self, t, y, z, model, sched, state):
            s = model(sched.alpha_bar[t], y)
            return y + sched.beta[t] * model(sched.alpha_bar[t], y + s), state

    rep = samplers.check(Liar())
    assert not rep.ok and "up to 2 score evaluations but its facts declare nfe = 1" in str(rep)


# ----------------------------------------------------------------------------------- scores
class Shifted(ExactScore):
    """Overrides the maths but not the compiled form: a compiled backend must not run the parent's."""

    def score(self, alpha_bar, x):
        return super().score(alpha_bar, x) + 0.1


def test_a_subclass_that_changes_the_maths_runs_on_numpy_only():
    assert accnum.sample(G, "ddim", S, n=5, score=Shifted(G)).backend == "numpy"
    with pytest.raises(MissingCapability, match="overrides score\\(\\) but inherits compiled\\(\\) from ExactScore"):
        accnum.sample(G, "ddim", S, n=5, score=Shifted(G), backend="cpu")


def test_a_plain_function_is_a_score_model():
    fn = ScoreFunction(lambda ab, x: G.diffused(ab).score(x), d=1, name="my-fn")
    a = accnum.sample(G, "ddim-li", S, n=20, seed=1, score=fn)
    b = accnum.sample(G, "ddim-li", S, n=20, seed=1, backend="numpy")
    assert a.backend == "numpy" and np.allclose(a.x, b.x, rtol=1e-13)
    with pytest.raises(MissingCapability, match="metric 'tv' needs the score Jacobian .* score model my-fn has none"):
        exact(G, "ddim-li", S, n=64, score=fn)
    with_jac = ScoreFunction(lambda ab, x: G.diffused(ab).score(x), jacobian=lambda ab, x: G.diffused(ab).score_jacobian(x))
    assert exact(G, "ddim-li", S, n=64, score=with_jac, metrics="tv")["tv"].estimate > 0
    with pytest.raises(InvalidInput, match="returned shape"):
        accnum.sample(G, "ddim", S, n=5, score=ScoreFunction(lambda ab, x: x[:, :0]))


@pytest.mark.parametrize("tname", ["gmm1d", "aniso2d"])
def test_the_tanh_network_score_runs_compiled(tname):
    """docs/extending.md, example 2: the exact score plus a tanh network, compiled."""
    tg = targets.get(tname)

    def score():
        return Sum(ExactScore(tg), TanhNet(d=tg.d, hidden=16, scale=0.05, seed=0))

    a = accnum.sample(tg, "accel-ode", S, n=100, seed=3, score=score(), backend="numpy").x
    res = accnum.sample(tg, "accel-ode", S, n=100, seed=3, score=score())
    assert res.backend == "cpu"
    assert np.max(np.abs(a - res.x) / np.maximum(1, np.abs(a))) < 1e-12
    x = np.random.default_rng(0).standard_normal((40, tg.d))
    assert np.max(np.abs(log_rho(tg, "accel-ode", S, x, score=score(), backend="numpy")
                         - log_rho(tg, "accel-ode", S, x, score=score(), backend="cpu"))) < 1e-9
    plain = accnum.sample(tg, "accel-ode", S, n=100, seed=3, backend="cpu").x
    assert np.max(np.abs(plain - res.x)) > 1e-4   # the network changes the answer


_TANH_CUDA = textwrap.dedent("""
    import sys, numpy as np, accnum
    sys.path.insert(0, sys.argv[1])
    from examples.tanh_score import TanhNet
    from accnum import ExactScore, schedules, targets
    from accnum.score import Sum
    tg, S = targets.get("aniso2d"), schedules.li2024(12)
    mk = lambda: Sum(ExactScore(tg), TanhNet(d=2, hidden=8, scale=0.05, seed=0))
    a = accnum.sample(tg, "accel-ode", S, n=6, seed=1, score=mk(), backend="cuda")
    b = accnum.sample(tg, "accel-ode", S, n=6, seed=1, score=mk(), backend="numpy")
    assert a.backend == "cuda" and np.max(np.abs(a.x - b.x)) < 1e-12, (a.x, b.x)
    print("tanh cuda ok")
""")


def test_the_tanh_network_score_on_cuda_under_the_simulator_and_in_ptx():
    import importlib.util

    if importlib.util.find_spec("numba_cuda") is None:
        pytest.skip("numba-cuda not installed")
    res = subprocess.run([sys.executable, "-c", _TANH_CUDA, ROOT], capture_output=True, text=True, timeout=900,
                         env={**os.environ, "NUMBA_ENABLE_CUDASIM": "1"})
    assert res.returncode == 0 and "tanh cuda ok" in res.stdout, res.stderr[-3000:]
    from accnum.kernels.cuda_launch import kernel_ptx
    from accnum.kernels.sampling import prepare

    tg = targets.get("aniso2d")
    run = prepare("cuda", tg, Sum(ExactScore(tg), TanhNet(d=2, hidden=8)), samplers.get("accel-ode"), S, 4, 0, jac=True)
    ptx = kernel_ptx(run.body, run.score, run.score_jac, run.total, 4, run.args)
    assert ".target sm_90" in ptx


# ---------------------------------------------------------------------------------- metrics
def _mean_error(req, names):
    """A user's metric: |E[Y_1] - E[q_1]| from samples (docs/extending.md, example 3)."""
    res = accnum.sample(req.target, req.sampler, req.schedule, n=req.n or 4096, seed=req.seed, init=req.init,
                        score=req.score, backend=req.backend)
    q1 = req.target.diffused(req.schedule.alpha_bar[1])
    err = float(np.linalg.norm(res.x.mean(axis=0) - q1.mean()))
    se = float(np.sqrt(np.sum(res.x.var(axis=0, ddof=1)) / res.x.shape[0]))
    return {"mean-error": Estimate("mean-error", err, se, res.x.shape[0], "samples", backend=res.backend)}


MEAN_ERROR = Metric("mean-error", "distance between the sample mean and q_1's mean", _mean_error, default_n=4096,
                    min_n=100)


def test_a_users_metric_runs_through_rates(tmp_path, capsys):
    accnum.register_metric(MEAN_ERROR, replace=True)
    try:
        out = str(tmp_path / "o")
        assert main(["rates", "--samplers", "ddpm-li,ddim-li", "--metric", "mean-error", "--T", "20,40", "--n", "2000",
                     "--out", out, "--no-plot"]) == 0
        text = capsys.readouterr().out
        assert "mean-error" in text
        records = json.loads(open(os.path.join(out, "rates.json")).read())["records"]
        assert {r["metric"] for r in records} == {"mean-error"} and len(records) == 4
        assert main(["rates", "--metric", "mean-error", "--n", "10", "--T", "20,40"]) == 2
        assert "n = 10 is too small for metric 'mean-error'" in capsys.readouterr().err
        with pytest.raises(InvalidInput, match="'tv' is a built-in metric's"):
            accnum.register_metric(Metric("tv", "x", _mean_error))
    finally:
        accnum.metrics.unregister("mean-error")


def test_a_metric_that_does_not_apply_is_one_line(tmp_path):
    proc = _cli(tmp_path, "rates", "--samplers", "ddpm-li", "--metric", "tv", "--T", "20,40")
    assert proc.returncode == 2
    assert "metric 'tv' is for deterministic samplers; ddpm-li is stochastic (metrics for it: path-kl, grid-tv" in proc.stderr
    assert os.listdir(tmp_path) == []


# ------------------------------------------------------------------------------- provenance
def test_records_carry_provenance_and_a_rerun_gives_the_same_bytes():
    def run():
        return convergence("gmm1d", ["ddim-li", My3M()], "li2024", [20, 40], metric="tv", n=256, init="exact",
                           score=ExactScore(G))

    a, b = run(), run()
    rec = a.records[0]
    for key in ("target", "target_hash", "sampler", "sampler_source", "score", "init", "version", "numpy", "numba"):
        assert rec[key] not in (None, ""), key
    assert rec["target"] == "gmm1d" and rec["init"] == "exact" and rec["score"] == "exact"
    assert [r["sampler_source"] for r in a.records][-1] == "examples.my_samplers:My3M"
    assert a.to_csv() == b.to_csv()
    ja, jb = json.loads(a.to_json()), json.loads(b.to_json())
    assert ja.pop("timing") != {} and jb.pop("timing") != {}
    assert json.dumps(ja) == json.dumps(jb)
    custom = convergence(accnum.GaussianMixture([1.0], [[0.5]], [0.4]), ["ddim-li"], Ts=[20, 40], metric="tv", n=64)
    assert custom.records[0]["target"] == "custom" and len(custom.records[0]["target_hash"]) == 20


def test_check_answers_for_every_builtin_sampler():
    """samplers.check asks every registered metric which dimensions it applies to, with a
    stand-in target of only d and K: a metric whose requirement reads more (gauss-tv's
    isotropy in d > 1) must still answer, not raise."""
    for name in samplers.names(builtin_only=True):
        rep = samplers.check(samplers.get(name))
        assert name in str(rep)
        if samplers.get(name).facts.kind == "ode" and rep.traces:
            assert rep.metrics["gauss-tv"] == "for any d (Gaussian targets, K = 1)", name
