"""Sensitivity figures: a sampler's error against the measured score error, one line per
requested Jacobian error, and (with several of each) a heat map of log10 error with its
colour bar (docs/sensitivity.md)."""

from __future__ import annotations

import math

import numpy as np

from ..errors import InvalidInput, InvalidType
from . import style as _style

_LINESTYLES = ("-", "--", "-.", ":")
_MARKERS = ("o", "s", "^", "D", "v", "P")


def _check_result(result):
    from ..experiments.sensitivity import SensitivityResult

    if not isinstance(result, SensitivityResult):
        raise InvalidType(f"result must be a SensitivityResult (from accnum.experiments.sensitivity.sensitivity), got "
                          f"{type(result).__name__}")
    return result


def _finite(r):
    return r["estimate"] is not None and math.isfinite(r["estimate"])


def error_panel(result, sampler: str, ax=None, style="screen"):
    """Error of ``sampler`` against the measured eps_score (log-log), a line per requested
    eps_Jacobi in the sampler's colour, the exact score's error dotted.  Returns the figure."""
    result = _check_result(result)
    if sampler not in result.meta["samplers"]:
        raise InvalidInput(f"sampler must be one of this result's samplers: {', '.join(result.meta['samplers'])}; "
                           f"got {sampler!r}")
    ejs = sorted({r["eps_jacobi_requested"] for r in result.records})
    c = _style.sampler_colour(sampler)
    with _style.rc(style):
        fig, ax = _style.one_axes(ax, style)
        for k, ej in enumerate(ejs):
            rs = [r for r in result.records if r["sampler"] == sampler and r["eps_jacobi_requested"] == ej and _finite(r)]
            pos = [r for r in rs if r["eps_score"] > 0]
            if pos:
                ax.errorbar([r["eps_score"] for r in pos], [r["estimate"] for r in pos], yerr=[r["stderr"] for r in pos],
                            color=c, ls=_LINESTYLES[k % len(_LINESTYLES)], marker=_MARKERS[k % len(_MARKERS)], capsize=2,
                            label=f"{sampler}, eps_J = {ej:g}")
        zero = [r for r in result.records if r["sampler"] == sampler and r["eps_score_requested"] == 0
                and r["eps_jacobi_requested"] == 0 and _finite(r)]
        if zero:
            ax.axhline(zero[0]["estimate"], ls=":", color=_style.REFERENCE, label="exact score")
        metric = next((r["metric"] for r in result.records if r["sampler"] == sampler), "")
        ax.set(xscale="log", yscale="log", xlabel="eps_score (measured)", ylabel=metric,
               title=f"{sampler}: {metric} against eps_score")
        if ax.get_legend_handles_labels()[0]:
            ax.legend(loc="best")
    return fig


def heat_panel(result, sampler: str, ax=None, style="screen"):
    """log10 of ``sampler``'s error over the requested (eps_score, eps_Jacobi) grid, with a
    colour bar.  Returns the figure."""
    result = _check_result(result)
    ejs = sorted({r["eps_jacobi_requested"] for r in result.records})
    ess = sorted({r["eps_score_requested"] for r in result.records})
    grid = np.full((len(ejs), len(ess)), np.nan)
    for r in result.records:
        if r["sampler"] == sampler and _finite(r) and r["estimate"] > 0:
            grid[ejs.index(r["eps_jacobi_requested"]), ess.index(r["eps_score_requested"])] = math.log10(r["estimate"])
    metric = next((r["metric"] for r in result.records if r["sampler"] == sampler), "")
    with _style.rc(style):
        fig, ax = _style.one_axes(ax, style)
        im = ax.imshow(grid, origin="lower", aspect="auto", cmap="viridis")
        ax.set(xticks=range(len(ess)), xticklabels=[f"{e:g}" for e in ess], yticks=range(len(ejs)),
               yticklabels=[f"{e:g}" for e in ejs], xlabel="eps_score (requested)", ylabel="eps_Jacobi (requested)",
               title=f"{sampler}: log10 {metric}")
        fig.colorbar(im, ax=ax, label=f"log10 {metric}")
    return fig


def sensitivity(result, style="screen"):
    """The sensitivity figure: a column per sampler, the error against eps_score above and,
    when several eps_score and eps_Jacobi were requested, the heat map below.  Returns a new
    figure."""
    result = _check_result(result)
    samplers = result.meta["samplers"]
    ejs = {r["eps_jacobi_requested"] for r in result.records}
    ess = {r["eps_score_requested"] for r in result.records}
    heat = len(ejs) > 1 and len(ess) > 1
    p = _style.preset(style)
    with _style.rc(p):
        fig, axes = _style.new_figure(1 + heat, len(samplers), p)
        for j, s in enumerate(samplers):
            error_panel(result, s, ax=axes[0, j], style=p)
            if heat:
                heat_panel(result, s, ax=axes[1, j], style=p)
        m = result.meta
        fig.suptitle(f"{m['target']}, {m['schedule']}, perturbation kind {m['kind']}")
    return fig
