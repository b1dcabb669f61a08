"""The sampler registry: ``get(name)``, ``names()``, :func:`register` and :func:`check`.

One module per family; a sampler is a class with ``facts`` and ``step``.  Besides the
built-in names, :func:`get` takes a :class:`Sampler` (class or instance) and an import path
``"package.module:Class"`` (how the command line names a user's sampler); an installed
package adds samplers to every command through entry points in the group
``accnum.samplers`` (each naming a sampler class).  A user's sampler never takes a
built-in's name.
"""

from __future__ import annotations

import importlib
import os
import sys

from .. import _checks
from ..errors import InvalidInput, InvalidType
from .accel_ode import AccelODE, AccelODEEps, AccelODEReuse
from .accel_sde import AccelSDE, AccelSDEReadme
from .base import Facts, GaussianStepSampler, KernelSampler, Sampler
from .ddim import DDIM
from .ddpm import DDPM
from .ddpm_cov import DDPMCov
from .deis import DEIS2, DEIS3
from .dpm_solver import DPMSolver2
from .dpmpp import DPMPP2M
from .dpmpp3m import DPMPP3M, DPMPP3MCorrected
from .heun_edm import HeunEDM
from .li import DDIMLi, DDPMLi
from .randmid import RandomizedMidpointODE
from .unipc import UniPC2, UniPC3

_BUILTIN: dict[str, Sampler] = {
    cls.facts.name: cls()
    for cls in (
        DDIMLi, DDPMLi, AccelODE, AccelODEReuse, AccelODEEps, AccelSDE, AccelSDEReadme,
        DDIM, DDPM, DPMSolver2, DPMPP2M, HeunEDM,
        DPMPP3M, DPMPP3MCorrected, UniPC2, UniPC3, DEIS2, DEIS3, RandomizedMidpointODE,
        DDPMCov,
    )
}
_USER: dict[str, Sampler] = {}
_ENTRY_POINTS_LOADED = False


def _instance(obj, what: str) -> Sampler:
    """A sampler instance from a Sampler class or instance, its facts checked."""
    if isinstance(obj, type):
        if not issubclass(obj, Sampler):
            raise InvalidType(f"{what} is not a sampler: {obj.__name__} does not subclass accnum.samplers.Sampler")
        try:
            obj = obj()
        except TypeError as err:
            raise InvalidInput(f"{what}: {obj.__name__}() takes arguments ({err}); register an instance instead") from None
    if not isinstance(obj, Sampler):
        raise InvalidType(f"{what} is not a sampler: a {type(obj).__name__}, not a subclass of accnum.samplers.Sampler")
    facts = getattr(obj, "facts", None)
    if not isinstance(facts, Facts):
        raise InvalidInput(f"{what}: {type(obj).__name__} has no facts (a class attribute facts = Facts(...))")
    return obj


def register(sampler, replace: bool = False) -> Sampler:
    """Add a sampler (class or instance) under its ``facts.name``; a built-in's name is refused,
    a name a user's sampler has already taken unless ``replace``."""
    sampler = _instance(sampler, "sampler")
    name = sampler.facts.name
    if name in _BUILTIN:
        raise InvalidInput(f"sampler name {name!r} is a built-in sampler's; choose another name for "
                           f"{type(sampler).__name__}")
    if name in _USER and not replace and type(_USER[name]) is not type(sampler):
        raise InvalidInput(f"sampler {name!r} is registered already (pass replace=True to replace it)")
    _USER[name] = sampler
    return sampler


def unregister(name: str) -> None:
    """Remove a user's sampler (built-in ones stay)."""
    if name in _BUILTIN:
        raise InvalidInput(f"sampler {name!r} is built in and cannot be removed")
    _USER.pop(name, None)


def _load_entry_points() -> None:
    global _ENTRY_POINTS_LOADED
    if _ENTRY_POINTS_LOADED:
        return
    _ENTRY_POINTS_LOADED = True
    from importlib.metadata import entry_points

    for ep in entry_points(group="accnum.samplers"):
        try:
            obj = ep.load()
        except Exception as err:   # an installed plugin that fails to import must say so, not break accnum
            raise InvalidInput(f"sampler entry point {ep.name!r} ({ep.value}) does not load: {err}") from None
        sampler = _instance(obj, f"sampler entry point {ep.name!r} ({ep.value})")
        sampler.import_path = ep.value
        if sampler.facts.name not in _USER:
            register(sampler)


def from_import_path(path: str) -> Sampler:
    """The sampler ``package.module:Class`` (or ``:attribute``, a class or an instance),
    imported and registered; the current folder is searched too, as ``python -m`` would."""
    module_name, _, attr = path.partition(":")
    if not module_name or not attr or not module_name.replace(".", "").replace("_", "").isalnum():
        raise InvalidInput(f"sampler import path {path!r} must look like package.module:ClassName")
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.append(os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        raise InvalidInput(f"sampler import path {path!r}: cannot import {module_name!r} ({err})") from None
    except Exception as err:
        raise InvalidInput(f"sampler import path {path!r}: importing {module_name!r} failed: "
                           f"{type(err).__name__}: {err}") from None
    obj = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise InvalidInput(f"sampler import path {path!r}: {module_name} has no attribute {attr!r}")
        obj = getattr(obj, part)
    sampler = _instance(obj, f"sampler import path {path!r}")
    sampler.import_path = path
    name = sampler.facts.name
    if name in _BUILTIN:
        raise InvalidInput(f"sampler import path {path!r}: its name {name!r} is a built-in sampler's; "
                           "give it another name in its facts")
    return register(sampler, replace=True)


def names(builtin_only: bool = False) -> list[str]:
    """The built-in samplers, then those registered (and installed through entry points)."""
    if builtin_only:
        return list(_BUILTIN)
    _load_entry_points()
    return list(_BUILTIN) + [n for n in _USER if n not in _BUILTIN]


def get(name) -> Sampler:
    """The sampler ``name``: a registered name, an import path ``package.module:Class``, or a
    :class:`Sampler` class or instance (passed through, its facts checked)."""
    if isinstance(name, (Sampler, type)):
        return _instance(name, "sampler")
    if isinstance(name, str) and ":" in name:
        return from_import_path(name)
    _load_entry_points()
    _checks.choice("sampler", name, names())
    return _BUILTIN.get(name) or _USER[name]


def check(sampler):
    """What ``sampler`` supports, and why (:func:`accnum.samplers.capabilities.check`)."""
    from .capabilities import check as run

    return run(sampler)


__all__ = ["Facts", "GaussianStepSampler", "KernelSampler", "Sampler", "check", "from_import_path", "get", "names", "register",
           "unregister"]
