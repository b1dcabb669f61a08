"""Compiled backends: ``cpu`` (Numba, parallel, vectorised over lanes) and ``cuda`` (numba-cuda), one source.

    sampler.step (NumPy, the single source)  --trace-->  Program (coefficients per step)   program.py
    Program + the score's compiled form       ------->  executor on a block of lanes       executor.py
    a kernel body (sampling, points, path-KL pairs, grid Newton)  -->  launch: a prange over blocks
    (layout.py) or a CUDA thread per lane (cuda_launch.py)

Modules by feature: :mod:`.sampling` (``execute``: sampling and the exact metrics'
tangents), :mod:`.points` (a score at a batch of points), the path-KL pairs and the grid's
Newton inversion beside their NumPy forms (:mod:`accnum.metrics.path_kl.pairs`,
:mod:`accnum.metrics.grid.newton`); :mod:`.vmath` (vectorisable exp, log, cos),
:mod:`.linalg` (small matrices per lane), :mod:`.numba_compat` (every reach into Numba's
internals).
"""

from __future__ import annotations

from .backends import BACKENDS, cuda_status, resolve_backend
from .program import Program, trace


def compilable(model) -> bool:
    """Whether ``model`` has a compiled form the kernels can run (see :mod:`accnum.score`)."""
    return model.compiled_problem() is None


def execute(backend: str, target, model, sampler, sched, y0, seed: int, to: int = 1, jac: bool = False,
            path: bool = False):
    """:func:`accnum.kernels.sampling.execute` (imported on first use: it compiles kernels)."""
    from .sampling import execute as run

    return run(backend, target, model, sampler, sched, y0, seed, to, jac, path)


__all__ = ["BACKENDS", "Program", "compilable", "cuda_status", "execute", "resolve_backend", "trace"]
