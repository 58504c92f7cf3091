"""The coursework, end to end, with the real nbgrader.

A throwaway nbgrader course is built in a temporary folder from notebooks/ the way
INSTRUCTORS.md describes: ``scripts/student_edition.py --nbgrader-source``, ``nbgrader db
assignment add``, ``nbgrader generate_assignment`` (with nbgrader's own metadata validation),
then ``nbgrader autograde`` and ``nbgrader generate_feedback`` for three submissions:

- ``untouched``: the release copy as a student receives it, which must score 0;
- ``solutions``: the book's own solutions, which must earn every automatically graded point
  (the written answers wait for a person to grade them);
- ``mistakes``: a realistic mistake planted in every coding exercise, each of which must lose
  its points, with the check's message (and no traceback through aelib) in the feedback.

Each submission executes the five chapters, which is most of the time this takes. The course is
generated once, and each student is then graded in a copy of it (gradebook included), so that
the three autogrades run side by side instead of one after another.
"""
import contextlib
import html
import importlib.util
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
ASSIGNMENT = "book"
COURSE_ID = "autoencoders-from-scratch"
CELL_TIMEOUT = 600  # seconds; far above the 120 INSTRUCTORS.md advises, as a test machine may be busy
spec = importlib.util.spec_from_file_location("student_edition", ROOT / "scripts" / "student_edition.py")
student_edition = importlib.util.module_from_spec(spec)
spec.loader.exec_module(student_edition)

