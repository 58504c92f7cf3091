"""Checks for the exercises of chapter 1, "The autoencoder".

Each check runs the reader's function on inputs chosen so that the usual mistakes show (a total
instead of one count per glyph, probabilities compared without a threshold, a sum instead of a
mean, log(0) at a confident pixel, an untrained or two-dimensional model), compares the result
with aelib's own computation, and names the mistake.
"""
import numpy as np

from ..data import load_font, load_font_digits
from ..denoising import glyph_distances
from ..autoencoder import Autoencoder
from ..losses import binary_cross_entropy
from .feedback import CheckFailed, call, expect_close, passed

__all__ = ["check_count_wrong_pixels", "check_binary_cross_entropy", "check_train_3d_autoencoder",
           "check_measure_unseen"]

THRESHOLD = 0.5


def _wrong_pixels(X, X_hat):
    # The book's definition: a pixel is ink when its value is greater than 0.5.
    return ((X_hat > THRESHOLD) != (X > THRESHOLD)).sum(axis=1)


def _as_array(value, what):
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise CheckFailed(f"{what}: expected numbers, got {type(value).__name__} {value!r}") from None


def _call_unchanged(function, name, *arrays, allowed=(), **kwargs):
    """Call the reader's function (``call`` also makes sure it did not modify its input arrays)."""
    return call(function, *arrays, name=name, allowed=allowed, **kwargs)


def check_count_wrong_pixels(count_wrong_pixels):
    """Exercise 1.1: ``count_wrong_pixels(X, X_hat)`` returns the wrong pixels of every glyph, shape (n,)."""
    X = load_font()[0][:4]
    # Confident reconstructions, plus pixels just on the right side of the threshold, which a
    # function that compares X_hat with X without thresholding would count as wrong.
    X_hat = np.where(X > THRESHOLD, 0.9, 0.1)
    X_hat[0, :3] = np.where(X[0, :3] > THRESHOLD, 0.55, 0.45)
    flips = {1: [0], 2: [4, 10, 20], 3: [1, 2, 3, 12, 30, 34]}
    for glyph, pixels in flips.items():
        X_hat[glyph, pixels] = np.where(X[glyph, pixels] > THRESHOLD, 0.3, 0.7)
    expected = _wrong_pixels(X, X_hat)  # [0, 1, 3, 6]
    what = "count_wrong_pixels(X, X_hat) for 4 glyphs with 0, 1, 3 and 6 wrong pixels"
    actual = _as_array(_call_unchanged(count_wrong_pixels, "count_wrong_pixels", X, X_hat), what)
    if actual.shape == ():
        hint = " That is the total over all glyphs." if actual == expected.sum() else ""
        raise CheckFailed(
            f"{what}: expected one count per glyph, an array of shape {expected.shape}, got the single "
            f"number {float(actual):g}.{hint} Sum the wrong pixels of each row: .sum(axis=1).")
    if actual.shape == (X.shape[1],):
        raise CheckFailed(f"{what}: expected shape {expected.shape}, got {actual.shape}: one count per "
                          "pixel position. Rows are glyphs, so sum over axis=1, not axis=0.")
    if actual.shape == X.shape:
        raise CheckFailed(f"{what}: expected shape {expected.shape}, got {actual.shape}: that is one value "
                          "per pixel. Count the wrong pixels of each glyph with .sum(axis=1).")
    if actual.shape == expected.shape and np.allclose(actual, (X_hat != X).sum(axis=1)):
        raise CheckFailed(
            f"{what}: got {actual.astype(int).tolist()}: every pixel counted as wrong. X_hat holds "
            "probabilities such as 0.9 or 0.1, which never equal the 0s and 1s of X; threshold "
            "X_hat at 0.5 before comparing.")
    expect_close(actual, expected, what, hint="A pixel is wrong when (X_hat > 0.5) and (X > 0.5) disagree.")

    X_half = X[:1]
    X_hat_half = np.where(X_half > THRESHOLD, 0.9, 0.1)
    ink = int(np.flatnonzero(X_half[0] > THRESHOLD)[0])
    X_hat_half[0, ink] = THRESHOLD
    actual = _as_array(_call_unchanged(count_wrong_pixels, "count_wrong_pixels", X_half, X_hat_half), what)
    expect_close(actual, [1], "count_wrong_pixels(X, X_hat) for one glyph whose ink pixel "
                 f"{ink} is reconstructed as exactly 0.5",
                 hint="A pixel is ink only when its value is greater than 0.5; exactly 0.5 counts as "
                      "blank (use X_hat > 0.5, as the chapter does).")
    passed("count_wrong_pixels counts the wrong pixels of every glyph.")


# How near 0 and 1 the exercise lets X_hat be clipped (or shifted, as in log(x + eps)): any eps
# up to EPS_MAX. A confident wrong pixel (x_hat = 0 for x = 1, or 1 for 0) then costs between
# -log(EPS_MAX), about 16.1, and -log of the smallest positive float, about 744.4; anything else
# (nan or inf hidden by np.nan_to_num, a clip at 0.01) is wrong.
EPS_MAX = 1e-7
WRONG_PIXEL_MIN = -np.log(EPS_MAX) * (1 - 1e-6)
WRONG_PIXEL_MAX = -np.log(np.nextafter(0.0, 1.0))


def check_binary_cross_entropy(binary_cross_entropy_fn):
    """Exercise 1.2: ``binary_cross_entropy_fn(X_hat, X)``, the mean over every entry, finite at 0 and 1.

    Values are compared with a relative tolerance of 1e-6; at 0 and 1 any clip (or shift inside
    the log) of at most 1e-7 is accepted.
    """
    name = "binary_cross_entropy"

    def run(X_hat, X, what):
        # log(0) in a first attempt warns; the check reports the resulting inf or nan itself.
        with np.errstate(all="ignore"):
            return _as_array(_call_unchanged(binary_cross_entropy_fn, name, X_hat, X), what)

    X_hat = np.array([[0.9, 0.2, 0.6], [0.3, 0.8, 0.5]])
    X = np.array([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]])
    terms = -(X * np.log(X_hat) + (1 - X) * np.log(1 - X_hat))
    what = f"{name}(X_hat=[[0.9, 0.2, 0.6], [0.3, 0.8, 0.5]], X=[[1, 0, 1], [0, 1, 1]])"
    actual = run(X_hat, X, what)
    mistakes = [
        (terms.sum(), "That is the sum of all the terms; the loss is their mean: divide by the number "
                      "of entries n * d."),
        (terms.sum(axis=1).mean(), "That is the mean over glyphs of each glyph's sum. The book's loss "
                                   "averages over every entry (n * d of them), so that its size does not "
                                   "depend on the image size; use np.mean over the whole array."),
        (-terms.mean(), "Right size, wrong sign. The logs of probabilities are negative; "
                        "the loss puts a minus sign in front."),
    ]
    for value, explanation in mistakes:
        if actual.shape == () and np.isclose(actual, value):
            raise CheckFailed(f"{what}:", expected=f"{terms.mean():.6g}", actual=f"{float(actual):.6g}",
                              hint=explanation)
    expect_close(actual, terms.mean(), what,
                 hint="Average -(x log x_hat + (1 - x) log(1 - x_hat)) over every entry.")

    rng = np.random.default_rng(1)
    X = load_font()[0][:5]
    X_hat = rng.uniform(0.05, 0.95, X.shape)
    what = f"{name}(X_hat, X) for 5 glyphs (shape {X.shape}) and random probabilities"
    expect_close(run(X_hat, X, what), binary_cross_entropy(X_hat, X), what,
                 hint="The loss is one number: the mean over all n * d entries.")

    X_gray = rng.uniform(0.0, 1.0, (3, 4))
    X_hat = rng.uniform(0.05, 0.95, (3, 4))
    what = f"{name}(X_hat, X) for gray targets X in [0, 1] (shape {X_gray.shape})"
    expect_close(run(X_hat, X_gray, what), binary_cross_entropy(X_hat, X_gray), what,
                 hint="Weigh both terms by x and 1 - x for every entry rather than picking one of them "
                      "with a condition on x: targets may lie between 0 and 1.")

    X_hat = np.array([[1.0, 0.0, 0.8, 0.3]])
    X = np.array([[1.0, 0.0, 1.0, 0.0]])
    what = f"{name}(X_hat=[[1, 0, 0.8, 0.3]], X=[[1, 0, 1, 0]]), two confident, correct pixels"
    actual = run(X_hat, X, what)
    if not np.all(np.isfinite(actual)):
        raise CheckFailed(
            f"{what}: the loss is not finite.", expected=f"{binary_cross_entropy(X_hat, X):.6g}",
            actual=actual, hint="A confident, correct pixel (x_hat = 1 for x = 1) makes the other term "
            "0 * log(0) = 0 * (-inf) = nan. Keep the probabilities at least eps away from 0 and 1 "
            "(eps at most 1e-7) before taking logs, e.g. np.clip(X_hat, 1e-12, 1 - 1e-12).")
    expect_close(actual, binary_cross_entropy(X_hat, X), what, atol=1e-6,
                 hint="Clip X_hat only a tiny distance eps away from 0 and 1 (at most 1e-7), so that the "
                      "loss of a confident, correct pixel stays almost exactly 0.")

    # Confident wrong pixels, alone and several at once: each must cost between -log(1e-7) and
    # -log(5e-324), and together their mean (a finite number, however many there are).
    allowed = f"between {WRONG_PIXEL_MIN:.1f} and {WRONG_PIXEL_MAX:.1f}"
    costs = []
    for x_hat, x in ((0.0, 1.0), (1.0, 0.0)):
        what = f"{name}(X_hat=[[{x_hat:g}]], X=[[{x:g}]]), one confident and wrong pixel"
        cost = run(np.array([[x_hat]]), np.array([[x]]), what)
        if not (cost.shape == () and np.isfinite(cost) and WRONG_PIXEL_MIN <= cost <= WRONG_PIXEL_MAX):
            raise CheckFailed(
                f"{what}: expected a large but finite loss, {allowed} (-log(eps) for a clip at eps, "
                "1e-7 or nearer to 0 and 1).", expected="27.631 with a clip at 1e-12", actual=cost,
                hint="Clip X_hat into [eps, 1 - eps] with a tiny eps (at most 1e-7), before taking logs; "
                     "np.nan_to_num or a large eps hides the problem instead of solving it.")
        costs.append(float(cost))
    X_hat = np.array([[0.0, 1.0, 0.0, 1.0, 0.5, 1.0], [1.0, 0.0, 0.0, 1.0, 0.0, 0.25]])
    X = np.array([[1.0, 0.0, 1.0, 0.0, 0.0, 1.0], [0.0, 1.0, 0.0, 1.0, 1.0, 1.0]])
    wrong_at_0 = int(((X_hat == 0) & (X == 1)).sum())
    wrong_at_1 = int(((X_hat == 1) & (X == 0)).sum())
    rest = (X_hat > 0) & (X_hat < 1)
    rest_terms = -(X * np.log(np.where(rest, X_hat, 0.5)) + (1 - X) * np.log(1 - np.where(rest, X_hat, 0.5)))
    expected = (wrong_at_0 * costs[0] + wrong_at_1 * costs[1] + rest_terms[rest].sum()) / X.size
    what = (f"{name}(X_hat, X) for 2 glyphs of 6 pixels with {wrong_at_0 + wrong_at_1} confident, wrong "
            "pixels, 3 confident, right ones and 2 others")
    actual = run(X_hat, X, what)
    if not (actual.shape == () and np.isfinite(actual)):
        raise CheckFailed(f"{what}: the loss is not a finite number.", expected=f"{expected:.6g}", actual=actual,
                          hint="Clip X_hat into [eps, 1 - eps] (eps at most 1e-7) before taking logs; "
                               "np.nan_to_num turns -inf into -1.8e308, and two of those overflow.")
    expect_close(actual, expected, what, rtol=1e-6, atol=1e-6,
                 hint="Each confident, wrong pixel should cost what it costs alone (your value "
                      f"{costs[0]:.4g}), the confident, right ones about 0, and the loss is their mean.")
    passed("binary_cross_entropy agrees with aelib's and stays finite and large at confident, wrong pixels.")


def check_train_3d_autoencoder(train_3d_autoencoder):
    """Exercise 1.4: ``train_3d_autoencoder(X, seed)`` returns a trained autoencoder with a 3-D code."""
    name = "train_3d_autoencoder"
    X, labels = load_font()
    model = _call_unchanged(train_3d_autoencoder, name, X, seed=0, allowed=(Autoencoder,))
    for method in ("encode", "decode", "reconstruct"):
        if not callable(getattr(model, method, None)):
            raise CheckFailed(f"{name}(X, seed=0) returned {type(model).__name__}, which has no {method}() "
                              "method; return the trained aelib.Autoencoder.")
    Z = _as_array(call(model.encode, X, name="model.encode", allowed=(Autoencoder,)), "model.encode(X)")
    if Z.shape != (len(X), 3):
        raise CheckFailed(
            f"model.encode(X) for the {len(X)} letters: expected codes of shape ({len(X)}, 3), got {Z.shape}. "
            "The last entry of sizes is the latent dimension: e.g. aelib.Autoencoder([35, 30, 20, 3]).")
    distances = np.linalg.norm(Z[:, None, :] - Z[None, :, :], axis=2)
    np.fill_diagonal(distances, np.inf)
    if distances.min() < 1e-6:
        i, j = np.unravel_index(np.argmin(distances), distances.shape)
        raise CheckFailed(f"model.encode(X) gives the letters {labels[i]!r} and {labels[j]!r} the same code; "
                          "a decoder cannot tell them apart. Train the model with fit().")
    X_hat = _as_array(call(model.decode, Z, name="model.decode", allowed=(Autoencoder,)), "model.decode(Z)")
    if X_hat.shape != X.shape:
        raise CheckFailed(f"model.decode(Z): expected reconstructions of shape {X.shape}, got {X_hat.shape}.")
    expect_close(call(model.reconstruct, X, name="model.reconstruct", allowed=(Autoencoder,)), X_hat,
                 "model.reconstruct(X) compared with model.decode(model.encode(X))", atol=1e-8,
                 hint="reconstruct must decode the codes of encode.")
    wrong = _wrong_pixels(X, X_hat)
    if wrong.any():
        letters = ", ".join(f"{labels[i]} ({wrong[i]})" for i in np.flatnonzero(wrong)[:6])
        letters += ", ..." if np.count_nonzero(wrong) > 6 else ""
        raise CheckFailed(
            f"The model returned by {name}(X, seed=0) reconstructs {int(wrong.sum())} pixels wrongly: "
            f"{letters}. Train it as the chapter trains the 2-D model (fit(X, epochs=3000, lr=3e-3)).")
    passed(f"3-D codes, all {len(X)} letters without a wrong pixel.")


