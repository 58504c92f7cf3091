"""Write the student edition of the notebooks, or the course source that nbgrader turns into it.

    python scripts/student_edition.py [--output _build/student]
    python scripts/student_edition.py --nbgrader-source COURSE/source/ASSIGNMENT [NOTEBOOK ...]
    python scripts/student_edition.py --exercises-only ...   (either of the above, exercises only)

Both start from the book's notebooks, made readable outside the book: the saved state of the
book's widgets is dropped (a student's kernel draws its own, and the stale state only weighs
the file down), and every MyST citation role, which JupyterLab shows as raw text, becomes a plain
citation such as "(Kingma and Welling, 2013)" read from book/references.bib.

``--nbgrader-source`` writes those notebooks with their solutions, for an nbgrader course's
``source/`` folder; ``nbgrader generate_assignment`` then makes the student version. Without it,
this script makes the student version itself, by nbgrader's rules (its ``generate_assignment``
steps LockCells, ClearSolutions and ClearOutput): in a solution cell (cell metadata
``nbgrader.solution: true``) the lines between ``### BEGIN SOLUTION`` and ``### END SOLUTION``
become

    # YOUR CODE HERE
    raise NotImplementedError()

(indented like the marker), a markdown solution without markers becomes "YOUR ANSWER HERE",
outputs are cleared, and solution and graded cells cannot be deleted (graded cells not edited).
``tests/test_nbgrader_course.py`` checks that the two ways give the same notebooks.

``--exercises-only`` keeps of each chapter only what its exercises need: the title, the first
code cell (the imports), the cells tagged ``exercise-setup`` (those before the exercises whose
names the exercises use) and everything from the cell with the "## Exercises" heading on. Such an assignment
takes seconds to autograde instead of the time the whole chapter takes to run, for a course that
assigns the exercises alone.
"""
import argparse
import re
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
BIBLIOGRAPHY = ROOT / "book" / "references.bib"
BEGIN, END = "BEGIN SOLUTION", "END SOLUTION"
CODE_STUB = "# YOUR CODE HERE\nraise NotImplementedError()"
TEXT_STUB = "YOUR ANSWER HERE"
CITE_ROLE = re.compile(r"\{cite(?::(\w+))?\}`([^`]+)`")


def nbgrader_metadata(cell):
    return cell.get("metadata", {}).get("nbgrader", {})


def is_solution(cell):
    return bool(nbgrader_metadata(cell).get("solution", False))


def is_graded(cell):
    return bool(nbgrader_metadata(cell).get("grade", False))


def replace_solution_regions(source, stub):
    """Return (new_source, replaced) with every marked region replaced by ``stub``."""
    lines, replaced, inside = [], False, False
    for line in source.split("\n"):
        if BEGIN in line:
            if inside:
                raise ValueError(f"nested '{BEGIN}' in:\n{source}")
            inside, replaced = True, True
            indent = re.match(r"\s*", line).group(0)
            lines.extend(indent + stub_line for stub_line in stub.split("\n"))
        elif inside and END in line:
            inside = False
        elif not inside:
            lines.append(line)
    if inside:
        raise ValueError(f"'{BEGIN}' without '{END}' in:\n{source}")
    return "\n".join(lines), replaced


def student_cell(cell, where):
    """Clear a cell's solution and outputs and lock it as nbgrader does, in place."""
    stub = CODE_STUB if cell.cell_type == "code" else TEXT_STUB
    source, replaced = replace_solution_regions(cell.source, stub)
    if replaced and not is_solution(cell):
        raise ValueError(f"{where}: solution markers in a cell not marked as a solution cell")
    if not replaced and is_solution(cell):
        source = stub
    cell.source = source
    if cell.cell_type == "code":
        cell.outputs = []
        cell.execution_count = None
    if is_solution(cell):
        cell.metadata["deletable"] = False
    elif is_graded(cell) or nbgrader_metadata(cell).get("locked", False):
        cell.metadata["deletable"] = False
        cell.metadata["editable"] = False


