"""Invalid input to the public functions of issue 14 (families, isotropic closed forms, fits,
studies, stores, dims): accnum's own errors, one line each (a study's list of problems, one
line per problem, is the one exception)."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accnum import targets
from accnum.errors import AccnumError, InvalidStudy
from accnum.experiments import orders, study
from accnum.experiments.dims import dimension_sweep
from accnum.experiments.store import Store
from accnum.metrics.gaussian import kl_gauss_iso, tv_gauss_iso, w2_gauss_iso

JUNK = st.one_of(
    st.none(), st.booleans(), st.text(max_size=8), st.integers(-5, 3), st.just(10**30),
    st.floats(allow_nan=True, allow_infinity=True), st.lists(st.floats(-2, 2), max_size=3),
    st.just(np.ones((3, 4))), st.just({"a": 1}),
)
fuzz = settings(deadline=None, suppress_health_check=list(HealthCheck), max_examples=30)


def _documented(fn, *args, **kwargs):
    try:
        fn(*args, **kwargs)
    except AccnumError as err:
        msg = str(err)
        lines = msg.splitlines()
        assert lines and (len(lines) == 1 or isinstance(err, InvalidStudy)), repr(msg)
        return err
    return None


@fuzz
@given(a=JUNK, b=JUNK, m=JUNK)
def test_isotropic_closed_forms(a, b, m):
    for fn in (tv_gauss_iso, kl_gauss_iso, w2_gauss_iso):
        _documented(fn, m, a, [0.0], b)
        _documented(fn, [0.0, 1.0], a, [1.0, 0.0], 1.0)


@fuzz
@given(name=st.one_of(st.sampled_from(["twomodes", "isogauss", "gmm:K=3,layout=fixed", "ring8"]), JUNK), d=JUNK)
def test_families(name, d):
    _documented(targets.family, name)
    _documented(targets.in_dimension, name, d)
    _documented(targets.get, "isogauss", d=2, var=d)
    _documented(targets.get, "gmm", d=4, K=2, layout=d)


@fuzz
@given(value=JUNK)
def test_fit_ranges_and_fits(value):
    _documented(orders.fit_range, value)
    _documented(orders.fit_polylog, [10, 20, 40, 80], [1.0, 0.5, 0.25, 0.12], p=value)


@fuzz
@given(key=st.sampled_from(["targets", "d", "samplers", "schedules", "T", "seeds", "perturbations", "metrics", "init",
                            "n", "target_rse", "backend", "max_cell_seconds", "group", "store"]), value=JUNK)
def test_study_values(key, value):
    spec = {"targets": ["twomodes"], "d": [1, 2], "samplers": ["ddim-li"], "T": [3], "n": 64}
    spec[key] = value
    _documented(study.from_dict, spec)     # T = 3 is too small for li2024: nothing runs
    _documented(study.from_dict, value)


@fuzz
@given(arg=st.sampled_from(["family", "samplers", "ds", "T", "metric", "n", "seed", "init", "store", "workers",
                            "scheduler", "max_cell_seconds", "fit_range", "schedule_params"]), value=JUNK)
def test_dims(arg, value, tmp_path_factory):
    kwargs = {"family": "twomodes", "samplers": ["ddim-li"], "ds": [1, 2], "T": 3, "n": 64, "progress": False}
    kwargs[arg] = value
    if arg == "T":
        kwargs["ds"] = [0]               # invalid anyway: every call must fail fast
    _documented(dimension_sweep, **kwargs)


@fuzz
@given(value=JUNK)
def test_stores_and_study_files(value, tmp_path_factory):
    _documented(Store, value, create=False)
    _documented(study.load, value)
