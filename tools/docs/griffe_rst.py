"""A griffe extension for the API reference (mkdocs.yml): accnum's docstrings are written in
reStructuredText habits that Markdown would garble.  Before mkdocstrings renders them:

* Sphinx roles become code: ``:class:`~accnum.errors.InvalidInput``` -> `InvalidInput`,
  ``:func:`accnum.sample``` -> `accnum.sample`;
* simple tables (``====  ====`` borders) become fenced text blocks, laid out as written;
* a paragraph ending in ``::`` ends in ``:`` (the indented block after it is already a
  Markdown code block);
* a citation of a page, ``(docs/math/orders.md#records)``, becomes a link to it (the API
  pages live in docs/reference/api/, so the link is relative to there; mkdocs build
  --strict checks that it resolves).

Nothing else changes: double backticks are Markdown code spans too.
"""

from __future__ import annotations

import re

from griffe import Extension

_ROLE = re.compile(r":(?:class|func|mod|meth|attr|data|exc|obj|const|py:\w+):`(~?)([^`]+)`")
_CITE = re.compile(r"(?<![\w/\[`])docs/([\w/.-]+\.md(?:#[\w-]+)?)")
_BORDER = re.compile(r"^\s*=+(?:\s+=+)+\s*$")


def _role(m: re.Match) -> str:
    tilde, target = m.groups()
    return f"`{target.rsplit('.', 1)[-1] if tilde else target}`"


def _tables(lines: list[str]) -> list[str]:
    out, i = [], 0
    while i < len(lines):
        if _BORDER.match(lines[i]):
            j = i + 1
            while j < len(lines) and not (_BORDER.match(lines[j]) and (j + 1 == len(lines) or not lines[j + 1].strip())):
                j += 1
            if j < len(lines):
                indent = len(lines[i]) - len(lines[i].lstrip())
                block = [ln[indent:] for ln in lines[i:j + 1]]
                out += ["", "```text", *block, "```", ""]
                i = j + 1
                continue
        out.append(lines[i])
        i += 1
    return out


def convert(text: str) -> str:
    """The docstring ``text`` in the Markdown mkdocstrings renders (see the module doc)."""
    text = _ROLE.sub(_role, text)
    text = _CITE.sub(lambda m: f"[docs/{m.group(1)}](../../{m.group(1)})", text)
    lines = _tables(text.split("\n"))
    fixed = []
    for ln in lines:
        if ln.rstrip().endswith("::") and not ln.strip().startswith(("```", ">>>")):
            stripped = ln.rstrip()[:-2]
            ln = stripped.rstrip() if stripped.endswith(" ") or not stripped.strip() else stripped + ":"
        fixed.append(ln)
    return "\n".join(fixed)


class RstToMarkdown(Extension):
    def on_instance(self, *, obj, **kwargs) -> None:
        if obj.docstring is not None:
            obj.docstring.value = convert(obj.docstring.value)
