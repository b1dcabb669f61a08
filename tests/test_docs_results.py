"""docs/reference/results.md documents every field of every result object: a field added to
a result without a line on that page fails here."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from accnum.experiments import rates, sensitivity
from accnum.metrics.base import Estimate
from accnum.run import SampleResult

PAGE = Path(__file__).resolve().parents[1] / "docs/reference/results.md"


def _section(anchor: str) -> str:
    """The text of the section whose heading carries ``{#anchor}``, up to the next section of its level or above."""
    text = PAGE.read_text()
    m = re.search(rf"^(#+) .*\{{#{anchor}\}}$", text, re.M)
    assert m, f"no section {{#{anchor}}} in {PAGE.name}"
    rest = text[m.end():]
    end = re.search(rf"^#{{1,{len(m.group(1))}}} ", rest, re.M)
    return rest[:end.start()] if end else rest


def _documented(section: str) -> set[str]:
    return set(re.findall(r"`([\w]+)`", section))


@pytest.mark.parametrize("cls,anchor", [(Estimate, "estimate"), (SampleResult, "sampleresult")])
def test_dataclass_fields_documented(cls, anchor):
    missing = {f.name for f in dataclasses.fields(cls)} - _documented(_section(anchor))
    assert not missing, f"{cls.__name__} fields not in {PAGE.name}#{anchor}: {sorted(missing)}"


def test_rates_record_fields_documented():
    missing = set(rates.RECORD_FIELDS) - _documented(_section("records"))
    assert not missing, f"rates record fields not documented: {sorted(missing)}"


def test_rates_orders_meta_documented():
    res = rates.RatesResult([], [], {})
    assert {"records", "orders", "meta", "timing"} <= {f.name for f in dataclasses.fields(res)}
    orders = {"sampler", "metric", "order", "ci_low", "ci_high", "intercept", "raw_slope", "nfe_slope", "points",
              "claimed", "claim_basis"}
    missing = orders - _documented(_section("orders"))
    assert not missing, f"order fields not documented: {sorted(missing)}"


def test_orders_fields_are_what_convergence_returns():
    from accnum import schedules
    from accnum.experiments.orders import observed_order

    o = observed_order([50, 100, 200], [schedules.li2024(T).h for T in (50, 100, 200)], [0.1, 0.05, 0.025], [49, 99, 199])
    documented = _documented(_section("orders"))
    assert set(o) <= documented, f"observed_order returns undocumented keys: {sorted(set(o) - documented)}"


def test_sensitivity_record_fields_documented():
    missing = set(sensitivity.RECORD_FIELDS) - _documented(_section("sensitivityresult"))
    assert not missing, f"sensitivity record fields not documented: {sorted(missing)}"
