"""Reliability: mistakes get messages that say what to fix, divergence is reported instead of
producing NaNs, saved models load back exactly (and nothing else loads), and a seed fixes
every random thing.

Error messages are raised at the public entry point, name the argument, and say what was
expected and what was given.
"""
import ast
import functools
import json
import os
import pickle
import random
import re
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest

import aelib

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def X():
    X, _ = aelib.load_font()
    X.setflags(write=False)  # shared by the tests of this module: nobody may change it
    return X


def autoencoder(**kwargs):
    return aelib.Autoencoder([35, 20, 2], **{"seed": 0, **kwargs})


def vae():
    return aelib.VAE([35, 20, 2], seed=0)


# --- Error messages -------------------------------------------------------------------------

def expect_error(kind, call, *pieces):
    """``call()`` raises ``kind`` and the message contains every piece (regular expressions)."""
    with pytest.raises(kind) as error:
        call()
    message = str(error.value)
    for piece in pieces:
        assert re.search(piece, message), f"{piece!r} not found in the message: {message}"
    return message


@pytest.mark.parametrize("call, pieces", [
    pytest.param(lambda: aelib.MLP([3, 2], ["softmax"]), ["activation", "'softmax'", "expected one of",
                                                          "identity", "relu", "sigmoid", "tanh"], id="MLP"),
    pytest.param(lambda: aelib.Autoencoder([35, 20, 2], activation="swish"), ["activation", "'swish'", "tanh"],
                 id="Autoencoder-activation"),
    pytest.param(lambda: aelib.VAE([35, 20, 2], activation="swish"), ["activation", "'swish'", "tanh"],
                 id="VAE-activation"),
])
def test_unknown_activation_name(call, pieces):
    expect_error(ValueError, call, *pieces)


@pytest.mark.parametrize("call, argument", [
    pytest.param(lambda: aelib.Autoencoder([35, 20, 2], loss="mse", output_activation="softmax"),
                 "output_activation", id="Autoencoder-output_activation"),
    pytest.param(lambda: aelib.Autoencoder([35, 20, 2], latent_activation="softmax"), "latent_activation",
                 id="Autoencoder-latent_activation"),
    pytest.param(lambda: aelib.Autoencoder([35, 2], activation="swish"), "activation",
                 id="Autoencoder-no-hidden-layer"),
    pytest.param(lambda: aelib.VAE([35, 2], activation="swish"), "activation", id="VAE-no-hidden-layer"),
])
def test_model_names_the_activation_argument_that_is_wrong(call, argument):
    expect_error(ValueError, call, rf"\b{argument}\b", "'(softmax|swish)'", "tanh")


def test_number_of_activations_must_match_the_layers():
    expect_error(ValueError, lambda: aelib.MLP([3, 4, 2], ["tanh"]),
                 "activations", "one name per layer", r"2 layer\(s\)", r"got 1 activation")
    expect_error(TypeError, lambda: aelib.MLP([3, 4, 2], "tanh"), "activations", "one name per layer")


@pytest.mark.parametrize("sizes", [[35], [35, 0, 2], [35, 2.5], "35-2", 35])
def test_bad_sizes(sizes):
    with pytest.raises((TypeError, ValueError), match="sizes"):
        aelib.MLP(sizes, ["tanh"])


def entry_points(model_kind):
    """(name, call(model, data)) for every public method that takes a data matrix X."""
    if model_kind == "autoencoder":
        return [("fit", lambda m, data: m.fit(data, epochs=1, lr=0.01)),
                ("encode", lambda m, data: m.encode(data)),
                ("reconstruct", lambda m, data: m.reconstruct(data)),
                ("loss_and_grads", lambda m, data: m.loss_and_grads(data))]
    return [("fit", lambda m, data: m.fit(data, epochs=1, lr=0.01)),
            ("encode", lambda m, data: m.encode(data)),
            ("reconstruct", lambda m, data: m.reconstruct(data)),
            ("loss_and_grads", lambda m, data: m.loss_and_grads(data, np.zeros((len(data), 2))))]


ALL_ENTRY_POINTS = [pytest.param(kind, call, id=f"{kind}.{name}")
                    for kind in ("autoencoder", "vae") for name, call in entry_points(kind)]


def make(kind):
    return autoencoder() if kind == "autoencoder" else vae()


@pytest.mark.parametrize("kind, call", ALL_ENTRY_POINTS)
def test_data_must_be_two_dimensional(kind, call, X):
    message = expect_error(ValueError, lambda: call(make(kind), X[0]), r"^X must be 2-D", r"got shape \(35,\)")
    assert "reshape(1, -1)" in message
    expect_error(ValueError, lambda: call(make(kind), X[None]), r"^X must be 2-D", r"got shape \(1, 27, 35\)")


@pytest.mark.parametrize("kind, call", ALL_ENTRY_POINTS)
def test_data_must_have_the_model_width(kind, call, X):
    expect_error(ValueError, lambda: call(make(kind), X[:, :34]), r"^X must have 35 features", "got 34")


@pytest.mark.parametrize("kind, call", ALL_ENTRY_POINTS)
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_data_must_be_finite(kind, call, bad, X):
    data = X.copy()
    data[3, 7] = bad
    expect_error(ValueError, lambda: call(make(kind), data), "^X must contain only finite numbers",
                 "NaN" if np.isnan(bad) else "infinite", "row 3, column 7")


@pytest.mark.parametrize("kind, call", ALL_ENTRY_POINTS)
def test_data_must_be_numbers(kind, call):
    expect_error(TypeError, lambda: call(make(kind), "font.txt"), "^X must be a 2-D array of numbers", "str")


@pytest.mark.parametrize("kind, call", [
    *(p for p in ALL_ENTRY_POINTS if p.id.split(".")[1] in ("fit", "loss_and_grads")),
    pytest.param("vae", lambda m, data: m.encode(data), id="vae.encode"),  # a VAE models pixels only
])
@pytest.mark.parametrize("factor, offset", [(2.0, 0.0), (1.0, -0.5)])
def test_binary_cross_entropy_needs_data_in_the_unit_interval(kind, call, factor, offset, X):
    expect_error(ValueError, lambda: call(make(kind), X * factor + offset), r"^X must lie in \[0, 1\]",
                 "binary cross-entropy", "got values from")


def test_mse_accepts_data_outside_the_unit_interval(X):
    model = autoencoder(loss="mse", output_activation="identity")
    history = model.fit(X * 3.0 - 1.0, epochs=2, lr=0.01)
    assert len(history) == 2 and np.isfinite(history).all()


BAD_TRAINING_ARGUMENTS = [  # (argument, value, exception, what the message says is expected)
    ("lr", 0.0, ValueError, "a positive number"),
    ("lr", -0.1, ValueError, "a positive number"),
    ("lr", float("nan"), ValueError, "a positive number"),
    ("lr", "0.1", TypeError, "a positive number"),
    ("epochs", 0, ValueError, "an integer >= 1"),
    ("epochs", -3, ValueError, "an integer >= 1"),
    ("epochs", 2.5, TypeError, "an integer >= 1"),
    ("batch_size", 0, ValueError, "an integer >= 1"),
    ("batch_size", 4.0, TypeError, "an integer >= 1"),
    ("optimizer", "rmsprop", ValueError, "'adam', 'sgd'"),
]


@pytest.mark.parametrize("model_kind", ["autoencoder", "vae"])
@pytest.mark.parametrize("argument, value, kind, expected", BAD_TRAINING_ARGUMENTS,
                         ids=[f"{argument}={value!r}" for argument, value, _, _ in BAD_TRAINING_ARGUMENTS])
def test_bad_training_arguments_are_refused_before_any_change(model_kind, argument, value, kind, expected, X):
    model = make(model_kind)
    before = [param.copy() for param in model.params]
    arguments = {"epochs": 5, "lr": 0.01, argument: value}
    expect_error(kind, lambda: model.fit(X, **arguments), rf"^{argument} must be {expected}",
                 re.escape(f"got {value!r}"))
    for param, saved in zip(model.params, before):
        np.testing.assert_array_equal(param, saved)


