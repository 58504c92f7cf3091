"""Messages of the library's public functions, class by class: each kind of mistake gets a
ValueError or TypeError that names the argument and what was expected, wherever it can occur,
and training that goes wrong while its loss stays finite is stopped with an explanation."""
import functools
import json
import re

import matplotlib
import numpy as np
import pytest

import aelib
from aelib import plots, widgets

matplotlib.use("Agg")
X_FONT, LABELS = aelib.load_font()
FONT_FILE = aelib.data.dataset_path("font5x7.txt")


def expect_error(kind, call, *pieces):
    """``call()`` raises ``kind`` and the message contains every piece (regular expressions)."""
    with pytest.raises(kind) as error:
        call()
    message = str(error.value)
    for piece in pieces:
        assert re.search(piece, message), f"{piece!r} not found in the message: {message}"
    return message


@pytest.fixture(autouse=True)
def close_figures():
    yield
    matplotlib.pyplot.close("all")


# --- Data outside [0, 1]: the advice fits the model, and the number shows why it is outside -----

def test_a_vae_does_not_advise_a_loss_argument_it_does_not_have():
    message = expect_error(ValueError, lambda: aelib.VAE([35, 8, 2], seed=0).fit(X_FONT * 2, epochs=1, lr=0.01),
                           r"^X must lie in \[0, 1\]", "VAE", "rescale")
    assert "loss=" not in message
    expect_error(ValueError, lambda: aelib.Autoencoder([35, 8, 2], seed=0).fit(X_FONT * 2, epochs=1, lr=0.01),
                 r"^X must lie in \[0, 1\]", "loss='bce'", "loss='mse'")


@pytest.mark.parametrize("call", [
    pytest.param(lambda X: aelib.Autoencoder([35, 2], seed=0).fit(X, epochs=1, lr=0.01), id="Autoencoder.fit"),
    pytest.param(lambda X: aelib.VAE([35, 2], seed=0).encode(X), id="VAE.encode"),
    pytest.param(lambda X: aelib.binary_cross_entropy(np.full(X.shape, 0.5), X), id="binary_cross_entropy"),
    pytest.param(lambda X: aelib.bce_with_logits(np.zeros(X.shape), X), id="bce_with_logits"),
    pytest.param(lambda X: aelib.binary_cross_entropy(X, np.ones(X.shape)), id="binary_cross_entropy-prediction"),
])
@pytest.mark.parametrize("bad, printed", [(1.0000001, "1.0000001"), (-1e-9, "-1e-09"), (1 + 2**-52, "1.0000000000000002")])
def test_a_range_message_never_prints_the_broken_bound_as_the_value(call, bad, printed):
    X = X_FONT.copy()
    X[3, 4] = bad
    message = expect_error(ValueError, lambda: call(X), r"must lie in \[0, 1\], got values from")
    assert printed in message


def test_format_number_adds_digits_only_where_they_are_needed():
    assert aelib.validation.format_number(255.0, unlike=(0.0, 1.0)) == "255"
    assert aelib.validation.format_number(1.0, unlike=(0.0, 1.0)) == "1"
    assert aelib.validation.format_number(np.float32(1.0000001), unlike=(1.0,)) == "1.0000001"
    assert aelib.validation.format_number(1e-300, unlike=(0.0,)) == "1e-300"


def test_a_rising_loss_on_large_data_names_the_data():
    net = aelib.Autoencoder([35, 2], loss="mse", output_activation="identity", seed=0)
    message = expect_error(aelib.TrainingDivergedError,
                           lambda: net.fit(np.full((4, 35), 1e6) + np.arange(35), epochs=3, lr=1.0), "rescale X")
    assert "1e+06" in message or "1.00003e+06" in message


# --- Plotting helpers given mismatched arguments ------------------------------------------------

