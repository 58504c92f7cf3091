"""The exercise checks of chapter 3 accept the reference solutions, reject the usual mistakes with
a message that names them, and say "not implemented yet" for an untouched stub."""

import numpy as np
import pytest
from check_failures import fails_with, forbid_training, not_implemented

from aelib.checks import (check_decode_slice, check_encoder_output_error, check_kl_divergence,
                          check_reparametrization_grads)


# Exercise 3.1: the KL divergence of a diagonal Gaussian from N(0, I).

def kl_divergence(mu, logvar):
    return 0.5 * np.sum(mu ** 2 + np.exp(logvar) - logvar - 1, axis=1)


def test_kl_divergence_accepts_the_solution(capsys):
    check_kl_divergence(kl_divergence)
    assert capsys.readouterr().out.startswith("Correct:")


@pytest.mark.parametrize("wrong, message", [
    (lambda mu, logvar: np.sum(mu ** 2 + np.exp(logvar) - logvar - 1, axis=1), "factor 1/2"),
    (lambda mu, logvar: 0.5 * np.sum(mu ** 2 + np.exp(0.5 * logvar) - logvar - 1, axis=1), "standard deviation"),
    (lambda mu, logvar: 0.5 * np.mean(mu ** 2 + np.exp(logvar) - logvar - 1, axis=1), "np.mean"),
    (lambda mu, logvar: 0.5 * np.sum(np.exp(logvar) - logvar - 1, axis=1), "mu\\^2"),
    (lambda mu, logvar: 0.5 * np.sum(mu ** 2 + np.exp(logvar) - logvar, axis=1), "- 1"),
    (lambda mu, logvar: 0.5 * (mu ** 2 + np.exp(logvar) - logvar - 1), "one value per latent dimension"),
    (lambda mu, logvar: 0.5 * np.sum(mu ** 2 + np.exp(logvar) - logvar - 1), "one value per sample"),
    (lambda mu, logvar: 0.5 * np.sum(mu ** 2 + np.exp(logvar) - logvar - 1, axis=0), "one value per sample"),
    (lambda mu, logvar: np.zeros(len(mu)), "expected"),
    (lambda mu, logvar: "KL", "expected a number or an array"),
])
def test_kl_divergence_rejects_mistakes(wrong, message):
    with fails_with(message):
        check_kl_divergence(wrong)


def test_kl_divergence_rejects_changing_the_input():
    def in_place(mu, logvar):
        mu **= 2
        return 0.5 * np.sum(mu + np.exp(logvar) - logvar - 1, axis=1)

    with fails_with("in place"):
        check_kl_divergence(in_place)


def test_kl_divergence_reports_a_crash_with_its_input():
    with fails_with("raised ZeroDivisionError"):
        check_kl_divergence(lambda mu, logvar: 1 / 0)


def test_kl_divergence_stub_is_not_implemented_yet():
    with fails_with("not implemented yet"):
        check_kl_divergence(not_implemented)


# Exercise 3.2: the gradient through z = mu + exp(logvar / 2) * eps.

def reparametrization_grads(dZ, eps, logvar):
    return dZ, dZ * eps * 0.5 * np.exp(0.5 * logvar)


def test_reparametrization_grads_accepts_the_solution(capsys):
    check_reparametrization_grads(reparametrization_grads)
    assert capsys.readouterr().out.startswith("Correct:")


@pytest.mark.parametrize("wrong, message", [
    (lambda dZ, eps, logvar: (dZ, dZ * eps * np.exp(0.5 * logvar)), "factor 1/2"),
    (lambda dZ, eps, logvar: (dZ, 0.5 * dZ * eps * np.exp(logvar)), "the variance"),
    (lambda dZ, eps, logvar: (dZ, 0.5 * dZ * np.exp(0.5 * logvar)), "missing eps"),
    (lambda dZ, eps, logvar: (dZ, 0.5 * dZ * eps), "missing sigma"),
    (lambda dZ, eps, logvar: (dZ, dZ * eps), "dL/dsigma"),
    (lambda dZ, eps, logvar: (dZ * eps, 0.5 * dZ * eps * np.exp(0.5 * logvar)), "slope 1"),
    (lambda dZ, eps, logvar: (dZ, np.zeros_like(dZ)), "dlogvar"),
    (lambda dZ, eps, logvar: (np.zeros_like(dZ), np.zeros_like(dZ)), "dmu"),
    (lambda dZ, eps, logvar: 0.5 * dZ * eps * np.exp(0.5 * logvar), "two arrays"),
    (lambda dZ, eps, logvar: (dZ.T, 0.5 * dZ * eps * np.exp(0.5 * logvar)), "shape"),
])
def test_reparametrization_grads_rejects_mistakes(wrong, message):
    with fails_with(message):
        check_reparametrization_grads(wrong)