@pytest.mark.parametrize("model", [pytest.param(autoencoder, id="autoencoder"), pytest.param(vae, id="vae")])
@pytest.mark.parametrize("width", [1, 3, 35])
def test_decode_needs_latent_vectors_of_the_latent_width(model, width):
    expect_error(ValueError, lambda: model().decode(np.zeros((4, width))),
                 r"^Z must have 2 features", f"got {width}")
    expect_error(ValueError, lambda: model().decode(np.zeros(2)), r"^Z must be 2-D", "reshape")


@pytest.mark.parametrize("p", [-0.1, 1.5, float("nan")])
def test_salt_and_pepper_needs_a_probability(p, X):
    expect_error(ValueError, lambda: aelib.salt_and_pepper(X, p, rng=0), r"^p must be a probability in \[0, 1\]",
                 f"got {p!r}")


@pytest.mark.parametrize("sigma", [-0.5, float("inf")])
def test_gaussian_noise_needs_a_non_negative_sigma(sigma, X):
    expect_error(ValueError, lambda: aelib.gaussian_noise(X, sigma, rng=0), r"^sigma must be a number >= 0",
                 f"got {sigma!r}")


def test_noise_rng_must_be_a_seed_or_a_generator(X):
    expect_error(TypeError, lambda: aelib.salt_and_pepper(X, 0.1, rng=np.random.RandomState(0)),
                 "^rng must be None, an int seed or a numpy.random.Generator", "RandomState")


def test_vae_specific_arguments(X):
    expect_error(ValueError, lambda: vae().fit(X, epochs=1, lr=0.01, beta=-1.0), r"^beta must be a number >= 0")
    expect_error(ValueError, lambda: vae().loss_and_grads(X, np.zeros((27, 3))),
                 r"^eps must have shape", r"\(27, 2\)")
    expect_error(ValueError, lambda: vae().sample(0), r"^n_samples must be an integer >= 1")


def test_autoencoder_loss_and_bce_output():
    expect_error(ValueError, lambda: aelib.Autoencoder([35, 2], loss="l1"), r"^loss must be one of", "'l1'")
    expect_error(ValueError, lambda: aelib.Autoencoder([35, 2], output_activation="tanh"),
                 "output_activation must be 'sigmoid'", "got 'tanh'", "loss='mse'")


# --- Divergence -----------------------------------------------------------------------------

def diverging_autoencoder(seed=0):
    return aelib.Autoencoder([35, 20, 2], activation="identity", output_activation="identity", loss="mse",
                             seed=seed)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_divergence_is_reported_without_numpy_warnings(seed, X):
    with warnings.catch_warnings():
        # Any RuntimeWarning (overflow, invalid value) escaping from numpy fails the test.
        warnings.simplefilter("error")
        with pytest.raises(aelib.TrainingDivergedError) as error:
            diverging_autoencoder(seed).fit(X, epochs=200, lr=1e6, optimizer="sgd")
    assert isinstance(error.value, RuntimeError)
    message = str(error.value)
    assert re.search(r"\bepoch \d+\b", message), message
    assert "lr=1e+06" in message and "smaller lr" in message, message


def test_divergence_names_the_right_epoch(X):
    with pytest.raises(aelib.TrainingDivergedError) as error:
        diverging_autoencoder().fit(X, epochs=200, lr=1e6, optimizer="sgd")
    epoch = int(re.search(r"\bepoch (\d+)\b", str(error.value)).group(1))
    assert epoch > 1
    # The same model trained for the epochs before that one still has finite losses.
    history = diverging_autoencoder().fit(X, epochs=epoch - 1, lr=1e6, optimizer="sgd")
    assert len(history) == epoch - 1 and np.isfinite(history).all()


@pytest.mark.parametrize("make_model, lr", [
    pytest.param(lambda: diverging_autoencoder(seed=0), 1e2, id="autoencoder-identity-lr=1e2"),
    pytest.param(lambda: aelib.Autoencoder([35, 20, 2], activation="relu", output_activation="identity",
                                           loss="mse", seed=0), 1e6, id="autoencoder-relu-lr=1e6"),
    pytest.param(lambda: aelib.VAE([35, 20, 2], seed=0), 1e4, id="vae-lr=1e4"),
])
def test_any_divergence_is_reported_without_numpy_warnings(make_model, lr, X):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(aelib.TrainingDivergedError):
            make_model().fit(X, epochs=200, lr=lr, optimizer="sgd")


# --- Saving and loading ---------------------------------------------------------------------

MODELS = {
    "autoencoder": lambda: aelib.Autoencoder([35, 16, 8, 2], seed=3),
    "autoencoder-mse-relu": lambda: aelib.Autoencoder([35, 12, 3], activation="relu", output_activation="identity",
                                                      loss="mse", latent_activation="tanh", seed=4),
    "vae": lambda: aelib.VAE([35, 16, 2], seed=5),
}


def trained(name, X):
    model = MODELS[name]()
    model.fit(X, epochs=3, lr=0.01)  # arbitrary float weights, and non-zero biases
    return model


def outputs(model, X):
    """Everything a loaded model must reproduce exactly."""
    Z = np.random.default_rng(6).normal(size=(5, model.n_latent))
    encoded = model.encode(X)
    encoded = list(encoded) if isinstance(encoded, tuple) else [encoded]
    return encoded + [model.reconstruct(X), model.decode(Z)]


@pytest.mark.parametrize("name", MODELS)
def test_save_and_load_reproduce_the_model_bit_for_bit(name, X, tmp_path):
    model = trained(name, X)
    path = tmp_path / "model.npz"
    model.save(path)
    loaded = type(model).load(path)
    assert type(loaded) is type(model) and loaded.config == model.config
    for a, b in zip(model.params, loaded.params):
        assert a.shape == b.shape and a.dtype == b.dtype == np.float64 and np.array_equal(a, b)
    for a, b in zip(outputs(model, X), outputs(loaded, X)):
        assert np.array_equal(a, b)


def test_a_saved_file_is_plain_arrays_with_a_version(X, tmp_path):
    model = trained("autoencoder", X)
    path = tmp_path / "model"  # no suffix: the file is written exactly where asked
    model.save(path)
    assert path.is_file() and zipfile.is_zipfile(path)
    with np.load(path, allow_pickle=False) as archive:
        entries = {key: archive[key] for key in archive.files}  # no pickled objects anywhere
    assert int(entries["format_version"]) == 1
    assert str(entries["kind"]) == "Autoencoder"
    assert json.loads(str(entries["config"]))["sizes"] == [35, 16, 8, 2]
    assert int(entries["n_params"]) == len(model.params)
    assert all(entries[f"param_{i}"].dtype == np.float64 for i in range(len(model.params)))


@pytest.fixture
def saved(X, tmp_path):
    """A saved autoencoder: (model, path, the file's bytes, its entries as arrays)."""
    model = trained("autoencoder", X)
    path = tmp_path / "model.npz"
    model.save(path)
    with np.load(path, allow_pickle=False) as archive:
        entries = {key: archive[key] for key in archive.files}
    return model, path, path.read_bytes(), entries


def expect_refused(path, *pieces, cls=aelib.Autoencoder):
    """Loading ``path`` raises ValueError naming the file (and the pieces)."""
    return expect_error(ValueError, lambda: cls.load(path), "^" + re.escape(str(path)) + ": ", *pieces)


