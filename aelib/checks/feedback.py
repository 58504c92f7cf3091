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

``traced`` wraps input arrays so that a check can count the forward evaluations an answer makes:
a backward pass needs none beyond the forward pass it is given; finite differences make two or
more per weight. ``traced_steps`` also counts small nudges (x + h) and ``traced_numbers`` shifts of
any size and the complex or float32 numbers an answer computes with on its inputs; since an
answer may work on plain copies (np.asarray), ``number_signs`` also reads the answer's own code
for complex numbers (the complex step, exact to rounding) and float32.

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
# Traced arrays: which of the inputs meet in one numpy operation.

class TraceLog:
    """The numpy operations made on traced arrays: for each, the set of names of the traced
    arrays among its operands."""

    def __init__(self):
        self.operations = []

    def meetings(self, *names):
        """How many operations took all of ``names`` (or arrays derived from them by copying,
        slicing, transposing) as operands together."""
        wanted = set(names)
        return sum(wanted <= operands for operands in self.operations)


class _Traced(np.ndarray):
    # An ndarray that reports the operations it takes part in. Views, slices and copies (the
    # ndarray methods) keep the name; the results of operations are plain arrays.

    def __array_finalize__(self, obj):
        self._trace_name = getattr(obj, "_trace_name", None)
        self._trace_log = getattr(obj, "_trace_log", None)

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        _record(inputs)
        if "out" in kwargs:
            kwargs["out"] = tuple(_plain(out) for out in kwargs["out"])
        return getattr(ufunc, method)(*[_plain(value) for value in inputs], **kwargs)

    def __array_function__(self, func, types, args, kwargs):
        _record(list(args) + list(kwargs.values()))
        result = func(*[_plain_deep(value) for value in args],
                      **{key: _plain_deep(value) for key, value in kwargs.items()})
        if func is np.copy and isinstance(args[0], _Traced) and isinstance(result, np.ndarray):
            return _traced_view(result, args[0]._trace_name, args[0]._trace_log)
        return result

    def dot(self, other, out=None):
        # The method, unlike np.dot and @, reaches no numpy hook: it records itself.
        _record((self, other))
        return np.dot(_plain(self), _plain(other), out=_plain(out))

    def __reduce__(self):
        return self.view(np.ndarray).__reduce__()  # a pickled or deep-copied answer is a plain array


def _plain(value):
    return value.view(np.ndarray) if isinstance(value, _Traced) else value


def _plain_deep(value):
    if isinstance(value, (list, tuple)):
        return type(value)(_plain_deep(item) for item in value)
    return _plain(value)


def _record(operands):
    names, log = set(), None
    for value in operands:
        for item in (value if isinstance(value, (list, tuple)) else (value,)):
            if isinstance(item, _Traced) and item._trace_log is not None:
                names.add(item._trace_name)
                log = item._trace_log
    if log is not None:
        log.operations.append(frozenset(names))


def _traced_view(array, name, log):
    view = np.asarray(array).view(_Traced)
    view._trace_name, view._trace_log = name, log
    return view


_ALWAYS_ALLOWED = {function.__code__ for function in (
    _Traced.__array_finalize__, _Traced.__array_ufunc__, _Traced.__array_function__, _Traced.dot, _Traced.__reduce__,
    _plain, _plain_deep, _record, _traced_view)}


def traced(**arrays):
    """Copies of ``arrays`` (by name) that record the operations they take part in.

    Returns (log, {name: traced copy}). Pass the copies to the student's function; then
    ``log.meetings("X", "W1")`` counts the operations in which X and W1 (or copies, slices or
    transposes of them) met: each such meeting is an evaluation of the layer X @ W1.
    """
    log = TraceLog()
    return log, {name: _traced_view(np.array(array, copy=True), name, log) for name, array in arrays.items()}


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


# ---------------------------------------------------------------------------------------------
# Nudged arrays: finite differences of a single step.

# Finite differences of one step (tanh'(A) as (tanh(A + h) - tanh(A - h)) / 2h, or a higher-order
# stencil, which can agree with the exact derivative to 13 digits) nudge an input by a small
# step. Adding or subtracting a constant this small, but not 0, to a traced array is counted as
# such a nudge; formulas add constants such as 1 (as in 1 - H), not steps of a hundredth or less.
NUDGE_SIZE = 1e-2


