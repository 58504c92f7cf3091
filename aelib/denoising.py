r"""The best any denoiser can do, and how to measure a denoiser against it.

When the clean data come from a known alphabet of :math:`M` equally likely glyphs
:math:`c_1, \dots, c_M` and the noise is known, the decoder that recovers the exact glyph most
often is the maximum a posteriori (Bayes) rule

.. math::
    \hat c(\tilde x) = \arg\max_c\, p(c \mid \tilde x) = \arg\max_c\, p(\tilde x \mid c),

because with equal priors the posterior is proportional to the likelihood. For salt-and-pepper
noise with rate :math:`\nu` (the argument ``p``) each pixel ends up flipped with probability
:math:`\nu/2`, so with :math:`d` pixels :math:`p(\tilde x \mid c) = (\nu/2)^{d_H} (1 - \nu/2)^{d - d_H}` falls with the
Hamming distance :math:`d_H(\tilde x, c)`: the rule picks the nearest glyph in Hamming distance.
For Gaussian noise :math:`p(\tilde x \mid c) \propto \exp(-\lVert \tilde x - c \rVert^2 / 2\sigma_\text{noise}^2)`:
the nearest glyph in Euclidean distance. When several glyphs are equally near, they are equally
probable, and the rule picks one of them at random.

Exact recovery: a denoised glyph counts as recovered when every pixel, thresholded at 0.5,
equals the clean glyph's.
"""
import numpy as np

from .validation import as_data_matrix, as_generator, as_real_array, check_noise_output, positive_int

METRICS = ("hamming", "euclidean")
PIXEL_THRESHOLD = 0.5


def glyph_distances(X_noisy, glyphs, metric="hamming"):
    """Distances from every noisy sample to every glyph.

    X_noisy: (n_samples, n_features); glyphs: (n_glyphs, n_features). metric: "hamming" (the
    number of pixels that differ once both are thresholded at 0.5) or "euclidean".
    Returns D: (n_samples, n_glyphs).
    """
    glyphs = as_data_matrix(glyphs, "glyphs")
    X_noisy = as_data_matrix(X_noisy, "X_noisy", glyphs.shape[1])
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {METRICS}, got {metric!r}")
    if metric == "hamming":
        # On 0/1 pixels the products count shared ink exactly, so the distances are exact integers.
        B = (X_noisy > PIXEL_THRESHOLD).astype(np.float64)
        G = (glyphs > PIXEL_THRESHOLD).astype(np.float64)
        return B.sum(axis=1, keepdims=True) + G.sum(axis=1) - 2.0 * B @ G.T
    squared = (X_noisy ** 2).sum(axis=1, keepdims=True) + (glyphs ** 2).sum(axis=1) - 2.0 * X_noisy @ glyphs.T
    return np.sqrt(np.maximum(squared, 0.0))


def nearest_glyph(X_noisy, glyphs, metric="hamming", rng=None):
    """The index of the glyph nearest to each noisy sample; ties are broken uniformly at random.

    X_noisy: (n_samples, n_features); glyphs: (n_glyphs, n_features). rng: a Generator, an int
    seed or None, used only to break ties. Returns indices: int (n_samples,).
    """
    D = glyph_distances(X_noisy, glyphs, metric)
    rng = as_generator(rng)
    tied = D == D.min(axis=1, keepdims=True)
    # A random key for every tied glyph and -1 for the others: the largest key is a uniform pick.
    keys = np.where(tied, rng.random(D.shape), -1.0)
    return keys.argmax(axis=1)


def bayes_denoise(X_noisy, glyphs, metric="hamming", rng=None):
    """The Bayes-optimal denoiser for equally likely glyphs: replace each sample by its nearest glyph.

    Use metric="hamming" for salt-and-pepper noise and "euclidean" for Gaussian noise.
    X_noisy: (n_samples, n_features); glyphs: (n_glyphs, n_features). rng breaks ties.
    Returns X_hat: (n_samples, n_features).
    """
    glyphs = as_data_matrix(glyphs, "glyphs")
    return glyphs[nearest_glyph(X_noisy, glyphs, metric, rng)]


