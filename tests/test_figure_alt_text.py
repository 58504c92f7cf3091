"""Every figure a chapter draws carries a description for readers who cannot see it.

The description is the cell's ``mystnb: image: alt:`` metadata, which myst-nb writes into the
website's <img alt>, and which travels with the notebook (JupyterLab, nbgrader's feedback). It
says what the figure shows and what to notice, in at least a sentence, and is not a file name.
(The browser test checks the rendered pages too; this check needs no browser.)
"""
import re

import nbformat
import pytest

from book_toc import source_file, toc_documents

CHAPTERS = [path for path in map(source_file, toc_documents())
            if path is not None and path.suffix == ".ipynb"]
# A file name or path: one word with a slash, or ending in an image suffix.
PATH_LIKE = re.compile(r"^\S*[/\\]\S*$|\.(?:png|jpe?g|svg|gif)$", re.IGNORECASE)


def figure_cells(notebook):
    for cell in notebook.cells:
        if cell.cell_type == "code" and any("image/png" in output.get("data", {}) for output in cell.get("outputs", [])):
            yield cell


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda path: path.stem)
def test_every_figure_has_a_description(path):
    notebook = nbformat.read(path, as_version=4)
    poor = []
    for cell in figure_cells(notebook):
        alt = cell.metadata.get("mystnb", {}).get("image", {}).get("alt", "")
        if PATH_LIKE.search(alt) or len(alt.split()) < 8 or not alt.rstrip().endswith("."):
            poor.append(f"cell {cell.get('id')}: {alt[:60] or '(no alt text)'}")
    assert not poor, (f"{path.name}: figures without a description (cell metadata "
                      f"{{'mystnb': {{'image': {{'alt': '...'}}}}}}): {poor}")