Z2 = np.random.default_rng(0).normal(size=(27, 2))
DECODE = aelib.Autoencoder([35, 8, 2], seed=0).decode
PLOT_MISTAKES = [
    # (call, exception, pieces of the message)
    (lambda: plots.plot_glyphs(X_FONT, labels=LABELS[:3]), ValueError, ["^labels", "27 expected, got 3"]),
    (lambda: plots.plot_glyphs(X_FONT, wrong=np.zeros((3, 35), bool)), ValueError, ["^wrong", r"\(27, 35\)"]),
    (lambda: plots.plot_glyphs(X_FONT, ncols=0), ValueError, ["^ncols", ">= 1"]),
    (lambda: plots.plot_glyphs(X_FONT, shape=(6, 6)), ValueError, ["^shape", "36 pixels", "35"]),
    (lambda: plots.plot_glyphs(X_FONT, shape=(7,)), TypeError, ["^shape", r"pair \(rows, cols\)"]),
    (lambda: plots.plot_glyphs(X_FONT, labels=5), TypeError, ["^labels", "one entry per glyph"]),
    (lambda: plots.draw_glyph(matplotlib.pyplot.gca(), X_FONT[0], wrong=np.zeros(30, bool)), ValueError, ["^wrong"]),
    (lambda: plots.draw_glyph(matplotlib.pyplot.gca(), X_FONT[:2]), ValueError, ["^x must be one glyph"]),
    (lambda: plots.plot_rows([X_FONT[:5], X_FONT[:4]], ["a", "b"]), ValueError, [r"^rows\[1\]", r"\(5, 35\)"]),
    (lambda: plots.plot_rows([X_FONT[:5], X_FONT[:5]], ["clean"]), ValueError, ["^row_labels", "2 expected, got 1"]),
    (lambda: plots.plot_rows([X_FONT[:5]], ["a"], labels=LABELS), ValueError, ["^labels", "5 expected, got 27"]),
    (lambda: plots.plot_rows(X_FONT[:5], ["a"]), TypeError, ["^rows must be a list", r"\[X\]"]),
    (lambda: plots.plot_history([]), ValueError, ["^history", "non-empty"]),
    (lambda: plots.plot_history({}), ValueError, ["^history", "at least one curve"]),
    (lambda: plots.plot_history({"loss": [1.0, 0.5], "kl": ["a"]}), TypeError, [r"^history\['kl'\]", "numbers"]),
    (lambda: plots.plot_history([1.0, 0.0]), ValueError, ["^history", "log scale", "logy=False"]),
    (lambda: plots.plot_latent(Z2, LABELS[:5]), ValueError, ["^labels", "27 expected, got 5"]),
    (lambda: plots.latent_grid((-1, 1, -1, 1), 1), ValueError, ["^n must be an integer >= 2"]),
    (lambda: plots.plot_latent_map(DECODE, (-1, 1, -1, 1), n=1), ValueError, ["^n must be an integer >= 2"]),
    (lambda: plots.plot_latent_map(DECODE, (1, -1, -1, 1)), ValueError, ["^extent", "min < max"]),
    (lambda: plots.plot_latent_map(DECODE, (-1, 1, -1, 1), n=3, threshold="half"), TypeError, ["^threshold"]),
    (lambda: plots.plot_latent_map(lambda Z: X_FONT, (-1, 1, -1, 1), n=3), ValueError, ["^decode", "9 for the 3 x 3"]),
    (lambda: plots.plot_recovery_curves([0.1, 0.2], {"DAE": [1.0, 0.9, 0.5]}, "p"), ValueError,
     [r"^curves\['DAE'\]", "one rate per level", "2 levels, got 3"]),
    (lambda: plots.plot_recovery_curves([0.1], {"DAE": [1.0]}, "p", reference="Bayes"), ValueError, ["^reference"]),
    (lambda: plots.plot_recovery_curves([0.1], {str(k): [0.5] for k in range(9)}, "p"), ValueError,
     ["^curves can hold at most 8"]),
    (lambda: plots.plot_recovery_curves([], {"DAE": []}, "p"), ValueError, ["^levels", "non-empty"]),
    (lambda: plots.plot_latent_clouds(Z2, LABELS, Z2[:5], np.arange(4)), ValueError, ["^noisy_index", r"\(5,\)"]),
    (lambda: plots.plot_latent_clouds(Z2, LABELS, Z2[:5], np.arange(5) + 25), ValueError, ["^noisy_index", "0 to 26"]),
    (lambda: plots.plot_latent_clouds(Z2, LABELS[:3], Z2[:5], np.arange(5)), ValueError, ["^labels"]),
    (lambda: plots.plot_latent_glyphs(Z2, X_FONT, sigma=np.ones((3, 2))), ValueError, ["^sigma", r"\(27, 2\)"]),
    (lambda: plots.plot_latent_glyphs(Z2, X_FONT, highlight=[True]), ValueError, ["^highlight", r"\(27,\)"]),
    (lambda: plots.plot_latent_glyphs(Z2, X_FONT, size=0), ValueError, ["^size"]),
    (lambda: plots.plot_glyph_tiles(X_FONT, ncols=0), ValueError, ["^ncols"]),
    (lambda: plots.plot_glyph_tiles(X_FONT, gap=-1), ValueError, ["^gap"]),
    (lambda: plots.plot_reconstructions(X_FONT, X_FONT, labels=LABELS[:2]), ValueError, ["^labels"]),
    (lambda: plots.plot_reconstructions(X_FONT, X_FONT, ncols=0), ValueError, ["^ncols"]),
    (lambda: plots.plot_labelled_codes(Z2, np.arange(5)), ValueError, ["^labels", "27 expected, got 5"]),
    (lambda: plots.plot_tile_rows([X_FONT[:5], X_FONT[:4]]), ValueError, [r"^rows\[1\]"]),
    (lambda: plots.plot_tile_rows([X_FONT[:5]], ["a", "b"]), ValueError, ["^row_labels"]),
    (lambda: plots.plot_tile_rows([X_FONT[:5]], titles=[LABELS[:4]]), ValueError, [r"^titles\[0\]", "5 expected"]),
    (lambda: plots.plot_tile_rows([]), ValueError, ["^rows must be a list of at least one"]),
]


@pytest.mark.parametrize("call, kind, pieces", PLOT_MISTAKES, ids=range(len(PLOT_MISTAKES)))
def test_plotting_helpers_name_the_argument_that_does_not_fit(call, kind, pieces):
    expect_error(kind, call, *pieces)


def test_plotting_helpers_still_draw_what_fits():
    plots.plot_history({"loss": [3.0, 2.0, 1.0], "kl": [1.0, 0.5]})  # curves of their own lengths
    plots.plot_latent_map(DECODE, (-1, 1, -1, 1), n=2)
    plots.plot_recovery_curves([0.1, 0.2], {"DAE": [1.0, 0.9], "Bayes": [1.0, 0.95]}, "p", reference="Bayes")
    plots.plot_glyphs(X_FONT[:3], labels="abc", shape=(7, 5))


# --- Shapes of glyphs, wherever a function takes one --------------------------------------------

@pytest.mark.parametrize("shape, kind", [(None, TypeError), ((7,), TypeError), ((7, 5, 1), TypeError),
                                         ((7.0, 5), ValueError), ((0, 5), ValueError), ("7x5", TypeError)])
@pytest.mark.parametrize("call", [
    pytest.param(lambda shape: aelib.load_glyphs(FONT_FILE, shape), id="load_glyphs"),
    pytest.param(lambda shape: aelib.gaussian_blur(X_FONT, 1.0, shape), id="gaussian_blur"),
    pytest.param(lambda shape: aelib.median_filter(X_FONT, shape), id="median_filter"),
    pytest.param(lambda shape: widgets.latent_explorer(DECODE, shape=shape or 5), id="latent_explorer"),
])
def test_a_shape_must_be_a_pair_of_positive_integers(call, shape, kind):
    expect_error(kind, lambda: call(shape), r"^shape must be a pair \(rows, cols\) of integers >= 1", "(7, 5)")


# --- Saved models ------------------------------------------------------------------------------

@pytest.mark.parametrize("model", [aelib.Autoencoder([35, 4, 2], seed=0), aelib.VAE([35, 4, 2], seed=0)],
                         ids=["Autoencoder", "VAE"])
def test_load_called_on_a_model_shows_the_call_on_the_class(model, tmp_path):
    path = tmp_path / "model.npz"
    model.save(path)
    name = type(model).__name__
    expect_error(TypeError, lambda: model.load(path), rf"model = {name}\.load\(path\)", "unchanged")
    loaded = type(model).load(path)
    assert all(np.array_equal(a, b) for a, b in zip(loaded.params, model.params))
    assert "model = " in type(model).load.__doc__


