"""What a check says: a verdict that teaches, in lines nbgrader keeps whole.

A check compares the student's result with ``expect_close`` (or, for an exact computation such
as a backward pass, ``expect_exact``), ends with ``passed``, and on failure raises ``CheckFailed``.
It calls the student's function through ``call`` (guard.py), and may trace the inputs it hands
over (tracing.py); both are importable from here too.

Guarantees:
- Every line of a verdict is at most ``WIDTH`` characters: ``nbgrader validate`` cuts lines at
  90 characters (after an indent of 4) and the feedback page shows the traceback of a failed
  cell. In Jupyter a ``CheckFailed`` shows as its message alone, without a traceback through
  aelib's code. Lines break only between words, so joining them with spaces gives the text back.
- A wrong number is shown beside the right one with as many digits as it takes to tell them
  apart, and an array by its shape (its values would bury the message).
- Rounding is not finite differences. A correct chain-rule computation differs from aelib's only
  by the rounding of a different order of operations, about 1e-16 of the size of the terms
  summed; central differences agree to about 1e-10 at best, Richardson extrapolation to about
  1e-12. So ``expect_exact`` holds an exact computation to ``EXACT_RTOL`` (1e-13) of its scale,
  far from both, and names finite differences when the answer agrees only to their accuracy.
- A float32 (or float16) answer that misses the tolerance is told to compute in float64, rather
  than shown a difference in the seventh digit.
"""
import textwrap

import numpy as np

WIDTH = 80  # nbgrader validate indents by 4 and cuts at 90 - 3 characters
EXACT_RTOL = 1e-13
# Agreement within this (relative to the scale) but not within EXACT_RTOL is what finite
# differences give, and is named as such.
FINITE_DIFFERENCE_RTOL = 1e-4


class CheckFailed(AssertionError):
    """An exercise check's verdict: what failed, the expected and actual values and a hint.

    Every line is at most ``WIDTH`` characters long. In IPython and Jupyter the message is shown
    instead of a traceback (``_render_traceback_``), so the cell's output is the feedback itself.
    """

    def __init__(self, message, expected=None, actual=None, hint=""):
        lines = _wrap(message)
        if expected is not None:
            lines += _wrap(f"expected: {expected}", indent="  ", more="          ")
        if actual is not None:
            lines += _wrap(f"actual:   {actual}", indent="  ", more="          ")
        if hint:
            lines += _wrap(f"Hint: {hint}", more="  ")
        super().__init__("\n".join(lines))

    def _render_traceback_(self):
        return [f"\x1b[0;31m{type(self).__name__}\x1b[0m: exercise check failed", *str(self).split("\n")]


def _wrap(text, indent="", more=""):
    # No breaks inside words or at hyphens, so joining the lines with spaces gives the text back.
    return textwrap.wrap(text, WIDTH, initial_indent=indent, subsequent_indent=indent + more,
                         break_long_words=False, break_on_hyphens=False) or [""]


def passed(message):
    """Print the success line every check ends with, in lines of at most ``WIDTH`` characters."""
    print("\n".join(_wrap(f"Correct: {message}")))


def brief(value):
    """``value`` for a message: an array by its shape, anything else by a repr of at most 60 characters."""
    if isinstance(value, np.ndarray):
        return f"<array of shape {value.shape}>"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def distinct_strings(expected, actual):
    """The two numbers with as many significant digits as it takes to tell them apart (6 at least)."""
    for digits in range(6, 18):
        style = "" if digits == 6 else "#"  # beyond 6 digits keep trailing zeros: same length
        shown = f"{expected:{style}.{digits}g}", f"{actual:{style}.{digits}g}"
        if shown[0] != shown[1]:
            return shown
    return repr(float(expected)), repr(float(actual))


def as_numbers(value):
    """``value`` as a float64 array, or None if it is not numbers (a ragged list, a string, an object)."""
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        return None


def _low_precision(value):
    """'float32' (or float16) if ``value`` holds numbers of less than double precision, else None."""
    dtypes = [np.asarray(item).dtype for item in value] if isinstance(value, (list, tuple)) else [np.asarray(value).dtype]
    for dtype in dtypes:
        if dtype.kind == "f" and dtype.itemsize < 8:
            return dtype.name
    return None


def _float64_message(what, dtype):
    digits = 3 if dtype == "float16" else 7
    return (f"{what}: your result is {dtype}, which keeps about {digits} significant digits; this exercise "
            f"computes in float64 (16 digits). Keep the inputs' float64 dtype: do not convert to {dtype}.")


