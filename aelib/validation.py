"""Checks at the public entry points, so a mistake gets a message that names the argument.

Every function here raises ``TypeError`` or ``ValueError`` with the argument's name, what was
expected and what was given, instead of letting a bad value travel into numpy and fail
somewhere deep inside a matrix product (or, worse, silently give a wrong answer).
"""
import numbers

import numpy as np

# The floating-point types a model can compute in, by name.
DTYPES = {"float64": np.dtype(np.float64), "float32": np.dtype(np.float32)}


def as_dtype(dtype, name="dtype"):
    """Return ``dtype`` ("float32", "float64", np.float32 or np.float64) as a numpy dtype, or raise.

    float64 is what every chapter uses; float32 halves the memory and roughly doubles the speed
    of the matrix products, at about 7 significant digits instead of 16.
    """
    if isinstance(dtype, str):
        key = dtype
    elif dtype is np.float32 or dtype is np.float64 or isinstance(dtype, np.dtype):
        key = np.dtype(dtype).name
    else:
        raise TypeError(f"{name} must be 'float32' or 'float64' (or np.float32, np.float64), "
                        f"got {dtype!r} ({type(dtype).__name__})")
    if key not in DTYPES:
        raise ValueError(f"{name} must be 'float32' or 'float64', got {dtype!r}")
    return DTYPES[key]


def as_data_matrix(X, name="X", n_features=None, unit_interval=False, dtype=np.float64):
    """Return ``X`` as an array of ``dtype`` (float64 unless asked) and shape (n_samples, n_features), or raise.

    X: array-like (n_samples, n_features). ``n_features`` is the width the model expects;
    ``unit_interval`` requires every value in [0, 1] (binary cross-entropy needs it): True, or the
    reason and advice the message gives after the range found (a str).
    An array that already has the dtype is returned as it is, without a copy.
    """
    if isinstance(X, (str, bytes)) or X is None:
        raise TypeError(f"{name} must be a 2-D array of numbers, got {type(X).__name__}")
    try:
        array = np.asarray(X)
    except (TypeError, ValueError) as error:
        raise TypeError(f"{name} must be a 2-D array of numbers; converting it failed: {error}") from None
    # Checked before converting: numpy would turn the strings "1" and "0" into numbers and drop
    # the imaginary part of complex numbers, silently.
    if array.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be a 2-D array of real numbers, got dtype {array.dtype}")
    with np.errstate(over="ignore"):  # values beyond float32's range become inf, reported below
        converted = array.astype(dtype, copy=False)
    if array.ndim != 2:
        hint = " (use X.reshape(1, -1) for a single sample)" if array.ndim == 1 else ""
        raise ValueError(f"{name} must be 2-D (n_samples, n_features), got shape {array.shape}{hint}")
    if array.shape[0] == 0:
        raise ValueError(f"{name} must contain at least one sample, got shape {array.shape}")
    if n_features is not None and array.shape[1] != n_features:
        raise ValueError(
            f"{name} must have {n_features} features (columns) for this model, "
            f"got {array.shape[1]} (shape {array.shape})")
    finite = np.isfinite(converted)
    if not finite.all():
        row, column = np.argwhere(~finite)[0]
        if np.isfinite(array[row, column]):
            raise ValueError(
                f"{name} holds values too large for {converted.dtype}, e.g. {array[row, column]!r} at row "
                f"{row}, column {column}: rescale the data, or use dtype='float64'")
        raise ValueError(
            f"{name} must contain only finite numbers, got {np.isnan(converted).sum()} NaN and "
            f"{np.isinf(converted).sum()} infinite value(s), the first at row {row}, column {column} "
            "(clean the data first)")
    array = converted
    if unit_interval and (array.min() < 0.0 or array.max() > 1.0):
        why = UNIT_INTERVAL_REASON if unit_interval is True else unit_interval
        raise ValueError(f"{name} must lie in [0, 1], got values from {_range_of(array)}: {why}")
    return array


