"""accnum: numerical analysis of diffusion-model samplers on exact-score Gaussian mixtures.

Pipeline: targets -> schedules -> samplers -> run (backends) -> metrics -> experiments -> cli.
"""

from . import samplers, schedules, targets
from .run import SampleResult, sample
from .score import ExactScore, ScoreModel
from .targets import GaussianMixture

__version__ = "0.1.0"

__all__ = ["ExactScore", "GaussianMixture", "SampleResult", "ScoreModel", "__version__", "sample", "samplers", "schedules", "targets"]
