"""Checks for the exercises of chapter 2, "Denoising autoencoders".

The noise checks (2.1, 2.4) run the reader's function on grey images, whose pixels lie strictly
between 0 and 1, so that every replaced pixel shows and a kept pixel must keep its exact value
(an answer that rounds or binarises the image fails); at p = 0, p = 1, the exercise's p and other
values, among them values that are neither whole percentages nor one chance in n; on images of
other sizes; and they measure the rate of replacement, the balance of 0s and 1s and the
independence of pixels on hundreds of thousands of pixels, with tolerances that a correct answer
misses with a probability below 1e-9 (see ``_tolerance``). The result must be a new float64 array;
two calls with one generator must differ (training calls the noise with one generator, batch after
batch), and so must 100 calls with different seeds.

The decoder checks (2.2, 2.5) compute the distances and likelihoods in exact integer counts, on
the font, on a second alphabet of another size (8 x 8 pixels, with glyphs one pixel apart, a blank
and a full glyph) and on as many samples as glyphs (where the wrong axis still gives the right
shape). Any of several equally good glyphs is accepted (ties). The message names the sample, the
glyph chosen and a better one, and the mistake when it recognises it.

No check allows calls into aelib: each exercise asks for the computation itself.
"""
import math

import numpy as np

from ..data import load_font
from ..noise import salt_and_pepper
from ..validation import format_number
from .feedback import CheckFailed, as_numbers, passed
from .guard import call

__all__ = ["check_salt_and_pepper", "check_nearest_glyph", "check_masking_noise", "check_masking_decoder"]

# ---------------------------------------------------------------------------------------------
# Statistics that a correct answer cannot fail by chance.
#
# Every statistical test below counts n events that, for a correct answer, are independent and
# each happen with probability q (a pixel replaced; a replaced pixel set to 1; the second pixel
# of a pair replaced, among the pairs whose first was, or was not; an image with exactly k of its
# pixels replaced). Bernstein's inequality
# bounds the chance that the observed fraction f misses q by t or more:
#     P(|f - q| >= t) <= 2 exp(-n t^2 / (2 q (1 - q) + 2 t / 3)).
# The tolerance t is the solution of  n t^2 = L (2 q (1 - q) + 2 t / 3)  with L = ln(2 / 1e-11)
# = 26.0, so a correct answer fails one test with probability at most 1e-11. A check applies the
# bound fewer than 100 times, so a correct answer fails it with probability below 100 x 1e-11 = 1e-9
# (union bound), whatever random numbers it draws; on the fixed seeds below it never does.
# (Some tests compare two such fractions with each other, and allow the sum of their two
# tolerances: they use the bound twice.)
# For q = 0.2 and n = 420,000 pixels, t = 0.0045: a rate of 0.19 (two passes, one for 0s and
# one for 1s) is 0.01 away, twice the tolerance.
FALSE_FAILURE_PER_TEST = 1e-11
_LOG_TERM = math.log(2 / FALSE_FAILURE_PER_TEST)


def _tolerance(n, q):
    """The largest |f - q| that a correct answer's fraction f of n events reaches with
    probability above ``FALSE_FAILURE_PER_TEST`` (Bernstein's inequality, see above)."""
    b = 2 * _LOG_TERM / 3
    return (b + math.sqrt(b * b + 8 * n * q * (1 - q) * _LOG_TERM)) / (2 * n)


def _expect_fraction(events, q, what, hint="", known=()):
    """Fail unless the fraction of True in ``events`` is within the tolerance of ``q``.

    known: (value, hint) pairs, the fractions that known mistakes give; the nearest one within
    the tolerance of the observed fraction replaces ``hint``.
    """
    events = np.asarray(events, dtype=bool)
    n = events.size
    fraction = float(events.mean()) if n else q
    tolerance = _tolerance(n, q)
    if abs(fraction - q) <= tolerance:
        return fraction
    near = [(abs(fraction - value), text) for value, text in known
            if abs(value - q) > tolerance and abs(fraction - value) <= max(tolerance, 0.25 * abs(value - q))]
    if near:
        hint = min(near)[1]
    raise CheckFailed(what, expected=f"{q:.4g} (within {tolerance:.1g}, over {n:,})",
                      actual=f"{fraction:.4g}", hint=hint)


# ---------------------------------------------------------------------------------------------
# Exercises 2.1 and 2.4: noise.

def _grey(n_samples, n_features, seed):
    # Grey levels strictly inside (0, 1), all different: a replaced pixel (0 or 1) always shows,
    # a flipped pixel (1 - x) is not 0 or 1, and a kept pixel has one right value. The seed
    # sequence (seed, 1) gives numbers unrelated to those of default_rng(seed), which the noise
    # draws: the image must not share its random numbers with the noise.
    return np.random.default_rng((seed, 1)).uniform(0.02, 0.98, (n_samples, n_features))


def _noise_output(result, X, name):
    """The reader's result as a float64 array of X's shape, or a CheckFailed that says what it is."""
    array = as_numbers(result)
    if array is None or array.ndim == 0:
        raise CheckFailed(f"{name} must return an array of X's shape {X.shape}, got {type(result).__name__}.")
    if array.shape != X.shape:
        raise CheckFailed(f"{name} must return an array of X's shape (one value per pixel).",
                          expected=f"shape {X.shape}", actual=f"shape {array.shape}")
    dtype = np.asarray(result).dtype
    if dtype.kind == "f" and dtype.itemsize < 8:
        raise CheckFailed(f"{name} returned {dtype.name} values, which keep only about 7 digits of a grey "
                          "pixel: a kept pixel must keep its exact value. Keep X's float64 dtype.")
    if dtype.kind in "biu":
        raise CheckFailed(f"{name} returned {dtype.name} values: a grey pixel such as 0.37 cannot be kept as "
                          "an integer or a boolean. Keep X's float64 dtype (np.where(..., X) keeps it).")
    if not np.isfinite(array).all():
        raise CheckFailed(f"{name} returned NaN or infinite values; every pixel must be a number in [0, 1].")
    return array


