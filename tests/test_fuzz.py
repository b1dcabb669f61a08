"""Fuzzing every public entry point with invalid input (issue 6): only ValueError/TypeError
with a one-line message; the CLI exits 2 with one line on stderr, no traceback, no file."""

import math
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies import mixtures

import accnum
from accnum import GaussianMixture, perturb, schedules, targets
from accnum.assumptions import measure
from accnum.cli import main
from accnum.experiments.rates import convergence
from accnum.experiments.sensitivity import sensitivity
from accnum.metrics import evaluate
from accnum.metrics.exact import exact
from accnum.metrics.grid import grid_tv
from accnum.metrics.path_kl import path_kl

JUNK = st.one_of(
    st.none(), st.booleans(), st.text(max_size=8), st.integers(-5, 3), st.just(10**30),
    st.floats(allow_nan=True, allow_infinity=True), st.lists(st.floats(-2, 2), max_size=3),
    st.just(np.full((2, 2, 2, 2), np.nan)), st.just(np.zeros((0, 1))), st.just(np.ones((3, 4))), st.just({"a": 1}),
)
fuzz = settings(deadline=None, suppress_health_check=list(HealthCheck), max_examples=40)

G = targets.get("gmm1d")
S = schedules.li2024(20)


def _documented(fn, *args, **kwargs):
    try:
        fn(*args, **kwargs)
    except (ValueError, TypeError) as err:
        msg = str(err)
        assert msg and "\n" not in msg, repr(msg)
        return err
    return None


@fuzz
@given(w=JUNK, m=JUNK, c=JUNK)
def test_mixture_constructor(w, m, c):
    _documented(GaussianMixture, w, m, c)


@fuzz
@given(x=JUNK, ab=JUNK, n=JUNK, seed=JUNK)
def test_mixture_methods(x, ab, n, seed):
    for f in (G.logpdf, G.score, G.score_jacobian, G.cdf):
        _documented(f, x)
    _documented(G.diffused, ab)
    _documented(G.sample, n, seed)
    _documented(G.posterior, x, ab, 0.5)


@fuzz
@given(name=st.one_of(st.text(max_size=6), JUNK), T=JUNK, p=JUNK)
def test_schedules_and_targets(name, T, p):
    _documented(schedules.get, name, T)
    for f in (schedules.li2024, schedules.linear, schedules.cosine, schedules.edm, schedules.logsnr_uniform):
        _documented(f, T)
    _documented(schedules.li2024, 50, c0=p)
    _documented(targets.get, name)
    _documented(targets.resolve, name)
    _documented(targets.get, "gmm", d=p, K=2)


@fuzz
@given(arg=st.sampled_from(["target", "sampler", "schedule", "n", "seed", "init", "noise", "to", "backend", "score"]),
       value=JUNK)
def test_sample(arg, value):
    kwargs = {"target": G, "sampler": "ddpm-li", "schedule": S, "n": 4, "seed": 0}
    kwargs[arg] = value
    _documented(accnum.sample, **kwargs)


@fuzz
@given(arg=st.sampled_from(["metric", "sampler", "n", "seed", "init", "target"]), value=JUNK)
def test_metrics(arg, value):
    kwargs = {"metric": "tv", "target": G, "sampler": "ddim-li", "schedule": S, "n": 64, "seed": 0}
    kwargs[arg] = value
    _documented(evaluate, **kwargs)
    for fn, smp in ((exact, "ddim-li"), (path_kl, "ddpm-li"), (grid_tv, "ddpm-li")):
        kw = {"target": G, "sampler": smp, "schedule": S, "init": "gaussian"}
        if arg in ("sampler", "init", "target"):
            kw[arg] = value
        if fn is not grid_tv and arg in ("n", "seed"):
            kw[arg] = value
        _documented(fn, **kw)


