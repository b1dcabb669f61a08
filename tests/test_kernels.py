"""The compiled backends against the NumPy reference (issue 4): same noise, same numbers.

CUDA runs under the simulator in a separate process (``NUMBA_ENABLE_CUDASIM`` must be set
before Numba is imported), natively when a GPU is present, and every kernel is compiled
to PTX for compute capability 9.0.
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import textwrap

import numba
import numpy as np
import pytest

import accnum
from accnum import kernels, noise, perturb, samplers, schedules, targets
from accnum.metrics.exact import log_rho
from accnum.run import initial_points
from accnum.score import ExactScore

RTOL = 1e-12


def _compiled_names():
    """The samplers the kernels run: every one whose step traces (ddpm-cov multiplies its normal by a
    matrix that depends on the point and is checked to be refused instead)."""
    return [n for n in samplers.names(builtin_only=True) if not isinstance(samplers.get(n), samplers.GaussianStepSampler)]


def test_untraceable_samplers_are_refused_by_the_compiled_backends_in_one_line():
    tg, sched = targets.resolve("aniso2d"), schedules.li2024(12)
    untraceable = [n for n in samplers.names(builtin_only=True) if n not in _compiled_names()]
    assert untraceable == ["ddpm-cov"]
    for name in untraceable:
        with pytest.raises(accnum.errors.UntraceableStep, match=f"sampler '{name}' cannot run on the compiled") as err:
            accnum.sample(tg, name, sched, n=4, seed=1, backend="cpu")
        assert "\n" not in str(err.value)
        assert accnum.sample(tg, name, sched, n=4, seed=1).backend == "numpy"   # auto picks numpy
TARGETS = ["gmm1d", "ring8", "aniso2d", "gmm:d=3,K=4"]


def _rel(a, b):
    return float(np.max(np.abs(a - b) / np.maximum(1.0, np.abs(b))))


def _has_numba_cuda():
    try:
        import numba_cuda  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.mark.parametrize("tname", TARGETS)
@pytest.mark.parametrize("to", [1, 0])
def test_cpu_matches_numpy_for_every_sampler(tname, to):
    tg = targets.resolve(tname)
    sched = schedules.li2024(30)
    for name in _compiled_names():
        ref = accnum.sample(tg, name, sched, n=64, seed=5, to=to, backend="numpy")
        got = accnum.sample(tg, name, sched, n=64, seed=5, to=to, backend="cpu")
        assert got.backend == "cpu"
        assert got.nfe == ref.nfe
        assert _rel(got.x, ref.x) < RTOL, name


@pytest.mark.parametrize("sched", [schedules.linear(40), schedules.logsnr_uniform(40), schedules.edm(40)],
                         ids=lambda s: s.name)
@pytest.mark.parametrize("init", ["exact", "array"])
def test_cpu_matches_numpy_from_given_points(init, sched):
    tg = targets.resolve("aniso2d")
    if init == "exact":
        y0 = initial_points(tg, sched, 50, 2, "exact")
    else:
        y0 = np.random.default_rng(1).standard_normal((50, 2)) * 3
    for name in _compiled_names():
        ref = accnum.sample(tg, name, sched, n=50, seed=2, backend="numpy", init=y0).x
        got = accnum.sample(tg, name, sched, n=50, seed=2, backend="cpu", init=y0).x
        assert _rel(got, ref) < RTOL, name


def test_cpu_matches_numpy_to_the_conditioning_floor_on_cosine():
    """cosine(40) ends with beta_T = 0.999: its first step amplifies rounding by ~30, and a
    one-ulp change of Y_T moves NumPy's own output by up to 1.3e-12.  Stochastic samplers
    take such rounding at every step, so the bound is 1e-12 or ten times that floor."""
    tg = targets.resolve("aniso2d")
    sched = schedules.cosine(40)
    y0 = np.random.default_rng(1).standard_normal((50, 2)) * 3
    for name in _compiled_names():
        ref = accnum.sample(tg, name, sched, n=50, seed=2, backend="numpy", init=y0).x
        got = accnum.sample(tg, name, sched, n=50, seed=2, backend="cpu", init=y0).x
        ulp = accnum.sample(tg, name, sched, n=50, seed=2, backend="numpy", init=y0 * (1 + 2**-52)).x
        assert _rel(got, ref) < max(RTOL, 10 * _rel(ulp, ref)), name


@pytest.mark.parametrize("tname", ["gmm1d", "aniso2d", "gmm:d=3,K=4"])
def test_log_determinant_in_kernel_matches_tangents(tname):
    tg = targets.resolve(tname)
    sched = schedules.li2024(40)
    x = np.random.default_rng(3).standard_normal((40, tg.d))
    for name in samplers.names(builtin_only=True):
        if samplers.get(name).facts.kind != "ode":
            continue
        ref = log_rho(tg, name, sched, x, backend="numpy")
        got = log_rho(tg, name, sched, x, backend="cpu")
        assert np.max(np.abs(got - ref)) < 1e-9 * max(1.0, np.max(np.abs(ref))), name


@pytest.mark.parametrize("kind,param", [("smooth", 0.1), ("bias", 0.05), ("scale", 0.1), ("time", 0.05), ("noise", 0.02)])
def test_perturbed_scores_run_through_the_same_kernels(kind, param):
    tg = targets.resolve("aniso2d")
    sched = schedules.li2024(30)
    for name in ("ddim-li", "accel-ode", "accel-sde", "heun-edm"):
        m1 = perturb.make(kind, tg, param, seed=1, frequency=2.0)
        m2 = perturb.make(kind, tg, param, seed=1, frequency=2.0)
        ref = accnum.sample(tg, name, sched, n=40, seed=3, score=m1, backend="numpy").x
        got = accnum.sample(tg, name, sched, n=40, seed=3, score=m2, backend="cpu").x
        assert _rel(got, ref) < RTOL, name
        assert m1.calls == m2.calls
    if kind != "noise":
        m1, m2 = (perturb.make(kind, tg, param, seed=1, frequency=2.0) for _ in range(2))
        x = np.random.default_rng(0).standard_normal((30, 2))
        ref = log_rho(tg, "accel-ode", sched, x, score=m1, backend="numpy")
        got = log_rho(tg, "accel-ode", sched, x, score=m2, backend="cpu")
        assert np.max(np.abs(got - ref)) < 1e-9


@pytest.mark.parametrize("tname", ["gmm1d", "ring8"])
def test_path_kl_on_kernels_matches_numpy(tname):
    from accnum.metrics.path_kl import path_kl

    tg = targets.resolve(tname)
    sched = schedules.li2024(30)
    for name, score in [("ddpm-li", None), ("accel-sde", None), ("ddpm", None),
                        ("accel-sde", perturb.make("smooth", tg, 0.05, frequency=1.0))]:
        a = path_kl(tg, name, sched, n=200, seed=1, score=score, backend="cpu")
        b = path_kl(tg, name, sched, n=200, seed=1, score=score, backend="numpy")
        assert abs(a.estimate - b.estimate) <= 1e-10 * abs(b.estimate), name
        assert abs(a.stderr - b.stderr) <= 1e-8 * b.stderr, name


@pytest.mark.parametrize("tname,G", [("gmm1d", 401), ("ring8", 40)])
def test_grid_tv_on_kernels_matches_numpy(tname, G):
    """Newton stops point by point in the kernel and for the worst point in NumPy: the
    two agree to the inversion tolerance, far inside the grid's own error."""
    from accnum.metrics.grid import grid_tv

    tg = targets.resolve(tname)
    sched = schedules.li2024(15)
    for name in ("ddpm-li", "accel-sde"):
        a = grid_tv(tg, name, sched, G=G, backend="cpu")
        b = grid_tv(tg, name, sched, G=G, backend="numpy")
        assert abs(a.estimate - b.estimate) <= 1e-7 * abs(b.estimate), name


