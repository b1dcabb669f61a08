"""Figures of accnum's results, for notebooks, slides and papers.

Every function draws into ``ax`` when one is given and otherwise makes a new
:class:`matplotlib.figure.Figure`; it returns the figure and never selects or switches
matplotlib's backend (:mod:`.style`).  Every sampler has one colour in every figure
(:func:`sampler_colour`); ``style`` picks a preset: ``"screen"`` (default), ``"slide"``
(16:9), ``"notebook"`` (smaller images) or ``"paper"`` (7 in wide, 300 dpi).

=====================  ===============================================================
function               draws
=====================  ===============================================================
``convergence``        a rates result: error against T and NFE, claimed orders as slopes
``error_panel``        one metric against T, NFE or h
``sensitivity``        a sensitivity result: error against eps_score, heat maps
``density``            a grid law (q_t, a sampler's law, their difference) as a heat map
``target_density``     q_t on a grid, with its colour bar
``sampler_density``    a sampler's law (or its error) on the grid metric's grid
``trajectories``       sampling paths over the density q_t, with the exact flow
``local_error``        one-step against global error, orders p + 1 and p
``compare``            error at equal cost, the best sampler per NFE budget
=====================  ===============================================================
"""

from __future__ import annotations

from .compare import budget_panel, compare
from .density import density, sampler_density, target_density
from .local import local_error, profile_panel
from .rates import converted_slope, convergence, error_panel
from .sensitivity import sensitivity
from .style import PRESETS, Preset, new_figure, preset, sampler_colour, save_png
from .trajectories import exact_paths, trajectories

__all__ = ["PRESETS", "Preset", "budget_panel", "compare", "convergence", "converted_slope", "density", "error_panel",
           "exact_paths", "local_error", "new_figure", "preset", "profile_panel", "sampler_colour", "sampler_density",
           "save_png", "sensitivity", "target_density", "trajectories"]