@fuzz
@given(kind=st.one_of(st.sampled_from(perturb.KINDS), JUNK), es=JUNK, ej=JUNK)
def test_perturbations(kind, es, ej):
    _documented(perturb.calibrated, kind, G, S, es, ej, n=20)
    _documented(perturb.make, kind, G, es)
    _documented(measure, perturb.Bias(G, [0.1]), G, S, n=es)


@fuzz
@given(arg=st.sampled_from(["samplers", "Ts", "metric", "n", "seed", "init", "schedule"]), value=JUNK)
def test_experiments(arg, value):
    kwargs = {"samplers": ["ddim-li"], "Ts": [3], "metric": "tv", "n": 64, "seed": 0}
    kwargs[arg] = value
    if arg != "Ts":
        kwargs["Ts"] = [3]          # T = 3 is too small for li2024: every call must fail fast
    _documented(convergence, "gmm1d", **kwargs)
    skw = {"samplers": ["ddim-li"], "schedule": S, "eps_scores": [-1.0], "seed": 0}
    key = {"samplers": "samplers", "Ts": "eps_scores", "metric": "metric", "n": "n", "seed": "seed",
           "init": "kind", "schedule": "schedule"}[arg]
    skw[key] = value
    _documented(sensitivity, "gmm1d", **skw)


BAD = {
    "--T": ["0", "1", "-5", "abc", "", "10,5", "nan", "1,1", "1000000000", "99999999999999999999999", "50,50"],
    "--n": ["0", "-1", "abc", "1.5", "1000000000000"],
    "--seed": ["-1", "abc", "1e3"],
    "--target": ["nope", "missing.json", "gmm:d=0", "gmm:d=a", "gmm1d:z=1", "gmm:d=100000,K=100000",
                 "gauss:d=1000000"],
    "--schedule": ["nope", ""],
    "--c0": ["abc", "-1", "nan", "300"],
    "--metric": ["nope"],
    "--out": [os.path.join("no", "such", "dir", "x.npy"), "/proc/accnum-x.npy"],
    "--json": ["/proc/accnum-r.json", os.path.join("no", "such", "r.json")],
    "--samplers": ["ddim-li,ddim-li", "nope", ","],
    "--eps-score": ["1e300", "-1", "abc", "0,0"],
}
GOOD = {"--T": ["20", "20,40"], "--n": ["16"], "--seed": ["0", "3"], "--target": ["gmm1d"], "--schedule": ["li2024"]}
COMMANDS = {
    "sample": ["--T", "--n", "--seed", "--target", "--schedule", "--c0", "--out"],
    "rates": ["--T", "--n", "--seed", "--target", "--schedule", "--c0", "--metric", "--out", "--json", "--samplers"],
    "sensitivity": ["--T", "--n", "--seed", "--target", "--schedule", "--c0", "--metric", "--out", "--json",
                    "--eps-score"],
}


@st.composite
def bad_argv(draw):
    cmd = draw(st.sampled_from(sorted(COMMANDS)))
    opts = COMMANDS[cmd]
    bad_opt = draw(st.sampled_from([o for o in opts if o in BAD]))
    argv = [cmd, bad_opt, draw(st.sampled_from(BAD[bad_opt]))]
    for opt in draw(st.lists(st.sampled_from([o for o in opts if o in GOOD and o != bad_opt]), max_size=2, unique=True)):
        argv += [opt, draw(st.sampled_from(GOOD[opt]))]
    return argv


@settings(deadline=None, suppress_health_check=list(HealthCheck), max_examples=60)
@given(argv=bad_argv())
def test_cli_invalid_input(tmp_path_factory, argv):
    folder = tmp_path_factory.mktemp("cli")
    cwd = os.getcwd()
    os.chdir(folder)
    try:
        import contextlib
        import io

        err = io.StringIO()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            rc = main(argv)
    finally:
        os.chdir(cwd)
    lines = err.getvalue().strip().splitlines()
    assert rc == 2, (argv, err.getvalue())
    assert len(lines) == 1 and lines[0].startswith("accnum: error: ") and "Traceback" not in err.getvalue()
    assert os.listdir(folder) == [], argv


