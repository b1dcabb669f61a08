"""The teaching notebooks (docs/teaching/), checked as files: stored executed, without errors,
reading ACCNUM_FAST, explained between cells; the exercise has its solution; and executed top
to bottom in fast mode (``ACCNUM_FAST=1``), as ``pytest --nbmake docs/teaching`` does."""

from __future__ import annotations

import pathlib

import nbformat
import pytest

FOLDER = pathlib.Path(__file__).resolve().parents[1] / "docs" / "teaching"
NOTEBOOKS = sorted(FOLDER.glob("*.ipynb"))
TOPICS = ("quickstart", "probability-flow", "local-vs-global", "convergence", "ode-vs-sde", "score-error",
          "exercise-own-sampler", "exercise-solution")


def test_every_topic_has_a_notebook_and_the_script_is_gone():
    names = [p.stem for p in NOTEBOOKS]
    for topic in TOPICS:
        assert any(topic in n for n in names), topic
    assert not (FOLDER / "walkthrough.py").exists()


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_stored_with_outputs_and_no_errors(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(c.execution_count is not None for c in code), "not executed"
    assert [c.execution_count for c in code] == list(range(1, len(code) + 1)), "not executed top to bottom"
    for c in code:
        assert not [o for o in c.outputs if o.output_type == "error"], c.source[:80]
    assert any("image/png" in o.get("data", {}) for c in code for o in c.outputs), "no figure"
    source = "\n".join(c.source for c in code)
    assert 'os.environ.get("ACCNUM_FAST") == "1"' in source and "matplotlib.use" not in source
    # explained: prose before the first code cell and between most code cells
    assert nb.cells[0].cell_type == "markdown"
    between = sum(1 for a, b in zip(nb.cells[:-1], nb.cells[1:], strict=True)
                  if a.cell_type == "code" and b.cell_type == "markdown")
    assert between >= (len(code) - 1) // 2


def test_the_exercise_is_open_and_the_solution_solves_it():
    ex = nbformat.read(FOLDER / "07-exercise-own-sampler.ipynb", as_version=4)
    sol = nbformat.read(FOLDER / "07-exercise-solution.ipynb", as_version=4)
    src = lambda nb: "\n".join(c.source for c in nb.cells if c.cell_type == "code")  # noqa: E731
    out = lambda nb: "\n".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)  # noqa: E731
    assert "TODO" in src(ex) and "TODO" not in src(sol)
    assert "not second order yet" in out(ex) and "second order: yes" in out(sol)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_runs_top_to_bottom_in_fast_mode(path, tmp_path, monkeypatch):
    """Executed as nbmake would (``ACCNUM_FAST=1 pytest --nbmake docs/teaching``), in a scratch
    folder, so that ``pytest`` alone runs every notebook; outputs are not written back."""
    from nbclient import NotebookClient

    monkeypatch.setenv("ACCNUM_FAST", "1")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors
