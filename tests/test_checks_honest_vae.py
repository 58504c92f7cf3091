"""The exercise checks of chapter 6 accept correct answers written in different ways, reject the
plausible wrong ones with a message that names the mistake, refuse aelib's own solutions however
they are reached, and say "not implemented yet" for an untouched stub."""
import importlib
from fractions import Fraction
from math import comb, factorial

import numpy as np
import pytest
from check_failures import accepts, fails_with, forbid_training, not_implemented

import aelib
from aelib.checks import (check_active_units, check_importance_log_likelihood, check_log_normalizer,
                          check_mean_and_variance)


# Exercise 6.1: the importance-weighted estimate.

def importance_log_likelihood(vae, X, n_draws, rng):
    n, k = len(X), vae.n_latent
    mu, logvar = vae.encode(X)
    eps = rng.standard_normal((n, n_draws, k))
    Z = mu[:, None, :] + np.exp(0.5 * logvar)[:, None, :] * eps
    log_p_x_given_z = vae.log_density(np.repeat(X, n_draws, axis=0), Z.reshape(-1, k)).reshape(n, n_draws)
    log_ratio = -0.5 * np.sum(Z ** 2, axis=2) + 0.5 * np.sum(logvar[:, None, :] + eps ** 2, axis=2)
    log_weights = log_p_x_given_z + log_ratio
    largest = log_weights.max(axis=1, keepdims=True)
    return largest[:, 0] + np.log(np.mean(np.exp(log_weights - largest), axis=1))


def importance_row_by_row(vae, X, n_draws, rng):
    # Another correct answer: full Gaussian densities with their 2 pi, a loop over the rows, and
    # np.logaddexp.reduce for the log-sum-exp.
    mu, logvar = vae.encode(X)
    eps = rng.standard_normal((len(X), n_draws, vae.n_latent))
    estimates = []
    for x, m, lv, e in zip(X, mu, logvar, eps):
        sigma = np.exp(0.5 * lv)
        Z = m + sigma * e
        log_p_x_given_z = vae.log_density(np.tile(x, (n_draws, 1)), Z)
        log_prior = np.sum(-0.5 * np.log(2 * np.pi) - 0.5 * Z ** 2, axis=1)
        log_q = np.sum(-0.5 * np.log(2 * np.pi * sigma ** 2) - 0.5 * ((Z - m) / sigma) ** 2, axis=1)
        estimates.append(np.logaddexp.reduce(log_p_x_given_z + log_prior - log_q) - np.log(n_draws))
    return np.array(estimates)


def weights(vae, X, n_draws, rng, variant):
    """The log-weights of the exercise's draws, with one plausible mistake, and how they are averaged."""
    n, k = len(X), vae.n_latent
    mu, logvar = vae.encode(X)
    eps = rng.standard_normal((n, n_draws, k))
    Z = mu[:, None, :] + np.exp(0.5 * logvar)[:, None, :] * eps
    log_p_x_given_z = vae.log_density(np.repeat(X, n_draws, axis=0), Z.reshape(-1, k)).reshape(n, n_draws)
    log_p_z = -0.5 * np.sum(Z ** 2, axis=2)
    log_q = -0.5 * np.sum(logvar[:, None, :] + eps ** 2, axis=2)
    if variant == "no-logvar":
        log_q = -0.5 * np.sum(eps ** 2, axis=2)
    if variant == "sigma-for-variance":
        log_q = -0.5 * np.sum(0.5 * logvar[:, None, :] + eps ** 2, axis=2)
    if variant == "q-at-its-mean":
        log_q = -0.5 * np.sum(logvar[:, None, :], axis=2)
    if variant == "no-prior":
        log_p_z = 0.0
    if variant == "2pi-in-prior-only":
        log_p_z = log_p_z - k / 2 * np.log(2 * np.pi)
    log_w = log_p_x_given_z + log_p_z - log_q
    if variant == "mean-of-logs":
        return log_w.mean(axis=1)
    if variant == "naive-exp":
        return np.log(np.mean(np.exp(log_w), axis=1))
    if variant == "log-sum-exp":
        return np.logaddexp.reduce(log_w, axis=1)
    if variant == "wrong-axis":
        return np.logaddexp.reduce(log_w, axis=0) - np.log(n)
    return np.logaddexp.reduce(log_w, axis=1) - np.log(n_draws)


def mistake(variant):
    return lambda vae, X, n_draws, rng: weights(vae, X, n_draws, rng, variant)


def bernoulli_formula_for_every_model(vae, X, n_draws, rng):
    # log p(x | z) from the decoded pixel probabilities by the Bernoulli formula, whatever the likelihood.
    n, k = len(X), vae.n_latent
    mu, logvar = vae.encode(X)
    eps = rng.standard_normal((n, n_draws, k))
    Z = mu[:, None, :] + np.exp(0.5 * logvar)[:, None, :] * eps
    X_hat = np.clip(vae.decode(Z.reshape(-1, k)).reshape(n, n_draws, -1), 1e-300, 1 - 1e-16)
    log_p_x_given_z = np.sum(X[:, None, :] * np.log(X_hat) + (1 - X[:, None, :]) * np.log1p(-X_hat), axis=2)
    log_w = log_p_x_given_z - 0.5 * np.sum(Z ** 2, axis=2) + 0.5 * np.sum(logvar[:, None, :] + eps ** 2, axis=2)
    return np.logaddexp.reduce(log_w, axis=1) - np.log(n_draws)


def draws_transposed(vae, X, n_draws, rng):
    eps = rng.standard_normal((n_draws, len(X), vae.n_latent)).transpose(1, 0, 2)
    return importance_log_likelihood(vae, X, n_draws, FixedDraws(eps))


class FixedDraws:
    """A stand-in generator that returns given noise: lets an answer be written with other draws."""

    def __init__(self, eps):
        self.eps = eps

    def standard_normal(self, shape):
        return self.eps


def own_generator(vae, X, n_draws, rng):
    return importance_log_likelihood(vae, X, n_draws, np.random.default_rng(0))


def fixed_number_of_draws(vae, X, n_draws, rng):
    return importance_log_likelihood(vae, X, 100, rng)


def test_importance_log_likelihood_accepts_correct_answers(capsys):
    accepts(check_importance_log_likelihood, importance_log_likelihood, capsys)
    accepts(check_importance_log_likelihood, importance_row_by_row, capsys)


@pytest.mark.parametrize("wrong, message", [
    (mistake("mean-of-logs"), "averages the log-weights: that estimates the ELBO"),
    (mistake("log-sum-exp"), "is log R too large"),
    (mistake("naive-exp"), "exp\\(-900\\).*m \\+ log mean exp"),
    (mistake("no-logvar"), "leaves out the log sigma\\^2 of log q"),
    (mistake("sigma-for-variance"), "uses log sigma where log q\\(z \\| x\\) has log sigma\\^2"),
    (mistake("q-at-its-mean"), "evaluates q\\(z \\| x\\) at its mean"),
    (mistake("no-prior"), "leaves out the prior"),
    (mistake("2pi-in-prior-only"), "includes -k/2 log\\(2 pi\\) in log p\\(z\\) but not in log q"),
    (mistake("wrong-axis"), "one value per draw.*one estimate per row"),
    (bernoulli_formula_for_every_model, "uses the Bernoulli's log p\\(x \\| z\\) for a continuous Bernoulli VAE"),
    (draws_transposed, "draws the noise in another order"),
    (own_generator, "same estimates for two different generators"),
    (fixed_number_of_draws, "uses 100 draws, not n_draws=7"),
    (lambda vae, X, n_draws, rng: vae.log_likelihood(X, n_draws, rng=rng), "calls aelib.vae.VAE.log_likelihood"),
    (lambda vae, X, n_draws, rng: aelib.vae.log_mean_exp(weights(vae, X, n_draws, rng, "none")[:, None], axis=1),
     "calls aelib.vae.log_mean_exp"),
    (lambda vae, X, n_draws, rng: vae.elbo(X, n_draws, rng=rng), "calls aelib.vae.VAE.elbo"),
    (not_implemented, "not implemented yet"),
])
def test_importance_log_likelihood_names_the_mistake(wrong, message):
    with fails_with(message):
        check_importance_log_likelihood(wrong)


def test_importance_log_likelihood_reports_a_shape_error_with_the_shapes_expected():
    def broadcast_error(vae, X, n_draws, rng):
        mu, logvar = vae.encode(X)
        return mu + rng.standard_normal((n_draws, 5))

    with fails_with("shapes do not fit.*eps \\(n, n_draws, k\\)"):
        check_importance_log_likelihood(broadcast_error)


def test_importance_log_likelihood_trains_no_model(monkeypatch, capsys):
    forbid_training(monkeypatch)
    accepts(check_importance_log_likelihood, importance_log_likelihood, capsys)


def importance_drawn_by_rng_normal(vae, X, n_draws, rng):
    # Another correct answer: z drawn directly with rng.normal (the same numbers as mu + sigma * eps),
    # log p(x | z) one draw at a time, and the Gaussian densities in full.
    mu, logvar = vae.encode(X)
    sigma = np.sqrt(np.exp(logvar))[:, None, :]
    Z = rng.normal(mu[:, None, :], sigma, size=(len(X), n_draws, vae.n_latent))
    log_p_x_given_z = np.stack([vae.log_density(X, Z[:, r]) for r in range(n_draws)], axis=1)
    log_prior = np.sum(-0.5 * np.log(2 * np.pi) - 0.5 * Z ** 2, axis=2)
    log_q = np.sum(-0.5 * np.log(2 * np.pi * sigma ** 2) - 0.5 * ((Z - mu[:, None, :]) / sigma) ** 2, axis=2)
    log_w = log_p_x_given_z + log_prior - log_q
    top = np.max(log_w, axis=1)
    return top + np.log(np.sum(np.exp(log_w - top[:, None]), axis=1)) - np.log(n_draws)


def importance_in_parts(vae, X, n_draws, rng):
    # Another correct answer: the draws of one call, taken three at a time through a running log-sum-exp,
    # with X tiled draw-major against codes listed draw-major.
    n, k = len(X), vae.n_latent
    mu, logvar = vae.encode(X)
    eps = rng.standard_normal(n * n_draws * k).reshape(n, n_draws, k)
    top, total = np.full(n, -np.inf), np.zeros(n)
    for start in range(0, n_draws, 3):
        e = eps[:, start:start + 3]
        Z = mu[:, None, :] + np.exp(0.5 * logvar)[:, None, :] * e
        m = e.shape[1]
        log_p = vae.log_density(np.tile(X, (m, 1)), Z.transpose(1, 0, 2).reshape(-1, k)).reshape(m, n).T
        log_w = log_p - 0.5 * np.sum(Z ** 2, 2) + 0.5 * np.sum(logvar[:, None, :] + e ** 2, 2)
        new_top = np.maximum(top, log_w.max(axis=1))
        total = total * np.exp(top - new_top) + np.exp(log_w - new_top[:, None]).sum(axis=1)
        top = new_top
    return top + np.log(total / n_draws)


def importance_sorted(vae, X, n_draws, rng):
    # Another correct answer: the largest weight is exactly 1, the others added through log1p.
    log_w = np.sort(weights_of(vae, X, n_draws, rng), axis=1)
    top = log_w[:, -1]
    return top + np.log1p(np.sum(np.exp(log_w[:, :-1] - top[:, None]), axis=1)) - np.log(n_draws)


def weights_of(vae, X, n_draws, rng, eps=None, sigma_of=lambda logvar: np.exp(0.5 * logvar)):
    """The log-weights (n, n_draws) of the exercise's draws (or of eps), without the 2 pi terms."""
    n, k = len(X), vae.n_latent
    mu, logvar = vae.encode(X)
    eps = rng.standard_normal((n, n_draws, k)) if eps is None else eps
    Z = mu[:, None, :] + sigma_of(logvar)[:, None, :] * eps
    log_p_x_given_z = vae.log_density(np.repeat(X, n_draws, axis=0), Z.reshape(-1, k)).reshape(n, n_draws)
    return log_p_x_given_z - 0.5 * np.sum(Z ** 2, axis=2) + 0.5 * np.sum(logvar[:, None, :] + eps ** 2, axis=2)


