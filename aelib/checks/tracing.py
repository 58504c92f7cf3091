"""Traced arrays: what an answer does with the arrays a check hands it, not only what it returns.

A derivative computed some other way than by the chain rule can agree with it to 12-14 digits:
central differences of one step and a higher-order stencil to 12 or 13, Richardson's
extrapolation with a step of a tenth to 14, the complex step, Im f(x + ih) / h, to rounding. No
tolerance tells those from a backward pass; how they compute does. So a check hands the answer
traced copies of its inputs (``traced``), and each numpy operation they take part in is
recorded in one log (``Trace``):

- meetings: which inputs (or copies, views, slices, transposes of them) take part together. A
  forward evaluation of the layer X @ W is an operation in which X and W meet; a backward pass
  needs none beyond the forward pass it is given, finite differences make one or two per weight.
- shares: in each meeting, the share of each input's entries that took part (one row of an
  (n, d) input: 1/n), so that a loop over the rows of X counts as one evaluation, as the whole of
  X at once does (``evaluations``).
- shifts: a constant added to or subtracted from an input (a number, an array of one repeated
  value, or an array with a single non-zero entry, as finite differences add). A nudge is a shift
  by a number of size at most ``NUDGE_SIZE``: formulas add constants such as 1 (as in 1 - H), not
  steps of a hundredth or less. A larger shift is a stencil with a large step; a check says which
  inputs no formula of its exercise shifts by less than what.
- kinds: the complex and less-than-double dtypes among the operands and results. A backward pass
  of a real function has no use for complex numbers: computing with them is the complex step. A
  float32 answer keeps 7 digits, and is told to compute in float64.

``derived`` also traces every value computed from the inputs, remembering which inputs it came
from, so that an evaluation of a layer on W + E, W * 1 or W.astype(complex) counts too
(``derived_meetings``), and the complex step on such values shows in ``complex_operations``.

What escapes: copies that numpy makes without calling back (np.array, np.asarray) are plain
arrays. A check meets those with values instead (an overflowing layer, an outlier beside which
any difference of two losses loses ten digits), or, for the complex step, by ``watching`` the
answer's own frames as it runs (``complex_values_seen``), which sees complex numbers on plain
copies too. reading.py reads what the answer's code says (1e-20j, cmath), to name it.
"""
import contextlib
import sys

import numpy as np

from .guard import always_allow, in_aelib, in_library

NUDGE_SIZE = 1e-2
# Functions whose result holds no value of their argument (zeros_like(W) is not computed from W).
_SHAPE_ONLY = {np.zeros_like, np.ones_like, np.empty_like, np.full_like, np.shape, np.ndim, np.size}


class Operation:
    """One numpy operation on traced arrays. ``shares``: {input name: the largest share of its
    entries among the operands that are copies or views of it}; ``sources``: for each traced
    operand, the inputs it was computed from; ``kinds``: complex and low-precision dtype names."""
    __slots__ = ("shares", "sources", "kinds")

    def __init__(self, shares, kinds):
        self.shares, self.sources, self.kinds = shares, (), kinds