def test_path_kl_steps_in_chunks_give_the_same_terms(monkeypatch):
    """All steps go to the kernel in chunks of ``_CHUNK // n`` rows: any chunking gives the
    same per-step terms, to the bit."""
    pk = importlib.import_module("accnum.metrics.path_kl")   # the package exports a function of that name
    tg, sched = targets.resolve("gmm1d"), schedules.li2024(23)
    whole = pk.path_kl(tg, "accel-sde", sched, n=50, seed=3, backend="cpu")
    monkeypatch.setattr(pk, "_CHUNK", 50 * 4)            # 4 steps per call, the last call shorter
    parts = pk.path_kl(tg, "accel-sde", sched, n=50, seed=3, backend="cpu")
    assert np.array_equal(whole.extra["per_step"], parts.extra["per_step"])
    assert len(parts.extra["per_step"]) == sched.T


def test_grid_preimages_in_chunks_and_restarts(monkeypatch):
    """The grid's Newton solves run a chunk of steps per kernel call, each step starting from
    the previous step's preimages: chunking changes nothing, and a restart (after a step
    that could not be inverted) starts afresh from the given points."""
    import math

    gm = importlib.import_module("accnum.metrics.grid")
    from accnum.metrics.grid import newton

    tg, sched = targets.resolve("gmm1d"), schedules.li2024(17)
    whole = gm.grid_tv(tg, "accel-sde", sched, G=101, backend="cpu")
    monkeypatch.setattr(gm._Preimages, "POINT_STEPS", 101 * 3)
    parts = gm.grid_tv(tg, "accel-sde", sched, G=101, backend="cpu")
    assert whole.estimate == parts.estimate and whole.stderr == parts.stderr

    model, s = ExactScore(tg), samplers.get("ddpm-li")
    grid = gm._Grid(np.array([-8.0]), np.array([8.0]), 51)
    push = gm._Preimages(("cpu", tg, model), s, sched, grid)
    p = np.exp(-0.5 * grid.points[:, 0] ** 2)
    push(p, grid, 17, math.sqrt(sched.alpha[17]) * grid.points)
    x0 = 0.9 * grid.points
    got = push(p, grid, 16, x0)                          # restart inside the computed chunk
    x, det, _ = newton.solve_compiled("cpu", tg, model, s, sched, 16, 16, grid.points, x0, push.tol)
    assert np.array_equal(got, gm._resample(p, grid, x[0], det[0], s, 16))
    assert push.t_hi == 16