class StepLog(TraceLog):
    """A ``TraceLog`` that also records the nudges: each operation that adds a constant c with
    0 < |c| <= ``NUDGE_SIZE`` to a traced array (or a view or copy of it), or subtracts it."""

    def __init__(self):
        super().__init__()
        self.nudges = []

    def nudged(self, *names):
        """How many nudges were made to the arrays ``names`` (to any traced array if none given)."""
        return sum(not names or name in names for name in self.nudges)


class _StepTraced(_Traced):
    # A traced array that also records the nudges it receives.

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        if ufunc in (np.add, np.subtract) and method == "__call__" and len(inputs) == 2:
            _record_nudge(inputs)
        return _Traced.__array_ufunc__(self, ufunc, method, *inputs, **kwargs)

    def __array_function__(self, func, types, args, kwargs):
        result = _Traced.__array_function__(self, func, types, args, kwargs)
        if isinstance(result, _Traced) and not isinstance(result, _StepTraced):
            result = result.view(_StepTraced)  # np.copy keeps recording nudges too
        return result


def _record_nudge(operands):
    traced_operands = [value for value in operands if isinstance(value, _Traced)]
    constants = [value for value in operands if not isinstance(value, _Traced) and np.ndim(value) == 0]
    if len(traced_operands) != 1 or len(constants) != 1:
        return
    log = traced_operands[0]._trace_log
    try:
        size = abs(complex(constants[0]))
    except (TypeError, ValueError):
        return
    if isinstance(log, StepLog) and 0.0 < size <= NUDGE_SIZE:
        log.nudges.append(traced_operands[0]._trace_name)


_ALWAYS_ALLOWED |= {function.__code__ for function in (
    _StepTraced.__array_ufunc__, _StepTraced.__array_function__, _record_nudge)}


def traced_steps(**arrays):
    """Like ``traced``, with a ``StepLog``: ``log.nudged("A1")`` also counts the nudges of A1
    (A1 + h with a small constant h), the signature of finite differences of a single step,
    which a backward pass never makes. Returns (log, {name: traced copy})."""
    log = StepLog()
    return log, {name: _traced_view(np.array(array, copy=True), name, log).view(_StepTraced)
                 for name, array in arrays.items()}


# ---------------------------------------------------------------------------------------------
# Numbers traced: shifts of any size and the types of the numbers an answer computes with.

# A derivative read off the complex step, Im f(x + ih) / h, or off a high-order stencil or
# Richardson extrapolation with a step of a tenth or a twentieth, agrees with the chain rule to
# 14 or more digits: no tolerance can tell it from a backward pass. What it leaves behind is how
# it computes: with complex numbers, or with its inputs shifted by a constant step.

class NumberLog(StepLog):
    """A ``StepLog`` that also records ``shifts``, (name, size) for every constant of any size
    added to or subtracted from a traced array (a number, an array of one repeated value or an
    array with a single non-zero entry, as finite differences add), and ``kinds``, the names of
    the complex and less-than-double dtypes among the operands and results of operations on
    traced arrays."""

    def __init__(self):
        super().__init__()
        self.shifts = []
        self.kinds = set()

    def shifted(self, *names, below=1.0):
        """How many shifts of the arrays ``names`` (of any traced array if none given) by a
        constant step of size below ``below``."""
        return sum((not names or name in names) and size < below for name, size in self.shifts)

    def complex_kinds(self):
        return sorted(kind for kind in self.kinds if kind.startswith("complex"))

    def low_precision_kinds(self):
        return sorted(kind for kind in self.kinds if kind.startswith("float"))


def _record_kinds(log, values):
    for value in values:
        for item in (value if isinstance(value, (list, tuple)) else (value,)):
            dtype = getattr(item, "dtype", None)
            if not isinstance(dtype, np.dtype):
                if isinstance(item, complex):
                    log.kinds.add("complex128")
                continue
            if dtype.kind == "c" or (dtype.kind == "f" and dtype.itemsize < 8):
                log.kinds.add(dtype.name)