def log_mean_exp(log_w):
    top = log_w.max(axis=1, keepdims=True)
    return top[:, 0] + np.log(np.mean(np.exp(log_w - top), axis=1))


@pytest.mark.parametrize("answer", [importance_drawn_by_rng_normal, importance_in_parts, importance_sorted])
def test_importance_log_likelihood_accepts_other_correct_answers(answer, capsys):
    accepts(check_importance_log_likelihood, answer, capsys)


def divided_by_r_outside_the_log(vae, X, n_draws, rng):
    return np.logaddexp.reduce(weights_of(vae, X, n_draws, rng), axis=1) / n_draws


def largest_not_added_back(vae, X, n_draws, rng):
    log_w = weights_of(vae, X, n_draws, rng)
    return np.log(np.mean(np.exp(log_w - log_w.max(axis=1, keepdims=True)), axis=1))


def largest_of_all_rows(vae, X, n_draws, rng):
    log_w = weights_of(vae, X, n_draws, rng)
    return log_w.max() + np.log(np.mean(np.exp(log_w - log_w.max()), axis=1))


def long_double_instead_of_logs(vae, X, n_draws, rng):
    log_w = weights_of(vae, X, n_draws, rng).astype(np.longdouble)
    return np.log(np.mean(np.exp(log_w), axis=1)).astype(np.float64)


def q_added(vae, X, n_draws, rng):
    n, k = len(X), vae.n_latent
    mu, logvar = vae.encode(X)
    eps = rng.standard_normal((n, n_draws, k))
    log_w = weights_of(vae, X, n_draws, None, eps=eps)
    return log_mean_exp(log_w - np.sum(logvar[:, None, :] + eps ** 2, axis=2))


def q_with_log_variance_for_log_sigma(vae, X, n_draws, rng):
    mu, logvar = vae.encode(X)
    return log_mean_exp(weights_of(vae, X, n_draws, rng) + 0.5 * np.sum(logvar, axis=1)[:, None])


def variance_for_sigma(vae, X, n_draws, rng):
    return log_mean_exp(weights_of(vae, X, n_draws, rng, sigma_of=np.exp))


def same_draws_for_every_row(vae, X, n_draws, rng):
    eps = np.broadcast_to(rng.standard_normal((n_draws, vae.n_latent)), (len(X), n_draws, vae.n_latent))
    return log_mean_exp(weights_of(vae, X, n_draws, None, eps=eps))


def draws_coordinate_first(vae, X, n_draws, rng):
    eps = rng.standard_normal((len(X), vae.n_latent, n_draws)).transpose(0, 2, 1)
    return log_mean_exp(weights_of(vae, X, n_draws, None, eps=eps))


def one_call_per_draw(vae, X, n_draws, rng):
    eps = np.stack([rng.standard_normal((len(X), vae.n_latent)) for _ in range(n_draws)], axis=1)
    return log_mean_exp(weights_of(vae, X, n_draws, None, eps=eps))


def rows_tiled_against_codes_repeated(vae, X, n_draws, rng):
    n, k = len(X), vae.n_latent
    mu, logvar = vae.encode(X)
    eps = rng.standard_normal((n, n_draws, k))
    Z = mu[:, None, :] + np.exp(0.5 * logvar)[:, None, :] * eps
    log_p_x_given_z = vae.log_density(np.tile(X, (n_draws, 1)), Z.reshape(-1, k)).reshape(n, n_draws)
    return log_mean_exp(log_p_x_given_z - 0.5 * np.sum(Z ** 2, 2) + 0.5 * np.sum(logvar[:, None, :] + eps ** 2, 2))


def mean_code_decoded(vae, X, n_draws, rng):
    n, k = len(X), vae.n_latent
    mu, logvar = vae.encode(X)
    eps = rng.standard_normal((n, n_draws, k))
    Z = mu[:, None, :] + np.exp(0.5 * logvar)[:, None, :] * eps
    return log_mean_exp(vae.log_density(X, mu)[:, None] - 0.5 * np.sum(Z ** 2, 2)
                        + 0.5 * np.sum(logvar[:, None, :] + eps ** 2, 2))


def bernoulli_from_decoded_probabilities(vae, X, n_draws, rng):
    # Right for the Bernoulli VAEs, with a log-mean-exp; but vae.decode's probabilities round to 0 and 1
    # for the very sure decoder.
    n, k = len(X), vae.n_latent
    mu, logvar = vae.encode(X)
    eps = rng.standard_normal((n, n_draws, k))
    Z = mu[:, None, :] + np.exp(0.5 * logvar)[:, None, :] * eps
    X_hat = vae.decode(Z.reshape(-1, k)).reshape(n, n_draws, -1)
    log_p = np.sum(X[:, None, :] * np.log(X_hat) + (1 - X[:, None, :]) * np.log1p(-X_hat), axis=2)
    if vae.likelihood != "bernoulli":
        log_p = log_p + np.sum(log_normalizer(X_hat), axis=2)
    return log_mean_exp(log_p - 0.5 * np.sum(Z ** 2, 2) + 0.5 * np.sum(logvar[:, None, :] + eps ** 2, 2))


def fresh_generator(vae, X, n_draws, rng):
    return importance_log_likelihood(vae, X, n_draws, np.random.default_rng())


def square_root_of_logvar(vae, X, n_draws, rng):
    return log_mean_exp(weights_of(vae, X, n_draws, rng, sigma_of=np.sqrt))


def float32_draws(vae, X, n_draws, rng):
    eps = rng.standard_normal((len(X), n_draws, vae.n_latent), dtype=np.float32)
    return log_mean_exp(weights_of(vae, X, n_draws, None, eps=eps))


def through_the_decoder_network(vae, X, n_draws, rng):
    n, k = len(X), vae.n_latent
    mu, logvar = vae.encode(X)
    eps = rng.standard_normal((n, n_draws, k))
    Z = mu[:, None, :] + np.exp(0.5 * logvar)[:, None, :] * eps
    vae.decoder.forward(Z.reshape(-1, k))
    A = vae.decoder.last_preactivation.reshape(n, n_draws, -1)
    log_p = aelib.likelihoods.log_density(A, X[:, None, :], vae.likelihood)
    return log_mean_exp(log_p - 0.5 * np.sum(Z ** 2, 2) + 0.5 * np.sum(logvar[:, None, :] + eps ** 2, 2))


def library_source_run_as_mine(vae, X, n_draws, rng):
    import inspect
    import textwrap
    namespace = dict(vars(aelib.vae))
    exec(textwrap.dedent(inspect.getsource(aelib.VAE.log_likelihood)), namespace)
    return namespace["log_likelihood"](vae, X, n_draws, rng)


def running_sum_of_the_library(vae, X, n_draws, rng):
    running = aelib.vae.RunningLogSumExp(len(X))
    running.add(slice(None), weights_of(vae, X, n_draws, rng))
    return running.result() - np.log(n_draws)


def through_partial_and_importlib(vae, X, n_draws, rng):
    import functools
    import importlib
    log_mean_exp_of_aelib = functools.partial(importlib.import_module("aelib.vae").log_mean_exp, axis=1)
    return log_mean_exp_of_aelib(weights_of(vae, X, n_draws, rng))


@pytest.mark.parametrize("wrong, message", [
    (divided_by_r_outside_the_log, "divides the log of the summed weights by R"),
    (largest_not_added_back, "leaves out the largest log-weight m that it took out"),
    (largest_of_all_rows, "got -inf where log p\\(x\\) is finite.*m the largest of each row"),
    (long_double_instead_of_logs, "very sure decoder.*got -inf.*m \\+ log mean exp"),
    (q_added, "adds log q\\(z \\| x\\) where the weight divides by q"),
    (q_with_log_variance_for_log_sigma, "uses log sigma\\^2 where log q\\(z \\| x\\) has log sigma"),
    (variance_for_sigma, "takes exp\\(logvar\\), the variance, for sigma"),
    (same_draws_for_every_row, "uses the same draws eps for every row of X"),
    (draws_coordinate_first, "draws the noise in another order"),
    (one_call_per_draw, "draws the noise in another order"),
    (rows_tiled_against_codes_repeated, "pairs the rows of X with the wrong codes"),
    (mean_code_decoded, "decodes the mean mu instead of the drawn codes"),
    (bernoulli_from_decoded_probabilities, "very sure decoder.*got nan.*must come from vae.log_density"),
    (fresh_generator, "drew nothing from the generator rng it was given"),
    (square_root_of_logvar, "raised ValueError: Z must contain only finite numbers"),
    (float32_draws, "drew from rng other than n \\* n_draws \\* k = 56 standard normal numbers"),
    (lambda vae, X, n_draws, rng: getattr(vae, "log_" + "likelihood")(X, n_draws, rng),
     "calls aelib.vae.VAE.log_likelihood"),
    (through_partial_and_importlib, "calls aelib.vae.log_mean_exp"),
    (running_sum_of_the_library, "calls aelib.vae.RunningLogSumExp"),
    (lambda vae, X, n_draws, rng: list(vae._decoded_draws(X, n_draws, rng)), "calls aelib.vae.VAE._decoded_draws"),
    (lambda vae, X, n_draws, rng: vae.log_joint(X, vae.encode(X)[0]), "calls aelib.vae.VAE.log_joint"),
    (through_the_decoder_network, "calls aelib.mlp.MLP.forward"),
    (library_source_run_as_mine, "calls aelib.vae.VAE._check"),
])
def test_importance_log_likelihood_names_more_mistakes(wrong, message):
    with np.errstate(all="ignore"), fails_with(message):
        check_importance_log_likelihood(wrong)


# Exercise 6.2: the continuous Bernoulli's log-normaliser.

def log_normalizer(x_hat):
    t = 1 - 2 * np.asarray(x_hat, dtype=float)
    near_half = np.abs(t) < 1e-3
    safe = np.where(near_half, 0.5, t)
    return np.where(near_half, np.log(2) + t ** 2 / 3 + 13 * t ** 4 / 90, np.log(2 * np.arctanh(safe) / safe))


def log_normalizer_from_logits(x_hat):
    # Another correct answer: the logit a, then log(a / tanh(a / 2)), with its limit at a = 0.
    x_hat = np.asarray(x_hat, dtype=float)
    a = np.log(x_hat) - np.log1p(-x_hat)
    out = np.full(x_hat.shape, np.log(2.0))
    nonzero = np.abs(a) > 1e-8
    out[nonzero] = np.log(a[nonzero] / np.tanh(a[nonzero] / 2))
    return out


def closed_form_only(x_hat):
    t = 1 - 2 * x_hat
    return np.log(2 * np.arctanh(t) / t)


def through_logs(x_hat):
    t = 1 - 2 * x_hat
    near_half = t == 0
    safe = np.where(near_half, 1.0, t)
    return np.where(near_half, np.log(2), np.log(np.log((1 + safe) / (1 - safe)) / safe))


def series_everywhere(x_hat):
    t = 1 - 2 * x_hat
    return np.log(2) + t ** 2 / 3 + 13 * t ** 4 / 90


def series_too_far(x_hat):
    t = 1 - 2 * x_hat
    safe = np.where(np.abs(t) < 0.1, 0.5, t)
    return np.where(np.abs(t) < 0.1, np.log(2) + t ** 2 / 3 + 13 * t ** 4 / 90, np.log(2 * np.arctanh(safe) / safe))


def series_without_its_second_term(x_hat):
    t = 1 - 2 * x_hat
    safe = np.where(np.abs(t) < 1e-2, 0.5, t)
    return np.where(np.abs(t) < 1e-2, np.log(2) + t ** 2 / 3, np.log(2 * np.arctanh(safe) / safe))


def test_log_normalizer_accepts_correct_answers(capsys):
    accepts(check_log_normalizer, log_normalizer, capsys)
    accepts(check_log_normalizer, log_normalizer_from_logits, capsys)


@pytest.mark.parametrize("wrong, message", [
    (closed_form_only, "at x_hat = 1/2 exactly your result is nan"),
    (through_logs, "wrong near x_hat = 1/2.*loses digits"),
    (series_everywhere, "right near x_hat = 1/2, wrong further out"),
    (series_too_far, "right near x_hat = 1/2, wrong further out"),
    (series_without_its_second_term, "right near x_hat = 1/2, wrong further out \\(at x_hat = 0.503\\)"),
    (lambda x_hat: np.exp(log_normalizer(x_hat)), "C\\(x_hat\\) itself; return its logarithm"),
    (lambda x_hat: log_normalizer(x_hat) - np.log(2), "log 2 too small"),
    (lambda x_hat: np.log(np.arctanh(2 * x_hat - 1) / (1 - 2 * x_hat)), "not a logarithm of a positive number"),
    (lambda x_hat: log_normalizer(x_hat).ravel(), "the shape is wrong"),
    (lambda x_hat: log_normalizer(x_hat).astype(np.float32), "float32.*float64"),
    (lambda x_hat: 1.01 * log_normalizer(x_hat), "relative difference"),
    (lambda x_hat: aelib.likelihoods.continuous_bernoulli_log_normalizer(np.log(x_hat) - np.log1p(-x_hat)),
     "calls aelib.likelihoods.continuous_bernoulli_log_normalizer"),
    (lambda x_hat: aelib.likelihoods.log_partition(np.zeros_like(x_hat), "bernoulli"), "calls aelib.likelihoods"),
    (not_implemented, "not implemented yet"),
])
def test_log_normalizer_names_the_mistake(wrong, message):
    with fails_with(message):
        check_log_normalizer(wrong)


def test_log_normalizer_must_not_change_its_input():
    def in_place(x_hat):
        x_hat *= 1.0
        x_hat -= 0.5
        return log_normalizer(x_hat + 0.5)

    with fails_with("changed x_hat in place"):
        check_log_normalizer(in_place)


def log_normalizer_by_entries(x_hat):
    # Another correct answer: one entry at a time with math, for any shape (0-D included).
    import math
    out = np.empty(np.shape(x_hat))
    for index in np.ndindex(out.shape):
        t = 1 - 2 * float(x_hat[index])
        out[index] = math.log(2) + t * t / 3 + 13 * t ** 4 / 90 if abs(t) < 1e-3 else math.log(2 * math.atanh(t) / t)
    return out


def log_normalizer_ratio_set_to_one(x_hat):
    t = 1 - 2 * x_hat
    return np.log(2 * np.divide(np.arctanh(t), t, out=np.ones_like(t), where=t != 0))


def log_normalizer_through_the_log_partition(x_hat):
    # log C = softplus(a) - F(a), with F(a) = log((e^a - 1) / a): accurate, since both use the same rounded ratio.
    a = np.log(x_hat / (1 - x_hat))
    safe = np.where(a == 0, 1.0, a)
    return np.log1p(np.exp(a)) - np.where(a == 0, 0.0, np.log((np.exp(safe) - 1) / safe))


@pytest.mark.parametrize("answer", [
    log_normalizer_by_entries,
    log_normalizer_ratio_set_to_one,
    log_normalizer_through_the_log_partition,
    lambda x_hat: np.where(1 - 2 * x_hat == 0, np.log(2), np.log(2 * np.arctanh(1 - 2 * x_hat) / (1 - 2 * x_hat))),
    lambda x_hat: np.nan_to_num(np.log(2 * np.arctanh(1 - 2 * x_hat) / (1 - 2 * x_hat)), nan=np.log(2)),
], ids=["entry by entry", "ratio set to 1 at 1/2", "softplus minus log-partition", "closed form but at 1/2",
        "NaN replaced by log 2"])
def test_log_normalizer_accepts_other_correct_answers(answer, capsys):
    with np.errstate(invalid="ignore", divide="ignore"):
        accepts(check_log_normalizer, answer, capsys)


def nudged_off_one_half(x_hat):
    x_hat = np.where(x_hat == 0.5, 0.5 + 1e-6, x_hat)
    return closed_form_only(x_hat)


def series_in_x_hat_minus_one_half(x_hat):
    t, d = 1 - 2 * x_hat, x_hat - 0.5
    safe = np.where(np.abs(t) < 1e-3, 0.5, t)
    return np.where(np.abs(t) < 1e-3, np.log(2) + d ** 2 / 3 + 13 * d ** 4 / 90, np.log(2 * np.arctanh(safe) / safe))


def logs_taken_apart(x_hat):
    t = 1 - 2 * x_hat
    safe = np.where(np.abs(t) < 1e-3, 0.5, t)
    return np.where(np.abs(t) < 1e-3, log_normalizer(x_hat), np.log(2) + np.log(np.arctanh(safe)) - np.log(safe))


def rows_and_columns(x_hat):
    out = np.empty(x_hat.shape)
    for i in range(x_hat.shape[0]):
        for j in range(x_hat.shape[1]):
            out[i, j] = log_normalizer(x_hat[i, j])
    return out


@pytest.mark.parametrize("wrong, message", [
    (nudged_off_one_half, "right everywhere but at x_hat = 1/2 exactly.*off by 1.3e-12.*Moving x_hat"),
    (lambda x_hat: np.nan_to_num(closed_form_only(x_hat)), "but at x_hat = 1/2 exactly, where your result is 0.0"),
    (lambda x_hat: np.where(np.abs(1 - 2 * x_hat) < 1e-3, np.log(2), log_normalizer(x_hat)),
     "wrong near x_hat = 1/2 \\(at x_hat = 0.5004.*check the terms of your series"),
    (series_in_x_hat_minus_one_half, "check the terms of your series"),
    (logs_taken_apart, "your result is nan at x_hat = 0.503.*log of the whole ratio"),
    (lambda x_hat: np.clip(log_normalizer(x_hat), None, 2.0), "right near x_hat = 1/2, wrong further out"),
    (rows_and_columns, "shape \\(41,\\)>\\) raised IndexError.*any shape"),
    (lambda x_hat: log_normalizer(x_hat.astype(np.float32)), "float32.*float64"),
])
def test_log_normalizer_names_more_mistakes(wrong, message):
    with np.errstate(invalid="ignore", divide="ignore"), fails_with(message):
        check_log_normalizer(wrong)


# Exercise 6.3: active units.

def active_units(mu, threshold=0.01):
    return np.var(mu, axis=0) > threshold


def active_units_by_hand(mu, threshold=0.01):
    centred = mu - mu.mean(axis=0)
    return (centred ** 2).sum(axis=0) / (len(mu) - 1) > threshold   # the unbiased variance: same answer here


def test_active_units_accepts_correct_answers(capsys):
    accepts(check_active_units, active_units, capsys)
    accepts(check_active_units, active_units_by_hand, capsys)


@pytest.mark.parametrize("wrong, message", [
    (lambda mu, threshold=0.01: np.std(mu, axis=0) > threshold, "compares the standard deviation"),
    (lambda mu, threshold=0.01: np.mean(mu ** 2, axis=0) > threshold, "uses the mean of mu\\^2"),
    (lambda mu, threshold=0.01: np.abs(mu.mean(axis=0)) > threshold, "looks at the mean of mu"),
    (lambda mu, threshold=0.01: np.var(mu, axis=0) > 0.01, "ignores the threshold argument"),
    (lambda mu, threshold=0.01: np.var(mu, axis=1) > threshold, "one value per sample: the variance is over the samples"),
    (lambda mu, threshold=0.01: np.sum(np.var(mu, axis=0) > threshold), "got the single number"),
    (lambda mu, threshold=0.01: np.flatnonzero(np.var(mu, axis=0) > threshold), "look like indices"),
    (lambda mu, threshold=0.01: np.var(mu, axis=0), "values other than True and False"),
    (lambda mu, threshold=0.01: np.var(mu, axis=0) < threshold, "True for the inactive coordinates"),
    (lambda mu, threshold=0.01: aelib.vae.active_units(mu, threshold), "calls aelib.vae.active_units"),
    (not_implemented, "not implemented yet"),
])
def test_active_units_names_the_mistake(wrong, message):
    with fails_with(message):
        check_active_units(wrong)


def active_units_welford(mu, threshold=0.01):
    # Another correct answer: a running mean and sum of squares, one sample at a time.
    mean, squares = np.zeros(mu.shape[1]), np.zeros(mu.shape[1])
    for count, row in enumerate(mu, start=1):
        delta = row - mean
        mean = mean + delta / count
        squares = squares + delta * (row - mean)
    return squares / len(mu) > threshold


@pytest.mark.parametrize("answer", [
    active_units_welford,
    lambda mu, threshold=0.01: [bool(np.var(column) > threshold) for column in mu.T],
    lambda mu, threshold=0.01: np.std(mu, axis=0) > np.sqrt(threshold),
    lambda mu, threshold=0.01: np.diag(np.atleast_2d(np.cov(mu.T))) > threshold,
], ids=["running variance", "list of booleans", "std against sqrt(threshold)", "np.cov, dividing by n - 1"])
def test_active_units_accepts_other_correct_answers(answer, capsys):
    accepts(check_active_units, answer, capsys)


def first_rows_only(mu, threshold=0.01):
    return np.var(mu[:100], axis=0) > threshold


@pytest.mark.parametrize("wrong, message", [
    (lambda mu, threshold=0.01: np.var(mu, axis=0) >= threshold, "equals the threshold as active.*>, not >="),
    (lambda mu, threshold=0.01: np.var(mu, axis=0, ddof=1) >= threshold, "equals the threshold as active"),
    (lambda mu, threshold=0.01: (np.var(mu, axis=0) > threshold).astype(int), "dtype int64; return booleans"),
    (lambda mu, threshold=0.1: np.var(mu, axis=0) > threshold, "default threshold must be 0.01"),
    (lambda mu, threshold=0.01: np.ptp(mu, axis=0) > threshold, "compares the range of mu"),
    (lambda mu, threshold=0.01: np.mean((mu - mu.mean()) ** 2, axis=0) > threshold,
     "subtracts the mean of all of mu"),
    (lambda mu, threshold=0.01: np.var(mu, axis=0) > threshold ** 2, "variance with threshold\\^2"),
    (lambda mu, threshold=0.01: np.sum((mu - mu.mean(axis=0)) ** 2, axis=0) > threshold,
     "without dividing by the number of samples"),
    (first_rows_only, "coordinate 7 \\(its variance over the samples is 0.4584\\).*expected: True actual: False"),
    (lambda mu, threshold=0.01: np.var(mu[1:], axis=0) > threshold, "6 samples.*coordinate 3"),
    (lambda mu, threshold=0.01: np.var(mu[:-1], axis=0) > threshold, "6 samples.*coordinate 4"),
    (lambda mu, threshold=0.01: np.var(mu, axis=0, keepdims=True) > threshold, "shape \\(8,\\).*shape \\(1, 8\\)"),
    (lambda mu, threshold=0.01: np.var(mu) > threshold, "got the single number"),
])
def test_active_units_names_more_mistakes(wrong, message):
    with fails_with(message):
        check_active_units(wrong)


def test_active_units_threshold_must_have_its_default():
    with fails_with("raised TypeError.*threshold has a default, 0.01"):
        check_active_units(lambda mu, threshold: np.var(mu, axis=0) > threshold)



# Exercise 6.6: the continuous Bernoulli's mean and its derivative, to the last digit.

def bernoulli_numbers(count):
    numbers = [Fraction(1)]
    for m in range(1, count + 1):
        numbers.append(-sum(comb(m + 1, k) * numbers[k] for k in range(m)) / (m + 1))
    return numbers


BERNOULLI = bernoulli_numbers(26)
# m - 1/2 = sum over n of B_2n a^(2n-1) / (2n)!, and its derivative term by term.
MEAN_SERIES = [float(BERNOULLI[2 * n] / factorial(2 * n)) for n in range(1, 13)]
VARIANCE_SERIES = [float(BERNOULLI[2 * n] * (2 * n - 1) / factorial(2 * n)) for n in range(1, 13)]


