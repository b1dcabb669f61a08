"""accnum.plot (issue 13, item 5): figures that leave matplotlib's backend alone, one colour per
sampler, reference slopes in the variable of the axis shown, presets without clipped text or
colliding tick labels, heat maps with colour bars, trajectories over q_t."""

from __future__ import annotations

import io
import math
import subprocess
import sys
import textwrap

import matplotlib
import numpy as np
import pytest
from matplotlib.figure import Figure

import accnum
from accnum import metrics, plot, samplers, schedules
from accnum.errors import InvalidInput, InvalidType
from accnum.experiments.orders import fit_slope, observed_order
from accnum.experiments.rates import RatesResult
from accnum.metrics.grid.density import sampler_law, target_law

from figcheck import problems

SAMPLERS = ("ddim-li", "accel-ode", "ddpm-li", "accel-sde")


def synthetic(schedule="li2024", Ts=(50, 100, 200, 400, 800), names=SAMPLERS, init="gaussian", starts=None):
    """A RatesResult with errors exactly C h^q (q a little off the claim), no sampler run."""
    records, orders = [], []
    for k, s in enumerate(names):
        f = samplers.get(s).facts
        ms = ("tv", "kl") if f.kind == "ode" else ("path-kl", "grid-tv")
        for m in ms:
            claimed, basis = metrics.claimed_order(samplers.get(s), m)
            rs = []
            for T in Ts:
                h = schedules.get(schedule, T).h
                est = (k + 1) * 0.3 * h ** (0.9 * claimed)
                rs.append({"sampler": s, "metric": m, "T": T, "h": h, "nfe": f.nfe * (T - 1), "estimate": est,
                           "stderr": 0.01 * est, "note": ""})
            records += rs
            o = observed_order([r["T"] for r in rs], [r["h"] for r in rs], [r["estimate"] for r in rs],
                               [r["nfe"] for r in rs])
            orders.append({"sampler": s, "metric": m, **o, "claimed": claimed, "claim_basis": basis})
    meta = {"target": "gmm1d", "schedule": f"{schedule}(T)", "schedule_name": schedule, "samplers": list(names),
            "init": init, "warnings": []}
    if starts is not None:
        meta["start_error"] = starts
    return RatesResult(records, orders, meta)


@pytest.fixture
def pdf_backend():
    """A backend other than the default, to see that no plot switches it."""
    before = matplotlib.get_backend()
    matplotlib.use("pdf")
    yield "pdf"
    matplotlib.use(before)


# ------------------------------------------------------------------ backend, figures, axes
def test_no_plot_switches_the_backend(pdf_backend, tmp_path):
    res = synthetic()
    figs = [plot.convergence(res), plot.error_panel(res, "tv")]
    res.plot(tmp_path / "r.png")
    buf = io.BytesIO()
    res.plot(buf)
    assert matplotlib.get_backend() == "pdf"
    assert all(isinstance(f, Figure) for f in figs)
    assert buf.getvalue()[:4] == b"\x89PNG" and (tmp_path / "r.png").read_bytes()[:4] == b"\x89PNG"