class _FixedReconstructions:
    """A stand-in for a trained model whose ``reconstruct`` returns chosen pictures, so that the
    check knows every answer in advance and runs in no time."""

    def __init__(self, X_in, X_hat):
        self._X_in, self._X_hat = X_in, X_hat

    def __repr__(self):
        return "<a model whose reconstructions the check chose>"

    def reconstruct(self, X):
        if np.shape(X) != self._X_in.shape or not np.array_equal(X, self._X_in):
            raise CheckFailed("Reconstruct the unseen glyphs X_unseen themselves: model.reconstruct(X_unseen).")
        return self._X_hat.copy()


def check_measure_unseen(measure_unseen):
    """Exercise 1.5: ``measure_unseen(model, X_unseen, X_train)`` returns (wrong, nearest).

    wrong: (n_unseen,) the wrong pixels of each unseen glyph's reconstruction (thresholded at 0.5);
    nearest: (n_unseen,) the index of the training glyph nearest, in Hamming distance, to each
    thresholded reconstruction.
    """
    name = "measure_unseen"
    X_train, labels = load_font()
    X_unseen = load_font_digits()[0][:5]
    # Reconstructions that are letters with a few pixels changed, confidently or just past 0.5,
    # so that a missing threshold, a wrong reference or a wrong axis each give other numbers.
    letters = [labels.index(letter) for letter in "zndef"]
    X_hat = np.where(X_train[letters] > THRESHOLD, 0.8, 0.2)
    X_hat[0, :2] = np.where(X_train[letters[0], :2] > THRESHOLD, 0.45, 0.55)  # z, two pixels just flipped
    X_hat[2, [6, 7]] = np.where(X_train[letters[2], [6, 7]] > THRESHOLD, 0.3, 0.7)
    X_hat[4, :4] = np.where(X_train[letters[4], :4] > THRESHOLD, 0.49, 0.51)
    # An n with one confident pixel of the r and, just on the n's side, the two others in which n
    # and r differ: nearest to n by drawn pixels, nearest to r by the probabilities.
    n, r = labels.index("n"), labels.index("r")
    X_hat[1] = np.where(X_train[n] > THRESHOLD, 0.98, 0.02)
    differ = np.flatnonzero(X_train[n] != X_train[r])
    X_hat[1, differ[0]] = 0.98 if X_train[r, differ[0]] > THRESHOLD else 0.02
    X_hat[1, differ[1:]] = np.where(X_train[n, differ[1:]] > THRESHOLD, 0.51, 0.49)
    model = _FixedReconstructions(X_unseen, X_hat)
    expected_wrong = _wrong_pixels(X_unseen, X_hat)
    hamming = glyph_distances(X_hat, X_train, "hamming")
    expected_nearest = hamming.argmin(axis=1)
    what = f"{name}(model, X_unseen, X_train) for the digits 0-4 and the 27 letters"
    result = call(measure_unseen, model, X_unseen, X_train, name=name,
                  allowed=(glyph_distances, _FixedReconstructions))
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        raise CheckFailed(f"{what}: expected two arrays (wrong, nearest), got {type(result).__name__}"
                          + (f" of length {len(result)}" if isinstance(result, (tuple, list)) else "") + ".")
    wrong = _as_array(result[0], f"wrong, from {what}")
    nearest = _as_array(result[1], f"nearest, from {what}")
    n_unseen = len(X_unseen)

    if wrong.shape == ():
        raise CheckFailed(f"wrong, from {what}: got the single number {float(wrong):g}; expected one count "
                          f"per unseen glyph, shape ({n_unseen},). Sum each row: .sum(axis=1).")
    if wrong.shape == (n_unseen,) and not np.allclose(wrong, expected_wrong):
        if np.allclose(wrong, (X_hat != X_unseen).sum(axis=1)):
            raise CheckFailed(f"wrong, from {what}: every pixel counted as wrong. The reconstructions are "
                              "probabilities such as 0.8 or 0.2; threshold them at 0.5 before comparing.")
        if np.allclose(wrong, hamming.min(axis=1)):
            raise CheckFailed(f"wrong, from {what}: that is the distance to the nearest letter. A wrong pixel "
                              "compares a reconstruction with its own unseen glyph, X_unseen.")
    expect_close(wrong, expected_wrong, f"wrong, from {what}",
                 hint="Count, for each unseen glyph, the pixels where (X_hat > 0.5) and (X_unseen > 0.5) disagree.")

    if nearest.shape == (n_unseen,) and not np.array_equal(nearest, expected_nearest):
        if np.array_equal(nearest, glyph_distances(X_unseen, X_train, "hamming").argmin(axis=1)):
            raise CheckFailed(f"nearest, from {what}: that is the letter nearest to each unseen glyph itself. "
                              "The question is what the model draws: compare its reconstruction with the letters.")
        if np.array_equal(nearest, hamming.argmax(axis=1)):
            raise CheckFailed(f"nearest, from {what}: that is the farthest letter; use argmin of the distances.")
        euclidean = np.linalg.norm(X_hat[:, None, :] - X_train[None, :, :], axis=2).argmin(axis=1)
        if np.array_equal(nearest, euclidean):
            raise CheckFailed(f"nearest, from {what}: you compared the probabilities, not the drawn pixels. "
                              "Threshold the reconstruction at 0.5 and count the pixels that differ.")
    expect_close(nearest, expected_nearest, f"nearest, from {what}",
                 hint="The Hamming distance from each thresholded reconstruction to each letter, then argmin "
                      "over the letters (aelib.denoising.glyph_distances(X_hat, X_train) computes them).")
    passed(f"{name} counts the wrong pixels of each unseen glyph and names the letter its reconstruction "
           "is nearest to.")
