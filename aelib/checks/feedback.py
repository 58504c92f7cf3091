"""Helpers that turn a student's mistake into a message that teaches.

A check function calls the student's code through ``call``, compares the result with
``expect_close`` (or, for an exact computation such as a backward pass, ``expect_exact``), and
ends with ``passed``; on failure it raises ``CheckFailed``.

``call`` runs the student's function under a guard (``AelibGuard``): every call from the
student's code into aelib -- any module, public or private, however it was imported or renamed --
is refused unless the check allows it (the helpers the exercise's statement names), so an answer
cannot pass by calling aelib's own solution by another route. The same call also catches an
argument changed in place, numpy's global random generator used or reseeded, an exception
(reported with the input that caused it, never as a raw numpy traceback) and
``NotImplementedError`` (the untouched stub: "not implemented yet").

Traced copies of the inputs (tracing.py) let a check see how an answer computes, not only what
it returns; reading.py reads its code for complex numbers and float32.

Feedback has to survive nbgrader: ``nbgrader validate`` cuts every line at 90 characters and the
feedback page shows the traceback of a failed cell. So a ``CheckFailed`` message is made of short
lines (expected, actual and hint each on their own), and in Jupyter it displays as that message
alone, without a traceback through this package's code.
"""
import functools
import inspect
import os
import sys
import sysconfig
import textwrap
import threading
import types

import numpy as np

WIDTH = 80  # nbgrader validate indents by 4 and cuts at 90 - 3 characters
# A correct chain-rule computation differs from aelib's only by the rounding of a different order
# of operations, about 1e-16 relative to the size of the terms summed; central differences agree
# to about 1e-10 at best and Richardson extrapolation to about 1e-12. So an exact computation is
# held to 1e-13 of its scale, far from both.
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


# ---------------------------------------------------------------------------------------------
# The guard: no call from the student's code into aelib, except what the check allows.

_AELIB_DIRS = tuple({os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep,
                     os.path.dirname(os.path.dirname(os.path.realpath(__file__))) + os.sep})


# Python's own library and the installed packages (numpy, contextlib's decorators, ...) are
# transparent: a call that passes through them belongs to whoever called them.
_LIBRARY_DIRS = tuple({os.path.join(os.path.abspath(path), "") for name in ("stdlib", "platstdlib", "purelib", "platlib")
                       for path in (sysconfig.get_paths()[name],) if path}
                      | {os.path.join(os.path.realpath(path), "") for name in ("stdlib", "platstdlib", "purelib", "platlib")
                         for path in (sysconfig.get_paths()[name],) if path})


def _in_aelib(code):
    return code.co_filename.startswith(_AELIB_DIRS)


@functools.lru_cache(maxsize=None)
def _library_file(path):
    # Also a package reached through a .pth file from another environment's site-packages, or
    # through a symbolic link to one (as where aelib is installed beside a shared set of
    # packages): no student writes code there.
    if path.startswith("<frozen "):
        return True
    for candidate in (path, os.path.realpath(path)):
        parts = candidate.replace("\\", "/").split("/")
        if candidate.startswith(_LIBRARY_DIRS) or "site-packages" in parts or "dist-packages" in parts:
            return True
    return False


def _transparent(code):
    return _library_file(code.co_filename)


def _called_by_student(frame):
    """Whether the call that started ``frame`` (aelib code) came from the student's code: the
    nearest caller that is not Python's or an installed package's is not aelib (or is the frame
    that started the student's function)."""
    caller = frame.f_back
    while caller is not None and not _in_aelib(caller.f_code) and _transparent(caller.f_code):
        caller = caller.f_back
    return caller is None or caller.f_code is _INVOKE_CODE or not _in_aelib(caller.f_code)


# Code that runs from the student's code although it is aelib's: the hooks of the traced arrays
# (tracing.py registers them).
_ALWAYS_ALLOWED = set()


def always_allow(*functions):
    """Let every guard allow ``functions`` (aelib code that numpy calls on the student's behalf)."""
    _ALWAYS_ALLOWED.update(function.__code__ for function in functions)


