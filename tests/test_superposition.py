"""The toy model of superposition: its data, its gradient, and what it stores.

What it must reach, for 5 features of importance 0.9^j in 2 dimensions: sparse (p = 0.05), they
are stored as a pentagon, all five at about equal length and 72 degrees apart; in between
(p = 0.5), four are stored as two antipodal pairs; dense (p = 1), only the two most important
are kept, at right angles. 40 sparse features (p = 0.05) in 10 dimensions are all stored.
"""
import numpy as np
import pytest

import aelib


def test_sparse_features_are_zero_or_uniform_with_the_right_rate():
    X = aelib.sparse_features(20000, 10, 0.05, rng=0)
    assert X.shape == (20000, 10) and X.dtype == np.float64
    active = X > 0
    # 200,000 Bernoulli(0.05) draws: standard deviation of the rate 4.9e-4; fixed seed.
    assert abs(active.mean() - 0.05) < 0.002
    assert abs(X[active].mean() - 0.5) < 0.01 and X.max() < 1
    # Uniform on [0, 1]: each tenth of the interval holds a tenth of the active values.
    counts = np.histogram(X[active], bins=10, range=(0, 1))[0]
    assert np.all(np.abs(counts / active.sum() - 0.1) < 0.01)


def test_sparse_features_take_a_seed_or_a_generator_and_leave_the_global_state_alone():
    state = np.random.get_state()[1].copy()
    a = aelib.sparse_features(5, 4, 0.5, rng=3)
    b = aelib.sparse_features(5, 4, 0.5, rng=np.random.default_rng(3))
    np.testing.assert_array_equal(a, b)
    assert np.array_equal(np.random.get_state()[1], state)
    assert np.all(aelib.sparse_features(3, 4, 0.0, rng=0) == 0)
    assert np.all(aelib.sparse_features(3, 4, 1.0, rng=0) > 0)


def test_random_directions_are_unit_vectors_spread_over_the_sphere():
    D = aelib.random_directions(4000, 3, rng=1)
    np.testing.assert_allclose(np.linalg.norm(D, axis=1), 1.0, rtol=1e-14)
    # Uniform on the sphere: the mean is near 0 and each coordinate has variance 1/3.
    assert np.all(np.abs(D.mean(axis=0)) < 0.05) and np.all(np.abs(D.var(axis=0) - 1 / 3) < 0.03)


@pytest.mark.parametrize("call, message", [
    (lambda: aelib.sparse_features(10, 5, 1.5), "p must be a probability"),
    (lambda: aelib.sparse_features(0, 5, 0.1), "n_samples"),
    (lambda: aelib.sparse_features(10, 5, 0.1, rng="x"), "rng"),
    (lambda: aelib.random_directions(3, 0), "n_dims"),
    (lambda: aelib.ToyModel(5, 2, importance=[1, 1]), "importance must be None or 5"),
    (lambda: aelib.ToyModel(5, 2, importance=[1, 1, -1, 1, 1]), "importance"),
    (lambda: aelib.ToyModel(5, 2, importance="ones"), "importance"),
    (lambda: aelib.ToyModel(5, 0), "n_hidden"),
])
def test_bad_arguments_are_refused_with_the_arguments_name(call, message):
    with pytest.raises((TypeError, ValueError), match=message):
        call()


@pytest.mark.parametrize("importance", [None, [1.0, 0.5, 2.0, 0.0, 1.5, 0.7]])
def test_loss_and_grads_match_central_differences(gradients, importance):
    rng = np.random.default_rng(0)
    toy = aelib.ToyModel(6, 3, importance=importance, seed=2)
    toy.params[1][...] = rng.normal(0.0, 0.2, 6)
    X = aelib.sparse_features(9, 6, 0.5, rng)
    _, grads = toy.loss_and_grads(X)
    assert np.count_nonzero(toy.reconstruct(X)) > 10  # the ReLU passes gradient somewhere
    for name, param, grad in zip(toy.param_names, toy.params, grads):
        gradients.assert_close(lambda: toy.loss_and_grads(X)[0], param, grad, f"toy model, {name}")


