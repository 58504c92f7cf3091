"""The feedback helpers: short lines that nbgrader does not cut, no traceback through aelib in
Jupyter, enough digits to see a difference, every call from the reader's function into aelib
refused unless the check allows it, inputs changed in place and numpy's global generator named,
forward evaluations counted (also on values computed from the inputs, and the complex step), and
exact computations held to rounding."""
import functools
import sys

import numpy as np
import pytest

import aelib
from aelib.checks.feedback import (WIDTH, CheckFailed, ComplexWatch, call, derived, distinct_strings,
                                   expect_close, expect_exact, expect_float64, number_signs, plain_arrays,
                                   traced, traced_numbers, traced_shares, traced_steps)


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


def test_traced_arrays_count_the_operations_in_which_inputs_meet():
    rng = np.random.default_rng(0)
    H_in, W, Delta = rng.normal(size=(5, 3)), rng.normal(size=(3, 4)), rng.normal(size=(5, 4))

    def backward(H_in, W, Delta):
        return H_in.T @ Delta, Delta.sum(axis=0), Delta @ W.T

    def finite_differences(H_in, W, Delta, h=1e-5):
        dW = np.zeros(W.shape)
        for index in np.ndindex(W.shape):
            W_plus, W_minus = W.copy(), np.copy(W)
            W_plus[index] += h
            W_minus[index] -= h
            dW[index] = (np.sum(Delta * (H_in @ W_plus)) - np.sum(Delta * np.dot(H_in, W_minus))) / (2 * h)
        return dW

    log, arrays = traced(H_in=H_in, W=W, Delta=Delta)
    results = call(backward, **arrays)
    assert log.meetings("H_in", "W") == 0 and log.meetings("H_in", "Delta") == 1
    assert all(type(result) is np.ndarray for result in results)
    expect_exact(results[0], H_in.T @ Delta, "dW")
    log, arrays = traced(H_in=H_in, W=W, Delta=Delta)
    numerical = call(finite_differences, **arrays)
    assert log.meetings("H_in", "W") == 2 * W.size
    log, arrays = traced(H_in=H_in, W=W, Delta=Delta)
    assert np.array_equal(arrays["H_in"].dot(arrays["W"].copy()), H_in @ W) and log.meetings("H_in", "W") == 1
    with pytest.raises(CheckFailed, match="finite differences"):
        expect_exact(numerical, H_in.T @ Delta, "dW")


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


def test_traced_steps_count_the_nudges_of_finite_differences_of_one_step():
    rng = np.random.default_rng(2)
    A = rng.normal(size=(4, 3))
    H = np.tanh(A)

    def exact(A, H):
        return (1 - H) * (1 + H) + 0 * (A + 1.0) + 0 * (A - 0.0)

    def five_point(A, H, h=1e-3):
        # Agrees with the exact derivative to about 12 digits: the nudges show what it is.
        T = np.tanh
        return (-T(A + 2 * h) + 8 * T(A + h) - 8 * T(A - h) + T(A - 2 * h)) / (12 * h)

    def on_copies(A, H, h=1e-5):
        plus, minus = np.copy(A), A.copy()
        return (np.tanh(plus[:, :] + h) - np.tanh(minus - np.float64(h))) / (2 * h)

    log, arrays = traced_steps(A=A, H=H)
    result = call(exact, **arrays)
    assert log.nudged() == 0 and log.meetings("H") == 2 and type(result) is np.ndarray
    log, arrays = traced_steps(A=A, H=H)
    result = call(five_point, **arrays)
    assert log.nudged("A") == 4 and log.nudged("H") == 0
    assert np.abs(result - (1 - H ** 2)).max() < 1e-12
    log, arrays = traced_steps(A=A, H=H)
    call(on_copies, **arrays)
    assert log.nudged("A") == 2


