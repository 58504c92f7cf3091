"""Softmax cross-entropy and aelib.Classifier: gradients, stability, labels, and what training reaches.

What it must reach: Classifier([64, 64, 10]) fit on three quarters of the digits
(fit(X_train, y_train, epochs=60, lr=3e-3, batch_size=64)) classifies at least 93% of the
held-out quarter correctly.
"""
import numpy as np
import pytest

import aelib
from aelib import losses


def test_softmax_rows_are_probabilities_and_survive_huge_logits():
    A = np.array([[1000.0, 0.0, -1000.0], [1.0, 1.0, 1.0], [-800.0, -801.0, -802.0]])
    P = losses.softmax(A)
    assert np.all(np.isfinite(P)) and np.allclose(P.sum(axis=1), 1.0)
    np.testing.assert_allclose(P[1], 1 / 3)
    np.testing.assert_allclose(P[2], np.exp([0, -1, -2]) / np.exp([0, -1, -2]).sum())
    assert np.isfinite(losses.softmax_cross_entropy(A, aelib.one_hot(np.array([2, 0, 1]), 3)))


def test_softmax_cross_entropy_is_the_mean_negative_log_probability_of_the_label():
    rng = np.random.default_rng(0)
    A = rng.normal(size=(6, 4))
    y = np.array([0, 3, 1, 1, 2, 0])
    P = np.exp(A) / np.exp(A).sum(axis=1, keepdims=True)
    expected = -np.mean(np.log(P[np.arange(6), y]))
    assert losses.softmax_cross_entropy(A, aelib.one_hot(y, 4)) == pytest.approx(expected, rel=1e-13)


@pytest.mark.parametrize("soft", [False, True])
def test_softmax_cross_entropy_grad_matches_central_differences(gradients, soft):
    rng = np.random.default_rng(1)
    A = rng.normal(0.0, 2.0, size=(5, 4))
    Y = rng.dirichlet(np.ones(4), size=5) if soft else aelib.one_hot(rng.integers(0, 4, 5), 4)
    gradients.assert_close(lambda: losses.softmax_cross_entropy(A, Y), A, losses.softmax_cross_entropy_grad(A, Y),
                           "softmax cross-entropy")


@pytest.mark.parametrize("A, Y, message", [
    (np.zeros((2, 3)), np.array([[1.0, 0, 0], [0.5, 0.6, 0]]), "row 1 sums to 1.1"),
    (np.zeros((2, 3)), np.array([[1.0, 0, 0]]), "same shape"),
    (np.zeros((2, 3)), np.array([[2.0, -1, 0], [1, 0, 0]]), r"\[0, 1\]"),
    (np.array([[np.nan, 0, 0]]), np.array([[1.0, 0, 0]]), "finite"),
])
def test_softmax_cross_entropy_refuses_bad_input(A, Y, message):
    for function in (losses.softmax_cross_entropy, losses.softmax_cross_entropy_grad):
        with pytest.raises(ValueError, match=message):
            function(A, Y)


def test_one_hot():
    np.testing.assert_array_equal(aelib.one_hot(np.array([2, 0]), 3), [[0, 0, 1], [1, 0, 0]])
    with pytest.raises(ValueError, match="labels from 0 to 2"):
        aelib.one_hot(np.array([3]), 3)
    with pytest.raises(ValueError, match="integer labels"):
        aelib.one_hot(np.array([0.5]), 3)


@pytest.mark.parametrize("sizes, activation", [([5, 7, 4], "relu"), ([6, 5, 3, 3], "tanh"), ([4, 2], "relu")])
def test_classifier_gradient_matches_central_differences(gradients, sizes, activation):
    rng = np.random.default_rng(2)
    model = aelib.Classifier(sizes, activation=activation, seed=0)
    for b in model.params[1::2]:
        b[...] = rng.normal(0.0, 0.3, b.shape)
    X = rng.normal(size=(8, sizes[0]))
    y = rng.integers(0, sizes[-1], 8)
    _, grads = model.loss_and_grads(X, y)
    for index, (param, grad) in enumerate(zip(model.params, grads)):
        gradients.assert_close(lambda: model.loss_and_grads(X, y)[0], param, grad, f"{model!r}, array {index}")