def forge(path, out, **changes):
    """Copy the model file ``path`` to ``out`` with some entries replaced."""
    entries = dict(np.load(path))
    entries.update(changes)
    np.savez(out, **entries)
    return out


@pytest.mark.parametrize("kind", [aelib.Autoencoder, aelib.VAE])
def test_a_file_claiming_a_huge_architecture_is_refused_before_building_it(kind, tmp_path):
    path = tmp_path / "model.npz"
    kind([35, 4, 2], seed=0).save(path)
    config = json.loads(str(np.load(path)["config"]))
    config["sizes"] = [10**6, 10**6, 2]  # 2e12 weights: 16 TB
    forged = forge(path, tmp_path / "huge.npz", config=np.array(json.dumps(config)))
    expect_error(ValueError, lambda: kind.load(forged), "huge.npz", "configuration describes", "2,000,00",
                 "refused before building")
    expect_error(ValueError, lambda: kind.load(forged), r"weight array 0 has shape \(35, 4\), the architecture needs \(1000000, 1000000\)")


def test_an_array_header_claiming_more_than_the_file_holds_is_refused(tmp_path):
    path = tmp_path / "model.npz"
    aelib.Autoencoder([35, 4, 2], seed=0).save(path)
    data = path.read_bytes()
    header = b"'shape': (35, 4), }"
    assert data.count(header) == 1
    forged = tmp_path / "forged.npz"
    # The same number of characters, so the zip archive stays readable: only the header lies.
    forged.write_bytes(data.replace(header, b"'shape': (99999999999, 4), }"[:len(header) - 1] + b"}"))
    message = expect_error(ValueError, lambda: aelib.Autoencoder.load(forged), "forged.npz")
    assert "more than the file holds" in message or "unreadable" in message or "corrupted" in message


# --- Noise functions that return something else than an array ----------------------------------

def as_list(X, rng):
    return X.tolist()


@pytest.mark.parametrize("call", [
    pytest.param(lambda noise: aelib.Autoencoder([35, 2], seed=0).fit(X_FONT, epochs=1, lr=0.01, noise=noise),
                 id="Autoencoder.fit"),
    pytest.param(lambda noise: aelib.Autoencoder([35, 2], seed=0, dtype="float32").fit(X_FONT, epochs=1, lr=0.01,
                                                                                       noise=noise), id="float32"),
    pytest.param(lambda noise: aelib.denoising.noisy_samples(X_FONT, noise, 10), id="noisy_samples"),
    pytest.param(lambda noise: aelib.recovery_rates({"id": lambda X: X}, X_FONT, noise, 10), id="recovery_rates"),
    pytest.param(lambda noise: aelib.bayes_ceiling(X_FONT, noise, "hamming", 10), id="bayes_ceiling"),
])
def test_a_noise_function_must_return_an_array_of_its_input_shape(call):
    expect_error(TypeError, lambda: call(as_list), "^noise must return a numpy array", r"\(\d+, 35\)", "got list",
                 "as_list")
    expect_error(ValueError, lambda: call(lambda X, rng: X[:, :5]), "^noise must return an array of its input's shape")


def test_recovery_curves_needs_a_function_of_the_level():
    expect_error(TypeError, lambda: aelib.recovery_curves({"id": lambda X: X}, X_FONT, 0.2, [0.1]), "^make_noise",
                 "functools.partial")


# --- Empty gradient checks ----------------------------------------------------------------------

def test_a_gradient_check_of_nothing_is_refused():
    expect_error(ValueError, lambda: aelib.gradient_check(lambda: 0.0, [], []), "^params must hold at least one array")
    expect_error(ValueError, lambda: aelib.gradcheck.GradientCheck([], [], []), "at least one")


# --- Training that goes wrong while its loss stays finite ----------------------------------------

def test_a_loss_that_rises_and_stays_finite_is_divergence():
    # Adam with lr=10: the outputs saturate, the loss climbs to about 13 nats per pixel and stays
    # there, finite, far below the factor 1e4 that catches an explosion.
    model = aelib.Autoencoder([35, 30, 20, 2], seed=0)
    message = expect_error(aelib.TrainingDivergedError, lambda: model.fit(X_FONT, epochs=300, lr=10),
                           "epoch's mean loss rose to", "more than 4 times its reference", r"lr=10\b", "lr=1\\b")
    assert aelib.training.RISE_FACTOR == 4.0, message