def test_plots_never_import_pyplot():
    """A figure made by accnum.plot is a bare Figure: pyplot (and with it a backend) is never loaded."""
    code = textwrap.dedent("""
        import sys, io
        sys.path.insert(0, "tests")
        from test_plot import synthetic
        from accnum import plot
        res = synthetic()
        res.plot(io.BytesIO())
        plot.convergence(res, style="slide")
        assert "matplotlib.pyplot" not in sys.modules, "pyplot was imported"
        print("ok")
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0 and "ok" in proc.stdout, proc.stderr


def test_given_axes_are_drawn_into():
    fig = Figure()
    ax = fig.subplots()
    assert plot.error_panel(synthetic(), "kl", ax=ax) is fig
    assert len(ax.containers) == 2 and ax.get_title() == "kl against T"


def test_bad_arguments_are_refused_in_one_line():
    res = synthetic()
    for call, err, fragment in [
        (lambda: plot.error_panel(res, "tv", ax="not an axes"), InvalidType, "ax must be a matplotlib Axes"),
        (lambda: plot.convergence(res, style="poster"), InvalidInput, "unknown preset 'poster'"),
        (lambda: plot.error_panel(res, "w1"), InvalidInput, "metric must be one of this result's metrics"),
        (lambda: plot.error_panel(res, "tv", against="steps"), InvalidInput, "against must be one of T, nfe, h"),
        (lambda: plot.convergence("rates.json"), InvalidType, "result must be a RatesResult"),
        (lambda: plot.sampler_colour(3), InvalidType, "sampler name"),
        (lambda: plot.converted_slope(1.0, [0.1], [10]), InvalidInput, "at least two"),
    ]:
        with pytest.raises(err, match=fragment) as info:
            call()
        assert "\n" not in str(info.value)


# ----------------------------------------------------------------------------- colours
def _colours_by_sampler(fig):
    seen = {}
    for ax in fig.axes:
        for c in ax.containers:
            label = c.get_label()
            if label in SAMPLERS:
                seen.setdefault(label, set()).add(matplotlib.colors.to_hex(c.lines[0].get_color()))
        for line in ax.get_lines():
            gid = line.get_gid() or ""
            if gid.startswith("reference:"):
                seen.setdefault(gid.split(":", 1)[1], set()).add(matplotlib.colors.to_hex(line.get_color()))
    return seen


def test_one_colour_per_sampler_in_every_panel_and_figure():
    res = synthetic()
    seen = _colours_by_sampler(plot.convergence(res))
    assert set(seen) == set(SAMPLERS)
    assert all(len(c) == 1 for c in seen.values()), seen
    colours = {s: next(iter(c)) for s, c in seen.items()}
    assert len(set(colours.values())) == len(SAMPLERS)
    # the same mapping in another figure, and for a user's sampler name in every process
    other = _colours_by_sampler(plot.convergence(synthetic(names=("accel-sde", "ddim-li")), style="paper"))
    assert {s: next(iter(c)) for s, c in other.items()} == {s: colours[s] for s in ("accel-sde", "ddim-li")}
    assert all(colours[s] == matplotlib.colors.to_hex(plot.sampler_colour(s)) for s in SAMPLERS)
    code = "from accnum.plot import sampler_colour; print(sampler_colour('my-3m'))"
    runs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout for _ in range(2)}
    assert runs == {plot.sampler_colour("my-3m") + "\n"}


# -------------------------------------------------------------------- reference slopes
def _reference_slopes(fig):
    out = {}
    for ax in fig.axes:
        for line in ax.get_lines():
            gid = line.get_gid() or ""
            if gid.startswith("reference:"):
                x, y = (np.asarray(v, dtype=float) for v in line.get_data())
                slope = (math.log(y[-1]) - math.log(y[0])) / (math.log(x[-1]) - math.log(x[0]))
                out[(ax.get_title(), gid.split(":", 1)[1])] = slope
    return out


@pytest.mark.parametrize("schedule", ["li2024", "logsnr_uniform"])
def test_reference_slopes_are_the_claimed_order_converted_to_the_axis(schedule):
    Ts = (50, 100, 200, 400, 800)
    res = synthetic(schedule, Ts)
    slopes = _reference_slopes(plot.convergence(res, against=("T", "nfe", "h")))
    h = np.array([schedules.get(schedule, T).h for T in Ts])
    checked = 0
    for (title, s), slope in slopes.items():
        metric, _, axis = title.partition(" against ")
        claimed = next(o["claimed"] for o in res.orders if o["sampler"] == s and o["metric"] == metric)
        x = {"T": np.array(Ts, float), "NFE": samplers.get(s).facts.nfe * (np.array(Ts, float) - 1), "h": h}[axis]
        want = claimed * fit_slope(np.log(x), np.log(h))["slope"]
        assert slope == pytest.approx(want, rel=1e-9, abs=1e-12), (title, s)
        if axis == "h":
            assert slope == pytest.approx(claimed, rel=1e-12)
        if axis == "T" and schedule != "li2024":
            assert slope == pytest.approx(-claimed, rel=1e-12)
        if axis == "T" and schedule == "li2024":
            # d log h / d log T = -(1 - 1/log T): shallower than -p, as the raw slopes in the table
            assert -claimed < slope < -0.7 * claimed
        checked += 1
    assert checked == 3 * 8


def test_converted_slope_matches_the_documented_value():
    """docs/math/orders.md#raw-slope: an order-1 error over T = 200..1600 on li2024 has raw slope -0.841."""
    Ts = np.array([200, 400, 800, 1600], float)
    h = 4 * np.log(Ts) / Ts
    assert plot.converted_slope(1.0, h, Ts) == pytest.approx(-0.841, abs=5e-4)
    assert plot.converted_slope(2.0, h, Ts) == pytest.approx(-1.682, abs=1e-3)


# ------------------------------------------------------------------------ presets, layout
@pytest.mark.parametrize("style", ["screen", "slide", "notebook", "paper"])
def test_presets_have_no_clipped_text_or_colliding_labels(style):
    fig = plot.convergence(synthetic(), style=style)
    assert problems(fig) == []
    w, h = fig.get_size_inches()
    if style == "slide":
        assert w / h == pytest.approx(16 / 9)
    if style == "paper":
        assert w == pytest.approx(7.0)


def test_the_checker_sees_a_clipped_title():
    fig = Figure(figsize=(2, 2))
    fig.subplots().set_title("a title far too long to fit into a figure two inches wide")
    assert any("clipped" in p for p in problems(fig))


# ------------------------------------------------------------------- densities, paths
def _has_colour_bar(fig, ax):
    return len(fig.axes) == 2 and any(type(c).__name__ == "QuadMesh" for c in ax.collections)


def test_heat_map_of_q_t_over_the_noise_levels_has_a_colour_bar():
    fig = plot.target_density("gmm1d", schedules.li2024(40))
    assert _has_colour_bar(fig, fig.axes[0])
    law = target_law("ring8", [0.5])
    assert law.p.shape == (1, 128, 128)
    fig2 = plot.density(law, "q")
    assert _has_colour_bar(fig2, fig2.axes[0]) and problems(fig2) == []


@pytest.mark.parametrize("sampler, metric", [("ddim-li", "tv"), ("ddpm-li", "grid-tv")])
def test_a_samplers_law_on_the_grid_integrates_to_its_marginal_tv(sampler, metric):
    """The law drawn is the law measured: half the L1 distance of the drawn p_1 from q_1 is the
    metric's TV (to the resolution of the picture's grid)."""
    s = schedules.li2024(30)
    law = sampler_law("gmm1d", sampler, s, steps=[30, 15, 1])
    dx = law.axes[0][1] - law.axes[0][0]
    assert list(law.t) == [30, 15, 1]
    assert np.all(np.abs(law.p.sum(axis=1) * dx - 1) < 2e-3)
    tv_drawn = 0.5 * np.abs(law.p[-1] - law.q[-1]).sum() * dx
    tv = metrics.evaluate(metric, "gmm1d", sampler, s).estimate
    assert tv_drawn == pytest.approx(tv, rel=0.02)
    fig = plot.density(law, "error")
    assert _has_colour_bar(fig, fig.axes[0])


def test_a_2d_map_law_by_change_of_variables_matches_the_exact_tv():
    s = schedules.li2024(20)
    law = sampler_law("ring8", "accel-ode", s, G=200)
    cell = np.prod([a[1] - a[0] for a in law.axes])
    tv_drawn = 0.5 * np.abs(law.p[0] - law.q[0]).sum() * cell
    tv = metrics.evaluate("tv", "ring8", "accel-ode", s).estimate
    # a picture's grid (cells of 0.08 against components of sd 0.3) resolves the TV to a few per cent
    assert tv_drawn == pytest.approx(tv, rel=0.05)


def test_trajectories_over_q_t_with_the_exact_flow():
    s = schedules.li2024(12)
    runs = [accnum.sample("gmm1d", name, s, n=6, path=True) for name in ("ddim-li", "accel-ode")]
    fig = plot.trajectories(runs, "gmm1d", k=4)
    ax = fig.axes[0]
    lines = ax.get_lines()
    by_colour = {}
    for line in lines:
        by_colour.setdefault(matplotlib.colors.to_hex(line.get_color()), []).append(line)
    assert len(by_colour[plot.sampler_colour("ddim-li")]) == 4
    assert len(by_colour[plot.sampler_colour("accel-ode")]) == 4
    exact = by_colour[matplotlib.colors.to_hex("black")]
    assert len(exact) == 4
    # the exact flow starts where the sampled paths start, and ends near accel-ode's ends
    for i, line in enumerate(exact):
        y = line.get_ydata()
        assert y[0] == pytest.approx(runs[0].path[0, i, 0])
        assert abs(y[-1] - runs[1].path[-1, i, 0]) < 0.5
    assert _has_colour_bar(fig, ax)
    with pytest.raises(InvalidInput, match="path=True"):
        plot.trajectories(accnum.sample("gmm1d", "ddim-li", s, n=4), "gmm1d")
    with pytest.raises(InvalidInput, match="d = 1, the target d = 2"):
        plot.trajectories(runs, "ring8")
