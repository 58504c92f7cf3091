"""The exercise checks of chapter 3 accept correct answers written in several ways, reject the
plausible wrong ones with a message that names the mistake, and say "not implemented yet" for
an untouched stub."""

import functools

import numpy as np
import pytest
from check_failures import accepts, fails_with, forbid_training, not_implemented

import aelib
from aelib.checks import (check_decode_slice, check_encoder_output_error, check_kl_divergence,
                          check_reparametrization_grads, check_vae_backward)


# Exercise 3.1: the KL divergence of a diagonal Gaussian from N(0, I).

def kl_divergence(mu, logvar):
    return 0.5 * np.sum(mu ** 2 + np.exp(logvar) - logvar - 1, axis=1)


def kl_by_loops(mu, logvar):
    result = np.zeros(len(mu))
    for i in range(mu.shape[0]):
        for u in range(mu.shape[1]):
            sigma = np.exp(0.5 * logvar[i, u])
            result[i] += 0.5 * (mu[i, u] ** 2 + sigma ** 2 - 2 * np.log(sigma) - 1)
    return result


def kl_by_einsum(mu, logvar):
    return -0.5 * (np.einsum("iu,iu->i", -mu, -mu) * -1 + np.sum(1 + logvar - np.exp(logvar), axis=1))


@pytest.mark.parametrize("solution", [kl_divergence, kl_by_loops, kl_by_einsum])
def test_kl_divergence_accepts_correct_answers(solution, capsys):
    accepts(check_kl_divergence, solution, capsys)


@pytest.mark.parametrize("wrong, message", [
    (lambda mu, logvar: np.sum(mu ** 2 + np.exp(logvar) - logvar - 1, axis=1), "factor 1/2"),
    (lambda mu, logvar: 0.5 * np.sum(1 + logvar - mu ** 2 - np.exp(logvar), axis=1), "wrong sign"),
    (lambda mu, logvar: 0.5 * np.sum(mu ** 2 + np.exp(0.5 * logvar) - logvar - 1, axis=1), "standard deviation"),
    (lambda mu, logvar: 0.5 * np.sum(mu ** 2 + np.exp(2 * logvar) - 2 * logvar - 1, axis=1), "log sigma\\^2"),
    (lambda mu, logvar: 0.5 * np.sum(mu ** 2 + np.exp(logvar) - 0.5 * logvar - 1, axis=1), "halves the log term"),
    (lambda mu, logvar: 0.5 * np.mean(mu ** 2 + np.exp(logvar) - logvar - 1, axis=1), "np.mean"),
    (lambda mu, logvar: 0.5 * np.sum(np.exp(logvar) - logvar - 1, axis=1), "leaves out mu\\^2"),
    (lambda mu, logvar: 0.5 * np.sum(mu + np.exp(logvar) - logvar - 1, axis=1), "adds mu where mu\\^2"),
    (lambda mu, logvar: 0.5 * np.sum(mu ** 2 + np.exp(logvar) + logvar - 1, axis=1), "adds logvar"),
    (lambda mu, logvar: 0.5 * np.sum(mu ** 2 + np.exp(logvar) - 1, axis=1), "leaves out the term - log"),
    (lambda mu, logvar: 0.5 * np.sum(mu ** 2 + np.exp(logvar) - logvar, axis=1), "- 1 inside the sum"),
    (lambda mu, logvar: 0.5 * np.sum(mu ** 2, axis=1), "every term with logvar"),
    (lambda mu, logvar: 0.5 * (mu ** 2 + np.exp(logvar) - logvar - 1), "one value per latent coordinate"),
    (lambda mu, logvar: 0.5 * np.sum(mu ** 2 + np.exp(logvar) - logvar - 1), "one value per sample"),
    (lambda mu, logvar: 0.5 * np.sum(mu ** 2 + np.exp(logvar) - logvar - 1, axis=0), "one value per sample"),
    (lambda mu, logvar: 0.5 * np.sum(mu ** 2 + np.exp(logvar) - logvar - 1, axis=1, keepdims=True), "keepdims"),
    # Two coordinates written out: right for k = 2 only.
    (lambda mu, logvar: 0.5 * (mu[:, 0] ** 2 + mu[:, 1] ** 2 + np.exp(logvar[:, 0]) + np.exp(logvar[:, 1])
                               - logvar[:, 0] - logvar[:, 1] - 2), "only the first 2 latent coordinate"),
    # log(exp(logvar)) is logvar only while exp(logvar) stays above the smallest float.
    (lambda mu, logvar: 0.5 * np.sum(mu ** 2 + np.exp(logvar) - np.log(np.exp(logvar) + 1e-12) - 1, axis=1),
     "logvar from -30 to 30"),
    (lambda mu, logvar: kl_divergence(mu.astype(np.float32), logvar.astype(np.float32)), "float64"),
    (lambda mu, logvar: np.zeros(len(mu)), "4 samples with 3 latent"),
    (lambda mu, logvar: "KL", "expected a number or an array"),
])
def test_kl_divergence_rejects_mistakes(wrong, message):
    with fails_with(message):
        check_kl_divergence(wrong)


def kl_squeezed(mu, logvar):
    # Right for several samples; for one sample np.squeeze leaves a bare number, shape ().
    return np.squeeze(0.5 * np.sum(mu ** 2 + np.exp(logvar) - logvar - 1, axis=1, keepdims=True))


def kl_minus_one_once(mu, logvar):
    return 0.5 * (np.sum(mu ** 2 + np.exp(logvar) - logvar, axis=1) - 1)


def kl_with_sigma_in_float32(mu, logvar):
    # The result is float64, but sigma went through float32: 7 digits.
    sigma = np.exp(0.5 * logvar).astype(np.float32)
    return 0.5 * np.sum(mu ** 2 + sigma.astype(np.float64) ** 2 - logvar - 1, axis=1)


@pytest.mark.parametrize("wrong, message", [
    (kl_squeezed, r"1 sample with 1 latent coordinate: got a single number, shape \(\).*do not squeeze"),
    (kl_minus_one_once, "subtracts 1 once per sample"),
    (kl_with_sigma_in_float32, r"your code computes with float32 \(`float32`\)"),
])
def test_kl_divergence_names_what_the_values_alone_would_not(wrong, message):
    with fails_with(message):
        check_kl_divergence(wrong)


def test_kl_divergence_rejects_changing_the_input():
    def in_place(mu, logvar):
        mu **= 2
        return 0.5 * np.sum(mu + np.exp(logvar) - logvar - 1, axis=1)

    with fails_with("changed mu in place"):
        check_kl_divergence(in_place)


def test_kl_divergence_rejects_numpys_global_generator():
    def noisy(mu, logvar):
        np.random.seed(0)
        return kl_divergence(mu, logvar)

    with fails_with("global random generator"):
        check_kl_divergence(noisy)


def test_kl_divergence_reports_a_crash_with_its_input():
    with fails_with("raised ZeroDivisionError"):
        check_kl_divergence(lambda mu, logvar: 1 / 0)


def test_kl_divergence_stub_is_not_implemented_yet():
    with fails_with("not implemented yet"):
        check_kl_divergence(not_implemented)


def test_kl_divergence_rejects_aelibs_own_by_every_route():
    from aelib.vae import kl_divergence as imported

    def from_its_gradient(mu, logvar):
        dmu, dlogvar = aelib.vae.kl_divergence_grads(mu, logvar)
        return 0.5 * np.sum(mu * dmu + 2 * dlogvar + 1 - logvar - 1, axis=1)

    for answer, called in [(lambda mu, logvar: aelib.vae.kl_divergence(mu, logvar), "kl_divergence"),
                           (imported, "kl_divergence"), (from_its_gradient, "kl_divergence_grads")]:
        with fails_with(f"calls aelib.vae.{called}, which is part of aelib"):
            check_kl_divergence(answer)


# Exercise 3.2: the gradient through z = mu + exp(logvar / 2) * eps.

def reparametrization_grads(dZ, eps, logvar):
    return dZ, dZ * eps * 0.5 * np.exp(0.5 * logvar)


def reparametrization_grads_via_sqrt(dZ, eps, logvar):
    sigma = np.sqrt(np.exp(logvar))
    return dZ.copy(), dZ * (sigma * eps) / 2


def reparametrization_grads_by_loops(dZ, eps, logvar):
    dmu, dlogvar = np.empty_like(dZ), np.empty_like(dZ)
    for index in np.ndindex(dZ.shape):
        dmu[index] = dZ[index]
        dlogvar[index] = dZ[index] * eps[index] * np.exp(logvar[index] / 2) / 2
    return [dmu, dlogvar]


@pytest.mark.parametrize("solution", [reparametrization_grads, reparametrization_grads_via_sqrt,
                                      reparametrization_grads_by_loops])
def test_reparametrization_grads_accepts_correct_answers(solution, capsys):
    accepts(check_reparametrization_grads, solution, capsys)


def central_difference_of_sigma(dZ, eps, logvar, h=1e-5):
    dsigma = (np.exp(0.5 * (logvar + h)) - np.exp(0.5 * (logvar - h))) / (2 * h)
    return dZ, dZ * eps * dsigma


def forward_difference_of_sigma(dZ, eps, logvar, h=1e-7):
    return dZ, dZ * eps * (np.exp(0.5 * (logvar + h)) - np.exp(0.5 * logvar)) / h


def five_point_stencil_of_sigma(dZ, eps, logvar, h=3e-3):
    # Agrees with the exact derivative to about 13 digits.
    def sigma(lv):
        return np.exp(0.5 * lv)

    return dZ, dZ * eps * (-sigma(logvar + 2 * h) + 8 * sigma(logvar + h) - 8 * sigma(logvar - h)
                           + sigma(logvar - 2 * h)) / (12 * h)


@pytest.mark.parametrize("wrong, message", [
    (lambda dZ, eps, logvar: (dZ, dZ * eps * np.exp(0.5 * logvar)), "factor 1/2"),
    (lambda dZ, eps, logvar: (dZ, 0.5 * dZ * eps * np.exp(logvar)), "exp\\(logvar\\), the variance;"),
    (lambda dZ, eps, logvar: (dZ, dZ * eps * np.exp(logvar)), "variance, and misses the 1/2"),
    (lambda dZ, eps, logvar: (dZ, 0.5 * dZ * np.exp(0.5 * logvar)), "missing eps"),
    (lambda dZ, eps, logvar: (dZ, 0.5 * dZ * eps), "missing sigma"),
    (lambda dZ, eps, logvar: (dZ, dZ * eps), "dL/dsigma"),
    (lambda dZ, eps, logvar: (dZ, -0.5 * dZ * eps * np.exp(0.5 * logvar)), "dlogvar .* wrong sign"),
    (lambda dZ, eps, logvar: (dZ, 0.5 * dZ * eps * np.exp(0.5 * logvar) + 0.5 * (np.exp(logvar) - 1)),
     "KL term"),
    (lambda dZ, eps, logvar: (dZ * eps, 0.5 * dZ * eps * np.exp(0.5 * logvar)), "multiplies dZ by eps"),
    (lambda dZ, eps, logvar: (dZ * np.exp(0.5 * logvar), 0.5 * dZ * eps * np.exp(0.5 * logvar)),
     "multiplies dZ by sigma;"),
    (lambda dZ, eps, logvar: (-dZ, 0.5 * dZ * eps * np.exp(0.5 * logvar)), "dmu .* wrong sign"),
    (lambda dZ, eps, logvar: (0.5 * dZ * eps * np.exp(0.5 * logvar), dZ), "\\(dlogvar, dmu\\)"),
    (lambda dZ, eps, logvar: (dZ, np.zeros_like(dZ)), "dlogvar for"),
    (lambda dZ, eps, logvar: (np.zeros_like(dZ), np.zeros_like(dZ)), "dmu for"),
    (lambda dZ, eps, logvar: 0.5 * dZ * eps * np.exp(0.5 * logvar), "two arrays"),
    (lambda dZ, eps, logvar: (dZ.T, 0.5 * dZ * eps * np.exp(0.5 * logvar)), "shape"),
    (central_difference_of_sigma, "nudged logvar by a small step"),
    (forward_difference_of_sigma, "nudged logvar by a small step"),
    (five_point_stencil_of_sigma, "nudged logvar by a small step"),
    # The same step on a plain copy: no nudge is seen, the accuracy shows.
    (lambda dZ, eps, logvar: central_difference_of_sigma(dZ, eps, np.array(logvar)), "finite differences"),
    (lambda dZ, eps, logvar: tuple(a.astype(np.float32) for a in reparametrization_grads(dZ, eps, logvar)),
     "computes in float64"),
    # Right for the first input only: the answer hard-codes its shape.
    (lambda dZ, eps, logvar: (dZ.reshape(5, 2), 0.5 * dZ * eps * np.exp(0.5 * logvar)), "raised ValueError"),
])
def test_reparametrization_grads_rejects_mistakes(wrong, message):
    with fails_with(message):
        check_reparametrization_grads(wrong)


def complex_step_of_sigma(dZ, eps, logvar, h=1e-20):
    # Im exp((logvar + ih) / 2) / h is exp(logvar / 2) / 2 to rounding: exact, and not the chain rule.
    return dZ, dZ * eps * np.imag(np.exp(0.5 * (np.asarray(logvar) + 1j * h))) / h


def complex_step_with_a_step_array(dZ, eps, logvar, h=1e-20):
    step = np.full(logvar.shape, 1j * h)
    return dZ, dZ * eps * np.exp(0.5 * (logvar + step)).imag / h


def complex_step_by_astype(dZ, eps, logvar, h=1e-20):
    shifted = logvar.astype(complex)
    shifted.imag = h
    return dZ, dZ * eps * np.exp(0.5 * shifted).imag / h


def complex_step_with_cmath(dZ, eps, logvar, h=1e-20):
    import cmath
    dsigma = np.array([[cmath.exp(0.5 * complex(value, h)).imag / h for value in row] for row in np.asarray(logvar)])
    return dZ, dZ * eps * dsigma


def eighth_order_stencil_of_sigma(dZ, eps, logvar, h=0.05):
    # A step of 0.05, too large to count as a nudge; agrees with sigma / 2 to about 14 digits.
    weights = [4 / 5, -1 / 5, 4 / 105, -1 / 280]
    dsigma = sum(w * (np.exp(0.5 * (logvar + j * h)) - np.exp(0.5 * (logvar - j * h)))
                 for j, w in enumerate(weights, start=1)) / h
    return dZ, dZ * eps * dsigma


def reparametrization_grads_with_sigma_in_float32(dZ, eps, logvar):
    sigma = np.exp(0.5 * logvar.astype(np.float32))
    return dZ, 0.5 * dZ * eps * sigma  # float64 again, with 7 digits


