"""Checks for the exercises of chapter 2, "Denoising autoencoders".

The noise checks measure statistics over many pixels, on inputs chosen so that the usual
mistakes show: a grey image (0.5 everywhere) tells a replaced pixel from a kept one, so flipping
(1 - x) instead of replacing is caught; all-ink and all-blank images separate masking from
salt-and-pepper noise. The decoder checks accept any of several equally near glyphs (ties), and
name the sample, the glyph chosen and a better one when the answer is wrong.
"""
import numpy as np

from ..data import load_font
from .. import denoising
from ..denoising import glyph_distances
from ..noise import salt_and_pepper
from ..validation import format_number
from .feedback import CheckFailed, call, passed

__all__ = ["check_salt_and_pepper", "check_nearest_glyph", "check_masking_noise", "check_masking_decoder"]

N_SAMPLES = 2000
N_FEATURES = 35


def _as_array(result, name, shape):
    try:
        array = np.asarray(result, dtype=np.float64)
    except (TypeError, ValueError):
        raise CheckFailed(f"{name} must return an array, got {type(result).__name__}") from None
    if array.shape != shape:
        raise CheckFailed(f"{name} must return an array of the input's shape {shape}, got shape {array.shape}")
    return array


def _run_noise(noise_fn, name, X, p, seed):
    # Calls the reader's noise function and checks the contract every corruption shares.
    X_before = X.copy()
    result = call(noise_fn, X, p, np.random.default_rng(seed), name=name)
    if not np.array_equal(X, X_before):
        raise CheckFailed(f"{name} changed its input X in place; build and return a new array instead "
                          "(e.g. with np.where, or start from X.copy()).")
    return _as_array(result, name, X.shape)


def _check_repeatable(noise_fn, name, X, p):
    first = _run_noise(noise_fn, name, X, p, seed=1)
    if not np.array_equal(first, _run_noise(noise_fn, name, X, p, seed=1)):
        raise CheckFailed(f"{name} gave different results for two generators with the same seed: draw all "
                          "randomness from the rng argument (rng.random(X.shape)), not from np.random.")
    return first


def _check_rng_use(noise_fn, name, X, p):
    first = _check_repeatable(noise_fn, name, X, p)
    if np.array_equal(first, _run_noise(noise_fn, name, X, p, seed=2)):
        raise CheckFailed(f"{name} gave the same result for generators with different seeds: draw the "
                          "randomness from the rng argument instead of a fixed seed.")


def _check_per_pixel(name, chosen, p, what):
    """Each pixel must be chosen independently with probability p: then the number chosen in
    each image (row) and at each position (column) varies like a binomial count. One random
    number per image chooses all of an image's pixels or none; one per position, the same
    pixels in every image."""
    n_samples, n_features = chosen.shape
    per_image = chosen.sum(axis=1)
    all_or_nothing = np.mean((per_image == 0) | (per_image == n_features))
    expected_all_or_nothing = (1 - p) ** n_features + p ** n_features
    if all_or_nothing > expected_all_or_nothing + 0.05:
        raise CheckFailed(
            f"{name}: with p={p}, {all_or_nothing:.0%} of the {n_samples} images had all or none of their "
            f"{n_features} pixels {what}; with each pixel drawn on its own that happens to "
            f"{expected_all_or_nothing:.2%} of them.",
            hint="Draw one random number per pixel, rng.random(X.shape), not one per image.")
    for counts, along, n in ((per_image, "image", n_features), (chosen.sum(axis=0), "pixel position", n_samples)):
        variance, binomial = counts.var(), n * p * (1 - p)
        if not 0.6 * binomial <= variance <= 1.6 * binomial:
            raise CheckFailed(
                f"{name}: the number of pixels {what} per {along} varies too "
                f"{'much' if variance > binomial else 'little'} for pixels drawn independently.",
                expected=f"variance about {binomial:.3g} (binomial, n={n}, p={p})",
                actual=f"variance {variance:.3g}",
                hint="Draw one random number per pixel, rng.random(X.shape), and compare each with p.")