@pytest.mark.parametrize("cut", [
    pytest.param(lambda data: b"", id="empty"),
    pytest.param(lambda data: data[:3], id="first-3-bytes"),
    pytest.param(lambda data: data[:100], id="first-100-bytes"),
    pytest.param(lambda data: data[:len(data) // 2], id="half"),
    pytest.param(lambda data: data[:-22], id="without-end-of-archive-record"),  # the last 22 bytes of a zip
    pytest.param(lambda data: data[:-1], id="without-last-byte"),
])
def test_truncated_file(saved, tmp_path, cut):
    _, _, data, _ = saved
    path = tmp_path / "truncated.npz"
    path.write_bytes(cut(data))
    expect_refused(path, "not a (readable )?model file")


def test_corrupted_weights_are_noticed(saved, tmp_path):
    model, _, data, _ = saved
    start = data.find(model.params[0].tobytes()[:64])
    assert start > 0, "test setup: the weights are stored uncompressed"
    corrupted = bytearray(data)
    corrupted[start + 100] ^= 0x01  # one bit of one weight
    path = tmp_path / "corrupted.npz"
    path.write_bytes(bytes(corrupted))
    expect_refused(path, "param_0", "unreadable|corrupted")


def test_no_corruption_goes_unnoticed(tmp_path):
    # Flip one byte at a time across a whole (small) file: loading either refuses with a
    # ValueError naming the file, or gives back exactly the saved model (a byte that zip
    # ignores, such as a timestamp). Never different weights, never another exception.
    model = aelib.Autoencoder([6, 3, 2], seed=7)
    original = tmp_path / "small.npz"
    model.save(original)
    data = original.read_bytes()
    path = tmp_path / "flipped.npz"
    refused = 0
    for position in range(0, len(data), 5):
        flipped = bytearray(data)
        flipped[position] ^= 0xA5
        path.write_bytes(bytes(flipped))
        try:
            loaded = aelib.Autoencoder.load(path)
        except ValueError as error:
            assert str(error).startswith(f"{path}: "), f"byte {position}: {error}"
            refused += 1
            continue
        assert loaded.config == model.config, f"byte {position}"
        assert all(np.array_equal(a, b) for a, b in zip(loaded.params, model.params)), f"byte {position}"
    assert refused > len(data) // 10


@pytest.mark.parametrize("content", [
    pytest.param(b"", id="empty"),
    pytest.param(np.random.default_rng(8).bytes(2000), id="random-bytes"),
    pytest.param(b"sizes: [35, 20, 2]\nweights: ...\n", id="text"),
    pytest.param(b"PK\x05\x06" + b"\x00" * 18, id="empty-zip"),
])
def test_a_file_that_is_not_a_model(tmp_path, content):
    path = tmp_path / "model.npz"
    path.write_bytes(content)
    expect_refused(path, "not a (readable )?model file")


def test_a_zip_file_that_is_not_a_model(tmp_path):
    path = tmp_path / "model.npz"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("notes.txt", "hello")
    expect_refused(path, "not a model file", "format_version")


def test_a_single_npy_array_is_not_a_model(tmp_path):
    path = tmp_path / "model.npz"
    with open(path, "wb") as file:
        np.save(file, np.arange(3.0))
    expect_refused(path, "not a model file")


@pytest.mark.parametrize("missing", ["format_version", "kind", "config", "n_params", "param_0", "param_5"])
def test_an_npz_missing_an_entry(saved, tmp_path, missing):
    _, _, _, entries = saved
    path = tmp_path / "missing.npz"
    np.savez(path, **{key: value for key, value in entries.items() if key != missing})
    expect_refused(path, "not a model file", missing)


def test_an_npz_of_only_weights(saved, tmp_path):
    model, _, _, _ = saved
    path = tmp_path / "weights.npz"
    np.savez(path, *model.params)
    expect_refused(path, "not a model file", "format_version")


@pytest.mark.parametrize("saved_as, loaded_as", [(aelib.VAE, aelib.Autoencoder), (aelib.Autoencoder, aelib.VAE)])
def test_a_model_of_the_other_kind(tmp_path, saved_as, loaded_as):
    path = tmp_path / "model.npz"
    saved_as([35, 10, 2], seed=0).save(path)
    expect_refused(path, saved_as.__name__, loaded_as.__name__, cls=loaded_as)


def rewrite(entries, path, **changes):
    np.savez(path, **{**entries, **changes})
    return path


def test_a_mismatched_architecture(saved, tmp_path):
    _, _, _, entries = saved
    config = json.loads(str(entries["config"]))
    config["sizes"] = [35, 16, 9, 2]
    path = rewrite(entries, tmp_path / "mismatch.npz", config=np.array(json.dumps(config)))
    expect_refused(path, "weight array 2", r"shape \(16, 8\)", r"needs \(16, 9\)")


def test_a_mismatched_number_of_weight_arrays(saved, tmp_path):
    _, _, _, entries = saved
    config = json.loads(str(entries["config"]))
    config["sizes"] = [35, 16, 2]
    path = rewrite(entries, tmp_path / "mismatch.npz", config=np.array(json.dumps(config)))
    expect_refused(path, "holds 12 weight arrays", "needs 8")


@pytest.mark.parametrize("changes, pieces", [
    pytest.param({"format_version": np.array(99)}, ["format version 99", "expected 1"], id="future-version"),
    pytest.param({"config": np.array("{not json")}, ["corrupted model description"], id="config-not-json"),
    pytest.param({"config": np.array("[35, 2]")}, ["corrupted model description"], id="config-not-an-object"),
    pytest.param({"config": np.array(json.dumps({"sizes": [35, 2], "colour": "red"}))},
                 ["invalid architecture"], id="config-unknown-argument"),
    pytest.param({"config": np.array(json.dumps({"sizes": [35, -2]}))}, ["invalid architecture"],
                 id="config-bad-sizes"),
    pytest.param({"n_params": np.array("many")}, ["corrupted model description"], id="n_params-not-a-number"),
    pytest.param({"param_0": np.full((35, 16), "x")}, ["weight array 0", "not numbers"], id="weights-as-text"),
    pytest.param({"param_0": np.full((35, 16), np.nan)}, ["weight array 0", "NaN or infinite"],
                 id="nan-weights"),
])
def test_a_corrupted_description_or_weights(saved, tmp_path, changes, pieces):
    _, _, _, entries = saved
    expect_refused(rewrite(entries, tmp_path / "changed.npz", **changes), *pieces)


class RunsCode:
    """Unpickling this object creates the directory ``marker``: proof that code ran."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return os.mkdir, (self.marker,)


def test_the_payload_of_the_next_tests_is_live(tmp_path):
    marker = tmp_path / "ran"
    pickle.loads(pickle.dumps(RunsCode(marker)))
    assert marker.is_dir()


def test_an_object_array_in_the_archive_is_refused_unexecuted(saved, tmp_path):
    _, _, _, entries = saved
    marker = tmp_path / "ran"
    payload = np.array([RunsCode(marker)], dtype=object)
    for key in ("param_0", "config", "kind"):
        path = rewrite(entries, tmp_path / f"pickled-{key}.npz", **{key: payload})
        expect_refused(path, key, "never unpickled|pickle")
        assert not marker.exists(), f"loading a file with a pickled {key} ran code"


@pytest.mark.parametrize("how", ["pickle", "npy"])
def test_a_pickle_disguised_as_a_model_is_refused_unexecuted(tmp_path, how):
    marker = tmp_path / "ran"
    path = tmp_path / "model.npz"
    with open(path, "wb") as file:
        if how == "pickle":
            pickle.dump(RunsCode(marker), file)
        else:
            np.save(file, np.array([RunsCode(marker)], dtype=object), allow_pickle=True)
    for cls in (aelib.Autoencoder, aelib.VAE):
        expect_refused(path, "not a model file", cls=cls)
    assert not marker.exists()


def test_a_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        aelib.Autoencoder.load(tmp_path / "nowhere.npz")


# --- Reproducibility ------------------------------------------------------------------------

def test_mlp_seed_fixes_the_weights():
    a, b, c = (aelib.MLP([10, 8, 3], ["tanh", "sigmoid"], seed=s) for s in (1, 1, 2))
    assert np.array_equal(a.flat_params, b.flat_params)
    assert not np.array_equal(a.flat_params, c.flat_params)
    generator_seeded = aelib.MLP([10, 8, 3], ["tanh", "sigmoid"], seed=np.random.default_rng(1))
    assert np.array_equal(generator_seeded.flat_params, a.flat_params)


def denoising_run(seed, X, noise):
    model = aelib.Autoencoder([35, 16, 2], seed=seed)
    history = model.fit(X, epochs=8, lr=0.01, batch_size=8, noise=noise)
    return model, history


@pytest.mark.parametrize("noise", [
    pytest.param(None, id="plain"),
    pytest.param(functools.partial(aelib.salt_and_pepper, p=0.2), id="salt-and-pepper"),
    pytest.param(functools.partial(aelib.gaussian_noise, sigma=0.3), id="gaussian"),
])
def test_autoencoder_seed_fixes_weights_and_minibatch_training(noise, X):
    assert np.array_equal(aelib.Autoencoder([35, 16, 2], seed=0).encoder.flat_params,
                          aelib.Autoencoder([35, 16, 2], seed=0).encoder.flat_params)
    (a, history_a), (b, history_b), (c, history_c) = (denoising_run(s, X, noise) for s in (0, 0, 1))
    assert history_a == history_b
    assert all(np.array_equal(p, q) for p, q in zip(a.params, b.params))
    assert history_a != history_c
    assert not np.array_equal(a.decoder.flat_params, c.decoder.flat_params)


def test_autoencoder_encoder_and_decoder_draw_independent_weights():
    model = aelib.Autoencoder([8, 8], activation="tanh", output_activation="sigmoid", seed=0)
    # Mirrored shapes (8, 8): the same stream for both would give identical matrices.
    assert not np.array_equal(model.encoder.params[0], model.decoder.params[0])


def test_vae_seed_fixes_weights_training_and_samples(X):
    def run(seed):
        model = aelib.VAE([35, 16, 2], seed=seed)
        history = model.fit(X, epochs=8, lr=0.01, batch_size=9)
        return model, history, model.sample(4, rng=11)

    (a, history_a, samples_a), (b, history_b, samples_b), (_, history_c, _) = run(0), run(0), run(1)
    assert history_a == history_b
    assert all(np.array_equal(p, q) for p, q in zip(a.params, b.params))
    assert np.array_equal(samples_a, samples_b)
    assert history_a != history_c


def test_noise_is_reproducible_from_a_seed_and_fresh_without(X):
    for noise in (functools.partial(aelib.salt_and_pepper, p=0.3),
                  functools.partial(aelib.gaussian_noise, sigma=0.5)):
        assert np.array_equal(noise(X, rng=5), noise(X, rng=5))
        assert np.array_equal(noise(X, rng=np.random.default_rng(5)), noise(X, rng=5))
        assert not np.array_equal(noise(X, rng=5), noise(X, rng=6))
        assert not np.array_equal(noise(X), noise(X))  # rng=None: fresh entropy


# --- No global random state -----------------------------------------------------------------

# Functions that draw from (or reset) a hidden global generator: numpy's legacy module-level
# functions and seed, and those of the standard library's random module.
NUMPY_GLOBAL = {name for name in dir(np.random)
                if getattr(getattr(np.random, name), "__self__", None) is np.random.mtrand._rand} | {"seed"}
STDLIB_GLOBAL = {name for name in dir(random)
                 if getattr(getattr(random, name), "__self__", None) is random._inst}


def global_random_uses(source):
    """Lines of ``source`` (Python code) that use a global random state, as readable strings.

    Works on the syntax tree, so docstrings and comments that mention np.random.seed do not count.
    """
    tree = ast.parse(source)
    numpy_names, numpy_random_names, stdlib_random_names = {"np", "numpy"}, set(), set()
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "numpy":
                    numpy_names.add(alias.asname or "numpy")
                elif alias.name == "numpy.random" and alias.asname:
                    numpy_random_names.add(alias.asname)
                elif alias.name == "random":
                    stdlib_random_names.add(alias.asname or "random")
        elif isinstance(node, ast.ImportFrom):
            for alias in node.names:
                if node.module == "numpy" and alias.name == "random":
                    numpy_random_names.add(alias.asname or "random")
                elif (node.module, alias.name in NUMPY_GLOBAL) == ("numpy.random", True) or (
                        node.module == "random" and alias.name in STDLIB_GLOBAL):
                    found.append(f"line {node.lineno}: from {node.module} import {alias.name}")
    for node in ast.walk(tree):
        if not isinstance(node, ast.Attribute):
            continue
        owner = node.value
        numpy_random = (isinstance(owner, ast.Attribute) and owner.attr == "random"
                        and isinstance(owner.value, ast.Name) and owner.value.id in numpy_names) or (
                        isinstance(owner, ast.Name) and owner.id in numpy_random_names)
        stdlib = isinstance(owner, ast.Name) and owner.id in stdlib_random_names
        if (numpy_random and node.attr in NUMPY_GLOBAL) or (stdlib and node.attr in STDLIB_GLOBAL):
            found.append(f"line {node.lineno}: {ast.unparse(node)}")
    return found


def notebook_code(path):
    """The code cells of a notebook, with IPython magics and shell lines blanked."""
    # Read as plain JSON, so this test also runs where only aelib's own dependencies are installed.
    for number, cell in enumerate(json.loads(path.read_text(encoding="utf-8"))["cells"], start=1):
        if cell["cell_type"] == "code":
            source = "".join(cell["source"])
            lines = ["" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines()]
            yield f"{path.relative_to(ROOT)}, cell {number}", "\n".join(lines)


def project_code():
    for path in sorted((ROOT / "aelib").rglob("*.py")):
        yield str(path.relative_to(ROOT)), path.read_text(encoding="utf-8")
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        yield from notebook_code(path)


def test_the_scanner_knows_the_global_functions():
    assert {"seed", "rand", "randn", "normal", "uniform", "randint", "shuffle", "permutation",
            "choice", "random", "binomial"} <= NUMPY_GLOBAL
    assert "default_rng" not in NUMPY_GLOBAL and "Generator" not in NUMPY_GLOBAL
    assert {"seed", "random", "shuffle", "choice", "gauss"} <= STDLIB_GLOBAL


def test_the_scanner_finds_global_state_and_ignores_text():
    # SEED stands for seed so that plain text searches for the banned call find only real uses.
    flagged = """
import numpy as np
import numpy.random as npr
import random
from numpy.random import rand
np.random.SEED(0)
x = np.random.randn(3)
y = npr.permutation(4)
random.shuffle(z)
f = np.random.normal
""".replace("SEED", "seed")
    found = global_random_uses(flagged)
    assert sorted(int(use.split(":")[0].split()[1]) for use in found) == [5, 6, 7, 8, 9, 10], found
    clean = '''
"""Never call np.random.SEED(0) or np.random.rand(3): use a Generator."""
import numpy as np
rng = np.random.default_rng(0)  # not np.random.randn(
x = rng.random(3) + rng.normal(size=3)
order = rng.permutation(5)
seeds = np.random.SeedSequence(0).spawn(2)
'''.replace("SEED", "seed")
    assert global_random_uses(clean) == []


# The exercise checks read numpy's global state before a student's function runs and put it
# back afterwards, to catch an answer that draws from it: the only use of it allowed.
GUARDING_THE_GLOBAL_STATE = {("aelib/checks/guard.py", "np.random.get_state"),
                             ("aelib/checks/guard.py", "np.random.set_state")}


def test_no_global_random_state_in_the_library_or_the_notebooks():
    sources = list(project_code())
    assert any(where.startswith("aelib") for where, _ in sources)
    problems = []
    for where, source in sources:
        try:
            uses = global_random_uses(source)
        except SyntaxError:
            # Not plain Python (an unusual magic?): fall back to a textual search.
            uses = re.findall(r"\bnp\.random\.(?:%s)\(" % "|".join(sorted(NUMPY_GLOBAL)), source)
        problems += [f"{where}: {use}" for use in uses
                     if (where, use.split(": ")[-1]) not in GUARDING_THE_GLOBAL_STATE]
    assert not problems, ("use a seeded np.random.default_rng(seed) (or an rng argument) instead of "
                          "the global random state:\n" + "\n".join(problems))


# --- A failed save never damages an existing file -------------------------------------------

def leftovers(folder):
    return sorted(path.name for path in folder.iterdir() if path.name != "model.npz")


@pytest.mark.parametrize("damage, kind, pieces", [
    pytest.param(lambda m: m.config.update(seed=object()), TypeError, [r"config\['seed'\]", "JSON"],
                 id="config-not-json"),
    pytest.param(lambda m: m.config.update(sizes=[35, float("nan")]), ValueError, [r"config\['sizes'\]\[1\]"],
                 id="config-nan"),
    pytest.param(lambda m: m.encoder.params[0].__setitem__((0, 0), np.nan), ValueError,
                 ["weight array 0", "NaN or infinite"], id="nan-weight"),
    pytest.param(lambda m: m.decoder.params[1].__setitem__(0, np.inf), ValueError,
                 ["weight array 5", "NaN or infinite"], id="inf-bias"),
])
def test_a_failed_save_leaves_the_existing_file_intact(tmp_path, damage, kind, pieces):
    path = tmp_path / "model.npz"
    aelib.Autoencoder([35, 8, 2], seed=1).save(path)
    before = path.read_bytes()
    model = aelib.Autoencoder([35, 8, 2], seed=2)
    damage(model)
    expect_error(kind, lambda: model.save(path), *pieces)
    assert path.read_bytes() == before
    assert leftovers(tmp_path) == []
    aelib.Autoencoder.load(path)  # still a good model file


def test_a_save_interrupted_while_writing_leaves_the_existing_file_intact(tmp_path, monkeypatch):
    path = tmp_path / "model.npz"
    aelib.Autoencoder([35, 8, 2], seed=1).save(path)
    before = path.read_bytes()

    def savez_that_fails_half_way(file, **arrays):
        file.write(b"PK\x03\x04 half an archive")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(np, "savez", savez_that_fails_half_way)
    with pytest.raises(OSError, match="No space left"):
        aelib.Autoencoder([35, 8, 2], seed=2).save(path)
    assert path.read_bytes() == before and leftovers(tmp_path) == []


def test_numpy_integers_in_the_config_are_saved_as_plain_json(tmp_path):
    path = tmp_path / "model.npz"
    model = aelib.Autoencoder(np.array([35, 8, 2]), seed=np.int64(7))
    assert model.config["seed"] == 7 and type(model.config["seed"]) is int
    model.config["seed"] = np.int64(7)  # even set by hand after construction
    model.save(path)
    loaded = aelib.Autoencoder.load(path)
    assert loaded.config == {**model.config, "seed": 7}
    assert all(np.array_equal(a, b) for a, b in zip(model.params, loaded.params))


def test_saving_keeps_the_permissions_of_the_replaced_file(tmp_path):
    path = tmp_path / "model.npz"
    path.write_bytes(b"old")
    path.chmod(0o640)
    aelib.Autoencoder([35, 8, 2], seed=1).save(path)
    assert path.stat().st_mode & 0o777 == 0o640
    fresh = tmp_path / "fresh.npz"
    aelib.Autoencoder([35, 8, 2], seed=1).save(fresh)
    umask = os.umask(0)
    os.umask(umask)
    assert fresh.stat().st_mode & 0o777 == 0o666 & ~umask


@pytest.mark.parametrize("target", [1, 2, None, 3.5, b"model.npz"], ids=repr)
@pytest.mark.parametrize("cls", [aelib.Autoencoder, aelib.VAE])
def test_save_and_load_need_a_path_not_a_file_descriptor(cls, target):
    model = cls([35, 8, 2], seed=0)
    expect_error(TypeError, lambda: model.save(target), "^path must be a file path", type(target).__name__)
    expect_error(TypeError, lambda: cls.load(target), "^path must be a file path")


# --- Seeds ----------------------------------------------------------------------------------

@pytest.mark.parametrize("seed, kind, expected", [
    (-1, ValueError, "an int seed >= 0"),
    ("0", TypeError, "None or an int seed >= 0"),
    (0.5, TypeError, "None or an int seed >= 0"),
    (1.0, TypeError, "None or an int seed >= 0"),
    (True, TypeError, "None or an int seed >= 0"),
    (np.random.default_rng(0), TypeError, "None or an int seed >= 0"),  # a model's seed is saved with it
], ids=["negative", "str", "float", "integral-float", "bool", "Generator"])
@pytest.mark.parametrize("cls", [aelib.Autoencoder, aelib.VAE])
def test_model_seed_must_be_a_non_negative_int(cls, seed, kind, expected):
    expect_error(kind, lambda: cls([35, 8, 2], seed=seed), f"^seed must be {expected}")


@pytest.mark.parametrize("seed, kind", [(-1, ValueError), ("0", TypeError), (0.5, TypeError), (True, TypeError)],
                         ids=["negative", "str", "float", "bool"])
def test_seeds_and_rngs_that_take_a_generator_refuse_other_things(seed, kind, X):
    expect_error(kind, lambda: aelib.MLP([3, 2], ["tanh"], seed=seed), "^seed must be")
    expect_error(kind, lambda: aelib.salt_and_pepper(X, 0.1, rng=seed), "^rng must be")
    expect_error(kind, lambda: aelib.gaussian_noise(X, 0.1, rng=seed), "^rng must be")
    expect_error(kind, lambda: aelib.VAE([35, 8, 2], seed=0).sample(3, rng=seed), "^rng must be")
    generator = np.random.default_rng(3)
    assert aelib.MLP([3, 2], ["tanh"], seed=np.uint8(3)).n_params == 8
    assert aelib.salt_and_pepper(X, 0.1, rng=generator).shape == X.shape


# --- The gradient checker never passes a wrong gradient -------------------------------------

def quadratic_problem(layout):
    """loss(W) = sum((x W)^2) with W stored in ``layout``; returns (loss, W, its true gradient)."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=3)
    values = rng.normal(size=(3, 4))
    W = {"C": values.copy(), "F": np.asfortranarray(values), "transposed": values.T.copy().T,
         "strided": np.repeat(values, 2, axis=1)[:, ::2]}[layout]
    assert np.array_equal(W, values)

    def loss():
        return float(np.sum((x @ W) ** 2))
    return loss, W, 2.0 * np.outer(x, x @ W)


@pytest.mark.parametrize("layout", ["C", "F", "transposed", "strided"])
def test_gradient_check_perturbs_any_memory_layout(layout):
    loss, W, grad = quadratic_problem(layout)
    before = W.copy()
    check = aelib.gradient_check(loss, [W], [grad])
    assert check.passed() and check.max_error < 1e-9, str(check)
    assert np.array_equal(W, before)  # restored exactly
    assert not aelib.gradient_check(loss, [W], [grad * 1.01]).passed()


@pytest.mark.parametrize("where", [(0, 0), (2, 3)])
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_a_nan_or_inf_in_the_analytic_gradient_fails_the_check(where, bad):
    loss, W, grad = quadratic_problem("C")
    grad[where] = bad
    check = aelib.gradient_check(loss, [W, W], [quadratic_problem("C")[2], grad])
    assert not check.passed() and not check.passed(tolerance=np.inf)
    assert np.isnan(check.max_error)
    assert "NaN (fails)" in str(check)  # prints instead of crashing


def test_a_loss_that_becomes_nan_fails_the_check():
    loss, W, grad = quadratic_problem("C")
    original = W[1, 1]
    check = aelib.gradient_check(lambda: loss() if W[1, 1] == original else np.nan, [W], [grad])
    assert not check.passed() and np.isnan(check.max_error)


@pytest.mark.parametrize("param, kind, pieces", [
    pytest.param(np.arange(12).reshape(3, 4), TypeError, ["floating-point", "int64"], id="integer-array"),
    pytest.param(np.ones((3, 4), dtype=bool), TypeError, ["floating-point", "bool"], id="bool-array"),
    pytest.param([[1.0] * 4] * 3, TypeError, ["numpy array", "list"], id="list"),
    pytest.param(np.broadcast_to(1.0, (3, 4)), ValueError, ["read-only"], id="read-only-view"),
])
def test_arrays_that_cannot_be_perturbed_are_refused(param, kind, pieces):
    loss, _, grad = quadratic_problem("C")
    expect_error(kind, lambda: aelib.gradient_check(loss, [param], [grad]), r"^params\[W1\]", *pieces)
    expect_error(kind, lambda: aelib.numerical_gradient(loss, param), "^param ", *pieces)


@pytest.mark.parametrize("shape", [(3, 1), (1, 4), (4, 3), (12,), ()])
def test_gradient_shapes_are_checked_before_anything_is_computed(shape):
    calls = []
    loss, W, grad = quadratic_problem("C")
    expect_error(ValueError, lambda: aelib.gradient_check(lambda: calls.append(1) or loss(), [W], [np.zeros(shape)]),
                 r"^grads\[W1\] must have the shape of its parameter \(3, 4\)", re.escape(f"got {shape}"))
    assert calls == []


def test_gradient_check_arguments():
    loss, W, grad = quadratic_problem("C")
    expect_error(ValueError, lambda: aelib.gradient_check(loss, [W], [grad], names=["W1", "b1"]), "^names")
    expect_error(ValueError, lambda: aelib.numerical_gradient(loss, W, h=0.0), "^h must be a positive number")
    expect_error(TypeError, lambda: aelib.numerical_gradient(lambda: np.zeros(2), W), r"^loss\(\) must return a single")
    expect_error(ValueError, lambda: aelib.relative_error(np.zeros((3, 1)), np.zeros(3)), "same shape")


# --- Losses and optimizers check shapes and ranges instead of broadcasting ------------------

LOSSES = {
    "mse": aelib.losses.mse, "mse_grad": aelib.losses.mse_grad,
    "binary_cross_entropy": aelib.losses.binary_cross_entropy,
    "binary_cross_entropy_grad": aelib.losses.binary_cross_entropy_grad,
    "bce_with_logits": aelib.losses.bce_with_logits, "bce_with_logits_grad": aelib.losses.bce_with_logits_grad,
}
FIRST_ARGUMENT = {name: "A" if "logits" in name else "Y_hat" for name in LOSSES}


@pytest.mark.parametrize("name", LOSSES)
@pytest.mark.parametrize("shapes", [((5, 1), (5,)), ((5,), (5, 1)), ((4, 1), (4,)), ((3, 2), (3, 1)), ((1, 3), (3, 3))],
                         ids=str)
def test_losses_refuse_shapes_that_would_broadcast(name, shapes):
    prediction, target = np.full(shapes[0], 0.25), np.full(shapes[1], 1.0)
    expect_error(ValueError, lambda: LOSSES[name](prediction, target), f"^{FIRST_ARGUMENT[name]} and Y must have "
                 "the same shape", re.escape(f"got {shapes[0]} and {shapes[1]}"), "no broadcasting")


def test_the_issue_cases_of_broadcasting_losses():
    expect_error(ValueError, lambda: aelib.mse(np.zeros((5, 1)), np.arange(5.0)), "same shape")
    # The XOR loop of chapter 0, with the targets as a flat vector.
    net = aelib.MLP([2, 3, 1], ["tanh", "sigmoid"], seed=0)
    net.forward(np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]]))
    expect_error(ValueError, lambda: aelib.bce_with_logits(net.last_preactivation, np.array([0.0, 1.0, 1.0, 0.0])),
                 r"got \(4, 1\) and \(4,\)", r"Y.reshape\(-1, 1\)")


