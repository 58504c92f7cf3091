"""aelib.SparseAutoencoder: its gradient, its invariants, saving, bad input, and what training finds.

What it must reach: on problems of the chapter's kind (n sparse features, each active with
probability p of 0.04-0.05, stored in d < n dimensions as the toy model's directions or as random
unit directions), SparseAutoencoder(d, 2n, k=...) fit with fit(X, epochs=50, lr=3e-3,
batch_size=1024) on 60,000 samples recovers at least 95% of the true directions at |cos| > 0.9,
where PCA recovers less than 10%.
"""
import numpy as np
import pytest

import aelib
from aelib.sparse import top_k_relu
from aelib.training import run_epochs

# Gradient checks: TopK and L1 SAEs of several shapes, with weights moved off their
# initialisation (zero biases and an encoder equal to the decoder's transpose could hide a
# mistake in a term that vanishes there).
GRADIENT_CASES = [
    pytest.param(5, 12, {"k": 3}, id="topk-3"),
    pytest.param(4, 9, {"k": 1}, id="topk-1"),
    pytest.param(6, 8, {"k": 8}, id="topk-all"),
    pytest.param(5, 12, {"l1": 0.3}, id="l1"),
    pytest.param(3, 7, {"l1": 0.0}, id="l1-zero"),
]


def shifted_model(n_features, n_latent, rng, **rule):
    sae = aelib.SparseAutoencoder(n_features, n_latent, seed=1, **rule)
    for param in sae.params:
        param[...] += rng.normal(0.0, 0.2, param.shape)
    return sae


@pytest.mark.parametrize("n_features, n_latent, rule", GRADIENT_CASES)
def test_loss_and_grads_match_central_differences(gradients, n_features, n_latent, rule):
    rng = np.random.default_rng(0)
    sae = shifted_model(n_features, n_latent, rng, **rule)
    X = rng.normal(size=(7, n_features))
    _, grads = sae.loss_and_grads(X)
    assert [grad.shape for grad in grads] == [param.shape for param in sae.params]
    codes = sae.encode(X)
    # Enough active latents for every term of the gradient to be tested.
    assert np.count_nonzero(codes) >= X.shape[0]
    for name, param, grad in zip(sae.param_names, sae.params, grads):
        gradients.assert_close(lambda: sae.loss_and_grads(X)[0], param, grad, f"{sae!r}, {name}")


def test_gradient_check_of_aelib_passes_and_fails_on_a_wrong_gradient():
    rng = np.random.default_rng(1)
    sae = shifted_model(6, 10, rng, k=2)
    X = rng.normal(size=(9, 6))
    _, grads = sae.loss_and_grads(X)
    check = aelib.gradient_check(lambda: sae.loss_and_grads(X)[0], sae.params, grads, names=sae.param_names)
    assert check.passed(1e-7), str(check)
    # b_dec is used twice (output and encoder input): dropping the encoder's path must fail.
    wrong = list(grads)
    wrong[3] = wrong[3] + sae.params[0] @ grads[1]
    assert not aelib.gradient_check(lambda: sae.loss_and_grads(X)[0], sae.params, wrong).passed(1e-3)


def test_loss_is_the_squared_error_per_sample_plus_the_l1_penalty():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(11, 5))
    for rule, penalty in (({"k": 2}, 0.0), ({"l1": 0.7}, 0.7)):
        sae = shifted_model(5, 9, rng, **rule)
        Z = sae.encode(X)
        expected = np.mean(np.sum((sae.decode(Z) - X) ** 2, axis=1)) + penalty * np.mean(Z.sum(axis=1))
        assert sae.loss_and_grads(X)[0] == pytest.approx(expected, rel=1e-12)


def test_encode_computes_the_formula_with_the_decoder_bias_subtracted():
    rng = np.random.default_rng(3)
    sae = shifted_model(4, 6, rng, l1=1.0)
    W_enc, b_enc, W_dec, b_dec = sae.params
    X = rng.normal(size=(5, 4))
    np.testing.assert_allclose(sae.encode(X), np.maximum((X - b_dec) @ W_enc + b_enc, 0), rtol=1e-13)
    np.testing.assert_allclose(sae.decode(sae.encode(X)), sae.encode(X) @ W_dec + b_dec, rtol=1e-13)
    np.testing.assert_array_equal(sae.reconstruct(X), sae.decode(sae.encode(X)))


# The TopK selection.