@pytest.mark.parametrize("wrong, message", [
    (complex_step_of_sigma, r"complex numbers \(the complex number 1j\): that is the complex-step method"),
    (complex_step_with_a_step_array, "complex-step method"),
    (complex_step_by_astype, r"complex numbers \(`complex`\)"),
    (complex_step_with_cmath, r"complex numbers \(`cmath`\)"),
    (eighth_order_stencil_of_sigma, r"shifted logvar by constant steps \(0.05, 0.1, 0.15, 0.2\)"),
    (reparametrization_grads_with_sigma_in_float32, "dlogvar .* your code computes with float32"),
])
def test_reparametrization_grads_rejects_exact_numerical_derivatives(wrong, message):
    # These used to pass: the complex step is exact, a high-order stencil with a large step
    # agrees to 14 digits, and a float32 step was called finite differences.
    with fails_with(message):
        check_reparametrization_grads(wrong)


def test_reparametrization_grads_rejects_changing_the_input():
    def in_place(dZ, eps, logvar):
        logvar *= 0.5
        return dZ, dZ * eps * 0.5 * np.exp(logvar)

    with fails_with("changed logvar in place"):
        check_reparametrization_grads(in_place)


def test_reparametrization_grads_rejects_aelibs_reparametrization():
    def through_aelib(dZ, eps, logvar, h=1e-5):
        mu = np.zeros_like(dZ)
        plus = aelib.vae.reparametrize(mu, logvar + h, eps)
        minus = aelib.vae.reparametrize(mu, logvar - h, eps)
        return dZ, dZ * (plus - minus) / (2 * h)

    with fails_with("calls aelib.vae.reparametrize, which is part of aelib"):
        check_reparametrization_grads(through_aelib)


def test_reparametrization_grads_stub_is_not_implemented_yet():
    with fails_with("not implemented yet"):
        check_reparametrization_grads(not_implemented)


# Exercise 3.5: the encoder's output error Delta of equation (12).

def encoder_output_error(dZ, mu, logvar, eps, beta):
    n = len(dZ)
    sigma = np.exp(0.5 * logvar)
    return np.hstack([dZ + beta / n * mu, 0.5 * dZ * sigma * eps + beta / n * 0.5 * (sigma ** 2 - 1)])


def encoder_output_error_by_columns(dZ, mu, logvar, eps, beta):
    n, k = mu.shape
    Delta = np.zeros((n, 2 * k))
    for u in range(k):
        Delta[:, u] = dZ[:, u] + beta * mu[:, u] / mu.shape[0]
        Delta[:, k + u] = (dZ[:, u] * eps[:, u] * np.sqrt(np.exp(logvar[:, u]))
                           + beta * (np.exp(logvar[:, u]) - 1) / n) / 2
    return Delta


def encoder_output_error_by_concatenate(dZ, mu, logvar, eps, beta):
    weight = beta / dZ.shape[0]
    dmu = dZ + weight * mu
    dlogvar = dZ * eps * np.exp(logvar / 2) / 2 + weight * (np.exp(logvar) - 1) / 2
    return np.concatenate([dmu, dlogvar], axis=1)


@pytest.mark.parametrize("solution", [encoder_output_error, encoder_output_error_by_columns,
                                      encoder_output_error_by_concatenate])
def test_encoder_output_error_accepts_correct_answers(solution, capsys):
    accepts(check_encoder_output_error, solution, capsys)


def delta(dmu, dlogvar):
    return lambda dZ, mu, logvar, eps, beta: np.hstack([dmu(dZ, mu, logvar, eps, beta, len(dZ)),
                                                        dlogvar(dZ, mu, logvar, eps, beta, len(dZ))])


def right_dmu(dZ, mu, logvar, eps, beta, n):
    return dZ + beta / n * mu


def right_dlogvar(dZ, mu, logvar, eps, beta, n):
    return 0.5 * dZ * np.exp(0.5 * logvar) * eps + beta / n * 0.5 * (np.exp(logvar) - 1)


def central_differences_of_the_kl_term(dZ, mu, logvar, eps, beta, h=1e-6):
    # The KL term's gradient by central differences of the closed form (4), the rest exact.
    def kl(mu, logvar):
        return 0.5 * np.sum(mu ** 2 + np.exp(logvar) - logvar - 1)

    n = len(dZ)
    dkl_dmu, dkl_dlogvar = np.zeros_like(mu), np.zeros_like(mu)
    for index in np.ndindex(mu.shape):
        step = np.zeros_like(mu)
        step[index] = h
        dkl_dmu[index] = (kl(mu + step, logvar) - kl(mu - step, logvar)) / (2 * h)
        dkl_dlogvar[index] = (kl(mu, logvar + step) - kl(mu, logvar - step)) / (2 * h)
    return np.hstack([dZ + beta / n * dkl_dmu, 0.5 * dZ * np.exp(0.5 * logvar) * eps + beta / n * dkl_dlogvar])