@pytest.mark.parametrize("name", [n for n in LOSSES if "mse" not in n])
@pytest.mark.parametrize("target", [255.0, -0.5, 1.0 + 1e-9])
def test_cross_entropy_targets_must_lie_in_the_unit_interval(name, target):
    Y = np.full((3, 2), target)
    expect_error(ValueError, lambda: LOSSES[name](np.full((3, 2), 0.5), Y), r"^Y must lie in \[0, 1\]")


@pytest.mark.parametrize("name", ["binary_cross_entropy", "binary_cross_entropy_grad"])
def test_binary_cross_entropy_needs_probabilities(name):
    expect_error(ValueError, lambda: LOSSES[name](np.full((3, 2), 1.5), np.ones((3, 2))), r"^Y_hat must lie in \[0, 1\]")


@pytest.mark.parametrize("name", LOSSES)
@pytest.mark.parametrize("bad, kind, piece", [
    (np.array([[1 + 2j, 0.5]]), TypeError, "real numbers"), (np.array([["0.5", "1"]]), TypeError, "real numbers"),
    ("0.5", TypeError, "real numbers"), (np.array([[np.nan, 0.5]]), ValueError, "finite"),
    (np.zeros((0, 2)), ValueError, "empty"),
], ids=["complex", "strings", "str", "nan", "empty"])
def test_losses_refuse_values_that_are_not_real_numbers(name, bad, kind, piece):
    good = np.full(np.shape(bad) if np.ndim(bad) else (1, 2), 0.5)
    expect_error(kind, lambda: LOSSES[name](bad, good), piece)
    expect_error(kind, lambda: LOSSES[name](good, bad), piece)