# One realistic mistake per coding exercise: the grade id of the solution cell, the code that
# replaces the first solution region in it, and what the feedback must say.
MISTAKES = {
    "ex-0-1-solution": ("return np.maximum(1.0 - H**2, 0.01)",
                        r"tanh_grad returned 0\.01 where tanh.\(A\) is smaller"),
    "ex-0-2-solution": ("def loss(H, V):\n"
                        "    return np.sum(Delta * (H @ V))\n"
                        "dW, dH_in = np.zeros(W.shape), np.zeros(H_in.shape)\n"
                        "for index in np.ndindex(W.shape):\n"
                        "    E = np.zeros(W.shape)\n"
                        "    E[index] = 1.0\n"
                        "    dW[index] = (loss(H_in, W + E) - loss(H_in, W - E)) / 2\n"
                        "for index in np.ndindex(H_in.shape):\n"
                        "    E = np.zeros(H_in.shape)\n"
                        "    E[index] = 1.0\n"
                        "    dH_in[index] = (loss(H_in + E, W) - loss(H_in - E, W)) / 2\n"
                        "return dW, Delta.sum(axis=0), dH_in",
                        r"dense_backward combined H_in with W in \d+ operations, .*\(counting values computed "
                        r"from them, such as W \+ E\)"),
    "ex-0-5-solution": ("m = beta1 * m + (1 - beta1) * grad\n"
                        "v = beta2 * v + (1 - beta2) * grad**2\n"
                        "m_hat, v_hat = m / (1 - beta1**t), v / (1 - beta2**t)\n"
                        "return theta - lr * m_hat / (np.sqrt(v_hat) + 1e-8), m, v",
                        "uses eps = 1e-8 instead of its argument eps"),
    "ex-0-6-solution": ("def loss(P):\n"
                        "    H1 = np.tanh(cache['X'] @ P[0] + P[1])\n"
                        "    H2 = np.tanh(H1 @ P[2] + P[3])\n"
                        "    return np.sum(Delta3 * (H2 @ P[4] + P[5]))\n"
                        "grads = []\n"
                        "for i, param in enumerate(params):\n"
                        "    grad = np.zeros(param.shape)\n"
                        "    for index in np.ndindex(param.shape):\n"
                        "        plus, minus = [p.copy() for p in params], [p.copy() for p in params]\n"
                        "        plus[i][index] += 1e-5\n"
                        "        minus[i][index] -= 1e-5\n"
                        "        grad[index] = (loss(plus) - loss(minus)) / 2e-5\n"
                        "    grads.append(grad)\n"
                        "return grads",
                        r"mlp_backward combined X with W1 in \d+ operations"),
    "ex-1-1-solution": ("return (np.abs(X_hat - X) >= 0.5).sum(axis=1)",
                        r"x = 0\.0 and x_hat = 0\.5, which is right"),
    "ex-1-2-solution": ("terms = -(X * np.log(X_hat) + (1 - X) * np.log(1 - X_hat))\n"
                        "return float(np.mean(np.nan_to_num(terms, nan=0.0, posinf=30.0)))",
                        "a pixel further from the truth must not cost less"),
    "ex-1-4-solution": ("model = aelib.Autoencoder([35, 30, 20, 3], seed=0)\n"
                        "model.fit(X, epochs=epochs, lr=3e-3)\n"
                        "return model",
                        "built with seed=0 although the check passed seed=1"),
    "ex-1-5-solution": ("X_hat = model.reconstruct(X_unseen)\n"
                        "wrong = ((X_hat >= 0.5) != (X_unseen > 0.5)).sum(axis=1)\n"
                        "return wrong, aelib.denoising.glyph_distances(X_hat, X_train).argmin(axis=1)",
                        r"exactly 0\.5 counted as ink"),
    "ex-2-1-solution": ("replaced = rng.random((len(X), 1)) < p\n"
                        "return np.where(replaced, (rng.random(X.shape) < 0.5).astype(float), X)",
                        "all or none of their 35 pixels replaced"),
    "ex-2-2-solution": ("return aelib.nearest_glyph(X_noisy, glyphs)",
                        "calls aelib.denoising.nearest_glyph, which is part of aelib"),
    "ex-2-4-solution": ("return np.where(rng.random((len(X), 1)) < p, 0.0, X)",
                        "all or none of their 35 pixels erased"),
    "ex-2-5-solution": ("return (X_noisy[:, None, :] != glyphs[None, :, :]).sum(axis=2).argmin(axis=1)",
                        "is more probable"),
    "ex-3-1-solution": ("return aelib.vae.kl_divergence(mu, logvar)",
                        "calls aelib.vae.kl_divergence, which is part of aelib"),
    "ex-3-2-solution": ("return dZ, dZ * eps * np.exp(0.5 * logvar)", "missing the factor 1/2"),
    "ex-3-5-solution": ("n = len(dZ)\n"
                        "sigma = np.exp(0.5 * logvar)\n"
                        "return np.hstack([dZ + mu / n, 0.5 * dZ * sigma * eps + 0.5 * (sigma ** 2 - 1) / n])",
                        "forgets beta on the KL term"),
    "ex-3-4-solution": ("def decode(Z):\n"
                        "    return vae.decode(np.column_stack([np.full(len(Z), z3), Z]))\n"
                        "return decode",
                        "you put z3 first"),
    "ex-4-1-solution": ("return np.mean(scores[is_positive][:, None] >= scores[~is_positive][None, :])",
                        "A tie counted as a win"),
    "ex-4-2-solution": ("order = rng.permutation(n_samples)\n"
                        "starts = range(0, n_samples - batch_size + 1, batch_size)\n"
                        "return [order[start:start + batch_size] for start in starts]",
                        "The last 3 samples are missing: keep the smaller last batch"),
    "ex-4-3-solution": ("indices, _ = aelib.nearest_neighbors(Z_train, Z_query)\n"
                        "return np.mean(y_train[indices] == y_query[:, None])",
                        "the precision of 5 neighbours; pass k on to aelib.nearest_neighbors"),
}


def grade_id(cell):
    return student_edition.nbgrader_metadata(cell).get("grade_id")


def plant_mistakes(notebook):
    """Replace the first solution region of each cell named in MISTAKES by its mistake."""
    planted = []
    for cell in notebook.cells:
        if grade_id(cell) not in MISTAKES:
            continue
        lines = cell.source.split("\n")
        begin = next(i for i, line in enumerate(lines) if "BEGIN SOLUTION" in line)
        end = next(i for i, line in enumerate(lines) if "END SOLUTION" in line)
        indent = re.match(r"\s*", lines[begin]).group(0)
        mistake = [indent + line for line in MISTAKES[grade_id(cell)][0].split("\n")]
        cell.source = "\n".join(lines[:begin] + mistake + lines[end + 1:])
        planted.append(grade_id(cell))
    return planted


