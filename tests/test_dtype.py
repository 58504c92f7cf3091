"""The dtype contract: a model built with dtype="float32" computes, trains, answers and saves in
float32 throughout; float64 stays the default; anything else is refused with a message naming dtype."""
import functools

import numpy as np
import pytest

import aelib
from aelib import autoencoder, vae as vae_module

FLOAT32 = np.dtype(np.float32)
FLOAT64 = np.dtype(np.float64)
SPELLINGS = [("float32", FLOAT32), (np.float32, FLOAT32), ("float64", FLOAT64), (np.float64, FLOAT64)]


@pytest.fixture(scope="module")
def font():
    return aelib.load_font()[0]


@pytest.fixture(scope="module")
def emojis():
    return aelib.load_emojis()[0]


def model_arrays(model):
    """Every array a trained model holds: weights, gradients, flat vectors, kept activations."""
    arrays = list(model.params) + list(model.grads) + [model._flat_params, model._flat_grads]
    for net in (model.encoder, model.decoder):
        arrays += [net.flat_params, net.flat_grads, net.last_output, net.last_preactivation] + list(net._inputs)
    return arrays


def assert_dtype(arrays, dtype):
    wrong = [(i, array.dtype) for i, array in enumerate(arrays) if array.dtype != dtype]
    assert not wrong, f"arrays not {dtype}: {wrong}"


@pytest.mark.parametrize("spelling, dtype", SPELLINGS)
def test_every_spelling_of_a_dtype_is_accepted(spelling, dtype):
    assert aelib.MLP([3, 2], ["tanh"], seed=0, dtype=spelling).flat_params.dtype == dtype
    assert aelib.Autoencoder([4, 2], seed=0, dtype=spelling).dtype == dtype
    assert aelib.VAE([4, 3, 2], seed=0, dtype=spelling).dtype == dtype


def test_float64_is_the_default():
    assert aelib.MLP([3, 2], ["tanh"]).flat_params.dtype == FLOAT64
    assert aelib.Autoencoder([4, 2]).dtype == FLOAT64 and aelib.VAE([4, 3, 2]).dtype == FLOAT64


@pytest.mark.parametrize("bad, error", [
    ("float16", ValueError), ("int32", ValueError), ("float", ValueError), (np.float16, TypeError),
    (float, TypeError), (int, TypeError), (None, TypeError), (32, TypeError),
])
@pytest.mark.parametrize("build", [
    lambda dtype: aelib.MLP([3, 2], ["tanh"], dtype=dtype),
    lambda dtype: aelib.Autoencoder([4, 2], dtype=dtype),
    lambda dtype: aelib.VAE([4, 3, 2], dtype=dtype),
], ids=["MLP", "Autoencoder", "VAE"])
def test_any_other_dtype_is_refused_naming_dtype(build, bad, error):
    with pytest.raises(error, match="^dtype must be 'float32' or 'float64'"):
        build(bad)