def read_bibliography(path=BIBLIOGRAPHY):
    """{key: "Kingma and Welling, 2013"} for every entry of a BibTeX file."""
    citations = {}
    for entry in re.split(r"\n(?=@)", path.read_text(encoding="utf-8")):
        key = re.match(r"\s*@\w+\{([^,\s]+),", entry)
        authors = re.search(r"\bauthor\s*=\s*\{(.+?)\},?\s*\n", entry)
        year = re.search(r"\byear\s*=\s*\{?(\d{4})", entry)
        if not (key and authors and year):
            continue
        surnames = [name.split(",")[0].strip() for name in authors.group(1).split(" and ")]
        if len(surnames) == 1:
            who = surnames[0]
        elif len(surnames) == 2:
            who = f"{surnames[0]} and {surnames[1]}"
        else:
            who = f"{surnames[0]} et al."
        citations[key.group(1)] = (who, year.group(1))
    return citations


def plain_citations(text, bibliography):
    """Replace {cite}`a,b` by "(A, 2013; B et al., 2016)" and {cite:t}`a` by "A (2013)"."""
    def replace(match):
        role, keys = match.group(1), [key.strip() for key in match.group(2).split(",")]
        missing = [key for key in keys if key not in bibliography]
        if missing:
            raise KeyError(f"citation keys not in {BIBLIOGRAPHY.name}: {missing}")
        if role == "t":
            return "; ".join(f"{who} ({year})" for who, year in (bibliography[key] for key in keys))
        return "(" + "; ".join(f"{who}, {year}" for who, year in (bibliography[key] for key in keys)) + ")"
    return CITE_ROLE.sub(replace, text)


def readable_notebook(path, bibliography=None):
    """The notebook at ``path`` without saved widget state and with plain citations."""
    bibliography = read_bibliography() if bibliography is None else bibliography
    notebook = nbformat.read(path, as_version=4)
    notebook.metadata.pop("widgets", None)
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            cell.source = plain_citations(cell.source, bibliography)
    return notebook


EXERCISES_HEADING = "## Exercises"
SETUP_TAG = "exercise-setup"


def exercises_only(notebook, where="notebook"):
    """``notebook`` cut down to its exercises and what they need (a new NotebookNode, in place)."""
    cells = notebook.cells
    heading = re.compile(rf"^{EXERCISES_HEADING}\s*$", re.M)
    start = next((index for index, cell in enumerate(cells) if cell.cell_type == "markdown"
                  and heading.search(cell.source)), None)
    if start is None:
        raise ValueError(f"{where}: no '{EXERCISES_HEADING}' heading")
    first_code = next(index for index, cell in enumerate(cells) if cell.cell_type == "code")
    notebook.cells = [cell for index, cell in enumerate(cells)
                      if index in (0, first_code) or index >= start
                      or SETUP_TAG in cell.get("metadata", {}).get("tags", [])]
    return notebook


def student_notebook(path, bibliography=None):
    """The student version of the notebook at ``path`` (a new NotebookNode)."""
    notebook = readable_notebook(path, bibliography)
    for index, cell in enumerate(notebook.cells):
        student_cell(cell, f"{path}, cell {index}")
    return notebook


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", default=str(ROOT / "_build" / "student"), help="folder to write into")
    parser.add_argument("--nbgrader-source", metavar="FOLDER",
                        help="write the notebooks with their solutions into FOLDER, for nbgrader")
    parser.add_argument("--exercises-only", action="store_true",
                        help="keep only the exercises and the cells they need (tagged exercise-setup)")
    parser.add_argument("notebooks", nargs="*", type=Path,
                        help="notebooks to convert (default: every notebook in notebooks/)")
    args = parser.parse_args(argv)
    output = Path(args.nbgrader_source or args.output)
    convert = readable_notebook if args.nbgrader_source else student_notebook
    output.mkdir(parents=True, exist_ok=True)
    notebooks = args.notebooks or sorted((ROOT / "notebooks").glob("*.ipynb"))
    bibliography = read_bibliography()
    for path in notebooks:
        notebook = convert(path, bibliography)
        if args.exercises_only:
            notebook = exercises_only(notebook, str(path))
        nbformat.write(notebook, output / path.name)
    kind = "notebooks for nbgrader" if args.nbgrader_source else "student notebooks"
    print(f"wrote {len(notebooks)} {kind} to {output}")


if __name__ == "__main__":
    sys.exit(main())
