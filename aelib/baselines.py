r"""The baselines the models are measured against: PCA, a Gaussian blur and a median filter.

``PCA`` has the autoencoder's interface (``fit``, ``encode``, ``decode``, ``reconstruct``), so a
chapter can swap one for the other. It is the best *linear* autoencoder: with mean
:math:`\bar x` and the top :math:`k` right singular vectors :math:`V_k` of the centred data,
:math:`z = (x - \bar x) V_k` and :math:`\hat x = \bar x + z V_k^\top` minimise the squared
reconstruction error over all rank-:math:`k` linear maps.
The filters work on images stored as rows, X: (n_images, rows * cols).
"""
import numpy as np

from .validation import as_data_matrix, as_shape, non_negative_number, positive_int


class PCA:
    """Principal component analysis with ``n_components`` components."""

    def __init__(self, n_components):
        self.n_components = positive_int(n_components, "n_components")
        self.mean = self.components = None

    def __repr__(self):
        return f"PCA({self.n_components})"

    def fit(self, X):
        """Find the mean and the principal directions of X: (n_samples, n_features). Returns self."""
        X = as_data_matrix(X)
        if self.n_components > min(X.shape):
            raise ValueError(f"n_components must be at most min(n_samples, n_features) = {min(X.shape)}, "
                             f"got {self.n_components}")
        self.mean = X.mean(axis=0)
        _, _, Vt = np.linalg.svd(X - self.mean, full_matrices=False)
        # A singular vector's sign is arbitrary; fix it (largest entry positive) so codes are reproducible.
        signs = np.sign(Vt[np.arange(len(Vt)), np.abs(Vt).argmax(axis=1)])
        self.components = (Vt * signs[:, None])[:self.n_components]     # (n_components, n_features)
        return self

    def _fitted(self):
        if self.components is None:
            raise RuntimeError("call fit(X) before using this PCA")
        return self.components

    def encode(self, X):
        """X: (n_samples, n_features) -> Z: (n_samples, n_components)."""
        V = self._fitted()
        return (as_data_matrix(X, "X", V.shape[1]) - self.mean) @ V.T

    def decode(self, Z):
        """Z: (n_samples, n_components) -> X_hat: (n_samples, n_features)."""
        V = self._fitted()
        return self.mean + as_data_matrix(Z, "Z", V.shape[0]) @ V

    def reconstruct(self, X):
        """X -> X_hat = decode(encode(X)), both (n_samples, n_features)."""
        return self.decode(self.encode(X))


def _images(X, shape):
    X = as_data_matrix(X)
    rows, cols = as_shape(shape, "shape", X.shape[1])
    return X.reshape(len(X), rows, cols)


def gaussian_blur(X, sigma, shape):
    """Blur each image with a Gaussian of standard deviation ``sigma`` pixels (edges repeated).

    X: (n_images, rows * cols); shape: (rows, cols). The kernel is cut at 2 sigma and normalised;
    the blur is separable, rows then columns. Returns an array of X's shape.
    """
    sigma = non_negative_number(sigma, "sigma")
    images = _images(X, shape)
    if sigma == 0:
        return images.reshape(len(images), -1).copy()
    radius = max(1, int(np.ceil(2 * sigma)))
    offsets = np.arange(-radius, radius + 1)
    kernel = np.exp(-0.5 * (offsets / sigma) ** 2)
    kernel /= kernel.sum()
    padded = np.pad(images, ((0, 0), (radius, radius), (0, 0)), mode="edge")
    images = sum(w * padded[:, radius + o:radius + o + images.shape[1], :] for w, o in zip(kernel, offsets))
    padded = np.pad(images, ((0, 0), (0, 0), (radius, radius)), mode="edge")
    images = sum(w * padded[:, :, radius + o:radius + o + images.shape[2]] for w, o in zip(kernel, offsets))
    return images.reshape(len(images), -1)


def median_filter(X, shape, size=3):
    """Replace each pixel by the median of the ``size`` x ``size`` window around it (edges repeated).

    X: (n_images, rows * cols); shape: (rows, cols); size: an odd window width. Returns X's shape.
    """
    size = positive_int(size, "size")
    if size % 2 == 0:
        raise ValueError(f"size must be odd (the window is centred on its pixel), got {size}")
    images = _images(X, shape)
    r = size // 2
    rows, cols = images.shape[1:]
    padded = np.pad(images, ((0, 0), (r, r), (r, r)), mode="edge")
    windows = np.stack([padded[:, i:i + rows, j:j + cols] for i in range(size) for j in range(size)])
    return np.median(windows, axis=0).reshape(len(images), -1)
