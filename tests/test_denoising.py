"""The Bayes ceiling and the evaluation functions of chapter 2, and the chapter's promise: a
denoising autoencoder trained with the chapter's call recovers the exact glyph at least 95% as
often as the Bayes-optimal decoder, on our font and on another 5x7 alphabet it was not tuned to."""
import functools

import matplotlib.pyplot as plt
import numpy as np
import pytest

import aelib
from aelib.denoising import glyph_distances, noisy_samples

X_FONT, LABELS = aelib.load_font()
SALT_AND_PEPPER = functools.partial(aelib.salt_and_pepper, p=0.2)
GAUSSIAN = functools.partial(aelib.gaussian_noise, sigma=0.5)


# A second alphabet, built like letters from strokes on the 5x7 grid but drawn at random.

def _strokes():
    def stroke(pixels):
        grid = np.zeros((7, 5), dtype=bool)
        for row, col in pixels:
            grid[row, col] = True
        return grid

    strokes = []
    for row in (0, 3, 6):
        strokes += [stroke([(row, col) for col in range(5)]), stroke([(row, col) for col in range(1, 4)])]
    for col in (0, 2, 4):
        strokes += [stroke([(row, col) for row in rows]) for rows in (range(7), range(4), range(3, 7))]
    strokes.append(stroke([(row, min(4, row * 5 // 7)) for row in range(7)]))
    strokes.append(stroke([(row, 4 - min(4, row * 5 // 7)) for row in range(7)]))
    return strokes


def stroke_alphabet(n_glyphs=27, seed=0, min_distance=2):
    """n_glyphs distinct 5x7 glyphs, each the union of 2 to 4 random strokes, at least
    ``min_distance`` pixels apart (our font's closest letters differ in 2 pixels)."""
    rng = np.random.default_rng(seed)
    strokes = _strokes()
    glyphs = []
    while len(glyphs) < n_glyphs:
        chosen = rng.choice(len(strokes), size=rng.integers(2, 5), replace=False)
        glyph = np.any([strokes[i] for i in chosen], axis=0).ravel().astype(np.float64)
        if all(np.sum(glyph != other) >= min_distance for other in glyphs):
            glyphs.append(glyph)
    return np.array(glyphs)


X_STROKES = stroke_alphabet(seed=0)


def test_the_stroke_alphabet_is_like_our_font():
    D = glyph_distances(X_STROKES, X_STROKES, "hamming")
    np.fill_diagonal(D, np.inf)
    assert X_STROKES.shape == X_FONT.shape
    assert D.min() == 2  # as close as our closest letters
    assert abs(X_STROKES.mean() - X_FONT.mean()) < 0.05  # as much ink
    assert not any((glyph == X_FONT).all(axis=1).any() for glyph in X_STROKES)


# Distances and the nearest-glyph (Bayes) decoder.

def test_glyph_distances_match_a_direct_count():
    X_noisy = aelib.salt_and_pepper(X_FONT, p=0.4, rng=0)
    hamming = (X_noisy[:, None, :] != X_FONT[None, :, :]).sum(axis=2)
    assert np.array_equal(glyph_distances(X_noisy, X_FONT, "hamming"), hamming)
    X_noisy = aelib.gaussian_noise(X_FONT, sigma=0.5, rng=0)
    euclidean = np.linalg.norm(X_noisy[:, None, :] - X_FONT[None, :, :], axis=2)
    assert np.allclose(glyph_distances(X_noisy, X_FONT, "euclidean"), euclidean)


def test_nearest_glyph_is_the_most_probable_glyph_under_salt_and_pepper_noise():
    # The exact log-likelihood: each pixel differs from the glyph with probability p/2.
    p = 0.3
    index = np.arange(20 * 27) % 27
    X_noisy = aelib.salt_and_pepper(X_FONT[index], p=p, rng=1)
    differ = glyph_distances(X_noisy, X_FONT, "hamming")
    log_likelihood = differ * np.log(p / 2) + (35 - differ) * np.log(1 - p / 2)
    chosen = aelib.nearest_glyph(X_noisy, X_FONT, "hamming", rng=2)
    assert np.allclose(log_likelihood[np.arange(len(chosen)), chosen], log_likelihood.max(axis=1))


def test_nearest_glyph_breaks_ties_uniformly_at_random():
    glyphs = np.array([[1, 1, 0, 0], [0, 0, 1, 1], [1, 0, 1, 0]], dtype=float)
    # [1, 0, 0, 0] is at distance 1 from glyphs 0 and 2 and at distance 3 from glyph 1.
    X_noisy = np.tile([1.0, 0.0, 0.0, 0.0], (4000, 1))
    chosen = aelib.nearest_glyph(X_noisy, glyphs, rng=3)
    counts = np.bincount(chosen, minlength=3)
    assert counts[1] == 0
    assert abs(counts[0] / 4000 - 0.5) < 0.03
    assert np.array_equal(chosen, aelib.nearest_glyph(X_noisy, glyphs, rng=3))


def test_bayes_denoise_returns_glyphs_and_leaves_clean_glyphs_alone():
    assert np.array_equal(aelib.bayes_denoise(X_FONT, X_FONT, "hamming", rng=0), X_FONT)
    assert np.array_equal(aelib.bayes_denoise(X_FONT, X_FONT, "euclidean", rng=0), X_FONT)
    X_hat = aelib.bayes_denoise(aelib.salt_and_pepper(X_FONT, p=0.5, rng=0), X_FONT, rng=0)
    assert all((row == X_FONT).all(axis=1).any() for row in X_hat)


def test_a_bad_metric_or_width_is_rejected_with_the_arguments_name():
    with pytest.raises(ValueError, match="metric"):
        aelib.bayes_denoise(X_FONT, X_FONT, "manhattan")
    with pytest.raises(ValueError, match="X_noisy"):
        aelib.nearest_glyph(X_FONT[:, :30], X_FONT)


# Exact recovery and the evaluation functions.

def test_exact_recovery_needs_every_pixel_right_after_thresholding():
    X = np.array([[0.0, 1.0, 1.0], [1.0, 0.0, 0.0]])
    X_hat = np.array([[0.2, 0.9, 0.6], [0.7, 0.4, 0.6]])  # the second row has one pixel wrong
    assert aelib.exact_recovery_rate(X_hat, X) == 0.5
    with pytest.raises(ValueError, match="X_hat"):
        aelib.exact_recovery_rate(X_hat[:, :2], X)
    with pytest.raises(ValueError, match="shape"):
        aelib.exact_recovery_rate(X_hat[:1], X)


def test_noisy_samples_use_every_glyph_equally_often():
    X_clean, X_noisy = noisy_samples(X_FONT, SALT_AND_PEPPER, n_samples=270, rng=0)
    counts = [(X_clean == glyph).all(axis=1).sum() for glyph in X_FONT]
    assert counts == [10] * 27
    assert X_noisy.shape == (270, 35) and not np.array_equal(X_noisy, X_clean)
    again = noisy_samples(X_FONT, SALT_AND_PEPPER, n_samples=270, rng=0)[1]
    assert np.array_equal(X_noisy, again)


def test_recovery_rates_compare_denoisers_on_the_same_samples():
    seen = []

    def spy(X_noisy):
        seen.append(X_noisy.copy())
        return X_noisy

    rates = aelib.recovery_rates({"a": spy, "b": spy}, X_FONT, SALT_AND_PEPPER, n_samples=500, rng=0)
    assert np.array_equal(seen[0], seen[1])
    assert rates["a"] == rates["b"]
    # Doing nothing recovers a glyph when none of its 35 pixels changed: (1 - p/2)^35.
    assert abs(rates["a"] - 0.9 ** 35) < 0.03


def test_recovery_curves_have_one_rate_per_level():
    levels = [0.0, 0.25, 1.0]
    curves = aelib.recovery_curves({"identity": lambda X_noisy: X_noisy}, X_FONT,
                                   lambda p: functools.partial(aelib.salt_and_pepper, p=p), levels,
                                   n_samples=270, rng=0)
    assert curves["identity"].shape == (3,)
    assert curves["identity"][0] == 1.0 and curves["identity"][2] == 0.0
    with pytest.raises(TypeError, match="denoisers"):
        aelib.recovery_curves({"bad": 3}, X_FONT, lambda p: SALT_AND_PEPPER, levels)


def test_the_ceiling_is_1_without_noise_and_chance_when_the_glyph_is_gone():
    assert aelib.bayes_ceiling(X_FONT, functools.partial(aelib.salt_and_pepper, p=0.0), "hamming",
                               n_samples=270, rng=0) == 1.0
    # At p = 1 the noisy image carries no information: any rule is right 1 time in 27.
    chance = aelib.bayes_ceiling(X_FONT, functools.partial(aelib.salt_and_pepper, p=1.0), "hamming",
                                 n_samples=10_000, rng=0)
    assert abs(chance - 1 / 27) < 0.008


def test_no_simple_denoiser_beats_the_ceiling():
    noise = functools.partial(aelib.salt_and_pepper, p=0.3)
    rates = aelib.recovery_rates({"identity": lambda X_noisy: X_noisy,
                                  "Bayes": lambda X_noisy: aelib.bayes_denoise(X_noisy, X_FONT, rng=0)},
                                 X_FONT, noise, n_samples=5000, rng=1)
    assert rates["identity"] < rates["Bayes"]


# The chapter's promise.

@pytest.mark.training
def test_a_small_dae_beats_an_autoencoder_never_trained_on_noise():
    X_train = np.repeat(X_FONT, 4, axis=0)
    dae = aelib.Autoencoder([35, 32, 8], seed=0)
    dae.fit(X_train, epochs=800, lr=1e-2, noise=SALT_AND_PEPPER)
    plain = aelib.Autoencoder([35, 32, 8], seed=0)
    plain.fit(X_train, epochs=800, lr=1e-2)
    rates = aelib.recovery_rates({"dae": dae.reconstruct, "plain": plain.reconstruct}, X_FONT, SALT_AND_PEPPER,
                                 n_samples=2000, rng=0)
    assert rates["dae"] > rates["plain"] + 0.2


@pytest.mark.parametrize("alphabet", ["our font", "stroke alphabet"])
@pytest.mark.parametrize("noise, metric", [(SALT_AND_PEPPER, "hamming"), (GAUSSIAN, "euclidean")],
                         ids=["salt-and-pepper p=0.2", "Gaussian sigma=0.5"])
@pytest.mark.training
def test_the_dae_reaches_95_percent_of_the_ceiling(alphabet, noise, metric):
    X = X_FONT if alphabet == "our font" else X_STROKES
    dae = aelib.Autoencoder([35, 64, 32, 8], seed=0)
    dae.fit(np.repeat(X, 8, axis=0), epochs=3000, lr=3e-3, noise=noise)
    rates = aelib.recovery_rates({"dae": dae.reconstruct,
                                  "Bayes": lambda X_noisy: aelib.bayes_denoise(X_noisy, X, metric, rng=0)},
                                 X, noise, n_samples=10_000, rng=1)
    assert rates["dae"] >= 0.95 * rates["Bayes"], rates


# The figures and the playground.

def test_recovery_and_latent_plots_draw():
    levels = np.linspace(0, 0.5, 3)
    fig = aelib.plots.plot_recovery_curves(levels, {"DAE": [1, 0.9, 0.5], "Bayes": [1, 0.95, 0.7]}, "p",
                                           reference="Bayes")
    assert len(fig.axes[0].lines) == 2
    plt.close(fig)
    Z = np.random.default_rng(0).normal(size=(27, 2))
    fig = aelib.plots.plot_latent_clouds(Z, LABELS, np.repeat(Z, 3, axis=0), np.repeat(np.arange(27), 3))
    assert len(fig.axes[0].texts) == 27
    plt.close(fig)
    with pytest.raises(ValueError, match="2 columns"):
        aelib.plots.plot_latent_clouds(np.zeros((27, 3)), LABELS, np.zeros((5, 2)), np.zeros(5, dtype=int))
