"""The feedback helpers: short lines that nbgrader does not cut, no traceback through aelib in
Jupyter, enough digits to see a difference, every call from the reader's function into aelib
refused unless the check allows it, inputs changed in place and numpy's global generator named,
and exact computations held to rounding."""
import numpy as np
import pytest

import aelib
from aelib.checks.feedback import WIDTH, CheckFailed, call, distinct_strings, expect_close, expect_exact, expect_float64


def test_check_failed_puts_expected_actual_and_hint_on_short_lines_of_their_own():
    error = CheckFailed("a long description of the input " * 5, expected="0.5", actual="0.25",
                        hint="a hint " * 20)
    lines = str(error).split("\n")
    assert all(len(line) <= WIDTH for line in lines)
    assert "  expected: 0.5" in lines and "  actual:   0.25" in lines
    assert [line for line in lines if line.startswith("Hint: ")]
    assert isinstance(error, AssertionError)


def test_in_jupyter_the_message_replaces_the_traceback():
    rendered = CheckFailed("wrong", expected="1", actual="2")._render_traceback_()
    assert "exercise check failed" in rendered[0]
    assert rendered[1:] == ["wrong", "  expected: 1", "  actual:   2"]


def test_values_that_agree_to_six_digits_are_shown_with_the_digits_that_differ():
    assert distinct_strings(0.2074081234, 0.2074083678) == ("0.2074081", "0.2074084")
    assert distinct_strings(0.5, 0.25) == ("0.5", "0.25")
    assert distinct_strings(0.207407800, 0.207408000) == ("0.2074078", "0.2074080")
    with pytest.raises(CheckFailed, match=r"relative difference 1\.2e-06") as info:
        expect_close(0.2074083678, 0.2074081234, "x")
    assert "0.2074081" in str(info.value) and "0.2074084" in str(info.value)


def test_every_call_into_aelib_is_refused_and_named_however_it_is_reached():
    h = np.array([0.5])
    from aelib.activations import tanh_grad as renamed
    routes = [lambda h: aelib.activations.tanh_grad(h), lambda h: renamed(h),
              lambda h: np.apply_along_axis(aelib.activations.tanh_grad, 0, h),
              lambda h: aelib.activations.get("tanh")[1](np.tanh(h))]
    for route in routes:
        with pytest.raises(CheckFailed, match="calls aelib.activations"):
            call(route, h, name="tanh_grad")
    # The function itself, handed to the check as the answer, is the student's call too.
    with pytest.raises(CheckFailed, match="calls aelib.activations.tanh_grad"):
        call(aelib.activations.tanh_grad, h, name="tanh_grad")
    # A refused call is reported even when the answer catches what follows it.
    with pytest.raises(CheckFailed, match="calls aelib.activations.tanh_grad"):
        call(lambda h: aelib.activations.tanh_grad(h) * 0 + 2 * h, h, name="tanh_grad")


def test_a_call_handed_to_a_thread_is_refused_too():
    import threading
    from concurrent.futures import ThreadPoolExecutor

    h = np.array([0.5])

    def in_a_thread(h):
        with ThreadPoolExecutor(1) as pool:
            return pool.submit(aelib.activations.tanh_grad, h).result()

    before = threading.gettrace()
    with pytest.raises(CheckFailed, match="calls aelib.activations.tanh_grad"):
        call(in_a_thread, h, name="tanh_grad")
    assert threading.gettrace() is before
    with ThreadPoolExecutor(1) as pool:  # outside a check, threads call aelib freely
        assert pool.submit(aelib.activations.tanh_grad, h).result() == pytest.approx([0.75])


def test_a_call_into_aelib_from_a_thread_the_answer_starts_is_refused_too():
    import concurrent.futures
    import threading

    def in_a_thread_pool(h):
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            return pool.submit(aelib.activations.tanh_grad, h).result()

    def in_a_thread(h):
        result = []
        thread = threading.Thread(target=lambda: result.append(aelib.activations.tanh_grad(h)))
        thread.start()
        thread.join()
        return result[0]

    before = threading.gettrace()
    for route in (in_a_thread_pool, in_a_thread):
        with pytest.raises(CheckFailed, match="calls aelib.activations.tanh_grad"):
            call(route, np.array([0.5]), name="tanh_grad")
    assert threading.gettrace() is before
    assert call(lambda h: in_a_thread(h) * 0 + 2 * h, np.array([0.5]), allowed=(aelib.activations.tanh_grad,)) == 1.0


def test_what_a_check_allows_works_with_everything_it_calls_inside():
    X = np.random.default_rng(0).random((3, 35))
    model = aelib.Autoencoder([35, 4, 2], seed=0)

    def train(X):
        model.fit(X, epochs=2, lr=1e-3)
        return model.reconstruct(X)

    assert call(train, X, allowed=(aelib.Autoencoder,)).shape == (3, 35)
    with pytest.raises(CheckFailed, match=r"(?s)calls aelib.autoencoder.Autoencoder.fit, .* allows only aelib.mlp.MLP"):
        call(train, X, allowed=(aelib.MLP,))


