"""Issue 11: no silent wrong answer, every bad input one clear line, nothing half-written.

One section per class of failure found when accnum was tried with 424 bad, extreme and odd
inputs; each test failed on the code before the fix.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest

import accnum
from accnum import ExactScore, GaussianMixture, perturb, samplers, schedules, targets
from accnum.cli import main
from accnum.errors import (AccnumError, BackendUnavailable, InvalidInput, InvalidType, MissingCapability,
                           NumericalFailure, TooLarge, UntraceableStep)
from accnum.experiments.rates import convergence
from accnum.experiments.sensitivity import sensitivity
from accnum.metrics import exact, grid_tv, path_kl
from accnum.metrics.exact import log_rho
from accnum.samplers.base import Facts, Sampler

G = targets.get("gmm1d")
S = schedules.li2024(30)
ROOT = os.geteuid() == 0 if hasattr(os, "geteuid") else False


def _one_line(err) -> str:
    msg = str(err)
    assert msg and "\n" not in msg, repr(msg)
    return msg


def _cli(tmp_path, *argv, env=None):
    return subprocess.run([sys.executable, "-m", "accnum.cli", *argv], cwd=tmp_path, capture_output=True, text=True,
                          env={**os.environ, **(env or {})})


def _fails_cleanly(proc, *fragments):
    assert proc.returncode == 2, proc.stdout + proc.stderr
    err = proc.stderr.strip()
    assert "\n" not in err and err.startswith("accnum: error: ") and "Traceback" not in err, err
    for f in fragments:
        assert f in err, err
    return err


# ----------------------------------------------------------- 1. the score model is the one given
def _other(tg, shift=1.0):
    """The target's mixture with its first mean moved: a different score, the same d."""
    means = tg.means.copy()
    means[0] += shift
    return GaussianMixture(tg.weights, means, tg.covariances)


def _score_models(tg):
    """Every kind of score model the kernels compile, on the target's mixture and on another."""
    other = _other(tg)
    wider = GaussianMixture(np.full(4, 0.25), np.linspace(-3, 3, 4 * tg.d).reshape(4, tg.d), np.full(4, 0.3))
    models = {"exact": ExactScore(tg), "exact-other": ExactScore(other), "exact-other-K": ExactScore(wider)}
    for kind, param in (("smooth", 0.1), ("bias", 0.05), ("scale", 0.1), ("time", 0.05), ("noise", 0.02)):
        models[f"{kind}-other"] = lambda kind=kind, param=param: perturb.make(kind, other, param, seed=1, frequency=2.0)
    return models


def _fresh(model):
    return model() if callable(model) and not isinstance(model, accnum.ScoreModel) else model


@pytest.mark.parametrize("tname", ["gmm1d", "aniso2d"])
def test_every_score_model_runs_as_given_on_every_backend(tname):
    """numpy == cpu for every kind of score model, including the exact score of a mixture
    other than the target (the compiled backend once substituted the target's)."""
    tg = targets.get(tname)
    for label, model in _score_models(tg).items():
        for name in ("ddim", "accel-ode", "accel-sde"):
            a = accnum.sample(tg, name, S, n=40, seed=3, score=_fresh(model), backend="numpy").x
            b = accnum.sample(tg, name, S, n=40, seed=3, score=_fresh(model), backend="cpu").x
            assert np.max(np.abs(a - b) / np.maximum(1, np.abs(a))) < 1e-12, (label, name)
        if label != "noise-other":
            x = np.random.default_rng(0).standard_normal((20, tg.d))
            a = log_rho(tg, "accel-ode", S, x, score=_fresh(model), backend="numpy")
            b = log_rho(tg, "accel-ode", S, x, score=_fresh(model), backend="cpu")
            assert np.max(np.abs(a - b)) < 1e-9, label


