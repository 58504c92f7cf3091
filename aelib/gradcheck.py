r"""Numerical gradient checks: central finite differences against a hand-derived gradient.

For a parameter entry :math:`\theta`,
:math:`\partial L / \partial \theta \approx (L(\theta + h) - L(\theta - h)) / 2h`, with error
:math:`O(h^2)`. Arrays are compared norm-wise,
:math:`\lVert \nabla_\text{num} - \nabla_\text{ana}\rVert / (\lVert \nabla_\text{num}\rVert + \lVert \nabla_\text{ana}\rVert)`
(one array's gradient from central differences and from backpropagation),
because entry-by-entry relative errors are dominated by rounding where a gradient is tiny.

The checker is strict where a loose one would pass a wrong gradient: a NaN or infinity anywhere
(in an analytic gradient or in the loss) fails the check, shapes are compared before anything is
computed, and each parameter is perturbed in its own memory, whatever its layout (a transposed
view, a Fortran-ordered array), so the loss always sees the nudge. Arrays that cannot be nudged
(integers, read-only arrays, lists) are refused with a message instead of giving a false result.

Gradient checks need float64, and float32 parameters are refused: a difference
:math:`L(\theta + h) - L(\theta - h)` with :math:`h = 10^{-5}` keeps about 16 - 5 = 11 significant
digits in float64, but only 7 - 5 = 2 in float32, so a correct float32 gradient would look wrong.
Check a model's gradients with ``dtype="float64"`` (the default); the float32 model computes
the very same formulas.
"""
import numpy as np

from .validation import positive_number


def _check_perturbable(param, name="param"):
    # The finite differences write param + h into the array the loss reads; say so when they cannot.
    if not isinstance(param, np.ndarray):
        raise TypeError(f"{name} must be a numpy array that loss() reads (a live parameter), "
                        f"got {type(param).__name__}; a copy would never reach the loss")
    if param.dtype.kind != "f":
        raise TypeError(f"{name} must hold floating-point numbers to be nudged by h, got dtype {param.dtype}")
    if param.dtype.itemsize < 8:
        raise TypeError(f"{name} is {param.dtype}: finite differences need float64 (in {param.dtype} a "
                        "difference of two nearby losses keeps too few digits to judge a gradient); "
                        "build the model with dtype='float64' to check its gradients")
    if not param.flags.writeable:
        raise ValueError(f"{name} is read-only, so it cannot be perturbed in place; pass the live, "
                         f"writeable array that loss() reads")


def _loss_value(loss):
    value = loss()
    try:
        return float(value)
    except (TypeError, ValueError):
        raise TypeError(f"loss() must return a single number, got {type(value).__name__} "
                        f"of shape {np.shape(value)}") from None


def numerical_gradient(loss, param, h=1e-5):
    """Central differences of ``loss()`` (a float) with respect to ``param``, an array the loss reads.

    ``param`` (a writeable float array of any shape and memory layout) is perturbed in place,
    one entry at a time, and restored exactly. Returns an array of param's shape.
    """
    if not callable(loss):
        raise TypeError(f"loss must be a function of no arguments returning a float, got {loss!r}")
    _check_perturbable(param)
    h = positive_number(h, "h")
    grad = np.zeros(param.shape, dtype=np.float64)
    # Indexing the array itself (not a reshaped copy) writes into the memory the loss reads.
    for index in np.ndindex(param.shape):
        original = param[index]
        param[index] = original + h
        loss_plus = _loss_value(loss)
        param[index] = original - h
        loss_minus = _loss_value(loss)
        param[index] = original
        grad[index] = (loss_plus - loss_minus) / (2.0 * h)
    return grad


def relative_error(numerical, analytic):
    """Norm-wise relative error between two arrays (0.0 when both are zero, NaN if either is not finite)."""
    numerical, analytic = np.asarray(numerical, dtype=np.float64), np.asarray(analytic, dtype=np.float64)
    if numerical.shape != analytic.shape:
        raise ValueError(f"numerical and analytic must have the same shape, got {numerical.shape} "
                         f"and {analytic.shape}")
    if not (np.isfinite(numerical).all() and np.isfinite(analytic).all()):
        return float("nan")
    scale = np.linalg.norm(numerical) + np.linalg.norm(analytic)
    return 0.0 if scale == 0.0 else float(np.linalg.norm(numerical - analytic) / scale)


class GradientCheck:
    """Per-array comparison of numerical and analytic gradients; prints as a table.

    An error is NaN when either gradient holds a NaN or an infinity; the check then fails.
    """

    def __init__(self, names, numerical, analytic):
        if not len(names) == len(numerical) == len(analytic) or not names:
            raise ValueError(f"a GradientCheck needs one name, one numerical and one analytic gradient per "
                             f"array, at least one of each; got {len(names)}, {len(numerical)} and {len(analytic)}")
        self.names = list(names)
        self.numerical = numerical
        self.analytic = analytic
        self.errors = [relative_error(num, ana) for num, ana in zip(numerical, analytic)]

    @property
    def max_error(self):
        # np.max, unlike Python's max, returns NaN if any error is NaN.
        return float(np.max(self.errors))

    def passed(self, tolerance=1e-6):
        return bool(self.max_error < tolerance)

    def __str__(self):
        width = max(len(name) for name in self.names)
        lines = [f"{'array':<{width}}  {'shape':>10}  {'relative error':>14}"]
        for name, array, error in zip(self.names, self.analytic, self.errors):
            lines.append(f"{name:<{width}}  {str(array.shape):>10}  {_order_of_magnitude(error):>14}")
        return "\n".join(lines)

    __repr__ = __str__


def _order_of_magnitude(error):
    # The digits of an error near 1e-10 are rounding noise that changes with the BLAS build;
    # the power of ten above it is what matters, and it stays put.
    if np.isnan(error):
        return "NaN (fails)"
    if error == 0.0:
        return "0"
    return f"< 1e{int(np.ceil(np.log10(error))):+03d}"


def gradient_check(loss, params, grads, names=None, h=1e-5):
    """Compare analytic ``grads`` with central differences of ``loss()`` for each array in ``params``.

    loss: a function of no arguments returning the loss at the current values of ``params``
    (live, writeable float arrays of any layout). grads: the analytic gradients, one per param,
    each of its param's shape. Returns a ``GradientCheck``; it fails if any value is NaN.
    """
    params, grads = list(params), list(grads)
    if len(params) != len(grads):
        raise ValueError(f"params and grads must match one to one, got {len(params)} and {len(grads)}")
    if not params:
        raise ValueError("params must hold at least one array to check (and grads its gradient), got none")
    if names is None:
        names = [f"{'W' if i % 2 == 0 else 'b'}{i // 2 + 1}" for i in range(len(params))]
    names = [str(name) for name in names]
    if len(names) != len(params):
        raise ValueError(f"names must give one name per array, got {len(names)} for {len(params)} arrays")
    analytic = []
    for name, param, grad in zip(names, params, grads):
        _check_perturbable(param, f"params[{name}]")
        grad = np.array(grad, dtype=np.float64)
        # Checked before any loss is evaluated: a broadcastable wrong shape would otherwise
        # produce an error number instead of a message.
        if grad.shape != param.shape:
            raise ValueError(f"grads[{name}] must have the shape of its parameter {param.shape}, got {grad.shape}")
        analytic.append(grad)
    numerical = [numerical_gradient(loss, param, h) for param in params]
    return GradientCheck(names, numerical, analytic)