def _record_shift(log, operands):
    traced_operands = [value for value in operands if isinstance(value, _Traced)]
    others = [value for value in operands if not isinstance(value, _Traced)]
    if len(traced_operands) != 1 or len(others) != 1:
        return
    other = others[0]
    try:
        if np.ndim(other) == 0:
            size = abs(complex(other))
        else:
            values = np.asarray(other).ravel()
            if values.size < 2 or values.dtype.kind not in "iufc":
                return
            nonzero = values[values != 0]
            if nonzero.size == 1 or (nonzero.size == values.size and np.all(values == values[0])):
                size = abs(complex(nonzero[0]))
            else:
                return
    except (TypeError, ValueError):
        return
    if size > 0.0:
        log.shifts.append((traced_operands[0]._trace_name, size))


class _NumberTraced(_StepTraced):
    # A traced array that also records its shifts and the dtypes it meets.

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        log = self._trace_log
        if isinstance(log, NumberLog):
            _record_kinds(log, inputs + tuple(kwargs.get("out", ())))
            if ufunc in (np.add, np.subtract) and method == "__call__" and len(inputs) == 2:
                _record_shift(log, inputs)
        result = _StepTraced.__array_ufunc__(self, ufunc, method, *inputs, **kwargs)
        if isinstance(log, NumberLog):
            _record_kinds(log, result if isinstance(result, tuple) else (result,))
        return result

    def __array_function__(self, func, types, args, kwargs):
        log = self._trace_log
        if isinstance(log, NumberLog):
            _record_kinds(log, list(args) + list(kwargs.values()))
        result = _StepTraced.__array_function__(self, func, types, args, kwargs)
        if isinstance(result, _Traced) and not isinstance(result, _NumberTraced):
            result = result.view(_NumberTraced)
        if isinstance(log, NumberLog):
            _record_kinds(log, result if isinstance(result, (list, tuple)) else (result,))
        return result

    def dot(self, other, out=None):
        if isinstance(self._trace_log, NumberLog):
            _record_kinds(self._trace_log, (self, other))
        return _Traced.dot(self, other, out=out)


_ALWAYS_ALLOWED |= {function.__code__ for function in (
    NumberLog.shifted, NumberLog.complex_kinds, NumberLog.low_precision_kinds, _record_kinds, _record_shift,
    _NumberTraced.__array_ufunc__, _NumberTraced.__array_function__, _NumberTraced.dot)}


def traced_numbers(**arrays):
    """Like ``traced_steps``, with a ``NumberLog``: ``log.shifted("logvar")`` also counts shifts
    of any size below 1 (a stencil with a large step) and ``log.complex_kinds()`` names the
    complex dtypes the answer computed with on its inputs (the complex step). Returns
    (log, {name: traced copy})."""
    log = NumberLog()
    return log, {name: _traced_view(np.array(array, copy=True), name, log).view(_NumberTraced)
                 for name, array in arrays.items()}


# ---------------------------------------------------------------------------------------------
# What an answer's code says: complex numbers, float32.

# Names and strings in code that mean complex numbers (the complex step) or single precision.
_COMPLEX_NAMES = frozenset({"complex", "complex64", "complex128", "complex256", "complexfloating", "cdouble",
                            "csingle", "clongdouble", "cfloat", "imag", "cmath", "emath", "scimath"})
_COMPLEX_STRINGS = frozenset({"complex", "complex64", "complex128", "complex256", "c8", "c16", "c32"})
_LOW_PRECISION_NAMES = frozenset({"float32", "float16"})
_LOW_PRECISION_STRINGS = frozenset({"float32", "float16", "f4", "f2"})


def _student_function_codes(item):
    """The code objects of ``item`` (a function, partial, method, class or object) and of the
    student's functions it can reach: nested functions and lambdas, the globals its code names
    (and the functions and objects in them), its closure and defaults. Code of aelib, Python's
    library and installed packages is left out."""
    codes, seen, stack = [], set(), [item]
    while stack:
        item = stack.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, functools.partial):
            stack += [item.func, *item.args, *item.keywords.values()]
        elif inspect.ismethod(item):
            stack.append(item.__func__)
        elif inspect.isfunction(item):
            if _in_aelib(item.__code__) or _transparent(item.__code__):
                continue
            for cell in item.__closure__ or ():
                try:
                    stack.append(cell.cell_contents)
                except ValueError:  # an empty cell
                    pass
            stack += list(item.__defaults__ or ()) + list((item.__kwdefaults__ or {}).values())
            namespace = item.__globals__
            for code in _nested_codes(item.__code__):
                codes.append(code)
                stack += [namespace[name] for name in code.co_names if name in namespace]
        elif inspect.isclass(item):
            # Its functions, whose code tells whose they are (a notebook's classes belong to a
            # module without a file).
            for value in vars(item).values():
                if isinstance(value, (staticmethod, classmethod)):
                    stack.append(value.__func__)
                elif isinstance(value, property):
                    stack += [f for f in (value.fget, value.fset, value.fdel) if f]
                elif inspect.isfunction(value):
                    stack.append(value)
        elif isinstance(item, types.ModuleType):
            if not _library_module(item):
                stack += [value for value in vars(item).values() if inspect.isfunction(value) or inspect.isclass(value)]
        elif isinstance(item, (list, tuple, set, frozenset, dict)):
            if len(item) <= 1000:  # a container of helpers, not a data set
                stack += list(item.values() if isinstance(item, dict) else item)
        else:
            stack.append(type(item))  # an object of the student's class: its methods
    return codes


