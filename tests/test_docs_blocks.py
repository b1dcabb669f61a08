"""Every code block of README.md and docs/**/*.md runs, page by page (tools/docs/blocks.py
says what each kind of block must do and how a page marks the exceptions)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools" / "docs"))
import blocks  # noqa: E402


@pytest.mark.parametrize("page", blocks.pages(), ids=lambda p: str(p.relative_to(ROOT)))
def test_code_blocks_run(page, tmp_path):
    failures, _ = blocks.check_page(page, tmp_path)
    assert not failures, "\n\n".join(failures)