@pytest.mark.parametrize("wrong, message", [
    (delta(right_dmu, lambda dZ, mu, lv, eps, beta, n: dZ * np.exp(0.5 * lv) * eps + beta / n * 0.5 * (np.exp(lv) - 1)),
     "1/2 of the reparametrization path"),
    (delta(right_dmu, lambda dZ, mu, lv, eps, beta, n: 0.5 * dZ * np.exp(0.5 * lv) * eps + beta / n * (np.exp(lv) - 1)),
     "1/2 of the KL term's logvar gradient"),
    (delta(right_dmu, lambda dZ, mu, lv, eps, beta, n: 0.5 * dZ * np.exp(lv) * eps + beta / n * 0.5 * (np.exp(lv) - 1)),
     "uses the variance exp\\(logvar\\) in the path through z"),
    (delta(lambda dZ, mu, lv, eps, beta, n: dZ + mu / n,
           lambda dZ, mu, lv, eps, beta, n: 0.5 * dZ * np.exp(0.5 * lv) * eps + 0.5 * (np.exp(lv) - 1) / n),
     "forgets beta"),
    (delta(lambda dZ, mu, lv, eps, beta, n: dZ + beta * mu,
           lambda dZ, mu, lv, eps, beta, n: 0.5 * dZ * np.exp(0.5 * lv) * eps + beta * 0.5 * (np.exp(lv) - 1)),
     "beta, not beta / n"),
    (delta(lambda dZ, mu, lv, eps, beta, n: dZ + beta / dZ.size * mu,
           lambda dZ, mu, lv, eps, beta, n: 0.5 * dZ * np.exp(0.5 * lv) * eps + beta / dZ.size * 0.5 * (np.exp(lv) - 1)),
     "n \\* k"),
    (delta(lambda dZ, mu, lv, eps, beta, n: dZ / n + beta / n * mu,
           lambda dZ, mu, lv, eps, beta, n: 0.5 * dZ / n * np.exp(0.5 * lv) * eps + beta / n * 0.5 * (np.exp(lv) - 1)),
     "divides dZ by n again"),
    (delta(lambda dZ, mu, lv, eps, beta, n: dZ, lambda dZ, mu, lv, eps, beta, n: 0.5 * dZ * np.exp(0.5 * lv) * eps),
     "leaves out the KL term"),
    (delta(lambda dZ, mu, lv, eps, beta, n: dZ - beta / n * mu,
           lambda dZ, mu, lv, eps, beta, n: 0.5 * dZ * np.exp(0.5 * lv) * eps - beta / n * 0.5 * (np.exp(lv) - 1)),
     "KL gradient with the wrong sign"),
    (delta(lambda dZ, mu, lv, eps, beta, n: beta / n * mu - dZ,
           lambda dZ, mu, lv, eps, beta, n: beta / n * 0.5 * (np.exp(lv) - 1) - 0.5 * dZ * np.exp(0.5 * lv) * eps),
     "path through z with the wrong sign"),
    (delta(right_dmu, lambda dZ, mu, lv, eps, beta, n: beta / n * 0.5 * (np.exp(lv) - 1)), "drops the path through z"),
    (delta(right_dmu, lambda dZ, mu, lv, eps, beta, n: 0.5 * dZ * np.exp(0.5 * lv) + beta / n * 0.5 * (np.exp(lv) - 1)),
     "drops eps"),
    (delta(lambda dZ, mu, lv, eps, beta, n: beta / n * mu, right_dlogvar), "drops dZ from dL/dmu"),
    (delta(right_dlogvar, right_dmu), "halves swapped"),
    (lambda dZ, mu, logvar, eps, beta: np.stack([right_dmu(dZ, mu, logvar, eps, beta, len(dZ)),
                                                 right_dlogvar(dZ, mu, logvar, eps, beta, len(dZ))],
                                                axis=2).reshape(len(dZ), -1), "interleaves"),
    (lambda dZ, mu, logvar, eps, beta: np.vstack([right_dmu(dZ, mu, logvar, eps, beta, len(dZ)),
                                                  right_dlogvar(dZ, mu, logvar, eps, beta, len(dZ))]), "np.vstack"),
    (lambda dZ, mu, logvar, eps, beta: (right_dmu(dZ, mu, logvar, eps, beta, len(dZ)),
                                        right_dlogvar(dZ, mu, logvar, eps, beta, len(dZ))), "np.hstack"),
    (lambda dZ, mu, logvar, eps, beta: right_dmu(dZ, mu, logvar, eps, beta, len(dZ)), "shape"),
    # The batch size of the first input hard-coded.
    (lambda dZ, mu, logvar, eps, beta: encoder_output_error(dZ, mu, logvar, eps, beta) * 0
     + np.hstack([dZ + beta / 5 * mu, 0.5 * dZ * np.exp(0.5 * logvar) * eps + beta / 5 * 0.5 * (np.exp(logvar) - 1)]),
     "4 samples with 3 latent"),
    (central_differences_of_the_kl_term, "finite differences"),
    (lambda dZ, mu, logvar, eps, beta: np.hstack([right_dmu(dZ, mu, logvar, eps, beta, len(dZ)),
                                                 five_point_stencil_of_sigma(dZ, eps, logvar)[1]
                                                 + beta / len(dZ) * 0.5 * (np.exp(logvar) - 1)]),
     "nudged logvar by a small step"),
    (lambda dZ, mu, logvar, eps, beta: encoder_output_error(dZ, mu, logvar, eps, beta).astype(np.float32),
     "computes in float64"),
])
def test_encoder_output_error_rejects_mistakes(wrong, message):
    with fails_with(message):
        check_encoder_output_error(wrong)


def complex_step_of_the_kl_term(dZ, mu, logvar, eps, beta, h=1e-30):
    # The KL term's gradient and dsigma/dlogvar by the complex step, on plain copies.
    M, L = np.asarray(mu), np.asarray(logvar)

    def kl_terms(mu, logvar):
        return 0.5 * (mu ** 2 + np.exp(logvar) - logvar - 1)

    n = len(dZ)
    dkl_dmu = kl_terms(M + 1j * h, L).imag / h
    dkl_dlogvar = kl_terms(M, L + 1j * h).imag / h
    dsigma = np.exp(0.5 * (L + 1j * h)).imag / h
    return np.hstack([dZ + beta / n * dkl_dmu, dZ * eps * dsigma + beta / n * dkl_dlogvar])


def difference_quotient_of_the_parabola(dZ, mu, logvar, eps, beta):
    # dKL/dmu as (KL(mu + 1) - KL(mu - 1)) / 2: exact for the parabola mu^2, whatever the step.
    n = len(dZ)
    kl_terms = 0.5 * ((mu + 1.0) ** 2 - (mu - 1.0) ** 2) / 2.0
    return np.hstack([dZ + beta / n * kl_terms, right_dlogvar(dZ, mu, logvar, eps, beta, n)])


def eighth_order_stencil_of_the_kl_term(dZ, mu, logvar, eps, beta, h=0.05):
    n = len(dZ)
    weights = [4 / 5, -1 / 5, 4 / 105, -1 / 280]
    dkl_dlogvar = sum(w * 0.5 * (np.exp(logvar + j * h) - np.exp(logvar - j * h) - 2 * j * h)
                      for j, w in enumerate(weights, start=1)) / h
    return np.hstack([right_dmu(dZ, mu, logvar, eps, beta, n),
                      0.5 * dZ * np.exp(0.5 * logvar) * eps + beta / n * dkl_dlogvar])


@pytest.mark.parametrize("wrong, message", [
    (complex_step_of_the_kl_term, "complex-step method"),
    (difference_quotient_of_the_parabola, "shifted mu by constant steps \\(1\\)"),
    (eighth_order_stencil_of_the_kl_term, "shifted logvar by constant steps \\(0.05, 0.1, 0.15, 0.2\\)"),
    (lambda dZ, mu, logvar, eps, beta: complex_step_of_the_kl_term(dZ, mu, logvar, eps, beta) * 0
     + encoder_output_error(dZ + 0 * np.full(dZ.shape, 1e-30j), mu, logvar, eps, beta).real, "complex"),
    (delta(lambda dZ, mu, lv, eps, beta, n: dZ + beta / dZ.shape[1] * mu,
           lambda dZ, mu, lv, eps, beta, n: 0.5 * dZ * np.exp(0.5 * lv) * eps
           + beta / dZ.shape[1] * 0.5 * (np.exp(lv) - 1)), r"beta / k, k = dZ.shape\[1\]"),
    (delta(right_dmu, lambda dZ, mu, lv, eps, beta, n: 0.5 * dZ * np.exp(0.5 * lv) * eps
           + beta / n * 0.5 * (np.exp(0.5 * lv) - 1)), r"uses sigma where sigma\^2 belongs"),
    (delta(lambda dZ, mu, lv, eps, beta, n: dZ + beta / n * 2 * mu, right_dlogvar), r"2 \* mu for dKL/dmu"),
    (lambda dZ, mu, logvar, eps, beta: encoder_output_error(dZ, mu, logvar.astype(np.float32), eps, beta)
     .astype(np.float64), "your code computes with float32"),
])
def test_encoder_output_error_names_more_mistakes(wrong, message):
    with fails_with(message):
        check_encoder_output_error(wrong)


def test_encoder_output_error_rejects_changing_the_input():
    def in_place(dZ, mu, logvar, eps, beta):
        logvar *= 0.5
        return encoder_output_error(dZ, mu, logvar, eps, beta)

    with fails_with("changed logvar in place"):
        check_encoder_output_error(in_place)


