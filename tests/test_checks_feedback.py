"""The feedback helpers: short lines that nbgrader does not cut, no traceback through aelib in
Jupyter, enough digits to see a difference, and aelib's own functions hidden only while a
reader's function runs."""
import numpy as np
import pytest

import aelib
from aelib.checks.feedback import WIDTH, CheckFailed, call, distinct_strings, expect_close


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


def test_hidden_functions_are_restored_even_when_the_readers_function_fails():
    h = np.array([0.5])
    with pytest.raises(CheckFailed, match="calls aelib.activations.tanh_grad"):
        call(lambda h: aelib.activations.tanh_grad(h), h, name="tanh_grad", hidden=(aelib.activations.tanh_grad,))
    with pytest.raises(CheckFailed, match="raised ZeroDivisionError"):
        call(lambda h: 1 / 0, h, name="tanh_grad", hidden=(aelib.activations.tanh_grad,))
    assert np.allclose(aelib.activations.tanh_grad(h), [0.75])
    assert call(lambda h: 2 * h, h, hidden=(aelib.activations.tanh_grad,)) == pytest.approx([1.0])
