"""What every record of an experiment carries, so that a result says what produced it
(docs/math/orders.md#records): the target (a built-in name, or ``custom`` with the content
hash of its parameters), the sampler and where it comes from, the score model, the start,
and the versions of accnum, NumPy and Numba.  Timings are kept apart from the records, so
that a rerun gives the same records byte for byte."""

from __future__ import annotations

import numba
import numpy as np

from .. import __version__


def versions() -> dict:
    return {"version": __version__, "numpy": np.__version__, "numba": numba.__version__}


def sampler_source(sampler) -> str:
    """``builtin``, or the import path ``module:Class`` of a user's sampler."""
    path = getattr(sampler, "import_path", None)
    if path:
        return path
    module = type(sampler).__module__
    return "builtin" if module.startswith("accnum.samplers") else f"{module}:{type(sampler).__qualname__}"


def record_base(target, sampler, model, init: str) -> dict:
    return {"target": target.name or "custom", "target_hash": target.content_hash(), "sampler": sampler.name,
            "sampler_source": sampler_source(sampler), "score": model.describe(), "init": init}