def test_reparametrization_grads_rejects_changing_the_input():
    def in_place(dZ, eps, logvar):
        logvar *= 0.5
        return dZ, dZ * eps * 0.5 * np.exp(logvar)

    with fails_with("in place"):
        check_reparametrization_grads(in_place)


def test_reparametrization_grads_stub_is_not_implemented_yet():
    with fails_with("not implemented yet"):
        check_reparametrization_grads(not_implemented)


# Exercise 3.5: the encoder's output error Delta of equation (12).

def encoder_output_error(dZ, mu, logvar, eps, beta):
    n = len(dZ)
    sigma = np.exp(0.5 * logvar)
    return np.hstack([dZ + beta / n * mu, 0.5 * dZ * sigma * eps + beta / n * 0.5 * (sigma ** 2 - 1)])


def test_encoder_output_error_accepts_the_solution(capsys):
    check_encoder_output_error(encoder_output_error)
    assert capsys.readouterr().out.startswith("Correct:")


def delta(dmu, dlogvar):
    return lambda dZ, mu, logvar, eps, beta: np.hstack([dmu(dZ, mu, logvar, eps, beta, len(dZ)),
                                                        dlogvar(dZ, mu, logvar, eps, beta, len(dZ))])


def right_dmu(dZ, mu, logvar, eps, beta, n):
    return dZ + beta / n * mu


def right_dlogvar(dZ, mu, logvar, eps, beta, n):
    return 0.5 * dZ * np.exp(0.5 * logvar) * eps + beta / n * 0.5 * (np.exp(logvar) - 1)


@pytest.mark.parametrize("wrong, message", [
    (delta(right_dmu, lambda dZ, mu, lv, eps, beta, n: dZ * np.exp(0.5 * lv) * eps + beta / n * 0.5 * (np.exp(lv) - 1)),
     "1/2 of the reparametrization path"),
    (delta(right_dmu, lambda dZ, mu, lv, eps, beta, n: 0.5 * dZ * np.exp(0.5 * lv) * eps + beta / n * (np.exp(lv) - 1)),
     "1/2 of the KL term's logvar gradient"),
    (delta(lambda dZ, mu, lv, eps, beta, n: dZ + mu / n,
           lambda dZ, mu, lv, eps, beta, n: 0.5 * dZ * np.exp(0.5 * lv) * eps + 0.5 * (np.exp(lv) - 1) / n),
     "forgets beta"),
    (delta(lambda dZ, mu, lv, eps, beta, n: dZ + beta * mu,
           lambda dZ, mu, lv, eps, beta, n: 0.5 * dZ * np.exp(0.5 * lv) * eps + beta * 0.5 * (np.exp(lv) - 1)),
     "beta, not beta / n"),
    (delta(lambda dZ, mu, lv, eps, beta, n: dZ - beta / n * mu,
           lambda dZ, mu, lv, eps, beta, n: 0.5 * dZ * np.exp(0.5 * lv) * eps - beta / n * 0.5 * (np.exp(lv) - 1)),
     "wrong sign"),
    (delta(right_dmu, lambda dZ, mu, lv, eps, beta, n: beta / n * 0.5 * (np.exp(lv) - 1)), "drops the path through z"),
    (delta(right_dmu, lambda dZ, mu, lv, eps, beta, n: 0.5 * dZ * np.exp(0.5 * lv) + beta / n * 0.5 * (np.exp(lv) - 1)),
     "drops eps"),
    (delta(lambda dZ, mu, lv, eps, beta, n: beta / n * mu, right_dlogvar), "drops dZ from dL/dmu"),
    (delta(right_dlogvar, right_dmu), "halves swapped"),
    (lambda dZ, mu, logvar, eps, beta: (right_dmu(dZ, mu, logvar, eps, beta, len(dZ)),
                                        right_dlogvar(dZ, mu, logvar, eps, beta, len(dZ))), "np.hstack"),
    (lambda dZ, mu, logvar, eps, beta: right_dmu(dZ, mu, logvar, eps, beta, len(dZ)), "shape"),
    (delta(right_dmu, lambda dZ, mu, lv, eps, beta, n: 0.5 * dZ * np.exp(lv) * eps + beta / n * 0.5 * (np.exp(lv) - 1)),
     "expected"),
])
def test_encoder_output_error_rejects_mistakes(wrong, message):
    with fails_with(message):
        check_encoder_output_error(wrong)