def test_the_rise_rule_names_an_optimizer_objects_own_learning_rate():
    model = aelib.VAE([144, 64, 2], seed=0)
    E = aelib.load_emojis()[0]
    expect_error(aelib.TrainingDivergedError, lambda: model.fit(E, epochs=20, optimizer=aelib.Adam(lr=0.3)),
                 "mean loss rose", r"Adam\.lr=0\.3")


def test_codes_that_all_die_stop_training_with_the_cause():
    # Adam with lr=0.1 pushes both ReLU units of the code below zero for every letter: every
    # letter gets the code (0, 0) and is decoded alike, while the loss stays near its start.
    model = aelib.Autoencoder([35, 30, 20, 2], seed=0, latent_activation="relu")
    expect_error(aelib.TrainingDivergedError, lambda: model.fit(X_FONT, epochs=200, lr=0.1),
                 "^training collapsed: all 27 samples end with the same code", "decoded alike",
                 "every ReLU unit of the encoder's code outputs 0", "smaller lr")


def test_saturated_units_that_give_one_code_stop_training_too():
    model = aelib.Autoencoder([35, 30, 20, 2], seed=0)
    expect_error(aelib.TrainingDivergedError, lambda: model.fit(X_FONT, epochs=300, lr=0.3),
                 "^training collapsed", "saturated")


def test_one_code_for_identical_samples_is_no_collapse():
    model = aelib.Autoencoder([35, 4, 2], seed=0, latent_activation="relu")
    model.fit(np.repeat(X_FONT[:1], 5, axis=0), epochs=3, lr=0.01)
    model.fit(X_FONT[:1], epochs=3, lr=0.01)


def test_the_rules_leave_a_healthy_run_alone():
    model = aelib.Autoencoder([35, 30, 20, 2], seed=0)
    history = model.fit(X_FONT, epochs=300, lr=3e-3, noise=functools.partial(aelib.salt_and_pepper, p=0.1))
    assert history[-1] < history[0]


def noise_that_writes(value):
    def noise(X, p, rng):
        return np.where(rng.random(X.shape) < p, value, X)
    return noise


@pytest.mark.parametrize("check, value, printed", [
    (aelib.checks.denoising.check_salt_and_pepper, 1.0000001, "1.0000001"),
    (aelib.checks.denoising.check_masking_noise, 1e-9, "1e-09"),
])
def test_exercise_checks_print_a_wrong_pixel_with_the_digits_that_make_it_wrong(check, value, printed):
    message = expect_error(aelib.checks.feedback.CheckFailed, lambda: check(noise_that_writes(value)),
                           "the grey pixel X")
    assert re.search(rf"went from 0\.\d+ to {re.escape(printed)}\.", " ".join(message.split())), message


# --- Sparse codes, the toy model, classes and likelihoods ------------------------------------------