def _noise_caller(noise_fn, name, on_error):
    def run(X, p, seed):
        # seed: an int, or a Generator to pass on as it is (to call twice with one generator).
        rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        result = call(noise_fn, X, p, rng, name=name, on_error=on_error)
        if isinstance(result, np.ndarray) and np.may_share_memory(result, X):
            # X itself returned, typically at p = 0 by an answer that writes the noise into X: the
            # call below names that, if so.
            call(noise_fn, X.copy(), 0.5, np.random.default_rng(0), name=name, on_error=on_error)
            raise CheckFailed(f"{name} with p={p:g} returned X itself (or a view of X), not a new array: "
                              "the noisy copy and X would be one array, and noise written into one changes "
                              "the other. Return a new array, e.g. X.copy() or the result of np.where.")
        return _noise_output(result, X, name)
    return run


def _pixel(index):
    return "X[" + ", ".join(str(int(i)) for i in index) + "]"


def _expect_unchanged_at_p0(out, X, name, exercise_p, noisy_value):
    """With p = 0 every pixel keeps its exact value: an answer that binarises, rounds or clips the
    image fails here, by name, and so does one that ignores p."""
    changed = out != X
    if not changed.any():
        return
    index = tuple(np.argwhere(changed)[0])
    before, after = X[index], out[index]
    shown = f"the grey pixel {_pixel(index)} went from {format_number(before)} to {format_number(after, unlike=(before,))}"
    order = np.argsort(X, axis=None)
    in_order = out.ravel()[order]
    if np.isin(out, (0.0, 1.0)).all() and np.all(np.diff(in_order) >= 0) and in_order[-1] == 1.0:
        raise CheckFailed(f"{name} with p=0 changed the grey pixels to 0 or 1 ({shown}): it binarises the "
                          f"image. Only a {noisy_value}; every other pixel keeps its exact value, grey levels "
                          "included (the exercise's X can hold any value in [0, 1]).")
    fraction = changed.mean()
    largest_change = np.abs(out - X).max()
    if fraction > 0.95 and np.isin(out[changed], (0.0, 1.0)).all():
        hint = "Every pixel changed: do you keep a pixel with probability p instead of 1 - p?"
    elif largest_change < 0.1:
        hint = (f"{fraction:.0%} of the pixels changed, by at most {largest_change:.2g}: do you round X? "
                "A pixel that is not replaced keeps its exact value, all its digits.")
    elif abs(fraction - exercise_p) < 0.1:
        hint = (f"{fraction:.0%} of the pixels changed: is p fixed at {exercise_p:g} in your function? "
                "Use the argument p.")
    else:
        hint = f"{fraction:.1%} of the pixels changed. A pixel that is not replaced keeps its exact value."
    raise CheckFailed(f"{name} with p=0 must return X unchanged, but {shown}.", hint=hint)


def _pairs(events):
    """Disjoint pairs of pixels, as (first, second) arrays of whether each was chosen: side by side
    in one image (columns 0 and 1, 2 and 3, ...), and at the same position in two images (rows 0
    and 1, 2 and 3, ...)."""
    n_samples, n_features = events.shape
    cols, rows = n_features - n_features % 2, n_samples - n_samples % 2
    return {"across_images": (events[0:rows:2], events[1:rows:2]),
            "in_image": (events[:, 0:cols:2], events[:, 1:cols:2])}


_PER_PIXEL = "Draw one random number per pixel, rng.random(X.shape), and compare each with p."


def _expect_independent_pairs(chosen, q, name, what):
    """Pixels chosen independently, each with probability q: in a pair of pixels, the second is
    chosen as often (q) whether the first was chosen or not.

    For a correct answer each of the two fractions is within ``_tolerance`` of q (Bernstein, as
    above), so they differ by at most the sum of the two tolerances. This holds whatever the rate
    is, so it runs before the rate is tested: an answer that draws one number per image, or one
    row of numbers for all images, is named for that, not for a rate it gets wrong by chance.
    """
    if q in (0.0, 1.0):
        return
    # Either kind of dependence also disturbs the other kind of pair, by chance: the kind that is
    # furthest beyond its tolerance is the one named.
    worst = None
    for where, (first, second) in _pairs(chosen).items():
        after_chosen, after_not = second[first], second[~first]
        if not after_chosen.size or not after_not.size:
            continue
        a, b = after_chosen.mean(), after_not.mean()
        excess = abs(a - b) / (_tolerance(after_chosen.size, q) + _tolerance(after_not.size, q))
        if excess > 1 and (worst is None or excess > worst[0]):
            worst = excess, where, a, b
    if worst is None:
        return
    _, where, a, b = worst
    coin = what == "set to 1"  # what a replaced pixel becomes, rather than which pixels are replaced
    if where == "in_image":
        pair = "two neighbouring pixels of one image"
        if a > 0.9 and b < 0.1:
            mistake = f"Pixels of one image are {what} together (one random number per image?)"
        elif a > b and coin:
            mistake = "The replaced pixels of one image tend to become the same value (one coin per image?)."
        elif a > b:
            mistake = (f"The pixels of one image are {what} together more often than by chance (random "
                       "numbers shared by the pixels of an image?).")
        else:
            mistake = (f"The pixels of one image are not {what} independently (a fixed number per image"
                       f"{', or values that alternate' if coin else ''}?).")
    else:
        pair = "two pixels at the same position in two images"
        if a > 0.9 and b < 0.1:
            mistake = (f"The same pixels are {what} in every image (one row of random numbers shared by "
                       "all images?).")
        elif a > b and coin:
            mistake = ("Replaced pixels at the same position tend to become the same value in every image "
                       "(one row of coins shared by all images?).")
        else:
            mistake = f"Pixels at the same position are not {what} independently in different images."
    draw = "Draw a coin per pixel: rng.random(X.shape) < 0.5." if coin else _PER_PIXEL
    raise CheckFailed(
        f"{name}: of {pair}, the second was {what} in {a:.1%} of the pairs whose first was {what}, "
        f"and in {b:.1%} of the others; for pixels {what} independently, each with probability "
        f"{q:g}, both would be about {q:.1%}.", hint=f"{mistake} {draw}")


