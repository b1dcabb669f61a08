"""Samplers at equal cost: error against the NFE budget, the best sampler per budget starred,
and the cells that could not be measured named under the figure."""

from __future__ import annotations

import numpy as np

from ..errors import InvalidType
from . import style as _style
from .rates import _log_ticks, _log_y, wrap


def _check(result):
    from ..experiments.compare import CompareResult

    if not isinstance(result, CompareResult):
        raise InvalidType(f"result must be a CompareResult (from accnum.experiments.compare.equal_cost), got "
                          f"{type(result).__name__}")
    return result


def budget_panel(result, ax=None, style="screen"):
    """Error against the NFE budget, a line per sampler, a star on each budget's best.
    Returns the figure."""
    from ..experiments.compare import _finite

    result = _check(result)
    with _style.rc(style):
        fig, ax = _style.one_axes(ax, style)
        for s in result.meta["samplers"]:
            rs = [r for r in result.records if r["sampler"] == s and _finite(r["estimate"]) and r["estimate"] > 0]
            if not rs:
                continue
            k = rs[0]["nfe_per_step"]
            ax.errorbar([r["budget"] for r in rs], [r["estimate"] for r in rs], yerr=[r["stderr"] for r in rs],
                        marker="o", capsize=2, color=_style.sampler_colour(s), label=f"{s} ({k} NFE/step)")
        for b in result.best:
            if b["sampler"] is not None and b["estimate"] > 0:
                ax.plot([b["budget"]], [b["estimate"]], marker="*", ms=16, color=_style.sampler_colour(b["sampler"]),
                        markeredgecolor="black", ls="none", gid=f"best:{b['budget']}:{b['sampler']}", zorder=5)
        ax.set(xscale="log", yscale="log", xlabel="NFE budget per sample", ylabel=result.meta["metric"],
               title=f"{result.meta['metric']} at equal cost")
        _log_ticks(ax.xaxis, np.asarray(result.meta["budgets"], dtype=float))
        _log_y(ax)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(loc="best")
    return fig


def missing(result) -> list[str]:
    """The cells without an estimate, in words."""
    from ..experiments.compare import _finite, _short

    return [f"{r['sampler']} at {r['budget']}: {_short(r['note'], r['T'])}" for r in result.records
            if not _finite(r["estimate"])]


def compare(result, style="screen"):
    """The equal-cost figure of a :class:`~accnum.experiments.compare.CompareResult`.
    Returns a new figure."""
    result = _check(result)
    p = _style.preset(style)
    with _style.rc(p):
        fig, axes = _style.new_figure(1, 1, p)
        budget_panel(result, ax=axes[0, 0], style=p)
        m = result.meta
        fig.suptitle(f"{m['target']}, {m['schedule']}, start {m['init']}")
        text = f"Star: the best sampler at each budget. {m['rounding']}."
        gone = missing(result)
        if gone:
            text += " Not measured: " + "; ".join(gone) + "."
        fs = p.rc.get("font.size", 10) - 1
        fig.supxlabel(wrap(text, fig, fs), fontsize=fs)
    return fig
