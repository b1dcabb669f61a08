"""``accnum.samplers.check(sampler)`` and ``accnum check-sampler``: what a sampler supports, and why.

It traces the step (:mod:`accnum.kernels.program`) on a small schedule and reports, each
in words a user can act on: whether the step traces (and the rule it broke if not), what
it carries in ``state``, the score evaluations per step found against the declared NFE,
whether a stochastic sampler exposes its one-step kernel (what the path KL and the grid
TV need), and which backends and metrics it therefore supports.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace

import numpy as np

from ..errors import UntraceableStep
from .base import GaussianStepSampler, KernelSampler


@dataclass
class Report:
    name: str
    source: str
    kind: str
    traces: bool
    rule: str = ""
    state: tuple = ()
    nfe_found: dict = field(default_factory=dict)     # evaluations per step -> how many steps
    nfe_declared: int = 0
    kernel: str = ""
    kernel_form: str = "kernel() and mean_map()"
    backends: dict = field(default_factory=dict)      # backend -> None (usable) or why not
    metrics: dict = field(default_factory=dict)       # metric -> "for d = ..." or why not
    problems: list = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """No problem that makes a result wrong (a sampler that only runs on numpy is ok)."""
        return not self.problems

    def __str__(self) -> str:
        yes, no = "yes", "no "
        lines = [f"sampler {self.name} ({self.kind.upper()}), {self.source}"]
        if self.traces:
            lines.append(f"  [{yes}] step traces: it is a linear combination of its inputs, so it runs compiled")
        else:
            lines.append(f"  [{no}] step does not trace: {self.rule}")
        lines.append(f"  [info] state carried between steps: {', '.join(self.state) if self.state else 'none'}")
        if self.nfe_found:
            found = ", ".join(f"{k} on {v} step{'s' if v > 1 else ''}" for k, v in sorted(self.nfe_found.items()))
            agree = max(self.nfe_found) == self.nfe_declared
            lines.append(f"  [{yes if agree else no}] score evaluations per step: {found} (facts declare nfe = "
                         f"{self.nfe_declared})")
        if self.kind == "sde":
            lines.append(f"  [{yes if not self.kernel else no}] one-step kernel: "
                         + (f"exposed ({self.kernel_form}): path KL and grid TV can integrate it" if not self.kernel
                            else self.kernel))
        for backend, why in self.backends.items():
            lines.append(f"  [{yes if why is None else no}] backend {backend}" + ("" if why is None else f": {why}"))
        for name, verdict in self.metrics.items():
            lines.append(f"  [{yes if verdict.startswith('for') else no}] metric {name}: {verdict}")
        for p in self.problems:
            lines.append(f"  [problem] {p}")
        return "\n".join(lines)


def check(sampler, T: int = 20) -> Report:
    from .. import kernels, metrics, schedules
    from ..experiments.provenance import sampler_source
    from . import get

    sampler = get(sampler)
    f = sampler.facts
    sched = schedules.li2024(T)
    rep = Report(f.name, sampler_source(sampler), f.kind, traces=True, nfe_declared=f.nfe)
    try:
        program = kernels.trace(sampler, sched)
        rep.state = program.state
        counts, n = np.unique(program.stages, return_counts=True)
        rep.nfe_found = {int(c): int(k) for c, k in zip(counts, n, strict=True)}
        if max(rep.nfe_found) != f.nfe:
            rep.problems.append(f"the step makes up to {max(rep.nfe_found)} score evaluations but its facts declare "
                                f"nfe = {f.nfe}: correct the facts (NFE columns and plots read them)")
        used = int(program.n_noise)
        if used != f.normals and f.kind == "sde":
            rep.problems.append(f"facts declare normals = {f.normals}; fix them to the normals the step uses")
    except UntraceableStep as err:
        rep.traces, rep.rule = False, getattr(err, "rule", str(err))
    if f.kind == "sde":
        if isinstance(sampler, GaussianStepSampler):
            rep.kernel_form = ("mean_map() and moments(): Gaussian with a covariance that depends on the point; "
                               "numpy only, grid TV in 1-D")
        elif not isinstance(sampler, KernelSampler):
            rep.kernel = ("not exposed: subclass accnum.samplers.KernelSampler and give kernel(t, sched) -> (v0, v1) "
                          "and mean_map(t, u, model, sched) (or GaussianStepSampler: mean_map and moments); without "
                          "it only sample metrics apply")
        else:
            try:
                kernels.program.trace_mean_maps(sampler, sched)
            except UntraceableStep as err:
                rep.kernel = f"its mean map does not trace ({getattr(err, 'rule', err)})"
    state, why = kernels.cuda_status()
    compiled = None if rep.traces else "the step does not trace (it runs on numpy; backend auto picks numpy)"
    rep.backends = {"numpy": None, "cpu": compiled,
                    "cuda": compiled or (None if state != "none" else f"not usable here: {why}")}
    for name in metrics.names():
        m = metrics.get(name)
        if f.kind not in m.kinds:
            continue
        if not rep.traces and "jacobian" in m.needs:
            rep.metrics[name] = "no: it pushes tangents through the step, which must trace"
            continue
        dims = [d for d in (1, 2, 3, 8, 100) if m.problem(sampler, SimpleNamespace(d=d, K=1), suggest=False) is None]
        if not dims:
            why = m.problem(sampler, SimpleNamespace(d=1, K=1), suggest=False)
            rep.metrics[name] = "no: " + why.split("; ", 1)[-1] if why.startswith("metric") else why
            continue
        span = "any d" if dims[-1] == 100 else ("d = 1" if dims == [1] else f"d <= {dims[-1]}")
        gauss = " (Gaussian targets, K = 1)" if "gaussian-target" in m.needs else ""
        rep.metrics[name] = f"for {span}{gauss}"
    return rep
