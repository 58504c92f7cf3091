"""aelib.VAE: the hand-derived gradient, the KL divergence, shapes, saving, determinism, and what
training on the emojis reaches.

What it must reach (the chapter's call, VAE([144, 64, 2], seed=0).fit(E, epochs=3000, lr=3e-3)):
- decoding each emoji's mean gets at least 95% of its pixels right (after rounding at 0.5);
- a 15 x 15 grid over [-2, 2]^2 of the latent plane decodes to at least 20 distinct images with
  8 to 136 ink pixels that are 4 or more pixels away from every training emoji.
"""
import numpy as np
import pytest

import aelib
from aelib.vae import kl_divergence, kl_divergence_grads, reparametrize

THRESHOLD = 0.5


def random_binary(rng, n_samples, n_features):
    return (rng.random((n_samples, n_features)) < 0.4).astype(float)


def shift_off_initialisation(vae, rng):
    """Move every weight and bias away from its initial value.

    At initialisation the biases are 0 and logvar is close to 0, where the KL gradient
    (exp(logvar) - 1) / 2 nearly vanishes; a mistake in it could hide there.
    """
    for param in vae.params:
        param += rng.normal(scale=0.3, size=param.shape)


# The gradient.

GRADIENT_CASES = [
    pytest.param([144, 16, 2], "tanh", 1.0, id="emoji-size-tanh-beta1"),
    pytest.param([144, 16, 2], "tanh", 2.5, id="emoji-size-tanh-beta2.5"),
    pytest.param([144, 16, 2], "tanh", 0.0, id="emoji-size-tanh-beta0"),
    pytest.param([20, 2], "tanh", 1.0, id="no-hidden-layer"),
    pytest.param([20, 12, 8, 3], "tanh", 0.5, id="two-hidden-layers-3d-latent"),
    pytest.param([20, 10, 2], "sigmoid", 4.0, id="sigmoid-beta4"),
    pytest.param([20, 10, 2], "relu", 1.0, id="relu"),
    pytest.param([20, 10, 1], "tanh", 1.0, id="1d-latent"),
]


@pytest.mark.parametrize("sizes, activation, beta", GRADIENT_CASES)
def test_loss_and_grads_match_central_differences(gradients, sizes, activation, beta):
    rng = np.random.default_rng(7)
    vae = aelib.VAE(sizes, activation=activation, seed=3)
    shift_off_initialisation(vae, rng)
    X = random_binary(rng, 5, sizes[0])
    eps = rng.standard_normal((5, sizes[-1]))
    _, grads = vae.loss_and_grads(X, eps, beta=beta)
    assert len(grads) == len(vae.params)

    def loss():
        return vae.loss_and_grads(X, eps, beta=beta)[0]

    for index, (param, grad) in enumerate(zip(vae.params, grads)):
        assert grad.shape == param.shape
        gradients.assert_close(loss, param, grad, f"VAE({sizes}, {activation}), beta={beta}, array {index}")


def test_gradient_check_of_the_chapter_passes_with_targets_in_between_0_and_1(gradients):
    # Soft targets (grey pixels) are valid data for the cross-entropy; the gradient must hold there too.
    rng = np.random.default_rng(8)
    vae = aelib.VAE([30, 8, 2], seed=0)
    shift_off_initialisation(vae, rng)
    X = rng.random((4, 30))
    eps = rng.standard_normal((4, 2))
    _, grads = vae.loss_and_grads(X, eps, beta=1.5)
    result = aelib.gradient_check(lambda: vae.loss_and_grads(X, eps, beta=1.5)[0], vae.params, grads)
    assert result.max_error < 1e-6, str(result)


def test_loss_and_grads_does_not_change_the_weights_or_reuse_its_arrays():
    rng = np.random.default_rng(9)
    vae = aelib.VAE([20, 6, 2], seed=0)
    X, eps = random_binary(rng, 4, 20), rng.standard_normal((4, 2))
    before = [param.copy() for param in vae.params]
    _, first = vae.loss_and_grads(X, eps)
    _, second = vae.loss_and_grads(X[:2], eps[:2])
    assert all(np.array_equal(a, b) for a, b in zip(before, vae.params))
    assert not any(np.array_equal(a, b) for a, b in zip(first, second))


