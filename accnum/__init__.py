"""accnum: numerical analysis of diffusion-model samplers on exact-score Gaussian mixtures.

Pipeline: targets -> schedules -> samplers -> run (backends) -> metrics -> experiments -> cli.

The names below load on first use (PEP 562), so that ``import accnum`` and the command
line start at once and a Ctrl-C during start-up is handled like any other.
"""

from __future__ import annotations

import importlib

__version__ = "0.2.0"

#: public name -> (module, attribute); attribute None: the module itself
_LAZY = {
    "samplers": ("accnum.samplers", None),
    "schedules": ("accnum.schedules", None),
    "targets": ("accnum.targets", None),
    "SampleResult": ("accnum.run", "SampleResult"),
    "sample": ("accnum.run", "sample"),
    "register_sampler": ("accnum.samplers", "register"),
    "ExactScore": ("accnum.score", "ExactScore"),
    "ScoreFunction": ("accnum.score", "ScoreFunction"),
    "ScoreModel": ("accnum.score", "ScoreModel"),
    "Sum": ("accnum.score", "Sum"),
    "GaussianMixture": ("accnum.targets", "GaussianMixture"),
}
_SUBMODULES = ("assumptions", "errors", "experiments", "flow", "io", "kernels", "metrics", "noise", "perturb",
               "plot", "run", "score", "tangent", "cli")


def __getattr__(name: str):
    if name in _LAZY:
        module, attr = _LAZY[name]
        value = importlib.import_module(module)
        value = value if attr is None else getattr(value, attr)
        globals()[name] = value
        return value
    if name in _SUBMODULES:
        return importlib.import_module(f"accnum.{name}")
    raise AttributeError(f"module 'accnum' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY) | set(_SUBMODULES))


def register_metric(metric, replace: bool = False):
    """Add a user's :class:`accnum.metrics.Metric` to the registry (:func:`accnum.metrics.register`)."""
    from .metrics import register

    return register(metric, replace)


__all__ = ["ExactScore", "GaussianMixture", "SampleResult", "ScoreFunction", "ScoreModel", "Sum", "__version__",
           "register_metric", "register_sampler", "sample", "samplers", "schedules", "targets"]