def test_encoder_output_error_rejects_changing_the_input():
    def in_place(dZ, mu, logvar, eps, beta):
        logvar *= 0.5
        return encoder_output_error(dZ, mu, logvar, eps, beta)

    with fails_with("in place"):
        check_encoder_output_error(in_place)


def test_encoder_output_error_stub_is_not_implemented_yet():
    with fails_with("not implemented yet"):
        check_encoder_output_error(not_implemented)


def test_encoder_output_error_compares_with_finite_differences_and_the_vae():
    # A function right on the random inputs but wrong on the VAE's (a hard-coded batch size of 5)
    # is caught by the second part of the check.
    def batch_of_five(dZ, mu, logvar, eps, beta):
        n = 5
        sigma = np.exp(0.5 * logvar)
        return np.hstack([dZ + beta / n * mu, 0.5 * dZ * sigma * eps + beta / n * 0.5 * (sigma ** 2 - 1)])

    with fails_with("against central differences"):
        check_encoder_output_error(batch_of_five)


# Exercise 3.4: a slice z3 = const of a 3-D latent space.

def decode_slice(vae, z3):
    def decode(Z):
        return vae.decode(np.column_stack([Z, np.full(len(Z), z3)]))
    return decode


def test_decode_slice_accepts_the_solution(capsys):
    check_decode_slice(decode_slice)
    assert capsys.readouterr().out.startswith("Correct:")


def z3_first(vae, z3):
    return lambda Z: vae.decode(np.column_stack([np.full(len(Z), z3), Z]))


def fixed_z3_of_zero(vae, z3):
    return lambda Z: vae.decode(np.column_stack([Z, np.zeros(len(Z))]))


def hard_coded_emoji_width(vae, z3):
    return lambda Z: vae.decode(np.column_stack([Z, np.full(len(Z), z3)]))[:, :144] * np.ones(144)


@pytest.mark.parametrize("wrong, message", [
    (z3_first, "z3 first"),
    (fixed_z3_of_zero, "expected"),
    (hard_coded_emoji_width, "shape|raised"),
    (lambda vae, z3: vae.decode(np.zeros((1, 3))), "must return a function"),
    (lambda vae, z3: (lambda Z: vae.decode(Z)), "raised ValueError"),
])
def test_decode_slice_rejects_mistakes(wrong, message):
    with fails_with(message):
        check_decode_slice(wrong)


def test_decode_slice_stub_is_not_implemented_yet():
    with fails_with("not implemented yet"):
        check_decode_slice(not_implemented)


def test_decode_slice_stub_inside_the_returned_function_is_not_implemented_yet():
    with fails_with("not implemented yet"):
        check_decode_slice(lambda vae, z3: not_implemented)


@pytest.mark.parametrize("check, solution", [
    (check_kl_divergence, kl_divergence),
    (check_reparametrization_grads, reparametrization_grads),
    (check_encoder_output_error, encoder_output_error),
    (check_decode_slice, decode_slice),
])
def test_checks_train_no_model(check, solution, capsys, monkeypatch):
    # What keeps these checks quick, asserted without a clock: they train nothing.
    forbid_training(monkeypatch)
    check(solution)
    assert capsys.readouterr().out.startswith("Correct:")


def test_kl_divergence_rejects_aelibs_own():
    import aelib

    with fails_with("calls aelib.vae.kl_divergence, which is part of aelib"):
        check_kl_divergence(lambda mu, logvar: aelib.vae.kl_divergence(mu, logvar))