@pytest.mark.parametrize("name", LOSSES)
def test_checked_and_unchecked_losses_agree_on_good_arguments(name):
    rng = np.random.default_rng(0)
    prediction, target = rng.uniform(0.05, 0.95, (4, 3)), rng.uniform(0.0, 1.0, (4, 3))
    np.testing.assert_array_equal(LOSSES[name](prediction, target), LOSSES[name](prediction, target, check=False))
    assert np.all(np.isfinite(LOSSES[name](prediction.tolist(), target.tolist())))  # lists are arrays too


def test_loss_and_grads_refuses_a_target_of_another_shape(X):
    expect_error(ValueError, lambda: autoencoder().loss_and_grads(X, X[:1]), "^X_target must have one row per row",
                 r"\(27, 35\)", r"got \(1, 35\)")


def optimizers():
    return [pytest.param(lambda: aelib.SGD(0.1), id="SGD"), pytest.param(lambda: aelib.SGD(0.1, momentum=0.9), id="momentum"),
            pytest.param(lambda: aelib.Adam(0.1), id="Adam")]


@pytest.mark.parametrize("make_optimizer", optimizers())
def test_optimizers_refuse_wrong_shape_and_missing_gradients(make_optimizer):
    params = [np.ones((3, 2)), np.ones(2)]
    before = [param.copy() for param in params]
    cases = [([np.ones((3, 1)), np.ones(2)], r"^grads\[0\] must have the shape of params\[0\], \(3, 2\)"),
             ([np.ones((3, 2)), np.ones(())], r"^grads\[1\] must have the shape of params\[1\], \(2,\)"),
             ([np.ones((3, 2))], "^grads must give one gradient per parameter: got 1 gradient"),
             ([np.ones((3, 2)), np.ones(2), np.ones(2)], "got 3 gradient")]
    for grads, message in cases:
        expect_error(ValueError, lambda: make_optimizer().step(params, grads), message)
    expect_error(TypeError, lambda: make_optimizer().step([np.ones(2, dtype=int)], [np.ones(2)]), r"^params\[0\] must be a float")
    for param, saved in zip(params, before):
        np.testing.assert_array_equal(param, saved)  # nothing was updated