def mean_and_variance(a):
    # The series below |a| = 1, the closed forms above it (1/(4 sinh^2(a/2)) = e^-|a| / (1 - e^-|a|)^2).
    a = np.asarray(a, dtype=float)
    small = np.abs(a) < 1.0
    safe = np.where(small, 1.0, a)
    magnitude = np.abs(safe)
    mean = 0.5 + 0.5 / np.tanh(0.5 * safe) - 1.0 / safe
    variance = (1.0 / magnitude) ** 2 - np.exp(-magnitude) / np.expm1(-magnitude) ** 2
    a2 = a * a
    return (np.where(small, 0.5 + a * np.polyval(MEAN_SERIES[::-1], a2), mean),
            np.where(small, np.polyval(VARIANCE_SERIES[::-1], a2), variance))


def sinh_ratios(a):
    # Another correct answer: with h = a/2 and the ratios S = sinh(h)/h, T = (sinh(h) - h)/h^3 and
    # U = (h cosh(h) - sinh(h))/h^3, each a series of factorials for small h,
    # m = 1/2 + h U / (2 S) and m' = T (S + 1) / (4 S^2), with nothing left to cancel.
    a = np.asarray(a, dtype=float)
    h = 0.5 * a
    small = np.abs(h) < 0.5
    hs = np.where(small, h, 0.0)
    S, T, U = np.ones_like(hs), np.zeros_like(hs), np.zeros_like(hs)
    power = np.ones_like(hs)   # h^(2k - 2)
    for k in range(1, 14):
        factorial_odd = factorial(2 * k + 1)
        T = T + power / factorial_odd
        U = U + 2 * k * power / factorial_odd
        power = power * hs * hs
        S = S + power / factorial_odd
    safe = np.where(small, 1.0, h)
    with np.errstate(over="ignore"):
        mean_large = 0.5 + 0.5 / np.tanh(safe) - 0.5 / safe
        variance_large = (0.5 / safe) ** 2 - 0.25 / np.sinh(safe) ** 2
    return (np.where(small, 0.5 + hs * U / (2 * S), mean_large),
            np.where(small, T * (S + 1) / (4 * S * S), variance_large))


def piecewise_fractions(a):
    # Another correct answer: np.piecewise, the switch at 0.4, the series written out.
    a = np.asarray(a)
    near = np.abs(a) < 0.4

    def mean_series(x):
        return 0.5 + x / 12 - x ** 3 / 720 + x ** 5 / 30240 - x ** 7 / 1209600 + x ** 9 / 47900160

    def variance_series(x):
        x2 = x * x
        return (1 / 12 - x2 / 240 + x2 ** 2 / 6048 - x2 ** 3 / 172800 + x2 ** 4 / 5322240
                - 691 * x2 ** 5 / 118879488000 + x2 ** 6 / 5748019200)

    def mean_closed(x):
        return 0.5 + 1 / (2 * np.tanh(x / 2)) - 1 / x

    def variance_closed(x):
        e = np.exp(-np.abs(x))
        return 1 / x ** 2 - e / (1 - e) ** 2

    return (np.piecewise(a, [near, ~near], [mean_series, mean_closed]),
            np.piecewise(a, [near, ~near], [variance_series, variance_closed]))


def listed(a):
    # Another correct answer: a list of the two arrays, each entry computed on its own.
    values = [mean_and_variance(np.array(x)) for x in np.ravel(a)]
    return [np.reshape([m for m, _ in values], np.shape(a)), np.reshape([v for _, v in values], np.shape(a))]


@pytest.mark.parametrize("answer", [mean_and_variance, sinh_ratios, piecewise_fractions, listed],
                         ids=["Bernoulli-number series", "ratios of sinh", "np.piecewise", "entry by entry"])
def test_mean_and_variance_accepts_correct_answers(answer, capsys):
    accepts(check_mean_and_variance, answer, capsys)


def closed_forms(a):
    with np.errstate(all="ignore"):
        return 0.5 + 0.5 / np.tanh(a / 2) - 1 / a, 1 / a ** 2 - 1 / (4 * np.sinh(a / 2) ** 2)


def zero_moved(a):
    return closed_forms(np.where(a == 0, 1e-8, a))


def series_only_below(threshold, terms=12):
    def answer(a):
        a = np.asarray(a, dtype=float)
        closed_m, closed_v = closed_forms(a)
        a2 = a * a
        series_m = 0.5 + a * np.polyval(MEAN_SERIES[:terms][::-1], a2)
        series_v = np.polyval(VARIANCE_SERIES[:terms][::-1], a2)
        near = np.abs(a) < threshold
        return np.where(near, series_m, closed_m), np.where(near, series_v, closed_v)
    return answer


def replace_variance(formula):
    """The right mean and, beyond the series (|a| >= 1), the variance of ``formula(a, m)``."""
    def answer(a):
        m, v = mean_and_variance(a)
        with np.errstate(all="ignore"):
            return m, np.where(np.abs(a) < 1, v, formula(a, m))
    return answer


def replace_mean(formula):
    def answer(a):
        m, v = mean_and_variance(a)
        with np.errstate(all="ignore"):
            return np.where(np.abs(a) < 1, m, formula(a)), v
    return answer


def sigmoid(a):
    with np.errstate(over="ignore"):
        return 1 / (1 + np.exp(-a))


def central_differences(a, h=1e-5):
    return mean_and_variance(a)[0], (mean_and_variance(a + h)[0] - mean_and_variance(a - h)[0]) / (2 * h)


def richardson(a, h=1e-3):
    def slope(step):
        return (mean_and_variance(a + step)[0] - mean_and_variance(a - step)[0]) / (2 * step)
    return mean_and_variance(a)[0], (4 * slope(h / 2) - slope(h)) / 3


def stable_mean(a):
    small = np.abs(a) < 0.1
    safe = np.where(small, 1.0, a)
    return np.where(small, 0.5 + a / 12 - a ** 3 / 720 + a ** 5 / 30240 - a ** 7 / 1209600,
                    0.5 + 0.5 / np.tanh(0.5 * safe) - 1.0 / safe)


def complex_step(a):
    # Exact to rounding: the check refuses it because it evaluates the mean instead of
    # differentiating it.
    return stable_mean(np.asarray(a, dtype=float)), stable_mean(a + 1e-30j).imag / 1e-30


def complex_step_by_dtype(a):
    shifted = np.asarray(a, dtype="complex128")
    shifted.imag = 1e-30
    return stable_mean(np.asarray(a, dtype=float)), np.imag(stable_mean(shifted)) * 1e30


