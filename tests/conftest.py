"""Shared test helpers: an independent finite-difference gradient, the bound on its own error,
and the settings of the property-based tests.

They are written here again, not imported from ``aelib.gradcheck``, so that the library's
gradients are checked against code that does not come from the library itself.
"""
import os

import numpy as np
import pytest
from hypothesis import settings

# Property-based tests draw the same examples on every run (a seed derived from each test, no
# example database), so that a submission never fails, or passes, by the luck of its draw: CI
# draws exactly what a developer's run drew. `make test-explore` searches wider and at random
# (HYPOTHESIS_PROFILE=explore): twenty times the examples, drawn afresh on each run.
settings.register_profile("reproducible", derandomize=True, database=None, deadline=None)
settings.register_profile("explore", derandomize=False, database=None, deadline=None)
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "reproducible")
settings.load_profile(PROFILE)
EXPLORE_FACTOR = 20 if PROFILE == "explore" else 1


def examples(n):
    """The number of examples a property-based test draws: ``n``, or 20 n under the explore profile."""
    return n * EXPLORE_FACTOR


# The error of central differences D_h = (L(x + h) - L(x - h)) / 2h has two parts, entry by entry:
# - truncation, h^2 L'''(x) / 6: measured rather than guessed, from the same differences with step
#   2h, whose truncation is four times larger: D_h - D_2h = -3 (truncation of D_h) + rounding;
# - rounding, of order eps S / h: each evaluation of L rounds at a few eps times S, the scale of
#   the loss (the size of the terms it adds up), and the difference divides that by 2h.
# Both are set by the loss, not by the gradient: a gradient far smaller than the loss's scale is
# held to the same absolute bound as a large one, where a relative bound would demand more digits
# than the differences have. The check is
#     ||D_h - analytic|| <= FD_SAFETY (||D_h - D_2h|| / 3 + sqrt(n) eps S / h).
# Over 36,000 arrays of random networks (the strategy of test_properties.py) the error reached at
# most 0.77 of the bracket, so FD_SAFETY = 4 leaves a margin of 5. A gradient off by 1e-5 of its
# size exceeds the bound unless its norm is below about 1e-5 sqrt(n) times the loss's scale
# (n entries), where central differences cannot resolve an error that small.
FD_STEP = 1e-5
FD_SAFETY = 4.0
EPSILON = float(np.finfo(np.float64).eps)


def central_differences(loss, array, h=FD_STEP):
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


def finite_difference_error_bound(loss, array, loss_scale, h=FD_STEP):
    """Central differences of ``loss`` with respect to ``array``, and the bound on their own error.

    loss_scale: the size of the terms the loss adds up (e.g. sum |G| max(|Y|, 1) for sum(Y G)).
    Returns (numerical, bound): numerical of array's shape; bound, a float, for the norm of its error.
    """
    numerical = central_differences(loss, array, h)
    truncation = np.linalg.norm(numerical - central_differences(loss, array, 2 * h)) / 3
    rounding = np.sqrt(array.size) * EPSILON * loss_scale / h
    return numerical, FD_SAFETY * float(truncation + rounding)


def assert_matches_finite_differences(loss, array, analytic, what, loss_scale=None):
    """Assert that ``analytic`` equals the central differences of ``loss`` within their own error.

    loss_scale defaults to max(|L|, 1): a loss near zero still rounds at the scale of unit-sized
    terms. Returns the norm of the difference.
    """
    if loss_scale is None:
        loss_scale = max(abs(float(loss())), 1.0)
    numerical, bound = finite_difference_error_bound(loss, array, loss_scale)
    difference = float(np.linalg.norm(numerical - analytic))
    assert difference <= bound, (
        f"{what}: |numerical - analytic| = {difference:.2e} exceeds the finite differences' own error "
        f"bound {bound:.2e} (loss scale {loss_scale:.3g}, gradient norm {np.linalg.norm(analytic):.2e})"
        f"\nnumerical:\n{numerical}\nanalytic:\n{analytic}")
    return difference


def norm_relative_error(numerical, analytic):
    """||num - ana|| / (||num|| + ||ana||), and 0 when both are exactly zero."""
    scale = np.linalg.norm(numerical) + np.linalg.norm(analytic)
    return 0.0 if scale == 0 else float(np.linalg.norm(numerical - analytic) / scale)


class GradientTools:
    central_differences = staticmethod(central_differences)
    relative_error = staticmethod(norm_relative_error)
    assert_close = staticmethod(assert_matches_finite_differences)


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
