"""The student edition: solutions replaced by nbgrader's stubs, outputs cleared, teaching part runs."""
import importlib.util
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))

spec = importlib.util.spec_from_file_location("student_edition", ROOT / "scripts" / "student_edition.py")
student_edition = importlib.util.module_from_spec(spec)
spec.loader.exec_module(student_edition)


def solution_cell(source, cell_type="code"):
    make = nbformat.v4.new_code_cell if cell_type == "code" else nbformat.v4.new_markdown_cell
    cell = make(source)
    cell.metadata["nbgrader"] = {"solution": True, "grade": False, "grade_id": "x", "locked": False,
                                 "schema_version": 3, "task": False}
    return cell


def test_marked_region_becomes_indented_stub():
    cell = solution_cell("def f(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION\n\nf(1)")
    student_edition.student_cell(cell, "test")
    assert cell.source == "def f(x):\n    # YOUR CODE HERE\n    raise NotImplementedError()\n\nf(1)"


def test_markdown_solution_without_markers_becomes_prompt():
    cell = solution_cell(":::{admonition} Solution\n:class: dropdown\nThe answer.\n:::", "markdown")
    student_edition.student_cell(cell, "test")
    assert cell.source == "YOUR ANSWER HERE"


def test_outputs_are_cleared_and_plain_cells_kept():
    cell = nbformat.v4.new_code_cell("print(1)", execution_count=3,
                                     outputs=[nbformat.v4.new_output("stream", text="1\n")])
    student_edition.student_cell(cell, "test")
    assert cell.source == "print(1)" and cell.outputs == [] and cell.execution_count is None


@pytest.mark.parametrize("source, message", [
    ("### BEGIN SOLUTION\nx = 1", "without"),
    ("### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION", "nested"),
])
def test_malformed_markers_are_reported(source, message):
    with pytest.raises(ValueError, match=message):
        student_edition.student_cell(solution_cell(source), "test")


def test_markers_outside_a_solution_cell_are_reported():
    cell = nbformat.v4.new_code_cell("### BEGIN SOLUTION\nx = 1\n### END SOLUTION")
    with pytest.raises(ValueError, match="not marked as a solution cell"):
        student_edition.student_cell(cell, "test")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_student_notebook_hides_every_solution(path):
    original = nbformat.read(path, as_version=4)
    student = student_edition.student_notebook(path)
    n_solutions = sum(student_edition.is_solution(cell) for cell in original.cells)
    assert n_solutions >= 3, f"{path.name} should have solution cells for its exercises"
    for before, after in zip(original.cells, student.cells):
        assert "SOLUTION" not in after.source
        if after.cell_type == "code":
            assert after.outputs == [] and after.execution_count is None
        if student_edition.is_solution(before):
            assert "YOUR CODE HERE" in after.source or after.source == "YOUR ANSWER HERE"
        else:
            assert after.source == before.source


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_matches_nbgrader_when_installed(path):
    preprocessors = pytest.importorskip("nbgrader.preprocessors", reason="nbgrader is not installed (optional)")
    ours = student_edition.student_notebook(path)
    theirs = nbformat.read(path, as_version=4)
    resources = {}
    theirs, resources = preprocessors.ClearSolutions().preprocess(theirs, resources)
    theirs, resources = preprocessors.ClearOutput().preprocess(theirs, resources)
    assert [cell.source for cell in ours.cells] == [cell.source for cell in theirs.cells]


def first_exercise(notebook):
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type == "markdown" and cell.source.lstrip("# ").startswith("Exercise"):
            return index
    raise AssertionError("no exercise heading found")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_teaching_part_runs_and_first_check_says_not_implemented(path):
    """Executes the student edition up to the first graded check: everything before it runs,
    and the check, facing the stub, reports "not implemented yet" instead of crashing."""
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    student = student_edition.student_notebook(path)
    start = first_exercise(student)
    cells = student.cells[:start]
    for cell in student.cells[start:]:
        cells.append(cell)
        if cell.cell_type == "code" and cell.get("metadata", {}).get("nbgrader", {}).get("grade"):
            break
    student.cells = cells
    client = NotebookClient(student, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    with pytest.raises(CellExecutionError, match="not implemented yet"):
        client.execute()
    failed = [i for i, cell in enumerate(cells) if cell.cell_type == "code"
              and any(output.get("output_type") == "error" for output in cell.outputs)]
    assert failed == [len(cells) - 1], f"cells {failed} failed; only the first check should"
