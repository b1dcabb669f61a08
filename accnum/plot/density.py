"""Density heat maps with colour bars: ``q_t`` and a sampler's law on the grid metric's grids
(:mod:`accnum.metrics.grid.density`).  In 1-D the rows of several steps make one heat map
over (noise level, x); in 2-D one step is a heat map over the plane; one 1-D step is drawn
as curves.  ``kind="error"`` shows ``p - q`` on a diverging scale."""

from __future__ import annotations

import numpy as np

from .. import _checks
from ..errors import InvalidInput, InvalidType
from ..schedules import log_snr
from . import style as _style

KINDS = ("p", "q", "error")
TIMES = {"logsnr": "log-SNR (towards the data: right)", "sigma": "noise level sqrt(1 - abar)", "t": "step t"}


def time_coordinate(abar, t, time: str):
    """The horizontal coordinate of each row: log-SNR, sqrt(1 - abar) or the step index."""
    if time not in TIMES:
        raise InvalidInput(f"time must be one of {', '.join(TIMES)}, got {time!r}")
    abar = np.asarray(abar, dtype=float)
    if time == "logsnr":
        if np.any(abar >= 1):
            raise InvalidInput("time 'logsnr' needs noise levels below 1 (abar = 1 has infinite log-SNR); use 'sigma'")
        return log_snr(abar)
    if time == "sigma":
        return np.sqrt(1.0 - abar)
    return np.asarray(t, dtype=float)


def _check_law(law):
    from ..metrics.grid.density import GridLaw

    if not isinstance(law, GridLaw):
        raise InvalidType(f"law must be a GridLaw (accnum.metrics.grid.density.target_law or sampler_law), got "
                          f"{type(law).__name__}")
    return law


def _values(law, kind):
    _checks.choice("kind", kind, KINDS)
    return {"p": law.p, "q": law.q, "error": law.p - law.q}[kind]


def _row(law, t):
    if t is None:
        return int(np.argmin(law.t)) if np.all(law.t >= 0) else law.t.size - 1
    idx = np.nonzero(law.t == t)[0]
    if idx.size == 0:
        raise InvalidInput(f"t must be one of the law's steps ({', '.join(map(str, law.t))}), got {t!r}")
    return int(idx[0])


def _support(x, values, rel: float = 1e-3):
    """The range of ``x`` where some row of ``values`` exceeds ``rel`` of the largest value,
    widened by 5%: where there is something to see."""
    big = np.nonzero(np.max(values, axis=0) > rel * float(np.max(values)))[0]
    if big.size == 0:
        return x[0], x[-1]
    lo, hi = x[big[0]], x[big[-1]]
    pad = 0.05 * (hi - lo)
    return max(x[0], lo - pad), min(x[-1], hi + pad)


def _label(law, kind):
    who = "q_t" if law.sampler is None else f"law of {law.sampler}'s Y_t"
    return {"p": f"{who}", "q": "exact q_t", "error": f"{law.sampler or 'q'}: p_t - q_t"}[kind]


def _norm(values, kind, cmap=None):
    from matplotlib.colors import Normalize, PowerNorm

    if kind == "error":
        m = float(np.max(np.abs(values))) or 1.0
        return Normalize(-m, m), cmap or "RdBu_r"
    return PowerNorm(0.5, vmin=0.0, vmax=float(np.max(values)) or 1.0), cmap or "magma"