def _library_module(module):
    file = getattr(module, "__file__", None)
    if not file:
        return True  # built in
    file = os.path.abspath(file)
    return file.startswith(_AELIB_DIRS) or _library_file(file)


def _nested_codes(code):
    yield code
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield from _nested_codes(const)


def _constants(values):
    for value in values:
        if isinstance(value, (tuple, frozenset)):
            yield from _constants(value)
        elif not isinstance(value, types.CodeType):
            yield value


def number_signs(function):
    """What the code of the answer ``function`` (and of the student's functions it reaches)
    says about the numbers it computes with: {"complex": the first sign of complex numbers
    (a constant such as 1e-20j, or a name such as complex, .imag, cmath), "float32": the first
    sign of single precision (np.float32, "float32")}, each None if there is none."""
    signs = {"complex": None, "float32": None}
    for code in _student_function_codes(function):
        for value in _constants(code.co_consts):
            if isinstance(value, complex) and signs["complex"] is None:
                signs["complex"] = f"the complex number {value!r}"
            elif isinstance(value, str):
                if value in _COMPLEX_STRINGS and signs["complex"] is None:
                    signs["complex"] = f"the dtype {value!r}"
                elif value in _LOW_PRECISION_STRINGS and signs["float32"] is None:
                    signs["float32"] = f"the dtype {value!r}"
        for name in code.co_names:
            if name in _COMPLEX_NAMES and signs["complex"] is None:
                signs["complex"] = f"`{name}`"
            elif name in _LOW_PRECISION_NAMES and signs["float32"] is None:
                signs["float32"] = f"`{name}`"
    return signs


# ---------------------------------------------------------------------------------------------
# Shares of an input: a loop over the rows of X is one evaluation, not one per row.

class ShareLog(TraceLog):
    """A ``TraceLog`` that also records, for each operation, the share of each traced input's
    entries that took part in it (one row of an (n, d) input: 1/n)."""

    def __init__(self, sizes):
        super().__init__()
        self.sizes = dict(sizes)
        self.shares = []

    def evaluations(self, *names, by):
        """The operations in which all of ``names`` met, each counted as the share of ``by`` that
        took part: an operation on the whole of ``by`` counts 1, a loop over its rows 1 in all."""
        wanted = set(names)
        return sum(share[by] for share in self.shares if wanted <= share.keys())


class _ShareTraced(_Traced):
    # A traced array that also records the share of its input taking part in each operation.

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        _record_shares(inputs)
        return _Traced.__array_ufunc__(self, ufunc, method, *inputs, **kwargs)

    def __array_function__(self, func, types, args, kwargs):
        _record_shares(list(args) + list(kwargs.values()))
        result = _Traced.__array_function__(self, func, types, args, kwargs)
        if isinstance(result, _Traced) and not isinstance(result, _ShareTraced):
            result = result.view(_ShareTraced)  # np.copy keeps recording shares too
        return result

    def dot(self, other, out=None):
        _record_shares((self, other))
        return _Traced.dot(self, other, out=out)


def _record_shares(operands):
    shares, log = {}, None
    for value in operands:
        for item in (value if isinstance(value, (list, tuple)) else (value,)):
            if isinstance(item, _Traced) and isinstance(item._trace_log, ShareLog):
                log = item._trace_log
                share = item.size / max(log.sizes.get(item._trace_name, 1), 1)
                shares[item._trace_name] = max(shares.get(item._trace_name, 0.0), share)
    if log is not None:
        log.shares.append(shares)


