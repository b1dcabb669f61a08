"""Figures of accnum's results, for notebooks, slides and papers.

Every function draws into ``ax`` when one is given and otherwise makes a new
:class:`matplotlib.figure.Figure`; it returns the figure and never selects or switches
matplotlib's backend (:mod:`.style`).  Every sampler has one colour in every figure
(:func:`sampler_colour`); ``style`` picks a preset: ``"screen"`` (default), ``"slide"``
(16:9) or ``"paper"`` (7 in wide, 300 dpi).

=====================  ===============================================================
function               draws
=====================  ===============================================================
``convergence``        a rates result: error against T and NFE, claimed orders as slopes
``error_panel``        one metric against T, NFE or h
``sensitivity``        a sensitivity result: error against eps_score, heat maps
``density``            q_t, or a sampler's law, as a heat map with a colour bar
``trajectories``       sampling paths over the density q_t, with the exact flow
``local_error``        one-step against global error, orders p + 1 and p
``compare``            error at equal cost, the best sampler per NFE budget
=====================  ===============================================================
"""

from __future__ import annotations

from .compare import budget_panel, compare
from .local import local_error, profile_panel
from .rates import converted_slope, convergence, error_panel
from .sensitivity import sensitivity
from .style import PRESETS, Preset, new_figure, preset, sampler_colour, save_png

__all__ = ["PRESETS", "Preset", "budget_panel", "compare", "convergence", "converted_slope", "error_panel",
           "local_error", "new_figure", "preset", "profile_panel", "sampler_colour", "save_png", "sensitivity"]
