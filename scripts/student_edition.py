"""Write the student edition of the notebooks: solutions replaced by stubs, outputs cleared.

    python scripts/student_edition.py [--output _build/student]

Solution cells are marked as nbgrader marks them (cell metadata ``nbgrader.solution: true``);
inside them, the lines between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` become

    # YOUR CODE HERE
    raise NotImplementedError()

(indented like the marker), and a markdown solution without markers becomes "YOUR ANSWER HERE".
These are the rules of nbgrader's ``generate_assignment`` (its ClearSolutions and ClearOutput
steps), so instructors who use nbgrader get the same student version from the same notebooks;
``tests/test_student_edition.py`` compares the two when nbgrader is installed.
"""
import argparse
import re
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
BEGIN, END = "BEGIN SOLUTION", "END SOLUTION"
CODE_STUB = "# YOUR CODE HERE\nraise NotImplementedError()"
TEXT_STUB = "YOUR ANSWER HERE"


def is_solution(cell):
    return bool(cell.get("metadata", {}).get("nbgrader", {}).get("solution", False))


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
    """Clear a cell's solution and outputs, in place."""
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


def student_notebook(path):
    """The student version of the notebook at ``path`` (a new NotebookNode)."""
    notebook = nbformat.read(path, as_version=4)
    for index, cell in enumerate(notebook.cells):
        student_cell(cell, f"{path}, cell {index}")
    return notebook


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", default=str(ROOT / "_build" / "student"), help="folder to write into")
    args = parser.parse_args(argv)
    output = Path(args.output)
    output.mkdir(parents=True, exist_ok=True)
    notebooks = sorted((ROOT / "notebooks").glob("*.ipynb"))
    for path in notebooks:
        nbformat.write(student_notebook(path), output / path.name)
    print(f"wrote {len(notebooks)} student notebooks to {output}")


if __name__ == "__main__":
    sys.exit(main())