def _codes_of(item):
    """The code objects an entry of ``allowed`` stands for: a function or method, a class (every
    function, property and nested class defined on it or its aelib bases), or a module (every
    function and class in it)."""
    if isinstance(item, types.ModuleType):
        return set().union(*[_codes_of(value) for value in vars(item).values()
                             if getattr(value, "__module__", None) == item.__name__
                             and (inspect.isfunction(value) or inspect.isclass(value))])
    if inspect.isclass(item):
        codes = set()
        for klass in item.__mro__:
            for value in vars(klass).values():
                if isinstance(value, property):
                    codes |= set().union(*[_codes_of(f) for f in (value.fget, value.fset, value.fdel) if f])
                elif isinstance(value, (staticmethod, classmethod)):
                    codes |= _codes_of(value.__func__)
                elif inspect.isfunction(value):
                    codes |= _codes_of(value)
        return codes
    function = getattr(item, "__func__", item)  # a bound method
    code = getattr(function, "__code__", None)
    if code is None:
        raise TypeError(f"allowed entries must be functions, methods, classes or modules, got {item!r}")
    return {code}


def _describe(frame):
    # A class is named by itself, not by its __init__.
    qualname = frame.f_code.co_qualname.removesuffix(".__init__")
    return f"{frame.f_globals.get('__name__', 'aelib')}.{qualname}"


class AelibGuard:
    """Record every call made from outside aelib into an aelib function not in ``allowed``.

    Used as a context manager around the student's code. Calls that aelib makes into itself (the
    inner workings of an allowed function) are not calls of the student's; calls made through a
    callback the student wrote, or through numpy, are. ``refused`` lists 'aelib.module.function'
    of each refused call, in order. The call is recorded, not stopped, so that a student's
    ``try``/``except`` cannot hide it.
    """

    def __init__(self, allowed=()):
        self.allowed = set().union(_ALWAYS_ALLOWED, *[_codes_of(item) for item in allowed])
        self.refused = []
        self._active = False

    def _trace(self, frame, event, arg):
        if event == "call" and self._active:
            code = frame.f_code
            if code not in self.allowed and _in_aelib(code) and _called_by_student(frame):
                self.refused.append(_describe(frame))
        return None  # no line-by-line tracing: only calls are looked at

    def __enter__(self):
        # Threads the student's code starts are watched too (a thread pool running aelib's function).
        self._previous, self._previous_threads = sys.gettrace(), threading.gettrace()
        self._active = True
        threading.settrace(self._trace)
        sys.settrace(self._trace)
        return self

    def __exit__(self, *exc_info):
        sys.settrace(self._previous)
        threading.settrace(self._previous_threads)
        self._active = False  # a thread still running keeps the trace function: it no longer records
        return False


def _invoke(function, args, kwargs):
    # The student's function starts here: a call of aelib's made from this frame is the student's
    # own (say, ``fn = aelib.f`` handed to the check as the answer).
    result = function(*args, **kwargs)
    if isinstance(result, types.GeneratorType) or (hasattr(result, "__next__") and not isinstance(result, np.ndarray)):
        result = list(result)  # a lazy answer runs its code here, under the guard
    return result


_INVOKE_CODE = _invoke.__code__


def allowed_names(allowed):
    """'aelib.f, aelib.g' for the message that lists what a check allows."""
    names = []
    for item in allowed:
        module = getattr(item, "__module__", None) or getattr(item, "__name__", "")
        qualname = getattr(item, "__qualname__", None)
        names.append(f"{module}.{qualname}" if qualname and not isinstance(item, types.ModuleType) else module)
    return ", ".join(names)


# ---------------------------------------------------------------------------------------------
# Calling the student's function.

def _snapshot(value):
    """Copies of the arrays in ``value`` (an array, or a list, tuple or dict of them), by path."""
    if isinstance(value, np.ndarray):
        return {(): np.array(value.view(np.ndarray), copy=True)}
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, (list, tuple)) else ()
    return {(key, *path): copy for key, item in items for path, copy in _snapshot(item).items()}


def _at(value, path):
    for key in path:
        try:
            value = value[key]
        except (KeyError, IndexError, TypeError):
            return None
    return value


def _changed(value, snapshot):
    """The first path (a tuple of keys) of ``snapshot`` whose array in ``value`` differs, or None."""
    for path, copy in snapshot.items():
        now = _at(value, path)
        if not isinstance(now, np.ndarray) or now.shape != copy.shape or not np.array_equal(
                now.view(np.ndarray), copy, equal_nan=copy.dtype.kind in "fc"):
            return path
    return None


