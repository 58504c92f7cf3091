"""Shared test helpers: an independent finite-difference gradient and the error measure.

They are written here again, not imported from ``aelib.gradcheck``, so that the library's
gradients are checked against code that does not come from the library itself.
"""
import numpy as np
import pytest

# Central differences with h ~ 1e-5 have a truncation error of order h^2 and a rounding error
# of order 1e-16 / h; for the well-scaled problems of these tests both stay far below this.
GRADIENT_TOLERANCE = 1e-7


def central_differences(loss, array, h=1e-5):
    """dL/d(array) by central differences; ``loss()`` reads ``array``, which is restored after each entry."""
    grad = np.zeros(array.shape)
    for index in np.ndindex(array.shape):
        original = array[index]
        array[index] = original + h
        loss_plus = loss()
        array[index] = original - h
        loss_minus = loss()
        array[index] = original
        grad[index] = (loss_plus - loss_minus) / (2 * h)
    return grad


def norm_relative_error(numerical, analytic):
    """||num - ana|| / (||num|| + ||ana||), and 0 when both are exactly zero."""
    scale = np.linalg.norm(numerical) + np.linalg.norm(analytic)
    return 0.0 if scale == 0 else float(np.linalg.norm(numerical - analytic) / scale)


class GradientTools:
    tolerance = GRADIENT_TOLERANCE
    central_differences = staticmethod(central_differences)
    relative_error = staticmethod(norm_relative_error)

    def assert_close(self, loss, array, analytic, what):
        numerical = central_differences(loss, array)
        error = norm_relative_error(numerical, analytic)
        assert error < GRADIENT_TOLERANCE, (
            f"{what}: relative error {error:.2e} between finite differences and the analytic "
            f"gradient (tolerance {GRADIENT_TOLERANCE:.0e})\nnumerical:\n{numerical}\nanalytic:\n{analytic}")
        return error


@pytest.fixture(scope="session")
def gradients():
    """Finite-difference gradient checks: ``gradients.assert_close(loss, array, analytic, what)``."""
    return GradientTools()



# The modules that take minutes, longest first, then the chapters under nbval (up to a minute
# each). `make test` runs two workers that take one module at a time (`--dist loadfile
# --no-loadscope-reorder`), in collection order: started first, the long ones run beside many
# short ones, and both workers finish at about the same time.
SLOWEST_FIRST = ["test_nbgrader_course.py", "test_packaging.py", "test_book_browser.py"]


def pytest_collection_modifyitems(session, config, items):
    def rank(item):
        name = item.path.name
        if name in SLOWEST_FIRST:
            return SLOWEST_FIRST.index(name)
        return len(SLOWEST_FIRST) + (0 if item.path.suffix == ".ipynb" else 1)

    items.sort(key=rank)  # stable: every other test keeps its order
