"""Checks for the exercises of chapter 1, "The autoencoder".

Each check runs the reader's function on inputs chosen so that the usual mistakes show, compares
the result with aelib's own computation, and names the mistake:

- 1.1 and 1.5 count wrong pixels on glyphs of several sizes, with values on both sides of the
  threshold and exactly on it (0.5 is blank, in the glyph as in the reconstruction), grey levels
  in the glyphs, and ties between nearest letters;
- 1.2 holds the loss to the formula away from 0 and 1, and at 0 and 1 to what a clip (or a shift
  inside the log) by at most 1e-7 gives: large, finite, never smaller for a confident, wrong
  pixel than for an almost confident one, and for a grey target its share of that cost;
- 1.4 calls the reader's training function with two seeds on the letters and with one of them
  again on the digits, and compares each model with the one that the exercise's settings give,
  trained here in the same process (so on the same processor, with the same bits).
"""
import numpy as np

from ..autoencoder import Autoencoder
from ..data import load_font, load_font_digits
from ..denoising import glyph_distances
from ..mlp import ParameterList
from ..losses import binary_cross_entropy
from .feedback import CheckFailed, as_numbers, distinct_strings, expect_close, expect_float64, passed
from .guard import call

__all__ = ["check_count_wrong_pixels", "check_binary_cross_entropy", "check_train_3d_autoencoder",
           "check_measure_unseen"]

THRESHOLD = 0.5
JUST_ABOVE = float(np.nextafter(THRESHOLD, 1.0))  # 0.5000000000000001: ink
JUST_BELOW = float(np.nextafter(THRESHOLD, 0.0))  # 0.49999999999999994: blank
INK_RULE = ("A pixel of X or of X_hat is ink when its value is greater than 0.5, and 0.5 itself is "
            "blank: compare (X_hat > 0.5) with (X > 0.5).")


def _wrong_pixels(X, X_hat):
    # The book's definition: a pixel is ink when its value is greater than 0.5, in X as in X_hat.
    return ((X_hat > THRESHOLD) != (X > THRESHOLD)).sum(axis=1)


def _hamming(A, B):
    return ((A[:, None, :] > THRESHOLD) != (B[None, :, :] > THRESHOLD)).sum(axis=2)


def _numbers(value, what):
    array = as_numbers(value)
    if array is None:
        raise CheckFailed(f"{what}: expected numbers, got {type(value).__name__} {value!r}"[:300])
    return array


# ---------------------------------------------------------------------------------------------
# Exercise 1.1

def _expect_counts(actual, expected, X, X_hat, what, reference="X", explain=None):
    """Counts of wrong pixels per glyph: shape, then the known mistakes, then ``explain(values)``
    (which may raise a more precise message), then the values."""
    n, d = X.shape
    values = _numbers(actual, what)
    if values.shape == ():
        total = " That is the total over all glyphs." if values == expected.sum() else ""
        raise CheckFailed(
            f"{what}: expected one count per glyph, an array of shape {expected.shape}, got the single "
            f"number {float(values):g}.{total} Sum the wrong pixels of each row: .sum(axis=1).")
    if values.shape == (d,) and d != n:
        raise CheckFailed(f"{what}: expected shape {expected.shape}, got {values.shape}: one count per "
                          "pixel position. Rows are glyphs, so sum over axis=1, not axis=0.")
    if values.shape == (n, d):
        raise CheckFailed(f"{what}: expected shape {expected.shape}, got {values.shape}: that is one value "
                          "per pixel. Count the wrong pixels of each glyph with .sum(axis=1).")
    if values.shape == expected.shape and not np.array_equal(values, expected):
        mistakes = [
            ((X_hat != X).sum(axis=1), "every pixel counted as wrong. X_hat holds probabilities such as "
             f"0.9 or 0.1, which never equal the 0s and 1s of {reference}; threshold both at 0.5 before "
             "comparing."),
            (np.abs(X_hat - X).sum(axis=1), "that is the sum of the errors |x_hat - x|, not the number of "
             "wrong pixels. Threshold both at 0.5 and count the pixels where they disagree."),
            (expected / d, f"that is the fraction of each glyph's {d} pixels that are wrong; the "
             "exercise asks for their number."),
            (expected > 0, "each count is 0 or 1: you said whether a glyph has a wrong pixel (any), not how "
             "many it has (sum)."),
            (((X_hat > THRESHOLD) != X).sum(axis=1), f"{reference} holds values other than 0 and 1 here "
             "(grey levels, and 0.5 itself): threshold it at 0.5 too, as X_hat."),
        ]
        for mistake, explanation in mistakes:
            if np.allclose(values, mistake, rtol=0, atol=1e-9):
                raise CheckFailed(f"{what}: got {_listed(values)}: {explanation}", hint=INK_RULE)
        if explain is not None:
            explain(values)
        i = int(np.flatnonzero(values != expected)[0])
        raise CheckFailed(f"{what}: glyph {i} has {expected[i]} wrong pixel(s), you counted {values[i]:g}.",
                          expected=_listed(expected), actual=_listed(values), hint=INK_RULE)
    expect_close(values, expected, what, rtol=0, atol=1e-9, hint=INK_RULE)


def _listed(values):
    text = np.array2string(np.asarray(values), separator=", ", threshold=12, precision=4)
    return text.replace("\n", "")


def _edge_pixels():
    """(x, x_hat, the verdict with its reason) for pixels on and around the threshold."""
    return [
        (1.0, 0.5, "wrong: x_hat = 0.5 exactly is blank (> 0.5, not >= 0.5) and x = 1 is ink"),
        (0.0, 0.5, "right: x_hat = 0.5 exactly is blank (> 0.5, not >= 0.5), like x = 0"),
        (0.5, 0.5, "right: both are exactly 0.5, which is blank (> 0.5, not >= 0.5)"),
        (0.5, 0.25, "right: x = 0.5 exactly is blank (> 0.5, not >= 0.5), like x_hat = 0.25"),
        (0.5, 0.75, "wrong: x = 0.5 exactly is blank (> 0.5, not >= 0.5), x_hat = 0.75 is ink"),
        (0.75, 0.875, "right: the grey x = 0.75 is ink (greater than 0.5), like x_hat = 0.875; "
                      "threshold X too"),
        (0.75, 0.25, "wrong: the grey x = 0.75 is ink (greater than 0.5), x_hat = 0.25 is blank"),
        (0.25, 0.125, "right: the grey x = 0.25 is blank, like x_hat = 0.125; threshold X too"),
        (0.25, 0.875, "wrong: the grey x = 0.25 is blank, x_hat = 0.875 is ink"),
        (0.0, JUST_ABOVE, f"wrong: x_hat = {JUST_ABOVE!r}, just above 0.5, is ink and x = 0 is blank"),
        (1.0, JUST_BELOW, f"wrong: x_hat = {JUST_BELOW!r}, just below 0.5, is blank and x = 1 is ink"),
        (1.0, 1.0, "right: x_hat = 1 and x = 1 are both ink"),
        (0.0, 0.0, "right: x_hat = 0 and x = 0 are both blank"),
    ]


