"""aelib.VAE measured honestly: the continuous Bernoulli likelihood (loss, gradient, mean, saving),
the importance-sampled log-likelihood and the ELBO against a direct computation and against
quadrature, the quadrature itself against an independent grid sum, and the KL warm-up.

What the book promises (the training tests, marker ``training``): for a 2-D VAE trained on the
training part of the digits, ``log_likelihood(X, 5000)`` agrees with ``quadrature_log_likelihood``
to 0.1 nats on average over held-back digits, with the Bernoulli likelihood on the digits made
binary (0/1 glyphs) and with the continuous Bernoulli on the grey digits.
"""
import json

import numpy as np
import pytest

import aelib
from aelib import likelihoods, vae as vae_module
from aelib.serialization import load_model, save_model


def shift_off_initialisation(model, rng):
    # Away from the initial weights (biases 0, logvar near 0), where a wrong gradient could hide.
    for param in model.params:
        param += rng.normal(scale=0.3, size=param.shape)


def log_normal(z, mean, logvar):
    """log N(z; mean, exp(logvar)) summed over the last axis, with its 2 pi."""
    return -0.5 * np.sum(np.log(2 * np.pi) + logvar + (z - mean) ** 2 / np.exp(logvar), axis=-1)


def paper_log_c(lam):
    u = 1 - 2 * lam
    return np.log(2 * np.arctanh(u) / u)


# The continuous Bernoulli loss and its gradient.

CB_GRADIENT_CASES = [
    pytest.param([30, 12, 2], "tanh", 1.0, id="tanh-beta1"),
    pytest.param([30, 12, 2], "tanh", 0.0, id="tanh-beta0"),
    pytest.param([30, 3], "tanh", 2.5, id="no-hidden-layer"),
    pytest.param([30, 10, 8, 4], "relu", 0.7, id="two-hidden-layers"),
    pytest.param([30, 10, 2], "sigmoid", 3.0, id="sigmoid-beta3"),
]


@pytest.mark.parametrize("sizes, activation, beta", CB_GRADIENT_CASES)
def test_continuous_bernoulli_gradient_matches_central_differences(gradients, sizes, activation, beta):
    rng = np.random.default_rng(20)
    vae = aelib.VAE(sizes, activation=activation, seed=2, likelihood="continuous-bernoulli")
    shift_off_initialisation(vae, rng)
    # Grey levels, exact 0s and 1s, and 1/2 among them.
    X = rng.random((5, sizes[0]))
    X[0, :4], X[1, :4], X[2, :4] = 0.0, 1.0, 0.5
    eps = rng.standard_normal((5, sizes[-1]))
    _, grads = vae.loss_and_grads(X, eps, beta=beta)
    for index, (param, grad) in enumerate(zip(vae.params, grads)):
        gradients.assert_close(lambda: vae.loss_and_grads(X, eps, beta=beta)[0], param, grad,
                               f"continuous Bernoulli VAE({sizes}, {activation}), beta={beta}, array {index}")


def test_continuous_bernoulli_gradient_holds_where_lambda_is_near_one_half(gradients):
    # All logits within 1e-2 of 0: the normaliser's and the mean's Taylor branches are the ones
    # used. The decoder's last layer sees dL/dA = m(A) - X directly; its gradient is checked
    # (the arrays below it receive that error through weights scaled down to 1e-4, too small
    # for central differences to resolve against a loss of several nats).
    rng = np.random.default_rng(21)
    vae = aelib.VAE([20, 6, 2], seed=0, likelihood="continuous-bernoulli")
    W, b = vae.decoder.params[-2:]
    W *= 1e-4
    b[...] = rng.uniform(-1e-3, 1e-3, b.shape)
    X, eps = rng.random((4, 20)), rng.standard_normal((4, 2))
    vae.decoder._forward(vae.encode(X)[0])
    assert np.abs(vae.decoder.last_preactivation).max() < likelihoods.SERIES_LOG_NORMALIZER
    _, grads = vae.loss_and_grads(X, eps)
    for name, param, grad in (("decoder W2", W, grads[-2]), ("decoder b2", b, grads[-1])):
        gradients.assert_close(lambda: vae.loss_and_grads(X, eps)[0], param, grad, f"{name} near lambda = 1/2")


@pytest.mark.parametrize("beta", [0.0, 1.0, 2.0])
def test_continuous_bernoulli_loss_is_minus_the_closed_form_log_density_plus_beta_kl(beta):
    rng = np.random.default_rng(22)
    vae = aelib.VAE([25, 8, 3], seed=1, likelihood="continuous-bernoulli")
    shift_off_initialisation(vae, rng)
    X, eps = rng.random((6, 25)), rng.standard_normal((6, 3))
    loss, _ = vae.loss_and_grads(X, eps, beta=beta)
    mu, logvar = vae.encode(X)
    lam = vae.decode(mu + np.exp(0.5 * logvar) * eps)
    log_density = np.sum(paper_log_c(lam) + X * np.log(lam) + (1 - X) * np.log1p(-lam), axis=1)
    kl = 0.5 * np.sum(mu ** 2 + np.exp(logvar) - logvar - 1, axis=1)
    assert loss == pytest.approx(np.mean(-log_density + beta * kl), rel=1e-10)


def test_bernoulli_and_continuous_bernoulli_differ_by_the_normaliser_only():
    rng = np.random.default_rng(23)
    bernoulli = aelib.VAE([16, 6, 2], seed=4)
    continuous = aelib.VAE([16, 6, 2], seed=4, likelihood="continuous-bernoulli")
    X, eps = rng.random((3, 16)), rng.standard_normal((3, 2))
    mu, logvar = bernoulli.encode(X)
    lam = bernoulli.decode(mu + np.exp(0.5 * logvar) * eps)
    difference = continuous.loss_and_grads(X, eps)[0] - bernoulli.loss_and_grads(X, eps)[0]
    assert difference == pytest.approx(-np.mean(np.sum(paper_log_c(lam), axis=1)), rel=1e-10)
    # log C >= log 2 for every pixel: at least 16 log 2 nats apart per sample.
    assert difference <= -16 * np.log(2) + 1e-9


def test_mean_is_lambda_for_the_bernoulli_and_the_closed_form_mean_for_the_continuous_bernoulli():
    Z = np.random.default_rng(24).standard_normal((7, 2)) * 2
    bernoulli = aelib.VAE([30, 8, 2], seed=0)
    np.testing.assert_array_equal(bernoulli.mean(Z), bernoulli.decode(Z))
    continuous = aelib.VAE([30, 8, 2], seed=0, likelihood="continuous-bernoulli")
    lam = continuous.decode(Z)
    expected = lam / (2 * lam - 1) + 1 / (2 * np.arctanh(1 - 2 * lam))
    np.testing.assert_allclose(continuous.mean(Z), expected, rtol=1e-7)
    assert not np.allclose(continuous.mean(Z), lam, atol=1e-3)


def test_the_likelihood_is_saved_and_loaded(tmp_path):
    E, _ = aelib.load_emojis()
    vae = aelib.VAE([144, 8, 2], seed=3, likelihood="continuous-bernoulli")
    vae.fit(E * 0.9 + 0.05, epochs=5, lr=1e-3)
    vae.save(tmp_path / "cb.npz")
    loaded = aelib.VAE.load(tmp_path / "cb.npz")
    assert loaded.likelihood == "continuous-bernoulli" and loaded.config == vae.config
    Z = np.random.default_rng(0).standard_normal((4, 2))
    np.testing.assert_array_equal(loaded.mean(Z), vae.mean(Z))
    assert repr(loaded) == "VAE([144, 8, 2], likelihood='continuous-bernoulli')"


def test_a_file_from_before_likelihoods_loads_as_bernoulli(tmp_path):
    vae = aelib.VAE([35, 6, 2], seed=0)
    old_config = {key: value for key, value in vae.config.items() if key != "likelihood"}
    save_model(tmp_path / "old.npz", "VAE", old_config, vae.params)
    assert "likelihood" not in load_model(tmp_path / "old.npz", "VAE")[0]
    loaded = aelib.VAE.load(tmp_path / "old.npz")
    assert loaded.likelihood == "bernoulli"
    np.testing.assert_array_equal(loaded.decode(np.ones((1, 2))), vae.decode(np.ones((1, 2))))


def test_a_file_with_an_unknown_likelihood_is_refused_with_its_name(tmp_path):
    vae = aelib.VAE([35, 6, 2], seed=0)
    save_model(tmp_path / "bad.npz", "VAE", dict(vae.config, likelihood="poisson"), vae.params)
    with pytest.raises(ValueError, match="bad.npz.*unknown likelihood 'poisson'"):
        aelib.VAE.load(tmp_path / "bad.npz")


