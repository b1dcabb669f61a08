"""CPU kernels: ``prange`` over blocks of samples, every step fused inside (issue 4, item 2).

Each block allocates its scratch once and runs :mod:`accnum.kernels.step`'s executor on
its samples one after another.  A sample's numbers depend only on its index, never on
the block or thread that ran it, so results are the same for any thread count.
"""

from __future__ import annotations

import numba
import numpy as np

from .step import make_sample
from ._stable import stabilize, variant

BLOCK = 64


def make_cpu_kernel(run):
    """The parallel kernel around one executor (see :func:`accnum.kernels.step.make_runner`)."""

    one = make_sample(run)

    @variant(run, cache=True, error_model="numpy", _nrt=False)
    def block(lo, hi, y, logdet, bad, jac, draw_init, init_key, sym, pt, ws, tan, tpt, J, lu,
              steps, stages, stage_abar, stage_coef, out_coef, mem_coef, n_mem, n_noise, keys,
              lw, mean, iv, U, full, p0, p1, p2, p3):
        """Samples ``lo..hi-1``, compiled without reference counting: an array passed or
        bound per sample would cost atomic increments that outweigh a whole step."""
        for i in range(lo, hi):
            one(i, y, logdet, bad, jac, draw_init, init_key, sym, pt, ws, tan, tpt, J, lu,
                steps, stages, stage_abar, stage_coef, out_coef, mem_coef, n_mem, n_noise, keys,
                lw, mean, iv, U, full, p0, p1, p2, p3)

    @variant(run, parallel=True, cache=True, error_model="numpy")
    def kernel(y, logdet, bad, jac, draw_init, init_key, n_rows, wsize,
               steps, stages, stage_abar, stage_coef, out_coef, mem_coef, n_mem, n_noise, keys,
               lw, mean, iv, U, full, p0, p1, p2, p3):
        n, d = y.shape
        dj = d if jac else 1
        blocks = (n + BLOCK - 1) // BLOCK
        for blk in numba.prange(blocks):
            sym = np.empty((n_rows, d))
            pt = np.empty(d)
            ws = np.empty(wsize)
            tan = np.empty((n_rows if jac else 1, dj, dj))
            tpt = np.empty((dj, dj))
            J = np.empty((dj, dj))
            lu = np.empty((dj, dj))
            block(blk * BLOCK, min(n, (blk + 1) * BLOCK), y, logdet, bad, jac, draw_init, init_key,
                  sym, pt, ws, tan, tpt, J, lu,
                  steps, stages, stage_abar, stage_coef, out_coef, mem_coef, n_mem, n_noise, keys,
                  lw, mean, iv, U, full, p0, p1, p2, p3)

    return kernel


stabilize(globals())
