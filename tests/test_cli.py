"""The command line: commands work, bad input gives one line, status 2, no file."""

import os
import subprocess
import sys

import numpy as np
import pytest

from accnum.errors import InvalidInput

from accnum.cli import main


def test_samplers_and_targets(capsys):
    assert main(["samplers"]) == 0
    out = capsys.readouterr().out
    assert "accel-sde-readme" in out and "heun-edm" in out
    assert main(["targets"]) == 0
    assert "gmm1d (default)" in capsys.readouterr().out


def test_sample_writes_npy(tmp_path, capsys):
    out = tmp_path / "s.npy"
    assert main(["sample", "--T", "30", "--n", "50", "--sampler", "ddpm-li", "--out", str(out)]) == 0
    x = np.load(out)
    assert x.shape == (50, 1)
    assert "50 samples" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["sample", "--sampler", "nope"], "unknown sampler 'nope'; valid:"),
        (["sample", "--T", "1"], "T must be >= 2"),
        (["sample", "--n", "0"], "n must be >= 1"),
        (["sample", "--schedule", "bad"], "unknown schedule 'bad'"),
        (["sample", "--target", "missing.json"], "no such file"),
        (["sample", "--target", "nope"], "unknown target 'nope'"),
        (["sample", "--T", "abc"], "invalid int value"),
        (["sample", "--schedule", "cosine", "--c0", "1"], "--c0 applies to the li2024 schedule only"),
        (["sample", "--out", "x.txt"], "--out must name a .npy file"),
    ],
)
def test_bad_input_one_line_status_2_no_file(tmp_path, argv, message):
    proc = subprocess.run([sys.executable, "-m", "accnum.cli", *argv], cwd=tmp_path, capture_output=True, text=True)
    assert proc.returncode == 2
    err = proc.stderr.strip()
    assert message in err and "\n" not in err and "Traceback" not in err
    assert os.listdir(tmp_path) == []


def test_bad_json_target(tmp_path):
    bad = tmp_path / "t.json"
    bad.write_text('{"weights": [0.5, 0.6], "means": [[0], [1]], "covariances": [1, 1]}')
    proc = subprocess.run([sys.executable, "-m", "accnum.cli", "sample", "--target", str(bad)], cwd=tmp_path,
                          capture_output=True, text=True)
    assert proc.returncode == 2 and "weights must sum to 1" in proc.stderr
    assert sorted(os.listdir(tmp_path)) == ["t.json"]


def test_help_everywhere():
    for argv in (["--help"], ["sample", "--help"], ["samplers", "--help"], ["targets", "--help"]):
        with pytest.raises(SystemExit) as info:
            main(argv)
        assert info.value.code == 0


def test_sample_with_path_writes_the_trajectory(tmp_path, capsys):
    out = tmp_path / "p.npz"
    assert main(["sample", "--T", "25", "--n", "30", "--sampler", "accel-sde", "--path", "--out", str(out)]) == 0
    data = np.load(out)
    assert data["path"].shape == (25, 30, 1) and np.array_equal(data["path"][-1], data["x"])
    assert list(data["t"][:2]) == [25, 24] and data["t"][-1] == 1
    assert np.allclose(data["sigma"], np.sqrt(1 - data["abar"]))
    # read back as the SampleResult accnum.plot.trajectories takes
    from accnum import plot
    from accnum.run import SampleResult

    res = SampleResult.load(out)
    assert (res.sampler, res.T, res.path.shape) == ("accel-sde", 25, (25, 30, 1))
    assert np.array_equal(res.x, data["x"])
    assert plot.trajectories(res, "gmm1d").axes
    np.savez(tmp_path / "other.npz", x=data["x"])
    with pytest.raises(InvalidInput, match="not a file written by accnum sample --path"):
        SampleResult.load(tmp_path / "other.npz")
    assert main(["sample", "--path", "--out", str(tmp_path / "x.npy")]) == 2
    assert "--out must name a .npz file with --path" in capsys.readouterr().err


def _cache_snapshot(cache):
    return {p.relative_to(cache).as_posix(): p.read_bytes() for p in sorted(cache.rglob("*")) if p.is_file()}


def test_info_warm_fills_the_cache_so_that_rates_does_not_compile(tmp_path):
    """``accnum info --warm`` on an empty Numba cache compiles into it (index files appear);
    a following ``accnum rates`` finds every kernel there: it writes no cache file."""
    cache = tmp_path / "cache"
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache)}
    warm = subprocess.run([sys.executable, "-m", "accnum.cli", "info", "--warm"], cwd=tmp_path, env=env,
                          capture_output=True, text=True)
    assert warm.returncode == 0, warm.stderr
    assert "compiled" in warm.stdout and "rates ddim-li" in warm.stdout and "sample_body" in warm.stdout
    before = _cache_snapshot(cache)
    assert any(name.endswith(".nbi") for name in before) and any(name.endswith(".nbc") for name in before)
    rates = subprocess.run([sys.executable, "-m", "accnum.cli", "rates", "--T", "10,20", "--n", "256", "--no-plot",
                            "--out", str(tmp_path / "out")], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert rates.returncode == 0, rates.stderr
    after = _cache_snapshot(cache)
    assert sorted(set(after) - set(before)) == []
    assert [name for name in before if after[name] != before[name]] == []


def test_progress_bar_says_when_numba_compiles():
    """A first run's bar says it is compiling while a compile runs (not seemingly stuck), stops
    saying so when it ends, and leaves the compile out of its rate (the time left)."""
    import numba
    from numba.core import event

    from accnum.cli.common import COMPILING, _compile_note

    class Bar:
        said, last_print_t = [], 0.0

        def set_postfix_str(self, s, refresh=True):
            self.said.append(s)

        def _time(self):
            return 42.0

    @numba.njit(cache=False)
    def fresh(x):
        return x + 1

    bar = Bar()
    with event.install_listener("numba:compile", _compile_note(event, bar)):
        fresh(1)
    assert bar.said == [COMPILING, ""]
    assert bar.last_print_t == 42.0       # the bar's rate restarts after the compile


def test_progress_bar_without_a_terminal_passes_items_through():
    from accnum.cli.common import bar

    seen = []
    assert list(bar([1, 2, 3], "run", describe=lambda i: seen.append(i) or str(i))) == [1, 2, 3]
    assert seen == [1, 2, 3]
