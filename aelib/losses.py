r"""Losses and their gradients, side by side. All are means over every entry of the batch.

For targets :math:`Y` and predictions :math:`\hat Y` of shape (n_samples, n_features),
with :math:`N = n_\text{samples} \cdot n_\text{features}`:

* mean squared error :math:`L = \frac{1}{N}\sum (\hat y - y)^2`, gradient :math:`\frac{2}{N}(\hat Y - Y)`;
* binary cross-entropy :math:`L = -\frac{1}{N}\sum y\log\hat y + (1-y)\log(1-\hat y)`.

A sigmoid output followed by binary cross-entropy is best computed from the *logits*
:math:`A` (the pre-activations, :math:`\hat Y = \mathrm{sigmoid}(A)`): the loss stays finite for
any logit, and its gradient collapses to :math:`\frac{1}{N}(\hat Y - Y)`.

Each function checks its arguments: both of one shape (never broadcast), finite, and in [0, 1]
where the formula needs it. The training loops, which check their data once per ``fit``, pass
``check=False`` to skip this on every batch.
"""
import numpy as np

from .activations import sigmoid
from .validation import loss_arguments

# Probabilities are kept this far from 0 and 1 so that log never sees 0.
PROBABILITY_FLOOR = 1e-12


def mse(Y_hat, Y, check=True):
    """Mean squared error. Y_hat, Y: (n_samples, n_features). Returns a float."""
    if check:
        Y_hat, Y = loss_arguments(Y_hat, Y, ("Y_hat", "Y"))
    # A diverging model's loss overflows to inf without a warning: the training loop
    # checks the loss and reports the divergence itself.
    with np.errstate(over="ignore"):
        diff = Y_hat - Y
        return float(np.mean(diff * diff))


def mse_grad(Y_hat, Y, check=True):
    """Gradient of ``mse`` with respect to Y_hat: (n_samples, n_features)."""
    if check:
        Y_hat, Y = loss_arguments(Y_hat, Y, ("Y_hat", "Y"))
    return (2.0 / Y.size) * (Y_hat - Y)


def binary_cross_entropy(Y_hat, Y, check=True):
    """Binary cross-entropy of probabilities Y_hat in (0, 1) against targets Y in [0, 1]."""
    if check:
        Y_hat, Y = loss_arguments(Y_hat, Y, ("Y_hat", "Y"), prediction_in_unit_interval=True,
                                  target_in_unit_interval=True)
    P = np.clip(Y_hat, PROBABILITY_FLOOR, 1.0 - PROBABILITY_FLOOR)
    return float(-np.mean(Y * np.log(P) + (1.0 - Y) * np.log1p(-P)))


def binary_cross_entropy_grad(Y_hat, Y, check=True):
    """Gradient of ``binary_cross_entropy`` with respect to the probabilities Y_hat."""
    if check:
        Y_hat, Y = loss_arguments(Y_hat, Y, ("Y_hat", "Y"), prediction_in_unit_interval=True,
                                  target_in_unit_interval=True)
    P = np.clip(Y_hat, PROBABILITY_FLOOR, 1.0 - PROBABILITY_FLOOR)
    return (P - Y) / (P * (1.0 - P) * Y.size)


def bce_with_logits(A, Y, check=True):
    """Binary cross-entropy of sigmoid(A) against Y, computed stably from the logits A.

    Uses  -y log s(a) - (1-y) log(1-s(a)) = max(a, 0) - a y + log(1 + exp(-|a|)).
    """
    if check:
        A, Y = loss_arguments(A, Y, ("A", "Y"), target_in_unit_interval=True)
    # As in ``mse``, huge logits may make the mean overflow to inf, and the caller checks for it.
    with np.errstate(over="ignore"):
        if A.dtype == np.float32:
            return _bce_with_logits_float32(A, Y)
        return float(np.mean(np.maximum(A, 0.0) - A * Y + np.log1p(np.exp(-np.abs(A)))))


def _bce_with_logits_float32(A, Y):
    # The formula of ``bce_with_logits`` for float32 arrays, written for speed:
    #     np.mean(np.maximum(A, 0) - A * Y + np.log(1 + np.exp(-np.abs(A))))
    # with log(1 + t) instead of log1p(t), because numpy's float32 log1p has no vectorised
    # kernel and costs ten times its log. For t = exp(-|a|) in (0, 1] (it cannot overflow) the
    # two differ by at most half a unit in float32's last place at 1 (6e-8), below float32's
    # own rounding of a loss near log 2. The lines compute that formula step by step into two
    # arrays (``out=`` and in-place operators) instead of eight temporaries.
    loss = np.maximum(A, 0.0)
    term = np.multiply(A, Y)
    loss -= term
    np.abs(A, out=term)
    np.negative(term, out=term)
    np.exp(term, out=term)
    term += 1.0
    np.log(term, out=term)
    loss += term
    return float(np.mean(loss))


def bce_with_logits_grad(A, Y, check=True):
    """Gradient of ``bce_with_logits`` with respect to the logits A: (sigmoid(A) - Y) / N."""
    if check:
        A, Y = loss_arguments(A, Y, ("A", "Y"), target_in_unit_interval=True)
    return (sigmoid(A) - Y) / Y.size