def test_a_moved_mean_changes_the_error_on_every_backend():
    """The reported case: one mean moved by 1.0; ddim at T = 200 gave TV 0.011 on cpu and 0.238 on numpy."""
    sched = schedules.li2024(200)
    est = {b: exact(G, "ddim", sched, n=256, score=ExactScore(_other(G)), backend=b, metrics="tv")["tv"].estimate
           for b in ("numpy", "cpu")}
    assert est["cpu"] == pytest.approx(est["numpy"], rel=1e-9)
    assert est["cpu"] > 0.1 > exact(G, "ddim", sched, n=256, metrics="tv")["tv"].estimate


def test_path_kl_and_grid_use_the_given_score():
    score = ExactScore(_other(G, 1.0))
    for b in ("numpy", "cpu"):
        pk = path_kl(G, "accel-sde", S, n=100, score=score, backend=b).estimate
        gt = grid_tv(G, "ddpm-li", schedules.li2024(15), G=201, score=score, backend=b).estimate
        assert pk > 1.3 * path_kl(G, "accel-sde", S, n=100).estimate
        assert gt > 1.3 * grid_tv(G, "ddpm-li", schedules.li2024(15), G=201).estimate
        if b == "numpy":
            ref = (pk, gt)
    assert pk == pytest.approx(ref[0], rel=1e-10) and gt == pytest.approx(ref[1], rel=1e-7)


def test_a_score_of_another_dimension_is_refused():
    with pytest.raises(InvalidInput, match="score model for d = 2, but the target has d = 1"):
        accnum.sample(G, "ddim", S, n=4, score=ExactScore(targets.get("ring8")))


_CUDA_PARITY = textwrap.dedent("""
    import numpy as np, accnum
    from accnum import ExactScore, GaussianMixture, perturb, schedules, targets
    tg, S = targets.get("gmm1d"), schedules.li2024(12)
    other = GaussianMixture(tg.weights, tg.means + np.array([[1.0], [0.0], [0.0]]), tg.covariances)
    for model in (lambda: ExactScore(other), lambda: perturb.make("smooth", other, 0.1, frequency=2.0),
                  lambda: perturb.make("noise", other, 0.02)):
        for name in ("ddim", "accel-sde"):
            a = accnum.sample(tg, name, S, n=8, seed=4, score=model(), backend="cuda")
            b = accnum.sample(tg, name, S, n=8, seed=4, score=model(), backend="numpy")
            assert a.backend == "cuda"
            assert np.max(np.abs(a.x - b.x)) < 1e-12, (name, a.x, b.x)
    print("parity ok")
""")


def _has_numba_cuda():
    import importlib.util

    return importlib.util.find_spec("numba_cuda") is not None


@pytest.mark.skipif(not _has_numba_cuda(), reason="numba-cuda not installed (pip install 'accnum[cuda]')")
def test_score_parity_on_cuda_under_the_simulator():
    res = subprocess.run([sys.executable, "-c", _CUDA_PARITY], capture_output=True, text=True, timeout=900,
                         env={**os.environ, "NUMBA_ENABLE_CUDASIM": "1"})
    assert res.returncode == 0 and "parity ok" in res.stdout, res.stderr[-3000:]


# ------------------------------------------------------- 2. backend choice, missing capabilities
class Clipped(Sampler):
    facts = Facts("clipped-ddim", "ode", 1, 0, 1.0, "tv", "test: ddim-li with np.clip")

    def step(self, t, y, z, model, sched, state):
        return np.clip((y + 0.5 * sched.beta[t] * model(sched.alpha_bar[t], y)) / np.sqrt(sched.alpha[t]), -50, 50), state


class Counting(Sampler):
    facts = Facts("counting", "ode", 1, 0, 1.0, "tv", "test: a float carried in state")

    def step(self, t, y, z, model, sched, state):
        k = state.get("k", 0.0) + 1.0
        return (y + 0.5 * sched.beta[t] * model(sched.alpha_bar[t], y)) / np.sqrt(sched.alpha[t]), {"k": k}


