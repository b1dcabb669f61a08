"""Figures of the study results, drawn with matplotlib's object API (a
:class:`matplotlib.figure.Figure`, no pyplot state, no backend switch)."""

from __future__ import annotations

import math

import numpy as np


def error_panels(records, axis: str, metrics, samplers, fits: dict, fit_key: str, title: str, label=None):
    """One log-log panel per metric: error (with standard-error bars) against ``axis``
    (``"d"`` or ``"T"``), one line per sampler, and the fitted power through the last point,
    dashed.  ``fits[(sampler, metric)][fit_key]`` is the fitted power of ``axis``."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(4.6 * max(1, len(metrics)), 4.0))
    axes = fig.subplots(1, max(1, len(metrics)), squeeze=False)[0]
    colours = [f"C{i}" for i in range(10)]
    for j, metric in enumerate(metrics):
        ax = axes[j]
        for i, s in enumerate(samplers):
            rs = sorted((r for r in records if r["sampler"] == s and r["metric"] == metric and r["estimate"] is not None
                         and math.isfinite(r["estimate"]) and r["estimate"] > 0), key=lambda r: r[axis])
            if not rs:
                continue
            x = np.array([r[axis] for r in rs], dtype=float)
            e = np.array([r["estimate"] for r in rs])
            se = np.array([r["stderr"] if r["stderr"] is not None and math.isfinite(r["stderr"]) else 0.0 for r in rs])
            fit = fits.get((s, metric), {})
            p = fit.get(fit_key, float("nan"))
            name = label(s) if label else s
            c = colours[i % len(colours)]
            ax.errorbar(x, e, yerr=se, marker="o", ms=4, color=c, capsize=2,
                        label=name if not math.isfinite(p) else f"{name} ({p:+.2f})")
            if math.isfinite(p) and x.size > 1:
                ax.plot(x, e[-1] * (x / x[-1]) ** p, ls="--", lw=1, color=c, alpha=0.6)
        ax.set(xscale="log", yscale="log", xlabel=axis, ylabel=metric, title=f"{metric} vs {axis}")
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig
