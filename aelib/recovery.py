r"""Measuring sparse codes and the directions behind them, in the field's own terms.

Plain numpy, no model knowledge (the first floor). For activations :math:`X`, their
reconstructions :math:`\hat X` and codes :math:`Z` (one row per sample):

* the **fraction of variance unexplained**,
  :math:`\mathrm{FVU} = \lVert X - \hat X \rVert^2 / \lVert X - \mathbf{1}\bar x \rVert^2`: 0 for a
  perfect reconstruction, 1 for one that only knows the mean row :math:`\bar x` (the
  *explained variance* is :math:`1 - \mathrm{FVU}`);
* **L0**, the mean number of non-zero latents per sample;
* the **density** of a latent, the share of samples on which it fires (is non-zero), and the
  **dead** latents, which fire on none of them;
* **feature recovery**: when the true directions are known (they never are for a real network,
  always for a synthetic problem), how close the nearest dictionary row comes to each, as the
  largest :math:`|\cos|` between them.
"""
import numpy as np

from .validation import as_data_matrix


def _unit_rows(M, name):
    # Each row is first divided by its largest |entry|, so that the squares in its norm neither
    # overflow (rows of 1e200 would come out as zero vectors) nor underflow (1e-200: "zero rows").
    largest = np.abs(M).max(axis=1)
    if np.any(largest == 0):
        raise ValueError(f"{name} must have no zero rows (a zero vector has no direction), "
                         f"but row {int(np.argmin(largest))} is zero")
    M = M / largest[:, None]
    return M / np.linalg.norm(M, axis=1)[:, None]


def feature_recovery(true_directions, dictionary):
    """For each true direction, the largest |cos| between it and any row of the dictionary.

    true_directions: (n_true, d); dictionary: (n_latent, d), e.g. an SAE's decoder directions.
    Neither needs unit rows (both are normalised here), and the sign does not count: a direction
    and its negative are the same feature. Returns (n_true,) values in [0, 1]; a true direction
    counts as found at a threshold such as 0.9 or 0.99.
    """
    T = _unit_rows(as_data_matrix(true_directions, "true_directions"), "true_directions")
    D = _unit_rows(as_data_matrix(dictionary, "dictionary", T.shape[1]), "dictionary")
    # Products of unit vectors can round a hair above 1.
    return np.minimum(np.abs(T @ D.T).max(axis=1), 1.0)


def fraction_of_variance_unexplained(X, X_hat):
    """||X - X_hat||^2 / ||X - mean row of X||^2 for X, X_hat: (n_samples, n_features); a float."""
    X = as_data_matrix(X, "X")
    X_hat = as_data_matrix(X_hat, "X_hat", X.shape[1])
    if X_hat.shape != X.shape:
        raise ValueError(f"X_hat must have the shape of X {X.shape}, got {X_hat.shape}")
    total = np.sum((X - X.mean(axis=0)) ** 2)
    if total == 0:
        raise ValueError("X has no variance (every row is the same), so no fraction of it can be explained")
    return float(np.sum((X - X_hat) ** 2) / total)


def l0(Z):
    """The mean number of non-zero entries per row of the codes Z: (n_samples, n_latent); a float."""
    return float(np.count_nonzero(as_data_matrix(Z, "Z"), axis=1).mean())


def latent_density(Z):
    """The share of samples on which each latent fires (is non-zero): (n_latent,) in [0, 1]."""
    Z = as_data_matrix(Z, "Z")
    return np.count_nonzero(Z, axis=0) / Z.shape[0]


def dead_latents(Z):
    """The number of latents (columns of Z: (n_samples, n_latent)) that fire on none of the samples."""
    return int(np.sum(latent_density(Z) == 0))