# Why data must lie in [0, 1] when the caller does not say (``as_data_matrix(unit_interval=True)``).
UNIT_INTERVAL_REASON = ("the binary cross-entropy compares each value with a probability; rescale the data, "
                        "e.g. (X - X.min()) / (X.max() - X.min())")


def unshared(X, *buffers):
    """X, or a copy of it where it shares memory with any of ``buffers``: data taken from a model's
    weights or gradients (say, X = model.params[0]) would be rewritten by every training step."""
    if any(np.may_share_memory(X, buffer) for buffer in buffers):
        return X.copy()
    return X


def _range_of(array):
    # "a to b" for a range message, each end with the digits that tell it from the bounds 0 and 1.
    return f"{format_number(array.min(), unlike=(0.0, 1.0))} to {format_number(array.max(), unlike=(0.0, 1.0))}"


def format_number(value, unlike=()):
    """``value`` written with 4 significant digits, or with as many more as it takes not to read as
    any of the numbers ``unlike`` (the bounds it broke), e.g. 1.0000001 beside the bound 1.

    A message that says "must lie in [0, 1], got values up to 1" would contradict itself; with
    ``unlike=(0, 1)`` that maximum is written "1.0000001". A value equal to one of them is
    written as it is. The digits are those of the value's own type (float32 data keep 8 at most).
    """
    number = float(value)
    digits = 17 if np.asarray(value).dtype != np.float32 else 9
    for precision in range(4, digits + 1):
        text = f"{number:.{precision}g}"
        if all(float(text) != bound or number == bound for bound in unlike):
            return text
    return repr(number)


def as_real_array(value, name):
    """Return ``value`` as a float64 array, refusing strings, complex numbers and objects."""
    if isinstance(value, (str, bytes)) or value is None:
        raise TypeError(f"{name} must be an array of real numbers, got {type(value).__name__}")
    kind = np.asarray(value).dtype.kind
    if kind not in "biuf":
        raise TypeError(f"{name} must be an array of real numbers, got dtype {np.asarray(value).dtype}")
    return np.asarray(value, dtype=np.float64)


def loss_arguments(prediction, target, names, prediction_in_unit_interval=False, target_in_unit_interval=False):
    """Return both arrays of a loss as float64 arrays of one shape, or raise naming the argument.

    names: (prediction name, target name), e.g. ("Y_hat", "Y"). The shapes must be equal: numpy
    would broadcast (n, 1) against (n,) into an (n, n) matrix and return a wrong loss. Both must
    be finite, and lie in [0, 1] where asked (probabilities, cross-entropy targets).
    """
    arrays = []
    for array, name, unit_interval in ((prediction, names[0], prediction_in_unit_interval),
                                       (target, names[1], target_in_unit_interval)):
        array = as_real_array(array, name)
        if not np.isfinite(array).all():
            raise ValueError(f"{name} must contain only finite numbers, got {np.isnan(array).sum()} NaN and "
                             f"{np.isinf(array).sum()} infinite value(s)")
        if unit_interval and array.size and (array.min() < 0.0 or array.max() > 1.0):
            raise ValueError(f"{name} must lie in [0, 1], got values from {_range_of(array)}")
        arrays.append(array)
    if arrays[0].shape != arrays[1].shape:
        raise ValueError(f"{names[0]} and {names[1]} must have the same shape, got {arrays[0].shape} and "
                         f"{arrays[1].shape} (no broadcasting: reshape one, e.g. Y.reshape(-1, 1))")
    if arrays[0].size == 0:
        raise ValueError(f"{names[0]} and {names[1]} must not be empty, got shape {arrays[0].shape}")
    return arrays


def positive_number(value, name):
    """Return ``value`` as a float if it is a finite number > 0, else raise."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a positive number, got {value!r}")
    if not np.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a positive number, got {value!r}")
    return float(value)


def positive_int(value, name):
    """Return ``value`` if it is an integer >= 1, else raise."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer >= 1, got {value!r}")
    if value < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    return int(value)