def start_nbgrader(course, *args):
    """Start one nbgrader command in the course folder; ``finish`` waits for it."""
    bin_dir = str(Path(sys.executable).parent)
    env = dict(os.environ, PATH=bin_dir + os.pathsep + os.environ.get("PATH", ""),  # alembic for the db
               JUPYTER_CONFIG_DIR=str(course.parent / "jupyter-config"),
               JUPYTER_DATA_DIR=str(course.parent / "jupyter-data"),
               JUPYTER_RUNTIME_DIR=str(course.parent / "jupyter-runtime"),
               IPYTHONDIR=str(course.parent / "ipython"), MPLCONFIGDIR=str(course.parent / "matplotlib"),
               MPLBACKEND="agg",
               # aelib's matrices are small: one BLAS thread per kernel is as fast, and much faster
               # than threads that wait for each other on a busy machine.
               OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    return subprocess.Popen([sys.executable, "-m", "nbgrader", *args], cwd=course, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def finish(*processes):
    """Wait for nbgrader commands; return their logs, fail with the log of any that failed."""
    logs = []
    for process in processes:
        log = process.communicate()[0]
        assert process.returncode == 0, f"nbgrader {' '.join(process.args[3:])} failed:\n{log[-6000:]}"
        logs.append(log)
    return logs


def nbgrader(course, *args):
    """Run one nbgrader command in the course folder; return its log, fail with it on an error."""
    return finish(start_nbgrader(course, *args))[0]


def write_config(course):
    (course / "nbgrader_config.py").write_text(
        "c = get_config()\n"
        f"c.CourseDirectory.course_id = {COURSE_ID!r}\n"
        f"c.CourseDirectory.root = {str(course)!r}\n"
        f"c.Execute.timeout = {CELL_TIMEOUT}\n", encoding="utf-8")


STUDENTS = ("untouched", "solutions", "mistakes")


@pytest.fixture(scope="module")
def courses(tmp_path_factory):
    """{student: the course folder in which that student was autograded and given feedback}."""
    root = tmp_path_factory.mktemp("nbgrader")
    course = root / "generated" / "course"
    course.mkdir(parents=True)
    write_config(course)
    source = course / "source" / ASSIGNMENT
    student_edition.main(["--nbgrader-source", str(source)])
    times = {}
    with timed(times, "generate"):
        nbgrader(course, "db", "assignment", "add", ASSIGNMENT)
        nbgrader(course, "generate_assignment", ASSIGNMENT)

    submissions = {"untouched": course / "release" / ASSIGNMENT, "solutions": source}
    for student, origin in submissions.items():
        shutil.copytree(origin, course / "submitted" / student / ASSIGNMENT)
    planted = []
    for path in sorted((course / "submitted" / "solutions" / ASSIGNMENT).glob("*.ipynb")):
        notebook = nbformat.read(path, as_version=4)
        planted += plant_mistakes(notebook)
        folder = course / "submitted" / "mistakes" / ASSIGNMENT
        folder.mkdir(parents=True, exist_ok=True)
        nbformat.write(notebook, folder / path.name)
    assert sorted(planted) == sorted(MISTAKES), "every planted mistake needs its solution cell"

    copies = {}
    for student in STUDENTS:
        (course / "submitted" / student / ASSIGNMENT / "timestamp.txt").write_text(
            "2026-01-15 12:00:00.000000 UTC", encoding="utf-8")
        copies[student] = copy = root / student / "course"
        shutil.copytree(course, copy, ignore=lambda folder, names: [
            name for name in names if Path(folder) == course / "submitted" and name != student])
        write_config(copy)
    with timed(times, "autograde"):
        finish(*[start_nbgrader(copy, "autograde", ASSIGNMENT) for copy in copies.values()])
    with timed(times, "feedback"):
        finish(*[start_nbgrader(copy, "generate_feedback", ASSIGNMENT) for copy in copies.values()])
    (root / "times.json").write_text(json.dumps(times, indent=1), encoding="utf-8")
    print(f"\nnbgrader course, seconds (wall clock, CPU of nbgrader and its kernels): {times}")
    return copies


@contextlib.contextmanager
def timed(times, step):
    """Record the wall-clock time of a step and the CPU time of the processes it ran (which,
    unlike the wall clock, does not grow when other programs share the machine)."""
    start, cpu = time.perf_counter(), resource.getrusage(resource.RUSAGE_CHILDREN)
    yield
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    times[step] = (round(time.perf_counter() - start, 1),
                   round(after.ru_utime + after.ru_stime - cpu.ru_utime - cpu.ru_stime, 1))


def grades(courses, student):
    """{grade_id: (auto_score, max_score, needs_manual_grade)} of every graded cell."""
    from nbgrader.api import Gradebook

    result = {}
    with Gradebook(f"sqlite:///{courses[student] / 'gradebook.db'}") as gradebook:
        submission = gradebook.find_submission(ASSIGNMENT, student)
        for notebook in submission.notebooks:
            for grade in notebook.grades:
                result[grade.name] = (grade.auto_score, grade.max_score, grade.needs_manual_grade)
    return result


def graded_cells():
    """{grade_id: (cell type, points)} of every graded cell of the book's notebooks."""
    cells = {}
    for path in NOTEBOOKS:
        for cell in nbformat.read(path, as_version=4).cells:
            if student_edition.is_graded(cell):
                cells[grade_id(cell)] = (cell.cell_type, student_edition.nbgrader_metadata(cell)["points"])
    return cells


def comparable(notebook):
    """A notebook as JSON, without the checksums and cell types nbgrader adds to its metadata."""
    data = json.loads(nbformat.writes(notebook))
    for cell in data["cells"]:
        for key in ("checksum", "cell_type"):
            cell["metadata"].get("nbgrader", {}).pop(key, None)
    return data


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_make_student_gives_the_notebooks_nbgrader_releases(courses, path):
    released = nbformat.read(courses["untouched"] / "release" / ASSIGNMENT / path.name, as_version=4)
    assert comparable(student_edition.student_notebook(path)) == comparable(released)
    assert "widgets" not in released.metadata
    assert not any("{cite" in cell.source for cell in released.cells)


def test_the_untouched_release_copy_scores_zero(courses):
    scores = grades(courses, "untouched")
    assert set(scores) == set(graded_cells())
    assert {name: auto for name, (auto, _, _) in scores.items() if auto != 0} == {}


def test_the_books_solutions_earn_every_automatic_point(courses):
    scores = grades(courses, "solutions")
    for name, (cell_type, points) in graded_cells().items():
        auto, max_score, manual = scores[name]
        assert max_score == points, name
        if cell_type == "code":
            assert (auto, manual) == (points, False), f"{name}: {auto} of {points} points"
        else:
            assert manual, f"{name}: a written answer waits for a person to grade it"


def test_every_planted_mistake_loses_its_points_with_a_clear_message(courses):
    scores = grades(courses, "mistakes")
    checks = {name: points for name, (cell_type, points) in graded_cells().items() if cell_type == "code"}
    assert {name: scores[name][0] for name in checks} == dict.fromkeys(checks, 0)
    feedback = "".join(page_text(path) for path in (courses["mistakes"] / "feedback" / "mistakes" / ASSIGNMENT).glob("*.html"))
    text = " ".join(feedback.split())
    for solution_id, (_, message) in MISTAKES.items():
        assert re.search(message, text), f"{solution_id}: the feedback does not say {message!r}"
    assert text.count("exercise check failed") == len(MISTAKES)
    # The feedback shows each check's message alone, not a traceback through aelib's code.
    assert "aelib/checks" not in feedback and "most recent call last" not in feedback


def page_text(path):
    """The text of an HTML page, without its style sheets and tags."""
    page = re.sub(r"<style.*?</style>", "", path.read_text(encoding="utf-8"), flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", "", page))


def test_feedback_for_every_notebook_of_every_student(courses):
    for student in STUDENTS:
        written = sorted(path.stem for path in (courses[student] / "feedback" / student / ASSIGNMENT).glob("*.html"))
        assert written == [path.stem for path in NOTEBOOKS], student


def first_exercise(notebook):
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type == "markdown" and cell.source.lstrip("# ").startswith("Exercise"):
            return index
    raise AssertionError("no exercise heading found")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_the_untouched_copy_runs_its_teaching_part_and_every_check_says_not_implemented(courses, path):
    notebook = nbformat.read(courses["untouched"] / "autograded" / "untouched" / ASSIGNMENT / path.name,
                             as_version=4)
    errors = {index: "\n".join(output.traceback) for index, cell in enumerate(notebook.cells)
              if cell.cell_type == "code" for output in cell.outputs if output.output_type == "error"}
    assert min(errors) > first_exercise(notebook), "the chapter fails before its exercises"
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type == "code" and student_edition.is_graded(cell):
            assert "is not implemented yet" in errors.get(index, ""), grade_id(cell)