def _expect_same_rate(events, groups, q, message, verb, hint):
    """Events that happen with probability q whatever the pixel's value: as often in each of the
    two ``groups`` (boolean masks, e.g. the dark and the bright pixels). As for the pairs above,
    a correct answer's two fractions differ by at most the sum of their tolerances."""
    (name_a, mask_a), (name_b, mask_b) = groups
    in_a, in_b = events[mask_a], events[mask_b]
    if not in_a.size or not in_b.size:
        return
    a, b = in_a.mean(), in_b.mean()
    if abs(a - b) > _tolerance(in_a.size, q) + _tolerance(in_b.size, q):
        raise CheckFailed(f"{message} {a:.1%} of the {name_a} {verb}, but {b:.1%} of the {name_b}; both "
                          f"should be about {q:.1%}.", hint=hint)


def _binomial_mode(n, q):
    k = min(n, int(math.floor((n + 1) * q)))
    return k, math.comb(n, k) * q ** k * (1 - q) ** (n - k)


def _expect_binomial_counts(chosen, q, name, what):
    """The number of pixels chosen in an image is binomial: its most likely value comes up as often
    as it should (an answer that chooses a fixed number per image always gives that number)."""
    if q in (0.0, 1.0):
        return
    n_features = chosen.shape[1]
    k, probability = _binomial_mode(n_features, q)
    _expect_fraction(
        chosen.sum(axis=1) == k, probability,
        f"{name}: the fraction of images with exactly {k} of their {n_features} pixels {what} (with "
        f"probability {q:g} each) is wrong:",
        hint=f"The number of pixels {what} must vary from image to image as independent draws make it "
             f"vary. {_PER_PIXEL}",
        known=[(1.0, f"Every image had exactly {k} pixels {what}: each pixel must be {what} on its own, "
                     f"with probability p, so the number per image varies. {_PER_PIXEL}")])


def _expect_count_varies(run, name, p, what):
    """A fixed number of pixels (round(p * X.size), chosen without replacement) is not independent
    pixels: on one small image, called 200 times, the count must vary."""
    X = _grey(1, 35, seed=11)
    counts = {int((run(X, p, seed) != X).sum()) for seed in range(100, 300)}
    # The most likely count of Binomial(35, 0.2) has probability 0.17: a correct answer gives the
    # same count in 200 calls with probability below 0.17^199, about 1e-153.
    if len(counts) == 1:
        raise CheckFailed(f"{name} {what} exactly {counts.pop()} of the 35 pixels of one image in each of "
                          f"200 calls with p={p} (with different seeds). Each pixel is {what} on its own, "
                          "with probability p, so the number varies from call to call.",
                          hint="Draw one random number per pixel, rng.random(X.shape), and compare each "
                               "with p; do not choose a fixed number of pixels.")


def _expect_repeatable(run, name, X, p):
    first = run(X, p, seed=1)
    if not np.array_equal(first, run(X, p, seed=1)):
        raise CheckFailed(f"{name} gave different results for two generators with the same seed: draw all "
                          "randomness from the rng argument (rng.random(X.shape)), not from "
                          "np.random.default_rng() or another generator of your own.")
    if np.array_equal(first, run(X, p, seed=2)):
        raise CheckFailed(f"{name} gave the same result for generators with different seeds: draw the "
                          "randomness from the rng argument, in every call, instead of a generator with a "
                          "fixed seed or numbers kept from an earlier call.")
    # Training calls the noise with one generator, batch after batch: each call must draw new
    # numbers from it. Two results of 17,500 pixels agree by chance with probability below 0.7^17500.
    rng = np.random.default_rng(3)
    if np.array_equal(run(X, p, rng), run(X, p, rng)):
        raise CheckFailed(f"{name} gave the same result twice when called twice with the same generator: "
                          "each call must draw new numbers from rng, so that every epoch of training sees "
                          "new noise. Draw from rng itself, not from a copy of it, a generator seeded "
                          "afresh, or a state you restore.")


_N_FRESH_CALLS = 100


def _expect_fresh_results(run, name, p, X):
    """Different seeds give different results: a generator of one's own, seeded with a number drawn
    from rng (say rng.integers(10)), takes only a few states, and two of 100 calls repeat a result.
    Returns the results. For a correct answer (salt-and-pepper noise at p = 1, masking noise at
    p = 0.5) on X's 350 pixels, two results agree with probability 0.5^350, about 4e-106, and some
    pair of the 100 calls with probability below 1e-102."""
    results = [run(X, p, seed) for seed in range(300, 300 + _N_FRESH_CALLS)]
    first_seen = {}
    for seed, result in zip(range(300, 300 + _N_FRESH_CALLS), results):
        key = result.tobytes()
        if key in first_seen:
            raise CheckFailed(f"{name} gave the same result for generators with seeds {first_seen[key]} and "
                              f"{seed} (p={p:g}, {X.size} pixels): its random numbers repeat from call to "
                              "call. Draw every random number from rng itself, in every call, e.g. "
                              "rng.random(X.shape): not from a generator seeded with a small number, nor "
                              "numbers kept from an earlier call.")
        first_seen[key] = seed
    return results


def _expect_rate_off_the_grid(run, name, expect_values, what, ps):
    """p is any number in [0, 1], not only a whole percentage or one chance in n: an answer that
    compares whole numbers with 100 p (rng.integers(100, size=X.shape) < 100 * p) replaces 2% of
    the pixels at p = 0.011, four times the tolerance away; one that draws one chance in int(1 / p)
    (rng.integers(int(1 / p), size=X.shape) == 0) is exact at p = 0.05, 0.2, 0.5 and 1, but
    replaces every pixel at p = 0.7."""
    for p in ps:
        X = _grey(4000, 35, seed=6)
        out = run(X, p, seed=6)
        expect_values(out, X, f"with p={p:g}")
        _expect_fraction(out != X, p, f"{name}: with p={p:g}, the fraction of pixels {what} is wrong:",
                         hint="p can be any number from 0 to 1, not only a whole percentage or one chance "
                              "in n: compare a uniform number per pixel with p itself, rng.random(X.shape) "
                              "< p.")


def _expect_shapes(run, name, p, expect_values, what):
    """Other shapes than the font's 35 columns: every pixel is noised, in every column and row
    (an answer that loops over 35 columns, or draws for fixed sizes, fails here)."""
    for shape in ((3000, 64), (4000, 1), (1, 7)):
        X = _grey(*shape, seed=sum(shape))
        out = run(X, p, seed=5)
        where = f"in an X of shape {shape}"
        expect_values(out, X, where)
        chosen = out != X
        if shape[1] > 35:
            columns = np.arange(shape[1]) < 35
            _expect_same_rate(chosen, (("pixels in columns 0 to 34", np.broadcast_to(columns, shape)),
                                       ("pixels in the other columns", np.broadcast_to(~columns, shape))), p,
                              f"{name}: with p={p:g} {where},", f"were {what}",
                              hint="Every pixel of X is noised, whatever the number of columns: use X.shape, "
                                   "not a fixed number of columns such as 35.")
        if chosen.size > 100:
            _expect_fraction(chosen, p, f"{name}: with p={p:g} {where}, the fraction of pixels {what} is wrong:",
                             hint="Draw one random number per pixel of X, rng.random(X.shape), whatever its "
                                  "shape.")


_SHAPES_HINT = ("X has shape (n_samples, n_features), any numbers of each: use X.shape, "
                "not fixed sizes such as 35.")


def _salt_and_pepper_values(out, X, name, where=""):
    wrong = ~((out == X) | (out == 0.0) | (out == 1.0))
    if not wrong.any():
        return
    index = tuple(np.argwhere(wrong)[0])
    before, after = X[index], out[index]
    shown = (f"the grey pixel {_pixel(index)}{' ' + where if where else ''} went from "
             f"{format_number(before)} to {format_number(after, unlike=(before, 0.0, 1.0))}")
    if np.isclose(after, 1.0 - before):
        raise CheckFailed(f"{name}: {shown}, that is 1 - x: it flips pixels. A replaced pixel becomes 0 or 1 "
                          "(equally likely) whatever its value was; flipping only looks the same on a "
                          "black-and-white glyph.")
    raise CheckFailed(f"{name}: {shown}. Each pixel either keeps its exact value or is replaced by exactly "
                      "0 or 1.")


def _salt_and_pepper_statistics(out, X, p, name):
    replaced = out != X  # X is grey: a replaced pixel (0 or 1) always differs from it
    set_to_1 = out == 1.0
    _expect_independent_pairs(replaced, p, name, "replaced")
    _expect_independent_pairs(set_to_1, p / 2, name, "set to 1")
    dark_or_bright = (("pixels below 0.5", X < 0.5), ("pixels above 0.5", X >= 0.5))
    _expect_same_rate(replaced, dark_or_bright, p, f"{name}: with p={p:g},", "were replaced",
                      hint="Every pixel is replaced with probability p, whatever its value.")
    coin = "Draw what a replaced pixel becomes as a fair coin of its own: rng.random(X.shape) < 0.5."
    if replaced.any():
        _expect_same_rate(set_to_1[replaced], [(words, mask[replaced]) for words, mask in dark_or_bright], 0.5,
                          f"{name}: with p={p:g}, of the replaced pixels,", "became 1",
                          hint="What a replaced pixel becomes must not depend on its value: 0 or 1 with "
                               "probability 1/2 each, whatever it was. " + coin)
    kept_by_mistake = [
        (p - p * p / 4, "Two passes (one setting pixels to 0 with probability p/2, one setting them to 1) "
                        "replace a pixel with probability p - p^2/4, and the second pass undoes some of the "
                        "first. Draw once which pixels are replaced (probability p), then what each becomes."),
        (p / 2, "That is about p/2: each pixel is replaced with probability p, and then becomes 0 or 1 "
                "with probability 1/2 each."),
        (1 - p, "That is about 1 - p: you keep a pixel with probability p, instead of replacing it."),
        (0.2, "That is about 0.2: is p fixed at 0.2 in your function? Use the argument p."),
    ]
    _expect_fraction(replaced, p, f"{name}: with p={p:g}, the fraction of pixels replaced is wrong:",
                     hint="Replace each pixel with probability p: rng.random(X.shape) < p.",
                     known=kept_by_mistake)
    if replaced.any():
        white = set_to_1[replaced]
        _expect_fraction(white, 0.5, f"{name}: with p={p:g}, the fraction of replaced pixels set to 1 "
                                     "(not 0) is wrong:", hint=coin,
                         known=[(0.0, "Replaced pixels all became 0: salt-and-pepper sets them to 0 or 1, "
                                      "equally likely. " + coin),
                                (1.0, "Replaced pixels all became 1: salt-and-pepper sets them to 0 or 1, "
                                      "equally likely. " + coin)])
    _expect_binomial_counts(replaced, p, name, "replaced")
    _expect_binomial_counts(set_to_1, p / 2, name, "set to 1")


