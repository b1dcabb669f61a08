"""A score model evaluated at a batch of points by the compiled kernels, for the metrics'
bulk evaluations outside a sampler's steps (the grid's quadrature fallback and the 1-D
pushed grid): one lane per point."""

from __future__ import annotations

from typing import NamedTuple

import numba
import numpy as np

from ..score import Evaluations, ScoreModel, no_jacobian
from .layout import OPTS, launch, lanes_for, layout, load_lanes, store_lanes, take
from .numba_compat import identify, stabilize


class PointScratch(NamedTuple):
    X: tuple
    O: tuple
    J: tuple
    ws: tuple


@numba.njit(**OPTS)
def points_body(b_lo, b_hi, L, n, buf, score, score_jac, args):
    """Points of blocks ``b_lo .. b_hi - 1`` (block ``b``: ``i0 = bL .. i0 + L - 1``): the
    score (and with ``jac`` its Jacobian) at each."""
    x, out, J, jac, sp, lay = args
    X, O, Jl, ws = take(buf, lay.X), take(buf, lay.O), take(buf, lay.J), take(buf, lay.ws)
    d = x.shape[1]
    for blk in range(b_lo, b_hi):
        i0 = blk * L
        load_lanes(X, x, i0, L, n)
        if jac:
            score_jac(sp, 0, i0, L, X, O, Jl, ws)
        else:
            score(sp, 0, i0, L, X, O, ws)
        store_lanes(out, O, i0, L, n)
        if jac:
            for l in range(min(L, n - i0)):
                for a in range(d):
                    for b in range(d):
                        J[i0 + l, a, b] = Jl[a, b, l]


class KernelScore(ScoreModel):
    """``model`` evaluated by the compiled kernels on ``backend`` (same numbers as the model's
    own NumPy evaluation, to rounding)."""

    def __init__(self, model, d: int, backend: str):
        super().__init__()
        self.model, self.d, self.backend = model, d, backend
        self.deterministic = model.deterministic

    @property
    def has_jacobian(self) -> bool:
        return self.model.has_jacobian

    def _run(self, alpha_bar, x, jac):
        x = np.ascontiguousarray(x, dtype=np.float64)
        n, d = x.shape
        form = self.model.compiled_form(Evaluations(np.array([float(alpha_bar)]), np.zeros(1, dtype=np.int64), d))
        if jac and form.score_jac is None:
            return self.model.score_and_jacobian(alpha_bar, x)   # raises its own message
        identify(form.score)
        out, J = np.empty((n, d)), np.empty((n, d, d) if jac else (1, d, d))
        lanes = lanes_for(self.backend, 2 * d + d * d + form.workspace)
        total, lay = layout(PointScratch, X=(d, lanes), O=(d, lanes), J=(d, d, lanes) if jac else (1, 1, lanes),
                            ws=(max(form.workspace, 1), lanes))
        launch(self.backend, points_body, form.score, form.score_jac or no_jacobian, n, lanes, total,
               (x, out, J, bool(jac), form.params, lay), outputs=(out, J))
        self.model.count(1)
        return (out, J) if jac else out

    def score(self, alpha_bar, x):
        return self._run(alpha_bar, x, False)

    def score_and_jacobian(self, alpha_bar, x):
        return self._run(alpha_bar, x, True)


def batch_model(model, d: int, backend: str):
    """``model`` itself on ``numpy`` (or without a compiled form), else a :class:`KernelScore`."""
    if backend == "numpy" or model.compiled_problem() is not None:
        return model
    return KernelScore(model, d, backend)


stabilize(globals())