def check_count_wrong_pixels(count_wrong_pixels):
    """Exercise 1.1: ``count_wrong_pixels(X, X_hat)`` returns the wrong pixels of every glyph, shape (n,).

    X, X_hat: (n_samples, n_features), any sizes, values in [0, 1]; a pixel of either is ink when its
    value is greater than 0.5 (0.5 is blank). Tried on letters, on one pixel at the edge of the
    threshold per glyph, and on random grey glyphs.
    """
    name = "count_wrong_pixels"
    on_error = "X and X_hat have the same shape, (n_samples, n_features), with any numbers of each."

    def expect_counts(X, X_hat, expected, what, explain=None):
        result = call(count_wrong_pixels, X, X_hat, name=name, on_error=on_error)
        _expect_counts(result, expected, X, X_hat, what, explain=explain)

    X = load_font()[0][:4]
    # Confident reconstructions, plus pixels just on the right side of the threshold, which a
    # function that compares X_hat with X without thresholding would count as wrong.
    X_hat = np.where(X > THRESHOLD, 0.9, 0.1)
    X_hat[0, :3] = np.where(X[0, :3] > THRESHOLD, 0.55, 0.45)
    flips = {1: [0], 2: [4, 10, 20], 3: [1, 2, 3, 12, 30, 34]}
    for glyph, pixels in flips.items():
        X_hat[glyph, pixels] = np.where(X[glyph, pixels] > THRESHOLD, 0.3, 0.7)
    expect_counts(X, X_hat, _wrong_pixels(X, X_hat),
                  f"{name}(X, X_hat) for 4 glyphs with 0, 1, 3 and 6 wrong pixels")

    # One glyph per pixel on the edge of the threshold; its other pixels are confidently right, so
    # each glyph's count (0 or 1) says how that one pixel was judged.
    cases = _edge_pixels()
    n_pixels = 12
    rng = np.random.default_rng(11)
    X = (rng.random((len(cases), n_pixels)) < 0.5).astype(np.float64)
    X_hat = np.where(X > THRESHOLD, 0.95, 0.05)
    where = [(3 * i + 2) % n_pixels for i in range(len(cases))]  # the last column among them
    for i, (x, x_hat, _) in enumerate(cases):
        X[i, where[i]], X_hat[i, where[i]] = x, x_hat
    expected = _wrong_pixels(X, X_hat)
    what = (f"{name}(X, X_hat) for {len(cases)} glyphs of {n_pixels} pixels, each with one pixel at "
            "the edge of the threshold")

    def explain(values):
        i = int(np.flatnonzero(values != expected)[0])
        raise CheckFailed(
            f"{what}: glyph {i} has {expected[i]} wrong pixel(s), you counted {values[i]:g}. Its pixel "
            f"{where[i]} has x = {cases[i][0]!r} and x_hat = {cases[i][1]!r}, which is {cases[i][2]}.",
            hint=INK_RULE)

    expect_counts(X, X_hat, expected, what, explain=explain)

    # Random grey glyphs, a single glyph, and many pixels: every value counts.
    rng = np.random.default_rng(12)
    for shape in ((1, 35), (40, 48)):
        X = rng.choice([0.0, 0.25, 0.5, 0.75, 1.0], size=shape)
        X_hat = rng.random(shape)
        X_hat[rng.random(shape) < 0.1] = THRESHOLD
        expect_counts(X, X_hat, _wrong_pixels(X, X_hat),
                      f"{name}(X, X_hat) for random grey X and X_hat of shape {shape}")
    passed("count_wrong_pixels counts the wrong pixels of every glyph, 0.5 and grey levels included.")


# ---------------------------------------------------------------------------------------------
# Exercise 1.2

# How near 0 and 1 the exercise lets X_hat be clipped (or shifted, as in log(x + eps)): any eps
# up to EPS_MAX. A confident wrong pixel (x_hat = 0 for x = 1, or 1 for 0) then costs between
# -log(EPS_MAX), about 16.1, and -log of the smallest positive float, about 744.4; anything else
# (nan or inf hidden by np.nan_to_num, a clip at 0.01) is wrong.
EPS_MAX = 1e-7
WRONG_PIXEL_MIN = -np.log(EPS_MAX) * (1 - 1e-6)
WRONG_PIXEL_MAX = -np.log(np.nextafter(0.0, 1.0))
# Almost confident, wrong pixels, from the most wrong to the least: each costs at most what the
# one before it costs (a clip or a shift never makes a pixel nearer the truth more expensive).
NEARLY_ZERO = (0.0, float(np.nextafter(0.0, 1.0)), 1e-300, 1e-30, 1e-12, 1e-9, 1e-7, 1e-5, 1e-3)
NEARLY_ONE = (1.0, float(np.nextafter(1.0, 0.0)), 1 - 1e-12, 1 - 1e-9, 1 - 1e-7, 1 - 1e-5, 1 - 1e-3)
# The smallest clip: 1 - eps rounds to 1 in float64 below eps of about 1e-16 (1 - 1e-20 == 1), and
# log(1 - x_hat) is then -inf at x_hat = 1.
EPS_RANGE = ("eps at least about 1e-16, since 1 - eps must stay below 1 in float64 (1 - 1e-20 rounds "
             "to 1), and at most 1e-7")
CLIP_HINT = f"Clip X_hat into [eps, 1 - eps], {EPS_RANGE}, before taking logs."


def check_binary_cross_entropy(binary_cross_entropy_fn):
    """Exercise 1.2: ``binary_cross_entropy_fn(X_hat, X)``, the mean over every entry, finite at 0 and 1.

    Values are compared with a relative tolerance of 1e-6 where X_hat lies in [0.05, 0.95]; at 0
    and 1 any clip (or shift inside the log) of at most 1e-7 is accepted (a clip of at least about
    1e-16, so that 1 - eps < 1 in float64).
    """
    name = "binary_cross_entropy"

    def run(X_hat, X, what):
        # log(0) in a first attempt warns; the check reports the resulting inf or nan itself.
        with np.errstate(all="ignore"):
            result = call(binary_cross_entropy_fn, X_hat, X, name=name,
                          on_error="X_hat and X have the same shape, (n_samples, n_features).")
        return result, _numbers(result, what)

    X_hat = np.array([[0.9, 0.2, 0.6], [0.3, 0.8, 0.5]])
    X = np.array([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]])
    terms = -(X * np.log(X_hat) + (1 - X) * np.log(1 - X_hat))
    what = f"{name}(X_hat=[[0.9, 0.2, 0.6], [0.3, 0.8, 0.5]], X=[[1, 0, 1], [0, 1, 1]])"
    raw, actual = run(X_hat, X, what)
    mistakes = [
        (terms.sum(), "That is the sum of all the terms; the loss is their mean: divide by the number "
                      "of entries n * d."),
        (terms.sum(axis=1).mean(), "That is the mean over glyphs of each glyph's sum. The book's loss "
                                   "averages over every entry (n * d of them), so that its size does not "
                                   "depend on the image size; use np.mean over the whole array."),
        (-terms.mean(), "Right size, wrong sign. The logs of probabilities are negative; "
                        "the loss puts a minus sign in front."),
        (terms.sum() / (len(X) * 35), "That divides by n * 35, the size of a glyph of the font; the loss "
                                      "is the mean over every entry of the arrays it is given, whatever their "
                                      "shape: divide by X.size (here 2 * 3), or use np.mean."),
        (terms.mean() / np.log(2), "That is the loss in bits (log base 2); the book's logs are natural "
                                   "logs, np.log."),
        (terms.mean() / np.log(10), "That is the loss with log base 10; the book's logs are natural "
                                    "logs, np.log."),
    ]
    for value, explanation in mistakes:
        if actual.shape == () and np.isclose(actual, value):
            raise CheckFailed(f"{what}:", expected=f"{terms.mean():.6g}", actual=f"{float(actual):.6g}",
                              hint=explanation)
    near = actual.shape == () and abs(float(actual) - terms.mean()) <= 1e-3 * terms.mean()
    expect_close(raw, terms.mean(), what,
                 hint="Close, but not equal: a shift or a clip by eps changes every term by about eps / x_hat. "
                      "Keep eps at most 1e-7 (the check allows a relative 1e-6 for x_hat in [0.05, 0.95])."
                 if near else "Average -(x log x_hat + (1 - x) log(1 - x_hat)) over every entry.")

    rng = np.random.default_rng(1)
    X = load_font()[0][:5]
    X_hat = rng.uniform(0.05, 0.95, X.shape)
    what = f"{name}(X_hat, X) for 5 glyphs (shape {X.shape}) and random probabilities"
    expect_close(run(X_hat, X, what)[0], binary_cross_entropy(X_hat, X), what,
                 hint="The loss is one number: the mean over all n * d entries.")

    X_gray = rng.uniform(0.0, 1.0, (3, 4))
    X_hat = rng.uniform(0.05, 0.95, (3, 4))
    what = f"{name}(X_hat, X) for gray targets X in [0, 1] (shape {X_gray.shape})"
    expect_close(run(X_hat, X_gray, what)[0], binary_cross_entropy(X_hat, X_gray), what,
                 hint="Weigh both terms by x and 1 - x for every entry rather than picking one of them "
                      "with a condition on x: targets may lie between 0 and 1.")

    X_hat = np.array([[1.0, 0.0, 0.8, 0.3]])
    X = np.array([[1.0, 0.0, 1.0, 0.0]])
    what = f"{name}(X_hat=[[1, 0, 0.8, 0.3]], X=[[1, 0, 1, 0]]), two confident, correct pixels"
    raw, actual = run(X_hat, X, what)
    if not np.all(np.isfinite(actual)):
        expect_float64(raw, what)
        raise CheckFailed(
            f"{what}: the loss is not finite.", expected=f"{binary_cross_entropy(X_hat, X):.6g}",
            actual=actual, hint="A confident, correct pixel (x_hat = 1 for x = 1) makes the other term "
            "0 * log(0) = 0 * (-inf) = nan. Keep the probabilities at least eps away from 0 and 1 "
            f"before taking logs, {EPS_RANGE}; e.g. np.clip(X_hat, 1e-12, 1 - 1e-12).")
    expect_close(raw, binary_cross_entropy(X_hat, X), what, atol=1e-6,
                 hint="Clip X_hat only a tiny distance eps away from 0 and 1 (at most 1e-7), so that the "
                      "loss of a confident, correct pixel stays almost exactly 0.")

    # Confident wrong pixels, alone and several at once: each must cost between -log(1e-7) and
    # -log(5e-324), and together their mean (a finite number, however many there are).
    allowed = f"between {WRONG_PIXEL_MIN:.1f} and {WRONG_PIXEL_MAX:.1f}"
    costs = []
    for x_hat, x in ((0.0, 1.0), (1.0, 0.0)):
        what = f"{name}(X_hat=[[{x_hat:g}]], X=[[{x:g}]]), one confident and wrong pixel"
        raw, cost = run(np.array([[x_hat]]), np.array([[x]]), what)
        if not (cost.shape == () and np.isfinite(cost) and WRONG_PIXEL_MIN <= cost <= WRONG_PIXEL_MAX):
            expect_float64(raw, what)
            raise CheckFailed(
                f"{what}: expected a large but finite loss, {allowed} (-log(eps) for a clip at eps, "
                "1e-7 or nearer to 0 and 1).", expected="27.631 with a clip at 1e-12", actual=cost,
                hint=f"Clip X_hat into [eps, 1 - eps], {EPS_RANGE}, before taking logs; "
                     "np.nan_to_num or a large eps hides the problem instead of solving it.")
        costs.append(float(cost))

    # A pixel exactly wrong may not cost less than one almost wrong: replacing inf by a fixed
    # number (np.nan_to_num(..., posinf=30)) gives x_hat = 0 a cost below that of x_hat = 1e-300.
    for x, nearly in ((1.0, NEARLY_ZERO), (0.0, NEARLY_ONE)):
        previous = None
        for x_hat in nearly:
            what = f"{name}(X_hat=[[{x_hat!r}]], X=[[{x:g}]])"
            raw, cost = run(np.array([[x_hat]]), np.array([[x]]), what)
            if not (cost.shape == () and np.isfinite(cost)):
                raise CheckFailed(f"{what}: expected a finite number, got {_listed(cost)}.", hint=CLIP_HINT)
            if previous is not None and cost > previous[1] * (1 + 1e-12):
                raise CheckFailed(
                    f"{what} = {float(cost):.6g} is more than {name}(X_hat=[[{previous[0]!r}]], "
                    f"X=[[{x:g}]]) = {previous[1]:.6g}: a pixel further from the truth must not cost "
                    "less. Did you replace inf by a fixed number (np.nan_to_num)? That hides the problem "
                    "instead of solving it.", hint=CLIP_HINT)
            previous = (x_hat, float(cost))

    X_hat = np.array([[0.0, 1.0, 0.0, 1.0, 0.5, 1.0], [1.0, 0.0, 0.0, 1.0, 0.0, 0.25]])
    X = np.array([[1.0, 0.0, 1.0, 0.0, 0.0, 1.0], [0.0, 1.0, 0.0, 1.0, 1.0, 1.0]])
    wrong_at_0 = int(((X_hat == 0) & (X == 1)).sum())
    wrong_at_1 = int(((X_hat == 1) & (X == 0)).sum())
    rest = (X_hat > 0) & (X_hat < 1)
    rest_terms = -(X * np.log(np.where(rest, X_hat, 0.5)) + (1 - X) * np.log(1 - np.where(rest, X_hat, 0.5)))
    expected = (wrong_at_0 * costs[0] + wrong_at_1 * costs[1] + rest_terms[rest].sum()) / X.size
    what = (f"{name}(X_hat, X) for 2 glyphs of 6 pixels with {wrong_at_0 + wrong_at_1} confident, wrong "
            "pixels, 3 confident, right ones and 2 others")
    raw, actual = run(X_hat, X, what)
    if not (actual.shape == () and np.isfinite(actual)):
        raise CheckFailed(f"{what}: the loss is not a finite number.", expected=f"{expected:.6g}", actual=actual,
                          hint=f"Clip X_hat into [eps, 1 - eps], {EPS_RANGE}, before taking logs; "
                               "np.nan_to_num turns -inf into -1.8e308, and two of those overflow.")
    expect_close(raw, expected, what, rtol=1e-6, atol=1e-6,
                 hint="Each confident, wrong pixel should cost what it costs alone (your value "
                      f"{costs[0]:.4g}), the confident, right ones about 0, and the loss is their mean.")

    # Grey targets at confident predictions: x_hat = 0 for x = g costs g * (-log eps) + (1 - g) *
    # (-log(1 - eps)), g times what it costs for x = 1 (to 1e-7, since eps is at most 1e-7). A cap
    # on each pixel's cost (np.minimum(terms, 100), np.nan_to_num) costs as much as a clip where
    # x is 0 or 1, but charges a grey target the whole cap.
    X_grey = np.array([[0.5, 0.25, 0.75, 0.5, 0.25, 0.75]])
    X_hat = np.array([[0.0, 0.0, 0.0, 1.0, 1.0, 1.0]])
    expected = float(np.mean(np.where(X_hat == 0, X_grey * costs[0], (1 - X_grey) * costs[1])))
    what = f"{name}(X_hat=[[0, 0, 0, 1, 1, 1]], X=[[0.5, 0.25, 0.75, 0.5, 0.25, 0.75]]), grey targets"
    raw, actual = run(X_hat, X_grey, what)
    if not (actual.shape == () and np.isfinite(actual)):
        raise CheckFailed(f"{what}: the loss is not a finite number.", expected=f"{expected:.6g}", actual=actual,
                          hint=CLIP_HINT)
    expect_close(raw, expected, what, rtol=1e-6, atol=1e-6,
                 hint=f"x_hat = 0 for x = 0.25 costs 0.25 times what it costs for x = 1 (your {costs[0]:.4g}): "
                      "clip X_hat first, then weigh the two logs by x and 1 - x. A cap on each pixel's cost "
                      "(np.minimum, np.nan_to_num) charges a grey target the whole cap instead.")
    passed("binary_cross_entropy agrees with aelib's and stays finite and large at confident, wrong pixels.")


# ---------------------------------------------------------------------------------------------
# Exercise 1.4

HIDDEN = [30, 20]
N_LATENT = 3
LR = 3e-3
DEFAULT_EPOCHS = 3000
# (data set, seed, epochs) of each call: two seeds on the letters, the second seed and epochs
# again on the digits, and the first seed again on the letters with the second's epochs, so that
# a model kept from an earlier call shows, whatever it was kept for (its seed, its seed and
# epochs, its data, its data and epochs). A few hundred epochs, other than the default, keep the
# check quick (the model is trained twice per call, by the reader and here) and show an ignored
# epochs.
TRAINING_CALLS = (("letters", 1, 600), ("letters", 2, 400), ("digits", 2, 400), ("letters", 1, 400))
SETTINGS = "aelib.Autoencoder([35, 30, 20, 3], seed=seed), trained with fit(X, epochs=epochs, lr=3e-3)"


# The exercise names aelib.Autoencoder and its fit; a copy of a model (copy.deepcopy, pickle)
# rebuilds its ParameterList.
TRAINING_ALLOWED = (Autoencoder, ParameterList)


def _trained(X, seed, epochs):
    model = Autoencoder([X.shape[1], *HIDDEN, N_LATENT], seed=seed)
    model.fit(X, epochs=epochs, lr=LR)
    return model


def _same(actual, expected):
    # The same computation in the same process gives the same bits, so nothing less is asked.
    return actual.shape == expected.shape and np.array_equal(actual, expected)


def _loss(X_hat, X):
    # The binary cross-entropy of any reconstruction the reader's model gives, for a message.
    P = np.clip(np.nan_to_num(np.asarray(X_hat, dtype=np.float64), nan=0.5), 1e-12, 1 - 1e-12)
    return float(np.mean(-(X * np.log(P) + (1 - X) * np.log(1 - P))))


def _expect_settings(model, X, seed, what):
    """For an aelib Autoencoder, name the setting that differs from the exercise's."""
    config = model.config
    sizes = [X.shape[1], *HIDDEN, N_LATENT]
    if list(config["sizes"]) != sizes:
        if config["sizes"][-1] != N_LATENT:
            problem = (f"a {config['sizes'][-1]}-dimensional code; the last entry of sizes is the code's "
                       "dimension, and this exercise asks for 3")
        else:
            problem = "other hidden layers than the chapter's model (30 and 20 units)"
        raise CheckFailed(f"{what} returned an autoencoder built with sizes {list(config['sizes'])}: {problem}.",
                          hint="Build aelib.Autoencoder([35, 30, 20, 3], seed=seed).")
    defaults = {"activation": "tanh", "output_activation": "sigmoid", "latent_activation": "identity",
                "loss": "bce", "dtype": "float64"}
    for key, value in defaults.items():
        if config[key] != value:
            raise CheckFailed(f"{what} returned an autoencoder built with {key}={config[key]!r}; the chapter's "
                              f"model uses {value!r} (aelib.Autoencoder's default): leave {key} out.")
    if config["seed"] != seed:
        shown = "seed=None, fresh randomness on every call," if config["seed"] is None else f"seed={config['seed']}"
        raise CheckFailed(
            f"{what} returned an autoencoder built with {shown} although the check passed seed={seed}. "
            "Build it with the seed you are given, aelib.Autoencoder([35, 30, 20, 3], seed=seed), so that "
            "the same seed gives the same model and another seed another model.")


def _kept_model(what, earlier):
    return CheckFailed(
        f"{what} returned the very model it returned when called with {earlier[0]}: a model kept from an "
        "earlier call. Build and train a new model every time the function is called, with the data, "
        "seed and epochs of that call.")


def _explain_difference(Z, model, X, dataset, seed, epochs, what, model_loss, reference_loss, earlier=()):
    """The codes Z of the reader's model differ from the reference model's: say why, if it is a
    known mistake (the rarer ones cost a training, but only when the answer is wrong). ``earlier``:
    the earlier calls (described) that returned this very model."""
    untrained = Autoencoder([X.shape[1], *HIDDEN, N_LATENT], seed=seed)
    if _same(Z, untrained.encode(X)):
        raise CheckFailed(f"{what} returned a model that was not trained: train it with "
                          "model.fit(X, epochs=epochs, lr=3e-3) before returning it.")
    if dataset == "digits":
        letters = load_font()[0]
        try:
            loss_letters = _loss(model.reconstruct(letters), letters)
        except Exception:  # a model that refuses other glyphs cannot tell us; the message below will
            loss_letters = np.inf
        if loss_letters < model_loss:
            raise CheckFailed(
                f"{what} returned a model that reconstructs the letters (loss {loss_letters:.3g}) better "
                f"than the {len(X)} digits it was given (loss {model_loss:.3g}): it was trained on the "
                "letters. Train a new model on the X passed to the function, every time it is called.")
    if epochs != DEFAULT_EPOCHS and _same(Z, _trained(X, seed, DEFAULT_EPOCHS).encode(X)):
        raise CheckFailed(f"{what} trained for {DEFAULT_EPOCHS} epochs, not for the epochs={epochs} the check "
                          "passed: use the epochs argument, fit(X, epochs=epochs, lr=3e-3).")
    if earlier:
        raise _kept_model(what, earlier)
    shown_expected, shown_actual = distinct_strings(reference_loss, model_loss)
    if abs(model_loss - reference_loss) <= 1e-6 * reference_loss:
        raise CheckFailed(
            f"{what} returned a model whose loss, {shown_actual}, is that of the exercise's model to 6 "
            "digits, but whose codes differ in their last digits: it was trained by another computation "
            "(the rows of X in another order, say). Train on X as it is given, with one call of "
            "fit(X, epochs=epochs, lr=3e-3): the same computation gives the same codes, to the last digit.")
    raise CheckFailed(
        f"{what} returned a model whose codes differ from those of {SETTINGS}, which the check trained "
        "with the same arguments: the same computation gives the same codes, to the last digit.",
        expected=f"loss {shown_expected} on X", actual=f"loss {shown_actual}",
        hint="Build the model with the seed passed in, train it once on the X passed in, with "
             "fit(X, epochs=epochs, lr=3e-3) (full batch and Adam, fit's defaults), and return it.")


def check_train_3d_autoencoder(train_3d_autoencoder):
    """Exercise 1.4: ``train_3d_autoencoder(X, seed, epochs)`` returns aelib.Autoencoder([35, 30, 20, 3],
    seed=seed) trained with fit(X, epochs=epochs, lr=3e-3).

    Called with seeds 1 and 2 on the letters, seed 2 on the digits and seed 1 again on the letters
    with other epochs; each model's codes, decoder and reconstructions must be those of the same
    model trained here (same process, same bits), and no call may return an earlier call's model.
    """
    name = "train_3d_autoencoder"
    data = {"letters": load_font()[0], "digits": load_font_digits()[0]}
    returned = []
    for dataset, seed, epochs in TRAINING_CALLS:
        X = data[dataset]
        what = f"{name}(X, seed={seed}, epochs={epochs}) on the {len(X)} {dataset}"
        model = call(train_3d_autoencoder, X, seed=seed, epochs=epochs, name=name, allowed=TRAINING_ALLOWED,
                     on_refused=lambda called: (
                         f"{name} calls {called}, which is part of aelib. This exercise builds "
                         "aelib.Autoencoder([35, 30, 20, 3], seed=seed) and trains it with one call of its fit "
                         "method, fit(X, epochs=epochs, lr=3e-3), so the check allows only "
                         "aelib.autoencoder.Autoencoder and refuses every other call into aelib."),
                     on_error=f"The exercise's function is {name}(X, seed=0, epochs=3000): it takes the "
                              "data, the seed and the number of epochs.")
        earlier = [call_made for call_made, model_made in returned if model_made is model]
        returned.append((f"seed={seed}, epochs={epochs} on the {dataset}", model))
        for method in ("encode", "decode", "reconstruct"):
            if not callable(getattr(model, method, None)):
                raise CheckFailed(f"{what} returned {type(model).__name__}, which has no {method}() method; "
                                  "return the trained aelib.Autoencoder (fit returns the losses, not the model).")
        if isinstance(model, Autoencoder):
            try:
                _expect_settings(model, X, seed, what)
            except CheckFailed:
                if earlier:
                    raise _kept_model(what, earlier) from None
                raise
        Z = _numbers(call(model.encode, X, name="model.encode", allowed=(Autoencoder,)), f"model.encode(X), {what}")
        if Z.shape != (len(X), N_LATENT):
            raise CheckFailed(
                f"model.encode(X) for the model of {what}: expected codes of shape ({len(X)}, 3), got "
                f"{Z.shape}. The last entry of sizes is the code's dimension: aelib.Autoencoder([35, 30, 20, 3]).")
        distances = np.linalg.norm(Z[:, None, :] - Z[None, :, :], axis=2) + np.diag(np.full(len(Z), np.inf))
        if distances.min() < 1e-9:
            i, j = np.unravel_index(np.argmin(distances), distances.shape)
            raise CheckFailed(f"model.encode(X) for the model of {what} gives glyphs {i} and {j} the same code, "
                              "so no decoder can tell them apart: return the trained aelib.Autoencoder.")
        reference = _trained(X, seed, epochs)
        Z_expected, X_hat_expected = reference.encode(X), reference.reconstruct(X)
        X_hat = _numbers(call(model.reconstruct, X, name="model.reconstruct", allowed=(Autoencoder,)),
                         f"model.reconstruct(X), {what}")
        if X_hat.shape != X.shape:
            raise CheckFailed(f"model.reconstruct(X) for the model of {what}: expected shape {X.shape}, "
                              f"got {X_hat.shape}.")
        if not _same(Z, Z_expected):
            _explain_difference(Z, model, X, dataset, seed, epochs, what, _loss(X_hat, X), _loss(X_hat_expected, X),
                                earlier)
        decoded = _numbers(call(model.decode, Z, name="model.decode", allowed=(Autoencoder,)),
                           f"model.decode(Z), {what}")
        if not _same(decoded, X_hat_expected):
            raise CheckFailed(f"model.decode(model.encode(X)) for the model of {what} is not what the "
                              "exercise's model draws from its codes: return the trained aelib.Autoencoder.")
        if not _same(X_hat, decoded):
            raise CheckFailed(f"model.reconstruct(X) for the model of {what} differs from "
                              "model.decode(model.encode(X)): reconstruct must decode the codes of encode.")
    passed("train_3d_autoencoder trains the chapter's model with a 3-D code, on the data and with the "
           "seed and epochs it is given (two seeds on the letters, one on the digits).")