def test_batch_scores_match_numpy():
    from accnum.kernels.points import KernelScore

    for tname in TARGETS:
        tg = targets.resolve(tname)
        x = np.random.default_rng(4).standard_normal((100, tg.d)) * 2
        for model in (ExactScore(tg), perturb.make("smooth", tg, 0.2, frequency=1.5)):
            ks = KernelScore(model, tg.d, "cpu")
            s, J = ks.score_and_jacobian(0.37, x)
            s0, J0 = model.score_and_jacobian(0.37, x)
            assert _rel(s, s0) < RTOL and _rel(J, J0) < 1e-11


def test_same_numbers_for_any_thread_count():
    tg = targets.resolve("ring8")
    sched = schedules.li2024(50)
    before = numba.get_num_threads()
    try:
        outs = []
        for threads in (1, before):
            numba.set_num_threads(threads)
            outs.append(accnum.sample(tg, "accel-sde", sched, n=300, seed=9, backend="cpu").x)
    finally:
        numba.set_num_threads(before)
    assert np.array_equal(outs[0], outs[1])


def test_kernel_noise_is_the_counter_generator():
    @numba.njit
    def draw(key, n, d):
        out = np.empty((n, d))
        for i in range(n):
            k = noise.sample_key(key, i)
            for j in range(d):
                out[i, j] = noise.normal_one(k, j)
        return out

    for seed, step, slot in [(0, 0, 0), (7, 3, 1), (2**40, 2**32 - 1, 100)]:
        got = draw(noise.stream_key(seed, step, slot), 500, 3)
        ref = noise.normals(seed, step, slot, 500, 3)
        assert np.max(np.abs(got - ref)) <= 4e-16 * np.max(np.abs(ref))


