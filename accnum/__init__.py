"""accnum: numerical analysis of diffusion-model samplers on exact-score Gaussian mixtures.

Pipeline: targets -> schedules -> samplers -> run (backends) -> metrics -> experiments -> cli.
"""

__version__ = "0.2.0"

from . import samplers, schedules, targets  # noqa: E402
from .run import SampleResult, sample  # noqa: E402
from .samplers import register as register_sampler  # noqa: E402
from .score import ExactScore, ScoreFunction, ScoreModel, Sum  # noqa: E402
from .targets import GaussianMixture  # noqa: E402


def register_metric(metric, replace: bool = False):
    """Add a user's :class:`accnum.metrics.Metric` to the registry (:func:`accnum.metrics.register`)."""
    from .metrics import register

    return register(metric, replace)


__all__ = ["ExactScore", "GaussianMixture", "SampleResult", "ScoreFunction", "ScoreModel", "Sum", "__version__",
           "register_metric", "register_sampler", "sample", "samplers", "schedules", "targets"]