@pytest.mark.parametrize("cls, rule", [(Clipped, "applies np.clip to a point"),
                                       (Counting, "carries a float in state['k']")])
def test_an_untraceable_step_runs_on_numpy_under_auto_and_is_refused_on_cpu(cls, rule):
    res = accnum.sample(G, cls(), S, n=50, seed=1)
    assert res.backend == "numpy"
    ref = accnum.sample(G, "ddim-li", S, n=50, seed=1, backend="numpy").x
    assert np.allclose(res.x, ref, rtol=1e-12)
    with pytest.raises(UntraceableStep) as err:
        accnum.sample(G, cls(), S, n=50, seed=1, backend="cpu")
    msg = _one_line(err.value)
    assert rule in msg and "backend='numpy'" in msg
    assert isinstance(err.value, TypeError) and isinstance(err.value, ValueError)   # callers of either keep working


def test_an_untraceable_step_has_no_exact_metric():
    with pytest.raises(MissingCapability, match="metric 'tv' pushes tangents.*applies np.clip"):
        exact(G, Clipped(), S, n=64)


class ScoreOnly(accnum.ScoreModel):
    def score(self, alpha_bar, x):
        return G.diffused(alpha_bar).score(x)


@pytest.mark.parametrize("fn, sampler, metric", [(exact, "ddim-li", "tv"), (path_kl, "accel-sde", "path-kl"),
                                                 (grid_tv, "ddpm-li", "grid-tv")])
def test_a_metric_that_needs_the_jacobian_says_so(fn, sampler, metric):
    with pytest.raises(MissingCapability) as err:
        fn(G, sampler, S, score=ScoreOnly())
    msg = _one_line(err.value)
    assert f"metric {metric!r} needs the score Jacobian" in msg and "ScoreOnly" in msg
    # what needs no Jacobian still runs: sampling, and path KL of a kernel without intermediate point
    assert accnum.sample(G, "ddim-li", S, n=5, score=ScoreOnly()).backend == "numpy"
    assert path_kl(G, "ddpm-li", S, n=50, score=ScoreOnly()).estimate > 0


_NO_NUMBA_CUDA = textwrap.dedent("""
    import importlib.util, sys
    sys.modules["numba_cuda"] = None
    _find = importlib.util.find_spec
    importlib.util.find_spec = lambda name, *a: None if name == "numba_cuda" else _find(name, *a)
    import accnum
    from accnum import schedules
    from accnum.errors import BackendUnavailable
    try:
        accnum.sample("gmm1d", "ddim-li", schedules.li2024(10), n=5, backend="cuda")
    except BackendUnavailable as err:
        print("refused:", err)
""")


def test_cuda_under_the_simulator_without_numba_cuda_says_what_to_install():
    res = subprocess.run([sys.executable, "-c", _NO_NUMBA_CUDA], capture_output=True, text=True,
                         env={**os.environ, "NUMBA_ENABLE_CUDASIM": "1"})
    assert "refused:" in res.stdout and 'pip install "accnum[cuda]"' in res.stdout, res.stdout + res.stderr[-2000:]


def test_the_cli_reports_accnums_errors_and_lets_bugs_show(monkeypatch, capsys):
    def bug(*args, **kwargs):
        raise TypeError("an internal bug")

    monkeypatch.setattr(samplers, "names", bug)
    with pytest.raises(TypeError, match="an internal bug"):
        main(["samplers"])
    assert issubclass(InvalidInput, ValueError) and issubclass(InvalidType, TypeError)
    assert issubclass(BackendUnavailable, AccnumError) and issubclass(TooLarge, InvalidInput)