def test_encoder_output_error_rejects_aelibs_kl_gradient():
    def with_aelibs_kl_gradient(dZ, mu, logvar, eps, beta):
        dkl_dmu, dkl_dlogvar = aelib.vae.kl_divergence_grads(mu, logvar)
        n = len(dZ)
        return np.hstack([dZ + beta / n * dkl_dmu, 0.5 * dZ * np.exp(0.5 * logvar) * eps + beta / n * dkl_dlogvar])

    with fails_with("calls aelib.vae.kl_divergence_grads, which is part of aelib"):
        check_encoder_output_error(with_aelibs_kl_gradient)


def test_encoder_output_error_stub_is_not_implemented_yet():
    with fails_with("not implemented yet"):
        check_encoder_output_error(not_implemented)


# Exercise 3.4: a slice z3 = const of a 3-D latent space.

def decode_slice(vae, z3):
    def decode(Z):
        return vae.decode(np.column_stack([Z, np.full(len(Z), z3)]))
    return decode


def decode_slice_with_the_decoder_network(vae, z3):
    return lambda Z: vae.decoder.forward(np.hstack([Z, z3 * np.ones((Z.shape[0], 1))]))


def decode_slice_with_c_(vae, z3):
    def decode(Z):
        codes = np.c_[Z, np.full(Z.shape[0], float(z3))]
        return vae.decode(codes)
    return decode


@pytest.mark.parametrize("solution", [decode_slice, decode_slice_with_the_decoder_network, decode_slice_with_c_])
def test_decode_slice_accepts_correct_answers(solution, capsys):
    accepts(check_decode_slice, solution, capsys)


def z3_first(vae, z3):
    return lambda Z: vae.decode(np.column_stack([np.full(len(Z), z3), Z]))


def z3_in_the_middle(vae, z3):
    return lambda Z: vae.decode(np.column_stack([Z[:, 0], np.full(len(Z), z3), Z[:, 1]]))


def fixed_z3_of_zero(vae, z3):
    return lambda Z: vae.decode(np.column_stack([Z, np.zeros(len(Z))]))


def hard_coded_emoji_width(vae, z3):
    return lambda Z: vae.decode(np.column_stack([Z, np.full(len(Z), z3)]))[:, :144] * np.ones(144)


def rounded(vae, z3):
    return lambda Z: (vae.decode(np.column_stack([Z, np.full(len(Z), z3)])) > 0.5).astype(float)


shared = {}


def z3_in_a_global(vae, z3):
    shared["z3"] = z3
    return lambda Z: vae.decode(np.column_stack([Z, np.full(len(Z), shared["z3"])]))


def model_in_a_global(vae, z3):
    shared.setdefault("vae", vae)
    return lambda Z: shared["vae"].decode(np.column_stack([Z, np.full(len(Z), z3)]))


def batch_of_six(vae, z3):
    return lambda Z: vae.decode(np.column_stack([Z, np.full(6, z3)]))


def integer_z3(vae, z3):
    return lambda Z: vae.decode(np.column_stack([Z, np.full(len(Z), int(z3))]))


def in_float32(vae, z3):
    return lambda Z: vae.decode(np.column_stack([Z, np.full(len(Z), z3)])).astype(np.float32)


def clipped(vae, z3):
    return lambda Z: np.clip(vae.decode(np.column_stack([Z, np.full(len(Z), z3)])), 0.01, 0.99)


def changes_Z(vae, z3):
    def decode(Z):
        Z *= 1.0
        Z[:, 0] += 0.0 * Z[:, 1] + 1e-3
        return vae.decode(np.column_stack([Z, np.full(len(Z), z3)]))
    return decode


@pytest.mark.parametrize("wrong, message", [
    (z3_first, "puts z3 first"),
    (z3_in_the_middle, "puts z3 in the middle"),
    (fixed_z3_of_zero, "slice z3 = 0 whatever z3 is"),
    (hard_coded_emoji_width, "shape|raised"),
    (rounded, "rounds the pixels"),
    (clipped, "clips the probabilities to \\[0.01, 0.99\\]"),
    (z3_in_a_global, "the z3 of another call"),
    (model_in_a_global, "decodes with the VAE of another call, VAE\\(\\[144, 8, 3\\]\\)"),
    (batch_of_six, "raised ValueError"),
    (integer_z3, "drops the fraction of z3"),
    (in_float32, "computes in float64"),
    (changes_Z, "changed Z in place"),
    (lambda vae, z3: vae.decode(np.zeros((1, 3))), "must return a function"),
    (lambda vae, z3: (lambda Z: vae.decode(Z)), "raised ValueError"),
])
def test_decode_slice_rejects_mistakes(wrong, message):
    shared.clear()
    with fails_with(message):
        check_decode_slice(wrong)


def z3_on_the_model(vae, z3):
    # One z3 per model: the last slice made of each model wins.
    vae.fixed_z3 = z3
    return lambda Z: vae.decode(np.column_stack([Z, np.full(len(Z), vae.fixed_z3)]))


def last_model_in_a_global(vae, z3):
    shared["vae"] = vae
    return lambda Z: shared["vae"].decode(np.column_stack([Z, np.full(len(Z), z3)]))


def model_and_z3_in_a_global(vae, z3):
    shared["vae"], shared["z3"] = vae, z3
    return lambda Z: shared["vae"].decode(np.column_stack([Z, np.full(len(Z), shared["z3"])]))


def mean_instead_of_decode(vae, z3):
    # The same as vae.decode for a Bernoulli VAE, not for a continuous Bernoulli one.
    return lambda Z: vae.mean(np.column_stack([Z, np.full(len(Z), z3)]))


@pytest.mark.parametrize("wrong, message", [
    (z3_on_the_model, "decodes the slice z3 = -1.5, the z3 of another call"),
    (model_and_z3_in_a_global, r"decodes with the VAE of another call, VAE\(\[35, 6, 3\]\), not the one it "
                               r"was made with, and the z3 of another call, 2\."),
    (mean_instead_of_decode, r"VAE\(\[20, 5, 3\]\), z3=-0.4\)\(Z\).*decodes with vae.mean.*"
                             r"likelihood='continuous-bernoulli'.*decode with vae.decode"),
    (last_model_in_a_global, "decodes with the VAE of another call, VAE\\(\\[35, 6, 3\\]\\)"),
    (lambda vae, z3: lambda Z: vae.decode(np.column_stack([Z, np.full(len(Z), z3, dtype=np.float32)])),
     "rounds z3 to float32"),
    (lambda vae, z3: lambda Z: vae.decode(np.column_stack([Z, np.full(len(Z), z3)]).astype(np.float32)),
     "rounds the codes to float32"),
])
def test_decode_slice_names_shared_state_and_float32_codes(wrong, message):
    shared.clear()
    with fails_with(message):
        check_decode_slice(wrong)


class Slice:
    def __init__(self, vae, z3):
        self.vae, self.z3 = vae, z3

    def __call__(self, Z):
        return self.vae.decode(np.insert(Z, 2, self.z3, axis=1))


def decode_codes(vae, z3, Z):
    return aelib.VAE.decode(vae, np.pad(Z, ((0, 0), (0, 1)), constant_values=z3))


@pytest.mark.parametrize("solution", [Slice, lambda vae, z3: functools.partial(decode_codes, vae, z3)])
def test_decode_slice_accepts_a_callable_object_and_a_partial(solution, capsys):
    accepts(check_decode_slice, solution, capsys)


