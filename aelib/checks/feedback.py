"""Helpers that turn a student's mistake into a message that teaches.

A check function calls the student's code through ``call`` (so ``NotImplementedError`` reads
"not implemented yet", any other exception is reported with the input that caused it, and an
answer that only calls aelib's own version of the exercise is told so), then compares with
``expect_close``, which names the input, the expected and actual values and a hint. On success
it calls ``passed``; on failure it raises ``CheckFailed``.

Feedback has to survive nbgrader: ``nbgrader validate`` cuts every line at 90 characters and the
feedback page shows the traceback of a failed cell. So a ``CheckFailed`` message is made of short
lines (expected, actual and hint each on their own), and in Jupyter it displays as that message
alone, without a traceback through this package's code.
"""
import contextlib
import textwrap

import numpy as np

WIDTH = 80  # nbgrader validate indents by 4 and cuts at 90 - 3 characters
_HIDDEN = "hidden by an aelib check"


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


def call(function, *args, name=None, hidden=(), **kwargs):
    """Call the student's ``function`` and translate its failures into a ``CheckFailed``.

    ``hidden``: aelib's own functions that solve the exercise. While the student's function runs
    they are unavailable, and an answer that calls one of them fails with a message that says so.
    """
    name = name or getattr(function, "__name__", "your function")
    try:
        with _unavailable(hidden):
            return function(*args, **kwargs)
    except NotImplementedError:
        raise CheckFailed(
            f"{name} is not implemented yet: replace `raise NotImplementedError()` with your code.") from None
    except CheckFailed:
        raise
    except Exception as error:  # the student's bug, reported with the input that triggered it
        used = _hidden_function_called(error)
        if used:
            raise CheckFailed(
                f"{name} calls {used}, aelib's own solution of this exercise. Write the computation "
                "yourself, with numpy; the check runs your function while aelib's is unavailable.") from None
        shown = ", ".join(_short(arg) for arg in args)
        raise CheckFailed(f"{name}({shown}) raised {type(error).__name__}: {error}") from None


def _unavailable_stub(*args, **kwargs):
    # Its code replaces a hidden function's for the duration of a check; it may use builtins only.
    raise RuntimeError("hidden by an aelib check")


@contextlib.contextmanager
def _unavailable(functions):
    """Make ``functions`` raise while the block runs, however the student's code reached them
    (``aelib.f``, ``aelib.module.f``, ``from aelib.module import f``, a method of a class)."""
    originals = [(function, function.__code__) for function in functions]
    try:
        for function, code in originals:
            function.__code__ = _unavailable_stub.__code__.replace(
                co_name=code.co_name, co_qualname=code.co_qualname)
        yield
    finally:
        for function, code in originals:
            function.__code__ = code


def _hidden_function_called(error):
    """'aelib.module.function' if ``error`` comes from a function hidden by ``_unavailable``."""
    if not (isinstance(error, RuntimeError) and error.args == (_HIDDEN,)):
        return None
    traceback = error.__traceback__
    while traceback.tb_next is not None:
        traceback = traceback.tb_next
    frame = traceback.tb_frame
    return f"{frame.f_globals.get('__name__', 'aelib')}.{frame.f_code.co_qualname}"


def as_numbers(value):
    """``value`` as a float64 array, or None if it is not numbers (a ragged list, a string, an object)."""
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        return None


def expect_close(actual, expected, what, hint="", rtol=1e-6, atol=1e-8):
    """Raise ``CheckFailed`` unless ``actual`` matches ``expected`` in shape and value."""
    expected = np.asarray(expected, dtype=np.float64)
    actual_array = as_numbers(actual)
    if actual_array is None:
        raise CheckFailed(f"{what}: expected a number or an array, got {type(actual).__name__}.",
                          actual=_short(actual), hint=hint)
    if actual_array.shape != expected.shape:
        raise CheckFailed(f"{what}: the shape is wrong.", expected=f"shape {expected.shape}",
                          actual=f"shape {actual_array.shape}", hint=hint)
    close = np.isclose(actual_array, expected, rtol=rtol, atol=atol)
    if not close.all():
        index = tuple(int(i) for i in np.argwhere(~close)[0])
        where = f" at index {index}" if expected.ndim else ""
        shown_expected, shown_actual = distinct_strings(expected[index], actual_array[index])
        difference = ""
        if np.isfinite(actual_array[index]) and expected[index] != 0:
            relative = abs(actual_array[index] - expected[index]) / abs(expected[index])
            difference = f" (relative difference {relative:.1e}, allowed {rtol:.0e})"
        raise CheckFailed(f"{what}{where}{difference}:", expected=shown_expected, actual=shown_actual,
                          hint=hint)


def distinct_strings(expected, actual):
    """The two numbers with as many significant digits as it takes to tell them apart (6 at least)."""
    for digits in range(6, 18):
        style = "" if digits == 6 else "#"  # beyond 6 digits keep trailing zeros: same length
        shown = f"{expected:{style}.{digits}g}", f"{actual:{style}.{digits}g}"
        if shown[0] != shown[1]:
            return shown
    return repr(float(expected)), repr(float(actual))


def passed(message):
    """Print the success line every check ends with, in lines of at most ``WIDTH`` characters."""
    print("\n".join(_wrap(f"Correct: {message}")))


def _short(value):
    # Arrays are named by shape: printing their values would bury the message.
    if isinstance(value, np.ndarray):
        return f"<array of shape {value.shape}>"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
