"""aelib.ConditionalVAE: the hand-derived gradient, shapes, labels travelling with their samples,
bad labels, saving and loading, determinism, and (marker ``training``) what the book promises:
trained on the training part of the digits, it writes the digit it is asked for, as judged by a
nearest-neighbour classifier on real digits."""
import numpy as np
import pytest

import aelib
from aelib.conditional_vae import WithLabels


def shift_off_initialisation(model, rng):
    for param in model.params:
        param += rng.normal(scale=0.3, size=param.shape)


GRADIENT_CASES = [
    pytest.param([20, 12, 2], 3, "tanh", 1.0, "bernoulli", id="tanh-beta1"),
    pytest.param([20, 12, 2], 5, "tanh", 0.0, "bernoulli", id="beta0"),
    pytest.param([20, 3], 4, "tanh", 2.0, "bernoulli", id="no-hidden-layer"),
    pytest.param([20, 10, 8, 4], 10, "relu", 0.5, "bernoulli", id="two-hidden-layers"),
    pytest.param([20, 10, 2], 3, "sigmoid", 1.5, "continuous-bernoulli", id="continuous-bernoulli"),
]


@pytest.mark.parametrize("sizes, n_classes, activation, beta, likelihood", GRADIENT_CASES)
def test_loss_and_grads_match_central_differences(gradients, sizes, n_classes, activation, beta, likelihood):
    rng = np.random.default_rng(30)
    model = aelib.ConditionalVAE(sizes, n_classes, activation=activation, seed=3, likelihood=likelihood)
    shift_off_initialisation(model, rng)
    X = rng.random((6, sizes[0]))
    y = np.arange(6) % n_classes
    eps = rng.standard_normal((6, sizes[-1]))
    _, grads = model.loss_and_grads(X, y, eps, beta=beta)
    assert [g.shape for g in grads] == [p.shape for p in model.params]
    for index, (param, grad) in enumerate(zip(model.params, grads)):
        gradients.assert_close(lambda: model.loss_and_grads(X, y, eps, beta=beta)[0], param, grad,
                               f"ConditionalVAE({sizes}, {n_classes}), {likelihood}, beta={beta}, array {index}")


def test_loss_is_the_vae_loss_with_the_label_appended_to_both_inputs():
    rng = np.random.default_rng(31)
    model = aelib.ConditionalVAE([12, 7, 2], 3, seed=0)
    shift_off_initialisation(model, rng)
    X, y, eps = (rng.random((5, 12)) < 0.5).astype(float), np.array([0, 2, 1, 2, 0]), rng.standard_normal((5, 2))
    Y = np.eye(3)[y]
    out = model.encoder.forward(np.hstack([X, Y]))
    mu, logvar = out[:, :2], out[:, 2:]
    X_hat = model.decoder.forward(np.hstack([mu + np.exp(0.5 * logvar) * eps, Y]))
    bce = -np.sum(X * np.log(X_hat) + (1 - X) * np.log(1 - X_hat), axis=1)
    kl = 0.5 * np.sum(mu ** 2 + np.exp(logvar) - logvar - 1, axis=1)
    assert model.loss_and_grads(X, y, eps, beta=1.5)[0] == pytest.approx(np.mean(bce + 1.5 * kl), rel=1e-10)


def test_shapes_and_architecture():
    model = aelib.ConditionalVAE([64, 128, 4], 10, seed=0)
    assert [W.shape for W in model.encoder.params[0::2]] == [(74, 128), (128, 8)]
    assert [W.shape for W in model.decoder.params[0::2]] == [(14, 128), (128, 64)]
    X, y = np.random.default_rng(0).random((7, 64)), np.arange(7)
    mu, logvar = model.encode(X, y)
    assert mu.shape == logvar.shape == (7, 4)
    assert model.decode(mu, y).shape == model.reconstruct(X, y).shape == model.mean(mu, y).shape == (7, 64)
    assert model.sample(np.array([3, 3, 9]), rng=0).shape == (3, 64)
    assert repr(model) == "ConditionalVAE([64, 128, 4], 10)"


def test_the_label_changes_what_is_decoded():
    model = aelib.ConditionalVAE([30, 8, 2], 4, seed=1)
    shift_off_initialisation(model, np.random.default_rng(2))
    Z = np.zeros((4, 2))
    X_hat = model.decode(Z, [0, 1, 2, 3])
    assert all(not np.allclose(X_hat[i], X_hat[j]) for i in range(4) for j in range(i))
    # sample(y) draws z ~ N(0, I) and decodes it with y: the same draws as decode with those codes.
    Z = np.random.default_rng(5).standard_normal((4, 2))
    np.testing.assert_array_equal(model.sample([3, 0, 0, 2], rng=5), model.decode(Z, [3, 0, 0, 2]))