def _parameter_names(function, n_args):
    try:
        parameters = [p.name for p in inspect.signature(function).parameters.values()
                      if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        parameters = []
    return [parameters[i] if i < len(parameters) else f"argument {i + 1}" for i in range(n_args)]


def _global_random_state():
    state = np.random.get_state()
    return state[0], state[1].copy(), state[2], state[3], state[4]


def _same_random_state(a, b):
    return a[0] == b[0] and np.array_equal(a[1], b[1]) and a[2:] == b[2:]


def call(function, *args, name=None, allowed=(), on_error="", may_change=(), on_refused=None, **kwargs):
    """Call the student's ``function`` under the guard and translate its failures into ``CheckFailed``.

    allowed: the aelib functions, methods, classes or modules the exercise lets the student use;
    every other call from the student's code into aelib fails the check, with its name.
    on_error: a hint added when the function raises (e.g. the shapes the exercise expects), so
    that a numpy error is explained instead of shown raw.
    on_refused: a function of the refused call's name ('aelib.module.function') that returns the
    message for it, or None for the usual one (e.g. to say that a model other than the one passed in
    was used).
    Fails too when the function changes one of its arguments in place (except those whose
    positions or keywords ``may_change`` lists, for an update the exercise lets happen in place),
    or uses or reseeds numpy's global random generator (random numbers come from ``rng``).
    """
    name = name or getattr(function, "__name__", "your function")
    names = _parameter_names(function, len(args)) + list(kwargs)
    values = list(args) + list(kwargs.values())
    snapshots = [_snapshot(value) for value in values]
    random_state = _global_random_state()
    guard = AelibGuard(allowed)
    error = None
    try:
        with guard:
            result = _invoke(function, args, kwargs)
    except NotImplementedError:
        raise CheckFailed(
            f"{name} is not implemented yet: replace `raise NotImplementedError()` with your code.") from None
    except CheckFailed:
        raise
    except Exception as exception:  # the student's bug, reported below with the input that triggered it
        error = exception
    if guard.refused:
        message = on_refused(guard.refused[0]) if on_refused else None
        if message:
            raise CheckFailed(message)
        permitted = f" (it allows only {allowed_names(allowed)})" if allowed else ""
        raise CheckFailed(
            f"{name} calls {guard.refused[0]}, which is part of aelib. This exercise asks you to write "
            f"the computation yourself, with numpy, so the check refuses every call into aelib{permitted}.")
    if not _same_random_state(random_state, _global_random_state()):
        np.random.set_state(random_state)
        raise CheckFailed(
            f"{name} used numpy's global random generator (np.random.rand, np.random.seed, ...). Draw "
            "every random number from the generator passed in (e.g. rng.random), so that the same "
            "seed gives the same result and nothing outside your function changes.")
    keys = list(range(len(args))) + list(kwargs)
    for key, argument, value, snapshot in zip(keys, names, values, snapshots):
        if key in may_change:
            continue
        path = _changed(value, snapshot)
        if path is not None:
            where = argument + "".join(f"[{key!r}]" for key in path)
            raise CheckFailed(f"{name} changed {where} in place; compute new arrays instead "
                              "(e.g. A = A * d rather than A *= d when A is an argument).")
    if error is not None:
        shown = ", ".join(f"{argument}={_short(value)}" for argument, value in zip(names, values))
        message = str(error)
        if isinstance(error, ValueError) and ("mismatch in its core dimension" in message
                                              or "could not be broadcast" in message
                                              or "not aligned" in message):
            raise CheckFailed(
                f"{name}({shown}) combined arrays whose shapes do not fit (numpy said: "
                f"{_first_line(message)}).", hint=on_error or "Write down the shape of every array "
                "you multiply or add; the exercise states the shapes of the inputs and the result.") from None
        raise CheckFailed(f"{name}({shown}) raised {type(error).__name__}: {_first_line(message)}",
                          hint=on_error) from None
    return result


def _first_line(text):
    line = str(text).strip().split("\n")[0]
    return line if len(line) <= 200 else line[:197] + "..."


# ---------------------------------------------------------------------------------------------
# Comparing results.

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


def expect_float64(value, what):
    """Raise ``CheckFailed`` if ``value`` (an answer, or a list or tuple of them) holds numbers of
    less than double precision: for a check whose other messages would not name the cause, e.g. a
    float32 answer that turns 1 - 1e-12 into 1 and a finite loss into inf."""
    dtype = _low_precision(value)
    if dtype:
        raise CheckFailed(_float64_message(what, dtype))


# ``traced`` lives in tracing.py, which builds on this module; it is importable from here too
# (``from .feedback import traced``), looked up only when asked for, so that this module does not
# import a module that imports it.
def __getattr__(name):
    if name != "traced":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from .tracing import traced
    return traced