# --------------------------------------------------------------------------------- 3. sizes
@pytest.mark.parametrize("argv, fragment", [
    (["sample", "--n", "1000000000000"], "n = 1000000000000"),
    (["rates", "--n", "1000000000000", "--T", "50,100"], "n = 1000000000000"),
    (["sample", "--target", "gmm:d=100000,K=100000"], "d = 100000, K = 100000"),
    (["rates", "--target", "gmm:d=100000,K=100000"], "d = 100000, K = 100000"),
    (["rates", "--T", "1000000000"], "T = 1000000000"),
    (["sample", "--T", "99999999999999999999999"], "T = 99999999999999999999999"),
    (["rates", "--T", "50,99999999999999999999999"], "T = 99999999999999999999999"),
])
def test_requests_too_large_for_the_memory_are_refused_before_allocating(tmp_path, argv, fragment):
    err = _fails_cleanly(_cli(tmp_path, *argv), fragment, "of memory, more than the")
    assert os.listdir(tmp_path) == [], err


def test_memory_refusals_in_the_api():
    for call in (lambda: accnum.sample(G, "ddim", S, n=10**12),
                 lambda: exact(G, "ddim", S, n=10**12),
                 lambda: path_kl(G, "ddpm-li", S, n=10**12),
                 lambda: schedules.li2024(10**12),
                 lambda: targets.get("gauss", d=10**6)):
        with pytest.raises(TooLarge) as err:
            call()
        assert "of memory" in _one_line(err.value)


# ------------------------------------------------------------------------------- 4. outputs
def test_unwritable_outputs_are_refused_before_any_work(tmp_path):
    (tmp_path / "x.npy").mkdir()
    (tmp_path / "afile").write_text("")
    cases = [(["sample", "--out", "/proc/x.npy"], "cannot write"),
             (["sample", "--out", "x.npy"], "is a folder"),
             (["sample", "--out", "afile/x.npy"], "does not exist"),
             (["rates", "--out", "/proc/accnum"], "cannot write"),
             (["rates", "--out", "afile"], "is not a folder"),
             (["rates", "--json", "/proc/r.json"], "cannot write"),
             (["rates", "--json", "x.npy"], "is a folder")]
    for argv, fragment in cases:
        _fails_cleanly(_cli(tmp_path, *argv, "--T", "20,40", "--n", "64") if argv[0] == "rates"
                       else _cli(tmp_path, *argv), fragment)
    assert sorted(os.listdir(tmp_path)) == ["afile", "x.npy"]
    assert os.listdir(tmp_path / "x.npy") == []