def expect_float64(value, what):
    """Raise ``CheckFailed`` if ``value`` (an answer, or a list or tuple of them) holds numbers of
    less than double precision: for a check whose other messages would not name the cause, e.g. a
    float32 answer that turns 1 - 1e-12 into 1 and a finite loss into inf."""
    dtype = _low_precision(value)
    if dtype:
        raise CheckFailed(_float64_message(what, dtype))


def expect_close(actual, expected, what, hint="", rtol=1e-6, atol=1e-8):
    """Raise ``CheckFailed`` unless ``actual`` matches ``expected`` in shape and value."""
    expected = np.asarray(expected, dtype=np.float64)
    actual_array = as_numbers(actual)
    if actual_array is None:
        raise CheckFailed(f"{what}: expected a number or an array, got {type(actual).__name__}.",
                          actual=brief(actual), hint=hint)
    if actual_array.shape != expected.shape:
        raise CheckFailed(f"{what}: the shape is wrong.", expected=f"shape {expected.shape}",
                          actual=f"shape {actual_array.shape}", hint=hint)
    close = np.isclose(actual_array, expected, rtol=rtol, atol=atol)
    if not close.all():
        dtype = _low_precision(actual)
        if dtype and np.allclose(actual_array, expected, rtol=1e-3, atol=1e-3):
            raise CheckFailed(_float64_message(what, dtype))
        index = tuple(int(i) for i in np.argwhere(~close)[0])
        where = f" at index {index}" if expected.ndim else ""
        shown_expected, shown_actual = distinct_strings(expected[index], actual_array[index])
        difference = ""
        if np.isfinite(actual_array[index]) and expected[index] != 0:
            relative = abs(actual_array[index] - expected[index]) / abs(expected[index])
            difference = f" (relative difference {relative:.1e}, allowed {rtol:.0e})"
        raise CheckFailed(f"{what}{where}{difference}:", expected=shown_expected, actual=shown_actual,
                          hint=hint)


def expect_exact(actual, expected, what, scale=None, hint=""):
    """Raise ``CheckFailed`` unless ``actual`` equals ``expected`` to rounding (an exact computation).

    scale: the size of the terms whose sum each entry is (an array of ``expected``'s shape, e.g.
    ``abs(H).T @ abs(Delta)`` for ``H.T @ Delta``), or None for the largest |entry| of
    ``expected``. Each entry may differ by ``EXACT_RTOL`` times its scale: what a different order
    of the same operations gives, and a thousand times less than finite differences can reach.
    An answer that agrees only to finite-difference accuracy is told so.
    """
    expected = np.asarray(expected, dtype=np.float64)
    actual_array = as_numbers(actual)
    if actual_array is None or actual_array.shape != expected.shape:
        expect_close(actual, expected, what, hint=hint)  # its message names the type or the shape
    if scale is None:
        scale = np.max(np.abs(expected)) if expected.size else 0.0
    scale = np.broadcast_to(np.asarray(scale, dtype=np.float64), expected.shape)
    tiny = np.finfo(np.float64).tiny
    error = np.abs(actual_array - expected)
    if np.all(error <= EXACT_RTOL * scale + tiny):
        return
    relative = float(np.nanmax(np.where(np.isfinite(error), error / np.maximum(scale, tiny), np.inf)))
    dtype = _low_precision(actual)
    if dtype and relative <= FINITE_DIFFERENCE_RTOL:
        raise CheckFailed(_float64_message(what, dtype))
    if relative <= FINITE_DIFFERENCE_RTOL:
        digits = max(0, int(-np.log10(relative)))
        raise CheckFailed(
            f"{what}: agrees with the exact value to only about {digits} significant digits (relative "
            f"error {relative:.0e}); a computation by the chain rule agrees to about 15. That is the "
            "accuracy of finite differences: derive the gradient and compute it with the backward pass, "
            "instead of perturbing the inputs and measuring the change.")
    expect_close(actual_array, expected, what, hint=hint, rtol=EXACT_RTOL, atol=0.0)


# ``call`` and ``traced`` live in guard.py and tracing.py, which build on this module. They are
# importable from here too (``from .feedback import call``), looked up only when asked for, so
# that this module imports neither of the modules that import it.
_ELSEWHERE = {"call": "guard", "traced": "tracing"}


def __getattr__(name):
    if name not in _ELSEWHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib
    return getattr(importlib.import_module(f".{_ELSEWHERE[name]}", __package__), name)
