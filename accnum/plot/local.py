"""Local against global error (docs/math/flow.md#local-global): the one-step error against h
with the claimed ``p + 1``, the global error with the claimed ``p``, and where along the
schedule the one-step error is made."""

from __future__ import annotations

import numpy as np

from ..errors import InvalidInput, InvalidType
from ..schedules import log_snr
from . import style as _style
from .rates import _sampler_legend, error_panel, footer, wrap

TITLES = {"local": "one-step (local) error", "global": "global error"}


def _check(result):
    from ..experiments.local import LocalErrorResult

    if not isinstance(result, LocalErrorResult):
        raise InvalidType(f"result must be a LocalErrorResult (from accnum.experiments.local_error), got "
                          f"{type(result).__name__}")
    return result


def profile_panel(result, T=None, ax=None, style="screen"):
    """The one-step error of every sampler at each step of the run with ``T`` steps (default
    the largest), against the log-SNR the step starts from.  Returns the figure."""
    result = _check(result)
    Ts = sorted({p["T"] for p in result.profiles})
    T = Ts[-1] if T is None else T
    if T not in Ts:
        raise InvalidInput(f"T must be one of this result's T: {', '.join(map(str, Ts))}; got {T!r}")
    with _style.rc(style):
        fig, ax = _style.one_axes(ax, style)
        for p in result.profiles:
            if p["T"] != T:
                continue
            err = np.asarray(p["error"])
            keep = err > 0
            lam = log_snr(np.asarray(p["abar_from"]))
            ax.plot(lam[keep], err[keep], color=_style.sampler_colour(p["sampler"]), label=p["sampler"])
        ax.set(yscale="log", xlabel="log-SNR at the step's start", ylabel="one-step error",
               title=f"one-step error by step, T = {T}")
    return fig


def local_error(result, against: str = "h", style="screen"):
    """The local-against-global figure of a :class:`~accnum.experiments.local.LocalErrorResult`:
    the one-step error with the claimed ``p + 1`` as reference slopes, the global error with
    ``p``, and the one-step error along the schedule at the largest T.  Returns a new figure."""
    result = _check(result)
    p = _style.preset(style)
    with _style.rc(p):
        fig, axes = _style.new_figure(1, 3, p)
        for ax, q in zip(axes[0, :2], ("local", "global"), strict=True):
            error_panel(result, q, against, ax=ax, style=p, names=False)
            ax.set_title(TITLES[q])
            ax.set_ylabel("RMS error vs exact flow")
        profile_panel(result, ax=axes[0, 2], style=p)
        m = result.meta
        _sampler_legend(fig, result, f"{m['target']}, {m['schedule']}, from q_T, reference: {m['reference']}")
        fs = p.rc.get("font.size", 10) - 1
        fig.supxlabel(wrap("One step of an order-p method errs by O(h^(p+1)); 1/h steps add up to O(h^p). " + footer(result),
                           fig, fs), fontsize=fs)
    return fig
