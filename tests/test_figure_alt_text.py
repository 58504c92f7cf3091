"""Every figure a page draws carries a description for readers who cannot see it.

The description is the cell's ``mystnb: image: alt:`` metadata, which myst-nb writes into the
website's <img alt>, and which travels with the notebook (JupyterLab, nbgrader's feedback). It
says what the figure shows and what to notice, in at least a sentence, and is not a file name.
The pages are the chapter notebooks and the text notebooks of the book (MyST Markdown with
``file_format: mystnb``, such as the benchmarks appendix), where the metadata is the YAML block
at the top of a ``code-cell``. (The browser test checks the rendered pages too; this check needs
no browser.)
"""
import re

import nbformat
import pytest
from myst_nb.core.read import is_myst_markdown_notebook, read_myst_markdown_notebook

from book_toc import source_file, toc_documents


def executable_pages():
    for path in map(source_file, toc_documents()):
        if path is None:
            continue
        if path.suffix == ".ipynb" or is_myst_markdown_notebook(path.read_text(encoding="utf-8")):
            yield path


PAGES = list(executable_pages())
# A file name or path: one word with a slash, or ending in an image suffix.
PATH_LIKE = re.compile(r"^\S*[/\\]\S*$|\.(?:png|jpe?g|svg|gif)$", re.IGNORECASE)
# A text notebook stores no outputs: its figure cells are those that show a matplotlib figure.
SHOWS_A_FIGURE = re.compile(r"\bplt\.show\(\)")


def read(path):
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".ipynb":
        return nbformat.reads(text, as_version=4)
    return read_myst_markdown_notebook(text, path=path)


def figure_cells(notebook):
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        outputs = cell.get("outputs", [])
        if any("image/png" in output.get("data", {}) for output in outputs):
            yield cell
        elif not outputs and SHOWS_A_FIGURE.search(cell.source):
            yield cell


def test_the_text_notebooks_are_checked():
    # The benchmarks appendix is a text notebook with two figures; if it were no longer found,
    # or its figure cells no longer recognised, the test below would pass without looking.
    benchmarks = [path for path in PAGES if path.name == "benchmarks.md"]
    assert benchmarks, f"book/benchmarks.md is not among the pages checked: {[path.name for path in PAGES]}"
    assert len(list(figure_cells(read(benchmarks[0])))) == 2


@pytest.mark.parametrize("path", PAGES, ids=lambda path: path.stem)
def test_every_figure_has_a_description(path):
    poor = []
    for index, cell in enumerate(figure_cells(read(path))):
        alt = cell.metadata.get("mystnb", {}).get("image", {}).get("alt", "")
        if PATH_LIKE.search(alt) or len(alt.split()) < 8 or not alt.rstrip().endswith("."):
            poor.append(f"cell {cell.get('id', index)}: {alt[:60] or '(no alt text)'}")
    assert not poor, (f"{path.name}: figures without a description (cell metadata "
                      f"{{'mystnb': {{'image': {{'alt': '...'}}}}}}): {poor}")