# The loss itself: the cross-entropy summed over pixels, plus beta * KL, averaged over the batch.

def expected_loss(vae, X, eps, beta):
    mu, logvar = vae.encode(X)
    X_hat = vae.decode(mu + np.exp(0.5 * logvar) * eps)
    bce = -np.sum(X * np.log(X_hat) + (1 - X) * np.log(1 - X_hat), axis=1)
    kl = 0.5 * np.sum(mu ** 2 + np.exp(logvar) - logvar - 1, axis=1)
    return np.mean(bce + beta * kl)


@pytest.mark.parametrize("beta", [0.0, 1.0, 3.0])
def test_loss_is_the_summed_cross_entropy_plus_beta_kl(beta):
    rng = np.random.default_rng(10)
    vae = aelib.VAE([144, 16, 2], seed=1)
    X, eps = random_binary(rng, 6, 144), rng.standard_normal((6, 2))
    loss, _ = vae.loss_and_grads(X, eps, beta=beta)
    assert loss == pytest.approx(expected_loss(vae, X, eps, beta), rel=1e-10)
    # Summed over 144 pixels, the reconstruction of an untrained model is near 144 log 2 ~ 100, not ~0.7.
    assert loss > 50


def test_loss_is_a_mean_over_the_batch():
    rng = np.random.default_rng(11)
    vae = aelib.VAE([20, 6, 2], seed=0)
    X, eps = random_binary(rng, 3, 20), rng.standard_normal((3, 2))
    loss, grads = vae.loss_and_grads(X, eps)
    loss_twice, grads_twice = vae.loss_and_grads(np.vstack([X, X]), np.vstack([eps, eps]))
    assert loss_twice == pytest.approx(loss, rel=1e-12)
    for grad, grad_twice in zip(grads, grads_twice):
        np.testing.assert_allclose(grad_twice, grad, rtol=1e-10, atol=1e-14)


def test_fit_reports_the_two_terms_of_the_loss():
    E, _ = aelib.load_emojis()
    vae = aelib.VAE([144, 16, 2], seed=0)
    history = vae.fit(E, epochs=5, lr=1e-3, beta=2.0)
    assert set(history) == {"loss", "reconstruction", "kl"}
    assert all(len(values) == 5 for values in history.values())
    for loss, reconstruction, kl in zip(history["loss"], history["reconstruction"], history["kl"]):
        assert loss == pytest.approx(reconstruction + 2.0 * kl)
        assert kl >= 0


# The KL divergence and the reparametrization.

def test_kl_divergence_matches_a_monte_carlo_estimate():
    rng = np.random.default_rng(12)
    mu = np.array([[0.0, 0.0], [1.0, -0.5], [-2.0, 0.3]])
    logvar = np.array([[0.0, 0.0], [-1.0, 0.5], [0.8, -2.0]])
    n_draws = 400_000
    for mu_row, logvar_row, kl in zip(mu, logvar, kl_divergence(mu, logvar)):
        std = np.exp(0.5 * logvar_row)
        eps = rng.standard_normal((n_draws, 2))
        z = mu_row + std * eps
        # log q(z) - log p(z) for q = N(mu, std^2), p = N(0, I); the 2 pi terms cancel.
        log_ratio = np.sum(-0.5 * logvar_row - 0.5 * eps ** 2 + 0.5 * z ** 2, axis=1)
        standard_error = log_ratio.std() / np.sqrt(n_draws)
        assert abs(log_ratio.mean() - kl) < 5 * standard_error + 1e-12


def test_kl_divergence_is_zero_only_at_the_prior_and_positive_elsewhere():
    rng = np.random.default_rng(13)
    assert kl_divergence(np.zeros((3, 4)), np.zeros((3, 4))) == pytest.approx(np.zeros(3))
    mu, logvar = rng.normal(size=(50, 3)), rng.normal(size=(50, 3))
    assert np.all(kl_divergence(mu, logvar) > 0)
    assert kl_divergence(mu, logvar).shape == (50,)


def test_kl_divergence_grads_match_central_differences(gradients):
    rng = np.random.default_rng(14)
    mu, logvar = rng.normal(size=(4, 3)), rng.normal(size=(4, 3))
    dmu, dlogvar = kl_divergence_grads(mu, logvar)
    gradients.assert_close(lambda: kl_divergence(mu, logvar).sum(), mu, dmu, "dKL/dmu")
    gradients.assert_close(lambda: kl_divergence(mu, logvar).sum(), logvar, dlogvar, "dKL/dlogvar")


def test_reparametrize_has_the_mean_and_variance_of_the_encoder_gaussian():
    rng = np.random.default_rng(15)
    mu, logvar = np.array([[1.5, -2.0]]), np.array([[np.log(0.25), np.log(4.0)]])
    Z = reparametrize(mu, logvar, rng.standard_normal((200_000, 2)))
    np.testing.assert_allclose(Z.mean(axis=0), mu[0], atol=0.02)
    np.testing.assert_allclose(Z.std(axis=0), [0.5, 2.0], rtol=0.01)


# Shapes.

@pytest.fixture(scope="module")
def emojis():
    return aelib.load_emojis()


def test_encode_decode_sample_and_reconstruct_shapes(emojis):
    E, _ = emojis
    vae = aelib.VAE([144, 64, 2], seed=0)
    mu, logvar = vae.encode(E)
    assert mu.shape == logvar.shape == (32, 2)
    assert vae.decode(np.zeros((7, 2))).shape == (7, 144)
    assert vae.reconstruct(E).shape == (32, 144)
    samples = vae.sample(50, rng=np.random.default_rng(0))
    assert samples.shape == (50, 144)
    assert np.all((samples > 0) & (samples < 1))
    assert vae.n_features == 144 and vae.n_latent == 2


def test_shapes_with_other_sizes():
    vae = aelib.VAE([35, 12, 8, 3], activation="relu", seed=0)
    mu, logvar = vae.encode(np.zeros((4, 35)))
    assert mu.shape == logvar.shape == (4, 3)
    assert vae.decode(np.zeros((2, 3))).shape == (2, 35)
    assert vae.sample(1, rng=0).shape == (1, 35)
    assert [p.shape for p in vae.params] == [(35, 12), (12,), (12, 8), (8,), (8, 6), (6,),
                                             (3, 8), (8,), (8, 12), (12,), (12, 35), (35,)]


def test_encode_returns_independent_arrays(emojis):
    E, _ = emojis
    vae = aelib.VAE([144, 8, 2], seed=0)
    mu, logvar = vae.encode(E)
    mu += 100.0
    np.testing.assert_array_equal(vae.encode(E)[1], logvar)
    assert not np.allclose(vae.encode(E)[0], mu)


# Saving and loading.

def test_save_load_round_trip_gives_bit_identical_outputs(tmp_path, emojis):
    E, _ = emojis
    vae = aelib.VAE([144, 16, 2], activation="relu", seed=4)
    vae.fit(E, epochs=20, lr=3e-3)
    path = tmp_path / "vae.npz"
    vae.save(path)
    loaded = aelib.VAE.load(path)
    assert isinstance(loaded, aelib.VAE)
    assert loaded.sizes == vae.sizes and loaded.config == vae.config
    for a, b in zip(vae.params, loaded.params):
        np.testing.assert_array_equal(a, b)
    for original, copy in zip(vae.encode(E), loaded.encode(E)):
        np.testing.assert_array_equal(original, copy)
    Z = np.random.default_rng(0).standard_normal((10, 2))
    np.testing.assert_array_equal(vae.decode(Z), loaded.decode(Z))
    np.testing.assert_array_equal(vae.sample(5, rng=1), loaded.sample(5, rng=1))
    eps = np.random.default_rng(2).standard_normal((32, 2))
    assert vae.loss_and_grads(E, eps)[0] == loaded.loss_and_grads(E, eps)[0]


