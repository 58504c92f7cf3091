"""Reading an answer's code: complex numbers (the complex step) and float32, in the answer and
in the reader's functions it reaches, not in aelib's or numpy's."""
import functools

import numpy as np

import aelib
from aelib.checks.reading import number_signs


complex_step = 1e-20j


def helper_with_the_complex_step(f, x):
    return f(x + complex_step).imag / 1e-20


class Derivative:
    def __call__(self, x):
        return np.exp(x + np.zeros_like(x, dtype="complex128")).real


helpers = {"derivative": lambda x: x}
HELPER = Derivative()


def test_number_signs_read_the_answers_code_and_the_students_functions_it_reaches():
    assert number_signs(lambda x: np.exp(0.5 * x) / 2) == {"complex": None, "float32": None}
    assert number_signs(lambda x: np.exp(x + 1e-20j).imag)["complex"] == "the complex number 1e-20j"
    assert number_signs(lambda x: x.astype(complex))["complex"] == "`complex`"
    assert number_signs(lambda x: np.float32(x))["float32"] == "`float32`"
    assert number_signs(lambda x: x.astype("float32"))["float32"] == "the dtype 'float32'"

    def nested(x):
        def inner(y):
            import cmath
            return cmath.exp(y)
        return inner(x)

    def through_a_global_helper(x):
        return helper_with_the_complex_step(np.exp, x)

    assert number_signs(nested)["complex"] == "`cmath`"
    assert number_signs(through_a_global_helper)["complex"] is not None
    assert number_signs(functools.partial(helper_with_the_complex_step, np.exp))["complex"] is not None
    assert number_signs(Derivative())["complex"] == "the dtype 'complex128'"

    def through_an_object(x):
        return HELPER(x)

    def through_a_dict(x):
        return helpers["derivative"](x)

    assert number_signs(through_an_object)["complex"] == "the dtype 'complex128'"
    assert number_signs(through_a_dict)["complex"] is None
    helpers["derivative"] = helper_with_the_complex_step
    try:
        assert number_signs(through_a_dict)["complex"] == "`imag`"
    finally:
        helpers["derivative"] = lambda x: x
    # A class defined in a notebook belongs to a module without a file.
    cell = {"__name__": "__main__"}
    exec("class Step:\n    def __call__(self, x):\n        return (x + 1e-20j).imag\n", cell)
    assert number_signs(cell["Step"]())["complex"] == "the complex number 1e-20j"
    # aelib's and numpy's own code are not the answer's.
    assert number_signs(aelib.vae.kl_divergence) == {"complex": None, "float32": None}
    assert number_signs(np.gradient) == {"complex": None, "float32": None}