A_CODES = np.random.default_rng(1).normal(size=(5, 6))
X_UNIT = np.random.default_rng(2).random((6, 8))
VAE_8 = aelib.VAE([8, 4, 2], seed=0)
CVAE_8 = aelib.ConditionalVAE([8, 4, 2], 3, seed=0)
NEWER_MISTAKES = [
    # (call, exception, pieces of the message): mistakes numpy would report deep inside, or answer wrongly
    (lambda: aelib.sparse.top_k_relu(A_CODES, 0), ValueError, ["^k must be an integer from 1 to n_latent = 6", "k=0"]),
    (lambda: aelib.sparse.top_k_relu(A_CODES, -1), ValueError, ["^k must be an integer from 1 to n_latent = 6"]),
    (lambda: aelib.sparse.top_k_relu(A_CODES, 7), ValueError, ["^k must be an integer from 1 to n_latent = 6"]),
    (lambda: aelib.sparse.top_k_relu(A_CODES, 2.5), TypeError, ["^k must be an integer"]),
    (lambda: aelib.sparse.top_k_relu(A_CODES[0], 2), ValueError, [r"^A must be 2-D \(n_samples, n_latent\)"]),
    (lambda: aelib.ToyModel(5, 2, importance=[1, [1, 2], 1, 1, 1]), ValueError, ["^importance must be None or 5"]),
    (lambda: aelib.softmax(np.zeros(4)), ValueError, [r"^A must be 2-D \(n_samples, n_classes\)", r"reshape\(1, -1\)"]),
    (lambda: aelib.softmax("ab"), TypeError, ["^A must be a 2-D array of logits"]),
    (lambda: aelib.softmax(np.zeros((3, 0))), ValueError, ["^A must be 2-D", "at least one class"]),
    (lambda: aelib.likelihoods.log_density(np.zeros((3, 4)), np.zeros((2, 4)), "bernoulli"), ValueError,
     [r"^X must have the shape of A \(3, 4\)", r"got \(2, 4\)"]),
    (lambda: aelib.likelihoods.log_density(np.zeros((3, 4)), np.full((3, 4), 2.0), "bernoulli"), ValueError,
     [r"^X must lie in \[0, 1\]", "from 2 to 2"]),
    (lambda: aelib.likelihoods.log_density(np.zeros((3, 4)), np.full((3, 4), np.nan), "bernoulli"), ValueError,
     [r"^X must lie in \[0, 1\]", "nan"]),
    (lambda: aelib.likelihoods.continuous_bernoulli_mean("a"), TypeError, ["^A must be an array of logits"]),
    (lambda: VAE_8.loss_and_grads(X_UNIT, np.full((6, 2), np.nan)), ValueError, ["^eps must contain only finite", "12 NaN"]),
    (lambda: CVAE_8.loss_and_grads(X_UNIT, np.arange(6) % 3, np.full((6, 2), np.inf)), ValueError,
     ["^eps must contain only finite", "12 infinite"]),
    (lambda: VAE_8.loss_and_grads(X_UNIT, "abc"), TypeError, ["^eps must be an array of real numbers"]),
    (lambda: CVAE_8.encode(X_UNIT, [0, 1, np.inf, 2, 0, 1]), ValueError, ["^y must hold whole numbers", "e.g. inf"]),
    (lambda: aelib.vae.active_units(np.ones((1, 3))), ValueError, ["^mu must hold the codes of at least 2 samples"]),
]


@pytest.mark.parametrize("call, kind, pieces", NEWER_MISTAKES, ids=range(len(NEWER_MISTAKES)))
def test_the_sparse_and_honest_vae_functions_name_the_argument_that_does_not_fit(call, kind, pieces):
    expect_error(kind, call, *pieces)


def test_top_k_relu_keeps_k_entries_of_any_row_up_to_its_width():
    for k in (1, 6):
        Z = aelib.sparse.top_k_relu(A_CODES, k)
        assert np.all(np.count_nonzero(Z, axis=1) <= k)
    np.testing.assert_array_equal(aelib.sparse.top_k_relu(A_CODES, 6), np.maximum(A_CODES, 0.0))


def test_feature_recovery_finds_a_direction_however_long_or_short_its_rows():
    # Squared entries of 1e200 overflow and of 1e-200 underflow: the norms would come out inf (every
    # |cos| 0) or 0 (a "zero row"), though every row points exactly along a true direction.
    T = aelib.random_directions(4, 8, rng=0)
    for scale in (1e200, 1e-200):
        np.testing.assert_allclose(aelib.feature_recovery(T, T * scale), 1.0, rtol=1e-12)
        np.testing.assert_allclose(aelib.feature_recovery(T * scale, T), 1.0, rtol=1e-12)


def test_integer_logits_give_the_results_of_the_same_float_logits():
    # Results cast back to the logits' integer dtype would be rounded: a mean of 0 for every logit.
    integers = np.array([-3, 0, 1, 2])
    for function in (aelib.likelihoods.continuous_bernoulli_mean, aelib.likelihoods.continuous_bernoulli_variance,
                     aelib.likelihoods.continuous_bernoulli_log_normalizer,
                     aelib.likelihoods.continuous_bernoulli_log_partition, aelib.likelihoods.softplus):
        np.testing.assert_array_equal(function(integers), function(integers.astype(np.float64)))
    float32 = aelib.likelihoods.continuous_bernoulli_mean(np.float32([0.5, 3.0]))
    assert float32.dtype == np.float32
