"""Targets: Gaussian mixtures with exact scores, and the named built-in ones.

``get("gmm1d")``; parameterised families take keywords, ``get("gmm", d=8, K=4)``, or, as
the CLI writes them, ``resolve("gmm:d=8,K=4")``; ``resolve`` also reads a JSON file.
"""

from __future__ import annotations

import inspect
import math
import os

import numpy as np

from .. import _checks, _memory
from .mixture import GaussianMixture
from ..errors import InvalidInput, InvalidType


def gmm1d() -> GaussianMixture:
    """Three components on the line: weights 0.3, 0.5, 0.2, means -2, 0.5, 3, variances 0.3, 0.6, 0.2 (the default target)."""
    return GaussianMixture([0.3, 0.5, 0.2], [[-2.0], [0.5], [3.0]], [0.3, 0.6, 0.2])


def ring8(radius: float = 3.0, var: float = 0.09) -> GaussianMixture:
    """Eight equal isotropic components evenly spaced on a circle in 2-D."""
    radius = _checks.real("radius", radius, low=0.0, low_open=True)
    var = _checks.real("var", var, low=0.0, low_open=True)
    ang = 2 * np.pi * np.arange(8) / 8
    means = radius * np.stack([np.cos(ang), np.sin(ang)], axis=1)
    return GaussianMixture(np.full(8, 1 / 8), means, np.full(8, var))


def aniso2d() -> GaussianMixture:
    """Three 2-D components with elongated, rotated full covariances."""
    def rot(theta, a, b):
        c, s = math.cos(theta), math.sin(theta)
        r = np.array([[c, -s], [s, c]])
        return r @ np.diag([a, b]) @ r.T

    covs = np.stack([rot(0.3, 1.0, 0.05), rot(-1.0, 0.6, 0.02), rot(1.3, 0.3, 0.1)])
    return GaussianMixture([0.45, 0.35, 0.2], [[-1.5, 0.5], [1.5, 1.0], [0.0, -2.0]], covs)


def gauss(d: int = 2) -> GaussianMixture:
    """One Gaussian in d dimensions, full covariance with eigenvalues 0.25 to 2 (gauss:d=8)."""
    d = _checks.integer("d", d, minimum=1)
    _memory.require(8.0 * 6 * d * d, f"a full {d} x {d} covariance and its factors", f"d = {d}")
    rng = np.random.default_rng(1234 + d)
    q, _ = np.linalg.qr(rng.standard_normal((d, d)))
    cov = q @ np.diag(np.geomspace(0.25, 2.0, d)) @ q.T
    return GaussianMixture([1.0], 0.5 * rng.standard_normal((1, d)), 0.5 * (cov + cov.T)[None])


def gmm(d: int = 2, K: int = 4) -> GaussianMixture:
    """K diagonal components in d dimensions, fixed pseudo-random layout (gmm:d=8,K=4).

    Means have spread 2, variances 0.1 to 0.6, weights unequal; the same ``(d, K)`` always
    gives the same mixture."""
    d = _checks.integer("d", d, minimum=1)
    K = _checks.integer("K", K, minimum=1)
    _memory.require(8.0 * 4 * K * d, f"{K} components in {d} dimensions (means, variances, their tables)",
                    f"d = {d}, K = {K}")
    rng = np.random.default_rng(100_000 + 1000 * d + K)
    w = rng.uniform(0.5, 1.5, K)
    return GaussianMixture(w / w.sum(), 2.0 * rng.standard_normal((K, d)), rng.uniform(0.1, 0.6, (K, d)))


_BUILTIN = {"gmm1d": gmm1d, "ring8": ring8, "aniso2d": aniso2d, "gauss": gauss, "gmm": gmm}
DEFAULT = "gmm1d"


def names() -> list[str]:
    return list(_BUILTIN)


def describe(name: str) -> str:
    return (_BUILTIN[name].__doc__ or "").strip().splitlines()[0]


def get(name: str, **params) -> GaussianMixture:
    """The built-in target ``name``; ``params`` go to its family (e.g. ``d``, ``K``)."""
    _checks.choice("target", name, _BUILTIN)
    factory = _BUILTIN[name]
    accepted = list(inspect.signature(factory).parameters)
    for key in params:
        if key not in accepted:
            takes = f"parameters {', '.join(accepted)}" if accepted else "no parameters"
            raise InvalidInput(f"target {name!r} takes {takes}, not {key!r}")
    target = factory(**params)
    target.name = name + (":" + ",".join(f"{k}={v}" for k, v in params.items()) if params else "")
    return target


def resolve(spec) -> GaussianMixture:
    """A target from a mixture, a built-in name (``"gmm:d=8,K=4"``) or a JSON file path."""
    if isinstance(spec, GaussianMixture):
        return spec
    if not isinstance(spec, (str, os.PathLike)):
        raise InvalidType(f"target must be a GaussianMixture, a name or a JSON path, got {type(spec).__name__}")
    spec = os.fspath(spec)
    if spec.endswith(".json") or os.sep in spec:
        return GaussianMixture.from_json(spec)
    name, _, args = spec.partition(":")
    params = {}
    for item in filter(None, args.split(",")):
        key, eq, val = item.partition("=")
        if not eq:
            raise InvalidInput(f"target parameter {item!r} must look like key=value")
        try:
            params[key.strip()] = int(val) if val.strip().lstrip("-").isdigit() else float(val)
        except ValueError:
            raise InvalidInput(f"target parameter {key!r} must be a number, got {val!r}") from None
    return get(name, **params)


__all__ = ["DEFAULT", "GaussianMixture", "describe", "get", "names", "resolve"]