def test_classifier_outputs_and_hidden_layers():
    rng = np.random.default_rng(3)
    model = aelib.Classifier([6, 5, 4, 3], seed=1)
    X = rng.normal(size=(10, 6))
    P = model.predict_proba(X)
    assert P.shape == (10, 3) and np.allclose(P.sum(axis=1), 1)
    np.testing.assert_array_equal(model.predict(X), P.argmax(axis=1))
    W1, b1, W2, b2, _, _ = model.params
    H1 = np.maximum(X @ W1 + b1, 0)
    np.testing.assert_allclose(model.hidden(X), H1, rtol=1e-14)
    np.testing.assert_allclose(model.hidden(X, layer=2), np.maximum(H1 @ W2 + b2, 0), rtol=1e-14)
    for layer in (0, 3, 1.0):
        with pytest.raises(ValueError, match="layer must be a hidden layer, from 1 to 2"):
            model.hidden(X, layer=layer)


@pytest.mark.parametrize("call, error, message", [
    (lambda m, X: m.fit(X, np.zeros(9, dtype=int), epochs=1, lr=0.1), ValueError, r"one label per sample, shape \(10,\)"),
    (lambda m, X: m.fit(X, np.full(10, 3), epochs=1, lr=0.1), ValueError, "labels from 0 to 2"),
    (lambda m, X: m.fit(X[:, :5], np.zeros(10, dtype=int), epochs=1, lr=0.1), ValueError, "6 features"),
    (lambda m, X: m.loss_and_grads(X, np.zeros(10)), ValueError, "integer labels"),
    (lambda m, X: aelib.Classifier([6, 1]), ValueError, "at least 2"),
    (lambda m, X: aelib.Classifier([6, 4], activation="swish"), ValueError, "swish"),
])
def test_classifier_refuses_bad_input(call, error, message):
    model = aelib.Classifier([6, 4, 3], seed=0)
    with pytest.raises(error, match=message):
        call(model, np.ones((10, 6)))


def test_fit_keeps_each_sample_with_its_label():
    # A separable problem whose labels depend on the sample: learnable only if shuffling keeps pairs.
    rng = np.random.default_rng(4)
    X = rng.normal(size=(300, 2))
    y = (X[:, 0] > 0).astype(int) + 2 * (X[:, 1] > 0)
    model = aelib.Classifier([2, 16, 4], seed=0)
    history = model.fit(X, y, epochs=60, lr=1e-2, batch_size=32)
    assert history[-1] < 0.25 * history[0]
    assert np.mean(model.predict(X) == y) > 0.95


def test_save_load_round_trip(tmp_path):
    X, y = aelib.load_digits()
    model = aelib.Classifier([64, 16, 10], seed=2)
    model.fit(X[:200], y[:200], epochs=2, lr=1e-2, batch_size=50)
    model.save(tmp_path / "classifier.npz")
    loaded = aelib.Classifier.load(tmp_path / "classifier.npz")
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))


@pytest.mark.training
@pytest.mark.parametrize("seed", [0, 1])
def test_classifier_reaches_93_percent_on_held_out_digits(seed):
    # Measured: 96-97% for seeds 0-4.
    X, y = aelib.load_digits()
    X_train, X_test, y_train, y_test = aelib.train_test_split(X, y, test_fraction=0.25, rng=0)
    model = aelib.Classifier([64, 64, 10], seed=seed)
    model.fit(X_train, y_train, epochs=60, lr=3e-3, batch_size=64)
    assert np.mean(model.predict(X_test) == y_test) >= 0.93