@pytest.mark.parametrize("make_optimizer", [p for p in optimizers() if p.id != "SGD"])
def test_a_stateful_optimizer_belongs_to_one_model(make_optimizer):
    first, second = aelib.MLP([3, 2], ["tanh"], seed=0), aelib.MLP([3, 2], ["tanh"], seed=1)  # same sizes
    optimizer = make_optimizer()
    optimizer.step(first.params, first.grads)
    optimizer.step(first.params, first.grads)  # the same arrays again: fine
    before = [param.copy() for param in second.params]
    expect_error(ValueError, lambda: optimizer.step(second.params, second.grads), "already holds the state of other",
                 "one optimizer per model", r"reset\(\)")
    assert all(np.array_equal(a, b) for a, b in zip(second.params, before))
    optimizer.reset()
    optimizer.step(second.params, second.grads)


def test_plain_sgd_has_no_state_and_serves_any_model():
    sgd = aelib.SGD(0.1)
    for seed in (0, 1):
        net = aelib.MLP([3, 2], ["tanh"], seed=seed)
        net.forward(np.ones((1, 3)))
        net.backward(np.ones((1, 2)))
        expected = [param - 0.1 * grad for param, grad in zip(net.params, net.grads)]
        sgd.step(net.params, net.grads)
        assert all(np.array_equal(a, b) for a, b in zip(net.params, expected))