# ---------------------------------------------------------------------------------------------
# Exercise 1.5

class StandInModel:
    """A stand-in for a trained model whose reconstructions the check chose, so that it knows every
    answer in advance and runs in no time. It has the methods of an aelib model: encode gives each
    glyph of X_unseen a code of its own, decode draws the chosen reconstruction of a code, and
    reconstruct is decode(encode(X)). It refuses any other glyph, as the exercise asks about
    X_unseen alone."""

    n_latent = 2

    def __init__(self, X_unseen, X_hat):
        self._X_in, self._X_hat = X_unseen.copy(), X_hat.copy()
        self.n_features = X_unseen.shape[1]

    def __repr__(self):
        return "<a model whose reconstructions the check chose>"

    @staticmethod
    def _matrix(X, name, width):
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != width:
            hint = " (use X.reshape(1, -1) for a single sample)" if X.ndim == 1 else ""
            raise ValueError(f"{name} must be 2-D (n_samples, {width}), got shape {X.shape}{hint}")
        return X

    def encode(self, X):
        """X: (n_samples, n_features) rows of X_unseen -> Z: (n_samples, 2), one code per glyph."""
        X = self._matrix(X, "X", self.n_features)
        # A copy through float32 is still the same glyph.
        same = np.all(np.abs(X[:, None, :] - self._X_in[None, :, :]) <= 1e-6, axis=2)
        if not same.any(axis=1).all():
            raise CheckFailed("Reconstruct the unseen glyphs themselves, model.reconstruct(X_unseen): the "
                              "exercise measures how the model draws glyphs it never saw.")
        index = same.argmax(axis=1)
        return np.column_stack([index + 1.0, -(index + 1.0)])

    def decode(self, Z):
        """Z: (n_samples, 2) codes from encode -> X_hat: (n_samples, n_features)."""
        Z = self._matrix(Z, "Z", self.n_latent)
        index = np.rint(Z[:, 0]).astype(int) - 1
        if not (np.all((index >= 0) & (index < len(self._X_in))) and np.array_equal(Z[:, 1], -Z[:, 0])):
            raise CheckFailed("model.decode was given codes that model.encode did not make: decode the codes "
                              "of the unseen glyphs, model.decode(model.encode(X_unseen)).")
        return self._X_hat[index].copy()

    def reconstruct(self, X):
        """X: (n_samples, n_features) -> X_hat = decode(encode(X))."""
        return self.decode(self.encode(X))


def _unseen_letters_case():
    """The digits 0-9 and the 27 letters, with reconstructions chosen so that each usual mistake
    gives other numbers: pixels just past 0.5 and exactly at it, an n whose probabilities are
    nearer to r than its drawn pixels are, a c that becomes an o if 0.5 were ink, and a tie."""
    X_train, labels = load_font()
    X_unseen = load_font_digits()[0]
    index = {letter: labels.index(letter) for letter in labels}
    rows = []

    def confident(letter, low=0.2, high=0.8):
        return np.where(X_train[index[letter]] > THRESHOLD, high, low)

    z = confident("z")  # a z with two pixels just flipped
    z[:2] = np.where(X_train[index["z"], :2] > THRESHOLD, 0.45, 0.55)
    rows.append(z)
    # An n with one confident pixel of the r and, just on the n's side, the two others in which n
    # and r differ: nearest to n by drawn pixels, nearest to r by the probabilities (euclidean or L1).
    n, r = index["n"], index["r"]
    x_n = confident("n", 0.02, 0.98)
    differ = np.flatnonzero(X_train[n] != X_train[r])
    x_n[differ[0]] = 0.98 if X_train[r, differ[0]] > THRESHOLD else 0.02
    x_n[differ[1:]] = np.where(X_train[n, differ[1:]] > THRESHOLD, 0.51, 0.49)
    rows.append(x_n)
    # A c whose two pixels that only the o has are exactly 0.5: blank, so a c; an o if 0.5 were ink.
    c, o = index["c"], index["o"]
    x_c = confident("c", 0.1, 0.9)
    x_c[(X_train[o] > THRESHOLD) & (X_train[c] <= THRESHOLD)] = THRESHOLD
    rows.append(x_c)
    # An n with one of the two pixels in which h differs from it: as near to h as to n. argmin
    # names the first of them, h.
    h = index["h"]
    x_tie = confident("n", 0.05, 0.95)
    x_tie[np.flatnonzero(X_train[h] != X_train[n])[0]] = 0.95
    rows.append(x_tie)
    # The digit 4 itself, with two of its blank pixels reconstructed as exactly 0.5 (right), two of
    # its ink pixels as exactly 0.5 (wrong) and pixels a hair on either side of 0.5.
    four = X_unseen[4]
    x_4 = np.where(four > THRESHOLD, 0.7, 0.3)
    ink, blank = np.flatnonzero(four > THRESHOLD), np.flatnonzero(four <= THRESHOLD)
    x_4[blank[:2]] = THRESHOLD
    x_4[ink[:2]] = THRESHOLD
    x_4[blank[2]], x_4[ink[2]] = JUST_BELOW, JUST_ABOVE
    rows.append(x_4)
    e = confident("e", 0.05, 0.95)
    e[:4] = np.where(X_train[index["e"], :4] > THRESHOLD, 0.49, 0.51)
    rows.append(e)
    for letter, low, high in (("d", 0.3, 0.7), ("f", 0.01, 0.99), ("l", 0.45, 0.55), ("q", 0.2, 0.8)):
        rows.append(confident(letter, low, high))
    return X_unseen, X_train, np.array(rows)


