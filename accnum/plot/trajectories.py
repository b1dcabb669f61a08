"""Sampling paths over the density ``q_t``: the points of ``accnum.sample(..., path=True)``
after every step, in each sampler's colour, with the exact probability-flow trajectories
from the same starting points (:mod:`accnum.flow`) for comparison.  In 1-D the paths run
over a heat map of ``q_t`` across the noise levels; in 2-D they run in the plane over
``q`` at their last level."""

from __future__ import annotations

import numpy as np

from .. import _checks
from ..errors import InvalidInput, InvalidType
from ..schedules import alpha_bar_from_log_snr, log_snr
from . import style as _style
from .density import TIMES, density, time_coordinate


def _results(results):
    from ..run import SampleResult

    if isinstance(results, SampleResult):
        results = [results]
    if isinstance(results, (str, bytes)) or not hasattr(results, "__iter__"):
        raise InvalidType("results must be a SampleResult or a list of them")
    results = list(results)
    if not results:
        raise InvalidInput("results must hold at least one SampleResult")
    for r in results:
        if not isinstance(r, SampleResult):
            raise InvalidType(f"results must be SampleResults (from accnum.sample), got {type(r).__name__}")
        if r.path is None:
            raise InvalidInput(f"the {r.sampler} result has no trajectory: sample it with accnum.sample(..., path=True)")
    return results


def _inner(r):
    """The rows of a path strictly inside (0, 1) in noise level (``to=0`` ends at abar = 1)."""
    keep = np.asarray(r.abar) < 1.0
    return np.asarray(r.path)[keep], np.asarray(r.abar)[keep], np.asarray(r.t)[keep]


def exact_paths(target, start, abar_from, abar_to, levels: int = 200):
    """The exact flow from ``start`` at ``abar_from`` to ``abar_to`` through ``levels``
    levels even in log-SNR: ``(abars, paths (levels, n, d))``."""
    from ..flow import flow_path

    lam = np.linspace(float(log_snr(abar_from)), float(log_snr(abar_to)), levels)
    abars = alpha_bar_from_log_snr(lam)
    abars[0], abars[-1] = abar_from, abar_to
    return abars, flow_path(target, start, abars)


def trajectories(results, target, k: int = 12, ax=None, style="screen", exact: bool = True,
                 background: bool = True, time: str = "logsnr", G: int | None = None):
    """The first ``k`` sampling paths of each result (``accnum.sample(..., path=True)``), a
    colour per sampler, over the density ``q_t`` (``background``) with the exact flow from
    the same starting points dashed in black (``exact``; from the first result's starts).
    1-D: against ``time`` (``"logsnr"``, ``"sigma"`` or ``"t"``); 2-D: in the plane.
    Returns the figure."""
    from ..metrics.grid.density import target_law
    from ..targets import resolve

    results = _results(results)
    tg = resolve(target)
    k = _checks.integer("k", k, minimum=1)
    if time not in TIMES:
        raise InvalidInput(f"time must be one of {', '.join(TIMES)}, got {time!r}")
    for r in results:
        if r.x.shape[1] != tg.d:
            raise InvalidInput(f"the {r.sampler} result has d = {r.x.shape[1]}, the target d = {tg.d}")
    if tg.d > 2:
        raise InvalidInput(f"trajectories are drawn in d <= 2; the target has d = {tg.d}")
    rows = [_inner(r) for r in results]
    a_hi = max(float(a.max()) for _, a, _ in rows)
    a_lo = min(float(a.min()) for _, a, _ in rows)
    with _style.rc(style):
        fig, ax = _style.one_axes(ax, style)
        first_path, first_abar, _ = rows[0]
        if tg.d == 1:
            if background:
                lam = np.linspace(float(log_snr(a_lo)), float(log_snr(a_hi)), 160)
                abars = alpha_bar_from_log_snr(lam)
                if time == "t":
                    raise InvalidInput("time 't' has no continuous density background; use 'logsnr' or 'sigma'")
                density(target_law(tg, abars, G or 400), "q", ax=ax, style=style, time=time, cmap="Greys")
            for r, (path, abar, t) in zip(results, rows, strict=True):
                tc = time_coordinate(abar, t, time)
                c = _style.sampler_colour(r.sampler)
                m = min(k, path.shape[1])
                for i in range(m):
                    ax.plot(tc, path[:, i, 0], color=c, marker="o", ms=2.5, lw=1.2,
                            label=f"{r.sampler} (T = {r.T})" if i == 0 else None)
            if exact:
                m = min(k, first_path.shape[1])
                abars, ex = exact_paths(tg, first_path[0, :m], first_abar[0], first_abar[-1])
                tc = time_coordinate(abars, np.full(abars.size, np.nan), time) if time != "t" else None
                if tc is not None:
                    for i in range(m):
                        ax.plot(tc, ex[:, i, 0], color=_style.EXACT, ls="--", lw=0.9,
                                label="exact flow" if i == 0 else None)
            ys = np.concatenate([p[:, :k, 0].ravel() for p, _, _ in rows])
            pad = 0.1 * (ys.max() - ys.min() + 1e-9)
            ax.set_ylim(ys.min() - pad, ys.max() + pad)
            ax.set(xlabel=TIMES[time], ylabel="x", title="sampling paths over q_t")
        else:
            if background:
                density(target_law(tg, [a_hi], G or 160), "q", ax=ax, style=style, cmap="Greys")
            for r, (path, _, _) in zip(results, rows, strict=True):
                c = _style.sampler_colour(r.sampler)
                m = min(k, path.shape[1])
                for i in range(m):
                    ax.plot(path[:, i, 0], path[:, i, 1], color=c, marker="o", ms=2.0, lw=1.1,
                            label=f"{r.sampler} (T = {r.T})" if i == 0 else None)
                ax.plot(path[-1, :m, 0], path[-1, :m, 1], ls="none", marker="o", ms=5, color=c, markeredgecolor="white")
            if exact:
                m = min(k, first_path.shape[1])
                _, ex = exact_paths(tg, first_path[0, :m], first_abar[0], first_abar[-1])
                for i in range(m):
                    ax.plot(ex[:, i, 0], ex[:, i, 1], color=_style.EXACT, ls="--", lw=0.9,
                            label="exact flow" if i == 0 else None)
            pts = np.concatenate([p[:, :k].reshape(-1, 2) for p, _, _ in rows])
            lo, hi = pts.min(axis=0), pts.max(axis=0)
            pad = 0.1 * (hi - lo + 1e-9)
            ax.set(xlim=(lo[0] - pad[0], hi[0] + pad[0]), ylim=(lo[1] - pad[1], hi[1] + pad[1]), xlabel="x_1",
                   ylabel="x_2", title="sampling paths in the plane", aspect="equal")
        ax.legend(loc="best")
    return fig
