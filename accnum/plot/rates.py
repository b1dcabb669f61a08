"""Convergence figures: error against T, total NFE or h, with the claimed orders drawn as
reference slopes in the variable of the axis shown (docs/math/orders.md#raw-slope).

A claimed order ``p`` is stated in ``h`` (``c1 log T / T`` on li2024, ``1/T`` otherwise,
docs/math/orders.md#step-size-h).  An error exactly proportional to ``h^p`` has, against an
axis ``x``, the slope ``p * d log h / d log x``; over a set of points that is ``p`` times the
least-squares slope of ``log h`` on ``log x`` (:func:`converted_slope`), the same fit the
orders table's raw slopes come from.  Against T on li2024 that is about ``-p (1 - 1/log T)``
(-0.84 for ``p = 1`` over T = 200..1600); against T elsewhere exactly ``-p``; against h, ``p``.
"""

from __future__ import annotations

import math
import textwrap

import numpy as np

from ..errors import InvalidInput, InvalidType
from ..experiments.orders import fit_slope
from . import style as _style

AXES = {"T": "T (steps)", "nfe": "total NFE", "h": "h (step-size scale)"}
FLOOR_LABEL = {"tv": "start error TV(N(0, I), q_T)", "kl": "start error KL(N(0, I) || q_T)",
               "kl_qp": "start term KL(q_T || N(0, I))"}


def converted_slope(order: float, h, x) -> float:
    """The slope against ``log x`` of an error exactly proportional to ``h**order``, fitted
    over the given points: ``order`` times the least-squares slope of ``log h`` on ``log x``."""
    h, x = np.asarray(h, dtype=np.float64), np.asarray(x, dtype=np.float64)
    if h.shape != x.shape or h.size < 2 or np.any(h <= 0) or np.any(x <= 0):
        raise InvalidInput("converted_slope needs at least two positive (h, x) pairs of the same length")
    if np.ptp(np.log(x)) == 0:
        raise InvalidInput("converted_slope needs at least two distinct values of x")
    return float(order) * fit_slope(np.log(x), np.log(h))["slope"]


def _check_result(result):
    from ..experiments.rates import RatesResult

    if not isinstance(result, RatesResult):
        raise InvalidType(f"result must be a RatesResult (from accnum.experiments.rates.convergence), got "
                          f"{type(result).__name__}")
    return result


def _series(result, sampler, metric):
    """The finite, positive points of one (sampler, metric), ordered by T."""
    rs = sorted((r for r in result.records if r["sampler"] == sampler and r["metric"] == metric
                 and r["estimate"] is not None and math.isfinite(r["estimate"]) and r["estimate"] > 0),
                key=lambda r: r["T"])
    get = lambda key: np.array([r[key] for r in rs], dtype=np.float64)  # noqa: E731
    return {k: get(k) for k in ("T", "nfe", "h", "estimate", "stderr")} if rs else None


def _order(result, sampler, metric):
    return next((o for o in result.orders if o["sampler"] == sampler and o["metric"] == metric), None)


def _samplers(result):
    return result.meta.get("samplers") or sorted({r["sampler"] for r in result.records})


def metrics_of(result) -> list[str]:
    """The metrics of a result, in the registry's display order."""
    return result._metrics()


def floor_series(result, metric):
    """``(T, value)`` of the start's own error that bounds ``metric`` (None when the run
    started from q_T or the metric has no such floor)."""
    from ..experiments.start import floor_of

    key = floor_of(metric)
    rows = result.meta.get("start_error") or []
    if key is None or not rows or result.meta.get("init", "gaussian") != "gaussian":
        return None
    T = np.array([r["T"] for r in rows], dtype=np.float64)
    v = np.array([r[key] for r in rows], dtype=np.float64)
    keep = np.isfinite(v) & (v > 0)
    return (T[keep], v[keep], key) if keep.any() else None


def error_panel(result, metric: str, against: str = "T", ax=None, style="screen", reference: bool = True,
                floor: bool = True, legend: bool = True, names: bool = True):
    """One panel: ``metric`` against ``against`` (``"T"``, ``"nfe"`` or ``"h"``) for every
    sampler of ``result``, with error bars, the claimed orders as dashed reference slopes
    converted to the axis, and (against T or h) the start's own error as a dotted floor.
    The legend gives per sampler the fitted order in h and the claimed order with the slope
    drawn for it (``names=False`` leaves the sampler names to a figure legend).  Returns the
    figure."""
    from matplotlib.legend_handler import HandlerTuple

    result = _check_result(result)
    if not isinstance(metric, str) or metric not in metrics_of(result):
        raise InvalidInput(f"metric must be one of this result's metrics: {', '.join(metrics_of(result))}; got {metric!r}")
    if against not in AXES:
        raise InvalidInput(f"against must be one of {', '.join(AXES)}, got {against!r}")
    with _style.rc(style):
        fig, ax = _style.one_axes(ax, style)
        xs_all, entries = [], []
        for s in _samplers(result):
            d = _series(result, s, metric)
            if d is None:
                continue
            c = _style.sampler_colour(s)
            x, e = d[against], d["estimate"]
            xs_all.append(x)
            bars = ax.errorbar(x, e, yerr=d["stderr"], marker="o", color=c, capsize=2, label=s)
            o = _order(result, s, metric)
            parts = [s] if names else []
            if o is not None and o.get("order") is not None and math.isfinite(o["order"]) and against != "nfe":
                parts.append(f"$\\hat p$ {o['order']:.2f}")
            handle = bars
            claimed = None if o is None else o.get("claimed")
            if reference and claimed is not None and len(x) >= 2 and np.ptp(x) > 0:
                slope = converted_slope(claimed, d["h"], x)
                ends = np.array([x.min(), x.max()])
                last = int(np.argmax(d["T"]))
                line, = ax.plot(ends, e[last] * (ends / x[last]) ** slope, ls="--", color=c, alpha=0.75,
                                gid=f"reference:{s}")
                parts.append(f"claimed {claimed:g} \u2192 {slope:.2f}")
                handle = (bars, line)
            entries.append((handle, ", ".join(parts)))
        fl = floor_series(result, metric) if floor and against in ("T", "h") else None
        if fl is not None:
            T, v, _ = fl
            x = T if against == "T" else np.array([_h_of(result, t) for t in T])
            line, = ax.plot(x, v, ls=":", color=_style.REFERENCE, marker="x", gid="floor")
            entries.append((line, FLOOR_LABEL[fl[2]]))
        ax.set(xscale="log", yscale="log", xlabel=AXES[against], ylabel=metric,
               title=f"{metric} against {'NFE' if against == 'nfe' else against}")
        _log_y(ax)
        if xs_all:
            values = np.unique(np.concatenate(xs_all))
            if against == "T":
                _log_ticks(ax.xaxis, values)
            else:
                _log_ticks(ax.xaxis, _nice(values.min(), values.max()), integer=against == "nfe")
        if legend and entries:
            handles, labels = zip(*entries, strict=True)
            # errors fall to the right against T and NFE, rise to the right against h; a long
            # legend goes where it hides least
            where = "best" if len(entries) > 3 else ("lower right" if against == "h" else "lower left")
            leg = ax.legend(handles, labels, loc=where, handler_map={tuple: HandlerTuple(ndivide=None)},
                            handlelength=3.0, fontsize=legend_fontsize(ax, labels, 3.0))
            leg.set_in_layout(False)   # inside the axes: it must not shrink them
    return fig


def legend_fontsize(ax, labels, handlelength: float = 2.0) -> float:
    """The rc legend font size, or smaller so that the longest label (about 0.55 em a
    character, mathtext markup not counted) and its handle fit in the axes' width (estimated
    as 65% of its grid cell, the rest being tick labels)."""
    import re

    import matplotlib
    from matplotlib.font_manager import FontProperties

    base = FontProperties(size=matplotlib.rcParams["legend.fontsize"]).get_size_in_points()
    spec = ax.get_subplotspec()
    cols = spec.get_gridspec().ncols if spec is not None else 1
    width_in = ax.figure.get_figwidth() / cols * 0.65
    chars = max(len(re.sub(r"\$\\hat p\$", "p", lab)) for lab in labels)
    fit = width_in * 72 / (0.55 * chars + handlelength + 2.0)
    return max(5.0, min(base, fit))


def _log_y(ax):
    """Labels only on major ticks: decades when the data span two or more, else 1-2-5
    values (a log axis's default labels its minor ticks then, and they collide)."""
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter

    lo, hi = ax.dataLim.y0, ax.dataLim.y1
    if not (np.isfinite(lo) and np.isfinite(hi) and 0 < lo < hi):
        return
    ax.yaxis.set_minor_formatter(NullFormatter())
    if math.log10(hi / lo) < 2:
        ax.yaxis.set_major_locator(FixedLocator(_nice(lo, hi)))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: _sci(v)))


def _sci(v: float) -> str:
    """``v`` as mathtext ``m x 10^e`` (``10^e`` when m = 1)."""
    if v <= 0:
        return ""
    e = math.floor(math.log10(v) + 1e-9)
    m = v / 10.0 ** e
    head = "" if abs(m - 1) < 1e-6 else f"{m:.3g}\\times"
    return f"$\\mathdefault{{{head}10^{{{e}}}}}$"


def _nice(lo: float, hi: float):
    """The 1-2-5 values within [lo, hi] (the two ends when there are fewer than two), as a
    log axis's ticks."""
    out = np.array([m * 10.0 ** k for k in range(math.floor(math.log10(lo)) - 1, math.ceil(math.log10(hi)) + 1)
                    for m in (1, 2, 5)])
    inside = out[(out >= lo * 0.999) & (out <= hi * 1.001)]
    return inside if inside.size >= 2 else np.array([lo, hi])


def _h_of(result, T):
    r = next(r for r in result.records if r["T"] == T)
    return r["h"]


def _log_ticks(axis, values, integer=True, most: int = 6):
    """Major ticks at (at most ``most``, evenly thinned) data values, plain labels, no minor
    labels: a log axis spanning less than a decade otherwise labels its minor ticks, which
    then collide."""
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter

    values = np.asarray(sorted(set(float(v) for v in values)))
    if values.size > most:
        values = values[np.unique(np.round(np.linspace(0, values.size - 1, most)).astype(int))]
    axis.set_major_locator(FixedLocator(values))
    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:.0f}" if integer else f"{v:.2g}"))
    axis.set_minor_formatter(NullFormatter())


def _sampler_legend(fig, result, title):
    """One legend for the figure, above the panels: each sampler's colour, under ``title``."""
    import matplotlib
    from matplotlib.lines import Line2D

    names = [s for s in _samplers(result) if any(r["sampler"] == s for r in result.records)]
    handles = [Line2D([], [], color=_style.sampler_colour(s), marker="o") for s in names]
    fig.legend(handles, names, loc="outside upper center", ncols=min(len(names), 6), frameon=False, title=title,
               title_fontsize=matplotlib.rcParams["figure.titlesize"])


def footer(result) -> str:
    """What the dashed and dotted lines are, in the variable the orders are stated in."""
    li = result.meta.get("schedule_name", "li2024") == "li2024"
    if li:
        text = ("p-hat: the order fitted in h = c1 log T / T. Dashed, 'claimed p \u2192 s': the claimed order p drawn "
                "through the point at the largest T with the slope s an error proportional to h^p has against the axis "
                "shown over these points (against T about -p(1 - 1/log T), not -p).")
    else:
        text = ("p-hat: the order fitted in h = 1/T. Dashed, 'claimed p \u2192 s': the claimed order p drawn through "
                "the point at the largest T with its slope s against the axis shown (-p against T; against NFE nearly "
                "-p).")
    if any(floor_series(result, m) is not None for m in metrics_of(result)):
        text += " Dotted grey: the start's own error from Y_T ~ N(0, I), which no sampler removes."
    if result.meta.get("warnings"):
        text += " Warning: " + result.meta["warnings"][0]
    return text


def wrap(text: str, fig, fontsize: float) -> str:
    """``text`` wrapped to the figure's width (about 0.55 em per character)."""
    chars = max(40, int(fig.get_figwidth() * 72 / (0.55 * fontsize)))
    return "\n".join(textwrap.wrap(text, chars))


def convergence(result, metrics=None, against=("T", "nfe"), style="screen", reference: bool = True,
                floor: bool = True):
    """The convergence figure of a :class:`~accnum.experiments.rates.RatesResult`: a column per
    metric, a row per axis in ``against`` (default error against T and against total NFE),
    a title naming target and schedule and a footer saying what the reference lines are.
    Returns a new figure."""
    result = _check_result(result)
    metrics = metrics_of(result) if metrics is None else ([metrics] if isinstance(metrics, str) else list(metrics))
    if not metrics:
        raise InvalidInput("metrics must name at least one metric of the result")
    against = [against] if isinstance(against, str) else list(against)
    if not against:
        raise InvalidInput(f"against must name at least one of {', '.join(AXES)}")
    for m in metrics:
        if m not in metrics_of(result):
            raise InvalidInput(f"metrics must be among this result's metrics: {', '.join(metrics_of(result))}; got {m!r}")
    p = _style.preset(style)
    # a row per axis and a column per metric; with one metric, or more than the preset's
    # columns, a row per metric and a column per axis
    by_metric = len(metrics) > p.max_columns or (len(metrics) == 1 and len(against) <= p.max_columns)
    nrows, ncols = (len(metrics), len(against)) if by_metric else (len(against), len(metrics))
    with _style.rc(p):
        fig, axes = _style.new_figure(nrows, ncols, p)
        for i, a in enumerate(against):
            for j, m in enumerate(metrics):
                ax = axes[j, i] if by_metric else axes[i, j]
                error_panel(result, m, a, ax=ax, style=p, reference=reference, floor=floor, names=False)
        meta = result.meta
        _sampler_legend(fig, result, f"{meta.get('target', '')}, {meta.get('schedule', '')}, "
                                     f"start {meta.get('init', 'gaussian')}")
        fs = p.rc.get("font.size", 10) - 1
        fig.supxlabel(wrap(footer(result), fig, fs), fontsize=fs)
    return fig
