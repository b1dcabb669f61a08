"""Input validation shared by every public function.

Each helper raises ``ValueError`` (or ``TypeError`` for a wrong type) with a one-line
message that names the argument and the rule it broke, in the style of scipy.stats.
"""

from __future__ import annotations

import numbers

import numpy as np


def as_float_array(name: str, value, ndim: tuple[int, ...] | None = None) -> np.ndarray:
    """``value`` as a float64 array; ``ndim`` lists the accepted numbers of dimensions."""
    if isinstance(value, (str, bytes)) or value is None:
        raise TypeError(f"{name} must be an array of numbers, got {type(value).__name__}")
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be an array of numbers") from None
    if ndim is not None and arr.ndim not in ndim:
        want = " or ".join(str(k) for k in ndim)
        raise ValueError(f"{name} must have {want} dimensions, got shape {arr.shape}")
    return arr


def finite(name: str, arr: np.ndarray) -> np.ndarray:
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite (no NaN or inf)")
    return arr


def integer(name: str, value, minimum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__}")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return value


def real(name: str, value, *, low=None, high=None, low_open=False, high_open=False) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    value = float(value)
    if not np.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    if low is not None and (value <= low if low_open else value < low):
        raise ValueError(f"{name} must be {'>' if low_open else '>='} {low}, got {value}")
    if high is not None and (value >= high if high_open else value > high):
        raise ValueError(f"{name} must be {'<' if high_open else '<='} {high}, got {value}")
    return value


def seed(value) -> int:
    value = integer("seed", value, minimum=0)
    if value >= 2**63:
        raise ValueError(f"seed must be < 2**63, got {value}")
    return value


def choice(name: str, value, valid) -> str:
    valid = list(valid)
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a string naming one of: {', '.join(valid)}; got {type(value).__name__}")
    if value not in valid:
        raise ValueError(f"unknown {name} {value!r}; valid: {', '.join(valid)}")
    return value


def points(name: str, x, d: int) -> tuple[np.ndarray, bool]:
    """``x`` as an ``(n, d)`` float64 array; the flag says whether a single ``(d,)`` point came in."""
    arr = as_float_array(name, x, ndim=(1, 2))
    single = arr.ndim == 1
    if single:
        arr = arr[None, :]
    if arr.shape[1] != d:
        raise ValueError(f"{name} must have {d} columns (the target's dimension), got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite (no NaN or inf)")
    return arr, single