_ALWAYS_ALLOWED |= {function.__code__ for function in (
    _ShareTraced.__array_ufunc__, _ShareTraced.__array_function__, _ShareTraced.dot, _record_shares)}


def traced_shares(**arrays):
    """Like ``traced``, with a ``ShareLog``: ``log.evaluations("X", "W", by="X")`` counts the
    operations in which X and W met, weighed by the share of X in each, so that a loop over the
    rows of X counts as one evaluation, as the whole of X at once does. Returns (log, {name:
    traced copy})."""
    log = ShareLog({name: np.size(array) for name, array in arrays.items()})
    return log, {name: _traced_view(np.array(array, copy=True), name, log).view(_ShareTraced)
                 for name, array in arrays.items()}


# ---------------------------------------------------------------------------------------------
# Complex numbers: the sign of the complex-step derivative.

class ComplexWatch:
    """Notice complex numbers in the student's code while it runs (a context manager around
    ``call``): ``seen`` becomes True when a function of the student's returns a complex number or
    array, or holds one in a local variable (or in a list, tuple or dict there) as it returns, or
    passes one to, or gets one from, a function of numpy's or Python's written in Python (np.sum,
    np.argsort, np.imag, ...).

    The complex step, Im L(w + ih) / h, gives a derivative exact to rounding, as a backward pass
    does, but with one evaluation of the loss per weight, on copies that ``traced`` cannot follow
    (np.array(W, dtype=complex)). A backward pass of a real function has no use for complex numbers.
    Watched through ``sys.setprofile``, only at the calls and returns of functions (no line
    events); the previous profile function is restored afterwards.
    """

    def __init__(self):
        self.seen = False

    def _profile(self, frame, event, arg):
        if self.seen or event not in ("call", "return"):
            return
        code = frame.f_code
        if _in_aelib(code):
            return
        if _transparent(code):
            caller = frame.f_back
            if caller is None or _in_aelib(caller.f_code) or _transparent(caller.f_code):
                return
            values = frame.f_locals.values() if event == "call" else (arg,)  # its arguments, its result
        elif event == "return":
            values = (arg, *frame.f_locals.values())
        else:
            return
        if any(_holds_complex(value) for value in values):
            self.seen = True

    def __enter__(self):
        self._previous = sys.getprofile()
        sys.setprofile(self._profile)
        return self

    def __exit__(self, *exc_info):
        sys.setprofile(self._previous)
        return False


def _holds_complex(value, depth=1):
    if isinstance(value, (complex, np.complexfloating)):
        return True
    if isinstance(value, np.ndarray):
        return value.dtype.kind == "c"
    if depth and isinstance(value, (list, tuple)):
        return any(_holds_complex(item, depth - 1) for item in value[:100])
    if depth and isinstance(value, dict):
        return any(_holds_complex(item, depth - 1) for item in list(value.values())[:100])
    return False


# ---------------------------------------------------------------------------------------------
# Derived arrays: from which inputs every array an answer computes was computed.

class DerivedLog:
    """The numpy operations made on derived arrays: for each, the inputs behind each of its
    operands (a frozenset of names per operand computed from an input) and whether complex
    numbers took part."""

    def __init__(self):
        self.operations = []

    def evaluations(self, data, weights, gradients=()):
        """How many operations combined a value computed from ``data`` (and from neither ``weights``
        nor any of ``gradients``) with a value computed from ``weights`` (and from neither ``data``
        nor any of ``gradients``): each is an evaluation of the layer data @ weights, on the inputs
        themselves or on anything computed from them (W + E, W * 1, W.astype(complex), ...). A
        backward pass combines the inputs with a gradient instead."""
        excluded = frozenset(gradients)

        def alone(sources, name, other):
            return name in sources and other not in sources and not sources & excluded

        return sum(any(alone(sources, data, weights) for sources in operands)
                   and any(alone(sources, weights, data) for sources in operands)
                   for operands, _ in self.operations)

    def complex_operations(self):
        """How many operations on values computed from the inputs involved complex numbers."""
        return sum(with_complex for _, with_complex in self.operations)


