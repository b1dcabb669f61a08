"""Every formula cited in the code or the docs resolves inside the repository.

The code cites the mathematics as ``docs/math/<page>.md#<anchor>`` (docstrings, comments,
messages); the pages link each other as ``[text](page.md#anchor)``.  Here every such
citation, in every Python, Markdown, TOML and YAML file of the repository, is resolved:
the file must exist inside the repository (no citation may point outside it, e.g. to a
spec kept elsewhere), and the anchor must be a heading of that file, by its explicit id
(``## Exact score {#exact-score}``) or by the id MkDocs derives from the heading's text.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SKIP_DIRS = {".git", ".venv", ".ci-venv", "site", "node_modules", "__pycache__", "build", "dist", ".hypothesis",
             ".pytest_cache"}
#: files whose citations are not checked here, and why
EXCLUDED = {
    "tests/test_docs_anchors.py": "its patterns' examples",
    "tools/docs/gen.py": "links of generated tables, relative to the page they land on: mkdocs build --strict checks them",
    "tools/docs/measure_orders.py": "as gen.py",
    "docs/case-studies/generate.py": "names its own output files (docs/case-studies/_generated/), not citations",
    "tests/test_studies.py": "a scratch page doc.md that the test writes",
}
SUFFIXES = {".py", ".md", ".toml", ".yml", ".yaml", ".txt", ".cfg", ".ipynb"}
#: a path to a Markdown file, with an optional anchor: docs/math/orders.md#fit, ../rates.md, index.md#notation
CITATION = re.compile(r"(?<![\w/.:-])((?:\.\.?/)*[\w][\w./-]*\.md)(#[\w-]+)?(?![\w-])")
LINK = re.compile(r"\]\(\s*(#[\w-]+|[^)\s#]+\.md(?:#[\w-]+)?)\s*\)")
WHOLE_LINK = re.compile(r"\[[^\]]*\]\([^)]*\)")
FENCE = re.compile(r"^\s*(`{3,}|~{3,})")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
EXPLICIT_ID = re.compile(r"\{[^}]*#([\w-]+)[^}]*\}\s*$")


def repo_files() -> list[Path]:
    out = []
    for p in ROOT.rglob("*"):
        rel = p.relative_to(ROOT)
        if any(part in SKIP_DIRS or part.endswith(".egg-info") for part in rel.parts):
            continue
        if p.is_file() and p.suffix in SUFFIXES and rel.as_posix() not in EXCLUDED:
            out.append(p)
    return sorted(out)


def slugify(text: str) -> str:
    """Python-Markdown's toc slug (what MkDocs gives a heading without an explicit id)."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)       # links: their text
    text = re.sub(r"<[^>]+>", "", text).replace("`", "")         # HTML, code marks
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    text = re.sub(r"[^\w\s-]", "", text).strip().lower()
    return re.sub(r"[-\s]+", "-", text)


@lru_cache(maxsize=None)
def anchors(path: Path) -> frozenset[str]:
    """The ids of ``path``'s headings (outside code blocks), and any ``id="..."`` in its HTML."""
    ids, fence = set(), None
    for line in path.read_text(encoding="utf-8").split("\n"):
        m = FENCE.match(line)
        if m:
            fence = None if fence and m.group(1).startswith(fence) else (fence or m.group(1))
            continue
        if fence:
            continue
        h = HEADING.match(line)
        if h:
            text = h.group(2)
            e = EXPLICIT_ID.search(text)
            ids.add(e.group(1) if e else slugify(text))
        ids.update(re.findall(r"""\bid=["']([\w-]+)["']""", line))
    return frozenset(ids)


def _inside(p: Path) -> bool:
    try:
        p.resolve().relative_to(ROOT)
        return True
    except ValueError:
        return False


def citations() -> list[tuple[str, str, str | None, list[Path]]]:
    """``(where, path as written, anchor, candidate files)`` for every citation found."""
    found = []
    for f in repo_files():
        text = f.read_text(encoding="utf-8", errors="replace")
        rel = f.relative_to(ROOT)
        if f.suffix == ".md":   # HTML comments are not citations (the case studies' generated-part markers)
            text = re.sub(r"<!--.*?-->", lambda m: re.sub(r"[^\n]", " ", m.group(0)), text, flags=re.S)
        for lineno, line in enumerate(text.split("\n"), 1):
            where = f"{rel}:{lineno}"
            spans = []
            if f.suffix == ".md":
                spans = [m.span() for m in WHOLE_LINK.finditer(line)]
                for m in LINK.finditer(line):
                    target = m.group(1)
                    if "://" in target:
                        continue
                    path, _, anchor = target.partition("#")
                    files = [f] if not path else [f.parent / path]
                    found.append((where, target, anchor or None, files))
            for m in CITATION.finditer(line):
                if any(a <= m.start(1) < b for a, b in spans) or "://" in line[max(0, m.start() - 40):m.start()]:
                    continue
                path, anchor = m.group(1), (m.group(2) or "")[1:] or None
                # from the repository root, from the citing file's folder, or (mkdocs.yml's nav) from docs/
                found.append((where, m.group(0), anchor, [ROOT / path, f.parent / path, ROOT / "docs" / path]))
    return found


CITES = citations()


def test_the_scan_finds_the_citations():
    code = [c for c in CITES if c[0].startswith("accnum/") and "docs/math/" in c[1]]
    assert len(code) >= 30, f"only {len(code)} docs/math citations found in accnum/: the pattern is broken"
    assert any(c[1] == "docs/math/mixtures.md#exact-score" for c in CITES)


@pytest.mark.parametrize("where,cited,anchor,files", CITES, ids=[f"{c[0]}:{c[1]}" for c in CITES])
def test_citation_resolves(where, cited, anchor, files):
    existing = [p for p in files if p.is_file() and _inside(p)]
    assert existing, f"{where}: {cited} names no file inside the repository"
    if anchor is not None:
        assert any(anchor in anchors(p.resolve()) for p in existing), (
            f"{where}: {cited}: no heading with id {anchor!r} in {existing[0].resolve().relative_to(ROOT)} "
            f"(its ids: {', '.join(sorted(anchors(existing[0].resolve())))})")


def test_slugs_match_mkdocs():
    assert slugify("Metrics on the kernels") == "metrics-on-the-kernels"
    assert slugify("Beyond the last step: $\\alpha_{T+1} := \\alpha_T$") == "beyond-the-last-step-alpha_t1-alpha_t"
    assert slugify("`SampleResult`: samples") == "sampleresult-samples"


#: a source file named in a page: accnum/run.py, tests/test_rates.py, examples/my_samplers.py
CODE_PATH = re.compile(r"(?<![\w/.-])((?:accnum|tests|examples|benchmarks|tools|docs/teaching)/[\w/.-]+\.(?:py|mjs|json|toml))\b")
#: pages whose file names are not checked yet, and why
STALE_PAGES: dict[str, str] = {}


def test_code_paths_in_pages_exist():
    """Every source file a page names exists: a page may not describe code that is not there."""
    missing = []
    for f in [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]:
        rel = f.relative_to(ROOT).as_posix()
        if rel in STALE_PAGES:
            continue
        for lineno, line in enumerate(f.read_text(encoding="utf-8").split("\n"), 1):
            for m in CODE_PATH.finditer(line):
                if not (ROOT / m.group(1)).exists():
                    missing.append(f"{rel}:{lineno}: {m.group(1)}")
    assert not missing, "pages name files that do not exist:\n" + "\n".join(missing)
