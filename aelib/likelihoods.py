r"""The decoder's two likelihoods for pixels, computed from its logits.

The decoder's last pre-activation :math:`a` (the *logit*) gives each pixel the parameter
:math:`\hat x = \mathrm{sigmoid}(a)` of one of two distributions:

* the **Bernoulli** for pixels that are 0 or 1, :math:`p(x \mid \hat x) = \hat x^x (1 - \hat x)^{1 - x}`;
* the **continuous Bernoulli** (Loaiza-Ganem and Cunningham, 2019, who call the parameter
  :math:`\lambda`) for grey levels :math:`x \in [0, 1]`, the same formula made a density on
  :math:`[0, 1]` by its normalising constant
  :math:`C(\hat x) = 2 \operatorname{artanh}(1 - 2\hat x) / (1 - 2\hat x)` (:math:`C(\tfrac12) = 2`).

In the logit both are exponential families: since :math:`\hat x^x (1 - \hat x)^{1 - x}
= (1 - \hat x) e^{a x}`,

.. math::
    \log p(x \mid a) = a x - F(a), \qquad
    F(a) = \log(1 + e^a) \;\text{(Bernoulli)}, \qquad
    F(a) = \log \frac{e^a - 1}{a} \;\text{(continuous Bernoulli)},

where the log-partition :math:`F` makes the probabilities sum, or the density integrate, to 1.
Its derivative is the distribution's mean, so the gradient of :math:`-\log p(x \mid a)` with
respect to the logit is :math:`F'(a) - x`: :math:`\hat x - x` for the Bernoulli, and
:math:`m(a) - x` with the continuous Bernoulli's mean :math:`m(a)`, which is *not* :math:`\hat x`.
Its second derivative :math:`F''(a) = m'(a)` is the variance.

With :math:`1 - 2\hat x = -\tanh(a/2)` and :math:`\operatorname{artanh}(1 - 2\hat x) = -a/2`, the
normalising constant is :math:`C = a / \tanh(a/2)`: computed from the logit, it has none of the
cancellation that :math:`1 - 2\hat x` suffers near :math:`\hat x = \tfrac12`, and only the point
:math:`a = 0` itself (0/0) needs the Taylor series. Every function here is elementwise and keeps
the dtype of ``A`` (float64 or float32); the log-densities sum over the last axis (the pixels).
"""
from fractions import Fraction
from math import comb, factorial

import numpy as np

from .validation import _range_of

LIKELIHOODS = ("bernoulli", "continuous-bernoulli")

# Below these |a| the closed forms are replaced by their Taylor series at a = 0, whose first
# left-out term is then below 1e-15 (for the normaliser, 62 (a/2)^6 / 2835 at |a| = 1e-2; for the
# mean, (a/2)^9 / 93555 at |a| = 0.1). Above them the closed forms are accurate to a few 1e-15:
# in the mean, 1 / (2 tanh(a/2)) - 1/a cancels most near |a| = 0.1, to about 3e-15 absolute.
SERIES_LOG_NORMALIZER = 1e-2
SERIES_MEAN = 0.1
# The variance's closed form 1/A^2 - 1/(4 sinh^2(A/2)) cancels to 1/12 near A = 0 and loses about
# 12 / A^2 rounding errors (a few 1e-15 relative at |A| = 1); below |A| = 1 its Taylor series, to
# the power A^22, leaves out terms below 1e-16 of the variance.
SERIES_VARIANCE = 1.0


def check_likelihood(likelihood):
    """Return ``likelihood`` if it is one of ``LIKELIHOODS``, else raise naming the choices."""
    if not isinstance(likelihood, str):
        raise TypeError(f"likelihood must be one of {list(LIKELIHOODS)}, got {likelihood!r}")
    if likelihood not in LIKELIHOODS:
        raise ValueError(f"unknown likelihood {likelihood!r}; expected one of {list(LIKELIHOODS)}")
    return likelihood


