"""Experiments built on the metrics: convergence orders (:mod:`.rates`), local against
global error (:mod:`.local`), sensitivity to score error (:mod:`.sensitivity`)."""

from .local import local_error

__all__ = ["local_error"]