@pytest.mark.skipif(ROOT, reason="root writes into read-only folders")
def test_a_read_only_folder_is_refused(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        _fails_cleanly(_cli(tmp_path, "sample", "--out", "ro/x.npy"), "cannot write")
    finally:
        ro.chmod(stat.S_IRWXU)


_RATES = ["rates", "--samplers", "ddim-li", "--T", "20,40", "--n", "64", "--out", "out"]


def test_json_inside_a_folder_not_yet_made_is_accepted(tmp_path):
    proc = _cli(tmp_path, *_RATES, "--json", "out/extra.json", "--no-plot")
    assert proc.returncode == 0, proc.stderr
    assert sorted(os.listdir(tmp_path / "out")) == ["extra.json", "rates.csv", "rates.json"]


@pytest.mark.parametrize("mask", [0o022, 0o077])
def test_outputs_honour_the_umask(tmp_path, mask):
    old = os.umask(mask)
    try:
        proc = _cli(tmp_path, *_RATES, "--no-plot")
    finally:
        os.umask(old)
    assert proc.returncode == 0, proc.stderr
    for name in ("rates.csv", "rates.json"):
        assert stat.S_IMODE(os.stat(tmp_path / "out" / name).st_mode) == 0o666 & ~mask


def _old_outputs(folder):
    folder.mkdir()
    for name in ("rates.csv", "rates.json", "rates.png"):
        (folder / name).write_text(f"old {name}")
    return {name: (folder / name).read_text() for name in os.listdir(folder)}


_INTERRUPT = textwrap.dedent("""
    import os, signal, sys, time
    from accnum.experiments.rates import RatesResult
    def plot(self, path):
        os.kill(os.getpid(), getattr(signal, sys.argv[1]))
        time.sleep(5)
    RatesResult.plot = plot
    from accnum.cli import main
    sys.exit(main(sys.argv[2:]))
""")


@pytest.mark.parametrize("sig, code", [("SIGINT", 130), ("SIGTERM", 143)])
def test_an_interrupt_while_the_plot_is_drawn_replaces_nothing(tmp_path, sig, code):
    before = _old_outputs(tmp_path / "out")
    proc = subprocess.run([sys.executable, "-c", _INTERRUPT, sig, *_RATES, "--json", "r.json"], cwd=tmp_path,
                          capture_output=True, text=True)
    assert proc.returncode == code, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    assert {n: (tmp_path / "out" / n).read_text() for n in os.listdir(tmp_path / "out")} == before
    assert sorted(os.listdir(tmp_path)) == ["out"]


def test_a_failure_while_writing_replaces_nothing(tmp_path, monkeypatch, capsys):
    """The third file fails to write: the first two must not have replaced the old ones, and the
    failure is one line naming the cause (a full disk is the user's to fix, not a bug)."""
    import tempfile

    before = _old_outputs(tmp_path / "out")
    real = tempfile.mkstemp
    calls = []

    def failing(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3 and kwargs.get("suffix") == ".part":
            raise OSError(28, "No space left on device")
        return real(*args, **kwargs)

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(tempfile, "mkstemp", failing)
    assert main(_RATES[:-2] + ["--out", str(tmp_path / "out"), "--json", str(tmp_path / "r.json")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["accnum: error: cannot write the outputs: No space left on device; nothing was replaced"]
    assert {n: (tmp_path / "out" / n).read_text() for n in os.listdir(tmp_path / "out")} == before
    assert sorted(os.listdir(tmp_path)) == ["out"]


# ---------------------------------------------------------------- 5. parsing and parameters
def _target_file(tmp_path, text):
    p = tmp_path / "t.json"
    p.write_text(text)
    return str(p)


def test_target_files(tmp_path):
    deep = "[" * 100_000 + "]" * 100_000
    with pytest.raises(InvalidInput, match="nested too deeply"):
        targets.resolve(_target_file(tmp_path, f'{{"weights": {deep}, "means": [[0]], "covariances": [1]}}'))
    with pytest.raises(InvalidInput, match="normalize must be true or false"):
        targets.resolve(_target_file(tmp_path, '{"weights": [2, 2], "means": [[0], [1]], "covariances": [1, 1], '
                                               '"normalize": "false"}'))
    tg = targets.resolve(_target_file(tmp_path, '{"weights": [1e308, 1e308], "means": [[0], [1]], "covariances": [1, 1], '
                                                '"normalize": true}'))
    assert np.allclose(tg.weights, [0.5, 0.5])
    with pytest.raises(InvalidInput, match="unknown key 'mean'"):
        targets.resolve(_target_file(tmp_path, '{"weights": [1], "means": [[0]], "covariances": [1], "mean": 0}'))


@pytest.mark.parametrize("argv, fragments", [
    (["sample", "--c0", "300"], ("c0 = 300 is too large for T = 200", "underflows")),
    (["rates", "--c0", "200", "--T", "25,50"], ("c0 = 200 is too large for T = 50",)),
    (["sensitivity", "--eps-score", "0,1e300"], ("eps_score must be < 1e+150",)),
    (["rates", "--n", "10", "--samplers", "ddim-li", "--T", "20,40"], ("n = 10 is too small for metric 'tv'",
                                                                        "n >= 32")),
    (["rates", "--samplers", "ddim-li,ddim-li"], ("samplers lists 'ddim-li' more than once",)),
])
def test_parameters_are_checked_by_their_own_rule(tmp_path, argv, fragments):
    _fails_cleanly(_cli(tmp_path, *argv), *fragments)
    assert os.listdir(tmp_path) == []


def test_rates_checks_the_schedule_at_the_requested_T():
    """--c1 20 makes beta >= 1 at T = 64, where rates once checked it, but not at T = 1000."""
    res = convergence("gmm1d", ["ddim-li"], "li2024", [1000, 2000], metric="tv", n=64, schedule_params={"c1": 20.0})
    assert len(res.records) == 2


# ---------------------------------------------------------------------------- 6. API gaps
@pytest.mark.parametrize("call, kind, fragment", [
    (lambda: exact(G, "ddim-li", S, n=64, metrics="tv"), None, None),
    (lambda: exact(G, "ddim-li", S, n=64, metrics="bogus"), InvalidInput, "unknown metrics 'bogus'"),
    (lambda: exact(G, "ddim-li", "li2024"), InvalidType, "schedule must be a Schedule"),
    (lambda: convergence("gmm1d", ["ddim-li"], Ts=[20, 40], target_rse=0), InvalidInput, "target_rse must be > 0"),
    (lambda: schedules.Schedule.from_alpha_bar("x", [], 0.1), InvalidInput, "alpha_bar must be"),
    (lambda: schedules.edm(10, rho=1e-300), InvalidInput, "rho = 1e-300 is out of range"),
    (lambda: exact(G, "ddim-li", S, method="quadrature", n=2), InvalidInput, "n must be >= 11 (the halving"),
    (lambda: convergence("gmm1d", ["ddim-li"], schedule=lambda T: "li2024", Ts=[20, 40], n=64), InvalidType,
     "schedule(20) returned a str, not a Schedule"),
    (lambda: path_kl(G, "ddpm-li", "li2024"), InvalidType, "schedule must be a Schedule"),
    (lambda: accnum.sample(G, "ddim", S, score="exact"), InvalidType, "score must be a ScoreModel"),
])
def test_api_gaps_are_errors_naming_the_argument(call, kind, fragment):
    if kind is None:
        assert set(call()) == {"tv"}
        return
    with pytest.raises(kind) as err:
        call()
    assert fragment in _one_line(err.value)


def test_quadrature_with_few_points_has_a_finite_error():
    est = exact(G, "ddim-li", S, method="quadrature", n=11)["tv"]
    assert np.isfinite(est.stderr)


def test_overflowing_scores_are_reported_as_such():
    """A score of 1e308 overflows the points to inf within a few steps: said so, not blamed on x."""
    for backend in ("numpy", "cpu"):
        with pytest.raises(NumericalFailure, match="non-finite"):
            accnum.sample(G, "ddim-li", S, n=10, score=perturb.Bias(G, [1e308]), backend=backend)
        with pytest.raises(NumericalFailure, match="non-finite"):
            exact(G, "ddim-li", S, n=64, score=perturb.Bias(G, [1e308]), backend=backend)


def test_sensitivity_refuses_repeats_and_huge_eps():
    with pytest.raises(InvalidInput, match="more than once"):
        sensitivity(G, ["ddim-li", "ddim-li"], S, [0.0, 0.01])
    with pytest.raises(InvalidInput, match="eps_score must be < 1e"):
        perturb.calibrated("smooth", G, S, 1e300)


# ------------------------------------------------------------------------ 7. smaller promises
def test_no_sobol_balance_warning_in_a_run():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        exact(G, "ddim-li", S, n=100)                               # 100 / 16 points is not a power of two
        convergence("gmm1d", ["accel-ode"], Ts=[25, 50], metric="tv", target_rse=1e-4)   # enlarged n


def test_the_json_of_a_result_is_valid_json(tmp_path):
    res = convergence("gmm1d", ["ddim-li"], Ts=[20, 40], metric="tv", n=64)
    assert json.loads(res.to_json())["records"][0]["metric"] == "tv"


def test_samplers_are_still_all_traceable():
    """Every built-in sampler traces, except those whose noise is multiplied by a matrix that depends on
    the point (GaussianStepSampler), which must be refused with the rule they break."""
    for name in samplers.names():
        s = samplers.get(name)
        if isinstance(s, samplers.GaussianStepSampler):
            with pytest.raises(accnum.errors.UntraceableStep, match="a matrix that depends on the point"):
                accnum.kernels.trace(s, S)
            continue
        accnum.kernels.trace(s, S)


# ------------------------------------------- compiled variants never stand in for each other
_VARIANT = textwrap.dedent("""
    import sys, numpy as np, accnum
    from accnum import ExactScore, perturb, schedules, targets
    tg, S = targets.get("aniso2d"), schedules.li2024(30)
    models = {"exact": lambda: ExactScore(tg), "bias": lambda: perturb.make("bias", tg, 0.1, seed=1),
              "scale": lambda: perturb.make("scale", tg, 0.1)}
    for name in sys.argv[1:]:
        a = accnum.sample(tg, "ddim-li", S, n=8, seed=3, score=models[name](), backend="numpy").x
        b = accnum.sample(tg, "ddim-li", S, n=8, seed=3, score=models[name](), backend="cpu").x
        assert np.max(np.abs(a - b)) < 1e-12, (name, a[0], b[0])
    print("ok")
""")


def test_variants_cached_by_different_processes_are_not_confused(tmp_path):
    """Kernels for different score models, with the same argument types, compiled into one
    cache by separate processes, then loaded together: each still runs its own code (Numba
    names a closure's code by its qualified name and a per-process counter, which collided)."""
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "cache")}

    def run(*names):
        res = subprocess.run([sys.executable, "-c", _VARIANT, *names], capture_output=True, text=True, env=env)
        assert res.returncode == 0 and "ok" in res.stdout, (names, res.stderr[-1500:])

    run("bias")
    run("scale")
    run("exact")
    run("bias", "exact", "scale")
    run("scale", "exact", "bias")


def test_sample_metric_standard_errors_match_the_spread_of_repeated_estimates():
    """Each estimate's standard error against the spread of 60 independent repetitions (the
    batch spread was once divided by sqrt(batches) once too often: 3 to 4 times too small)."""
    from accnum.metrics.samples import sample_metrics

    keys = ("sliced-w2", "energy", "w1", "ks")
    runs = [sample_metrics(G.sample(2000, seed=1000 + r), G, seed=r) for r in range(60)]
    for k in keys:
        spread = np.std([r[k].estimate for r in runs], ddof=1)
        reported = np.mean([r[k].stderr for r in runs])
        assert 0.6 < spread / reported < 1.7, (k, spread, reported)


@pytest.mark.parametrize("fn, sampler", [(path_kl, "ddpm-li"), (grid_tv, "ddpm-li")])
def test_kernel_metrics_refuse_a_score_that_draws_its_own_noise(fn, sampler):
    """With a fresh score error at every evaluation the one-step kernel is a mixture over that
    noise, not the Gaussian these metrics integrate: once path KL returned 0.6 for it."""
    with pytest.raises(MissingCapability) as err:
        fn(G, sampler, S, score=perturb.make("noise", G, 0.05))
    assert "deterministic score" in _one_line(err.value)


class WrongShape(accnum.ScoreModel):
    def score(self, alpha_bar, x):
        return np.zeros((x.shape[0], x.shape[1] + 1))


class NaNScore(accnum.ScoreModel):
    def score(self, alpha_bar, x):
        return np.full(x.shape, np.nan)


@pytest.mark.parametrize("model, fragment", [(WrongShape(), "returned shape"), (NaNScore(), "NaN or inf")])
def test_a_users_score_with_a_wrong_answer_is_named(model, fragment):
    with pytest.raises(InvalidInput) as err:
        accnum.sample(G, "ddim-li", S, n=5, score=model)
    msg = _one_line(err.value)
    assert fragment in msg and type(model).__name__ in msg


# ---------------------------------------------------------------- found by the fuzz campaign (second round)
@pytest.mark.parametrize("call,err,words", [
    (lambda: schedules.cosine(10, max_beta="x"), InvalidType, "max_beta"),
    (lambda: schedules.cosine(10, max_beta=-1), InvalidInput, "max_beta"),
    (lambda: schedules.linear(10, train_steps=10**30), TooLarge, "train_steps"),
    (lambda: schedules.Schedule("x", [0.0, 0.1, 0.2], 0.5, params=5), InvalidType, "params"),
    (lambda: targets.get("gmm1d").sample(10**20), TooLarge, "n = "),
    (lambda: targets.get("gmm1d").to_json(path=5), InvalidType, "path"),
    (lambda: targets.get("gmm1d").score(np.array([[1e200]])), InvalidInput, "magnitude"),
    (lambda: targets.get("gmm1d").posterior(np.zeros((1, 1)), 0.5, 1.5), InvalidInput, "alpha_bar_prev"),
    (lambda: ExactScore(targets.get("gmm1d")).score(0.5, np.zeros((2, 2))), InvalidInput, "columns"),
    (lambda: grid_tv("gmm:d=3,K=2", "ddpm-li", schedules.li2024(10), G=4096), InvalidInput, "d <= 2"),
])
def test_odd_arguments_are_named(call, err, words):
    with pytest.raises(err, match=words) as info:
        call()
    assert "\n" not in str(info.value)


def test_exact_score_takes_array_likes():
    tg = targets.get("gmm1d")
    assert np.array_equal(ExactScore(tg).score(0.5, [[1.0]]), ExactScore(tg).score(0.5, np.array([[1.0]])))


def test_sample_metrics_arguments():
    from accnum.metrics import sample_metrics

    tg = targets.get("gmm1d")
    x = tg.sample(200)
    for bad, err in [(dict(projections=0), InvalidInput), (dict(projections="x"), InvalidType),
                     (dict(metrics=("tv",)), InvalidInput), (dict(metrics=5), InvalidType)]:
        with pytest.raises(err):
            sample_metrics(x, tg, **bad)
    assert set(sample_metrics(x, tg, metrics="w1")) == {"w1"}


def test_c0_message_is_one_short_line(capsys):
    assert main(["rates", "--c0", "1e308", "--T", "10,20"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and len(err) < 200 and "c0 = 1e+308" in err


def test_no_plot_removes_the_old_plot(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(_RATES) == 0
    assert (tmp_path / "out" / "rates.png").exists()
    assert main(_RATES + ["--no-plot"]) == 0
    assert sorted(os.listdir(tmp_path / "out")) == ["rates.csv", "rates.json"]


def test_a_near_miss_is_named_and_an_own_sampler_is_pointed_to_its_import_path():
    with pytest.raises(InvalidInput, match="did you mean 'accel-ode'"):
        samplers.get("accel_ode")
    with pytest.raises(InvalidInput, match="import path, package.module:Class"):
        samplers.get("my_midpoint")
    with pytest.raises(InvalidInput, match="did you mean 'isogauss'"):
        targets.get("isogaus:d=2")
    assert targets.get("isogauss:d=2").d == 2


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_input_files_that_are_not_regular_files_are_refused_not_waited_on(tmp_path):
    """Target and study files are read by one function (accnum.io.read_text): a FIFO would
    block the reader forever, so both refuse it in one line."""
    from accnum.experiments import study

    for name in ("t.json", "s.toml"):
        os.mkfifo(tmp_path / name)
    with pytest.raises(InvalidInput, match="target file .* is not a regular file"):
        GaussianMixture.from_json(tmp_path / "t.json")
    with pytest.raises(InvalidInput, match="study file .* is not a regular file"):
        study.load(tmp_path / "s.toml")