def test_load_refuses_an_autoencoder_file(tmp_path):
    path = tmp_path / "ae.npz"
    aelib.Autoencoder([144, 8, 2], seed=0).save(path)
    with pytest.raises(ValueError, match="ae.npz"):
        aelib.VAE.load(path)


# Determinism.

def test_same_seed_same_model_and_same_training(emojis):
    E, _ = emojis
    first, second = aelib.VAE([144, 16, 2], seed=5), aelib.VAE([144, 16, 2], seed=5)
    for a, b in zip(first.params, second.params):
        np.testing.assert_array_equal(a, b)
    history_first = first.fit(E, epochs=30, lr=3e-3, beta=1.5)
    history_second = second.fit(E, epochs=30, lr=3e-3, beta=1.5)
    assert history_first == history_second
    for a, b in zip(first.params, second.params):
        np.testing.assert_array_equal(a, b)


def test_different_seeds_differ():
    first, second = aelib.VAE([144, 16, 2], seed=0), aelib.VAE([144, 16, 2], seed=1)
    assert not np.array_equal(first.params[0], second.params[0])


def test_sample_is_reproducible_with_a_seeded_generator():
    vae = aelib.VAE([144, 16, 2], seed=0)
    np.testing.assert_array_equal(vae.sample(8, rng=np.random.default_rng(3)),
                                  vae.sample(8, rng=np.random.default_rng(3)))
    assert not np.array_equal(vae.sample(8, rng=np.random.default_rng(3)),
                              vae.sample(8, rng=np.random.default_rng(4)))


# What the chapter's training reaches.

def new_emojis_on_the_grid(vae, E, extent=(-2, 2, -2, 2), n=15):
    """The distinct thresholded grid images with 8 to 136 ink pixels, 4 or more pixels from every emoji."""
    X_grid = (vae.decode(aelib.plots.latent_grid(extent, n)) > THRESHOLD).astype(float)
    distinct = np.unique(X_grid, axis=0)
    ink = distinct.sum(axis=1)
    distance = np.abs(distinct[:, None, :] - E[None, :, :]).sum(axis=2).min(axis=1)
    return distinct, distinct[(ink >= 8) & (ink <= 136) & (distance >= 4)]


@pytest.fixture(scope="module")
def chapter_vae(emojis):
    E, _ = emojis
    vae = aelib.VAE([144, 64, 2], seed=0)
    history = vae.fit(E, epochs=3000, lr=3e-3)
    return vae, history


def test_chapter_vae_decodes_every_emoji_mean_with_95_percent_of_pixels_right(chapter_vae, emojis):
    vae, _ = chapter_vae
    E, names = emojis
    mu, _ = vae.encode(E)
    accuracy = np.mean((vae.decode(mu) > THRESHOLD) == (E > THRESHOLD), axis=1)
    worst = int(accuracy.argmin())
    assert accuracy.min() >= 0.95, f"{names[worst]}: only {accuracy[worst]:.3f} of its pixels are right"


def test_chapter_vae_grid_holds_at_least_20_new_emojis(chapter_vae, emojis):
    vae, _ = chapter_vae
    E, _ = emojis
    distinct, new = new_emojis_on_the_grid(vae, E)
    assert len(new) >= 20, f"only {len(new)} new emojis among {len(distinct)} distinct grid images"


def test_chapter_vae_trains_to_a_small_loss_with_a_moderate_kl(chapter_vae):
    _, history = chapter_vae
    # A summed cross-entropy of a few nats per emoji, and a KL that neither vanished (collapse)
    # nor exploded (an autoencoder in disguise).
    assert history["reconstruction"][-1] < 10
    assert 1 < history["kl"][-1] < 20


def test_large_beta_pulls_the_codes_towards_the_prior(emojis):
    E, _ = emojis
    kl = {}
    for beta in (1.0, 8.0):
        vae = aelib.VAE([144, 32, 2], seed=0)
        kl[beta] = vae.fit(E, epochs=600, lr=3e-3, beta=beta)["kl"][-1]
    assert kl[8.0] < kl[1.0]
