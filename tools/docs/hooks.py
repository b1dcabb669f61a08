"""MkDocs hooks (mkdocs.yml ``hooks:``): the generated parts of the site.

* A marker ``<!-- generate: NAME ARGS -->`` in a page is replaced by what
  ``tools/docs/gen.py`` makes of it (sampler facts, measured orders, the metric registry,
  the command-line reference), read from accnum at build time.  On GitHub the marker is an
  invisible comment; on the site it is the table.
* The nav's ``Teaching`` section lists every page and notebook under docs/teaching/ (index
  first, then by file name); it is left out while there is none.
* The measured orders (docs/data/measured-orders.json) must match the sampler registry and
  this accnum version, or the build warns (and ``--strict`` fails): rerun
  ``python tools/docs/measure_orders.py``.
"""

from __future__ import annotations

import logging
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import gen  # noqa: E402

log = logging.getLogger("mkdocs.hooks.accnum")
MARKER = re.compile(r"^<!--\s*generate:\s*([\w-]+)((?:[ \t]+[\w.,-]+)*)\s*-->$", re.MULTILINE)


def on_config(config):
    docs = Path(config["docs_dir"])
    teaching = docs / "teaching"
    found = [p for pat in ("*.md", "*.ipynb") for p in teaching.rglob(pat)] if teaching.is_dir() else []
    pages = sorted(found, key=lambda p: (p.name != "index.md", p.as_posix()))
    nav = config["nav"]
    for i, item in enumerate(nav):
        if isinstance(item, dict) and "Teaching" in item:
            if pages:
                nav[i] = {"Teaching": [p.relative_to(docs).as_posix() for p in pages]}
            else:
                del nav[i]
            break
    return config


def on_pre_build(config):
    try:
        problems = gen.check_measured()
    except FileNotFoundError as err:
        problems = [str(err)]
    for p in problems:
        log.warning(f"measured orders out of date: {p}; run python tools/docs/measure_orders.py")


def on_page_markdown(markdown, page, config, files):
    def replace(m: re.Match) -> str:
        try:
            return gen.generate(m.group(1), *m.group(2).split())
        except Exception as err:   # a broken generator must fail the strict build, naming the page
            log.warning(f"{page.file.src_uri}: cannot generate {m.group(0)!r}: {type(err).__name__}: {err}")
            return f"*(not generated: {err})*"

    return MARKER.sub(replace, markdown)
