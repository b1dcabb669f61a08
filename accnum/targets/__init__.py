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


def gmm(d: int = 2, K: int = 4, layout: str = "random") -> GaussianMixture:
    """K components in d dimensions, fixed pseudo-random layout (gmm:d=8,K=4; layout=fixed: the same K components in every d).

    ``layout="random"`` (default): diagonal components, means with spread 2 in all ``d``
    coordinates, variances 0.1 to 0.6, weights unequal; the same ``(d, K)`` always gives the
    same mixture, but separations grow like ``sqrt(d)``.  ``layout="fixed"``
    (docs/math/mixtures.md#fixed-layout): isotropic components whose weights, variances
    (0.1 to 0.6) and means depend on ``K`` alone; the means lie in the first ``K - 1``
    coordinates, so every pairwise separation is the same in every ``d >= K - 1``."""
    d = _checks.integer("d", d, minimum=1)
    K = _checks.integer("K", K, minimum=1)
    _checks.choice("layout", layout, LAYOUTS)
    _memory.require(8.0 * 4 * K * d, f"{K} components in {d} dimensions (means, variances, their tables)",
                    f"d = {d}, K = {K}")
    if layout == "fixed":
        return _fixed_layout(d, K)
    rng = np.random.default_rng(100_000 + 1000 * d + K)
    w = rng.uniform(0.5, 1.5, K)
    return GaussianMixture(w / w.sum(), 2.0 * rng.standard_normal((K, d)), rng.uniform(0.1, 0.6, (K, d)))


LAYOUTS = ("random", "fixed")


def _fixed_layout(d: int, K: int) -> GaussianMixture:
    if d < K - 1:
        raise InvalidInput(f"layout=fixed needs d >= K - 1 = {K - 1} (its means span K - 1 coordinates), got d = {d}")
    rng = np.random.default_rng(200_000 + K)          # K alone: the same components in every d
    w = rng.uniform(0.5, 1.5, K)
    var = rng.uniform(0.1, 0.6, K)
    means = np.zeros((K, d))
    means[:, :K - 1] = 2.0 * rng.standard_normal((K, K - 1))
    return GaussianMixture(w / w.sum(), means, var)


def twomodes(d: int = 2) -> GaussianMixture:
    """Two isotropic components, means -1.5 e_1 and +1.5 e_1, variances 0.2 and 0.6, equal weights (twomodes:d=8).

    The same two components in every ``d``: a family for sweeps over the dimension
    (docs/math/mixtures.md#families-in-d)."""
    d = _checks.integer("d", d, minimum=1)
    _memory.require(8.0 * 8 * d, f"2 components in {d} dimensions", f"d = {d}")
    means = np.zeros((2, d))
    means[:, 0] = (-1.5, 1.5)
    return GaussianMixture([0.5, 0.5], means, np.array([0.2, 0.6]))


def isogauss(d: int = 2, var: float = 0.5) -> GaussianMixture:
    """One isotropic Gaussian, mean 1.5 e_1, variance 0.5 (isogauss:d=8; isogauss:d=8,var=1): closed-form TV and KL in any d.

    The samplers' outputs on it are ``N(m, c^2 I)`` laws (docs/math/metrics.md#isotropic-tv)."""
    d = _checks.integer("d", d, minimum=1)
    var = _checks.real("var", var, low=0.0, low_open=True)
    _memory.require(8.0 * 8 * d, f"a Gaussian in {d} dimensions", f"d = {d}")
    mean = np.zeros((1, d))
    mean[0, 0] = 1.5
    return GaussianMixture([1.0], mean, np.array([var]))


_BUILTIN = {"gmm1d": gmm1d, "ring8": ring8, "aniso2d": aniso2d, "gauss": gauss, "gmm": gmm, "twomodes": twomodes,
            "isogauss": isogauss}
DEFAULT = "gmm1d"


def names() -> list[str]:
    return list(_BUILTIN)


def describe(name: str) -> str:
    return (_BUILTIN[name].__doc__ or "").strip().splitlines()[0]


def get(name: str, **params) -> GaussianMixture:
    """The built-in target ``name``; ``params`` go to its family (e.g. ``d``, ``K``).  A name
    with its parameters, ``"gmm:d=8,K=4"``, is taken as the command line takes it."""
    if isinstance(name, str) and ":" in name:
        base, _, args = name.partition(":")
        _checks.choice("target", base, _BUILTIN)
        given = parse_params(base, args)
        for key in params:
            if key in given:
                raise InvalidInput(f"target parameter {key!r} is given twice ({name!r} and {key}=...)")
        return get(base, **given, **params)
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
    return get(name, **parse_params(name, args))


def parse_params(name: str, args: str) -> dict:
    """``"d=8,K=4,layout=fixed"`` as keywords: numbers, and words for the parameters whose
    default is a word (``layout``)."""
    words = set()
    if name in _BUILTIN:
        words = {k for k, p in inspect.signature(_BUILTIN[name]).parameters.items() if isinstance(p.default, str)}
    params = {}
    for item in filter(None, args.split(",")):
        key, eq, val = item.partition("=")
        key, val = key.strip(), val.strip()
        if not eq:
            raise InvalidInput(f"target parameter {item!r} must look like key=value")
        if key in params:
            raise InvalidInput(f"target parameter {key!r} is given twice in {name + ':' + args!r}")
        if key in words:
            params[key] = val
            continue
        try:
            params[key] = int(val) if val.lstrip("+-").isdigit() and len(val) < 20 else float(val)
        except ValueError:
            raise InvalidInput(f"target parameter {key!r} must be a number, got {val!r}") from None
    return params


def family(name: str) -> tuple[str, dict]:
    """A family that takes ``d`` and its other parameters: ``"gmm:K=4,layout=fixed"`` ->
    ``("gmm", {"K": 4, "layout": "fixed"})``; a one-line error when it does not take ``d``
    or already fixes it."""
    if not isinstance(name, str):
        raise InvalidType(f"target family must be a string such as 'twomodes' or 'gmm:K=4,layout=fixed', got "
                          f"{type(name).__name__}")
    base, _, args = name.partition(":")
    _checks.choice("target", base, _BUILTIN)
    params = parse_params(base, args)
    if "d" not in inspect.signature(_BUILTIN[base]).parameters:
        takes_d = ", ".join(n for n in _BUILTIN if "d" in inspect.signature(_BUILTIN[n]).parameters)
        raise InvalidInput(f"target {base!r} has no dimension parameter d (families in d: {takes_d})")
    if "d" in params:
        raise InvalidInput(f"target family {name!r} fixes d; give the family without d (the sweep sets it)")
    return base, params


def in_dimension(name: str, d: int) -> str:
    """The built-in name of family ``name`` in dimension ``d``: ``"twomodes", 8 -> "twomodes:d=8"``."""
    base, params = family(name)
    return base + ":" + ",".join(f"{k}={v}" for k, v in {"d": d, **params}.items())


__all__ = ["DEFAULT", "GaussianMixture", "describe", "family", "get", "in_dimension", "names", "resolve"]
