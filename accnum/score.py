"""Score models: what a sampler calls at every step, and the protocol by which one runs compiled.

A score model answers ``model(alpha_bar, x)`` with ``s(x) ≈ grad log q_t(x)`` at noise
level ``alpha_bar`` for points ``x`` of shape ``(n, d)``; for a
:class:`~accnum.tangent.Tangent` input it also pushes the tangent through the score
Jacobian.  What a model provides decides what it can do:

=========================  ==================================================================
``score``                  sampling and the sample metrics, on ``numpy``
``score_and_jacobian``     the metrics that push tangents (exact TV/KL, path KL of kernels
                           with an intermediate point, grid TV, the Gaussian closed forms)
``compiled(evaluations)``  the ``cpu`` and ``cuda`` backends (:class:`CompiledScore`)
=========================  ==================================================================

:class:`ExactScore` is the exact mixture score (docs/math/mixtures.md#exact-score), and
every perturbation of :mod:`accnum.perturb` is built on the same protocol; a plain
function ``(alpha_bar, x) -> score`` becomes a model with :class:`ScoreFunction`, and two
models add with :class:`Sum`.  The parameterisation conversions
(docs/math/mixtures.md#conversions) are written here once for every sampler that works in
noise or data prediction.

**The compiled form.**  ``compiled(evaluations)`` returns a :class:`CompiledScore`: two
``@numba.njit`` functions and the parameters they read, built for the evaluations of one
traced program (:class:`Evaluations`: the noise level of each evaluation slot ``q`` and its
place in call order).  The kernels call, on a block of ``L`` lanes (samples) laid out
``X[a, l]``::

    score(params, q, i0, L, X, OUT, ws)          # OUT[:, l] = s(X[:, l]) at level abar[q]
    score_jac(params, q, i0, L, X, OUT, J, ws)   # ... and J[:, :, l] = its Jacobian

``i0 + l`` is lane ``l``'s sample index (for a score that draws its own noise) and
``ws`` a ``(workspace, L)`` scratch array.  Loops over lanes innermost let LLVM vectorise
them.  A compiled backend runs exactly the model it is given: a subclass that overrides
``score`` (or ``score_and_jacobian``) without also overriding ``compiled`` has no compiled
form (it would run its parent's maths), and runs on ``numpy``.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numba
import numpy as np

from . import _checks
from .errors import InvalidInput, InvalidType, MissingCapability
from .tangent import Tangent


class Evaluations(NamedTuple):
    """The score evaluations of a traced program, slot by slot (``q = row * S + stage``):
    ``abar[q]`` the noise level, ``ordinal[q]`` the place in call order within one step
    sequence (-1: a slot the step does not use), ``d`` the dimension."""

    abar: np.ndarray
    ordinal: np.ndarray
    d: int


class CompiledScore(NamedTuple):
    """A score model's compiled form (see the module doc)."""

    score: Any                 #: ``@numba.njit`` ``(params, q, i0, L, X, OUT, ws)``
    score_jac: Any             #: ``@numba.njit`` ``(params, q, i0, L, X, OUT, J, ws)``, or None
    params: tuple              #: what they read (arrays, numbers, nested tuples)
    workspace: int = 1         #: rows of the per-lane workspace ``ws``
    name: str = ""
    #: optional, for exact metrics in time linear in d: ``(params, q, i0, L, X, OUT, D, A, B, ws)``
    #: writing the Jacobian as ``diag(D) + A B^T`` (``A``, ``B`` of shape ``(d, rank, L)``)
    score_lowrank: Any = None
    rank: int = 0


def _defining(cls, attr):
    for klass in cls.__mro__:
        if attr in vars(klass):
            return klass
    return None  # pragma: no cover - every model inherits ScoreModel's