def test_tracing_rejects_a_nonlinear_step():
    from accnum.kernels.program import trace
    from accnum.samplers.base import Facts, Sampler

    class Squares(Sampler):
        facts = Facts("squares", "ode", 1, 0, 1.0, "tv", "test")

        def step(self, t, y, z, model, sched, state):
            return y * model(sched.alpha_bar[t], y), state

    with pytest.raises(TypeError, match="linear"):
        trace(Squares(), schedules.li2024(12))


def test_backend_errors_are_one_line():
    tg = targets.resolve("gmm1d")
    sched = schedules.li2024(10)
    with pytest.raises(ValueError, match="backend"):
        accnum.sample(tg, "ddim-li", sched, n=5, backend="gpu")
    with pytest.raises(ValueError, match="noise arrays run on backend 'numpy'"):
        accnum.sample(tg, "ddpm-li", sched, n=5, noise=np.zeros((11, 1, 5, 1)), backend="cpu")
    # auto falls back to numpy for what the kernels cannot take
    assert accnum.sample(tg, "ddpm-li", sched, n=5, noise=np.zeros((11, 1, 5, 1))).backend == "numpy"
    if kernels.cuda_status()[0] == "none":
        with pytest.raises(accnum.errors.BackendUnavailable, match="pip install") as err:
            accnum.sample(tg, "ddim-li", sched, n=5, backend="cuda")
        assert "\n" not in str(err.value)


_CUDA_SCRIPT = textwrap.dedent("""
    import numpy as np, accnum
    from accnum import kernels, perturb, samplers, schedules, targets
    from accnum.metrics.exact import log_rho
    from accnum.kernels.points import KernelScore
    assert kernels.cuda_status()[0] in ("simulator", "device"), kernels.cuda_status()
    sched = schedules.li2024(12)
    for tname in ("gmm1d", "aniso2d", "gmm:d=3,K=2"):
        tg = targets.resolve(tname)
        for name in samplers.names(builtin_only=True):
            if isinstance(samplers.get(name), samplers.GaussianStepSampler):
                continue   # does not trace: refused by the compiled backends (tested on cpu)
            a = accnum.sample(tg, name, sched, n=9, seed=4, backend="cuda")
            b = accnum.sample(tg, name, sched, n=9, seed=4, backend="numpy")
            assert a.backend == "cuda"
            err = np.max(np.abs(a.x - b.x) / np.maximum(1, np.abs(b.x)))
            assert err < 1e-12, (tname, name, err)
        x = np.random.default_rng(0).standard_normal((7, tg.d))
        for name in ("accel-ode", "dpmpp-2m"):
            assert np.max(np.abs(log_rho(tg, name, sched, x, backend="cuda")
                                 - log_rho(tg, name, sched, x, backend="numpy"))) < 1e-9
        if tg.kind != "full":
            assert np.max(np.abs(log_rho(tg, "accel-ode", sched, x, backend="cuda", route="lowrank")
                                 - log_rho(tg, "accel-ode", sched, x, backend="numpy"))) < 1e-9
        if tg.d <= 2:
            from accnum.metrics.path_kl import path_kl
            from accnum.metrics.grid import grid_tv
            for name in ("ddpm-li", "accel-sde"):
                a = path_kl(tg, name, sched, n=12, backend="cuda").estimate
                b = path_kl(tg, name, sched, n=12, backend="numpy").estimate
                assert abs(a - b) <= 1e-10 * abs(b), (name, a, b)
            if tg.d == 1:
                a = grid_tv(tg, "accel-sde", sched, G=201, backend="cuda").estimate
                b = grid_tv(tg, "accel-sde", sched, G=201, backend="numpy").estimate
                assert abs(a - b) <= 1e-7 * abs(b), (a, b)
        m = perturb.make("smooth", tg, 0.1, frequency=2.0)
        s, J = KernelScore(m, tg.d, "cuda").score_and_jacobian(0.5, x)
        s0, J0 = m.score_and_jacobian(0.5, x)
        assert np.max(np.abs(s - s0)) < 1e-12 and np.max(np.abs(J - J0)) < 1e-11
    print("cuda ok")
""")