def test_the_labels_enter_each_network_and_their_columns_stop_at_its_input():
    # WithLabels appends the labels on the way forward and drops their columns on the way back.
    rng = np.random.default_rng(3)
    network = aelib.MLP([5, 4, 3], ["tanh", "identity"], seed=0)
    inputs, Y = rng.normal(size=(6, 2)), np.eye(3)[[0, 2, 1, 1, 0, 2]]
    seen = WithLabels(network, Y)
    np.testing.assert_array_equal(seen._forward(inputs), network._forward(np.hstack([inputs, Y])))
    delta = rng.normal(size=(6, 3))
    np.testing.assert_array_equal(seen.backward_from_preactivation(delta.copy()),
                                  network.backward_from_preactivation(delta.copy())[:, :2])
    assert seen.backward_from_preactivation(delta.copy(), input_grad=False) is None


def test_labels_travel_with_their_samples_through_the_shuffled_batches(monkeypatch):
    # Every sample's pixels hold its label (label / 10): each batch must pair them correctly.
    labels = np.arange(25) % 10
    X = np.repeat(labels[:, None] / 10, 8, axis=1)
    model = aelib.ConditionalVAE([8, 4, 2], 10, seed=0)
    original = model._loss_and_backward
    seen = []

    def watched(X_batch, Y_batch, eps, beta):
        np.testing.assert_array_equal(Y_batch.argmax(axis=1), np.round(X_batch[:, 0] * 10))
        seen.append(Y_batch.argmax(axis=1))
        return original(X_batch, Y_batch, eps, beta)

    monkeypatch.setattr(model, "_loss_and_backward", watched)
    model.fit(X, labels, epochs=2, lr=1e-3, batch_size=7)
    assert len(seen) == 8 and sorted(np.concatenate(seen).tolist()) == sorted(labels.tolist() * 2)
    assert not np.array_equal(np.concatenate(seen[:4]), labels), "the batches were shuffled"


def test_fit_uses_the_labels_given():
    # Two models trained on the same images with labels in different orders end up different.
    X, y = aelib.load_digits()
    X, y = X[:200], y[:200]
    histories = []
    for labels in (y, y[::-1]):
        model = aelib.ConditionalVAE([64, 16, 2], 10, seed=0)
        histories.append(model.fit(X, labels, epochs=3, lr=3e-3, batch_size=50))
    assert histories[0] != histories[1]


BAD_LABELS = [
    (np.array([0, 1, 10]), ValueError, r"y holds the label 10, outside 0 to 9"),
    (np.array([0, -1, 3]), ValueError, r"y holds the label -1, outside 0 to 9"),
    (np.array([0, 1]), ValueError, r"one label per sample: 3 samples, got 2 labels"),
    (np.array([0, 1.5, 2]), ValueError, r"y must hold whole numbers"),
    (np.array([[0, 1, 2]]), ValueError, r"y must be 1-D"),
    (np.array([True, False, True]), TypeError, r"integer labels 0 to 9, got dtype bool"),
    (np.array(["0", "1", "2"]), TypeError, r"integer labels 0 to 9"),
    ("012", TypeError, r"y must be an array of integer labels"),
    (None, TypeError, r"y must be an array of integer labels"),
    (np.array([0.0, np.nan, 1.0]), ValueError, r"y must hold whole numbers"),
]


@pytest.mark.parametrize("y, error, message", BAD_LABELS)
def test_bad_labels_are_refused_with_a_message_that_names_them(y, error, message):
    model = aelib.ConditionalVAE([8, 4, 2], 10, seed=0)
    X = np.zeros((3, 8))
    for call in (lambda: model.encode(X, y), lambda: model.decode(np.zeros((3, 2)), y),
                 lambda: model.fit(X, y, epochs=1, lr=1e-3),
                 lambda: model.loss_and_grads(X, y, np.zeros((3, 2)))):
        with pytest.raises(error, match=message):
            call()


def test_sample_needs_a_1d_array_of_labels():
    model = aelib.ConditionalVAE([8, 2], 3, seed=0)
    with pytest.raises(ValueError, match=r"np.full\(n, label\)"):
        model.sample(2)
    with pytest.raises(ValueError, match="at least one label"):
        model.sample([])
    with pytest.raises(ValueError, match="label 3, outside 0 to 2"):
        model.sample([0, 3])


def test_float_labels_with_whole_values_are_accepted():
    model = aelib.ConditionalVAE([8, 2], 3, seed=0)
    np.testing.assert_array_equal(model.decode(np.zeros((2, 2)), np.array([1.0, 2.0])),
                                  model.decode(np.zeros((2, 2)), np.array([1, 2])))


@pytest.mark.parametrize("n_classes", [1, 0, 2.5, True, "10"])
def test_n_classes_must_be_at_least_2(n_classes):
    with pytest.raises(ValueError, match="n_classes must be an integer >= 2"):
        aelib.ConditionalVAE([8, 2], n_classes)