def check_salt_and_pepper(salt_and_pepper_fn):
    """Exercise 2.1: ``salt_and_pepper_fn(X, p, rng)`` replaces each pixel, with probability p, by 0 or 1."""
    name = "salt_and_pepper"
    grey = np.full((N_SAMPLES, N_FEATURES), 0.5)
    p = 0.2
    font = np.repeat(load_font()[0], 60, axis=0)
    # An answer that draws from np.random gives a new sample on every call, which the statistical
    # checks below would judge by chance: that is checked first.
    _check_repeatable(salt_and_pepper_fn, name, font, p)
    X_noisy = _run_noise(salt_and_pepper_fn, name, grey, p, seed=0)
    replaced = X_noisy != 0.5
    if not np.isin(X_noisy[replaced], (0.0, 1.0)).all():
        bad = X_noisy[replaced & ~np.isin(X_noisy, (0.0, 1.0))][0]
        raise CheckFailed(f"{name}: on a grey image (every pixel 0.5) a pixel became {format_number(bad, unlike=(0.0, 0.5, 1.0))}; a replaced pixel "
                          "must become exactly 0 or 1, and a kept pixel must keep its value.")
    fraction = replaced.mean()
    if fraction < 0.01:
        raise CheckFailed(f"{name}: on a grey image (every pixel 0.5) with p={p} no pixel changed. A replaced "
                          "pixel becomes 0 or 1 whatever it was; did you flip pixels (1 - x) instead?")
    if abs(fraction - p) > 0.01:
        raise CheckFailed(f"{name}: with p={p}, the fraction of pixels replaced is wrong.",
                          expected=f"about {p} (each pixel independently with probability p)",
                          actual=f"{fraction:.3f}")
    salt = (X_noisy[replaced] == 1.0).mean()
    if abs(salt - 0.5) > 0.03:
        raise CheckFailed(f"{name}: the replaced pixels that became 1, out of all replaced pixels:",
                          expected="about 0.5 (0 and 1 equally likely)", actual=f"{salt:.3f}")
    _check_per_pixel(name, replaced, p, "replaced")
    _check_per_pixel(name, X_noisy == 1.0, p / 2, "set to 1")
    changed = (_run_noise(salt_and_pepper_fn, name, font, p, seed=0) != font).mean()
    if abs(changed - p / 2) > 0.01:
        raise CheckFailed(f"{name}: on the 0/1 font with p={p}, the fraction of pixels that changed is wrong.",
                          expected=f"about p/2 = {p / 2} (half the replaced pixels keep their value)",
                          actual=f"{changed:.3f}")
    if not np.array_equal(_run_noise(salt_and_pepper_fn, name, font, 0.0, seed=0), font):
        raise CheckFailed(f"{name} with p=0 must return X unchanged.")
    _check_rng_use(salt_and_pepper_fn, name, font, p)
    passed(f"salt_and_pepper replaces {fraction:.3f} of the pixels at p={p}, half by 0 and half by 1, "
           "leaves X untouched and draws from rng.")


def _noisy_font(seed, p, copies):
    X, labels = load_font()
    index = np.arange(copies * len(X)) % len(X)
    return X, labels, index, salt_and_pepper(X[index], p, rng=seed)


def _as_indices(result, name, n_samples, n_glyphs):
    try:
        indices = np.asarray(result)
    except (TypeError, ValueError):
        raise CheckFailed(f"{name} must return an array of glyph indices, got {type(result).__name__}") from None
    if indices.shape != (n_samples,):
        raise CheckFailed(f"{name} must return one glyph index per noisy sample, shape ({n_samples},), got "
                          f"shape {indices.shape}. Hint: take the argmin over the glyph axis (axis=1).")
    if not np.issubdtype(indices.dtype, np.integer):
        raise CheckFailed(f"{name} must return integer indices (e.g. from np.argmin), got dtype {indices.dtype}.")
    if indices.min() < 0 or indices.max() >= n_glyphs:
        raise CheckFailed(f"{name} returned index {indices.max() if indices.max() >= n_glyphs else indices.min()}, "
                          f"but there are only {n_glyphs} glyphs (indices 0 to {n_glyphs - 1}).")
    return indices


def check_nearest_glyph(nearest_glyph_fn):
    """Exercise 2.2: ``nearest_glyph_fn(X_noisy, glyphs)`` returns the index of a glyph at the smallest
    Hamming distance from each noisy sample (any of several equally near glyphs is right)."""
    name = "nearest_glyph"
    X, labels, index, X_noisy = _noisy_font(seed=0, p=0.3, copies=20)
    inputs = (X_noisy.copy(), X.copy())
    result = call(nearest_glyph_fn, X_noisy, X, name=name)
    if not (np.array_equal(X_noisy, inputs[0]) and np.array_equal(X, inputs[1])):
        raise CheckFailed(f"{name} changed one of its inputs in place; compute new arrays instead.")
    chosen = _as_indices(result, name, len(X_noisy), len(X))
    D = glyph_distances(X_noisy, X, "hamming")
    rows = np.arange(len(X_noisy))
    worse = np.flatnonzero(D[rows, chosen] > D.min(axis=1))
    if worse.size:
        i = worse[0]
        best = int(np.argmin(D[i]))
        raise CheckFailed(
            f"{name}: noisy sample {i} (a noisy '{labels[index[i]]}', salt-and-pepper p=0.3) was decoded as "
            f"'{labels[chosen[i]]}' at Hamming distance {D[i, chosen[i]]:.0f}, but '{labels[best]}' is at distance "
            f"{D[i, best]:.0f}. Hint: the Hamming distance counts the pixels in which two images differ; "
            "the decoder takes the glyph where it is smallest.")
    n_ties = int(((D == D.min(axis=1, keepdims=True)).sum(axis=1) > 1).sum())
    passed(f"nearest_glyph picks a nearest glyph for all {len(X_noisy)} noisy samples "
           f"({n_ties} of them had several equally near glyphs; any of those is right).")


