"""What the experiments' results share: a tidy list of records (docs/math/orders.md#records)
plus summaries, written as JSON (non-finite numbers as null) and CSV; timings apart, so
that a rerun writes the same records, summaries and meta byte for byte."""

from __future__ import annotations

import csv
import io
import json
import math


def _clean(v):
    return None if isinstance(v, float) and not math.isfinite(v) else v


class TidyResult:
    """Subclasses set ``records``, ``meta``, ``SUMMARY`` (the name of their summary list) and
    ``FIELDS`` (the CSV columns)."""

    SUMMARY = "summary"
    FIELDS: tuple = ()

    def to_dict(self) -> dict:
        """Records, summary and meta (the same bytes on a rerun), then ``timing`` apart."""
        summary = getattr(self, self.SUMMARY)
        return {"records": [{k: _clean(v) for k, v in r.items()} for r in self.records],
                self.SUMMARY: [{k: _clean(v) for k, v in o.items()} for o in summary], "meta": self.meta,
                "timing": getattr(self, "timing", {})}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=1)

    def to_csv(self) -> str:
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=self.FIELDS, extrasaction="ignore")
        w.writeheader()
        for r in self.records:
            w.writerow(r)
        return buf.getvalue()
