"""What a check says: short lines that nbgrader does not cut, no traceback through aelib in
Jupyter, enough digits to see a difference, exact computations held to rounding, finite
differences and float32 named."""
import numpy as np
import pytest

from aelib.checks.feedback import WIDTH, CheckFailed, distinct_strings, expect_close, expect_exact, expect_float64


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


def test_a_float16_answer_is_told_its_own_precision():
    with pytest.raises(CheckFailed,
                       match=r"(?s)float16, which keeps about 3 significant digits.*do not\s+convert to float16"):
        expect_float64(np.float16(1.0), "loss")