def density(law, kind: str = "p", t=None, ax=None, style="screen", time: str = "logsnr", over_time=None,
            cmap=None):
    """Draw a :class:`~accnum.metrics.grid.density.GridLaw`: ``kind`` ``"p"`` (the law),
    ``"q"`` (exact ``q_t``) or ``"error"`` (``p - q``).  A 1-D law with several steps is a
    heat map over (``time``, x) unless ``t`` picks one step (``over_time=False`` as well);
    a 2-D law is a heat map of step ``t`` (default the last).  Colour maps: ``cmap``, or
    magma (densities, square-root scale) and RdBu_r (errors).  Returns the figure."""
    law = _check_law(law)
    values = _values(law, kind)
    over_time = (law.d == 1 and law.t.size > 1 and t is None) if over_time is None else bool(over_time)
    with _style.rc(style):
        fig, ax = _style.one_axes(ax, style)
        if law.d == 1 and over_time:
            tc = time_coordinate(law.abar, law.t, time)
            order = np.argsort(tc)
            norm, cmap = _norm(values, kind, cmap)
            mesh = ax.pcolormesh(tc[order], law.axes[0], values[order].T, shading="nearest", norm=norm, cmap=cmap,
                                 rasterized=True)
            fig.colorbar(mesh, ax=ax, label=_label(law, kind))
            ax.set(xlabel=TIMES[time], ylabel="x", title=_label(law, kind) + " over the noise levels",
                   ylim=_support(law.axes[0], np.abs(np.concatenate([law.p, law.q]))))
            if time == "sigma":
                ax.invert_xaxis()
        elif law.d == 1:
            i = _row(law, t)
            x = law.axes[0]
            if kind == "error":
                ax.plot(x, values[i], color=_style.sampler_colour(law.sampler) if law.sampler else _style.EXACT,
                        label="p - q")
                ax.axhline(0.0, color=_style.REFERENCE, lw=0.8)
            else:
                if law.sampler is not None and kind == "p":
                    ax.plot(x, law.p[i], color=_style.sampler_colour(law.sampler), label=law.sampler)
                ax.plot(x, law.q[i], color=_style.EXACT, ls="--", label="exact q_t")
            ax.set(xlabel="x", ylabel="density", title=f"{_label(law, kind)} at t = {law.t[i]}")
            ax.legend(loc="best")
        else:
            i = _row(law, t)
            norm, cmap = _norm(values[i], kind, cmap)
            a, b = law.axes
            mesh = ax.pcolormesh(a, b, values[i].T, shading="nearest", norm=norm, cmap=cmap, rasterized=True)
            fig.colorbar(mesh, ax=ax, label=_label(law, kind))
            ax.set(xlabel="x_1", ylabel="x_2", title=f"{_label(law, kind)} at t = {law.t[i]}", aspect="equal")
    return fig


def target_density(target, schedule=None, steps=None, abars=None, G=None, ax=None, style="screen",
                   time: str = "logsnr"):
    """Heat map of ``q_t``: at ``steps`` of ``schedule`` (default every step in 1-D, the last
    in 2-D) or at the noise levels ``abars``.  Returns the figure."""
    from ..metrics.grid.density import target_law
    from ..targets import resolve

    tg = resolve(target)
    if (schedule is None) == (abars is None):
        raise InvalidInput("give either schedule (with steps) or abars")
    if schedule is not None:
        sched = _checks.schedule(schedule)
        steps = (list(range(sched.T, 0, -1)) if tg.d == 1 else [1]) if steps is None else list(np.atleast_1d(steps))
        for s in steps:
            _checks.integer("steps", s, minimum=1)
            if s > sched.T:
                raise InvalidInput(f"steps must lie in 1..T = {sched.T}, got {s}")
        law = target_law(tg, [sched.alpha_bar[s] for s in steps], G, t=steps)
    else:
        law = target_law(tg, abars, G)
    return density(law, "q", ax=ax, style=style, time=time)


def sampler_density(target, sampler, schedule, kind: str = "p", steps=None, G=None, init: str = "gaussian",
                    ax=None, style="screen", time: str = "logsnr", backend: str = "auto"):
    """Heat map of ``sampler``'s law (``kind="p"``) or its difference from ``q_t``
    (``"error"``) on the grid metric's grid.  Returns the figure."""
    from ..metrics.grid.density import sampler_law

    _checks.choice("kind", kind, KINDS)
    law = sampler_law(target, sampler, schedule, G=G, init=init, steps=steps, backend=backend)
    return density(law, kind, ax=ax, style=style, time=time)