def check_salt_and_pepper(salt_and_pepper_fn):
    """Exercise 2.1: ``salt_and_pepper_fn(X, p, rng)`` replaces each pixel of X, independently and
    with probability p, by 0 or 1 (equally likely); every other pixel keeps its exact value."""
    name = "salt_and_pepper"
    run = _noise_caller(salt_and_pepper_fn, name, _SHAPES_HINT)
    X_small = _grey(500, 35, seed=10)
    _expect_unchanged_at_p0(run(X_small, 0.0, seed=0), X_small, name, 0.2, "replaced pixel becomes 0 or 1")
    _expect_repeatable(run, name, X_small, 0.2)
    X = _grey(12_000, 35, seed=0)
    out = run(X, 0.2, seed=0)
    _salt_and_pepper_values(out, X, name)
    _salt_and_pepper_statistics(out, X, 0.2, name)
    replaced = float((out != X).mean())
    for p, seed in ((0.05, 1), (0.5, 2), (1.0, 3)):
        X_p = _grey(4_000, 35, seed=seed)
        out_p = run(X_p, p, seed=seed)
        _salt_and_pepper_values(out_p, X_p, name)
        if p == 1.0 and (out_p == X_p).any():
            kept = float((out_p == X_p).mean())
            hint = (" Two passes (one for 0s, one for 1s, each with probability p/2) leave a quarter of "
                    "them: draw once which pixels are replaced, then what each becomes."
                    if abs(kept - 0.25) < 0.02 else "")
            raise CheckFailed(f"{name}: with p=1 every pixel must be replaced, but {kept:.1%} kept their "
                              f"value.{hint}")
        _salt_and_pepper_statistics(out_p, X_p, p, name)
    font = np.repeat(load_font()[0], 200, axis=0)
    changed = run(font, 0.2, seed=4) != font
    _expect_fraction(changed, 0.1, f"{name}: on the black-and-white font with p=0.2, the fraction of pixels "
                                   "that changed is wrong:",
                     hint="A replaced pixel becomes 0 or 1 with probability 1/2 each, so half of the "
                          "replaced pixels of a black-and-white glyph keep their value: p/2 of them change.")
    _expect_shapes(run, name, 0.5, lambda out, X, where: _salt_and_pepper_values(out, X, name, where),
                   "replaced")
    _expect_rate_off_the_grid(run, name, lambda out, X, where: _salt_and_pepper_values(out, X, name, where),
                              "replaced", (0.011, 0.7))
    _expect_count_varies(run, name, 0.2, "replaced")
    X_fresh = _grey(10, 35, seed=12)
    ones = {int((result == 1.0).sum()) for result in _expect_fresh_results(run, name, 1.0, X_fresh)}
    # The most likely value of Binomial(350, 1/2) has probability 0.043: a correct answer gives it
    # in all 100 calls with probability 0.043^99, about 1e-135.
    if len(ones) == 1:
        raise CheckFailed(f"{name} set exactly {ones.pop()} of the 350 pixels of X to 1 in each of "
                          f"{_N_FRESH_CALLS} calls with p=1 (with different seeds): each replaced pixel "
                          "becomes 1 with probability 1/2 on its own, so the number varies from call to call.",
                          hint="Draw a coin per pixel, rng.random(X.shape) < 0.5; do not set exactly half "
                               "of the replaced pixels to 1.")
    passed(f"salt_and_pepper replaced {replaced:.3f} of 420,000 grey pixels at p=0.2, half by 0 and half "
           "by 1, each pixel on its own; p = 0, 0.011, 0.05, 0.5, 0.7 and 1 and images of other shapes "
           "behave too, X is untouched and every random number comes from rng.")


def _masking_values(out, X, name, where=""):
    wrong = ~((out == X) | (out == 0.0))
    if not wrong.any():
        return
    index = tuple(np.argwhere(wrong)[0])
    before, after = X[index], out[index]
    shown = (f"the grey pixel {_pixel(index)}{' ' + where if where else ''} went from "
             f"{format_number(before)} to {format_number(after, unlike=(before, 0.0, 1.0))}")
    if after == 1.0:
        raise CheckFailed(f"{name}: {shown}. Masking noise never turns a pixel on: a masked pixel becomes 0, "
                          "never 1 (that would be salt-and-pepper noise).")
    if np.isclose(after, 1.0 - before):
        raise CheckFailed(f"{name}: {shown}, that is 1 - x: it flips pixels. A masked pixel becomes 0, "
                          "whatever its value was.")
    raise CheckFailed(f"{name}: {shown}. Each pixel either keeps its exact value or is set to exactly 0.")


def _masking_statistics(out, X, p, name):
    erased = out != X  # X is grey, never 0: an erased pixel always differs from it
    _expect_independent_pairs(erased, p, name, "set to 0")
    _expect_same_rate(erased, (("pixels below 0.5", X < 0.5), ("pixels above 0.5", X >= 0.5)), p,
                      f"{name}: with p={p:g},", "were set to 0",
                      hint="Every pixel is set to 0 with probability p, whatever its value: grey pixels "
                           "too, not only ink.")
    _expect_fraction(erased, p, f"{name}: with p={p:g}, the fraction of pixels set to 0 is wrong:",
                     hint="Set each pixel to 0 with probability p: rng.random(X.shape) < p.",
                     known=[(p / 2, "That is about p/2: did you replace pixels by 0 with probability p/2?"),
                            (1 - p, "That is about 1 - p: you keep a pixel with probability p, instead of "
                                    "setting it to 0."),
                            (0.3, "That is about 0.3: is p fixed at 0.3 in your function? Use the "
                                  "argument p.")])
    _expect_binomial_counts(erased, p, name, "set to 0")


def check_masking_noise(masking_noise_fn):
    """Exercise 2.4: ``masking_noise_fn(X, p, rng)`` sets each pixel of X, independently and with
    probability p, to 0; every other pixel keeps its exact value."""
    name = "masking_noise"
    run = _noise_caller(masking_noise_fn, name, _SHAPES_HINT)
    X_small = _grey(500, 35, seed=10)
    _expect_unchanged_at_p0(run(X_small, 0.0, seed=0), X_small, name, 0.3, "masked pixel becomes 0")
    _expect_repeatable(run, name, X_small, 0.3)
    X = _grey(12_000, 35, seed=0)
    out = run(X, 0.3, seed=0)
    _masking_values(out, X, name)
    _masking_statistics(out, X, 0.3, name)
    erased = float((out != X).mean())
    for p, seed in ((0.05, 1), (0.7, 2), (1.0, 3)):
        X_p = _grey(4_000, 35, seed=seed)
        out_p = run(X_p, p, seed=seed)
        _masking_values(out_p, X_p, name)
        if p == 1.0 and (out_p != 0).any():
            raise CheckFailed(f"{name}: with p=1 every pixel must be set to 0, but "
                              f"{(out_p != 0).mean():.1%} were not.")
        _masking_statistics(out_p, X_p, p, name)
    font = np.repeat(load_font()[0], 200, axis=0)
    out_font = run(font, 0.3, seed=4)
    if (out_font[font == 0] != 0).any():
        raise CheckFailed(f"{name}: on the black-and-white font a blank pixel (0) changed; masking noise "
                          "only sets pixels to 0, so blank pixels stay 0.")
    _expect_fraction(out_font[font == 1] == 0, 0.3,
                     f"{name}: on the black-and-white font with p=0.3, the fraction of ink pixels erased "
                     "is wrong:")
    _expect_shapes(run, name, 0.5, lambda out, X, where: _masking_values(out, X, name, where),
                   "set to 0")
    _expect_rate_off_the_grid(run, name, lambda out, X, where: _masking_values(out, X, name, where),
                              "set to 0", (0.011,))
    _expect_count_varies(run, name, 0.2, "set to 0")
    _expect_fresh_results(run, name, 0.5, _grey(10, 35, seed=12))
    passed(f"masking_noise set {erased:.3f} of 420,000 grey pixels to 0 at p=0.3, each pixel on its own, "
           "and kept the others exactly; p = 0, 0.011, 0.05, 0.7 and 1 and images of other shapes behave "
           "too, X is untouched and every random number comes from rng.")


# ---------------------------------------------------------------------------------------------
# Exercises 2.2 and 2.5: decoders.

def _second_alphabet():
    """Twelve glyphs of 8 x 8 pixels: random shapes, the blank and the full glyph, and glyphs one
    pixel apart (the first and the last pixel), with names G0 ... G11. Only the full glyph has ink
    in pixel 37."""
    rng = np.random.default_rng((21, 1))
    glyphs = (rng.random((12, 64)) < 0.4).astype(np.float64)
    glyphs[0] = 0.0
    glyphs[1] = 1.0
    glyphs[3] = glyphs[2]
    glyphs[3, 0] = 1.0 - glyphs[2, 0]  # glyphs 2 and 3 differ in the first pixel only
    glyphs[5] = glyphs[4]
    glyphs[4, 63], glyphs[5, 63] = 0.0, 1.0  # glyphs 4 and 5 differ in the last pixel only
    glyphs[7] = glyphs[6]
    glyphs[6, 10], glyphs[7, 10] = 0.0, 1.0  # glyph 7 is glyph 6 with one more ink pixel
    glyphs[2:, 37] = 0.0
    return glyphs, [f"G{i}" for i in range(len(glyphs))]


def _hamming(X_noisy, glyphs):
    # Exact integer counts on 0/1 arrays.
    B, G = X_noisy.astype(np.int64), glyphs.astype(np.int64)
    return B.sum(axis=1)[:, None] + G.sum(axis=1)[None, :] - 2 * B @ G.T


def _as_indices(result, name, n_samples, n_glyphs, returns_what):
    array = as_numbers(result)
    if array is None:
        raise CheckFailed(f"{name} must return an array of glyph indices, got {type(result).__name__}.")
    shape = np.shape(array)
    if shape == (n_samples, n_glyphs) and n_samples != n_glyphs:
        raise CheckFailed(f"{name} returned an array of shape {shape}, one value per sample and glyph: "
                          f"{returns_what}; then return, for each sample (row), the index of the best "
                          "glyph: the argmin or argmax over the glyph axis (axis=1).")
    if shape != (n_samples,):
        hint = ("Take the argmin or argmax over the glyph axis (axis=1), not over the samples (axis=0)."
                if shape == (n_glyphs,) else "Return one glyph index per noisy sample.")
        raise CheckFailed(f"{name} must return one glyph index per noisy sample.",
                          expected=f"shape ({n_samples},)", actual=f"shape {shape}", hint=hint)
    indices = np.asarray(result)
    if not np.issubdtype(indices.dtype, np.integer):
        raise CheckFailed(f"{name} must return integer indices (e.g. from np.argmin), got dtype "
                          f"{indices.dtype}.")
    if n_samples and (indices.min() < 0 or indices.max() >= n_glyphs):
        bad = indices.max() if indices.max() >= n_glyphs else indices.min()
        raise CheckFailed(f"{name} returned index {bad}, but there are only {n_glyphs} glyphs (indices 0 to "
                          f"{n_glyphs - 1}).")
    return indices


def _glyph_cases(noise):
    """(description, X_noisy, glyphs, glyph names, origin of each sample) for a decoder check.
    noise(X, rng) corrupts; the cases cover the font, a second alphabet and as many samples as
    glyphs."""
    font, letters = load_font()
    cases = []
    index = np.arange(20 * len(font)) % len(font)
    cases.append(("the font", noise(font[index], np.random.default_rng(0)), font, letters, index))
    square = np.random.default_rng(1).permutation(len(font))
    cases.append((f"{len(font)} samples for {len(font)} glyphs", noise(font[square], np.random.default_rng(1)),
                  font, letters, square))
    glyphs, names = _second_alphabet()
    index = np.arange(10 * len(glyphs)) % len(glyphs)
    X_noisy = noise(glyphs[index], np.random.default_rng(2))
    X_noisy[:len(glyphs)] = glyphs  # each glyph itself, once
    # The full glyph with all its ink erased but one pixel, for each pixel: under masking noise the
    # sample with pixel 37 alone comes from the full glyph (63 pixels erased), never from the blank
    # glyph (no ink where the blank has none): a decoder that gives an impossible glyph a finite
    # penalty instead of probability 0 fails here at p = 0.001 unless the penalty exceeds
    # 63 |log 0.001| = 435.
    X_noisy = np.vstack([X_noisy, np.eye(glyphs.shape[1])])
    index = np.concatenate([index, np.ones(glyphs.shape[1], dtype=int)])
    cases.append(("a second alphabet of 12 glyphs of 8 x 8 pixels", X_noisy, glyphs, names, index))
    cases.append(("one sample, one glyph", font[4:5].copy(), font[4:5].copy(), letters[4:5], np.array([0])))
    return cases


