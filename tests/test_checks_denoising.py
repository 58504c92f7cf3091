"""The exercise checks of chapter 2 accept the reference solutions, reject the usual mistakes with
a message that names them, and say "not implemented yet" for an untouched stub."""
import numpy as np
import pytest
from check_failures import accepts, fails_with, not_implemented

import aelib

from aelib.checks import check_masking_decoder, check_masking_noise, check_nearest_glyph, check_salt_and_pepper


# Exercise 2.1: salt-and-pepper noise.

def salt_and_pepper(X, p, rng):
    replaced = rng.random(X.shape) < p
    salt = rng.random(X.shape) < 0.5
    return np.where(replaced, salt.astype(float), X)


def flip(X, p, rng):
    return np.where(rng.random(X.shape) < p, 1.0 - X, X)


def pepper_only(X, p, rng):
    return np.where(rng.random(X.shape) < p, 0.0, X)


def half_rate(X, p, rng):
    return salt_and_pepper(X, p / 2, rng)


def global_state(X, p, rng):
    return salt_and_pepper(X, p, np.random.default_rng(np.random.randint(2**31)))


def fixed_seed(X, p, rng):
    return salt_and_pepper(X, p, np.random.default_rng(0))


def in_place(X, p, rng):
    replaced = rng.random(X.shape) < p
    X[replaced] = (rng.random(X.shape) < 0.5)[replaced]
    return X


def gaussian_instead(X, p, rng):
    return X + p * rng.standard_normal(X.shape)


def test_salt_and_pepper_accepts_the_solution(capsys):
    accepts(check_salt_and_pepper, salt_and_pepper, capsys)


@pytest.mark.parametrize("wrong, message", [
    (flip, "flip pixels"),
    (lambda X, p, rng: X.copy(), "no pixel changed"),
    (pepper_only, "became 1"),
    (half_rate, "expected: about 0.2"),
    (global_state, "same seed"),
    (fixed_seed, "different seeds"),
    (in_place, "in place"),
    (gaussian_instead, "exactly 0 or 1"),
    (lambda X, p, rng: salt_and_pepper(X, p, rng).ravel(), "shape"),
    (lambda X, p, rng: None, "shape"),
])
def test_salt_and_pepper_rejects_mistakes(wrong, message):
    with fails_with(message):
        check_salt_and_pepper(wrong)


def test_salt_and_pepper_stub_is_not_implemented_yet():
    with fails_with("not implemented yet"):
        check_salt_and_pepper(not_implemented)


def test_salt_and_pepper_reports_an_exception_in_the_readers_code():
    def broken(X, p, rng):
        return X + rng.random(3)

    with fails_with(r"salt_and_pepper\(X=<array of shape \(\d+, 35\)>, p=0.2, rng=.*\) combined arrays whose "
                    r"shapes do not fit \(numpy said: operands could not be broadcast"):
        check_salt_and_pepper(broken)


# Exercise 2.2: the nearest-glyph decoder.

def nearest_glyph(X_noisy, glyphs):
    return (X_noisy[:, None, :] != glyphs[None, :, :]).sum(axis=2).argmin(axis=1)


def last_of_the_tied(X_noisy, glyphs):
    distances = (X_noisy[:, None, :] != glyphs[None, :, :]).sum(axis=2)
    return len(glyphs) - 1 - distances[:, ::-1].argmin(axis=1)


def test_nearest_glyph_accepts_the_solution_whatever_the_tie_breaking(capsys):
    accepts(check_nearest_glyph, nearest_glyph, capsys)
    accepts(check_nearest_glyph, last_of_the_tied, capsys)


@pytest.mark.parametrize("wrong, message", [
    (lambda X_noisy, glyphs: (X_noisy[:, None, :] != glyphs[None, :, :]).sum(axis=2).argmax(axis=1),
     "Hamming distance"),
    (lambda X_noisy, glyphs: np.zeros(len(X_noisy), dtype=int), "was decoded as"),
    (lambda X_noisy, glyphs: (X_noisy[:, None, :] != glyphs[None, :, :]).sum(axis=2).argmin(axis=0), "shape"),
    (lambda X_noisy, glyphs: nearest_glyph(X_noisy, glyphs).astype(float), "integer"),
    (lambda X_noisy, glyphs: nearest_glyph(X_noisy, glyphs) + 1, "only 27 glyphs"),
])
def test_nearest_glyph_rejects_mistakes(wrong, message):
    with fails_with(message):
        check_nearest_glyph(wrong)


def test_nearest_glyph_stub_is_not_implemented_yet():
    with fails_with("not implemented yet"):
        check_nearest_glyph(not_implemented)


# Exercise 2.4: masking noise.

def masking_noise(X, p, rng):
    return np.where(rng.random(X.shape) < p, 0.0, X)


def test_masking_noise_accepts_the_solution(capsys):
    accepts(check_masking_noise, masking_noise, capsys)


@pytest.mark.parametrize("wrong, message", [
    (salt_and_pepper, "salt-and-pepper"),
    (flip, "blank pixel"),
    (lambda X, p, rng: X.copy(), "expected: about 0.3"),
    (lambda X, p, rng: masking_noise(X, p, np.random.default_rng(1)), "different seeds"),
    (lambda X, p, rng: np.where(rng.random(X.shape) < p, 0.5, X), "exactly 0"),
])
def test_masking_noise_rejects_mistakes(wrong, message):
    with fails_with(message):
        check_masking_noise(wrong)


def test_masking_noise_stub_is_not_implemented_yet():
    with fails_with("not implemented yet"):
        check_masking_noise(not_implemented)


# Exercise 2.5: the Bayes decoder for masking noise.

def masking_decoder(X_noisy, glyphs, p):
    impossible = X_noisy @ (1 - glyphs).T > 0
    erased = glyphs.sum(axis=1) - X_noisy @ glyphs.T
    return np.where(impossible, -np.inf, erased * np.log(p)).argmax(axis=1)


def most_ink(X_noisy, glyphs, p):
    impossible = X_noisy @ (1 - glyphs).T > 0
    return np.where(impossible, -np.inf, glyphs.sum(axis=1)).argmax(axis=1)


def test_masking_decoder_accepts_the_solution(capsys):
    accepts(check_masking_decoder, masking_decoder, capsys)


@pytest.mark.parametrize("wrong, message", [
    (lambda X_noisy, glyphs, p: nearest_glyph(X_noisy, glyphs), "impossible"),
    (most_ink, "fewer erased pixels"),
    (lambda X_noisy, glyphs, p: masking_decoder(X_noisy, glyphs, p)[:10], "shape"),
])
def test_masking_decoder_rejects_mistakes(wrong, message):
    with fails_with(message):
        check_masking_decoder(wrong)


def test_masking_decoder_stub_is_not_implemented_yet():
    with fails_with("not implemented yet"):
        check_masking_decoder(not_implemented)


# Noise must be drawn per pixel; aelib's own versions are refused.

def one_draw_per_image(X, p, rng):
    replaced = rng.random((len(X), 1)) < p
    return np.where(replaced, (rng.random(X.shape) < 0.5).astype(float), X)


def one_draw_per_position(X, p, rng):
    replaced = rng.random(X.shape[1]) < p
    return np.where(replaced, (rng.random(X.shape) < 0.5).astype(float), X)


def one_salt_draw_per_image(X, p, rng):
    salt = np.broadcast_to(rng.random((len(X), 1)) < 0.5, X.shape)
    return np.where(rng.random(X.shape) < p, salt.astype(float), X)


@pytest.mark.parametrize("wrong", [one_draw_per_image, one_draw_per_position, one_salt_draw_per_image])
def test_salt_and_pepper_rejects_noise_not_drawn_per_pixel(wrong):
    with fails_with("salt_and_pepper: "):
        check_salt_and_pepper(wrong)


def test_per_pixel_test_catches_what_the_overall_fraction_misses():
    from aelib.checks.denoising import _check_per_pixel

    rng = np.random.default_rng(0)
    _check_per_pixel("noise", rng.random((2000, 35)) < 0.2, 0.2, "replaced")
    # Exactly 20% of the pixels, but 7 per image always (no spread) or all of 20% of the images.
    with fails_with("per image varies too little"):
        _check_per_pixel("noise", np.tile(np.arange(35) < 7, (2000, 1)), 0.2, "replaced")
    with fails_with("all or none of their 35 pixels replaced"):
        _check_per_pixel("noise", np.repeat(np.arange(2000) < 400, 35).reshape(2000, 35), 0.2, "replaced")


def test_masking_noise_rejects_one_draw_per_image():
    with fails_with("all or none of their 35 pixels erased"):
        check_masking_noise(lambda X, p, rng: np.where(rng.random((len(X), 1)) < p, 0.0, X))


@pytest.mark.parametrize("check, answer, used", [
    (check_salt_and_pepper, lambda X, p, rng: aelib.salt_and_pepper(X, p, rng), "aelib.noise.salt_and_pepper"),
    (check_nearest_glyph, lambda X_noisy, glyphs: aelib.nearest_glyph(X_noisy, glyphs),
     "aelib.denoising.nearest_glyph"),
    (check_nearest_glyph, lambda X_noisy, glyphs: aelib.denoising.glyph_distances(X_noisy, glyphs).argmin(axis=1),
     "aelib.denoising.glyph_distances"),
])
def test_answers_that_call_aelibs_own_fail(check, answer, used):
    with fails_with(f"calls {used}, which is part of aelib"):
        check(answer)