def _unseen_grey_case():
    """Grey glyphs of other sizes (4 unseen, 6 training glyphs), some values exactly 0.5, so that a
    count that does not threshold X_unseen or X_train, or that knows the sizes 10 and 27, shows."""
    rng = np.random.default_rng(15)
    shapes = (rng.random((6, 35)) < 0.4)
    X_train = np.where(shapes, rng.uniform(0.6, 1.0, shapes.shape), rng.uniform(0.0, 0.4, shapes.shape))
    X_train[~shapes & (rng.random(shapes.shape) < 0.1)] = THRESHOLD
    # Unseen glyphs: training shapes with a few pixels changed; their reconstructions are nearest to
    # other training glyphs than the unseen glyphs themselves.
    unseen = shapes[[3, 1, 4, 5]].copy()
    unseen[:, :5] = ~unseen[:, :5]
    X_unseen = np.where(unseen, rng.uniform(0.55, 1.0, unseen.shape), rng.uniform(0.0, 0.45, unseen.shape))
    X_unseen[~unseen & (rng.random(unseen.shape) < 0.1)] = THRESHOLD
    drawn = shapes[[2, 5, 0, 4]].copy()
    drawn[:, 30:] = ~drawn[:, 30:]
    X_hat = np.where(drawn, rng.uniform(0.5 + 1e-9, 0.99, drawn.shape), rng.uniform(0.01, 0.5, drawn.shape))
    X_hat[~drawn & (rng.random(drawn.shape) < 0.1)] = THRESHOLD
    # Two training glyphs near the first reconstruction: glyph 2 two pixels away, and glyph 3 the
    # same drawing with three of its ink pixels exactly 0.5, so blank: three pixels away, but none
    # if 0.5 were ink.
    ink = np.flatnonzero(drawn[0])
    near = drawn[0].copy()
    near[[0, 1]] = ~near[[0, 1]]
    X_train[2] = np.where(near, rng.uniform(0.6, 1.0, 35), rng.uniform(0.0, 0.4, 35))
    X_train[3] = np.where(drawn[0], rng.uniform(0.6, 1.0, 35), rng.uniform(0.0, 0.4, 35))
    X_train[3, ink[-3:]] = THRESHOLD
    return X_unseen, X_train, X_hat


def _unseen_many_case():
    """More glyphs than the font's digits and letters (12 unseen, 30 training), so that an answer
    that knows the sizes 10 and 27 shows; the last 6 training glyphs repeat glyphs drawn by the
    model, so that 6 reconstructions have two nearest training glyphs (np.argmin names the first;
    a sort that does not keep the order of ties, such as np.argsort's default, may not)."""
    rng = np.random.default_rng(16)
    X_train = (rng.random((24, 35)) < 0.4).astype(np.float64)
    X_unseen = (rng.random((12, 35)) < 0.4).astype(np.float64)
    drawn = rng.permutation(24)[:12]
    X_hat = np.clip(X_train[drawn] * 0.8 + 0.1 + rng.normal(0.0, 0.2, (12, 35)), 0.0, 1.0)
    return X_unseen, np.vstack([X_train, X_train[drawn[:6]]]), X_hat


# Models of aelib's own: a call of their methods by measure_unseen measures a model other than the one passed in.
_MODEL_CLASSES = ("Autoencoder", "VAE", "EncoderDecoder", "MLP", "PCA")


def check_measure_unseen(measure_unseen):
    """Exercise 1.5: ``measure_unseen(model, X_unseen, X_train)`` returns (wrong, nearest).

    wrong: (n_unseen,) the wrong pixels of each unseen glyph's reconstruction (as in Exercise 1.1);
    nearest: (n_unseen,) integers, the index of the row of X_train nearest in Hamming distance to
    each reconstruction (both thresholded at 0.5; the first such row on a tie, as np.argmin gives).
    Tried on the digits and the letters, then on grey glyphs of other sizes and on more glyphs than
    the font has; the model is a stand-in whose reconstructions the check chose (with encode,
    decode and reconstruct).
    """
    name = "measure_unseen"

    def refused(called):
        *_, owner, last = called.split(".")
        if owner in _MODEL_CLASSES or last in _MODEL_CLASSES:
            what = "a method of a model of aelib's own, not of" if owner in _MODEL_CLASSES else \
                "a model of aelib's own, not"
            return (f"{name} calls {called}, {what} the model passed in (the check passes a stand-in whose "
                    "reconstructions it chose). Measure the model you are given, model.reconstruct(X_unseen), "
                    "not a model defined outside the function (such as ae) or built inside it.")
        return None

    for case, description in ((_unseen_letters_case, "the 10 digits and the 27 letters"),
                              (_unseen_grey_case, "4 unseen and 6 training glyphs in grey levels"),
                              (_unseen_many_case, "12 unseen and 30 training glyphs")):
        X_unseen, X_train, X_hat = case()
        what = f"{name}(model, X_unseen, X_train) for {description}"
        result = call(measure_unseen, StandInModel(X_unseen, X_hat), X_unseen, X_train, name=name,
                      allowed=(glyph_distances, StandInModel), on_refused=refused,
                      on_error="X_unseen: (n_unseen, 35) and X_train: (n_train, 35); the model's "
                               "reconstruct takes and returns (n_samples, 35).")
        _expect_unseen(result, X_unseen, X_train, X_hat, what)
    passed(f"{name} counts the wrong pixels of each unseen glyph and finds the training glyph nearest to "
           "its reconstruction.")