def test_bad_data_and_hyperparameters_are_refused():
    model = aelib.ConditionalVAE([8, 2], 3, seed=0)
    with pytest.raises(ValueError, match="X must have 8 features"):
        model.encode(np.zeros((2, 7)), [0, 1])
    with pytest.raises(ValueError, match=r"X must lie in \[0, 1\]"):
        model.fit(np.full((2, 8), 2.0), [0, 1], epochs=1, lr=1e-3)
    with pytest.raises(ValueError, match="beta must be a number >= 0"):
        model.fit(np.zeros((2, 8)), [0, 1], epochs=1, lr=1e-3, beta=-1)
    with pytest.raises(ValueError, match="eps must have shape"):
        model.loss_and_grads(np.zeros((2, 8)), [0, 1], np.zeros((2, 3)))
    with pytest.raises(ValueError, match="unknown likelihood"):
        aelib.ConditionalVAE([8, 2], 3, likelihood="binary")


def test_save_load_round_trip_gives_bit_identical_outputs(tmp_path):
    X, y = aelib.load_digits()
    model = aelib.ConditionalVAE([64, 16, 3], 10, seed=4, likelihood="continuous-bernoulli")
    model.fit((16 * X[:100] + 0.5) / 17, y[:100], epochs=3, lr=3e-3, batch_size=50)
    model.save(tmp_path / "cvae.npz")
    loaded = aelib.ConditionalVAE.load(tmp_path / "cvae.npz")
    assert loaded.config == model.config and loaded.n_classes == 10
    for a, b in zip(model.params, loaded.params):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(model.sample(y[:10], rng=1), loaded.sample(y[:10], rng=1))
    np.testing.assert_array_equal(model.mean(np.ones((2, 3)), [4, 5]), loaded.mean(np.ones((2, 3)), [4, 5]))


def test_files_of_one_model_kind_are_refused_by_the_other(tmp_path):
    aelib.ConditionalVAE([8, 2], 3, seed=0).save(tmp_path / "cvae.npz")
    aelib.VAE([8, 2], seed=0).save(tmp_path / "vae.npz")
    with pytest.raises(ValueError, match="holds a model of kind 'ConditionalVAE', not 'VAE'"):
        aelib.VAE.load(tmp_path / "cvae.npz")
    with pytest.raises(ValueError, match="holds a model of kind 'VAE', not 'ConditionalVAE'"):
        aelib.ConditionalVAE.load(tmp_path / "vae.npz")


def test_same_seed_same_training():
    X, y = aelib.load_digits()
    histories, params = [], []
    for _ in range(2):
        model = aelib.ConditionalVAE([64, 16, 2], 10, seed=7)
        histories.append(model.fit(X[:300], y[:300], epochs=4, lr=3e-3, batch_size=64, warmup_epochs=2))
        params.append([p.copy() for p in model.params])
    assert histories[0] == histories[1]
    assert all(np.array_equal(a, b) for a, b in zip(*params))


def test_fit_reports_the_loss_terms_with_the_warmup_weights():
    X, y = aelib.load_digits()
    model = aelib.ConditionalVAE([64, 16, 2], 10, seed=0)
    history = model.fit(X[:100], y[:100], epochs=4, lr=1e-3, beta=2.0, warmup_epochs=2)
    for t, (loss, reconstruction, kl) in enumerate(zip(*history.values()), 1):
        assert loss == pytest.approx(reconstruction + 2.0 * min(1.0, t / 2) * kl, rel=1e-12)


# What the book promises.

@pytest.mark.training
@pytest.mark.parametrize("seed", [0, 1])
def test_trained_on_held_back_digits_it_writes_the_digit_asked_for(seed):
    X, y = aelib.load_digits()
    X_train, _, y_train, _ = aelib.train_test_split(X, y, test_fraction=0.25, rng=0)
    model = aelib.ConditionalVAE([64, 128, 4], 10, seed=seed)
    model.fit(X_train, y_train, epochs=100, lr=3e-3, batch_size=128)
    requested = np.repeat(np.arange(10), 30)
    written = aelib.knn_predict(X_train, y_train, model.sample(requested, rng=seed), k=10)
    # The promise is 90% of the samples; measured with these two seeds: 299 of 300 each. The test
    # asks for 95%, far below what the model reaches (the seeds fix every draw, nothing is left
    # to chance) and still failed by a model that wrote the wrong digit one time in ten.
    assert np.mean(written == requested) >= 0.95
    # Every digit is written, not only most of them.
    assert min(np.mean(written[requested == digit] == digit) for digit in range(10)) >= 0.8


@pytest.mark.parametrize("seed, kind", [(-1, ValueError), ("0", TypeError), (0.5, TypeError), (True, TypeError)],
                         ids=["negative", "str", "float", "bool"])
def test_seed_must_be_a_non_negative_int(seed, kind):
    with pytest.raises(kind, match="^seed must be"):
        aelib.ConditionalVAE([8, 4, 2], 3, seed=seed)
    model = aelib.ConditionalVAE([8, 4, 2], 3, seed=0)
    with pytest.raises(kind, match="^rng must be"):
        model.sample([0, 1], rng=seed)


def test_a_corrupt_or_foreign_file_is_refused_with_its_name(tmp_path):
    path = tmp_path / "not-a-model.npz"
    path.write_bytes(b"hello")
    with pytest.raises(ValueError, match="not-a-model.npz: not a model file"):
        aelib.ConditionalVAE.load(path)
