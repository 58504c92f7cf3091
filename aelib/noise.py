"""Corruptions for the denoising autoencoder. Each returns a new array; the input is never modified."""
import numpy as np

from .validation import as_data_matrix, as_generator, non_negative_number, probability


def salt_and_pepper(X, p, rng=None):
    """Replace each pixel, with probability p, by 0 or 1 (equally likely).

    X: (n_samples, n_features). rng: a ``numpy.random.Generator``, an int seed, or None
    (fresh entropy). Returns an array of X's shape.
    """
    X = as_data_matrix(X)
    p = probability(p, "p")
    rng = as_generator(rng)
    replaced = rng.random(X.shape) < p
    salt = rng.random(X.shape) < 0.5
    return np.where(replaced, salt.astype(np.float64), X)


def gaussian_noise(X, sigma, rng=None):
    """Add independent N(0, sigma^2) noise to every pixel, without clipping.

    X: (n_samples, n_features). Returns an array of X's shape.
    """
    X = as_data_matrix(X)
    sigma = non_negative_number(sigma, "sigma")
    rng = as_generator(rng)
    return X + sigma * rng.standard_normal(X.shape)