class Trace:
    """The log of the numpy operations made on the traced copies of a check's inputs."""

    def __init__(self, sizes, follow):
        self.sizes = dict(sizes)  # {input name: its number of entries}
        self.follow = follow      # whether values computed from the inputs are traced too
        self.operations = []
        self.shifts = []          # (input name, size of the constant), in order
        self.nudges = []          # input name, for each shift by a number of size <= NUDGE_SIZE
        self.complex_values_seen = False

    def meetings(self, *names):
        """How many operations took all of ``names`` (or copies, slices, views of them) as operands together."""
        wanted = set(names)
        return sum(wanted <= operation.shares.keys() for operation in self.operations if operation.shares)

    def evaluations(self, *names, by):
        """The operations in which all of ``names`` met, each counted as the share of ``by`` that
        took part: an operation on the whole of ``by`` counts 1, a loop over its rows 1 in all."""
        wanted = set(names)
        return sum(operation.shares[by] for operation in self.operations if wanted <= operation.shares.keys())

    def derived_meetings(self, data, weights, gradients=()):
        """How many operations combined a value computed from ``data`` (and from neither ``weights``
        nor any of ``gradients``) with a value computed from ``weights`` (and from neither ``data``
        nor any of ``gradients``): each is an evaluation of the layer data @ weights, on the inputs
        themselves or, with ``derived``, on anything computed from them (W + E, W * 1,
        W.astype(complex), ...). A backward pass combines the inputs with a gradient instead."""
        excluded = frozenset(gradients)

        def alone(sources, name, other):
            return name in sources and other not in sources and not sources & excluded

        return sum(any(alone(sources, data, weights) for sources in operation.sources)
                   and any(alone(sources, weights, data) for sources in operation.sources)
                   for operation in self.operations)

    def nudged(self, *names):
        """How many nudges were made to the inputs ``names`` (to any input if none given)."""
        return sum(not names or name in names for name in self.nudges)

    def shifted(self, *names, below=1.0):
        """How many shifts of the inputs ``names`` (of any input if none given) by a constant of
        size below ``below``."""
        return sum((not names or name in names) and size < below for name, size in self.shifts)

    @property
    def kinds(self):
        return set().union(*[operation.kinds for operation in self.operations])

    def complex_kinds(self):
        return sorted(kind for kind in self.kinds if kind.startswith("complex"))

    def low_precision_kinds(self):
        return sorted(kind for kind in self.kinds if kind.startswith("float"))

    def complex_operations(self):
        """How many operations on traced values involved complex numbers."""
        return sum(bool(operation.sources) and any(kind.startswith("complex") for kind in operation.kinds)
                   for operation in self.operations)

    @contextlib.contextmanager
    def watching(self):
        """Around ``call``: set ``complex_values_seen`` when a function of the student's returns a
        complex number or array, or holds one in a local variable (or in a list, tuple or dict
        there) as it returns, or passes one to, or gets one from, a function of numpy's or Python's
        written in Python (np.sum, np.argsort, np.imag, ...). This sees the complex step on plain
        copies (np.array(W, dtype=complex)), which the traced arrays cannot follow. Watched through
        ``sys.setprofile``, at the calls and returns of functions only (no line events); the previous
        profile function is restored afterwards."""
        previous = sys.getprofile()
        sys.setprofile(self._profile)
        try:
            yield self
        finally:
            sys.setprofile(previous)

    def _profile(self, frame, event, arg):
        if self.complex_values_seen or event not in ("call", "return"):
            return
        code = frame.f_code
        if in_aelib(code):
            return
        if in_library(code):
            caller = frame.f_back
            if caller is None or in_aelib(caller.f_code) or in_library(caller.f_code):
                return
            values = frame.f_locals.values() if event == "call" else (arg,)  # its arguments, its result
        elif event == "return":
            values = (arg, *frame.f_locals.values())
        else:
            return
        if any(_holds_complex(value) for value in values):
            self.complex_values_seen = True

    # Recording, from the hooks of Traced.

    def _begin(self, operands, outputs=()):
        """Log an operation on ``operands`` (and its ``out`` arrays) before it runs."""
        operands = _flat(operands)
        shares = {}
        for item in operands:
            if isinstance(item, Traced) and item._name is not None:
                share = item.size / max(self.sizes.get(item._name, 1), 1)
                shares[item._name] = max(shares.get(item._name, 0.0), share)
        operation = Operation(shares, _kinds(operands + list(outputs)))
        self.operations.append(operation)
        return operation

    def _end(self, operation, operands, result):
        """Complete ``operation`` once it has run: the inputs behind each traced operand and the
        kinds of its result. Returns the inputs behind the result."""
        operation.sources = tuple(item._sources for item in _flat(operands) if isinstance(item, Traced))
        operation.kinds |= _kinds(_flat(result if isinstance(result, (list, tuple)) else (result,)))
        return frozenset().union(*operation.sources)

    def _shift(self, inputs):
        """Log a constant added to or subtracted from an input (``inputs``: the two operands)."""
        named = [value for value in inputs if isinstance(value, Traced) and value._name is not None]
        others = [value for value in inputs if not isinstance(value, Traced)]
        if len(named) != 1 or len(others) != 1:
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
            self.shifts.append((named[0]._name, size))
            if np.ndim(other) == 0 and size <= NUDGE_SIZE:
                self.nudges.append(named[0]._name)


