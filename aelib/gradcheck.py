r"""Numerical gradient checks: central finite differences against a hand-derived gradient.

For a parameter entry :math:`\theta_i`,
:math:`\partial L / \partial \theta_i \approx (L(\theta_i + h) - L(\theta_i - h)) / 2h`, with error
:math:`O(h^2)`. Arrays are compared norm-wise,
:math:`\lVert g_\text{num} - g_\text{ana}\rVert / (\lVert g_\text{num}\rVert + \lVert g_\text{ana}\rVert)`,
because entry-by-entry relative errors are dominated by rounding where a gradient is tiny.
"""
import numpy as np


def numerical_gradient(loss, param, h=1e-5):
    """Central differences of ``loss()`` (a float) with respect to ``param``, an array the loss reads.

    ``param`` is perturbed in place, one entry at a time, and restored exactly.
    Returns an array of param's shape.
    """
    grad = np.zeros_like(param, dtype=np.float64)
    flat_param, flat_grad = param.reshape(-1), grad.reshape(-1)
    for i in range(flat_param.size):
        original = flat_param[i]
        flat_param[i] = original + h
        loss_plus = loss()
        flat_param[i] = original - h
        loss_minus = loss()
        flat_param[i] = original
        flat_grad[i] = (loss_plus - loss_minus) / (2.0 * h)
    return grad


def relative_error(numerical, analytic):
    """Norm-wise relative error between two arrays (0.0 when both are zero)."""
    scale = np.linalg.norm(numerical) + np.linalg.norm(analytic)
    return 0.0 if scale == 0.0 else float(np.linalg.norm(numerical - analytic) / scale)


class GradientCheck:
    """Per-array comparison of numerical and analytic gradients; prints as a table."""

    def __init__(self, names, numerical, analytic):
        self.names = list(names)
        self.numerical = numerical
        self.analytic = analytic
        self.errors = [relative_error(num, ana) for num, ana in zip(numerical, analytic)]

    @property
    def max_error(self):
        return max(self.errors)

    def passed(self, tolerance=1e-6):
        return self.max_error < tolerance

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
    if error == 0.0:
        return "0"
    return f"< 1e{int(np.ceil(np.log10(error))):+03d}"


def gradient_check(loss, params, grads, names=None, h=1e-5):
    """Compare analytic ``grads`` with central differences of ``loss()`` for each array in ``params``.

    loss: a function of no arguments returning the loss at the current values of ``params``
    (live arrays). grads: the analytic gradients, one per param. Returns a ``GradientCheck``.
    """
    if len(params) != len(grads):
        raise ValueError(f"params and grads must match one to one, got {len(params)} and {len(grads)}")
    if names is None:
        names = [f"{'W' if i % 2 == 0 else 'b'}{i // 2 + 1}" for i in range(len(params))]
    analytic = [np.array(grad, dtype=np.float64) for grad in grads]
    numerical = [numerical_gradient(loss, param, h) for param in params]
    return GradientCheck(names, numerical, analytic)
