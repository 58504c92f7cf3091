r"""Losses and their gradients, side by side. All are means over every entry of the batch, but
for the softmax cross-entropy, a mean over the samples (see below).

For targets :math:`Y` and predictions :math:`\hat Y` of shape (n_samples, n_features),
with :math:`N = n_\text{samples} \cdot n_\text{features}`:

* mean squared error :math:`L = \frac{1}{N}\sum (\hat y - y)^2`, gradient :math:`\frac{2}{N}(\hat Y - Y)`;
* binary cross-entropy :math:`L = -\frac{1}{N}\sum y\log\hat y + (1-y)\log(1-\hat y)`.

A sigmoid output followed by binary cross-entropy is best computed from the *logits*
:math:`A` (the pre-activations, :math:`\hat Y = \mathrm{sigmoid}(A)`): the loss stays finite for
any logit, and its gradient collapses to :math:`\frac{1}{N}(\hat Y - Y)`.

A classifier's last layer gives one logit per class; the **softmax**
:math:`\hat y_{ij} = e^{a_{ij}} / \sum_{j'} e^{a_{ij'}}` turns each row into probabilities, and
the **softmax cross-entropy** against target probabilities :math:`Y` (one-hot rows for labels)
is :math:`L = -\frac{1}{n}\sum_i \sum_j y_{ij} \log \hat y_{ij}`. It is the one loss here that
is a mean over the *samples*, not over every entry: the classes of a sample make up one
distribution. Its gradient with respect to the logits is again :math:`\frac{1}{n}(\hat Y - Y)`.

Each function checks its arguments: both of one shape (never broadcast), finite, and in [0, 1]
where the formula needs it. The training loops, which check their data once per ``fit``, pass
``check=False`` to skip this on every batch.
"""
import numpy as np

from .activations import sigmoid
from .validation import loss_arguments, positive_int

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


def softmax(A):
    """Row-wise softmax of logits A: (n_samples, n_classes) -> probabilities, each row summing to 1.

    The row's largest logit is subtracted first, which changes nothing in the result (it cancels
    between numerator and denominator) but keeps exp from overflowing.
    """
    A = np.asarray(A)
    if A.dtype.kind not in "biuf":
        raise TypeError(f"A must be a 2-D array of logits (real numbers), got dtype {A.dtype}")
    if A.ndim != 2 or A.shape[1] == 0:
        hint = " (use A.reshape(1, -1) for a single sample)" if A.ndim == 1 else ""
        raise ValueError(f"A must be 2-D (n_samples, n_classes), with at least one class, got shape {A.shape}{hint}")
    shifted = A - A.max(axis=1, keepdims=True)
    E = np.exp(shifted)
    return E / E.sum(axis=1, keepdims=True)


def _class_arguments(A, Y):
    A, Y = loss_arguments(A, Y, ("A", "Y"), target_in_unit_interval=True)
    if A.ndim != 2:
        raise ValueError(f"A and Y must be 2-D (n_samples, n_classes), got shape {A.shape}")
    sums = Y.sum(axis=1)
    if not np.allclose(sums, 1.0, rtol=0.0, atol=1e-6):
        row = int(np.argmax(np.abs(sums - 1.0)))
        raise ValueError(f"each row of Y must be a probability distribution over the classes (summing to 1, "
                         f"e.g. one_hot(y, n_classes)), but row {row} sums to {sums[row]:.6g}")
    return A, Y


def softmax_cross_entropy(A, Y, check=True):
    r"""Cross-entropy of softmax(A) against target probabilities Y, from the logits A; a float.

    A, Y: (n_samples, n_classes), rows of Y summing to 1 (one-hot rows for labels). Computed as
    :math:`-\frac1n \sum_i \sum_j y_{ij} \big(a_{ij} - \log \sum_{j'} e^{a_{ij'}}\big)` with
    the log-sum-exp shifted by each row's largest logit, so it stays finite for any logits.
    """
    if check:
        A, Y = _class_arguments(A, Y)
    shifted = A - A.max(axis=1, keepdims=True)
    log_probabilities = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return float(-np.sum(Y * log_probabilities) / A.shape[0])


def softmax_cross_entropy_grad(A, Y, check=True):
    """Gradient of ``softmax_cross_entropy`` with respect to the logits A.

    (softmax(A) - Y) / n, for A and Y: (n_samples, n_classes).
    """
    if check:
        A, Y = _class_arguments(A, Y)
    return (softmax(A) - Y) / A.shape[0]


def one_hot(y, n_classes):
    """Labels y: (n_samples,) integers 0 .. n_classes - 1 -> Y: float64 (n_samples, n_classes) of 0/1."""
    n_classes = positive_int(n_classes, "n_classes")
    labels = np.asarray(y)
    if labels.ndim != 1 or labels.dtype.kind not in "iu":
        raise ValueError(f"y must be a 1-D array of integer labels, got dtype {labels.dtype} and shape {labels.shape}")
    if labels.size and (labels.min() < 0 or labels.max() >= n_classes):
        raise ValueError(f"y must hold labels from 0 to {n_classes - 1} (n_classes={n_classes}), "
                         f"got values from {labels.min()} to {labels.max()}")
    Y = np.zeros((labels.size, n_classes))
    Y[np.arange(labels.size), labels] = 1.0
    return Y