def test_float32_weights_are_the_float64_ones_rounded():
    a = aelib.Autoencoder([35, 16, 2], seed=3)
    b = aelib.Autoencoder([35, 16, 2], seed=3, dtype="float32")
    np.testing.assert_array_equal(a._flat_params.astype(np.float32), b._flat_params)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_an_autoencoder_keeps_its_dtype_everywhere(font, dtype):
    model = aelib.Autoencoder([35, 16, 2], seed=0, dtype=dtype)
    optimizer = aelib.Adam(lr=3e-3)
    history = model.fit(font, epochs=3, optimizer=optimizer, batch_size=10)  # float64 data
    assert all(isinstance(loss, float) and np.isfinite(loss) for loss in history)
    assert_dtype(model_arrays(model), dtype)
    assert_dtype([array for pair in optimizer.moments for array in pair], dtype)
    Z = model.encode(font)
    assert_dtype([Z, model.decode(Z), model.decode(Z.astype(np.float64)), model.reconstruct(font),
                  model.reconstruct(font.astype(np.float32))], dtype)
    loss, grads = model.loss_and_grads(font)
    assert isinstance(loss, float)
    assert_dtype(grads, dtype)
    mlp = aelib.MLP([35, 4, 3], ["relu", "sigmoid"], seed=0, dtype=dtype)
    out = mlp.forward(font)
    assert_dtype([out, mlp.backward(np.ones_like(out, dtype=np.float64))] + list(mlp.grads), dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_vae_keeps_its_dtype_everywhere(emojis, dtype):
    vae = aelib.VAE([144, 16, 2], seed=0, dtype=dtype)
    history = vae.fit(emojis, epochs=3, lr=3e-3, batch_size=8)
    assert all(np.isfinite(history[key]).all() for key in history)
    assert_dtype(model_arrays(vae), dtype)
    mu, logvar = vae.encode(emojis)
    assert_dtype([mu, logvar, vae.decode(mu), vae.reconstruct(emojis), vae.sample(5, rng=0)], dtype)
    eps = np.random.default_rng(0).standard_normal((len(emojis), 2))
    loss, grads = vae.loss_and_grads(emojis, eps)
    assert np.isfinite(loss)
    assert_dtype(grads, dtype)


def test_denoising_training_keeps_float32_whatever_the_noise_returns(font):
    # salt_and_pepper returns float64; each noisy batch is converted to the model's dtype.
    model = aelib.Autoencoder([35, 16, 4], seed=0, dtype="float32")
    model.fit(font, epochs=3, lr=3e-3, noise=functools.partial(aelib.salt_and_pepper, p=0.1))
    assert_dtype(model_arrays(model), FLOAT32)


def test_the_data_are_converted_once_per_fit_and_every_batch_is_float32(font, monkeypatch):
    calls = []
    convert = autoencoder.as_data_matrix

    def counting(*args, **kwargs):
        calls.append(kwargs.get("dtype"))
        return convert(*args, **kwargs)

    monkeypatch.setattr(autoencoder, "as_data_matrix", counting)
    batches = []

    def record(X_batch, rng):  # a noise function that sees every batch and changes nothing
        batches.append((X_batch.dtype, X_batch.flags.owndata))
        return X_batch

    model = aelib.Autoencoder([35, 16, 2], seed=0, dtype="float32")
    model.fit(font, epochs=4, lr=3e-3, batch_size=8, noise=record)  # float64 data: 4 epochs x 4 batches
    assert calls == [FLOAT32]
    assert len(batches) == 16 and {dtype for dtype, _ in batches} == {FLOAT32}


def test_float32_data_are_not_copied_for_a_float32_model(font):
    X = font.astype(np.float32)
    assert aelib.validation.as_data_matrix(X, dtype=np.float32) is X


@pytest.mark.parametrize("cls, sizes, data", [(aelib.Autoencoder, [35, 16, 2], "font"),
                                              (aelib.VAE, [144, 16, 2], "emojis")])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_save_and_load_round_trip_bit_for_bit(tmp_path, request, cls, sizes, data, dtype):
    X = request.getfixturevalue(data)
    model = cls(sizes, seed=1, dtype=dtype)
    model.fit(X, epochs=5, lr=3e-3)
    path = tmp_path / "model.npz"
    model.save(path)
    with np.load(path) as entries:
        assert all(entries[f"param_{i}"].dtype == dtype for i in range(len(model.params)))
    loaded = cls.load(path)
    assert loaded.dtype == dtype and loaded.config == model.config
    for a, b in zip(model.params, loaded.params):
        assert a.dtype == b.dtype == dtype and np.array_equal(a, b)
    assert np.array_equal(loaded.reconstruct(X), model.reconstruct(X))


def test_a_file_without_a_dtype_loads_as_float64(tmp_path, font):
    # Files written before models had a dtype: float64 weights, no "dtype" in the configuration.
    import json

    model = aelib.Autoencoder([35, 16, 2], seed=1)
    path = tmp_path / "old.npz"
    model.save(path)
    with np.load(path) as archive:
        entries = dict(archive)
    config = json.loads(str(entries["config"]))
    del config["dtype"]
    np.savez(path, **{**entries, "config": np.array(json.dumps(config))})
    loaded = aelib.Autoencoder.load(path)
    assert loaded.dtype == FLOAT64 and np.array_equal(loaded._flat_params, model._flat_params)


def test_weights_of_another_dtype_than_the_file_declares_are_refused(tmp_path, font):
    model = aelib.Autoencoder([35, 16, 2], seed=1, dtype="float32")
    path = tmp_path / "mixed.npz"
    model.save(path)
    with np.load(path) as archive:
        entries = dict(archive)
    np.savez(path, **{**entries, "param_0": entries["param_0"].astype(np.float64)})
    with pytest.raises(ValueError, match="weight array 0 holds float64 values, the model's dtype is float32"):
        aelib.Autoencoder.load(path)


def test_gradient_checks_refuse_float32_parameters(font):
    model = aelib.Autoencoder([35, 4, 2], seed=0, dtype="float32")
    loss, grads = model.loss_and_grads(font)
    with pytest.raises(TypeError, match="finite differences need float64"):
        aelib.gradient_check(lambda: model.loss_and_grads(font)[0], model.params, grads)
    with pytest.raises(TypeError, match="dtype='float64'"):
        aelib.numerical_gradient(lambda: model.loss_and_grads(font)[0], model.params[0])


def test_values_too_large_for_float32_are_named(font):
    X = font * 1e39
    with pytest.raises(ValueError, match="too large for float32"):
        aelib.Autoencoder([35, 4, 2], seed=0, loss="mse", output_activation="identity", dtype="float32").fit(
            X, epochs=1, lr=1e-3)


def test_float32_numerics_do_not_overflow_on_extreme_logits():
    A = np.array([[-1e30, -100.0, 0.0, 100.0, 1e30]], dtype=np.float32)
    Y = np.array([[0.0, 1.0, 0.5, 0.0, 1.0]], dtype=np.float32)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        h = aelib.sigmoid(A)
        loss = aelib.bce_with_logits(A, Y, check=False)
    assert h.dtype == FLOAT32 and np.array_equal(h, [[0.0, 0.0, 0.5, 1.0, 1.0]])
    assert np.isfinite(loss)
    np.testing.assert_allclose(loss, aelib.bce_with_logits(A.astype(np.float64), Y.astype(np.float64)), rtol=1e-6)
    assert np.float32(aelib.Adam(lr=1e-3).eps) > 0  # eps survives in float32: never 0 / 0


def test_a_float32_step_with_zero_gradients_changes_nothing():
    param, grad = np.ones(4, dtype=np.float32), np.zeros(4, dtype=np.float32)
    aelib.Adam(lr=1e-3).step([param], [grad])
    assert param.dtype == FLOAT32 and np.array_equal(param, np.ones(4))


def test_a_diverging_float32_model_is_reported(font):
    model = aelib.Autoencoder([35, 16, 2], seed=0, dtype="float32")
    with pytest.raises(aelib.TrainingDivergedError, match="learning rate"):
        model.fit(font, epochs=50, lr=1e6)


@pytest.mark.training
def test_the_float32_font_autoencoder_reconstructs_every_pixel(font):
    # Chapter 1's model and training, in float32.
    model = aelib.Autoencoder([35, 30, 20, 2], seed=0, dtype="float32")
    history = model.fit(font, epochs=2000, lr=3e-3)
    assert np.isfinite(history).all() and history[-1] < history[0]
    wrong = int(np.sum((model.reconstruct(font) > 0.5) != (font > 0.5)))
    assert wrong == 0, f"{wrong} wrong pixels"


def test_the_float32_vae_trains_to_finite_losses(emojis):
    vae = aelib.VAE([144, 64, 2], seed=0, dtype="float32")
    history = vae.fit(emojis, epochs=300, lr=3e-3)
    assert all(np.isfinite(history[key]).all() for key in history)
    assert history["loss"][-1] < history["loss"][0]
    assert np.isfinite(vae.sample(20, rng=0)).all()


def test_float32_follows_float64_closely_at_first(font):
    a = aelib.Autoencoder([35, 30, 20, 2], seed=0)
    b = aelib.Autoencoder([35, 30, 20, 2], seed=0, dtype="float32")
    np.testing.assert_allclose(b.fit(font, epochs=20, lr=3e-3), a.fit(font, epochs=20, lr=3e-3), rtol=1e-4)


def test_the_vae_noise_is_the_same_draw_in_both_dtypes(emojis):
    a = vae_module.VAE([144, 8, 2], seed=0)
    b = vae_module.VAE([144, 8, 2], seed=0, dtype="float32")
    np.testing.assert_allclose(b.sample(4, rng=5), a.sample(4, rng=5), rtol=1e-4, atol=1e-6)