class ScoreModel:
    """Base class: subclasses implement :meth:`score` and, optionally,
    :meth:`score_and_jacobian` and :meth:`compiled` (see the module doc)."""

    #: the same x gives the same score at every call (False for a score that draws its own noise)
    deterministic = True

    def __init__(self):
        self.calls = 0

    def score(self, alpha_bar: float, x: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def score_and_jacobian(self, alpha_bar: float, x: np.ndarray):
        raise MissingCapability(f"score model {type(self).__name__} has no Jacobian (it defines no "
                                "score_and_jacobian)")

    def compiled(self, evaluations: Evaluations) -> CompiledScore | None:
        """The compiled form for these evaluations, or None (the model runs on ``numpy``)."""
        return None

    @property
    def has_jacobian(self) -> bool:
        """Whether :meth:`score_and_jacobian` is provided (a subclass that defines it has one)."""
        return type(self).score_and_jacobian is not ScoreModel.score_and_jacobian

    @property
    def dimension(self) -> int | None:
        """The dimension the model is for, when it knows it (a model of a mixture does)."""
        return getattr(getattr(self, "target", None), "d", None)

    def compiled_problem(self) -> str | None:
        """Why this model has no compiled form (None: it has one, or may have)."""
        cls = type(self)
        owner = _defining(cls, "compiled")
        if owner is ScoreModel:
            return f"score model {cls.__name__} has no compiled form (it defines no compiled())"
        for attr in ("score", "score_and_jacobian"):
            klass = _defining(cls, attr)
            if klass is not ScoreModel and not issubclass(owner, klass):
                return (f"score model {cls.__name__} overrides {attr}() but inherits compiled() from "
                        f"{owner.__name__}, which would compute {owner.__name__}'s score; define compiled() too")
        return None

    def compiled_form(self, evaluations: Evaluations) -> CompiledScore:
        """:meth:`compiled`, checked: a one-line :class:`~accnum.errors.MissingCapability` when there is none."""
        problem = self.compiled_problem()
        if problem is None:
            form = self.compiled(evaluations)
            if form is None:
                problem = f"score model {type(self).__name__} has no compiled form for these evaluations"
            elif not isinstance(form, CompiledScore):
                raise InvalidType(f"{type(self).__name__}.compiled() must return a CompiledScore or None, got "
                                  f"{type(form).__name__}")
            else:
                return form
        raise MissingCapability(f"{problem}: run it with backend='numpy' (--backend numpy), which backend='auto' "
                                "picks for it")

    def count(self, evaluations: int) -> None:
        """Record ``evaluations`` calls made by a kernel (the NumPy path counts its own)."""
        self.calls += evaluations

    def describe(self) -> str:
        return type(self).__name__

    def __call__(self, alpha_bar: float, x):
        self.calls += 1
        _noise_level(alpha_bar)
        own = not type(self).__module__.startswith("accnum.")   # a user's model: its answers are checked
        if isinstance(x, Tangent):
            s, jac = self.score_and_jacobian(alpha_bar, x.value)
            if own:
                n, d = x.value.shape
                s = _checked(s, (n, d), self.describe(), "score_and_jacobian score")
                jac = _checked(jac, (n, d, d), self.describe(), "score_and_jacobian Jacobian")
            return Tangent(s, np.einsum("nij,njk->nik", jac, x.jac))
        s = self.score(alpha_bar, x)
        return _checked(s, np.shape(x), self.describe(), "score") if own else s


def _noise_level(alpha_bar) -> None:
    """A score is asked for at a noise level ``alpha_bar`` in (0, 1]; anything else is a
    sampler's mistake, named as such (not as a bad target parameter further down)."""
    try:
        ok = 0.0 < float(alpha_bar) <= 1.0
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise InvalidInput(f"the score was asked for at alpha_bar = {alpha_bar!r}: a noise level lies in (0, 1] "
                           "(check the sampler's step)")


@numba.njit(cache=True)
def no_jacobian(p, q, i0, L, X, OUT, J, ws):  # pragma: no cover - never called: kernels check first
    """The Jacobian slot of a compiled form that has none (the kernels refuse to use it)."""
    return


class ExactScore(ScoreModel):
    """The exact score ``s*_t`` and Jacobian ``J*_t`` of a Gaussian-mixture target."""

    def __init__(self, target):
        from .targets import resolve

        super().__init__()
        self.target = resolve(target)

    def _points(self, x):
        """``x`` as it comes on the hot path (an ``(n, d)`` array), else checked and converted,
        or one line on what is wrong with it."""
        if isinstance(x, np.ndarray) and x.ndim == 2 and x.shape[1] == self.target.d:
            return x
        return _checks.points("x", x, self.target.d)[0]

    def score(self, alpha_bar, x):
        return self.target.diffused(alpha_bar)._score_and_parts(self._points(x))[0]

    def score_and_jacobian(self, alpha_bar, x):
        return self.target.diffused(alpha_bar)._score_and_jacobian(self._points(x))

    def compiled(self, evaluations):
        from .targets import exact_score

        lowrank = self.target.kind != "full"    # full covariances: dense Jacobians only
        return CompiledScore(exact_score.score_lanes, exact_score.score_jac_lanes,
                             exact_score.tables(self.target, evaluations.abar),
                             exact_score.workspace(self.target.K, self.target.d), "exact",
                             exact_score.score_lowrank_lanes if lowrank else None, self.target.K if lowrank else 0)

    def describe(self) -> str:
        return "exact"


class ScoreFunction(ScoreModel):
    """A plain Python function ``fn(alpha_bar, x) -> score`` (``x`` of shape ``(n, d)``) as a
    score model, with an optional ``jacobian(alpha_bar, x) -> (n, d, d)``.  It runs on
    ``numpy``; the metrics that need a Jacobian say so when it has none."""

    def __init__(self, fn, jacobian=None, d: int | None = None, name: str | None = None):
        super().__init__()
        if not callable(fn):
            raise InvalidType(f"fn must be callable (alpha_bar, x) -> score, got {type(fn).__name__}")
        if jacobian is not None and not callable(jacobian):
            raise InvalidType(f"jacobian must be callable (alpha_bar, x) -> (n, d, d), got {type(jacobian).__name__}")
        self.fn, self.jacobian, self.d = fn, jacobian, d
        self.name = name or getattr(fn, "__name__", "score function")

    @property
    def has_jacobian(self) -> bool:
        return self.jacobian is not None

    @property
    def dimension(self):
        return self.d

    def score(self, alpha_bar, x):
        return _checked(self.fn(alpha_bar, x), x.shape, self.name, "score")

    def score_and_jacobian(self, alpha_bar, x):
        if self.jacobian is None:
            return super().score_and_jacobian(alpha_bar, x)
        n, d = x.shape
        return self.score(alpha_bar, x), _checked(self.jacobian(alpha_bar, x), (n, d, d), self.name, "jacobian")

    def describe(self) -> str:
        return self.name


def _checked(value, shape, name, what):
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise InvalidType(f"score model {name}: its {what} returned a {type(value).__name__}, not an array of "
                          "numbers") from None
    if arr.shape != tuple(shape):
        raise InvalidInput(f"score model {name}: its {what} returned shape {arr.shape}, expected {tuple(shape)}")
    if not np.all(np.isfinite(arr)):
        raise InvalidInput(f"score model {name}: its {what} returned NaN or inf")
    return arr


class Sum(ScoreModel):
    """``a + b``: two score models added (e.g. the exact score plus a learned correction).
    Its compiled form, when both have one, runs both and adds the results."""

    def __init__(self, a: ScoreModel, b: ScoreModel):
        super().__init__()
        for name, m in (("a", a), ("b", b)):
            if not isinstance(m, ScoreModel):
                raise InvalidType(f"{name} must be a ScoreModel, got {type(m).__name__}")
        if a.dimension is not None and b.dimension is not None and a.dimension != b.dimension:
            raise InvalidInput(f"a is for d = {a.dimension} and b for d = {b.dimension}")
        self.a, self.b = a, b
        self.target = getattr(a, "target", None) or getattr(b, "target", None)
        self.deterministic = a.deterministic and b.deterministic

    @property
    def has_jacobian(self) -> bool:
        return self.a.has_jacobian and self.b.has_jacobian

    def score(self, alpha_bar, x):
        return self.a.score(alpha_bar, x) + self.b.score(alpha_bar, x)

    def score_and_jacobian(self, alpha_bar, x):
        sa, ja = self.a.score_and_jacobian(alpha_bar, x)
        sb, jb = self.b.score_and_jacobian(alpha_bar, x)
        return sa + sb, ja + jb

    def compiled(self, evaluations):
        ca, cb = self.a.compiled_form(evaluations), self.b.compiled_form(evaluations)
        fn, jac = _sum_functions(ca.score, ca.score_jac or no_jacobian, cb.score, cb.score_jac or no_jacobian,
                                 ca.workspace, cb.workspace)
        has_jac = ca.score_jac is not None and cb.score_jac is not None
        return CompiledScore(fn, jac if has_jac else None, (ca.params, cb.params),
                             ca.workspace + cb.workspace + evaluations.d * (evaluations.d + 1), f"{ca.name}+{cb.name}")

    def count(self, evaluations):
        super().count(evaluations)
        self.a.count(evaluations)
        self.b.count(evaluations)

    def describe(self) -> str:
        return f"{self.a.describe()} + {self.b.describe()}"


_SUMS: dict = {}


def _sum_functions(fa, ja, fb, jb, wa, wb):
    """The compiled sum of two compiled scores (closures named per pair: see
    :func:`accnum.kernels.numba_compat.variant`); ``b``'s output and Jacobian go to rows of
    the workspace after ``a``'s and ``b``'s own."""
    key = (fa, ja, fb, jb, wa, wb)
    if key in _SUMS:
        return _SUMS[key]
    from .kernels.layout import OPTS
    from .kernels.numba_compat import variant

    @variant(fa, fb, wa, wb, **OPTS)
    def score(p, q, i0, L, X, OUT, ws):
        fa(p[0], q, i0, L, X, OUT, ws[:wa])
        d = X.shape[0]
        tmp = ws[wa + wb:wa + wb + d]
        fb(p[1], q, i0, L, X, tmp, ws[wa:wa + wb])
        for a in range(d):
            for l in range(L):
                OUT[a, l] += tmp[a, l]

    @variant(ja, jb, wa, wb, **OPTS)
    def score_jac(p, q, i0, L, X, OUT, J, ws):
        ja(p[0], q, i0, L, X, OUT, J, ws[:wa])
        d = X.shape[0]
        tmp = ws[wa + wb:wa + wb + d]
        J2 = ws[wa + wb + d:wa + wb + d + d * d].reshape((d, d, ws.shape[1]))
        jb(p[1], q, i0, L, X, tmp, J2, ws[wa:wa + wb])
        for a in range(d):
            for l in range(L):
                OUT[a, l] += tmp[a, l]
            for b in range(d):
                for l in range(L):
                    J[a, b, l] += J2[a, b, l]

    _SUMS[key] = (score, score_jac)
    return score, score_jac


# ------------------------------------------------------------ conversions (docs/math/mixtures.md#conversions)
def eps_from_score(alpha_bar: float, s):
    """Noise prediction ``eps_t(x) = -sqrt(1 - abar_t) s_t(x)``."""
    return -math.sqrt(1.0 - alpha_bar) * s


def x0_from_score(alpha_bar: float, x, s):
    """Data prediction (Tweedie) ``x0_t(x) = (x + (1 - abar_t) s_t(x)) / sqrt(abar_t)``."""
    return (x + (1.0 - alpha_bar) * s) / math.sqrt(alpha_bar)


def require_jacobian(model, metric: str, why: str) -> None:
    """A one-line :class:`~accnum.errors.MissingCapability` when ``metric`` needs the score
    Jacobian (``why``: what it uses it for) and ``model`` has none."""
    if not model.has_jacobian:
        raise MissingCapability(f"metric {metric!r} needs the score Jacobian ({why}); score model "
                                f"{model.describe()} has none: give it score_and_jacobian(), or use a sample metric "
                                "(sliced-w2, energy, w1, ks)")


def require_deterministic(model, metric: str) -> None:
    """A one-line :class:`~accnum.errors.MissingCapability` when ``metric`` integrates a
    sampler's one-step kernel and ``model`` draws fresh noise at every evaluation."""
    if not model.deterministic:
        raise MissingCapability(f"metric {metric!r} needs a deterministic score (it integrates the sampler's Gaussian "
                                f"one-step kernel); score model {model.describe()} draws fresh noise at every "
                                "evaluation, so the kernel is a mixture over that noise: use a sample metric "
                                "(sliced-w2, energy, w1, ks)")


__all__ = ["CompiledScore", "Evaluations", "ExactScore", "ScoreFunction", "ScoreModel", "Sum", "eps_from_score",
           "x0_from_score"]
