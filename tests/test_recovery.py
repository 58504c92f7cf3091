"""The measures of sparse codes: feature recovery, FVU, L0, latent density and dead latents."""
import numpy as np
import pytest

import aelib


def test_feature_recovery_is_the_largest_absolute_cosine_per_true_direction():
    true = np.array([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]])
    dictionary = np.array([[0.0, -3.0], [1.0, 0.1]])
    expected = [1 / np.hypot(1, 0.1), 1.0, max(3 / (np.sqrt(2) * 3), 1.1 / (np.sqrt(2) * np.hypot(1, 0.1)))]
    np.testing.assert_allclose(aelib.feature_recovery(true, dictionary), expected, rtol=1e-14)


def test_feature_recovery_ignores_sign_scale_and_order_and_stays_in_0_1():
    rng = np.random.default_rng(0)
    true = aelib.random_directions(6, 4, rng)
    dictionary = rng.normal(size=(9, 4))
    base = aelib.feature_recovery(true, dictionary)
    changed = -3.0 * dictionary[rng.permutation(9)]
    np.testing.assert_allclose(aelib.feature_recovery(true, changed), base, rtol=1e-13)
    np.testing.assert_allclose(aelib.feature_recovery(5 * true, dictionary), base, rtol=1e-13)
    assert np.all((base >= 0) & (base <= 1))
    # A dictionary that contains the true directions finds all of them exactly.
    np.testing.assert_allclose(aelib.feature_recovery(true, np.vstack([dictionary, -true])), 1.0, rtol=1e-14)
    assert aelib.feature_recovery(true, true).max() <= 1.0


@pytest.mark.parametrize("true, dictionary, message", [
    (np.zeros((2, 3)), np.ones((4, 3)), "true_directions must have no zero rows"),
    (np.ones((2, 3)), np.zeros((4, 3)), "dictionary must have no zero rows"),
    (np.ones((2, 3)), np.ones((4, 2)), "dictionary must have 3 features"),
    (np.ones(3), np.ones((4, 3)), "true_directions must be 2-D"),
    (np.array([[1.0, np.nan]]), np.ones((1, 2)), "finite"),
])
def test_feature_recovery_refuses_bad_input(true, dictionary, message):
    with pytest.raises(ValueError, match=message):
        aelib.feature_recovery(true, dictionary)


def test_fraction_of_variance_unexplained():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(50, 4)) + 3.0
    assert aelib.fraction_of_variance_unexplained(X, X) == 0.0
    assert aelib.fraction_of_variance_unexplained(X, np.tile(X.mean(axis=0), (50, 1))) == pytest.approx(1.0)
    X_hat = X + 0.1 * rng.normal(size=X.shape)
    expected = np.sum((X - X_hat) ** 2) / np.sum((X - X.mean(axis=0)) ** 2)
    assert aelib.fraction_of_variance_unexplained(X, X_hat) == pytest.approx(expected, rel=1e-14)
    with pytest.raises(ValueError, match="no variance"):
        aelib.fraction_of_variance_unexplained(np.ones((3, 2)), np.ones((3, 2)))
    with pytest.raises(ValueError, match="X_hat must have"):
        aelib.fraction_of_variance_unexplained(X, X[:, :3])
    with pytest.raises(ValueError, match="shape of X"):
        aelib.fraction_of_variance_unexplained(X, X[:10])


def test_l0_density_and_dead_latents():
    Z = np.array([[0.0, 2.0, 0.0, 1.0], [0.0, 0.5, 0.0, 0.0], [0.0, 0.0, 0.0, 3.0]])
    assert aelib.l0(Z) == pytest.approx(4 / 3)
    np.testing.assert_allclose(aelib.latent_density(Z), [0, 2 / 3, 0, 2 / 3])
    assert aelib.dead_latents(Z) == 2
    with pytest.raises(ValueError, match="Z must be 2-D"):
        aelib.l0(np.ones(3))
