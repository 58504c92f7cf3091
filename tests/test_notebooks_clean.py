"""The notebooks in notebooks/ are committed clean: run once from top to bottom in a fresh
kernel, with true outputs, and every one of them is a page of the book.

Parametrised over the notebooks that exist; while there are none, pytest reports the
per-notebook tests as skipped ("got empty parameter set"). The table-of-contents tests always run.
"""
import re

import nbformat
import pytest

from book_toc import ROOT, source_file, toc_documents

NOTEBOOK_DIR = ROOT / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
# Cells that are meant to raise carry this tag (myst-nb and nbval both honour it).
RAISES_TAG = "raises-exception"


def notebook_id(path):
    return path.name


def read(path):
    return nbformat.read(path, as_version=4)


def code_cells(notebook):
    return [cell for cell in notebook.cells if cell.cell_type == "code" and cell.source.strip()]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=notebook_id)
def test_starts_with_a_title(path):
    # The first cell's "# Title" is the page title in the book and in the table of contents.
    cells = read(path).cells
    first = cells[0] if cells else None
    assert first is not None and first.cell_type == "markdown", (
        f"{path.name}: the first cell must be a markdown cell starting with '# Title'"
    )
    first_line = first.source.lstrip().splitlines()[0] if first.source.strip() else ""
    assert re.match(r"# \S", first_line), (
        f"{path.name}: the first cell must start with a '# Title' heading, found {first_line!r}"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=notebook_id)
def test_uses_the_python3_kernel(path):
    kernelspec = read(path).metadata.get("kernelspec", {})
    assert kernelspec.get("name") == "python3", (
        f"{path.name}: kernelspec name is {kernelspec.get('name')!r}; select the 'Python 3' "
        "kernel (name 'python3') so the build and nbval start the same kernel"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=notebook_id)
def test_was_run_once_from_top_to_bottom(path):
    # A fresh "Restart kernel and run all" numbers the non-empty code cells 1, 2, 3, ...
    counts = [cell.execution_count for cell in code_cells(read(path))]
    unexecuted = [i for i, count in enumerate(counts) if count is None]
    assert not unexecuted, (
        f"{path.name}: code cells number {unexecuted} (counting non-empty code cells from 0) "
        "were never run; restart the kernel and run all cells, then save"
    )
    expected = list(range(1, len(counts) + 1))
    assert counts == expected, (
        f"{path.name}: execution counts {counts} are not 1, 2, 3, ... in order; the stored "
        "outputs come from cells run out of order or more than once. Restart the kernel and "
        "run all cells, then save"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=notebook_id)
def test_has_no_error_outputs(path):
    errors = [
        f"cell {index}: {output.get('ename')}: {output.get('evalue')}"
        for index, cell in enumerate(read(path).cells)
        if cell.cell_type == "code" and RAISES_TAG not in cell.metadata.get("tags", [])
        for output in cell.get("outputs", [])
        if output.output_type == "error"
    ]
    assert not errors, f"{path.name} was saved with error outputs: {errors}"


def test_every_notebook_is_in_the_toc():
    listed = set(toc_documents())
    missing = [path.name for path in NOTEBOOKS if f"notebooks/{path.stem}" not in listed]
    assert not missing, f"notebooks not listed in _toc.yml (they would not be in the book): {missing}"


def test_every_toc_entry_exists():
    missing = [document for document in toc_documents() if source_file(document) is None]
    assert not missing, (
        f"_toc.yml lists pages with no .md or .ipynb file (the book build would fail): {missing}"
    )


def test_chapters_appear_in_the_toc_in_file_order():
    # Chapter files are numbered (00_, 01_, ...) in the order readers meet them.
    chapters = [document for document in toc_documents() if document.startswith("notebooks/")]
    assert chapters == sorted(chapters), f"_toc.yml lists the chapters out of order: {chapters}"


# Every chapter checks the claims its prose makes about outputs with asserts in hidden cells.
CLAIMS_TAG = "remove-cell"
MIN_CLAIM_CELLS = 5


def claim_cells(notebook):
    return [cell for cell in code_cells(notebook)
            if CLAIMS_TAG in cell.metadata.get("tags", []) and re.search(r"^\s*assert\b", cell.source, re.M)]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=notebook_id)
def test_checks_its_claims_in_hidden_cells(path):
    found = len(claim_cells(read(path)))
    assert found >= MIN_CLAIM_CELLS, (
        f"{path.name} has {found} code cells tagged {CLAIMS_TAG!r} with an assert; every chapter "
        f"needs at least {MIN_CLAIM_CELLS}. Check each claim the prose makes about an output with an "
        f"assert in a cell tagged {CLAIMS_TAG!r} right after that output"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=notebook_id)
def test_hidden_claim_cells_print_nothing(path):
    # A claim cell is removed from the page, so anything it prints would be seen by nobody.
    noisy = [index for index, cell in enumerate(read(path).cells)
             if cell.cell_type == "code" and CLAIMS_TAG in cell.metadata.get("tags", []) and cell.get("outputs")]
    assert not noisy, f"{path.name}: cells {noisy} are tagged {CLAIMS_TAG!r} but have outputs"