@pytest.mark.parametrize("likelihood, error, message", [
    ("gaussian", ValueError, "unknown likelihood 'gaussian'"),
    ("Bernoulli", ValueError, "expected one of \\['bernoulli', 'continuous-bernoulli'\\]"),
    (None, TypeError, "likelihood must be one of"),
])
def test_unknown_likelihoods_are_refused(likelihood, error, message):
    with pytest.raises(error, match=message):
        aelib.VAE([10, 2], likelihood=likelihood)


def test_continuous_bernoulli_refuses_data_outside_the_unit_interval():
    vae = aelib.VAE([4, 2], seed=0, likelihood="continuous-bernoulli")
    with pytest.raises(ValueError, match=r"X must lie in \[0, 1\]"):
        vae.log_likelihood(np.array([[0.2, 1.5, 0.0, 0.3]]), 10)


# Importance sampling, the ELBO and quadrature.

@pytest.fixture(scope="module")
def emoji_vae():
    E, _ = aelib.load_emojis()
    vae = aelib.VAE([144, 32, 2], seed=0)
    vae.fit(E, epochs=400, lr=3e-3)
    return vae, E


@pytest.fixture(scope="module")
def grey_vae():
    # A continuous Bernoulli VAE on grey levels strictly inside (0, 1).
    rng = np.random.default_rng(5)
    X, _ = aelib.load_digits()
    X = (16 * X[:300] + rng.random((300, 64))) / 17
    vae = aelib.VAE([64, 32, 2], seed=1, likelihood="continuous-bernoulli")
    vae.fit(X, epochs=30, lr=3e-3, batch_size=100)
    return vae, X


def direct_importance_estimate(vae, X, eps):
    """log (1/K) sum_k p(x | z_k) p(z_k) / q(z_k | x), written out with every density in full.

    log lambda and log(1 - lambda) come from the logits a as -log(1 + e^-a) and -log(1 + e^a),
    so that they stay finite where lambda itself rounds to 0 or 1.
    """
    mu, logvar = vae.encode(X)
    Z = mu[:, None, :] + np.exp(0.5 * logvar)[:, None, :] * eps          # (n, K, k)
    vae.decoder.forward(Z.reshape(-1, vae.n_latent))
    A = vae.decoder.last_preactivation.reshape(len(X), eps.shape[1], -1)
    x = X[:, None, :]
    log_p_x_given_z = np.sum(-x * np.logaddexp(0, -A) - (1 - x) * np.logaddexp(0, A), axis=2)
    if vae.likelihood == "continuous-bernoulli":
        log_p_x_given_z += np.sum(paper_log_c(1 / (1 + np.exp(-A))), axis=2)
    log_w = (log_p_x_given_z + log_normal(Z, 0.0, np.zeros(vae.n_latent))
             - log_normal(Z, mu[:, None, :], logvar[:, None, :]))
    return np.logaddexp.reduce(log_w, axis=1) - np.log(eps.shape[1]), log_w


@pytest.mark.parametrize("model", ["emoji_vae", "grey_vae"])
@pytest.mark.parametrize("n_samples", [1, 7, 300])
def test_log_likelihood_is_the_importance_weighted_estimate_with_the_encoder_as_proposal(request, model, n_samples):
    vae, X = request.getfixturevalue(model)
    X = X[:20]
    # The draws come from the generator in the order (row, draw, coordinate).
    eps = np.random.default_rng(9).standard_normal((len(X), n_samples, vae.n_latent))
    expected, _ = direct_importance_estimate(vae, X, eps)
    np.testing.assert_allclose(vae.log_likelihood(X, n_samples, rng=9), expected, rtol=1e-9)


def test_log_likelihood_with_one_sample_is_a_one_draw_elbo_estimate(emoji_vae):
    vae, E = emoji_vae
    eps = np.random.default_rng(3).standard_normal((len(E), 1, 2))
    _, log_w = direct_importance_estimate(vae, E, eps)
    np.testing.assert_allclose(vae.log_likelihood(E, 1, rng=3), log_w[:, 0], rtol=1e-9)


def test_log_likelihood_does_not_depend_on_how_the_draws_are_cut_into_blocks(monkeypatch, grey_vae):
    vae, X = grey_vae
    X = X[:9]
    whole = vae.log_likelihood(X, 50, rng=4)
    for at_once in (7, 50, 64, 449):
        # 7: every row's draws in 8 parts; 64: one row per block; 449: 8 rows and a part.
        monkeypatch.setattr(vae_module, "DECODED_AT_ONCE", at_once)
        np.testing.assert_allclose(vae.log_likelihood(X, 50, rng=4), whole, rtol=1e-12)


def test_log_likelihood_is_reproducible_with_a_seed_and_changes_with_it(emoji_vae):
    vae, E = emoji_vae
    first = vae.log_likelihood(E, 20, rng=np.random.default_rng(0))
    np.testing.assert_array_equal(first, vae.log_likelihood(E, 20, rng=0))
    assert not np.array_equal(first, vae.log_likelihood(E, 20, rng=1))
    assert first.shape == (32,) and np.all(np.isfinite(first))


def test_log_likelihood_never_underflows_for_improbable_data(emoji_vae):
    # A decoder made very sure of itself (logits times 50) finds the inverted emojis thousands of
    # nats improbable: exp(log w) would underflow to 0 and its log to -inf without the log-sum-exp.
    vae, E = emoji_vae
    sure = aelib.VAE([144, 32, 2], seed=0)
    for mine, theirs in zip(sure.params, vae.params):
        mine[...] = theirs
    sure.decoder.params[-2][...] *= 50
    sure.decoder.params[-1][...] *= 50
    X = 1 - E[:5]
    eps = np.random.default_rng(2).standard_normal((5, 30, 2))
    expected, log_w = direct_importance_estimate(sure, X, eps)
    assert log_w.max() < -800  # exp(-800) is 0 in float64
    np.testing.assert_allclose(sure.log_likelihood(X, 30, rng=2), expected, rtol=1e-9)


def test_the_importance_weighted_bound_rises_with_k_towards_the_quadrature(emoji_vae):
    vae, E = emoji_vae
    exact = vae.quadrature_log_likelihood(E)
    # Each estimate's mean over the 32 emojis is averaged over 20 seeds; the standard errors
    # of these averages are below 0.02 nats, and the steps between them 0.1 nats or more.
    means = [np.mean([vae.log_likelihood(E, k, rng=seed).mean() for seed in range(20)]) for k in (1, 10, 300)]
    assert means[0] < means[1] - 0.05 < means[2] - 0.1 < exact.mean()
    assert exact.mean() - means[2] < 0.1


def test_elbo_is_the_average_log_density_minus_the_closed_form_kl(emoji_vae):
    vae, E = emoji_vae
    eps = np.random.default_rng(6).standard_normal((len(E), 40, 2))
    mu, logvar = vae.encode(E)
    Z = mu[:, None, :] + np.exp(0.5 * logvar)[:, None, :] * eps
    log_p = vae.log_density(np.repeat(E, 40, axis=0), Z.reshape(-1, 2)).reshape(len(E), 40)
    expected = log_p.mean(axis=1) - aelib.vae.kl_divergence(mu, logvar)
    np.testing.assert_allclose(vae.elbo(E, 40, rng=6), expected, rtol=1e-10)
    # The ELBO bounds log p(x) from below: the gap is a KL divergence, here 0.3 nats per emoji on
    # average. With 2000 draws an ELBO estimate varies by about 0.02 nats, so no emoji's estimate
    # may exceed log p(x) by more than 0.1.
    gap = vae.quadrature_log_likelihood(E) - vae.elbo(E, 2000, rng=7)
    assert gap.mean() > 0.1 and gap.min() > -0.1


EXTENDED_PRECISION = np.finfo(np.longdouble).eps < 1e-18


def independent_quadrature(vae, X, limit, step):
    """log of sum over grid cells of prod_j p(x_j | lambda_j) N(z; 0, I) step^2, with the continuous
    Bernoulli's C(lambda) from its closed form in lambda. lambda = sigmoid(logits) is computed in
    extended precision: a trained decoder's lambda may round to exactly 0 in float64."""
    centres = -limit + step * (np.arange(int(round(2 * limit / step))) + 0.5)
    Z = np.array([(a, b) for a in centres for b in centres])
    vae.decoder.forward(Z)
    lam = 1 / (1 + np.exp(-vae.decoder.last_preactivation.astype(np.longdouble)))
    log_joint = X @ np.log(lam).T + (1 - X) @ np.log1p(-lam).T
    if vae.likelihood == "continuous-bernoulli":
        log_joint += np.sum(paper_log_c(lam), axis=1)
    log_joint += log_normal(Z, 0.0, np.zeros(2)) + 2 * np.log(step)
    return np.logaddexp.reduce(log_joint, axis=1).astype(np.float64)


@pytest.mark.parametrize("model", ["emoji_vae", "grey_vae"])
def test_quadrature_matches_an_independent_grid_sum(request, model):
    vae, X = request.getfixturevalue(model)
    X = X[:12]
    np.testing.assert_allclose(vae.quadrature_log_likelihood(X, limit=5.0, step=0.1),
                               independent_quadrature(vae, X, 5.0, 0.1), rtol=1e-9)


def test_quadrature_has_converged_on_the_default_grid(emoji_vae):
    vae, E = emoji_vae
    default = vae.quadrature_log_likelihood(E[::4])
    np.testing.assert_allclose(vae.quadrature_log_likelihood(E[::4], limit=7.0, step=0.025), default, atol=1e-4)


def test_quadrature_of_the_prior_alone_is_exact():
    # A decoder that ignores z (all decoder weights from z zero) makes p(x) = p(x | z) for every z:
    # the grid must then return log p(x | z) plus the log of the prior's mass on the square.
    vae = aelib.VAE([6, 2], seed=0)
    vae.decoder.params[0][...] = 0.0
    X = np.array([[1.0, 0.0, 1.0, 1.0, 0.0, 0.0]])
    log_p_x = vae.log_density(X, np.zeros((1, 2)))
    mass_on_square = 0.9973002039367398 ** 2   # P(|z_u| < 3) for each coordinate
    np.testing.assert_allclose(vae.quadrature_log_likelihood(X, limit=3.0, step=0.01),
                               log_p_x + np.log(mass_on_square), atol=1e-5)


@pytest.mark.parametrize("arguments, error, message", [
    ({"n_samples": 0}, ValueError, "n_samples must be an integer >= 1"),
    ({"n_samples": -5}, ValueError, "n_samples must be an integer >= 1"),
    ({"n_samples": 2.5}, TypeError, "n_samples must be an integer >= 1"),
    ({"n_samples": True}, TypeError, "n_samples must be an integer >= 1"),
    ({"n_samples": 10, "rng": "seed"}, TypeError, "rng must be None, an int seed"),
])
def test_log_likelihood_and_elbo_refuse_bad_arguments(emoji_vae, arguments, error, message):
    vae, E = emoji_vae
    for method in (vae.log_likelihood, vae.elbo):
        with pytest.raises(error, match=message):
            method(E, **arguments)


def test_log_likelihood_refuses_data_of_the_wrong_width(emoji_vae):
    vae, E = emoji_vae
    with pytest.raises(ValueError, match="X must have 144 features"):
        vae.log_likelihood(E[:, :100], 10)


@pytest.mark.parametrize("arguments, error, message", [
    ({"limit": 0.0}, ValueError, "limit must be a positive number"),
    ({"step": -0.1}, ValueError, "step must be a positive number"),
    ({"limit": 6.0, "step": 1e-4}, ValueError, "1 to 10000 cells per side"),
    ({"limit": 0.01, "step": 1.0}, ValueError, "1 to 10000 cells per side"),
])
def test_quadrature_refuses_bad_grids(emoji_vae, arguments, error, message):
    vae, E = emoji_vae
    with pytest.raises(error, match=message):
        vae.quadrature_log_likelihood(E, **arguments)


def test_quadrature_needs_a_2d_code():
    with pytest.raises(ValueError, match="needs a 2-D code, this VAE's has 3"):
        aelib.VAE([10, 3], seed=0).quadrature_log_likelihood(np.zeros((1, 10)))


def test_log_density_refuses_mismatched_rows():
    vae = aelib.VAE([10, 2], seed=0)
    with pytest.raises(ValueError, match="one row per sample each, got 3 and 2"):
        vae.log_density(np.zeros((3, 10)), np.zeros((2, 2)))


# The KL warm-up.