def probability(value, name):
    """Return ``value`` as a float if it lies in [0, 1], else raise."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number in [0, 1], got {value!r}")
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be a probability in [0, 1], got {value!r}")
    return float(value)


def non_negative_number(value, name):
    """Return ``value`` as a float if it is a finite number >= 0, else raise."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number >= 0, got {value!r}")
    if not np.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a number >= 0, got {value!r}")
    return float(value)


def as_seed(seed, name="seed"):
    """Return ``seed`` as a plain int >= 0, or None (fresh entropy), else raise.

    numpy integers become Python ints, so that the seed can be stored as JSON with a model.
    """
    if seed is None:
        return None
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"{name} must be None or an int seed >= 0, got {seed!r} ({type(seed).__name__})")
    if seed < 0:
        raise ValueError(f"{name} must be an int seed >= 0, got {seed!r}")
    return int(seed)


def as_generator(rng, name="rng"):
    """Return a ``numpy.random.Generator`` from None (fresh entropy), an int seed >= 0 or a Generator."""
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is not None and (isinstance(rng, bool) or not isinstance(rng, numbers.Integral)):
        raise TypeError(f"{name} must be None, an int seed or a numpy.random.Generator, "
                        f"got {rng!r} ({type(rng).__name__})")
    return np.random.default_rng(as_seed(rng, name))


def seeded_generators(seed, n):
    """n independent generators from one seed (say, one to draw a model's weights, one for
    training): the same seed gives the same n streams."""
    return [np.random.default_rng(child) for child in np.random.SeedSequence(seed).spawn(n)]


def as_shape(shape, name="shape", n_pixels=None):
    """Return ``shape`` as (rows, cols), two integers >= 1, or raise naming the argument.

    n_pixels: if given, the number of pixels the shape must hold (rows * cols).
    """
    if isinstance(shape, (str, bytes)) or not hasattr(shape, "__len__") or len(shape) != 2:
        raise TypeError(f"{name} must be a pair (rows, cols) of integers >= 1, e.g. (7, 5), got {shape!r}")
    if not all(isinstance(side, numbers.Integral) and not isinstance(side, bool) and side >= 1 for side in shape):
        raise ValueError(f"{name} must be a pair (rows, cols) of integers >= 1, e.g. (7, 5), got {shape!r}")
    rows, cols = int(shape[0]), int(shape[1])
    if n_pixels is not None and rows * cols != n_pixels:
        raise ValueError(f"{name} {(rows, cols)} holds {rows * cols} pixels, but each glyph has {n_pixels}")
    return rows, cols


def one_per(items, name, n, what):
    """Return ``items`` (a sequence) as a list if it has exactly ``n`` entries, one per ``what``, or raise.

    For the labels, titles and flags that go with the rows of a data matrix: zip would silently
    drop the extra ones (or the rows without one) and indexing would fail deep inside a plot.
    """
    try:
        length = len(items)
    except TypeError:
        raise TypeError(f"{name} must be a sequence with one entry per {what} ({n}), got {items!r}") from None
    if length != n:
        raise ValueError(f"{name} must have one entry per {what}: {n} expected, got {len(items)}")
    return list(items)


def check_noise_output(X_noisy, X, noise):
    """Return the output of a noise function applied to ``X`` if it is an array of X's shape, or raise.

    noise: the function, named in the message. A list (or a list of lists) is refused, not
    converted: the training step would fail deep inside, with "'list' object has no attribute 'T'".
    """
    if not isinstance(X_noisy, np.ndarray):
        raise TypeError(f"noise must return a numpy array of its input's shape {X.shape}, got "
                        f"{type(X_noisy).__name__} from {noise!r} (e.g. return np.asarray(...))")
    if X_noisy.dtype.kind not in "biuf":
        raise TypeError(f"noise must return an array of real numbers, got dtype {X_noisy.dtype} from {noise!r}")
    if X_noisy.shape != X.shape:
        raise ValueError(f"noise must return an array of its input's shape {X.shape}, "
                         f"got {X_noisy.shape} from {noise!r}")
    return X_noisy