def test_both_paths_of_the_tied_weights_are_needed():
    rng = np.random.default_rng(1)
    toy = aelib.ToyModel(6, 3, seed=2)
    X = aelib.sparse_features(12, 6, 0.5, rng)
    _, (dW, db) = toy.loss_and_grads(X)
    W = toy.params[0]
    H = X @ W
    A = H @ W.T + toy.params[1]
    delta = 2 / X.size * (np.maximum(A, 0) - X) * (A > 0)
    np.testing.assert_allclose(dW, X.T @ delta @ W + delta.T @ H, rtol=1e-12)
    for one_path in (X.T @ delta @ W, delta.T @ H):
        assert np.linalg.norm(one_path - dW) > 0.1 * np.linalg.norm(dW)


def test_loss_is_the_importance_weighted_mean_squared_error():
    rng = np.random.default_rng(2)
    importance = rng.uniform(0, 2, 7)
    toy = aelib.ToyModel(7, 3, importance=importance, seed=0)
    X = aelib.sparse_features(11, 7, 0.4, rng)
    expected = np.mean(importance * (toy.reconstruct(X) - X) ** 2)
    assert toy.loss_and_grads(X)[0] == pytest.approx(expected, rel=1e-12)
    assert toy.encode(X).shape == (11, 3) and toy.directions.shape == (7, 3)


def test_save_load_round_trip(tmp_path):
    toy = aelib.ToyModel(6, 2, importance=[1, 0.9, 0.8, 0.7, 0.6, 0.5], seed=3)
    X = aelib.sparse_features(100, 6, 0.2, rng=0)
    toy.fit(X, epochs=3, lr=1e-2, batch_size=32)
    toy.save(tmp_path / "toy.npz")
    loaded = aelib.ToyModel.load(tmp_path / "toy.npz")
    np.testing.assert_array_equal(loaded.reconstruct(X), toy.reconstruct(X))
    np.testing.assert_array_equal(loaded.importance, toy.importance)


# What training stores. Deterministic for a seed; seeds 0-7 all gave these pictures (with the
# seed's data drawn from seed + 100), with wide margins: lengths near 1 or near 0, angles within
# a few degrees of 72, 90 and 180.
IMPORTANCE = 0.9 ** np.arange(5)

def trained_toy(n, d, p, importance, seed=0, steps=1600):
    toy = aelib.ToyModel(n, d, importance=importance, seed=seed)
    toy.fit(aelib.sparse_features(8192, n, p, rng=seed + 100), epochs=steps // 8, lr=1e-2, batch_size=1024)
    return toy.directions


@pytest.mark.training
@pytest.mark.parametrize("seed", [0, 1])
def test_five_sparse_features_in_two_dimensions_form_a_pentagon(seed):
    W = trained_toy(5, 2, 0.05, IMPORTANCE, seed)
    lengths = np.linalg.norm(W, axis=1)
    assert np.all((lengths > 0.9) & (lengths < 1.3)), lengths
    angles = np.sort(np.degrees(np.arctan2(W[:, 1], W[:, 0])))
    gaps = np.diff(np.r_[angles, angles[0] + 360])
    assert np.all(np.abs(gaps - 72) < 15), gaps


@pytest.mark.training
@pytest.mark.parametrize("seed", [0, 1])
def test_dense_features_keep_only_the_two_most_important_at_right_angles(seed):
    W = trained_toy(5, 2, 1.0, IMPORTANCE, seed)
    lengths = np.linalg.norm(W, axis=1)
    assert np.all(lengths[:2] > 0.8) and np.all(lengths[2:] < 0.2), lengths
    cosine = W[0] @ W[1] / (lengths[0] * lengths[1])
    assert abs(cosine) < 0.2, cosine


@pytest.mark.training
@pytest.mark.parametrize("seed", [0, 1])
def test_in_between_four_features_are_stored_as_two_antipodal_pairs(seed):
    W = trained_toy(5, 2, 0.5, IMPORTANCE, seed)
    lengths = np.linalg.norm(W, axis=1)
    kept = lengths > 0.5
    assert kept.sum() == 4 and lengths[~kept].max() < 0.2, lengths
    unit = W[kept] / lengths[kept, None]
    partner = np.sort(unit @ unit.T, axis=1)[:, 0]
    assert np.all(partner < -0.9), partner


@pytest.mark.training
def test_forty_sparse_features_are_all_stored_in_ten_dimensions():
    W = trained_toy(40, 10, 0.05, None, seed=0, steps=2000)
    lengths = np.linalg.norm(W, axis=1)
    assert np.all(lengths > 0.9), lengths
    # Each in a direction of its own: no two share one.
    unit = W / lengths[:, None]
    overlap = np.abs(unit @ unit.T - np.eye(40)).max()
    assert overlap < 0.9, overlap
