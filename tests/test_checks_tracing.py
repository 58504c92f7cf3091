"""Traced arrays: forward evaluations counted (as meetings of the inputs, as shares of an input,
on values computed from the inputs), nudges and shifts of the inputs, complex and float32 numbers
(the complex step) in operations and in the answer's frames."""
import sys

import numpy as np
import pytest

from aelib.checks.feedback import CheckFailed, expect_exact
from aelib.checks.guard import call
from aelib.checks.tracing import derived, plain_arrays, traced


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


def test_traced_arrays_count_the_nudges_of_finite_differences_of_one_step():
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

    log, arrays = traced(A=A, H=H)
    result = call(exact, **arrays)
    assert log.nudged() == 0 and log.meetings("H") == 2 and type(result) is np.ndarray
    log, arrays = traced(A=A, H=H)
    result = call(five_point, **arrays)
    assert log.nudged("A") == 4 and log.nudged("H") == 0
    assert np.abs(result - (1 - H ** 2)).max() < 1e-12
    log, arrays = traced(A=A, H=H)
    call(on_copies, **arrays)
    assert log.nudged("A") == 2


def test_traced_arrays_record_shifts_of_any_size_and_complex_or_float32_numbers():
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

    log, arrays = traced(logvar=logvar)
    call(exact, **arrays)
    assert log.shifted("logvar") == 0 and log.shifts == [("logvar", 1.0)] and not log.kinds
    log, arrays = traced(logvar=logvar)
    call(stencil, **arrays)
    assert log.shifted("logvar") == 2 and log.nudged() == 0 and log.shifted("logvar", below=0.01) == 0
    log, arrays = traced(logvar=logvar)
    call(one_entry_at_a_time, **arrays)
    assert log.shifts == [("logvar", 0.1)]
    log, arrays = traced(logvar=logvar)
    call(complex_step, **arrays)
    assert log.complex_kinds() == ["complex128"] and log.low_precision_kinds() == []
    log, arrays = traced(logvar=logvar)
    call(single, **arrays)
    assert log.low_precision_kinds() == ["float32"] and log.complex_kinds() == []
    # A traced array stays traced through np.copy, and the same log counts nudges and meetings.
    log, arrays = traced(A=logvar, H=np.tanh(logvar))
    call(lambda A, H: (np.tanh(np.copy(A) + 1e-5) - np.tanh(A - 1e-5)) / 2e-5, **arrays)
    assert log.nudged("A") == 2 and log.meetings("A") == 3


def test_traced_arrays_count_a_loop_over_rows_as_one_evaluation():
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
        log, arrays = traced(X=X, W=W, b=b)
        call(answer, **arrays)
        assert log.evaluations("X", "b", by="X") == pytest.approx(evaluations), answer.__name__
        assert log.meetings("X", "b") == meetings, answer.__name__
    log, arrays = traced(X=X, W=W, b=b)
    assert np.array_equal(np.copy(arrays["X"])[:2].dot(arrays["W"]), X[:2] @ W)
    assert log.evaluations("X", "W", by="X") == pytest.approx(2 / len(X))


def test_watching_sees_the_complex_step_however_it_is_written():
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

    log, _ = traced()
    with log.watching():
        exact = call(backward, X, W)
    assert not log.complex_values_seen
    for answer in (complex_step, complex_step_inline):
        log, _ = traced()
        with log.watching():
            result = call(answer, X, W)
        assert log.complex_values_seen, answer.__name__
        assert np.allclose(result, exact, rtol=1e-13)
    def profiler(frame, event, arg):
        return None

    sys.setprofile(profiler)
    try:
        with traced()[0].watching():
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

    log, arrays = derived(H_in=H_in, W=W, Delta=Delta)
    results = plain_arrays(call(backward, **arrays))
    assert log.derived_meetings("H_in", "W", gradients=("Delta",)) == 0 and log.complex_operations() == 0
    assert all(type(result) is np.ndarray for result in results)
    expect_exact(results[2], Delta @ W.T, "dH_in")
    log, arrays = derived(H_in=H_in, W=W, Delta=Delta)
    call(perturbed, **arrays)
    assert log.meetings("H_in", "W") == W.size  # only the products with W itself
    assert log.derived_meetings("H_in", "W", gradients=("Delta",)) == 2 * W.size
    assert log.complex_operations() == 0
    log, arrays = derived(H_in=H_in, W=W, Delta=Delta)
    call(perturbed, **arrays, step=1j)
    assert log.complex_operations() > 0
    log, arrays = derived(H_in=H_in, W=W, Delta=Delta)
    assert np.allclose(call(copied_in_place, **arrays), H_in @ (W + 1e-5))
    assert log.derived_meetings("H_in", "W") == 1
    # Copies that numpy makes without calling back escape: the checks' values must tell those.
    log, arrays = derived(H_in=H_in, W=W, Delta=Delta)
    call(lambda H_in, W, Delta: np.array(H_in) @ np.asarray(W), **arrays)
    assert log.derived_meetings("H_in", "W") == 0