def _as_logits(A, name="A"):
    """A as a numpy array of floats, or raise naming it: float32 stays float32, integers become float64.

    (Integer logits kept as integers would have every result rounded to an integer.)
    """
    A = np.asarray(A)
    if A.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be an array of logits (real numbers), got dtype {A.dtype}")
    return A if A.dtype.kind == "f" else A.astype(np.float64)


def softplus(A):
    """log(1 + e^A), the Bernoulli's log-partition, without overflow for large A."""
    A = _as_logits(A)
    return np.maximum(A, 0.0) + np.log1p(np.exp(-np.abs(A)))


def continuous_bernoulli_log_normalizer(A):
    r"""log C(x_hat) for x_hat = sigmoid(A), elementwise: log(A / tanh(A / 2)).

    log 2 at A = 0 (x_hat = 1/2), growing like log |A| as x_hat approaches 0 or 1. Near A = 0
    the series log 2 + t^2/3 - 7 t^4 / 90 with t = A/2.
    """
    A = _as_logits(A)
    a = A.reshape(-1)  # 1-D, so that entries can be replaced even for a single number
    small = np.abs(a) < SERIES_LOG_NORMALIZER
    # The closed form, with a = 1 where |a| is small to keep 0/0 out; those entries are replaced.
    safe = np.where(small, 1.0, a)
    result = np.log(safe / np.tanh(0.5 * safe))
    if small.any():
        t2 = (0.5 * a[small]) ** 2
        result[small] = np.log(2.0) + t2 / 3.0 - 7.0 * t2 * t2 / 90.0
    return result.reshape(A.shape).astype(A.dtype, copy=False)


def continuous_bernoulli_mean(A):
    r"""The continuous Bernoulli's mean for x_hat = sigmoid(A), elementwise.

    m = x_hat / (2 x_hat - 1) + 1 / (2 artanh(1 - 2 x_hat)) = 1/2 + 1 / (2 tanh(A/2)) - 1/A:
    1/2 at A = 0, and always between 1/2 and x_hat (0.3301 for x_hat = 0.1, 0.7159 for 0.95).
    Near A = 0 the series 1/2 + A/12 - A^3/720 + A^5/30240 - A^7/1209600.
    """
    A = _as_logits(A)
    a = A.reshape(-1)
    small = np.abs(a) < SERIES_MEAN
    safe = np.where(small, 1.0, a)
    result = 0.5 + 0.5 / np.tanh(0.5 * safe) - 1.0 / safe
    if small.any():
        near = a[small]
        near2 = near * near
        result[small] = 0.5 + near * (1.0 / 12.0 - near2 * (1.0 / 720.0 - near2 * (1.0 / 30240.0 - near2 / 1209600.0)))
    return result.reshape(A.shape).astype(A.dtype, copy=False)


def _bernoulli_numbers(count):
    """B_0, ..., B_count (B_1 = -1/2) as exact fractions, by the recurrence sum_k C(m+1, k) B_k = 0."""
    numbers = [Fraction(1)]
    for m in range(1, count + 1):
        numbers.append(-sum(comb(m + 1, k) * numbers[k] for k in range(m)) / (m + 1))
    return numbers


# F''(A) = sum over n >= 1 of B_2n (2n - 1) A^(2n - 2) / (2n)!: 1/12, -1/240, 1/6048, ... for the
# powers A^0, A^2, A^4, ..., A^22 (differentiate the mean's series 1/2 + sum B_2n A^(2n - 1) / (2n)!).
_VARIANCE_SERIES = [float(b * (2 * n - 1) / factorial(2 * n))
                    for n, b in enumerate(_bernoulli_numbers(24)[2::2], start=1)]


