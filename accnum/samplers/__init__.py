"""The sampler registry: ``get(name)``, ``names()``, ``facts(name)``.

One module per family; a new sampler is a class with ``facts`` and ``step`` registered
here.
"""

from __future__ import annotations

from .. import _checks
from .accel_ode import AccelODE, AccelODEEps, AccelODEReuse
from .accel_sde import AccelSDE, AccelSDEReadme
from .base import Facts, KernelSampler, Sampler
from .ddim import DDIM
from .ddpm import DDPM
from .deis import DEIS2, DEIS3
from .dpm_solver import DPMSolver2
from .dpmpp import DPMPP2M
from .dpmpp3m import DPMPP3M, DPMPP3MCorrected
from .heun_edm import HeunEDM
from .li import DDIMLi, DDPMLi
from .randmid import RandomizedMidpointODE
from .unipc import UniPC2, UniPC3

_REGISTRY: dict[str, Sampler] = {
    cls.facts.name: cls()
    for cls in (
        DDIMLi, DDPMLi, AccelODE, AccelODEReuse, AccelODEEps, AccelSDE, AccelSDEReadme,
        DDIM, DDPM, DPMSolver2, DPMPP2M, HeunEDM,
        DPMPP3M, DPMPP3MCorrected, UniPC2, UniPC3, DEIS2, DEIS3, RandomizedMidpointODE,
    )
}


def names() -> list[str]:
    return list(_REGISTRY)


def get(name) -> Sampler:
    """The registered sampler ``name`` (a :class:`Sampler` instance is passed through)."""
    if isinstance(name, Sampler):
        return name
    _checks.choice("sampler", name, _REGISTRY)
    return _REGISTRY[name]


__all__ = ["Facts", "KernelSampler", "Sampler", "get", "names"]