def test_kl_weights_rise_linearly_to_beta_and_stay_there():
    weights = aelib.vae.kl_weights(2.0, 4)
    assert [next(weights) for _ in range(7)] == [0.5, 1.0, 1.5, 2.0, 2.0, 2.0, 2.0]
    no_warmup = aelib.vae.kl_weights(1.5, 0)
    assert [next(no_warmup) for _ in range(3)] == [1.5, 1.5, 1.5]


def test_fit_with_a_warmup_weights_the_kl_term_of_each_step():
    # Full batch: one step per epoch, so epoch t's loss is reconstruction + beta * min(1, t/W) * KL.
    E, _ = aelib.load_emojis()
    vae = aelib.VAE([144, 8, 2], seed=0)
    history = vae.fit(E, epochs=6, lr=1e-3, beta=3.0, warmup_epochs=4)
    for t, (loss, reconstruction, kl) in enumerate(zip(history["loss"], history["reconstruction"], history["kl"]), 1):
        assert loss == pytest.approx(reconstruction + 3.0 * min(1.0, t / 4) * kl, rel=1e-12)


def test_warmup_counts_steps_not_epochs_with_minibatches():
    X, _ = aelib.load_digits()
    vae = aelib.VAE([64, 8, 2], seed=0)
    # 100 samples in batches of 30: 4 steps per epoch, so 2 warm-up epochs are 8 steps.
    assert aelib.vae.warmup_steps(2, 100, 30) == 8 and aelib.vae.warmup_steps(3, 100, None) == 3
    history = vae.fit(X[:100], epochs=3, lr=1e-3, batch_size=30, warmup_epochs=2)
    # Epoch 1 has weights 1/8 ... 4/8, below 1: its loss is below reconstruction + KL.
    assert history["loss"][0] < history["reconstruction"][0] + history["kl"][0]
    assert history["loss"][2] == pytest.approx(history["reconstruction"][2] + history["kl"][2], rel=1e-12)


def test_no_warmup_trains_exactly_as_before():
    E, _ = aelib.load_emojis()
    first, second = aelib.VAE([144, 8, 2], seed=2), aelib.VAE([144, 8, 2], seed=2)
    assert first.fit(E, epochs=20, lr=3e-3, beta=1.5) == second.fit(E, epochs=20, lr=3e-3, beta=1.5, warmup_epochs=0)


@pytest.mark.parametrize("warmup_epochs", [-1, 1.5, True, "10"])
def test_warmup_epochs_must_be_a_whole_number(warmup_epochs):
    with pytest.raises(ValueError, match="warmup_epochs must be an integer >= 0"):
        aelib.VAE([10, 2], seed=0).fit(np.zeros((4, 10)), epochs=1, lr=1e-3, warmup_epochs=warmup_epochs)


# What the book promises.

@pytest.fixture(scope="module")
def digit_split():
    X, y = aelib.load_digits()
    return aelib.train_test_split(X, y, test_fraction=0.25, rng=0)


@pytest.mark.training
def test_importance_sampling_agrees_with_quadrature_on_held_back_binary_digits(digit_split):
    X_train, X_test, _, _ = digit_split
    B_train, B_test = (X_train > 0.5).astype(float), (X_test > 0.5).astype(float)
    vae = aelib.VAE([64, 128, 2], seed=0)
    vae.fit(B_train, epochs=100, lr=3e-3, batch_size=128)
    exact = vae.quadrature_log_likelihood(B_test[:150])
    estimate = vae.log_likelihood(B_test[:150], 5000, rng=0)
    # Measured: 0.001 nats on average; 0.1 is the promise. The estimate is a lower bound in
    # expectation: it may not sit above the exact value by more than its noise.
    assert abs(np.mean(estimate - exact)) < 0.1
    assert np.mean(estimate - exact) < 0.02


