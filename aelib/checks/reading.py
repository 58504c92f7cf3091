"""What an answer's code says about the numbers it computes with: complex numbers, float32.

The complex step, Im f(x + ih) / h, gives a derivative exact to rounding, and it can run on
plain copies of the inputs (np.asarray(W) + 1j * h), which the traced arrays cannot follow. Its
code, though, says what it does: a complex constant (1e-20j), a dtype ('complex128'), a name
(complex, .imag, cmath). A float32 answer says np.float32 or 'float32'. ``number_signs`` reads
the code of the answer and of the student's functions it reaches, so that a check can name what
it found ("your code computes with complex numbers (the complex number 1e-20j)").
"""
import functools
import inspect
import os
import types

from .guard import AELIB_DIRS, in_aelib, in_library, library_file

# Names and strings in code that mean complex numbers (the complex step) or single precision.
_COMPLEX_NAMES = frozenset({"complex", "complex64", "complex128", "complex256", "complexfloating", "cdouble",
                            "csingle", "clongdouble", "cfloat", "imag", "cmath", "emath", "scimath"})
_COMPLEX_STRINGS = frozenset({"complex", "complex64", "complex128", "complex256", "c8", "c16", "c32"})
_LOW_PRECISION_NAMES = frozenset({"float32", "float16"})
_LOW_PRECISION_STRINGS = frozenset({"float32", "float16", "f4", "f2"})


def number_signs(function):
    """What the code of the answer ``function`` (and of the student's functions it reaches)
    says about the numbers it computes with: {"complex": the first sign of complex numbers
    (a constant such as 1e-20j, or a name such as complex, .imag, cmath), "float32": the first
    sign of single precision (np.float32, "float32")}, each None if there is none."""
    signs = {"complex": None, "float32": None}
    for code in _student_codes(function):
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


def _student_codes(item):
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
            if in_aelib(item.__code__) or in_library(item.__code__):
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
    return file.startswith(AELIB_DIRS) or library_file(file)


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