@pytest.mark.parametrize("argv", [["bogus"], ["rates", "--bogus"], ["sample", "--to", "5"], ["sensitivity", "--kind", "x"]])
def test_cli_usage_errors(argv, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("accnum: error:")


def test_inf_and_nan_inputs_are_named():
    with pytest.raises(ValueError, match="init must be finite"):
        accnum.sample(G, "ddim-li", S, init=np.array([[math.nan]]))


# ------------------------------------------------------------------ the score-parity rule
@settings(deadline=None, suppress_health_check=list(HealthCheck), max_examples=12)
@given(pair=st.integers(1, 3).flatmap(lambda d: st.tuples(mixtures(max_k=4, min_d=d, max_d=d),
                                                          mixtures(max_k=4, min_d=d, max_d=d))),
       name=st.sampled_from(["ddim-li", "accel-ode", "dpmpp-2m", "accel-sde", "ddpm"]),
       kind=st.sampled_from(["exact", "smooth", "scale", "time"]))
def test_a_compiled_backend_runs_the_score_it_was_given(pair, name, kind):
    """Any target, any score model built on any other mixture: cpu computes what numpy does."""
    target, other = pair
    sched = schedules.li2024(20)

    def model():
        return accnum.ExactScore(other) if kind == "exact" else perturb.make(kind, other, 0.05, seed=2, frequency=1.0)

    a = accnum.sample(target, name, sched, n=16, seed=1, score=model(), backend="numpy").x
    b = accnum.sample(target, name, sched, n=16, seed=1, score=model(), backend="cpu").x
    assert np.max(np.abs(a - b) / np.maximum(1.0, np.abs(a))) < 1e-11


# --------------------------------------------------------- outputs under interrupts and failures
_INTERRUPTED = """
import os, signal, sys
import accnum.io as aio
from accnum.experiments.rates import RatesResult
where, sig, argv = sys.argv[1], getattr(signal, sys.argv[2]), sys.argv[3:]
kill = lambda *a, **k: os.kill(os.getpid(), sig)
if where == "compute":
    import accnum.experiments.rates as r
    real = r.convergence
    r.convergence = lambda *a, **k: (kill(), real(*a, **k))[1]
elif where == "plot":
    RatesResult.plot = lambda self, path: (kill(), __import__("time").sleep(5))
elif where == "between-files":
    real_chmod, seen = aio.os.chmod, []
    def chmod(*a):
        seen.append(1)
        real_chmod(*a)
        if len(seen) == 2:
            kill()
    aio.os.chmod = chmod
from accnum.cli import main
sys.exit(main(argv))
"""


@settings(deadline=None, suppress_health_check=list(HealthCheck), max_examples=8)
@given(where=st.sampled_from(["compute", "plot", "between-files"]), sig=st.sampled_from(["SIGINT", "SIGTERM"]),
       json_inside=st.booleans())
def test_an_interrupted_run_replaces_no_output(tmp_path_factory, where, sig, json_inside):
    import subprocess
    import sys

    folder = tmp_path_factory.mktemp("int")
    out = folder / "out"
    out.mkdir()
    for name in ("rates.csv", "rates.json", "rates.png"):
        (out / name).write_text("old")
    json_path = str(out / "r.json") if json_inside else str(folder / "r.json")
    argv = ["rates", "--samplers", "ddim-li", "--T", "20,40", "--n", "64", "--out", str(out), "--json", json_path]
    proc = subprocess.run([sys.executable, "-c", _INTERRUPTED, where, sig, *argv], capture_output=True, text=True)
    assert proc.returncode == {"SIGINT": 130, "SIGTERM": 143}[sig], proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    assert sorted(os.listdir(out)) == ["rates.csv", "rates.json", "rates.png"]
    assert all((out / n).read_text() == "old" for n in os.listdir(out))
    assert sorted(os.listdir(folder)) == ["out"]