def test_traced_numbers_record_shifts_of_any_size_and_complex_or_float32_numbers():
    logvar = np.random.default_rng(3).normal(size=(4, 3))

    def exact(logvar):
        sigma = np.exp(0.5 * logvar)
        return 0.5 * sigma + 0 * (logvar - 1.0) + np.expm1(logvar)

    def stencil(logvar, h=0.05):
        return (np.exp(0.5 * (logvar + h)) - np.exp(0.5 * (logvar - np.full(logvar.shape, h)))) / (2 * h)

    def one_entry_at_a_time(logvar, h=0.1):
        step = np.zeros_like(logvar)
        step[1, 2] = h
        return np.exp(0.5 * (logvar + step))

    def complex_step(logvar, h=1e-20):
        return np.exp(0.5 * logvar.astype(complex)).imag / h

    def single(logvar):
        return np.exp(np.copy(logvar).astype(np.float32)).astype(np.float64)

    log, arrays = traced_numbers(logvar=logvar)
    call(exact, **arrays)
    assert log.shifted("logvar") == 0 and log.shifts == [("logvar", 1.0)] and not log.kinds
    log, arrays = traced_numbers(logvar=logvar)
    call(stencil, **arrays)
    assert log.shifted("logvar") == 2 and log.nudged() == 0 and log.shifted("logvar", below=0.01) == 0
    log, arrays = traced_numbers(logvar=logvar)
    call(one_entry_at_a_time, **arrays)
    assert log.shifts == [("logvar", 0.1)]
    log, arrays = traced_numbers(logvar=logvar)
    call(complex_step, **arrays)
    assert log.complex_kinds() == ["complex128"] and log.low_precision_kinds() == []
    log, arrays = traced_numbers(logvar=logvar)
    call(single, **arrays)
    assert log.low_precision_kinds() == ["float32"] and log.complex_kinds() == []
    # A traced array stays traced through np.copy, and the log is that of traced_steps too.
    log, arrays = traced_numbers(A=logvar, H=np.tanh(logvar))
    call(lambda A, H: (np.tanh(np.copy(A) + 1e-5) - np.tanh(A - 1e-5)) / 2e-5, **arrays)
    assert log.nudged("A") == 2 and log.meetings("A") == 3


complex_step = 1e-20j


def helper_with_the_complex_step(f, x):
    return f(x + complex_step).imag / 1e-20


class Derivative:
    def __call__(self, x):
        return np.exp(x + np.zeros_like(x, dtype="complex128")).real


helpers = {"derivative": lambda x: x}
HELPER = Derivative()


def test_number_signs_read_the_answers_code_and_the_students_functions_it_reaches():
    assert number_signs(lambda x: np.exp(0.5 * x) / 2) == {"complex": None, "float32": None}
    assert number_signs(lambda x: np.exp(x + 1e-20j).imag)["complex"] == "the complex number 1e-20j"
    assert number_signs(lambda x: x.astype(complex))["complex"] == "`complex`"
    assert number_signs(lambda x: np.float32(x))["float32"] == "`float32`"
    assert number_signs(lambda x: x.astype("float32"))["float32"] == "the dtype 'float32'"

    def nested(x):
        def inner(y):
            import cmath
            return cmath.exp(y)
        return inner(x)

    def through_a_global_helper(x):
        return helper_with_the_complex_step(np.exp, x)

    assert number_signs(nested)["complex"] == "`cmath`"
    assert number_signs(through_a_global_helper)["complex"] is not None
    assert number_signs(functools.partial(helper_with_the_complex_step, np.exp))["complex"] is not None
    assert number_signs(Derivative())["complex"] == "the dtype 'complex128'"

    def through_an_object(x):
        return HELPER(x)

    def through_a_dict(x):
        return helpers["derivative"](x)

    assert number_signs(through_an_object)["complex"] == "the dtype 'complex128'"
    assert number_signs(through_a_dict)["complex"] is None
    helpers["derivative"] = helper_with_the_complex_step
    try:
        assert number_signs(through_a_dict)["complex"] == "`imag`"
    finally:
        helpers["derivative"] = lambda x: x
    # A class defined in a notebook belongs to a module without a file.
    cell = {"__name__": "__main__"}
    exec("class Step:\n    def __call__(self, x):\n        return (x + 1e-20j).imag\n", cell)
    assert number_signs(cell["Step"]())["complex"] == "the complex number 1e-20j"
    # aelib's and numpy's own code are not the answer's.
    assert number_signs(aelib.vae.kl_divergence) == {"complex": None, "float32": None}
    assert number_signs(np.gradient) == {"complex": None, "float32": None}


def test_traced_shares_count_a_loop_over_rows_as_one_evaluation():
    rng = np.random.default_rng(3)
    X, W, b = rng.normal(size=(6, 4)), rng.normal(size=(4, 5)), rng.normal(size=4)

    def whole(X, W, b):
        return (X - b) @ W

    def by_rows(X, W, b):
        return np.stack([(x - b) @ W for x in X])

    def by_entries(X, W, b):
        return np.array([[np.dot(X[i] - b, W[:, u]) for u in range(W.shape[1])] for i in range(len(X))])

    def finite_differences(X, W, b, h=1e-5):
        grad = np.zeros(W.shape)
        for index in np.ndindex(W.shape):
            moved = W.copy()
            moved[index] += h
            grad[index] = (np.sum((X - b) @ moved) - np.sum(np.dot(X - b, W))) / h
        return grad

    n, k = len(X), W.shape[1]
    for answer, evaluations, meetings in ((whole, 1, 1), (by_rows, 1, n), (by_entries, k, n * k),
                                          (finite_differences, 2 * W.size, 2 * W.size)):
        log, arrays = traced_shares(X=X, W=W, b=b)
        call(answer, **arrays)
        assert log.evaluations("X", "b", by="X") == pytest.approx(evaluations), answer.__name__
        assert log.meetings("X", "b") == meetings, answer.__name__
    log, arrays = traced_shares(X=X, W=W, b=b)
    assert np.array_equal(np.copy(arrays["X"])[:2].dot(arrays["W"]), X[:2] @ W)
    assert log.evaluations("X", "W", by="X") == pytest.approx(2 / len(X))