def _ties_between_close_letters(font):
    # Images exactly halfway between c and o, and between h and n: one of their two differing
    # pixels taken from each.
    letters = list(load_font()[1])
    rows = []
    for a, b in (("c", "o"), ("h", "n")):
        x, y = font[letters.index(a)], font[letters.index(b)]
        for j in np.flatnonzero(x != y):
            halfway = x.copy()
            halfway[j] = y[j]
            rows.append(halfway)
    return np.array(rows)


def check_nearest_glyph(nearest_glyph_fn):
    """Exercise 2.2: ``nearest_glyph_fn(X_noisy, glyphs)`` returns, for each row of X_noisy, the
    index of a glyph at the smallest Hamming distance (any of several equally near glyphs)."""
    name = "nearest_glyph"
    cases = _glyph_cases(lambda X, rng: salt_and_pepper(X, 0.3, rng))
    description, X_noisy, font, letters, index = cases[0]
    ties = _ties_between_close_letters(font)
    cases[0] = (description, np.vstack([X_noisy, font, ties]), font, letters,
                np.concatenate([index, np.arange(len(font)), np.full(len(ties), -1)]))
    on_error = ("X_noisy has shape (n_samples, n_features) and glyphs (n_glyphs, n_features), for any "
                "n_features (not only 35): compare every sample with every glyph, e.g. "
                "X_noisy[:, None, :] != glyphs[None, :, :].")
    n_checked = n_ties = 0
    for description, X_noisy, glyphs, names, origin in cases:
        result = call(nearest_glyph_fn, X_noisy, glyphs, name=name, on_error=on_error)
        chosen = _as_indices(result, name, len(X_noisy), len(glyphs),
                             "compute the Hamming distance of every sample to every glyph")
        D = _hamming(X_noisy, glyphs)
        best = D.min(axis=1)
        worse = np.flatnonzero(D[np.arange(len(D)), chosen] > best)
        if worse.size:
            _explain_nearest_glyph(name, description, X_noisy, glyphs, names, origin, D, chosen, worse[0])
        n_checked += len(X_noisy)
        n_ties += int(((D == best[:, None]).sum(axis=1) > 1).sum())
    passed(f"nearest_glyph picks a nearest glyph for all {n_checked} samples, on the font (with noise, "
           f"exact and halfway between two letters), on an alphabet of 8 x 8 glyphs and on one glyph "
           f"({n_ties} samples had several equally near glyphs; any of those is right).")


def _narrowed(chosen, X_noisy, glyphs, score_of):
    """A hint when every choice is the best by ``score_of(X_noisy, glyphs)`` (smaller is better)
    over a fixed part of the input only: the first glyphs (a loop over 26 letters), or the first 35
    pixels. None otherwise."""
    rows = np.arange(len(X_noisy))
    first = int(chosen.max()) + 1
    if first < len(glyphs):
        score = score_of(X_noisy, glyphs[:first])
        if np.array_equal(score[rows, chosen], score.min(axis=1)):
            return (f"Your decoder picked the best of the first {first} glyphs only, but glyphs has "
                    f"{len(glyphs)} rows: use len(glyphs), not a fixed number such as 26.")
    n_features = X_noisy.shape[1]
    if n_features > 35:
        score = score_of(X_noisy[:, :35], glyphs[:, :35])
        if np.array_equal(score[rows, chosen], score.min(axis=1)):
            return (f"Your decoder compares the first 35 pixels only, but these glyphs have {n_features}: "
                    "use every column (X_noisy.shape[1]), not a fixed number such as 35.")
    return None


def _sample(names, origin, i, X_noisy, glyphs, noisy):
    """How sample i came about: 'the glyph 'b' itself', or ``noisy`` with the glyph's name."""
    if origin[i] < 0:
        return "halfway between two letters"
    if np.array_equal(X_noisy[i], glyphs[origin[i]]):
        return f"the glyph '{names[origin[i]]}' itself"
    return noisy.format(names[origin[i]])


def _explain_nearest_glyph(name, description, X_noisy, glyphs, names, origin, D, chosen, i):
    c, best = chosen[i], int(np.argmin(D[i]))
    if len(D) == D.shape[1] and np.array_equal(chosen, D.argmin(axis=0)):
        mistake = ("Your indices are the argmin over the samples (axis 0): for each glyph, its nearest "
                   "sample. Take the minimum over the glyphs, axis=1, one row per sample.")
    elif np.array_equal(D[np.arange(len(D)), chosen], D.max(axis=1)):
        mistake = "You picked the farthest glyph: the nearest is the argmin of the distances, not the argmax."
    elif np.array_equal(chosen, (X_noisy @ glyphs.T).argmax(axis=1)):
        mistake = ("You picked the glyph with the most ink in common with the sample. The Hamming "
                   "distance also counts the pixels where the glyph has ink and the sample has none.")
    elif np.array_equal(chosen, D.min(axis=1)):
        mistake = ("Your function returned the smallest distances themselves, not the indices of the "
                   "glyphs at those distances: use argmin, not min.")
    else:
        mistake = _narrowed(chosen, X_noisy, glyphs, _hamming) or (
            "The Hamming distance counts the pixels in which two images differ (ink in one, blank "
            "in the other, either way); the decoder takes the glyph where it is smallest.")
    source = _sample(names, origin, i, X_noisy, glyphs, "a noisy '{}'")
    raise CheckFailed(
        f"{name}, on {description}: sample {i} ({source}) was decoded as '{names[c]}' at Hamming distance "
        f"{D[i, c]}, but '{names[best]}' is at distance {D[i, best]}.", hint=mistake)


