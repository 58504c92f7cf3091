"""Helpers that turn a student's mistake into a message that teaches.

A check function calls the student's code through ``call`` (so ``NotImplementedError`` reads
"not implemented yet" and any other exception is reported with the input that caused it), then
compares with ``expect_close``, which names the input, the expected and actual values and a hint.
On success it calls ``passed``.
"""
import numpy as np


def call(function, *args, name=None, **kwargs):
    """Call the student's ``function`` and translate its failures into an AssertionError."""
    name = name or getattr(function, "__name__", "your function")
    try:
        return function(*args, **kwargs)
    except NotImplementedError:
        raise AssertionError(
            f"{name} is not implemented yet: replace `raise NotImplementedError()` with your code.") from None
    except Exception as error:  # the student's bug, reported with the input that triggered it
        shown = ", ".join(_short(arg) for arg in args)
        raise AssertionError(f"{name}({shown}) raised {type(error).__name__}: {error}") from None


def expect_close(actual, expected, what, hint="", rtol=1e-6, atol=1e-8):
    """Raise AssertionError unless ``actual`` matches ``expected`` in shape and value."""
    expected = np.asarray(expected, dtype=np.float64)
    try:
        actual_array = np.asarray(actual, dtype=np.float64)
    except (TypeError, ValueError):
        raise AssertionError(f"{what}: expected a number or an array, got {type(actual).__name__} {actual!r}") from None
    if actual_array.shape != expected.shape:
        raise AssertionError(f"{what}: expected shape {expected.shape}, got {actual_array.shape}. {hint}".strip())
    close = np.isclose(actual_array, expected, rtol=rtol, atol=atol)
    if not close.all():
        index = tuple(int(i) for i in np.argwhere(~close)[0])
        where = f" at index {index}" if expected.ndim else ""
        raise AssertionError(
            f"{what}{where}: expected {expected[index]:.6g}, got {actual_array[index]:.6g}. {hint}".strip())


def passed(message):
    """Print the success line every check ends with."""
    print(f"Correct: {message}")


def _short(value):
    # Arrays are named by shape: printing their values would bury the message.
    if isinstance(value, np.ndarray):
        return f"<array of shape {value.shape}>"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