# --- Divergence: named, with its likely cause -----------------------------------------------

def test_an_explosion_that_stays_finite_is_divergence(X):
    # Adam at lr=10 takes this loss from 0.36 to 1e12 or more; left alone it comes back down to
    # a finite, meaningless value and fit would return normally.
    with pytest.raises(aelib.TrainingDivergedError) as error:
        diverging_autoencoder().fit(X, epochs=200, lr=10)
    message = str(error.value)
    assert re.search(r"the loss exploded to \S+, more than 1e\+04 times its reference", message), message
    assert "lr=10 is too large" in message


def test_a_vae_at_a_large_learning_rate_diverges_loudly(X):
    with pytest.raises(aelib.TrainingDivergedError, match="lr=5 is too large"):
        aelib.VAE([35, 20, 2], seed=0).fit(X, epochs=300, lr=5)


def test_the_last_step_making_the_weights_nan_is_divergence(X):
    model = autoencoder()
    with pytest.raises(aelib.TrainingDivergedError, match="weights became NaN or infinite.*lr=1e\\+308"):
        model.fit(X, 1, lr=1e308)


def test_an_epoch_whose_sum_overflows_is_divergence(X):
    with pytest.raises(aelib.TrainingDivergedError, match="sum over the epoch overflowed"):
        aelib.VAE([35, 20, 2], seed=0).fit(X, epochs=2, lr=1e-3, beta=1e308, batch_size=4)


def test_divergence_from_huge_data_blames_the_data_not_the_learning_rate(X):
    model = aelib.Autoencoder([35, 20, 2], loss="mse", output_activation="identity", seed=0)
    message = expect_error(aelib.TrainingDivergedError, lambda: model.fit(X * 1e300, epochs=5, lr=0.01),
                           "epoch 1", "The data reach values of 1e\\+300", "rescale X")
    assert "lr=" not in message


def test_divergence_from_a_noise_function_blames_the_noise_function(X):
    def broken_noise(X_batch, rng):
        return np.where(X_batch > 0.5, np.nan, X_batch)
    expect_error(aelib.TrainingDivergedError, lambda: autoencoder().fit(X, epochs=3, lr=0.01, noise=broken_noise),
                 "noise function", "broken_noise", "NaN or infinite")


def test_a_noise_function_must_keep_the_batch_shape(X):
    for wrong in (lambda B, rng: B[:1], lambda B, rng: B.T, lambda B, rng: B.ravel()):
        expect_error(ValueError, lambda: autoencoder().fit(X, epochs=1, lr=0.01, noise=wrong),
                     r"^noise must return an array of its input's shape \(27, 35\)")


def test_an_optimizer_object_uses_its_own_lr_and_is_blamed_by_name(X):
    model = diverging_autoencoder()
    expect_error(ValueError, lambda: model.fit(X, epochs=3, lr=0.01, optimizer=aelib.Adam(lr=10)),
                 "^lr must be left out when optimizer is an object", "own learning rate")
    expect_error(aelib.TrainingDivergedError, lambda: model.fit(X, epochs=200, optimizer=aelib.Adam(lr=10)),
                 r"optimizer's own learning rate, Adam.lr=10", "create it with a smaller lr")
    history = autoencoder().fit(X, epochs=5, optimizer=aelib.SGD(lr=0.01))
    assert history == autoencoder().fit(X, epochs=5, lr=0.01, optimizer=aelib.SGD(lr=0.01))  # the same lr: fine
    expect_error(TypeError, lambda: autoencoder().fit(X, epochs=5), "^lr must be a positive number, got None")


def test_continuing_to_train_a_good_model_is_not_called_divergence(X):
    model = aelib.Autoencoder([35, 30, 20, 2], seed=0)
    model.fit(X, epochs=1500, lr=3e-3)
    # A fresh Adam's first steps shake a model near zero loss; that must not stop it.
    history = model.fit(X, epochs=50, lr=3e-2, batch_size=4)
    assert np.isfinite(history).all()


# --- The arrays a model computes with are the arrays it saves -------------------------------

@pytest.mark.parametrize("owner", ["mlp", "autoencoder-encoder", "autoencoder", "vae"])
def test_params_cannot_be_replaced_only_written_into(owner, tmp_path):
    model = {"mlp": lambda: aelib.MLP([35, 8, 2], ["tanh", "identity"], seed=0),
             "autoencoder-encoder": lambda: autoencoder().encoder,
             "autoencoder": autoencoder, "vae": vae}[owner]()
    for attribute in ("params", "grads"):
        sequence = getattr(model, attribute)
        expect_error(TypeError, lambda: sequence.__setitem__(0, np.zeros(sequence[0].shape)),
                     rf"^cannot replace {attribute}\[0\]", rf"{attribute}\[0\]\[\.\.\.\] = new_values")
        with pytest.raises(AttributeError, match=f"{attribute}"):
            setattr(model, attribute, list(sequence))
    # Writing into a parameter changes what the model computes and what it saves, together.
    model.params[0][...] = 0.5
    if isinstance(model, aelib.MLP):
        W1, b1, W2, b2 = model.params
        x = np.linspace(0.0, 1.0, 35).reshape(1, -1)
        np.testing.assert_allclose(model.forward(x), np.tanh(x @ np.full(W1.shape, 0.5) + b1) @ W2 + b2, rtol=1e-14)
        assert np.all(model.flat_params[:W1.size] == 0.5)
    else:
        path = tmp_path / "model.npz"
        model.save(path)
        loaded = type(model).load(path)
        np.testing.assert_array_equal(loaded.params[0], 0.5)
        np.testing.assert_array_equal(loaded.decode(np.ones((2, 2))), model.decode(np.ones((2, 2))))


def test_flat_vectors_are_updated_in_place_but_never_replaced():
    mlp = aelib.MLP([3, 2], ["identity"], seed=0)
    mlp.flat_params += 1.0  # an in-place update, as an optimizer does
    expect_error(AttributeError, lambda: setattr(mlp, "flat_params", np.zeros(8)), "^flat_params cannot be replaced")
    expect_error(AttributeError, lambda: setattr(mlp, "flat_grads", mlp.flat_grads.copy()), "^flat_grads cannot be replaced")
    assert np.shares_memory(mlp.params[0], mlp.flat_params)


def gradients_after(edit):
    """The gradients of a small network after ``edit(X, Y_hat, net)`` between forward and backward."""
    rng = np.random.default_rng(0)
    net = aelib.MLP([4, 5, 3], ["tanh", "sigmoid"], seed=1)
    X = rng.normal(size=(6, 4))
    Y_hat = net.forward(X)
    edit(X, Y_hat, net)
    dX = net.backward(np.ones_like(Y_hat))
    return [grad.copy() for grad in net.grads] + [dX]