def _run_cuda_script(env_extra):
    env = {**os.environ, **env_extra}
    res = subprocess.run([sys.executable, "-c", _CUDA_SCRIPT], env=env, capture_output=True, text=True, timeout=900)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-4000:]
    assert "cuda ok" in res.stdout


@pytest.mark.skipif(not _has_numba_cuda(), reason="numba-cuda not installed (pip install 'accnum[cuda]')")
def test_cuda_backend_under_the_simulator():
    _run_cuda_script({"NUMBA_ENABLE_CUDASIM": "1"})


@pytest.mark.skipif(kernels.cuda_status()[0] != "device", reason="no CUDA GPU here")
def test_cuda_backend_on_a_gpu():
    _run_cuda_script({"NUMBA_ENABLE_CUDASIM": "0"})


@pytest.mark.skipif(not _has_numba_cuda(), reason="numba-cuda not installed (pip install 'accnum[cuda]')")
def test_every_kernel_compiles_to_ptx_for_cc90():
    """Every kernel body through the generic CUDA launcher, for real (not the simulator): the
    sampling kernel with every score model's compiled form (tangents are a run-time switch),
    the batch score, the path-KL pairs and the grid's Newton inversion."""
    from accnum.kernels.cuda_launch import kernel_ptx
    from accnum.kernels.executor import run_scratch
    from accnum.kernels.layout import layout
    from accnum.kernels.points import PointScratch, points_body
    from accnum.kernels.program import trace_mean_maps
    from accnum.kernels import sampling
    from accnum.kernels.sampling import compiled_score
    from accnum.metrics.grid.newton import NewtonScratch, newton_body
    from accnum.metrics.path_kl import PairScratch, _truth_workspace, pairs_body
    from accnum.metrics.path_kl.density import gh_rule
    from accnum.metrics.path_kl.pairs import pair_tables
    from accnum.score import Evaluations

    tg = targets.resolve("aniso2d")
    d, sched = tg.d, schedules.li2024(12)
    y = np.zeros((4, d))

    def check(ptx):
        assert ".target sm_90" in ptx and ".entry" in ptx

    for model in [ExactScore(tg)] + [perturb.make(k, tg, 0.1, frequency=1.0) for k in perturb.KINDS]:
        run = sampling.prepare("cuda", tg, model, samplers.get("accel-sde"), sched, y, 0, jac=model.has_jacobian,
                               path=True)
        check(kernel_ptx(run.body, run.score, run.score_jac, run.total, 4, run.args))
    form = ExactScore(tg).compiled_form(Evaluations(np.array([0.5]), np.zeros(1, dtype=np.int64), d))
    total, lay = layout(PointScratch, X=(d, 1), O=(d, 1), J=(d, d, 1), ws=(form.workspace, 1))
    check(kernel_ptx(points_body, form.score, form.score_jac, total, 4, (y, y.copy(), np.zeros((4, d, d)), True,
                                                                        form.params, lay)))
    mm = trace_mean_maps(samplers.get("accel-sde"), sched)
    form = compiled_score(ExactScore(tg), mm, d)
    R = len(mm.steps)
    pair = dict(X=(d, 1), Y=(d, 1), Z=(d, 1), U=(d, 1), R=(d, 1), V=(d, 1), A=(d, d, 1), B=(d, d, 1), C=(d, d, 1),
                logdiag=(1,), top=(1,), tot=(1,), lq=(1,), lp=(1,))
    total, lay = run_scratch(mm.rows, d, max(form.workspace, _truth_workspace(tg)), 1, True, pair, cls=PairScratch)
    pts, logw = gh_rule(8, d)
    args = (np.zeros((2, 4)), 4, 4, 0, np.zeros(R), np.zeros(R), pts, logw, pair_tables(tg, sched, 0, 100),
            mm.arrays(0), form.params, lay)
    check(kernel_ptx(pairs_body, form.score, form.score_jac, total, 8, args))
    newton = dict(Y=(d, 1), X=(d, 1), Xt=(d, 1), St=(d, 1), M=(d, 1), D=(d, d, 1), A=(d, d, 1), B=(d, d, 1),
                  norm=(1,), lam=(1,), done=(1,), its=(1,), det=(1,), acc=(1,))
    total, lay = run_scratch(mm.rows, d, form.workspace, 1, True, newton, cls=NewtonScratch)
    args = (y, y.copy(), np.zeros((2, 4, d)), np.zeros((2, 4)), np.zeros((2, 4), dtype=np.int64), 1e-11, 0,
            mm.arrays(0), form.params, lay)
    check(kernel_ptx(newton_body, form.score, form.score_jac, total, 4, args))
    from accnum.kernels import lowrank

    tg = targets.resolve("gmm:d=3,K=2")
    for model in (ExactScore(tg), perturb.make("bias", tg, 0.1)):
        run = lowrank.prepare("cuda", tg, model, samplers.get("accel-ode"), sched, np.zeros((4, 3)), 0)
        check(kernel_ptx(run.body, run.score, run.score_jac, run.total, 4, run.args))


