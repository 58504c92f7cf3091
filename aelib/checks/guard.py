"""Running the student's function: ``call``, and the guard that keeps aelib out of its reach.

A check calls the student's function through ``call``, which guarantees:
- No route to aelib's own solution. While the function runs, every call from the student's code
  into aelib -- any module, public or private, however it was imported or renamed, from a thread
  the answer starts or through a numpy callback -- is refused unless the check allows it (the
  helpers the exercise's statement names), and the check fails naming the function called. The
  call is recorded, not stopped, so that a ``try``/``except`` cannot hide it.
- Arguments stay as they were: an answer that changes one in place fails, naming it (except
  where the exercise lets an update happen in place).
- Numpy's global random state is untouched: an answer that draws from it or reseeds it fails, and
  the state is put back. (The guard reads and restores it here, the one place aelib may.)
- No raw numpy traceback: ``NotImplementedError`` (the untouched stub) is "not implemented yet",
  a shape error is explained with the shapes the exercise expects, any other error is reported
  with the input that caused it. A lazy answer (a generator) runs here, under the guard.

Whose code a frame runs is told by its file: aelib's own; Python's library and the installed
packages (numpy), transparent -- a call through them belongs to whoever called them; anything
else is the student's. ``in_aelib`` and ``in_library`` serve the other helpers too.
"""
import functools
import inspect
import os
import sys
import sysconfig
import threading
import types

import numpy as np

from .feedback import CheckFailed, brief

AELIB_DIRS = tuple({os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep,
                    os.path.dirname(os.path.dirname(os.path.realpath(__file__))) + os.sep})
LIBRARY_DIRS = tuple({os.path.join(resolve(path), "")
                      for name in ("stdlib", "platstdlib", "purelib", "platlib")
                      for path in (sysconfig.get_paths()[name],) if path
                      for resolve in (os.path.abspath, os.path.realpath)})


def in_aelib(code):
    return code.co_filename.startswith(AELIB_DIRS)


def in_library(code):
    """Whether ``code`` is Python's or an installed package's (numpy, contextlib's decorators, ...)."""
    return library_file(code.co_filename)


@functools.lru_cache(maxsize=None)
def library_file(path):
    """Whether the file ``path`` is Python's or an installed package's: also a package reached
    through a .pth file from another environment's site-packages, or through a symbolic link to
    one (as where aelib is installed beside a shared set of packages): no student writes code there."""
    if path.startswith("<frozen "):
        return True
    for candidate in (path, os.path.realpath(path)):
        parts = candidate.replace("\\", "/").split("/")
        if candidate.startswith(LIBRARY_DIRS) or "site-packages" in parts or "dist-packages" in parts:
            return True
    return False


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


def allowed_names(allowed):
    """'aelib.f, aelib.g' for the message that lists what a check allows."""
    names = []
    for item in allowed:
        module = getattr(item, "__module__", None) or getattr(item, "__name__", "")
        qualname = getattr(item, "__qualname__", None)
        names.append(f"{module}.{qualname}" if qualname and not isinstance(item, types.ModuleType) else module)
    return ", ".join(names)


class AelibGuard:
    """Record every call made from outside aelib into an aelib function not in ``allowed``.

    Used as a context manager around the student's code. Calls that aelib makes into itself (the
    inner workings of an allowed function) are not calls of the student's; calls made through a
    callback the student wrote, or through numpy, are. ``refused`` lists 'aelib.module.function'
    of each refused call, in order.
    """

    def __init__(self, allowed=()):
        self.allowed = set().union(_ALWAYS_ALLOWED, *[_codes_of(item) for item in allowed])
        self.refused = []
        self._active = False

    def _trace(self, frame, event, arg):
        if event == "call" and self._active:
            code = frame.f_code
            if code not in self.allowed and in_aelib(code) and _called_by_student(frame):
                # A class is named by itself, not by its __init__.
                qualname = code.co_qualname.removesuffix(".__init__")
                self.refused.append(f"{frame.f_globals.get('__name__', 'aelib')}.{qualname}")
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


def _called_by_student(frame):
    """Whether the call that started ``frame`` (aelib code) came from the student's code: the
    nearest caller that is not Python's or an installed package's is not aelib (or is the frame
    that started the student's function)."""
    caller = frame.f_back
    while caller is not None and not in_aelib(caller.f_code) and in_library(caller.f_code):
        caller = caller.f_back
    return caller is None or caller.f_code is _INVOKE_CODE or not in_aelib(caller.f_code)


def _invoke(function, args, kwargs):
    # The student's function starts here: a call of aelib's made from this frame is the student's
    # own (say, ``fn = aelib.f`` handed to the check as the answer).
    result = function(*args, **kwargs)
    if isinstance(result, types.GeneratorType) or (hasattr(result, "__next__") and not isinstance(result, np.ndarray)):
        result = list(result)  # a lazy answer runs its code here, under the guard
    return result


_INVOKE_CODE = _invoke.__code__


def call(function, *args, name=None, allowed=(), on_error="", may_change=(), on_refused=None, **kwargs):
    """Call the student's ``function`` under the guard and translate its failures into ``CheckFailed``.

    allowed: the aelib functions, methods, classes or modules the exercise lets the student use;
    every other call from the student's code into aelib fails the check, with its name.
    on_error: a hint added when the function raises (e.g. the shapes the exercise expects), so
    that a numpy error is explained instead of shown raw; or a function of the exception that
    returns the hint (to name a mistake that this error betrays).
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
        _explain(error, name, names, values, on_error)
    return result


def _explain(error, name, names, values, on_error):
    """Raise the ``CheckFailed`` that reports ``error``, with the arguments that caused it."""
    shown = ", ".join(f"{argument}={brief(value)}" for argument, value in zip(names, values))
    message = str(error)
    if callable(on_error):
        on_error = on_error(error)
    if isinstance(error, ValueError) and ("mismatch in its core dimension" in message
                                          or "could not be broadcast" in message
                                          or "not aligned" in message):
        raise CheckFailed(
            f"{name}({shown}) combined arrays whose shapes do not fit (numpy said: "
            f"{_first_line(message)}).", hint=on_error or "Write down the shape of every array "
            "you multiply or add; the exercise states the shapes of the inputs and the result.") from None
    raise CheckFailed(f"{name}({shown}) raised {type(error).__name__}: {_first_line(message)}",
                      hint=on_error) from None


def _first_line(text):
    line = str(text).strip().split("\n")[0]
    return line if len(line) <= 200 else line[:197] + "..."


def _parameter_names(function, n_args):
    try:
        parameters = [p.name for p in inspect.signature(function).parameters.values()
                      if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        parameters = []
    return [parameters[i] if i < len(parameters) else f"argument {i + 1}" for i in range(n_args)]


# Arguments changed in place: copies taken before, compared after.

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


# Numpy's global random state, read before and compared after.

def _global_random_state():
    state = np.random.get_state()
    return state[0], state[1].copy(), state[2], state[3], state[4]


def _same_random_state(a, b):
    return a[0] == b[0] and np.array_equal(a[1], b[1]) and a[2:] == b[2:]