class Traced(np.ndarray):
    """An ndarray that reports the numpy operations it takes part in to its ``Trace``.

    ``_name``: the input it is a copy or view of (views, slices and copies keep it), or None for
    a value computed from the inputs; ``_sources``: the inputs it was computed from. The results
    of operations are plain arrays, or, when the trace follows derived values, traced again.
    """

    def __array_finalize__(self, obj):
        self._name = getattr(obj, "_name", None)
        self._sources = getattr(obj, "_sources", frozenset())
        self._trace = getattr(obj, "_trace", None)

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        trace = self._trace
        outputs = kwargs.get("out", ())
        if outputs:
            kwargs["out"] = tuple(_plain(out) for out in outputs)
        if trace is None:
            return getattr(ufunc, method)(*[_plain(value) for value in inputs], **kwargs)
        operation = trace._begin(inputs, outputs)
        if ufunc in (np.add, np.subtract) and method == "__call__" and len(inputs) == 2:
            trace._shift(inputs)
        result = getattr(ufunc, method)(*[_plain(value) for value in inputs], **kwargs)
        sources = trace._end(operation, list(inputs) + list(outputs), result)
        if not trace.follow:
            return result
        if outputs:  # an update in place keeps what its target was computed from, and adds to it
            for out in outputs:
                if isinstance(out, Traced):
                    out._sources |= sources
                    out._trace = out._trace or trace
            return outputs[0] if len(outputs) == 1 else outputs
        return _derive(result, sources, trace)

    def __array_function__(self, func, types, args, kwargs):
        trace = self._trace
        operands = list(args) + list(kwargs.values())
        operation = trace._begin(operands) if trace is not None else None
        result = func(*[_plain_deep(value) for value in args],
                      **{key: _plain_deep(value) for key, value in kwargs.items()})
        if trace is None:
            return result
        sources = trace._end(operation, operands, result)
        if func in _SHAPE_ONLY:
            return result
        if func is np.copy and isinstance(args[0], Traced) and isinstance(result, np.ndarray):
            return _traced_view(result, args[0]._name, args[0]._sources, args[0]._trace)
        return _derive(result, sources, trace) if trace.follow else result

    def dot(self, other, out=None):
        # The method, unlike np.dot and @, reaches no numpy hook: it records itself.
        trace = self._trace
        operation = trace._begin((self, other)) if trace is not None else None
        result = np.dot(_plain(self), _plain(other), out=_plain(out))
        if trace is None:
            return result
        sources = trace._end(operation, (self, other), result)
        return _derive(result, sources, trace) if trace.follow else result

    def __reduce__(self):
        return self.view(np.ndarray).__reduce__()  # a pickled or deep-copied answer is a plain array


always_allow(Traced.__array_finalize__, Traced.__array_ufunc__, Traced.__array_function__, Traced.dot,
             Traced.__reduce__)


def _traced_view(array, name, sources, trace):
    view = np.asarray(array).view(Traced)
    view._name, view._sources, view._trace = name, sources, trace
    return view


def _derive(result, sources, trace):
    if isinstance(result, (list, tuple)):
        return type(result)(_derive(item, sources, trace) for item in result)
    if not isinstance(result, np.ndarray):
        return result
    return _traced_view(result, None, sources, trace)


def _plain(value):
    return value.view(np.ndarray) if isinstance(value, Traced) else value


def _plain_deep(value):
    if isinstance(value, (list, tuple)):
        return type(value)(_plain_deep(item) for item in value)
    return _plain(value)


def _flat(values):
    """``values`` with the items of any list or tuple among them in its place (one level)."""
    return [item for value in values for item in (value if isinstance(value, (list, tuple)) else (value,))]


def _kind(item):
    """The dtype name of ``item`` if it is complex or of less than double precision, else None."""
    dtype = getattr(item, "dtype", None)
    if isinstance(dtype, np.dtype):
        return dtype.name if dtype.kind == "c" or (dtype.kind == "f" and dtype.itemsize < 8) else None
    return "complex128" if isinstance(item, complex) else None


def _kinds(items):
    return {kind for kind in map(_kind, items) if kind}


def _holds_complex(value, depth=1):
    if isinstance(value, (list, tuple, dict)):
        items = list(value.values()) if isinstance(value, dict) else value
        return bool(depth) and any(_holds_complex(item, depth - 1) for item in items[:100])
    return isinstance(value, (complex, np.ndarray, np.generic)) and (_kind(value) or "").startswith("complex")


def traced(**arrays):
    """Copies of ``arrays`` (by name) that record the operations they take part in.

    Returns (log, {name: traced copy}). Pass the copies to the student's function; then
    ``log.meetings("X", "W1")`` counts the operations in which X and W1 (or copies, slices or
    transposes of them) met: each such meeting is an evaluation of the layer X @ W1. The log
    records shares, shifts and kinds too (see ``Trace``). The results of operations are plain
    arrays.
    """
    return _new_trace(arrays, follow=False)


def derived(**arrays):
    """Like ``traced``, and everything computed from the copies is traced too, remembering the
    inputs it came from: ``log.derived_meetings("H_in", "W", gradients=("Delta",))`` counts the
    evaluations of the layer on values computed from its inputs (finite differences that perturb
    W + E), ``log.complex_operations()`` the operations with complex numbers (the complex step).
    Returns (log, {name: traced copy}); hand the answer's result to ``plain_arrays`` before
    computing with it."""
    return _new_trace(arrays, follow=True)


def _new_trace(arrays, follow):
    trace = Trace({name: np.size(array) for name, array in arrays.items()}, follow)
    return trace, {name: _traced_view(np.array(array, copy=True), name, frozenset([name]), trace)
                   for name, array in arrays.items()}


def plain_arrays(value):
    """``value`` with every traced array in it (also in a list or tuple) as a plain ndarray."""
    if isinstance(value, (list, tuple)):
        return type(value)(plain_arrays(item) for item in value) if type(value) in (list, tuple) else value
    return _plain(value)