class _Derived(_Traced):
    # A traced array (copies and views keep the input's name, as _Traced counts them) whose
    # operations also give derived arrays, which remember every input they were computed from.

    def __array_finalize__(self, obj):
        _Traced.__array_finalize__(self, obj)
        self._sources = getattr(obj, "_sources", frozenset())
        self._derived_log = getattr(obj, "_derived_log", None)

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        _record(inputs)
        outputs = kwargs.get("out", ())
        if outputs:
            kwargs["out"] = tuple(_plain(out) for out in outputs)
        result = getattr(ufunc, method)(*[_plain(value) for value in inputs], **kwargs)
        sources, log = _note_derived(list(inputs) + list(outputs), result)
        if outputs:
            for out in outputs:
                if isinstance(out, _Derived):
                    out._sources |= sources
                    out._derived_log = out._derived_log or log
            return outputs[0] if len(outputs) == 1 else outputs
        return _derive(result, sources, log)

    def __array_function__(self, func, types, args, kwargs):
        operands = list(args) + list(kwargs.values())
        _record(operands)
        result = func(*[_plain_deep(value) for value in args],
                      **{key: _plain_deep(value) for key, value in kwargs.items()})
        sources, log = _note_derived(operands, result)
        if func in _SHAPE_ONLY:
            return result  # zeros_like(W) and the like hold no value of W
        if func is np.copy and isinstance(args[0], _Derived) and isinstance(result, np.ndarray):
            copy = _derive(result, args[0]._sources, args[0]._derived_log)
            copy._trace_name, copy._trace_log = args[0]._trace_name, args[0]._trace_log
            return copy
        return _derive(result, sources, log)

    def dot(self, other, out=None):
        _record((self, other))
        result = np.dot(_plain(self), _plain(other), out=_plain(out))
        sources, log = _note_derived([self, other], result)
        return _derive(result, sources, log)


_SHAPE_ONLY = {np.zeros_like, np.ones_like, np.empty_like, np.full_like, np.shape, np.ndim, np.size}


def _is_complex(value):
    if not isinstance(value, (np.ndarray, np.generic, complex)):
        return False
    return np.asarray(_plain(value)).dtype.kind == "c"


def _note_derived(operands, result):
    """Log one operation on derived arrays; return the inputs behind it and the log (or None)."""
    flat = [item for value in operands for item in (value if isinstance(value, (list, tuple)) else (value,))]
    derived = [item for item in flat if isinstance(item, _Derived) and item._derived_log is not None]
    if not derived:
        return frozenset(), None
    log = derived[0]._derived_log
    results = result if isinstance(result, (list, tuple)) else (result,)
    with_complex = any(_is_complex(item) for item in (*flat, *results))
    log.operations.append((tuple(item._sources for item in derived), with_complex))
    return frozenset().union(*[item._sources for item in derived]), log


def _derive(result, sources, log):
    if isinstance(result, (list, tuple)):
        return type(result)(_derive(item, sources, log) for item in result)
    if not isinstance(result, np.ndarray) or log is None:
        return result
    view = result.view(_Derived)
    view._sources, view._derived_log = sources, log
    return view


def derived(**arrays):
    """Copies of ``arrays`` (by name) that record the operations they take part in, as ``traced``
    does, and pass on the names of the inputs to everything computed from them.

    Returns (log, derived_log, {name: copy}): ``log.meetings`` counts what ``traced`` counts;
    ``derived_log.evaluations("H_in", "W", gradients=("Delta",))`` also counts the evaluations of
    the layer on values computed from its inputs (finite differences that perturb W + E), and
    ``derived_log.complex_operations()`` the operations with complex numbers (the complex step).
    Only copies that numpy makes without calling back (np.array, np.asarray) escape it.
    """
    log, derived_log = TraceLog(), DerivedLog()
    copies = {}
    for name, array in arrays.items():
        copy = np.array(array, copy=True).view(_Derived)
        copy._trace_name, copy._trace_log = name, log
        copy._sources, copy._derived_log = frozenset([name]), derived_log
        copies[name] = copy
    return log, derived_log, copies


def plain_arrays(value):
    """``value`` with every derived or traced array in it (also in a list or tuple) as a plain ndarray."""
    if isinstance(value, (list, tuple)):
        return type(value)(plain_arrays(item) for item in value) if type(value) in (list, tuple) else value
    return value.view(np.ndarray) if isinstance(value, _Traced) else value


_ALWAYS_ALLOWED |= {function.__code__ for function in (
    _Derived.__array_finalize__, _Derived.__array_ufunc__, _Derived.__array_function__, _Derived.dot,
    _is_complex, _note_derived, _derive)}