def _masking_counts(X_noisy, glyphs):
    """For every sample and glyph: whether the sample has ink where the glyph has none (impossible
    under masking noise), and how many of the glyph's ink pixels are blank in the sample."""
    B, G = X_noisy.astype(np.int64), glyphs.astype(np.int64)
    impossible = B @ (1 - G).T > 0
    erased = G.sum(axis=1)[None, :] - B @ G.T
    return impossible, erased


def _masking(p):
    return lambda X, rng: np.where(rng.random(X.shape) < p, 0.0, X)


def check_masking_decoder(masking_decoder_fn):
    """Exercise 2.5: ``masking_decoder_fn(X_noisy, glyphs, p)`` returns, for each sample, the index of
    a most probable glyph under masking noise of rate p, 0 < p < 1 (any of several equally probable)."""
    name = "masking_decoder"
    on_error = ("X_noisy has shape (n_samples, n_features) and glyphs (n_glyphs, n_features), for any "
                "n_features (not only 35); p is a number between 0 and 1.")
    cases = _glyph_cases(_masking(0.4))
    runs = [(case, 0.4) for case in cases]
    font_case = _glyph_cases(_masking(0.6))[0]
    # The rule must hold for every p in (0, 1), the extremes included.
    runs += [(font_case, p) for p in (0.6, 0.001, 0.999)] + [(cases[2], 0.001)]
    n_checked = 0
    for (description, X_noisy, glyphs, names, origin), p in runs:
        result = call(masking_decoder_fn, X_noisy, glyphs, p, name=name, on_error=on_error)
        chosen = _as_indices(result, name, len(X_noisy), len(glyphs),
                             "compute the likelihood of every glyph for every sample")
        # p(x | c) = 0 if x has ink where c has none, else (1 - p)^|x| p^(|c| - |x|): for any p in
        # (0, 1), the most probable glyphs are the possible ones with the fewest erased pixels.
        score = _masking_score(X_noisy, glyphs)
        best = score.min(axis=1)
        rows = np.arange(len(X_noisy))
        worse = np.flatnonzero(score[rows, chosen] > best)
        if worse.size:
            _explain_masking_decoder(name, description, p, X_noisy, glyphs, names, origin, score, chosen,
                                     worse[0])
        n_checked += len(X_noisy)
    passed(f"masking_decoder picks a most probable glyph for all {n_checked:,} samples, on the font at "
           "p = 0.4, 0.6, 0.001 and 0.999, on an alphabet of 8 x 8 glyphs and on one glyph.")


def _masking_score(X_noisy, glyphs):
    # The number of erased pixels, inf for an impossible glyph: smaller is more probable.
    impossible, erased = _masking_counts(X_noisy, glyphs)
    return np.where(impossible, np.inf, erased)


def _explain_masking_decoder(name, description, p, X_noisy, glyphs, names, origin, score, chosen, i):
    c, best = chosen[i], int(np.argmin(score[i]))
    ink = glyphs.sum(axis=1)
    seen = X_noisy[i].sum()
    narrowed = _narrowed(chosen, X_noisy, glyphs, _masking_score)
    if len(score) == score.shape[1] and np.array_equal(chosen, np.argmin(score, axis=0)):
        hint = ("Your indices are the best over the samples (axis 0): for each glyph, its most likely "
                "sample. Take the best over the glyphs, axis=1, one row per sample.")
    elif np.array_equal(chosen, np.argmin(np.isinf(score), axis=1)) and not np.isinf(score[i, c]):
        # All possible glyphs scored alike: typically 0 * log(0) = NaN, where argmax returns the
        # first NaN, or a score (such as the ink in common) equal for every possible glyph.
        hint = ("You picked the first glyph that could have produced each sample, not the most probable "
                "of those. If your log-likelihood multiplies a count of 0 by np.log(0), that is NaN, and "
                "argmax returns the first NaN: give an impossible glyph -inf with np.where instead.")
    elif narrowed:
        hint = narrowed
    elif p < 0.01 and np.isinf(score[i, c]):
        # The runs at p = 0.4 and 0.6 came first and passed.
        hint = (f"Your decoder was right at p=0.4 but not at p={p:g}, where an erased pixel costs much: an "
                "impossible glyph has probability exactly 0 (log-likelihood -inf), not a small number "
                "that enough erased pixels of the other glyphs can outweigh.")
    elif p > 0.5 and not np.isinf(score[i, c]):
        # The runs at p < 0.5 came first and passed: the rule changes with p, so a factor of its
        # likelihood does (typically 1 - p for a glyph's blank pixels, which makes more ink win).
        hint = (f"Your decoder was right at p=0.4 but not at p={p:g}. A blank pixel of the glyph stays "
                "blank with probability 1 (masking noise never touches it), not 1 - p; write down "
                "p(x | c) for one pixel in each of the four cases.")
    else:
        hint = ("Write down p(x | c) for one pixel in each of the four cases (ink or blank in the glyph c, "
                "ink or blank in the noisy image x): a blank pixel of c can never show ink.")
    if np.isinf(score[i, c]):
        why = (f"'{names[c]}' is impossible: the sample has ink where '{names[c]}' has none, and masking "
               "noise never adds ink.")
    else:
        why = (f"'{names[best]}' explains the sample with fewer erased pixels ({ink[best] - seen:.0f} instead "
               f"of {ink[c] - seen:.0f}), and each erased pixel multiplies the likelihood by p < 1.")
    source = _sample(names, origin, i, X_noisy, glyphs, "'{}' under masking noise")
    raise CheckFailed(
        f"{name}, on {description} with p={p:g}: sample {i} ({source}) was decoded as '{names[c]}', but "
        f"'{names[best]}' is more probable: {why}", hint=hint)