def test_top_k_keeps_the_k_largest_entries_of_each_row_and_applies_the_relu():
    A = np.array([[3.0, -1.0, 2.0, 0.5], [-3.0, -1.0, -2.0, -0.5], [0.1, 0.4, -0.2, 0.3]])
    np.testing.assert_array_equal(top_k_relu(A, 2), [[3, 0, 2, 0], [0, 0, 0, 0], [0, 0.4, 0, 0.3]])
    np.testing.assert_array_equal(top_k_relu(A, 4), np.maximum(A, 0))
    np.testing.assert_array_equal(top_k_relu(A, 1), [[3, 0, 0, 0], [0, 0, 0, 0], [0, 0.4, 0, 0]])


def test_top_k_keeps_exactly_k_entries_when_values_tie():
    A = np.array([[1.0, 1.0, 1.0, 0.5], [2.0, 2.0, 2.0, 2.0], [1.0, 3.0, 1.0, 1.0]])
    Z = top_k_relu(A, 2)
    assert np.count_nonzero(Z, axis=1).tolist() == [2, 2, 2]
    assert Z[2, 1] == 3.0 and np.isin(Z, [0.0, 1.0, 2.0, 3.0]).all()


@pytest.mark.parametrize("k", [1, 2, 5, 16])
def test_codes_are_non_negative_with_at_most_k_non_zeros(k):
    rng = np.random.default_rng(k)
    sae = aelib.SparseAutoencoder(8, 16, k=k, seed=0)
    X = rng.normal(size=(200, 8))
    sae.fit(X, epochs=3, lr=1e-2, batch_size=64)
    Z = sae.encode(X)
    assert Z.shape == (200, 16) and Z.min() >= 0
    assert np.count_nonzero(Z, axis=1).max() <= k
    # With zero-mean data about half the pre-activations are positive, so most rows keep k
    # positive entries when k is at most a quarter of the latents.
    if 4 * k <= 16:
        assert np.mean(np.count_nonzero(Z, axis=1) == k) > 0.5


def test_l1_codes_are_the_relu_of_the_preactivations():
    rng = np.random.default_rng(4)
    sae = shifted_model(5, 20, rng, l1=0.1)
    X = rng.normal(size=(50, 5))
    Z = sae.encode(X)
    assert Z.min() >= 0 and np.count_nonzero(Z, axis=1).max() > 5


# The unit-norm dictionary.

def test_a_new_dictionary_has_unit_rows_and_the_encoder_is_its_transpose():
    sae = aelib.SparseAutoencoder(7, 20, k=3, seed=5)
    np.testing.assert_allclose(np.linalg.norm(sae.dictionary, axis=1), 1.0, rtol=1e-14)
    np.testing.assert_array_equal(sae.params[0], sae.dictionary.T)
    assert not np.any(sae.params[1]) and not np.any(sae.params[3])


@pytest.mark.parametrize("rule", [{"k": 2}, {"l1": 2.0}])
def test_fit_keeps_the_dictionary_at_unit_norm_after_every_step(rule):
    rng = np.random.default_rng(6)
    X = rng.normal(1.0, 2.0, size=(300, 6))
    sae = aelib.SparseAutoencoder(6, 12, seed=0, **rule)
    norms = []
    original = sae._normalise_dictionary

    def record():
        original()
        norms.append(np.linalg.norm(sae.params[2], axis=1))
    sae._normalise_dictionary = record
    sae.fit(X, epochs=4, lr=3e-2, batch_size=50)
    assert len(norms) == 4 * 6
    np.testing.assert_allclose(norms, 1.0, rtol=1e-14)
    # The rows moved: the constraint holds while the dictionary learns.
    assert np.min(np.sum(sae.dictionary * aelib.SparseAutoencoder(6, 12, seed=0, **rule).dictionary, axis=1)) < 0.99


def test_fit_removes_the_radial_part_of_the_dictionary_gradient_before_each_step():
    rng = np.random.default_rng(7)
    X = rng.normal(size=(64, 5))
    sae = aelib.SparseAutoencoder(5, 10, l1=0.5, seed=0)
    seen = []

    class Recorder(aelib.SGD):
        def step(self, params, grads):
            W_dec = sae.params[2]
            seen.append(np.abs(np.sum(sae.grads[2] * W_dec, axis=1)).max() / np.abs(sae.grads[2]).max())
            super().step(params, grads)
    sae.fit(X, epochs=3, batch_size=16, optimizer=Recorder(lr=0.05))
    assert len(seen) == 12 and max(seen) < 1e-12