def _probability_distances(X_hat, X_train):
    # Distances between probabilities instead of drawn pixels, computed as answers would: their
    # nearest glyphs can differ in a tie (or a near tie) from one way of computing to another.
    difference = X_hat[:, None, :] - X_train[None, :, :]
    squared = (X_hat ** 2).sum(axis=1, keepdims=True) + (X_train ** 2).sum(axis=1) - 2.0 * X_hat @ X_train.T
    return [np.linalg.norm(difference, axis=2), (difference ** 2).sum(axis=2), squared,
            np.sqrt(np.maximum(squared, 0.0)), np.abs(difference).sum(axis=2)]


def _expect_unseen(result, X_unseen, X_train, X_hat, what):
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        raise CheckFailed(f"{what}: expected two arrays (wrong, nearest), got {type(result).__name__}"
                          + (f" of length {len(result)}" if isinstance(result, (tuple, list)) else "") + ".")
    n_unseen = len(X_unseen)
    expected_wrong = _wrong_pixels(X_unseen, X_hat)
    hamming = _hamming(X_hat, X_train)
    expected_nearest = hamming.argmin(axis=1)

    wrong = _numbers(result[0], f"wrong, from {what}")
    what_wrong = f"wrong, from {what}"
    if wrong.shape == (n_unseen,) and not np.array_equal(wrong, expected_wrong):
        mistakes = [
            (hamming.min(axis=1), "that is the distance to the nearest training glyph. A wrong pixel compares "
             "a reconstruction with its own unseen glyph, X_unseen."),
            (((X_hat >= THRESHOLD) != (X_unseen > THRESHOLD)).sum(axis=1),
             "a reconstructed pixel of exactly 0.5 counted as ink. It is blank: ink is > 0.5, not >= 0.5."),
            (((X_hat > THRESHOLD) != (X_unseen >= THRESHOLD)).sum(axis=1),
             "a pixel of X_unseen of exactly 0.5 counted as ink. It is blank: ink is > 0.5, not >= 0.5."),
            (((X_hat > THRESHOLD) != X_unseen).sum(axis=1),
             "X_unseen holds grey levels here (values such as 0.3 or 0.8): threshold it at 0.5 too."),
        ]
        for mistake, explanation in mistakes:
            if np.array_equal(wrong, mistake):
                raise CheckFailed(f"{what_wrong}: got {_listed(wrong)}: {explanation}")
    _expect_counts(result[0], expected_wrong, X_unseen, X_hat, what_wrong, reference="X_unseen")

    what_nearest = f"nearest, from {what}"
    nearest = _numbers(result[1], what_nearest)
    if nearest.shape == (len(X_train),) and len(X_train) != n_unseen:
        raise CheckFailed(f"{what_nearest}: expected one index per unseen glyph, shape ({n_unseen},), got "
                          f"{nearest.shape}: one per training glyph. Take argmin over the training glyphs, "
                          "axis=1 of distances of shape (n_unseen, n_train).")
    if nearest.shape == (n_unseen,) and not np.array_equal(nearest, expected_nearest):
        last = len(X_train) - 1 - hamming[:, ::-1].argmin(axis=1)
        mistakes = [
            (_hamming(X_unseen, X_train).argmin(axis=1), "that is the training glyph nearest to each unseen "
             "glyph itself. The question is what the model draws: compare its reconstruction with X_train."),
            (hamming.argmax(axis=1), "that is the farthest training glyph; use argmin of the distances."),
            *[(distances.argmin(axis=1), "you compared the probabilities (a euclidean distance or the sum of "
               "|x_hat - x|), not the drawn pixels. Threshold the reconstruction at 0.5 and count the pixels "
               "that differ.") for distances in _probability_distances(X_hat, X_train)],
            (((X_hat[:, None, :] >= THRESHOLD) != (X_train[None, :, :] > THRESHOLD)).sum(axis=2).argmin(axis=1),
             "a reconstructed pixel of exactly 0.5 counted as ink. It is blank: ink is > 0.5, not >= 0.5."),
            (((X_hat[:, None, :] > THRESHOLD) != (X_train[None, :, :] >= THRESHOLD)).sum(axis=2).argmin(axis=1),
             "a training pixel of exactly 0.5 counted as ink. It is blank: ink is > 0.5, not >= 0.5."),
            (((X_hat[:, None, :] > THRESHOLD) != X_train[None, :, :]).sum(axis=2).argmin(axis=1),
             "X_train holds grey levels here (values such as 0.3 or 0.8): threshold it at 0.5 too."),
            (last, "on a tie you named the last of the nearest training glyphs; the exercise asks for "
             "the first, as np.argmin gives (a loop that keeps a glyph only when it is strictly nearer)."),
        ]
        letters = load_font()[0]
        if not (X_train.shape == letters.shape and np.array_equal(X_train, letters)):
            mistakes.append((_hamming(X_hat, letters).argmin(axis=1), "those are the letters nearest to each "
                             "reconstruction, but X_train holds other glyphs here: compare with the X_train "
                             "passed in, not with the letters X defined outside the function."))
        for mistake, explanation in mistakes:
            if np.array_equal(nearest, mistake):
                raise CheckFailed(f"{what_nearest}: got {_listed(nearest)}: {explanation}",
                                  expected=_listed(expected_nearest))
        indices = nearest.astype(int)
        if (np.array_equal(indices, nearest) and np.all((indices >= 0) & (indices < len(X_train)))
                and np.array_equal(hamming[np.arange(n_unseen), indices], hamming.min(axis=1))):
            i = int(np.flatnonzero(indices != expected_nearest)[0])
            raise CheckFailed(
                f"{what_nearest}: reconstruction {i} is as near to training glyphs {expected_nearest[i]} and "
                f"{indices[i]} ({hamming[i, indices[i]]} pixels away); you named {indices[i]}, but on a tie the "
                "exercise asks for the first, as np.argmin gives. A sort does not always keep the order of "
                "ties (np.argsort's default does not): take argmin, or sort with kind='stable'.",
                expected=_listed(expected_nearest), actual=_listed(nearest))
    expect_close(nearest, expected_nearest, what_nearest, rtol=0, atol=0,
                 hint="The Hamming distance from each thresholded reconstruction to each thresholded "
                      "training glyph, then argmin over the training glyphs "
                      "(aelib.denoising.glyph_distances(X_hat, X_train) computes the distances).")
    if np.asarray(result[1]).dtype.kind not in "iu":
        raise CheckFailed(f"{what_nearest}: the indices are {np.asarray(result[1]).dtype}; return integers "
                          "(argmin gives them), so that X_train[nearest] picks the glyphs.")