@pytest.mark.parametrize("lanes", [1, 5, 64, 200])
def test_same_numbers_for_any_block_size(lanes, monkeypatch):
    """A lane's numbers depend only on its own inputs and index: any block size gives the same
    bits (vector body or scalar remainder alike), for sampling, tangents and path-KL pairs."""
    from accnum.kernels import layout
    from accnum.metrics.path_kl import path_kl

    tg, sched = targets.resolve("aniso2d"), schedules.li2024(20)
    x = np.random.default_rng(2).standard_normal((70, 2))
    ref = (accnum.sample(tg, "accel-sde", sched, n=130, seed=4, backend="cpu").x,
           log_rho(tg, "accel-ode", sched, x, backend="cpu"),
           path_kl(targets.resolve("gmm1d"), "accel-sde", sched, n=90, seed=1, backend="cpu").extra["per_step"])
    monkeypatch.setattr(layout, "LANES", lanes)
    got = (accnum.sample(tg, "accel-sde", sched, n=130, seed=4, backend="cpu").x,
           log_rho(tg, "accel-ode", sched, x, backend="cpu"),
           path_kl(targets.resolve("gmm1d"), "accel-sde", sched, n=90, seed=1, backend="cpu").extra["per_step"])
    for a, b in zip(ref, got, strict=True):
        assert np.array_equal(a, b)


def test_cpu_and_numpy_agree_within_the_stated_bound_at_large_T():
    """The kernels run each step as the traced linear combination, NumPy as the sampler's own
    expression: equal in exact arithmetic, one rounding apart per step.  The differences add
    up linearly in T (measured: at most 1.1 T eps on gmm1d, 2.2e-12 at T = 20000), so the
    documented agreement is max(1e-12, 8 T eps) relative (docs/backends.md)."""
    tg = targets.resolve("gmm1d")
    T = 20000
    sched = schedules.li2024(T)
    bound = max(RTOL, 8 * T * np.finfo(float).eps)
    for name in ("accel-ode", "ddpm-li", "ddim-li"):
        ref = accnum.sample(tg, name, sched, n=200, seed=1, backend="numpy").x
        got = accnum.sample(tg, name, sched, n=200, seed=1, backend="cpu").x
        assert _rel(got, ref) < bound, (name, _rel(got, ref), bound)


@pytest.mark.parametrize("name", ["accel-ode", "dpmpp-2m", "accel-sde", "ddpm"])
def test_trajectories_are_the_same_on_every_backend(name):
    tg, sched = targets.resolve("aniso2d"), schedules.li2024(25)
    a = accnum.sample(tg, name, sched, n=40, seed=2, backend="numpy", path=True, to=0)
    b = accnum.sample(tg, name, sched, n=40, seed=2, backend="cpu", path=True, to=0)
    assert a.path.shape == b.path.shape == (26, 40, 2)
    assert _rel(b.path, a.path) < RTOL and np.array_equal(b.path[-1], b.x)
    assert list(b.t) == list(range(25, -1, -1)) and b.abar[-1] == 1.0 and b.sigma[0] > 0.99
    assert accnum.sample(tg, name, sched, n=40, seed=2, backend="cpu").path is None