def test_complex_watch_sees_the_complex_step_however_it_is_written():
    rng = np.random.default_rng(4)
    X, W = rng.normal(size=(5, 3)), rng.normal(size=(3, 2))

    def loss(X, W):
        return np.sum(np.tanh(X @ W) ** 2)

    def backward(X, W):
        H = np.tanh(X @ W)
        return X.T @ (2 * H * (1 - H ** 2))

    def complex_step(X, W, h=1e-30):
        grad = np.zeros(W.shape)
        for index in np.ndindex(W.shape):
            moved = np.array(W, dtype=complex)
            moved[index] += 1j * h
            grad[index] = loss(X, moved).imag / h
        return grad

    def complex_step_inline(X, W, h=1e-30):
        grad = np.zeros(W.shape)
        for index in np.ndindex(W.shape):
            step = np.zeros(W.shape)
            step[index] = h
            grad[index] = np.imag(np.sum(np.tanh(X @ (W + 1j * step)) ** 2)) / h
        return grad

    with ComplexWatch() as watch:
        exact = call(backward, X, W)
    assert not watch.seen
    for answer in (complex_step, complex_step_inline):
        with ComplexWatch() as watch:
            result = call(answer, X, W)
        assert watch.seen, answer.__name__
        assert np.allclose(result, exact, rtol=1e-13)
    def profiler(frame, event, arg):
        return None

    sys.setprofile(profiler)
    try:
        with ComplexWatch():
            pass
        assert sys.getprofile() is profiler, "the previous profile function is restored"
    finally:
        sys.setprofile(None)


def test_derived_arrays_count_evaluations_on_values_computed_from_the_inputs():
    rng = np.random.default_rng(2)
    H_in, W, Delta = rng.normal(size=(5, 3)), rng.normal(size=(3, 4)), rng.normal(size=(5, 4))

    def backward(H_in, W, Delta):
        return H_in.T @ Delta, Delta.sum(axis=0), (W @ Delta.T).T

    def perturbed(H_in, W, Delta, h=1e-5, step=1.0):
        # W + E and W * 1.0 are computed from W: a product with H_in is an evaluation of the layer.
        dW = np.zeros_like(W)  # holds none of W's values
        for index in np.ndindex(W.shape):
            E = np.zeros(W.shape, dtype=type(step))
            E[index] = h * step
            moved = W * 1.0 + E
            dW[index] = np.sum(Delta * (H_in @ moved)).imag / h if step == 1j else (
                np.sum(Delta * (H_in @ moved)) - np.sum(Delta * np.dot(H_in, W))) / h
        return dW

    def copied_in_place(H_in, W, Delta):
        moved = W + 0.0
        moved += 1e-5  # an update in place keeps what moved was computed from
        return H_in.dot(moved)

    log, derived_log, arrays = derived(H_in=H_in, W=W, Delta=Delta)
    results = plain_arrays(call(backward, **arrays))
    assert derived_log.evaluations("H_in", "W", gradients=("Delta",)) == 0 and derived_log.complex_operations() == 0
    assert all(type(result) is np.ndarray for result in results)
    expect_exact(results[2], Delta @ W.T, "dH_in")
    log, derived_log, arrays = derived(H_in=H_in, W=W, Delta=Delta)
    call(perturbed, **arrays)
    assert log.meetings("H_in", "W") == W.size  # only the products with W itself
    assert derived_log.evaluations("H_in", "W", gradients=("Delta",)) == 2 * W.size
    assert derived_log.complex_operations() == 0
    log, derived_log, arrays = derived(H_in=H_in, W=W, Delta=Delta)
    call(perturbed, **arrays, step=1j)
    assert derived_log.complex_operations() > 0
    log, derived_log, arrays = derived(H_in=H_in, W=W, Delta=Delta)
    assert np.allclose(call(copied_in_place, **arrays), H_in @ (W + 1e-5))
    assert derived_log.evaluations("H_in", "W") == 1
    # Copies that numpy makes without calling back escape: the checks' values must tell those.
    log, derived_log, arrays = derived(H_in=H_in, W=W, Delta=Delta)
    call(lambda H_in, W, Delta: np.array(H_in) @ np.asarray(W), **arrays)
    assert derived_log.evaluations("H_in", "W") == 0


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