def check_masking_noise(masking_noise_fn):
    """Exercise 2.4: ``masking_noise_fn(X, p, rng)`` sets each pixel, with probability p, to 0."""
    name = "masking_noise"
    p = 0.3
    ink = np.ones((N_SAMPLES, N_FEATURES))
    X_noisy = _run_noise(masking_noise_fn, name, ink, p, seed=0)
    if not np.isin(X_noisy, (0.0, 1.0)).all():
        raise CheckFailed(f"{name}: on an all-ink image a pixel became "
                          f"{format_number(X_noisy[~np.isin(X_noisy, (0, 1))][0], unlike=(0.0, 1.0))}; "
                          "a masked pixel must become exactly 0 and the others keep their value.")
    erased = (X_noisy == 0.0).mean()
    if abs(erased - p) > 0.01:
        hint = (" That is about p/2: did you replace pixels by 0 or 1 (salt-and-pepper) instead of by 0?"
                if abs(erased - p / 2) < 0.01 else "")
        raise CheckFailed(f"{name}: with p={p}, the fraction of ink pixels erased is wrong.{hint}",
                          expected=f"about {p}", actual=f"{erased:.3f}")
    _check_per_pixel(name, X_noisy == 0.0, p, "erased")
    blank = np.zeros((N_SAMPLES, N_FEATURES))
    if np.any(_run_noise(masking_noise_fn, name, blank, p, seed=0) != 0.0):
        raise CheckFailed(f"{name}: a blank pixel (0) changed; masking noise only erases, so blank pixels stay 0.")
    font = np.repeat(load_font()[0], 60, axis=0)
    if not np.array_equal(_run_noise(masking_noise_fn, name, font, 0.0, seed=0), font):
        raise CheckFailed(f"{name} with p=0 must return X unchanged.")
    _check_rng_use(masking_noise_fn, name, font, p)
    passed(f"masking_noise erases {erased:.3f} of the ink at p={p}, leaves blank pixels and X untouched "
           "and draws from rng.")


def _masking_log_likelihood(X_noisy, glyphs, p):
    # log p(x | c): -inf if x has ink where glyph c has none, else |x| log(1-p) + (|c| - |x|) log p.
    B = (X_noisy > 0.5).astype(np.float64)
    G = (glyphs > 0.5).astype(np.float64)
    ink_outside = B @ (1.0 - G).T
    erased = G.sum(axis=1) - B @ G.T
    log_likelihood = B.sum(axis=1, keepdims=True) * np.log1p(-p) + erased * np.log(p)
    return np.where(ink_outside > 0, -np.inf, log_likelihood)


def check_masking_decoder(masking_decoder_fn):
    """Exercise 2.5: ``masking_decoder_fn(X_noisy, glyphs, p)`` returns, for each sample, the index of a
    most probable glyph under masking noise of rate p (any of several equally probable ones is right)."""
    name = "masking_decoder"
    X, labels = load_font()
    p = 0.4
    index = np.arange(20 * len(X)) % len(X)
    rng = np.random.default_rng(0)
    X_noisy = np.where(rng.random((len(index), X.shape[1])) < p, 0.0, X[index])
    inputs = (X_noisy.copy(), X.copy())
    result = call(masking_decoder_fn, X_noisy, X, p, name=name)
    if not (np.array_equal(X_noisy, inputs[0]) and np.array_equal(X, inputs[1])):
        raise CheckFailed(f"{name} changed one of its inputs in place; compute new arrays instead.")
    chosen = _as_indices(result, name, len(X_noisy), len(X))
    L = _masking_log_likelihood(X_noisy, X, p)
    rows = np.arange(len(X_noisy))
    worse = np.flatnonzero(L[rows, chosen] < L.max(axis=1) - 1e-9)
    if worse.size:
        i = worse[0]
        best = int(np.argmax(L[i]))
        c = chosen[i]
        if np.isinf(L[i, c]):
            why = (f"'{labels[c]}' is impossible: the noisy sample has ink where '{labels[c]}' has none, and masking "
                   "noise never adds ink.")
        else:
            why = (f"'{labels[best]}' explains the sample with fewer erased pixels "
                   f"({X[best].sum() - X_noisy[i].sum():.0f} instead of {X[c].sum() - X_noisy[i].sum():.0f}).")
        raise CheckFailed(
            f"{name}: noisy sample {i} (a '{labels[index[i]]}' under masking noise, p={p}) was decoded as "
            f"'{labels[c]}', but '{labels[best]}' is more probable: {why} Hint: write down p(x | c) for one pixel "
            "in each of the four cases (ink or blank in the glyph c, ink or blank in the noisy image x).")
    passed(f"masking_decoder picks a most probable glyph for all {len(X_noisy)} samples.")