def continuous_bernoulli_variance(A):
    r"""The continuous Bernoulli's variance F''(A), the derivative of its mean, elementwise.

    F''(A) = 1/A^2 - 1/(4 sinh^2(A/2)): 1/12 at A = 0, falling like 1/A^2 for large |A|. The
    second term is computed as e^-|A| / (1 - e^-|A|)^2, which cannot overflow; below
    |A| = ``SERIES_VARIANCE``, where the two terms cancel, the Taylor series in A^2.
    """
    A = _as_logits(A)
    a = A.reshape(-1)
    small = np.abs(a) < SERIES_VARIANCE
    magnitude = np.where(small, 1.0, np.abs(a))   # keeps 0/0 out; those entries are replaced
    result = (1.0 / magnitude) ** 2 - np.exp(-magnitude) / np.expm1(-magnitude) ** 2
    if small.any():
        near2 = a[small] ** 2
        series = np.zeros_like(near2)
        for coefficient in reversed(_VARIANCE_SERIES):
            series = series * near2 + coefficient
        result[small] = series
    return result.reshape(A.shape).astype(A.dtype, copy=False)


def continuous_bernoulli_log_partition(A):
    r"""F(A) = log((e^A - 1) / A), elementwise: softplus(A) - log C(sigmoid(A)), computed directly.

    max(A, 0) + log((1 - e^-|A|) / |A|), with expm1 for 1 - e^-|A|, which keeps its digits for
    small |A|. Near A = 0 (0/0 at A = 0) the series A/2 + A^2/24 - A^4/2880.
    """
    A = _as_logits(A)
    a = A.reshape(-1)
    magnitude = np.abs(a)
    small = magnitude < SERIES_LOG_NORMALIZER
    magnitude[small] = 1.0  # keeps 0/0 out; those entries are replaced below
    result = np.maximum(a, 0.0) + np.log(-np.expm1(-magnitude) / magnitude)
    if small.any():
        near2 = a[small] ** 2
        result[small] = 0.5 * a[small] + near2 / 24.0 - near2 * near2 / 2880.0
    return result.reshape(A.shape).astype(A.dtype, copy=False)


def log_partition(A, likelihood):
    """F(A), elementwise: softplus(A) (Bernoulli) or log((e^A - 1) / A) (continuous Bernoulli)."""
    if check_likelihood(likelihood) == "bernoulli":
        return softplus(A)
    return continuous_bernoulli_log_partition(A)


def mean(A, likelihood):
    """The distribution's mean F'(A), elementwise: sigmoid(A), or ``continuous_bernoulli_mean(A)``."""
    A = _as_logits(A)
    if check_likelihood(likelihood) == "bernoulli":
        return 0.5 * (1.0 + np.tanh(0.5 * A))
    return continuous_bernoulli_mean(A)


def log_density(A, X, likelihood, check=True):
    """log p(x | a) = sum over the pixels of a x - F(a), in nats.

    A: logits (..., n_features); X: pixels in [0, 1], broadcastable against A. Returns an array
    of A's shape without its last axis: for A and X of shape (n_samples, n_features), (n_samples,).
    For the Bernoulli this is minus the binary cross-entropy summed over the pixels; for grey
    levels it is then not a log-density (it lacks log C(x_hat) per pixel).
    check=False skips the checks of A and X, for callers that have made them already (the models
    call it at every training step and for every block of codes).
    """
    if check:
        A, X = _density_arguments(A, X)
    return np.sum(A * X - log_partition(A, likelihood), axis=-1)


def _density_arguments(A, X):
    # A as logits and X as pixels in [0, 1] of a shape that broadcasts against A, or raise.
    A, X = _as_logits(A), np.asarray(X)
    if X.dtype.kind not in "biuf":
        raise TypeError(f"X must be an array of pixel values in [0, 1], got dtype {X.dtype}")
    try:
        np.broadcast_shapes(A.shape, X.shape)
    except ValueError:
        raise ValueError(f"X must have the shape of A {A.shape}, or one that broadcasts against it, "
                         f"got {X.shape}") from None
    # Written so that NaN fails too.
    if X.size and not (X.min() >= 0 and X.max() <= 1):
        raise ValueError(f"X must lie in [0, 1] (pixel values), got values from {_range_of(X)}")
    return A, X