def in_float32(a):
    m, v = piecewise_fractions(np.asarray(a).astype(np.float32))
    return m.astype(np.float64), v.astype(np.float64)


def logits_rounded_to_float32(a):
    # The right formulas, on logits rounded to float32 on the way in: wrong only where a is not
    # a float32 number, by float32's rounding.
    return mean_and_variance(np.asarray(a, dtype=np.float32).astype(np.float64))


def aelib_by_another_route(a):
    likelihoods = importlib.import_module("aelib.likelihoods")
    return likelihoods.mean(a, "continuous-bernoulli"), likelihoods.continuous_bernoulli_variance(a)


@pytest.mark.parametrize("wrong, message", [
    (closed_forms, "the mean m: wrong near a = 0 only, and the worse the closer to 0 \\(at a = 0.0, relative "
                   "error nan\\).*cancel.*Taylor series of the mean"),
    (zero_moved, "the mean m: wrong near a = 0 only, and the worse the closer to 0.*cancel"),
    (series_only_below(1e-4), "the derivative v: wrong near a = 0 only, and the worse the closer to 0.*1/a\\^2 and "
                              "1/\\(4 sinh\\^2\\(a/2\\)\\) cancel"),
    (series_only_below(1.0, terms=2), "the mean m: wrong near a = 0 only, and the worse the further from 0.*a "
                                      "Taylor series used where its left-out terms still count"),
    (series_only_below(1.0, terms=6), "the worse the further from 0.*Add terms"),
    # A series switched too late, beyond |a| = 2: not float32, although it keeps only a few digits there.
    (series_only_below(3.0, terms=12), "the mean m: right for \\|a\\| > 2.5, wrong below, and the worse the "
                                       "further from 0.*Taylor series used where its left-out terms still count"),
    (series_only_below(5.0, terms=12), "right for \\|a\\| > 3.5, wrong below.*Add terms"),
    (replace_mean(sigmoid), "the mean m: your result is sigmoid\\(a\\) = x_hat.*parameter, not its mean"),
    (replace_mean(lambda a: 0.5 + 0.5 / np.tanh(a) - 1 / a), "has tanh\\(a\\) where \\(8\\) has tanh\\(a/2\\)"),
    (replace_mean(lambda a: 0.5 / np.tanh(a / 2) - 1 / a), "leaves out the 1/2 of \\(8\\)"),
    (replace_mean(lambda a: 0.5 + 0.5 / np.tanh(a / 2) + 1 / a), "adds 1/a; \\(8\\) subtracts it"),
    (replace_variance(lambda a, m: sigmoid(a) * (1 - sigmoid(a))), "x_hat \\(1 - x_hat\\), the Bernoulli's variance"),
    (replace_variance(lambda a, m: m * (1 - m)), "is m \\(1 - m\\), the Bernoulli's formula"),
    (replace_variance(lambda a, m: 1 / (4 * np.sinh(a / 2) ** 2) - 1 / a ** 2), "has the wrong sign"),
    (replace_variance(lambda a, m: 1 / a ** 2 - 1 / np.sinh(a / 2) ** 2), "leaves out the 4 of 4 sinh\\^2\\(a/2\\)"),
    (replace_variance(lambda a, m: 1 / a ** 2 - 1 / (4 * np.sinh(a) ** 2)), "has sinh\\(a\\) where"),
    (replace_variance(lambda a, m: 1 / a - 1 / (4 * np.sinh(a / 2) ** 2)), "differentiates -1/a into 1/a"),
    (replace_variance(lambda a, m: (1 / a ** 2 - 1 / (4 * np.sinh(a / 2) ** 2)) / (sigmoid(a) * (1 - sigmoid(a)))),
     "derivative with respect to x_hat"),
    (replace_variance(lambda a, m: m * (1 - m) - (2 * m - 1) / a),
     "the derivative v: right for small and moderate a, wrong for large \\|a\\|.*cancellation"),
    (replace_variance(lambda a, m: 1 / a ** 2 - np.exp(a) / (np.exp(a) - 1) ** 2),
     "wrong for large \\|a\\| \\(at a = 710.0, relative error nan\\).*Overflow"),
    (central_differences, "the derivative v: agrees with the exact value to only about 9 significant digits.*"
                          "finite differences"),
    (richardson, "to only about 11 significant digits.*finite differences.*or an extrapolation"),
    (complex_step, "computes with complex numbers \\(the complex number 1e-30j\\): that is the complex step"),
    (complex_step_by_dtype, "computes with complex numbers \\(the dtype 'complex128'\\)"),
    (lambda a: (stable_mean(a), np.imag(stable_mean(a + 0j))), "computes with complex numbers"),
    (in_float32, "the mean m: agrees with the exact value to only about 6 significant digits.*float32"),
    (logits_rounded_to_float32, "the mean m: agrees with the exact value to only .* and your code computes with "
                                "float32 \\(`float32`\\)"),
    (lambda a: tuple(x.astype(np.float32) for x in mean_and_variance(a)), "m: your result is float32"),
    (aelib_by_another_route, "calls aelib.likelihoods.mean, which is part of aelib"),
    (lambda a: aelib.likelihoods.continuous_bernoulli_mean(a), "calls aelib.likelihoods.continuous_bernoulli_mean"),
    (lambda a: mean_and_variance(a)[::-1], "you returned \\(v, m\\); return the mean first"),
    (lambda a: mean_and_variance(a)[1], "returned one array of a's shape; return the pair \\(m, v\\)"),
    (lambda a: (*mean_and_variance(a), a), "must return a pair \\(m, v\\).*tuple of length 3"),
    (lambda a: tuple(np.ravel(x) for x in mean_and_variance(a)), "the shape is wrong"),
    (not_implemented, "not implemented yet"),
])
def test_mean_and_variance_names_the_mistake(wrong, message):
    with fails_with(message):
        check_mean_and_variance(wrong)


def test_mean_and_variance_leaves_its_argument_alone():
    def in_place(a):
        m, v = mean_and_variance(a.copy())
        a *= 0
        return m, v

    with fails_with("changed a in place"):
        check_mean_and_variance(in_place)