def test_decode_slice_refuses_aelib_beyond_the_model():
    def through_the_plots(vae, z3):
        return lambda Z: vae.decode(np.column_stack([Z, np.full(len(Z), z3)])) + 0 * len(
            aelib.plots.latent_grid((-1, 1, -1, 1), 2))

    with fails_with("calls aelib.plots.latent_grid, which is part of aelib"):
        check_decode_slice(through_the_plots)


def test_decode_slice_stub_is_not_implemented_yet():
    with fails_with("not implemented yet"):
        check_decode_slice(not_implemented)


def test_decode_slice_stub_inside_the_returned_function_is_not_implemented_yet():
    with fails_with("not implemented yet"):
        check_decode_slice(lambda vae, z3: not_implemented)


# Exercise 3.6: the whole backward pass of the VAE.

def backward(cache, params, beta, delta4=None, tanh3=None, decoder_input="Z", through_z=None, tanh1=None,
             bias=np.sum):
    """A backward pass with one step replaceable, to write each wrong answer as one change."""
    W1, b1, W2, b2, W3, b3, W4, b4 = params
    X, H1, H3 = cache["X"], cache["H1"], cache["H3"]
    mu, logvar, eps = cache["mu"], cache["logvar"], cache["eps"]
    n = len(X)
    Delta4 = (cache["X_hat"] - X) / n if delta4 is None else delta4(cache, n)
    dH3 = Delta4 @ W4.T
    Delta3 = dH3 * (1 - H3 ** 2) if tanh3 is None else tanh3(dH3, cache)
    dZ = Delta3 @ W3.T
    if through_z is None:
        Delta2 = encoder_output_error(dZ, mu, logvar, eps, beta)
    else:
        Delta2 = through_z(dZ, cache, beta, n)
    dH1 = Delta2 @ W2.T
    Delta1 = dH1 * (1 - H1 ** 2) if tanh1 is None else tanh1(dH1, cache)
    return [X.T @ Delta1, bias(Delta1, axis=0), H1.T @ Delta2, bias(Delta2, axis=0),
            cache[decoder_input].T @ Delta3, bias(Delta3, axis=0), H3.T @ Delta4, bias(Delta4, axis=0)]


def vae_backward(cache, params, beta):
    return backward(cache, params, beta)


def vae_backward_by_samples(cache, params, beta):
    # One sample at a time, outer products summed, tanh' from the pre-activations.
    W1, b1, W2, b2, W3, b3, W4, b4 = params
    n = len(cache["X"])
    grads = [np.zeros(param.shape) for param in params]
    for i in range(n):
        delta4 = (cache["X_hat"][i] - cache["X"][i]) / n
        delta3 = (W4 @ delta4) / np.cosh(cache["A3"][i]) ** 2
        dz = W3 @ delta3
        sigma = np.exp(cache["logvar"][i] / 2)
        delta2 = np.concatenate([dz + beta * cache["mu"][i] / n,
                                 dz * cache["eps"][i] * sigma / 2 + beta * (sigma * sigma - 1) / (2 * n)])
        delta1 = (W2 @ delta2) / np.cosh(cache["A1"][i]) ** 2
        for index, (h_in, d) in enumerate([(cache["X"][i], delta1), (cache["H1"][i], delta2),
                                           (cache["Z"][i], delta3), (cache["H3"][i], delta4)]):
            grads[2 * index] += np.outer(h_in, d)
            grads[2 * index + 1] += d
    return grads


def vae_backward_with_einsum_and_a_fresh_forward_pass(cache, params, beta):
    # Ignores the cache except X and eps: runs the forward pass once more, then einsum.
    W1, b1, W2, b2, W3, b3, W4, b4 = params
    X, eps = cache["X"], cache["eps"]
    k = W3.shape[0]
    H1 = np.tanh(X @ W1 + b1)
    out = H1 @ W2 + b2
    mu, logvar = out[:, :k], out[:, k:]
    Z = mu + np.exp(0.5 * logvar) * eps
    H3 = np.tanh(Z @ W3 + b3)
    X_hat = 1 / (1 + np.exp(-(H3 @ W4 + b4)))
    n = len(X)
    D4 = (X_hat - X) / n
    D3 = np.einsum("ij,kj->ik", D4, W4) * (1 - H3 * H3)
    dZ = np.einsum("ij,kj->ik", D3, W3)
    D2 = encoder_output_error(dZ, mu, logvar, eps, beta)
    D1 = np.einsum("ij,kj->ik", D2, W2) * (1 - H1 * H1)
    return tuple(g for H, D in ((X, D1), (H1, D2), (Z, D3), (H3, D4))
                 for g in (np.einsum("ij,ik->jk", H, D), np.einsum("ij->j", D)))


def forward_pass_per_sample(cache, params, beta):
    # Right, but it evaluates the first layer once per sample: more than a backward pass may.
    W1, b1 = params[:2]
    for x in cache["X"]:
        np.tanh(x @ W1 + b1)
    return vae_backward(cache, params, beta)


@pytest.mark.parametrize("solution", [vae_backward, vae_backward_by_samples,
                                      vae_backward_with_einsum_and_a_fresh_forward_pass])
def test_vae_backward_accepts_correct_answers(solution, capsys):
    accepts(check_vae_backward, solution, capsys)


def kl_left_out(dZ, cache, beta, n):
    return encoder_output_error(dZ, cache["mu"], cache["logvar"], cache["eps"], 0.0)


def beta_of_one(dZ, cache, beta, n):
    return encoder_output_error(dZ, cache["mu"], cache["logvar"], cache["eps"], 1.0)


def beta_not_over_n(dZ, cache, beta, n):
    return encoder_output_error(dZ, cache["mu"], cache["logvar"], cache["eps"], beta * n)


def tanh_on_z(dZ, cache, beta, n):
    return encoder_output_error(dZ * (1 - cache["Z"] ** 2), cache["mu"], cache["logvar"], cache["eps"], beta)


def missing_half_through_z(dZ, cache, beta, n):
    sigma = np.exp(0.5 * cache["logvar"])
    return np.hstack([dZ + beta / n * cache["mu"], dZ * sigma * cache["eps"] + beta / n * 0.5 * (sigma ** 2 - 1)])


def central_differences_of_the_loss(cache, params, beta, h=1e-5):
    # By hand: every weight nudged in place, the loss evaluated from the cache's X and eps.
    X, eps = cache["X"], cache["eps"]
    k = params[4].shape[0]

    def loss():
        W1, b1, W2, b2, W3, b3, W4, b4 = params
        H1 = np.tanh(X @ W1 + b1)
        out = H1 @ W2 + b2
        mu, logvar = out[:, :k], out[:, k:]
        H3 = np.tanh((mu + np.exp(0.5 * logvar) * eps) @ W3 + b3)
        X_hat = 1 / (1 + np.exp(-(H3 @ W4 + b4)))
        bce = -np.sum(X * np.log(X_hat) + (1 - X) * np.log(1 - X_hat), axis=1)
        kl = 0.5 * np.sum(mu ** 2 + np.exp(logvar) - logvar - 1, axis=1)
        return np.mean(bce + beta * kl)

    grads = []
    for param in params:
        grad = np.zeros(param.shape)
        for index in np.ndindex(param.shape):
            saved = param[index]
            param[index] = saved + h
            plus = loss()
            param[index] = saved - h
            minus = loss()
            param[index] = saved
            grad[index] = (plus - minus) / (2 * h)
        grads.append(grad)
    return grads


def central_differences_on_copies(cache, params, beta, h=1e-5):
    # The same, on plain copies of every array: no forward evaluation is seen, the accuracy shows.
    return central_differences_of_the_loss({key: np.array(value) for key, value in cache.items()},
                                           [np.array(param) for param in params], beta, h)


def numerical_gradient_of_aelib(cache, params, beta):
    X, eps, k = cache["X"], cache["eps"], params[4].shape[0]

    def loss():
        W1, b1, W2, b2, W3, b3, W4, b4 = params
        out = np.tanh(X @ W1 + b1) @ W2 + b2
        Z = out[:, :k] + np.exp(0.5 * out[:, k:]) * eps
        X_hat = 1 / (1 + np.exp(-(np.tanh(Z @ W3 + b3) @ W4 + b4)))
        return np.mean(-np.sum(X * np.log(X_hat) + (1 - X) * np.log(1 - X_hat), axis=1))

    return [aelib.numerical_gradient(loss, param) for param in params]


def tanh_derivative_by_central_differences(cache, params, beta, h=1e-5):
    def tanh_prime(dH, A):
        return dH * (np.tanh(A + h) - np.tanh(A - h)) / (2 * h)

    return backward(cache, params, beta, tanh3=lambda dH, c: tanh_prime(dH, c["A3"]),
                    tanh1=lambda dH, c: tanh_prime(dH, c["A1"]))


def tanh_derivative_by_a_seven_point_stencil(cache, params, beta, h=1e-3):
    # Agrees with tanh' to about 14 digits: close enough to pass a comparison of values alone.
    def tanh_prime(dH, A):
        T = np.tanh
        return dH * (T(A + 3 * h) - 9 * T(A + 2 * h) + 45 * T(A + h) - 45 * T(A - h) + 9 * T(A - 2 * h)
                     - T(A - 3 * h)) / (60 * h)

    return backward(cache, params, beta, tanh3=lambda dH, c: tanh_prime(dH, c["A3"]),
                    tanh1=lambda dH, c: tanh_prime(dH, c["A1"]))


def with_aelibs_vae(cache, params, beta):
    d, h = params[0].shape
    vae = aelib.VAE([d, h, params[4].shape[0]])
    for mine, theirs in zip(vae.params, params):
        mine[...] = theirs
    return vae.loss_and_grads(cache["X"], cache["eps"], beta=beta)[1]


def in_float32(cache, params, beta):
    return [grad.astype(np.float32) for grad in vae_backward(cache, params, beta)]


def changes_the_cache(cache, params, beta):
    cache["X_hat"] -= cache["X"]
    cache["X_hat"] += cache["X"] * 1.0000001
    return vae_backward(cache, params, beta)


def wrong_order(cache, params, beta):
    grads = vae_backward(cache, params, beta)
    return grads[4:] + grads[:4]


def transposed_dW4(cache, params, beta):
    grads = vae_backward(cache, params, beta)
    grads[6] = grads[6].T
    return grads


@pytest.mark.parametrize("wrong, message", [
    (lambda c, p, b: backward(c, p, b, delta4=lambda c, n: c["X_hat"] - c["X"]), "dW4 .* 1/n of the batch mean"),
    (lambda c, p, b: backward(c, p, b, delta4=lambda c, n: (c["X_hat"] - c["X"]) / c["X"].size),
     "dW4 .* divided by n \\* d"),
    (lambda c, p, b: backward(c, p, b, delta4=lambda c, n: (c["X"] - c["X_hat"]) / n), "dW4 .* took X - X_hat"),
    (lambda c, p, b: backward(c, p, b, delta4=lambda c, n: (c["X_hat"] - c["X"]) / n * c["X_hat"] * (1 - c["X_hat"])),
     "dW4 .* sigmoid's derivative"),
    (lambda c, p, b: backward(c, p, b, tanh3=lambda dH, c: dH), "dW3 .* forgot the derivative of tanh"),
    (lambda c, p, b: backward(c, p, b, tanh3=lambda dH, c: dH * (1 - c["A3"] ** 2)), "dW3 .* pre-activation A3"),
    (lambda c, p, b: backward(c, p, b, decoder_input="mu"), "dW3 used mu as the decoder's input"),
    (lambda c, p, b: backward(c, p, b, through_z=kl_left_out), "dW2 .* leaves out the KL term"),
    (lambda c, p, b: backward(c, p, b, through_z=beta_of_one), "dW2 .* forgets beta"),
    (lambda c, p, b: backward(c, p, b, through_z=beta_not_over_n), "dW2 .* beta, not beta / n"),
    (lambda c, p, b: backward(c, p, b, through_z=tanh_on_z), "dW2 .* no activation acts on Z"),
    (lambda c, p, b: backward(c, p, b, through_z=missing_half_through_z), "dW2 .* 1/2 of the reparametrization"),
    (lambda c, p, b: backward(c, p, b, tanh1=lambda dH, c: dH), "dW1 .* forgot the derivative of tanh"),
    (lambda c, p, b: backward(c, p, b, tanh1=lambda dH, c: dH * (1 - np.tanh(c["H1"]) ** 2)),
     "dW1 .* took tanh of the post-activation H1"),
    (lambda c, p, b: backward(c, p, b, bias=np.mean), "db4 is the mean of Delta4's rows"),
    (transposed_dW4, "dW4 is transposed"),
    (wrong_order, "wrong order"),
    (lambda c, p, b: vae_backward(c, p, b)[:6], "eight arrays"),
    (central_differences_of_the_loss, "evaluates layer 1 \\(X @ W1\\) again and again"),
    (central_differences_on_copies, "finite differences"),
    (forward_pass_per_sample, "evaluates layer 1 \\(X @ W1\\) 6 times"),
    (numerical_gradient_of_aelib, "calls aelib.gradcheck.numerical_gradient, which is part of aelib"),
    (tanh_derivative_by_central_differences, "nudged A1, A3 by a small step"),
    (tanh_derivative_by_a_seven_point_stencil, "nudged A1, A3 by a small step"),
    (with_aelibs_vae, "calls aelib.vae.VAE, which is part of aelib"),
    (in_float32, "computes in float64"),
    (changes_the_cache, "changed cache\\['X_hat'\\] in place"),
])
def test_vae_backward_rejects_mistakes(wrong, message):
    with fails_with(message):
        check_vae_backward(wrong)


def test_vae_backward_names_the_call_briefly_and_the_transpose_when_shapes_do_not_fit():
    def dZ_without_transpose(cache, params, beta):
        W1, b1, W2, b2, W3, b3, W4, b4 = params
        Delta3 = ((cache["X_hat"] - cache["X"]) / len(cache["X"]) @ W4.T) * (1 - cache["H3"] ** 2)
        dZ = Delta3 @ W3
        return backward(cache, params, beta, through_z=lambda _, c, b, n: encoder_output_error(
            dZ, c["mu"], c["logvar"], c["eps"], b))

    with fails_with(r"^vae_backward\(cache=<dict of X, A1, H1, mu, logvar, eps, Z, A3, H3, X_hat>,\s+"
                    r"params=<list of W1, b1, W2, b2, W3, b3, W4, b4>, beta=2.5\) combined arrays whose\s+"
                    r"shapes do not fit.*transpose of its weights: dZ =\s+Delta3 @ W3.T"):
        check_vae_backward(dZ_without_transpose)