@pytest.mark.training
def test_importance_sampling_agrees_with_quadrature_on_held_back_grey_digits(digit_split):
    X_train, X_test, _, _ = digit_split
    rng = np.random.default_rng(1)
    # Dequantised: each of the 17 grey levels k/16 spread uniformly over its own bin of width 1/17,
    # so that no pixel sits at exactly 0 or 1, where the density has no bound.
    D_train = (16 * X_train + rng.random(X_train.shape)) / 17
    D_test = (16 * X_test[:150] + rng.random((150, 64))) / 17
    vae = aelib.VAE([64, 128, 2], seed=0, likelihood="continuous-bernoulli")
    vae.fit(D_train, epochs=100, lr=3e-3, batch_size=128)
    exact = vae.quadrature_log_likelihood(D_test)
    # The grid has converged: halving the step changes nothing that matters.
    np.testing.assert_allclose(vae.quadrature_log_likelihood(D_test[:20], step=0.025), exact[:20], atol=1e-4)
    # ... and it computes the closed-form density: the independent grid sum agrees.
    # (The closed form in lambda loses digits where lambda lies within 1e-17 of 0 or 1, even in
    # extended precision: 1e-4 nats; leaving out the normaliser alone would cost over 40.)
    if EXTENDED_PRECISION:
        np.testing.assert_allclose(independent_quadrature(vae, D_test[:3], 6.0, 0.1),
                                   vae.quadrature_log_likelihood(D_test[:3], step=0.1), atol=1e-4)
    estimate = vae.log_likelihood(D_test, 5000, rng=0)
    # Measured: 0.002 nats on average.
    assert abs(np.mean(estimate - exact)) < 0.1
    assert np.mean(estimate - exact) < 0.02


def test_log_joint_is_log_density_plus_log_prior_for_every_pair(grey_vae):
    vae, X = grey_vae
    Z = np.random.default_rng(8).standard_normal((5, 2)) * 1.5
    joint = vae.log_joint(X[:3], Z)
    assert joint.shape == (3, 5)
    for i in range(3):
        expected = vae.log_density(np.repeat(X[i:i + 1], 5, axis=0), Z) + log_normal(Z, 0.0, np.zeros(2))
        np.testing.assert_allclose(joint[i], expected, rtol=1e-10)


def test_log_joint_decodes_the_codes_in_blocks_with_the_same_result(monkeypatch, grey_vae):
    vae, X = grey_vae
    Z = aelib.vae.quadrature_grid(3.0, 0.5)   # 144 codes
    whole = vae.log_joint(X[:4], Z)
    monkeypatch.setattr(aelib.vae, "DECODED_AT_ONCE", 50)   # three blocks, the last one short
    np.testing.assert_allclose(vae.log_joint(X[:4], Z), whole, rtol=1e-12)


def test_quadrature_decodes_at_most_decoded_at_once_codes_at_a_time(monkeypatch, grey_vae):
    # One row of X against a whole grid: the codes still come in blocks, the result unchanged.
    vae, X = grey_vae
    whole = vae.quadrature_log_likelihood(X[:1], limit=3.0, step=0.1)    # 3,600 cells
    monkeypatch.setattr(aelib.vae, "DECODED_AT_ONCE", 500)
    decoded, forward = [], vae.decoder._forward

    def counting_forward(Z):
        decoded.append(len(Z))
        return forward(Z)

    monkeypatch.setattr(vae.decoder, "_forward", counting_forward)
    np.testing.assert_allclose(vae.quadrature_log_likelihood(X[:1], limit=3.0, step=0.1), whole,
                               rtol=1e-12)
    assert max(decoded) == 500 and sum(decoded) == 3600


def test_quadrature_grid_tiles_the_square_with_cell_centres():
    Z = aelib.vae.quadrature_grid(1.0, 0.5)
    assert Z.shape == (16, 2)
    np.testing.assert_allclose(Z[:5], [[-0.75, -0.75], [-0.25, -0.75], [0.25, -0.75], [0.75, -0.75], [-0.75, -0.25]])
    assert np.abs(Z).max() == 0.75 and len(np.unique(Z, axis=0)) == 16


def test_active_units_are_those_whose_mean_code_varies_over_the_data():
    rng = np.random.default_rng(9)
    mu = np.column_stack([rng.normal(0.0, 1.0, 500),        # active
                          rng.normal(3.0, 0.05, 500),       # far from 0, but the same for every sample
                          rng.normal(0.0, 0.3, 500)])       # variance 0.09
    np.testing.assert_array_equal(aelib.vae.active_units(mu), [True, False, True])
    np.testing.assert_array_equal(aelib.vae.active_units(mu, threshold=0.2), [True, False, False])
    with pytest.raises(ValueError, match="threshold must be a positive number"):
        aelib.vae.active_units(mu, threshold=0)
    with pytest.raises(ValueError, match="mu must be 2-D"):
        aelib.vae.active_units(mu[:, 0])