@pytest.mark.parametrize("edit", [
    pytest.param(lambda X, Y_hat, net: X.__imul__(3.0), id="input-edited"),
    pytest.param(lambda X, Y_hat, net: Y_hat.__iadd__(0.25), id="output-edited"),
    pytest.param(lambda X, Y_hat, net: Y_hat.fill(0.0), id="output-zeroed"),
])
def test_editing_forward_arrays_before_backward_does_not_change_the_gradient(edit):
    untouched = gradients_after(lambda X, Y_hat, net: None)
    for a, b in zip(untouched, gradients_after(edit)):
        np.testing.assert_array_equal(a, b)


def test_the_arrays_kept_for_backward_are_read_only():
    net = aelib.MLP([4, 3], ["sigmoid"], seed=0)
    net.forward(np.ones((2, 4)))
    for attribute in ("last_output", "last_preactivation"):
        with pytest.raises(ValueError, match="read-only"):
            getattr(net, attribute)[...] = 0.0


@pytest.mark.parametrize("kind", ["autoencoder", "vae"])
def test_training_on_the_models_own_weights_does_not_rewrite_the_data(kind):
    def model():
        if kind == "vae":
            return aelib.VAE([35, 35, 2], seed=0)
        return aelib.Autoencoder([35, 35, 2], loss="mse", output_activation="identity", seed=0)

    aliased, reference = model(), model()
    if kind == "vae":  # a VAE needs data in [0, 1]
        for m in (aliased, reference):
            m.encoder.params[0][...] = np.abs(m.encoder.params[0])
    data = aliased.encoder.params[0]  # (35, 35): one of the weight matrices
    snapshot = data.copy()
    fit = (lambda m, X: m.fit(X, epochs=5, lr=0.01)["loss"]) if kind == "vae" else (lambda m, X: m.fit(X, epochs=5, lr=0.01))
    # The aliased model must train exactly as if it had been given a copy of its weights.
    assert fit(aliased, data) == fit(reference, snapshot)
    assert all(np.array_equal(a, b) for a, b in zip(aliased.params, reference.params))
    if kind == "autoencoder":
        snapshot = data.copy()
        loss, grads = aliased.loss_and_grads(data)
        np.testing.assert_array_equal(data, snapshot)
        reference_loss, reference_grads = reference.loss_and_grads(snapshot)
        assert loss == reference_loss and all(map(np.array_equal, grads, reference_grads))


def test_a_backward_pass_needs_a_forward_pass_and_the_right_shape():
    net = aelib.MLP([3, 4, 2], ["tanh", "sigmoid"], seed=0)
    expect_error(RuntimeError, lambda: net.backward_from_preactivation(np.ones((5, 2))),
                 r"^call forward\(X\) before backward_from_preactivation\(delta\)")
    net.forward(np.ones((5, 3)))
    for shape in [(5,), (2, 5), (5, 1), (1, 2)]:
        expect_error(ValueError, lambda: net.backward_from_preactivation(np.ones(shape)),
                     r"^delta must have the shape of the last output \(5, 2\)", re.escape(f"got {shape}"))
    expect_error(TypeError, lambda: net.backward_from_preactivation(np.ones((5, 2)) * 1j), "^delta must be an array of real numbers")
    expect_error(TypeError, lambda: net.backward(np.full((5, 2), "x")), "^dY must be an array of real numbers")


# --- Data, glyph files and figures: clear messages naming the argument or the file ----------

@pytest.mark.parametrize("bad, dtype", [
    pytest.param(lambda X: X * (1 + 1j), "complex128", id="complex"),
    pytest.param(lambda X: X.astype(str), "<U", id="strings"),
    pytest.param(lambda X: X.astype(object), "object", id="objects"),
])
@pytest.mark.parametrize("kind, call", ALL_ENTRY_POINTS)
def test_complex_and_string_arrays_are_not_data(kind, call, bad, dtype, X):
    expect_error(TypeError, lambda: call(make(kind), bad(X)), "^X must be a 2-D array of real numbers", dtype)


@pytest.mark.parametrize("noise", [aelib.salt_and_pepper, aelib.gaussian_noise])
def test_noise_refuses_complex_and_string_data(noise, X):
    for bad in (X * 1j, X.astype(str)):
        expect_error(TypeError, lambda: noise(bad, 0.1, rng=0), "^X must be a 2-D array of real numbers")


GLYPH = "label: ñ\n" + "\n".join(["#...#"] * 7) + "\n"


def test_a_glyph_file_with_a_byte_order_mark_is_read(tmp_path):
    path = tmp_path / "font.txt"
    path.write_text(GLYPH, encoding="utf-8-sig")
    X, labels = aelib.load_font(path)
    assert labels == ["ñ"] and X.shape == (1, 35)


@pytest.mark.parametrize("encoding, pieces", [
    ("latin-1", ["line 1", "0xf1 is not UTF-8", "save the file as UTF-8"]),
    ("cp1252", ["line 1", "not UTF-8"]),
    ("utf-16", ["UTF-16", "save it as UTF-8"]),
])
def test_a_glyph_file_in_another_encoding_is_refused_naming_the_file(tmp_path, encoding, pieces):
    path = tmp_path / "font.txt"
    path.write_text(GLYPH, encoding=encoding)
    expect_error(ValueError, lambda: aelib.load_font(path), "^" + re.escape(str(path)) + ": ", *pieces)


def test_a_glyph_file_path_must_be_a_path():
    expect_error(TypeError, lambda: aelib.load_font(0), "^path must be a file path", "int")


@pytest.mark.parametrize("plot, argument", [
    pytest.param(lambda A: aelib.plots.plot_glyphs(A), "X", id="plot_glyphs"),
    pytest.param(lambda A: aelib.plots.plot_glyph_tiles(A), "X", id="plot_glyph_tiles"),
    pytest.param(lambda A: aelib.plots.plot_reconstructions(A, A), "X", id="plot_reconstructions"),
    pytest.param(lambda A: aelib.plots.plot_rows([A, A], ["clean", "noisy"]), r"rows\[0\]", id="plot_rows"),
    pytest.param(lambda A: aelib.plots.plot_latent_glyphs(np.zeros((1, 2)), A), "X", id="plot_latent_glyphs"),
])
@pytest.mark.parametrize("shape, pieces", [((0, 35), ["at least one row", r"\(0, 35\)"]),
                                           ((35,), ["must be 2-D", r"reshape\(1, -1\)"])], ids=["0-rows", "1-D"])
def test_plots_refuse_empty_and_one_dimensional_input(plot, argument, shape, pieces):
    import matplotlib.pyplot as plt
    try:
        expect_error(ValueError, lambda: plot(np.zeros(shape)), f"^({argument}) must", *pieces)
    finally:
        plt.close("all")


def test_latent_plots_refuse_empty_or_flat_codes():
    import matplotlib.pyplot as plt
    try:
        expect_error(ValueError, lambda: aelib.plots.plot_latent(np.zeros((0, 2)), []), "^Z must have at least one row")
        expect_error(ValueError, lambda: aelib.plots.plot_latent(np.zeros(2), ["a"]), "^Z must be 2-D")
        expect_error(ValueError, lambda: aelib.plots.plot_latent_clouds(np.zeros((3, 2)), "abc", np.zeros(0), []),
                     "^Z_noisy must be 2-D")
        expect_error(TypeError, lambda: aelib.plots.plot_latent_map(autoencoder(), (-1, 1, -1, 1)),
                     "^decode must be a function", "model.decode", "Autoencoder")
        expect_error(TypeError, lambda: aelib.plots.plot_glyphs(np.full((2, 35), "x")), "^X must be a 2-D array of real")
    finally:
        plt.close("all")