def test_loss_and_grads_returns_the_plain_gradient_with_its_radial_part():
    rng = np.random.default_rng(8)
    sae = shifted_model(5, 10, rng, l1=0.5)
    sae._normalise_dictionary()
    _, grads = sae.loss_and_grads(rng.normal(size=(20, 5)))
    assert np.abs(np.sum(grads[2] * sae.params[2], axis=1)).max() > 1e-3


def test_without_unit_norm_the_l1_penalty_is_dodged_by_scaling():
    # The reason for the constraint: scaling codes down and directions up keeps the reconstruction
    # and shrinks the penalty.
    rng = np.random.default_rng(9)
    sae = shifted_model(5, 10, rng, l1=1.0)
    X = rng.normal(size=(30, 5))
    before = sae.loss_and_grads(X)[0]
    W_enc, b_enc, W_dec, _ = sae.params
    W_enc /= 2
    b_enc /= 2
    W_dec *= 2
    after = sae.loss_and_grads(X)[0]
    penalty = np.mean(sae.encode(X).sum(axis=1))
    assert after == pytest.approx(before - penalty, rel=1e-10) and penalty > 0


def test_the_first_fit_starts_the_decoder_bias_at_the_data_mean_and_later_fits_keep_it(tmp_path):
    rng = np.random.default_rng(10)
    X = rng.normal(5.0, 1.0, size=(100, 4))
    sae = aelib.SparseAutoencoder(4, 8, k=2, seed=0)
    sae.fit(X, epochs=1, lr=1e-12)
    np.testing.assert_allclose(sae.params[3], X.mean(axis=0), atol=1e-9)
    sae.params[3][...] = 1.0
    sae.fit(X, epochs=1, lr=1e-12)
    np.testing.assert_allclose(sae.params[3], 1.0, atol=1e-9)
    sae.save(tmp_path / "sae.npz")
    loaded = aelib.SparseAutoencoder.load(tmp_path / "sae.npz")
    loaded.fit(X, epochs=1, lr=1e-12)
    np.testing.assert_allclose(loaded.params[3], 1.0, atol=1e-9)


def test_centre_false_leaves_the_decoder_bias_at_zero_and_the_model_no_longer_new():
    X = np.random.default_rng(12).normal(5.0, 1.0, size=(100, 4))
    sae = aelib.SparseAutoencoder(4, 8, k=2, seed=0)
    sae.fit(X, epochs=1, lr=1e-12, centre=False)
    np.testing.assert_allclose(sae.params[3], 0.0, atol=1e-9)
    sae.fit(X, epochs=1, lr=1e-12)  # not new any more: a later fit does not centre either
    np.testing.assert_allclose(sae.params[3], 0.0, atol=1e-9)


@pytest.mark.parametrize("centre", ["yes", 1, None])
def test_centre_must_be_true_or_false(centre):
    sae = aelib.SparseAutoencoder(4, 8, k=2, seed=0)
    with pytest.raises(TypeError, match="centre must be True or False"):
        sae.fit(np.ones((10, 4)), epochs=1, lr=1e-3, centre=centre)
    assert not np.any(sae.params[3])


def test_a_fit_refused_for_its_arguments_leaves_a_new_model_new():
    X = np.random.default_rng(11).normal(3.0, 1.0, size=(20, 4))
    sae = aelib.SparseAutoencoder(4, 8, k=2, seed=0)
    with pytest.raises(ValueError, match="lr"):
        sae.fit(X, epochs=1, lr=-1.0)
    assert not np.any(sae.params[3])
    sae.fit(X, epochs=1, lr=1e-12)
    np.testing.assert_allclose(sae.params[3], X.mean(axis=0), atol=1e-9)


# The per-step hook of the training loop.

def test_run_epochs_calls_after_step_once_after_every_optimizer_step():
    events = []
    params, grads = (np.zeros(3),), (np.ones(3),)

    class Logged(aelib.SGD):
        def step(self, params, grads):
            events.append("step")
            super().step(params, grads)

    def step(X_batch, _target):
        events.append("loss")
        return (1.0,)
    run_epochs(step, np.zeros((10, 2)), params, grads, epochs=2, lr=None, batch_size=4, optimizer=Logged(lr=0.1),
               rng=np.random.default_rng(0), after_step=lambda: events.append("after"))
    assert events == ["loss", "step", "after"] * 6


