"""The student edition: solutions replaced by nbgrader's stubs, outputs cleared, cells locked as
nbgrader locks them, no saved widget state, plain citations; the teaching part runs.
(tests/test_nbgrader_course.py compares it with what nbgrader itself releases.)"""
import importlib.util
import re
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
    # A written answer is graded by hand, so nbgrader requires grade and points on it.
    graded = cell_type == "markdown"
    cell.metadata["nbgrader"] = {"solution": True, "grade": graded, "grade_id": "x", "locked": False,
                                 "schema_version": 3, "task": False, **({"points": 2} if graded else {})}
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
    original = student_edition.readable_notebook(path)
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


def test_solution_and_graded_cells_are_locked_as_nbgrader_locks_them():
    solution = solution_cell("### BEGIN SOLUTION\nx = 1\n### END SOLUTION")
    check = nbformat.v4.new_code_cell("check(x)")
    check.metadata["nbgrader"] = {"grade": True, "solution": False, "locked": True, "points": 1,
                                  "grade_id": "y", "schema_version": 3, "task": False}
    plain = nbformat.v4.new_code_cell("y = 2")
    for cell in (solution, check, plain):
        student_edition.student_cell(cell, "test")
    assert solution.metadata["deletable"] is False and "editable" not in solution.metadata
    assert check.metadata["deletable"] is False and check.metadata["editable"] is False
    assert "deletable" not in plain.metadata


BIBLIOGRAPHY = student_edition.read_bibliography()


@pytest.mark.parametrize("text, plain", [
    ("the VAE {cite}`kingma2013auto`.", "the VAE (Kingma and Welling, 2013)."),
    ("{cite}`vincent2008extracting,goodfellow2016deep`", "(Vincent et al., 2008; Goodfellow et al., 2016)"),
    ("as {cite:t}`kingma2014adam` show", "as Kingma and Ba (2014) show"),
    ("{cite:p}`baldi1989neural`", "(Baldi and Hornik, 1989)"),
])
def test_citations_become_plain_text(text, plain):
    assert student_edition.plain_citations(text, BIBLIOGRAPHY) == plain


def test_an_unknown_citation_key_is_reported():
    with pytest.raises(KeyError, match="nobody2020"):
        student_edition.plain_citations("{cite}`nobody2020`", BIBLIOGRAPHY)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_student_notebook_is_readable_in_jupyterlab(path):
    student = student_edition.student_notebook(path)
    assert "widgets" not in student.metadata
    assert not [cell.source for cell in student.cells if "{cite" in cell.source]


def points_per_notebook():
    """{notebook stem: (points of the checks, points of the written answers)}."""
    totals = {}
    for path in NOTEBOOKS:
        checks = answers = 0
        for cell in nbformat.read(path, as_version=4).cells:
            if student_edition.is_graded(cell):
                points = cell.metadata["nbgrader"]["points"]
                if cell.cell_type == "code":
                    checks += points
                else:
                    answers += points
        totals[path.stem] = (checks, answers)
    return totals


def test_instructors_notes_state_the_points_of_every_chapter():
    """INSTRUCTORS.md has a row "| `stem` | checks | written answers | total |" per chapter."""
    text = (ROOT / "INSTRUCTORS.md").read_text(encoding="utf-8")
    documented = {match[0]: tuple(int(n) for n in match[1:]) for match in
                  re.findall(r"^\| `(\w+)` \| (\d+) \| (\d+) \| (\d+) \|", text, flags=re.M)}
    expected = {stem: (checks, answers, checks + answers) for stem, (checks, answers) in points_per_notebook().items()}
    assert documented == expected


def test_every_graded_cell_has_a_unique_stable_id_and_points():
    ids = []
    for path in NOTEBOOKS:
        for cell in nbformat.read(path, as_version=4).cells:
            metadata = cell.get("metadata", {}).get("nbgrader")
            if not metadata:
                continue
            ids.append(metadata["grade_id"])
            assert re.fullmatch(r"ex-\d-\d-[a-z-]+", metadata["grade_id"]), metadata["grade_id"]
            if metadata.get("grade"):
                assert metadata.get("points", 0) > 0, metadata["grade_id"]
            if cell.cell_type == "markdown" and metadata.get("solution"):
                assert metadata.get("grade"), f"{metadata['grade_id']}: nbgrader requires written answers graded"
    assert len(ids) == len(set(ids))
