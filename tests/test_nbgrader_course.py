"""The coursework, end to end, with the real nbgrader.

A throwaway nbgrader course is built in a temporary folder from notebooks/ the way
INSTRUCTORS.md describes: ``scripts/student_edition.py --nbgrader-source``, ``nbgrader db
assignment add``, ``nbgrader generate_assignment`` (with nbgrader's own metadata validation),
then ``nbgrader autograde`` and ``nbgrader generate_feedback`` for three submissions:

- ``untouched``: the release copy of the whole book as a student receives it, which must score 0
  and whose teaching part must run without any solution;
- ``solutions``: the book's own solutions, which must earn every automatically graded point
  (the written answers wait for a person to grade them);
- ``mistakes``: a plausible wrong answer in every coding exercise (answers that earlier checks
  let through), which must score 0 automatic points, with each check's message (and no traceback
  through aelib) in the feedback.

The course has two assignments made from the same notebooks: ``book``, the whole chapters, and
``exercises``, each chapter cut down to its exercises and the cells they need
(``student_edition.py --exercises-only``), which INSTRUCTORS.md offers for a course that assigns
the exercises alone. The untouched copy is graded on the whole book; the solutions and the
mistakes, which differ from it only in the exercises, on the cut-down one, which runs in a
fraction of the time. The courses are generated once, and each student is then graded in a copy
(gradebook included), so that the three autogrades run side by side.
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
EXERCISES = "exercises"
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
    "ex-2-1-solution": ("X = np.where(rng.random(X.shape) < p / 2, 1.0, X)\n"
                        "return np.where(rng.random(X.shape) < p / 2, 0.0, X)",
                        r"actual: 0\.19\d* Hint: Two passes"),
    "ex-2-2-solution": ("return (X_noisy.reshape(-1, 1, 35) != glyphs.reshape(1, -1, 35)).sum(axis=2).argmin(axis=1)",
                        r"raised ValueError: cannot reshape .* for any n_features \(not only 35\)"),
    "ex-2-4-solution": ("return np.where(rng.random(X.shape) < p, 0.0, (X > 0.5).astype(float))",
                        "with p=0 changed the grey pixels to 0 or 1 .* it binarises the image"),
    "ex-2-5-solution": ("impossible = X_noisy @ (1 - glyphs).T > 0\n"
                        "erased = glyphs.sum(axis=1) - X_noisy @ glyphs.T\n"
                        "kept = X_noisy @ glyphs.T + (1 - X_noisy) @ (1 - glyphs).T\n"
                        "return np.where(impossible, -np.inf, kept * np.log(1 - p) + erased * np.log(p)).argmax(axis=1)",
                        "right at p=0.4 but not at p=0.6"),
    "ex-3-1-solution": ("dmu, dlogvar = aelib.vae.kl_divergence_grads(mu, logvar)\n"
                        "return 0.5 * np.sum(mu * dmu + 2 * dlogvar + 1 - logvar - 1, axis=1)",
                        "calls aelib.vae.kl_divergence_grads, which is part of aelib"),
    "ex-3-2-solution": ("h = 1e-5\n"
                        "dsigma = (np.exp(0.5 * (logvar + h)) - np.exp(0.5 * (logvar - h))) / (2 * h)\n"
                        "return dZ, dZ * eps * dsigma",
                        "nudged logvar by a small step"),
    "ex-3-5-solution": ("n = len(dZ)\n"
                        "dsigma = (np.exp(0.5 * (logvar + 1e-7)) - np.exp(0.5 * logvar)) / 1e-7\n"
                        "return np.hstack([dZ + beta / n * mu, dZ * eps * dsigma + beta / n * 0.5 * (np.exp(logvar) - 1)])",
                        "nudged logvar by a small step"),
    "ex-3-4-solution": ("global slice_z3\n"
                        "slice_z3 = z3\n"
                        "return lambda Z: vae.decode(np.column_stack([Z, np.full(len(Z), slice_z3)]))",
                        "the z3 of another call"),
    "ex-3-6-solution": ("W1, b1, W2, b2, W3, b3, W4, b4 = params\n"
                        "n = len(cache['X'])\n"
                        "Delta4 = (cache['X_hat'] - cache['X']) / n\n"
                        "Delta3 = (Delta4 @ W4.T) * (1 - cache['H3'] ** 2)\n"
                        "sigma = np.exp(0.5 * cache['logvar'])\n"
                        "dZ = Delta3 @ W3.T\n"
                        "Delta2 = np.hstack([dZ + beta / n * cache['mu'],\n"
                        "                    0.5 * dZ * sigma * cache['eps'] + beta / n * 0.5 * (sigma ** 2 - 1)])\n"
                        "Delta1 = (Delta2 @ W2.T) * (1 - cache['H1'] ** 2)\n"
                        "return [cache['X'].T @ Delta1, Delta1.sum(axis=0), cache['H1'].T @ Delta2, Delta2.sum(axis=0),\n"
                        "        cache['mu'].T @ Delta3, Delta3.sum(axis=0), cache['H3'].T @ Delta4, Delta4.sum(axis=0)]",
                        "dW3 used mu as the decoder's input"),
    "ex-4-1-solution": ("fpr, tpr, _ = aelib.roc_curve(scores, is_positive)\n"
                        "return np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2)",
                        "calls aelib.evaluation.roc_curve, which is part of aelib"),
    "ex-4-2-solution": ("return [rng.permutation(np.arange(start, min(start + batch_size, n_samples)))\n"
                        "        for start in range(0, n_samples, batch_size)]",
                        "every epoch puts the same samples together"),
    "ex-4-3-solution": ("distances = np.abs(Z_query[:, None] - Z_train[None]).sum(axis=2)\n"
                        "indices = np.argsort(distances, axis=1, kind='stable')[:, :k]\n"
                        "return np.mean(y_train[indices] == y_query[:, None])",
                        r"neighbours by the L1 \(Manhattan\) distance"),
    "ex-4-5-solution": ("tau = np.quantile(scores_val[~is_anomaly_val], 1 - max_false_alarm_rate)\n"
                        "flagged = scores_test >= tau\n"
                        "return tau, np.mean(flagged[~is_anomaly_test]), np.mean(flagged[is_anomaly_test])",
                        "is not one of the normal validation scores"),
    "ex-5-1-solution": ("return np.abs(true_directions @ dictionary.T).max(axis=1)",
                        "returns dot products, not cosines"),
    "ex-5-2-solution": ("n = X.shape[0]\n"
                        "A = (X - b_dec) @ W_enc + b_enc\n"
                        "Z = np.zeros_like(A)\n"
                        "kept = np.argsort(A, axis=1)[:, -k:]\n"
                        "Z[np.arange(n)[:, None], kept] = np.maximum(A[np.arange(n)[:, None], kept], 0)\n"
                        "G = 2 / n * (Z @ W_dec + b_dec - X)\n"
                        "Delta = (G @ W_dec.T) * (A > 0)\n"
                        "return [(X - b_dec).T @ Delta, Delta.sum(axis=0), Z.T @ G, G.sum(axis=0) - W_enc @ Delta.sum(axis=0)]",
                        "also to those TopK did not keep"),
    "ex-5-4-solution": ("n = X.shape[0]\n"
                        "A = (X - b_dec) @ W_enc + b_enc\n"
                        "rows = np.arange(n)[:, None]\n"
                        "kept = np.argsort(A, axis=1)[:, -k:]\n"
                        "Z = np.zeros_like(A)\n"
                        "Z[rows, kept] = np.maximum(A[rows, kept], 0)\n"
                        "E = X - (Z @ W_dec + b_dec)\n"
                        "chosen = np.argsort(np.where(dead, A, -np.inf), axis=1)[:, -min(k_aux, int(dead.sum())):]\n"
                        "Z_aux = np.zeros_like(A)\n"
                        "Z_aux[rows, chosen] = np.maximum(A[rows, chosen], 0)\n"
                        "G = 2 / n * (Z_aux @ W_dec - E)\n"
                        "Delta = (G @ W_dec.T) * (Z_aux > 0)\n"
                        "return [(X - b_dec).T @ Delta, Delta.sum(axis=0), Z_aux.T @ G, np.zeros_like(b_dec)]",
                        "passes no gradient to b_dec"),
    "ex-6-1-solution": ("n, k = len(X), vae.n_latent\n"
                        "mu, logvar = vae.encode(X)\n"
                        "eps = rng.standard_normal((n, n_draws, k))\n"
                        "Z = mu[:, None, :] + np.exp(0.5 * logvar)[:, None, :] * eps\n"
                        "log_p = vae.log_density(np.repeat(X, n_draws, axis=0), Z.reshape(-1, k)).reshape(n, n_draws)\n"
                        "log_w = log_p - 0.5 * np.sum(Z ** 2, axis=2) + 0.5 * np.sum(logvar[:, None, :] + eps ** 2, axis=2)\n"
                        "return log_w.mean(axis=1)",
                        "averages the log-weights: that estimates the ELBO"),
    "ex-6-2-solution": ("one_minus_2x = 1 - 2 * x_hat\n"
                        "return np.log(2 * np.arctanh(one_minus_2x) / one_minus_2x)",
                        "at x_hat = 1/2 exactly your result is nan"),
    "ex-6-3-solution": ("return np.std(mu, axis=0) > threshold", "compares the standard deviation"),
    "ex-6-6-solution": ("a = np.asarray(a, dtype=float)\n"
                        "near = np.abs(a) < 1e-3\n"
                        "safe = np.where(near, 1.0, a)\n"
                        "mean = 0.5 + 0.5 / np.tanh(0.5 * safe) - 1 / safe\n"
                        "variance = 1 / safe ** 2 - 0.25 / np.sinh(0.5 * safe) ** 2\n"
                        "return (np.where(near, 0.5 + a / 12, mean),\n"
                        "        np.where(near, 1 / 12 - a ** 2 / 240, variance))",
                        "cancel there"),
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
ASSIGNMENT_OF = {"untouched": ASSIGNMENT, "solutions": EXERCISES, "mistakes": EXERCISES}


@pytest.fixture(scope="module")
def courses(tmp_path_factory):
    """{student: the course folder in which that student was autograded and given feedback}."""
    root = tmp_path_factory.mktemp("nbgrader")
    course = root / "generated" / "course"
    course.mkdir(parents=True)
    write_config(course)
    student_edition.main(["--nbgrader-source", str(course / "source" / ASSIGNMENT)])
    student_edition.main(["--nbgrader-source", str(course / "source" / EXERCISES), "--exercises-only"])
    times = {}
    with timed(times, "generate"):
        for assignment in (ASSIGNMENT, EXERCISES):  # one after the other: they share the gradebook
            nbgrader(course, "db", "assignment", "add", assignment)
            nbgrader(course, "generate_assignment", assignment)

    submissions = {"untouched": course / "release" / ASSIGNMENT, "solutions": course / "source" / EXERCISES}
    for student, origin in submissions.items():
        shutil.copytree(origin, course / "submitted" / student / ASSIGNMENT_OF[student])
    planted = []
    for path in sorted((course / "submitted" / "solutions" / EXERCISES).glob("*.ipynb")):
        notebook = nbformat.read(path, as_version=4)
        planted += plant_mistakes(notebook)
        folder = course / "submitted" / "mistakes" / EXERCISES
        folder.mkdir(parents=True, exist_ok=True)
        nbformat.write(notebook, folder / path.name)
    assert sorted(planted) == sorted(MISTAKES), "every planted mistake needs its solution cell"

    copies = {}
    for student in STUDENTS:
        (course / "submitted" / student / ASSIGNMENT_OF[student] / "timestamp.txt").write_text(
            "2026-01-15 12:00:00.000000 UTC", encoding="utf-8")
        copies[student] = copy = root / student / "course"
        shutil.copytree(course, copy, ignore=lambda folder, names: [
            name for name in names if Path(folder) == course / "submitted" and name != student])
        write_config(copy)
    with timed(times, "autograde"):
        finish(*[start_nbgrader(copy, "autograde", ASSIGNMENT_OF[student]) for student, copy in copies.items()])
    with timed(times, "feedback"):
        finish(*[start_nbgrader(copy, "generate_feedback", ASSIGNMENT_OF[student])
                 for student, copy in copies.items()])
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
        submission = gradebook.find_submission(ASSIGNMENT_OF[student], student)
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
    for assignment, edition in ((ASSIGNMENT, student_edition.student_notebook(path)),
                                (EXERCISES, student_edition.exercises_only(student_edition.student_notebook(path)))):
        released = nbformat.read(courses["untouched"] / "release" / assignment / path.name, as_version=4)
        assert comparable(edition) == comparable(released), assignment
        assert "widgets" not in released.metadata
        assert not any("{cite" in cell.source for cell in released.cells)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_the_exercises_assignment_keeps_every_graded_cell_and_little_else(path):
    whole = nbformat.read(path, as_version=4)
    cut = student_edition.exercises_only(nbformat.read(path, as_version=4))
    assert [grade_id(cell) for cell in cut.cells if student_edition.is_graded(cell)] == \
        [grade_id(cell) for cell in whole.cells if student_edition.is_graded(cell)]
    assert len(cut.cells) < len(whole.cells)


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
    feedback = "".join(page_text(path) for path in (courses["mistakes"] / "feedback" / "mistakes" / EXERCISES).glob("*.html"))
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
        folder = courses[student] / "feedback" / student / ASSIGNMENT_OF[student]
        written = sorted(path.stem for path in folder.glob("*.html"))
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
