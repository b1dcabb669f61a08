"""Input validation shared by every public function.

Each helper raises :class:`~accnum.errors.InvalidInput` (a ``ValueError``) or, for a wrong
type, :class:`~accnum.errors.InvalidType` (a ``TypeError``) with a one-line message that
names the argument and the rule it broke, in the style of scipy.stats.
"""

from __future__ import annotations

import numbers

import numpy as np

from .errors import InvalidInput, InvalidType


def as_float_array(name: str, value, ndim: tuple[int, ...] | None = None) -> np.ndarray:
    """``value`` as a float64 array; ``ndim`` lists the accepted numbers of dimensions."""
    if isinstance(value, (str, bytes)) or value is None:
        raise InvalidType(f"{name} must be an array of numbers, got {type(value).__name__}")
    try:
        raw = value if isinstance(value, np.ndarray) else np.asarray(value)
        if raw.dtype.kind not in "iuf":   # strings, booleans, objects: not numbers, even if NumPy would convert them
            raise TypeError
        arr = np.asarray(raw, dtype=np.float64)
    except (TypeError, ValueError, OverflowError):
        raise InvalidType(f"{name} must be an array of numbers") from None
    if ndim is not None and arr.ndim not in ndim:
        want = " or ".join(str(k) for k in ndim)
        raise InvalidInput(f"{name} must have {want} dimensions, got shape {arr.shape}")
    return arr


def flag(name: str, value) -> bool:
    """A true/false switch: ``True`` or ``False`` only (a string such as ``'no'`` is refused)."""
    if not isinstance(value, (bool, np.bool_)):
        raise InvalidType(f"{name} must be True or False, got {value!r}")
    return bool(value)


def finite(name: str, arr: np.ndarray) -> np.ndarray:
    if not np.all(np.isfinite(arr)):
        raise InvalidInput(f"{name} must be finite (no NaN or inf)")
    return arr


def integer(name: str, value, minimum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise InvalidType(f"{name} must be an integer, got {type(value).__name__}")
    value = int(value)
    if minimum is not None and value < minimum:
        raise InvalidInput(f"{name} must be >= {minimum}, got {value}")
    return value


def real(name: str, value, *, low=None, high=None, low_open=False, high_open=False) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InvalidType(f"{name} must be a real number, got {type(value).__name__}")
    value = float(value)
    if not np.isfinite(value):
        raise InvalidInput(f"{name} must be finite, got {value}")
    if low is not None and (value <= low if low_open else value < low):
        raise InvalidInput(f"{name} must be {'>' if low_open else '>='} {low}, got {value}")
    if high is not None and (value >= high if high_open else value > high):
        raise InvalidInput(f"{name} must be {'<' if high_open else '<='} {high}, got {value}")
    return value


def seed(value) -> int:
    value = integer("seed", value, minimum=0)
    if value >= 2**63:
        raise InvalidInput(f"seed must be < 2**63, got {value}")
    return value


def choice(name: str, value, valid) -> str:
    valid = list(valid)
    if not isinstance(value, str):
        raise InvalidType(f"{name} must be a string naming one of: {', '.join(valid)}; got {type(value).__name__}")
    if value not in valid:
        import difflib

        near = difflib.get_close_matches(value, valid, n=1, cutoff=0.75)
        hint = f"; did you mean {near[0]!r}?" if near else ""
        if name == "sampler" and not near and ":" not in value:
            hint = "; a sampler of your own is named by its import path, package.module:Class"
        raise InvalidInput(f"unknown {name} {value!r}; valid: {', '.join(valid)}{hint}")
    return value


#: points beyond this magnitude square past float64's range (|x|^2 > 1e300)
POINT_LIMIT = 1e150


def points(name: str, x, d: int) -> tuple[np.ndarray, bool]:
    """``x`` as an ``(n, d)`` float64 array; the flag says whether a single ``(d,)`` point came in."""
    arr = as_float_array(name, x, ndim=(1, 2))
    single = arr.ndim == 1
    if single:
        arr = arr[None, :]
    if arr.shape[1] != d:
        raise InvalidInput(f"{name} must have {d} columns (the target's dimension), got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise InvalidInput(f"{name} must be finite (no NaN or inf)")
    if arr.size and np.max(np.abs(arr)) >= POINT_LIMIT:
        raise InvalidInput(f"{name} has entries of magnitude >= {POINT_LIMIT:g}: the Gaussian quadratic forms "
                           "overflow float64 there")
    return arr, single


def schedule(value, name: str = "schedule"):
    """``value`` if it is a :class:`~accnum.schedules.Schedule` (a name or a number is not)."""
    from .schedules import Schedule

    if not isinstance(value, Schedule):
        raise InvalidType(f"{name} must be a Schedule (e.g. accnum.schedules.li2024(T)), got {type(value).__name__}"
                          + (f" {value!r}" if isinstance(value, (str, int, float)) else ""))
    return value


def distinct(name: str, values) -> list:
    """``values`` as a list, refusing repeats (a repeated sampler would be fitted twice)."""
    values = list(values)
    seen = set()
    for v in values:
        if v in seen:
            raise InvalidInput(f"{name} lists {v!r} more than once")
        seen.add(v)
    return values


def increasing(name: str, values, item: str, minimum: int, what: str = "integers") -> list[int]:
    """``values`` as a non-empty, strictly increasing list of integers ``>= minimum``
    (a grid of T, of NFE budgets); ``item`` names one entry in messages."""
    if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
        raise InvalidType(f"{name} must be a list of {what}")
    out = [integer(item, v, minimum=minimum) for v in values]
    if not out:
        raise InvalidInput(f"{name} must not be empty")
    if any(b <= a for a, b in zip(out[:-1], out[1:], strict=True)):
        raise InvalidInput(f"{name} must be strictly increasing, got {out}")
    return out
