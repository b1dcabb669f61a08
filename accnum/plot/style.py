"""What every accnum figure shares: one colour per sampler, size presets, new figures that
never touch matplotlib's backend, and the checks on ``ax`` and ``preset``.

Figures are :class:`matplotlib.figure.Figure` objects made directly (not through pyplot):
making one selects no backend and registers nothing with pyplot, so a notebook's
``plt.show()`` and a script's backend stay as the user set them, and a figure that is only
saved is freed with its last reference.  To draw into pyplot's figures, pass ``ax`` (e.g.
from ``plt.subplots()``); in a notebook a returned figure shows as the cell's value or with
``display(fig)``.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field

from ..errors import InvalidInput, InvalidType

#: fixed colours of the built-in samplers: a first-order method and its accelerated
#: counterpart in contrasting hues (blue/orange, green/red); grey and black are kept for
#: reference lines, exact flows and floors
BUILTIN_COLOURS = {
    "ddim-li": "#1f77b4", "accel-ode": "#ff7f0e", "ddpm-li": "#2ca02c", "accel-sde": "#d62728",
    "accel-ode-reuse": "#9467bd", "accel-ode-eps": "#8c564b", "accel-sde-readme": "#e377c2", "ddim": "#17becf",
    "ddpm": "#bcbd22", "dpm-solver-2": "#393b79", "dpmpp-2m": "#637939", "heun-edm": "#843c39",
}
#: colours for other samplers, picked by a checksum of the name (the same name, the same colour, in every process)
EXTRA_COLOURS = ("#5254a3", "#8ca252", "#bd9e39", "#ad494a", "#a55194", "#6b6ecf", "#b5cf6b", "#e7ba52",
                 "#d6616b", "#ce6dbd", "#3182bd", "#e6550d", "#31a354", "#756bb1")
REFERENCE = "#555555"     #: reference slopes' labels, floors
EXACT = "black"           #: exact flows


def sampler_colour(name) -> str:
    """The colour of sampler ``name`` (a name or a sampler) in every accnum figure."""
    name = getattr(name, "name", name)
    if not isinstance(name, str) or not name:
        raise InvalidType(f"sampler name must be a non-empty string, got {type(name).__name__}")
    if name in BUILTIN_COLOURS:
        return BUILTIN_COLOURS[name]
    return EXTRA_COLOURS[zlib.crc32(name.encode()) % len(EXTRA_COLOURS)]


@dataclass(frozen=True)
class Preset:
    """A figure size and type scale: ``width`` (inches) for the whole figure, ``panel_height``
    per row of panels (``aspect``: a fixed width/height of the whole figure instead), the
    rc settings drawn under, and the PNG resolution."""

    name: str
    width: float
    panel_height: float
    rc: dict = field(default_factory=dict)
    dpi: int = 110
    aspect: float | None = None
    max_width_per_panel: float = 5.0
    max_columns: int = 4
    min_width: float = 0.0

    def size(self, nrows: int, ncols: int) -> tuple[float, float]:
        width = max(self.min_width, min(self.width, self.max_width_per_panel * ncols))
        if self.aspect is not None:
            return self.width, self.width / self.aspect
        return width, self.panel_height * nrows


def _rc(font, lw, ms, legend=None):
    return {"font.size": font, "axes.titlesize": font, "axes.labelsize": font, "xtick.labelsize": font - 1,
            "ytick.labelsize": font - 1, "legend.fontsize": legend or font - 2, "figure.titlesize": font + 1,
            "lines.linewidth": lw, "lines.markersize": ms, "axes.titleweight": "normal"}


PRESETS = {
    "screen": Preset("screen", width=14.0, panel_height=3.9, rc=_rc(10, 1.5, 5), dpi=110, max_width_per_panel=4.8,
                     min_width=6.4),
    "slide": Preset("slide", width=13.333, panel_height=3.6, rc=_rc(14, 2.2, 7, legend=10), dpi=150, aspect=16 / 9,
                    max_width_per_panel=13.333),
    "notebook": Preset("notebook", width=10.0, panel_height=3.3, rc=_rc(9, 1.4, 4.5), dpi=96, max_width_per_panel=4.0,
                       min_width=6.0),
    "paper": Preset("paper", width=7.0, panel_height=2.6, rc=_rc(8, 1.1, 3.5, legend=6), dpi=300,
                    max_width_per_panel=3.5, max_columns=2),
}


def preset(name) -> Preset:
    """The preset ``name`` (``screen``, the default; ``slide``, 16:9; ``notebook``, smaller
    images for stored notebooks; ``paper``, 7 in wide, 300 dpi) or a :class:`Preset`."""
    if isinstance(name, Preset):
        return name
    if not isinstance(name, str):
        raise InvalidType(f"preset must be one of {', '.join(PRESETS)} or a Preset, got {type(name).__name__}")
    if name not in PRESETS:
        raise InvalidInput(f"unknown preset {name!r}; valid: {', '.join(PRESETS)}")
    return PRESETS[name]


def new_figure(nrows: int = 1, ncols: int = 1, style="screen", **kw):
    """A constrained-layout :class:`~matplotlib.figure.Figure` (no pyplot, no backend) and its
    axes array ``(nrows, ncols)``, sized by the preset."""
    from matplotlib.figure import Figure

    p = preset(style)
    fig = Figure(figsize=p.size(nrows, ncols), dpi=p.dpi, layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False, **kw)
    return fig, axes


def check_ax(ax):
    """``ax`` if it is a matplotlib Axes (None passes through)."""
    if ax is None:
        return None
    from matplotlib.axes import Axes

    if not isinstance(ax, Axes):
        raise InvalidType(f"ax must be a matplotlib Axes (e.g. from plt.subplots()), got {type(ax).__name__}")
    return ax


def one_axes(ax, style):
    """``(figure, ax)``: the given axes and its figure, or a new one-panel figure."""
    ax = check_ax(ax)
    if ax is not None:
        return ax.figure, ax
    fig, axes = new_figure(1, 1, style)
    return fig, axes[0, 0]


def rc(style):
    """A context that draws under the preset's rc settings."""
    import matplotlib

    return matplotlib.rc_context(preset(style).rc)


def save_png(fig, path_or_file, style="screen") -> None:
    """Write ``fig`` as a PNG to a path or a binary file object (the figure's own canvas:
    no backend is selected)."""
    fig.savefig(path_or_file, format="png", dpi=preset(style).dpi)