def test_aelib_works_again_after_a_check_and_the_guard_leaves_no_trace():
    import sys
    h = np.array([0.5])
    before = sys.gettrace()
    with pytest.raises(CheckFailed, match="raised ZeroDivisionError"):
        call(lambda h: 1 / 0, h, name="tanh_grad")
    assert sys.gettrace() is before
    assert np.allclose(aelib.activations.tanh_grad(h), [0.75])
    assert call(lambda h: 2 * h, h) == pytest.approx([1.0])


def test_an_argument_changed_in_place_is_named_unless_the_check_lets_it_change():
    cache = {"X": np.ones((2, 2)), "H1": np.ones((2, 3))}

    def scale_in_place(cache, W):
        cache["H1"] *= 2
        W += 1
        return 0

    with pytest.raises(CheckFailed, match=r"changed cache\['H1'\] in place"):
        call(scale_in_place, cache, np.zeros(2), name="backward")
    with pytest.raises(CheckFailed, match=r"changed W in place"):
        call(scale_in_place, {"X": np.ones(1), "H1": np.ones(1)}, np.zeros(2), name="step", may_change=(0,))
    assert call(scale_in_place, {"H1": np.ones(1)}, np.zeros(2), may_change=(0, 1)) == 0


def test_numpys_global_random_generator_is_refused_and_left_as_it_was():
    before = np.random.get_state()[1].copy()
    for route in (lambda n: np.random.rand(n), lambda n: (np.random.seed(0), np.random.rand(n))[1]):
        with pytest.raises(CheckFailed, match="numpy's global random generator"):
            call(route, 3, name="noise")
        assert np.array_equal(np.random.get_state()[1], before)


def test_a_lazy_answer_runs_under_the_guard():
    def batches(n):
        yield from (aelib.evaluation.train_test_split for _ in range(n))
        yield aelib.activations.tanh_grad(np.zeros(1))

    with pytest.raises(CheckFailed, match="calls aelib.activations.tanh_grad"):
        call(batches, 2, name="minibatches")
    assert call(lambda n: (i for i in range(n)), 3) == [0, 1, 2]


def test_an_exact_computation_allows_rounding_and_names_float32():
    rng = np.random.default_rng(1)
    A, B = rng.normal(size=(40, 6)), rng.normal(size=(40, 5))
    exact = A.T @ B
    by_loop = sum(np.outer(a, b) for a, b in zip(A[::-1], B[::-1]))
    expect_exact(by_loop, exact, "dW", scale=np.abs(A).T @ np.abs(B))
    with pytest.raises(CheckFailed, match="computes in float64"):
        expect_exact(exact.astype(np.float32), exact, "dW")
    with pytest.raises(CheckFailed, match=r"dW at index \(0, 0\)"):
        expect_exact(exact * 1.01, exact, "dW")
    with pytest.raises(CheckFailed, match="computes in float64"):
        expect_close((exact * (1 + 1e-5)).astype(np.float32), exact, "dW")


def test_a_float32_answer_is_told_to_compute_in_float64_whatever_its_values():
    expect_float64(np.float64(np.inf), "loss")  # a float64 answer passes, even an infinite one
    expect_float64([np.zeros(2), 1.0, 3], "results")
    for answer in (np.float32(np.inf), np.ones(3, dtype=np.float32), [np.zeros(2), np.float16(1.0)]):
        with pytest.raises(CheckFailed, match="(?s)loss: your result is float(32|16).*computes in float64"):
            expect_float64(answer, "loss")


def test_a_check_may_name_a_refused_call_in_its_own_words():
    def uses_a_global_model(X):
        return aelib.activations.tanh_grad(X)

    def own_words(called):
        return f"called {called}: use the model passed in" if called.endswith("tanh_grad") else None

    with pytest.raises(CheckFailed, match="called aelib.activations.tanh_grad: use the model passed in"):
        call(uses_a_global_model, np.zeros(2), on_refused=own_words)
    with pytest.raises(CheckFailed, match="calls aelib.activations.relu, which is part of aelib"):
        call(lambda X: aelib.activations.relu(X), np.zeros(2), on_refused=own_words)


def test_a_float16_answer_is_told_its_own_precision():
    with pytest.raises(CheckFailed,
                       match=r"(?s)float16, which keeps about 3 significant digits.*do not\s+convert to float16"):
        expect_float64(np.float16(1.0), "loss")


def test_packages_of_another_environment_are_library_code_not_the_students():
    # A grading environment may reach its third-party packages through a .pth file pointing at
    # another environment's site-packages: numpy's frames there are still numpy's.
    from aelib.checks.feedback import _library_file
    assert _library_file("/srv/shared-env/lib/python3.11/site-packages/numpy/_core/_ufunc_config.py")
    assert _library_file("/usr/lib/python3/dist-packages/numpy/__init__.py")
    assert not _library_file("/tmp/ipykernel_123/4567.py")
    assert not _library_file("/home/student/site_packages_notes/answer.py")


def test_packages_reached_through_a_symbolic_link_are_library_code(tmp_path):
    import os
    from aelib.checks.feedback import _library_file
    real = tmp_path / "env" / "lib" / "site-packages" / "numpy"
    real.mkdir(parents=True)
    (real / "core.py").write_text("")
    (tmp_path / "shared").mkdir()
    os.symlink(real, tmp_path / "shared" / "numpy")
    assert _library_file(str(tmp_path / "shared" / "numpy" / "core.py"))