def loss_on_copies(cache, params, beta):
    """The batch loss (6) as a function of plain (or complex) copies of params."""
    X, eps = np.asarray(cache["X"]), np.asarray(cache["eps"])
    k = eps.shape[1]
    W1, b1, W2, b2, W3, b3, W4, b4 = params
    out = np.tanh(X @ W1 + b1) @ W2 + b2
    mu, logvar = out[:, :k], out[:, k:]
    A4 = np.tanh((mu + np.exp(0.5 * logvar) * eps) @ W3 + b3) @ W4 + b4
    reconstruction = np.sum(np.log(1 + np.exp(A4)) - X * A4)  # the cross-entropy from the logits
    kl = 0.5 * np.sum(mu ** 2 + np.exp(logvar) - logvar - 1)
    return (reconstruction + beta * kl) / len(X)


def complex_step_of_the_loss(cache, params, beta, h=1e-30):
    # Every gradient exact to rounding from Im L(W + ih) / h on plain copies: no layer is
    # evaluated on the traced arrays, no step is seen, and the values are right.
    copies = [np.asarray(param).astype(complex) for param in params]
    grads = []
    for param in copies:
        grad = np.zeros(param.shape)
        for index in np.ndindex(param.shape):
            param[index] += 1j * h
            grad[index] = loss_on_copies(cache, copies, beta).imag / h
            param[index] -= 1j * h
        grads.append(grad)
    return grads


def complex_step_of_delta4(cache, params, beta, h=1e-30):
    # Exact but for Delta4, read off the complex step of the cross-entropy in A4.
    A4 = np.asarray(cache["H3"]) @ np.asarray(params[6]) + np.asarray(params[7])
    X, n = np.asarray(cache["X"]), len(cache["X"])
    Delta4 = (np.log(1 + np.exp(A4 + 1j * h)) - X * (A4 + 1j * h)).imag / h / n
    return backward(cache, params, beta, delta4=lambda c, n: Delta4)


def tanh_derivative_by_the_complex_step(cache, params, beta, h=1e-30):
    def tanh_prime(dH, A):
        return dH * np.tanh(np.asarray(A) + complex(0, h)).imag / h

    return backward(cache, params, beta, tanh3=lambda dH, c: tanh_prime(dH, c["A3"]),
                    tanh1=lambda dH, c: tanh_prime(dH, c["A1"]))


def tanh_derivative_by_an_eighth_order_stencil(cache, params, beta, h=0.015):
    # A step above the nudges' 0.01 that agrees with tanh' to about 14 digits.
    def tanh_prime(dH, A):
        weights = [4 / 5, -1 / 5, 4 / 105, -1 / 280]
        return dH * sum(w * (np.tanh(A + j * h) - np.tanh(A - j * h)) for j, w in enumerate(weights, start=1)) / h

    return backward(cache, params, beta, tanh3=lambda dH, c: tanh_prime(dH, c["A3"]),
                    tanh1=lambda dH, c: tanh_prime(dH, c["A1"]))


def computed_in_float32(cache, params, beta):
    single = {key: np.asarray(value, dtype=np.float32) for key, value in cache.items()}
    return [grad.astype(np.float64) for grad in
            vae_backward(single, [np.asarray(param, dtype=np.float32) for param in params], beta)]


@pytest.mark.parametrize("wrong, message", [
    (complex_step_of_the_loss, "complex numbers \\(the complex number 1j\\): that is the complex-step method"),
    (complex_step_of_delta4, "complex-step method"),
    (tanh_derivative_by_the_complex_step, "complex numbers \\(`complex`\\)"),
    (tanh_derivative_by_an_eighth_order_stencil, "shifted A1, A3 by constant steps"),
    (computed_in_float32, "dW4 .* your code computes with float32 \\(`float32`\\)"),
    (lambda c, p, b: backward(c, p, b, bias=lambda D, axis: np.sum(D, axis=axis, keepdims=True)),
     "db4 has shape \\(1, 12\\); .* without keepdims"),
    (lambda c, p, b: backward(c, p, b, tanh3=lambda dH, c: dH * (1 - c["H1"] ** 2)),
     "dW3 .* tanh's derivative from H1, the other hidden layer's output"),
])
def test_vae_backward_rejects_exact_numerical_derivatives_and_names_more_mistakes(wrong, message):
    # The first four used to pass: the complex step is exact to rounding and so is an
    # eighth-order stencil with a step of 0.015.
    with fails_with(message):
        check_vae_backward(wrong)


def vae_backward_with_the_dot_method(cache, params, beta):
    W1, b1, W2, b2, W3, b3, W4, b4 = params
    X, H1, Z, H3 = cache["X"], cache["H1"], cache["Z"], cache["H3"]
    Delta4 = (cache["X_hat"] - X) / len(X)
    Delta3 = Delta4.dot(W4.T) * (1 - H3) * (1 + H3)
    Delta2 = encoder_output_error(Delta3.dot(W3.T), cache["mu"], cache["logvar"], cache["eps"], beta)
    Delta1 = Delta2.dot(W2.T) / np.cosh(cache["A1"]) ** 2
    return [X.T.dot(Delta1), Delta1.sum(0), H1.T.dot(Delta2), Delta2.sum(0),
            Z.T.dot(Delta3), Delta3.sum(0), H3.T.dot(Delta4), Delta4.sum(0)]


def test_vae_backward_accepts_the_dot_method_and_tanh_prime_from_both_sides(capsys):
    accepts(check_vae_backward, vae_backward_with_the_dot_method, capsys)


def test_vae_backward_names_the_grey_pixels_and_the_second_network():
    # Right for 0/1 pixels only: the cross-entropy's gradient written for x in {0, 1}.
    def binary_only(cache, params, beta):
        return backward(cache, params, beta,
                        delta4=lambda c, n: np.where(c["X"] == 1, c["X_hat"] - 1, c["X_hat"]) / n)

    with fails_with(r"In the VAE\(\[9, 7, 3\]\) with a batch of 8 \(grey pixels among them\).*grey pixels too"):
        check_vae_backward(binary_only)


def test_vae_backward_rejects_numpys_global_generator():
    def reseeding(cache, params, beta):
        np.random.seed(1)
        return vae_backward(cache, params, beta)

    with fails_with("global random generator"):
        check_vae_backward(reseeding)


def test_vae_backward_stub_is_not_implemented_yet():
    with fails_with("not implemented yet"):
        check_vae_backward(not_implemented)


@pytest.mark.parametrize("check, solution", [
    (check_kl_divergence, kl_divergence),
    (check_reparametrization_grads, reparametrization_grads),
    (check_encoder_output_error, encoder_output_error),
    (check_decode_slice, decode_slice),
    (check_vae_backward, vae_backward),
])
def test_checks_train_no_model(check, solution, capsys, monkeypatch):
    # What keeps these checks quick, asserted without a clock: they train nothing.
    forbid_training(monkeypatch)
    accepts(check, solution, capsys)



def test_vae_backward_blames_float32_only_for_an_error_of_float32s_size():
    # A guard that names float32 but never runs does not turn a missing 1/n into a float32 problem.
    def guarded_without_the_mean(cache, params, beta):
        if cache["X"].dtype == np.float32:
            raise TypeError("float64 expected")
        gradients = vae_backward(cache, params, beta)
        return gradients[:6] + [gradient * len(cache["X"]) for gradient in gradients[6:]]

    with fails_with("dW4 is wrong") as failure:
        check_vae_backward(guarded_without_the_mean)
    assert "float32" not in str(failure.value)
