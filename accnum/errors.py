"""The errors accnum raises on purpose: each says, in one line, which argument or capability
is at fault and what to do.

Every class derives from :class:`AccnumError` and from the built-in exception a caller
would expect (``ValueError`` for a bad value, ``TypeError`` for a wrong type), so code
that catches ``ValueError`` keeps working.  The command line turns an ``AccnumError``
into one line on stderr and exit status 2; any other exception is a bug in accnum and
shows as one, with its traceback.
"""

from __future__ import annotations


class AccnumError(Exception):
    """Base of every error accnum raises deliberately (bad input, a missing capability)."""


class InvalidInput(AccnumError, ValueError):
    """An argument has a value accnum cannot use; the message names the argument and the rule."""


class InvalidType(AccnumError, TypeError):
    """An argument has the wrong type; the message names the argument and what it must be."""


class TooLarge(InvalidInput):
    """A request would need more memory than the machine has: refused before allocating,
    with the estimate and the argument that drives it."""


class MissingCapability(InvalidInput):
    """A metric or backend needs something the sampler or score model does not provide
    (a score Jacobian, a one-step kernel, a step the kernels can trace)."""


class UntraceableStep(MissingCapability, TypeError):
    """A sampler's step cannot be traced into a program for the compiled kernels: it is not
    a linear combination of its inputs with coefficients that depend only on ``t`` and the
    schedule.  The message names the rule the step broke and how to run it instead."""


class NonInvertibleMap(InvalidInput):
    """A deterministic sampler's step has a Jacobian determinant <= 0 somewhere: the map is
    not invertible and the change-of-variables metrics are undefined there."""


class BackendUnavailable(AccnumError, RuntimeError):
    """The requested backend cannot run on this machine (the message says how to get it)."""


class NumericalFailure(InvalidInput):
    """A computation produced values float64 cannot hold (overflow to inf, NaN); the message
    names the input that drove it there."""


class InvalidStudy(InvalidInput):
    """A study specification with problems, every one of them listed (``problems``: one line
    each) so that a study file is fixed in one pass; the command line prints them all."""

    def __init__(self, source: str, problems):
        self.problems = list(problems)
        n = len(self.problems)
        super().__init__(f"{source}: {n} problem{'s' if n != 1 else ''}, nothing was run"
                         + "".join(f"\n  - {p}" for p in self.problems))


__all__ = ["AccnumError", "BackendUnavailable", "InvalidInput", "InvalidStudy", "InvalidType", "MissingCapability",
           "NonInvertibleMap", "NumericalFailure", "TooLarge", "UntraceableStep"]


class WriteFailed(AccnumError, OSError):
    """An output could not be written (a full disk, a quota, a folder removed meanwhile);
    nothing was replaced and no temporary file is left."""
