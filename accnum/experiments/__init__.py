"""Experiments built on the metrics: convergence orders (:mod:`.rates`)."""