def exact_recovery_rate(X_hat, X):
    """The fraction of samples whose every pixel is right after thresholding at 0.5.

    X_hat: (n_samples, n_features) denoised; X: (n_samples, n_features) clean. Returns a float.
    """
    X = as_data_matrix(X, "X")
    X_hat = as_data_matrix(X_hat, "X_hat", X.shape[1])
    if X_hat.shape != X.shape:
        raise ValueError(f"X_hat and X must have the same shape, got {X_hat.shape} and {X.shape}")
    recovered = np.all((X_hat > PIXEL_THRESHOLD) == (X > PIXEL_THRESHOLD), axis=1)
    return float(recovered.mean())


def noisy_samples(X, noise, n_samples, rng=None):
    """Fresh noisy copies of the glyphs, every glyph equally often.

    X: (n_glyphs, n_features); noise: a function ``noise(X, rng=rng)`` such as
    ``functools.partial(aelib.salt_and_pepper, p=0.2)``. Sample i is glyph ``i % n_glyphs``.
    Returns (X_clean, X_noisy), both (n_samples, n_features).
    """
    X = as_data_matrix(X, "X")
    n_samples = positive_int(n_samples, "n_samples")
    if not callable(noise):
        raise TypeError(f"noise must be a function noise(X, rng=rng), got {noise!r}")
    rng = as_generator(rng)
    X_clean = X[np.arange(n_samples) % len(X)]
    return X_clean, check_noise_output(noise(X_clean, rng=rng), X_clean, noise)


def recovery_rates(denoisers, X, noise, n_samples=10_000, rng=None):
    """The exact-recovery rate of several denoisers, all on the same fresh noisy samples.

    denoisers: dict name -> function X_noisy (n, n_features) -> X_hat (n, n_features).
    X: (n_glyphs, n_features); noise: ``noise(X, rng=rng)``. Returns dict name -> rate.
    """
    _check_denoisers(denoisers)
    X_clean, X_noisy = noisy_samples(X, noise, n_samples, rng)
    return {name: exact_recovery_rate(denoise(X_noisy), X_clean) for name, denoise in denoisers.items()}


def recovery_curves(denoisers, X, make_noise, levels, n_samples=2_000, rng=None):
    """Exact-recovery rate against noise level, every denoiser on the same samples at each level.

    make_noise: function level -> noise function, e.g.
    ``lambda p: functools.partial(aelib.salt_and_pepper, p=p)``. levels: sequence of numbers.
    Returns dict name -> array of rates, one per level.
    """
    _check_denoisers(denoisers)
    if not callable(make_noise):
        raise TypeError(f"make_noise must be a function level -> noise function, e.g. "
                        f"lambda p: functools.partial(aelib.salt_and_pepper, p=p), got {make_noise!r}")
    levels = as_real_array(levels, "levels").ravel()
    if levels.size == 0:
        raise ValueError("levels must contain at least one noise level")
    rng = as_generator(rng)
    curves = {name: np.zeros(levels.size) for name in denoisers}
    for i, level in enumerate(levels):
        rates = recovery_rates(denoisers, X, make_noise(float(level)), n_samples, rng)
        for name, rate in rates.items():
            curves[name][i] = rate
    return curves


def bayes_ceiling(X, noise, metric, n_samples=10_000, rng=None):
    """The exact-recovery rate of the Bayes-optimal denoiser: no denoiser does better on average.

    X: (n_glyphs, n_features) the equally likely glyphs; noise: ``noise(X, rng=rng)``;
    metric: "hamming" for salt-and-pepper, "euclidean" for Gaussian noise. A Monte Carlo
    estimate from ``n_samples`` fresh noisy samples (its standard error is about
    sqrt(rate * (1 - rate) / n_samples)).
    """
    rng = as_generator(rng)
    X = as_data_matrix(X, "X")
    denoise = {"Bayes": lambda X_noisy: bayes_denoise(X_noisy, X, metric, rng)}
    return recovery_rates(denoise, X, noise, n_samples, rng)["Bayes"]


def _check_denoisers(denoisers):
    if not isinstance(denoisers, dict) or not denoisers:
        raise TypeError(f"denoisers must be a non-empty dict name -> function, got {denoisers!r}")
    for name, denoise in denoisers.items():
        if not callable(denoise):
            raise TypeError(f"denoisers[{name!r}] must be a function X_noisy -> X_hat, got {denoise!r}")