def test_run_epochs_refuses_an_after_step_that_is_not_a_function():
    with pytest.raises(TypeError, match="after_step"):
        run_epochs(lambda X, T: (1.0,), np.zeros((4, 2)), (np.zeros(1),), (np.zeros(1),), epochs=1, lr=0.1,
                   batch_size=None, optimizer="sgd", rng=np.random.default_rng(0), after_step=3)


# Saving and loading.

@pytest.mark.parametrize("rule", [{"k": 3}, {"l1": 0.25}])
def test_save_load_round_trip_gives_the_same_model(tmp_path, rule):
    rng = np.random.default_rng(12)
    X = rng.normal(size=(40, 6))
    sae = aelib.SparseAutoencoder(6, 14, seed=4, **rule)
    sae.fit(X, epochs=2, lr=1e-2, batch_size=16)
    sae.save(tmp_path / "sae.npz")
    loaded = aelib.SparseAutoencoder.load(tmp_path / "sae.npz")
    assert repr(loaded) == repr(sae) and loaded.config == sae.config
    for a, b in zip(loaded.params, sae.params):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(loaded.encode(X), sae.encode(X))


def test_float32_model_saves_and_loads_as_float32(tmp_path):
    sae = aelib.SparseAutoencoder(5, 10, k=2, seed=0, dtype="float32")
    X = np.random.default_rng(13).normal(size=(30, 5))
    sae.fit(X, epochs=2, lr=1e-2, batch_size=8)
    assert all(param.dtype == np.float32 for param in sae.params) and sae.encode(X).dtype == np.float32
    sae.save(tmp_path / "sae32.npz")
    assert aelib.SparseAutoencoder.load(tmp_path / "sae32.npz").params[0].dtype == np.float32


def test_load_refuses_a_file_of_another_model(tmp_path):
    aelib.Autoencoder([6, 3], seed=0).save(tmp_path / "ae.npz")
    with pytest.raises(ValueError, match="SparseAutoencoder"):
        aelib.SparseAutoencoder.load(tmp_path / "ae.npz")


def test_same_seed_same_training_different_seed_different_dictionary():
    X = np.random.default_rng(14).normal(size=(64, 5))
    models = [aelib.SparseAutoencoder(5, 10, k=2, seed=seed) for seed in (0, 0, 1)]
    for model in models:
        model.fit(X, epochs=2, lr=1e-2, batch_size=16)
    np.testing.assert_array_equal(models[0].dictionary, models[1].dictionary)
    assert not np.allclose(models[0].dictionary, models[2].dictionary)


# Bad input is refused with a message that names the argument.

@pytest.mark.parametrize("args, kwargs, error, message", [
    ((10, 20), {}, ValueError, "exactly one of k .* got neither"),
    ((10, 20), {"k": 2, "l1": 0.1}, ValueError, "exactly one of k .* got both"),
    ((10, 20), {"k": 21}, ValueError, "k must be at most n_latent = 20"),
    ((10, 20), {"k": 0}, ValueError, "k must be an integer >= 1"),
    ((10, 20), {"k": 2.0}, TypeError, "k must be an integer"),
    ((10, 20), {"k": True}, TypeError, "k must be an integer"),
    ((10, 20), {"l1": -0.1}, ValueError, "l1 must be a number >= 0"),
    ((10, 20), {"l1": float("nan")}, ValueError, "l1 must be a number >= 0"),
    ((10, 20), {"l1": "0.1"}, TypeError, "l1 must be a number"),
    ((0, 20), {"k": 2}, ValueError, "n_features must be an integer >= 1"),
    ((10, 2.5), {"k": 2}, TypeError, "n_latent must be an integer"),
    ((10, 20), {"k": 2, "seed": -1}, ValueError, "seed"),
    ((10, 20), {"k": 2, "dtype": "float16"}, ValueError, "dtype"),
])
def test_bad_hyperparameters_are_refused_with_the_arguments_name(args, kwargs, error, message):
    with pytest.raises(error, match=message):
        aelib.SparseAutoencoder(*args, **kwargs)


def test_bad_data_is_refused_with_the_arguments_name():
    sae = aelib.SparseAutoencoder(4, 8, k=2, seed=0)
    X = np.ones((5, 4))
    with pytest.raises(ValueError, match="X must have 4 features"):
        sae.encode(np.ones((5, 3)))
    with pytest.raises(ValueError, match="X must have 4 features"):
        sae.fit(np.ones((5, 5)), epochs=1, lr=1e-3)
    with pytest.raises(ValueError, match="Z must have 8 features"):
        sae.decode(np.ones((5, 4)))
    X[2, 1] = np.nan
    for call in (sae.encode, sae.reconstruct, sae.loss_and_grads, lambda X: sae.fit(X, epochs=1, lr=1e-3)):
        with pytest.raises(ValueError, match="X must contain only finite numbers"):
            call(X)
    with pytest.raises(ValueError, match="2-D"):
        sae.encode(np.ones(4))
    with pytest.raises(TypeError, match="real numbers"):
        sae.encode(np.full((2, 4), "a"))


def test_training_on_its_own_weights_does_not_corrupt_the_data():
    sae = aelib.SparseAutoencoder(8, 8, l1=0.1, seed=0)
    X = sae.params[0]
    copy = X.copy()
    sae.fit(X, epochs=2, lr=1e-2)
    assert np.isfinite(sae.params[0]).all()
    assert not np.array_equal(sae.params[0], copy)


def test_a_diverging_fit_stops_with_an_explanation():
    X = np.random.default_rng(15).normal(size=(64, 5))
    with pytest.raises(aelib.TrainingDivergedError, match="learning rate"):
        aelib.SparseAutoencoder(5, 10, l1=0.1, seed=0).fit(X, epochs=20, lr=1e6, optimizer="sgd")


# What training finds. Each problem is drawn afresh from its own seed (none of them is the
# chapter's): n sparse features with p = 0.04-0.05, stored as the directions of a trained toy
# model or as random unit directions, and the call of the chapter. Over seeds 100-107 of each
# problem the SAE found every true direction at |cos| > 0.9 but for at most one (so at least
# 97% where 95% is asserted) and PCA at most 2 of 30-60 (7% where < 10% is asserted); the seeds
# below are not among those. Training is deterministic for a seed, so the test cannot fail by
# chance; the margins are what keep it from failing on another machine's arithmetic.

def recovery_problem(kind, n, d, p, seed):
    rng = np.random.default_rng([seed, 1])
    if kind == "toy model":
        toy = aelib.ToyModel(n, d, seed=seed)
        toy.fit(aelib.sparse_features(20000, n, p, rng), epochs=250, lr=3e-3, batch_size=1024)
        directions = toy.directions
    else:
        directions = aelib.random_directions(n, d, rng)
    return directions, aelib.sparse_features(60000, n, p, rng) @ directions


@pytest.mark.training
@pytest.mark.parametrize("kind, n, d, p, k, seed", [
    pytest.param("toy model", 30, 8, 0.05, 2, 7, id="toy-30-in-8"),
    pytest.param("random", 50, 12, 0.04, 2, 8, id="random-50-in-12"),
    pytest.param("random", 60, 16, 0.05, 3, 9, id="random-60-in-16"),
])
def test_topk_sae_recovers_95_percent_of_the_true_directions_where_pca_finds_under_10(kind, n, d, p, k, seed):
    directions, X = recovery_problem(kind, n, d, p, seed)
    sae = aelib.SparseAutoencoder(d, 2 * n, k=k, seed=seed)
    sae.fit(X, epochs=50, lr=3e-3, batch_size=1024)
    found = np.sum(aelib.feature_recovery(directions, sae.dictionary) > 0.9)
    pca_found = np.sum(aelib.feature_recovery(directions, aelib.PCA(d).fit(X).components) > 0.9)
    assert found >= 0.95 * n, f"the SAE found {found} of {n} directions"
    assert pca_found < 0.1 * n, f"PCA found {pca_found} of {n} directions"
    np.testing.assert_allclose(np.linalg.norm(sae.dictionary, axis=1), 1.0, rtol=1e-12)
    assert np.count_nonzero(sae.encode(X[:2000]), axis=1).max() <= k


def test_load_is_called_on_the_class_and_checks_the_file_before_building(tmp_path):
    sae = aelib.SparseAutoencoder(4, 8, k=2, seed=0)
    sae.save(tmp_path / "sae.npz")
    with pytest.raises(TypeError, match=r"SparseAutoencoder.load\(path\)"):
        sae.load(tmp_path / "sae.npz")
    # A configuration altered to claim another architecture is refused before anything is built.
    with np.load(tmp_path / "sae.npz") as archive:
        entries = dict(archive)
    entries["config"] = np.array(str(entries["config"]).replace('"n_latent": 8', '"n_latent": 100000'))
    np.savez(tmp_path / "altered.npz", **entries)
    with pytest.raises(ValueError, match="weight array 0 has shape"):
        aelib.SparseAutoencoder.load(tmp_path / "altered.npz")
