"""The exercise checks of chapter 1 accept the reference solutions, reject the usual mistakes with
a message that names them, and say "not implemented yet" for an untouched stub."""
import numpy as np
import pytest

import aelib
from check_failures import fails_with, not_implemented
from aelib.losses import binary_cross_entropy as bce_imported_by_name
from aelib.checks import (check_binary_cross_entropy, check_count_wrong_pixels, check_measure_unseen,
                          check_train_3d_autoencoder)


# Exercise 1.1: wrong pixels per glyph.

def count_wrong_pixels(X, X_hat):
    return ((X_hat > 0.5) != (X > 0.5)).sum(axis=1)


def test_count_wrong_pixels_accepts_the_solution(capsys):
    check_count_wrong_pixels(count_wrong_pixels)
    assert capsys.readouterr().out.startswith("Correct:")


def test_count_wrong_pixels_accepts_rounding(capsys):
    # np.round sends 0.5 to 0 (round half to even), the same as "> 0.5".
    check_count_wrong_pixels(lambda X, X_hat: (np.round(X_hat) != X).sum(axis=1))
    assert capsys.readouterr().out.startswith("Correct:")


@pytest.mark.parametrize("wrong, message", [
    (lambda X, X_hat: ((X_hat > 0.5) != (X > 0.5)).sum(), "total over all glyphs"),
    (lambda X, X_hat: ((X_hat > 0.5) != (X > 0.5)).sum(axis=0), "axis=0"),
    (lambda X, X_hat: (X_hat > 0.5) != (X > 0.5), "one value per pixel"),
    (lambda X, X_hat: (X_hat != X).sum(axis=1), "threshold"),
    (lambda X, X_hat: np.abs(X_hat - X).sum(axis=1), "expected"),
    (lambda X, X_hat: np.zeros(len(X), dtype=int), "expected"),
    (lambda X, X_hat: ((X_hat >= 0.5) != (X > 0.5)).sum(axis=1), "exactly 0.5"),
    (lambda X, X_hat: "seven", "expected numbers"),
])
def test_count_wrong_pixels_rejects_mistakes(wrong, message):
    with fails_with(message):
        check_count_wrong_pixels(wrong)


def test_count_wrong_pixels_rejects_changing_the_input():
    def in_place(X, X_hat):
        X_hat[X_hat > 0.5] = 1.0
        return count_wrong_pixels(X, X_hat)

    with fails_with("in place"):
        check_count_wrong_pixels(in_place)


def test_count_wrong_pixels_stub_is_not_implemented_yet():
    with fails_with("not implemented yet"):
        check_count_wrong_pixels(not_implemented)


def test_count_wrong_pixels_reports_a_crash_with_its_input():
    with fails_with(r"count_wrong_pixels\(X=<array of shape \(4, 35\)>, X_hat=<array of shape \(4, 35\)>\) raised ZeroDivisionError"):
        check_count_wrong_pixels(lambda X, X_hat: 1 / 0)


# Exercise 1.2: binary cross-entropy from probabilities.

def binary_cross_entropy(X_hat, X):
    P = np.clip(X_hat, 1e-12, 1 - 1e-12)
    return np.mean(-(X * np.log(P) + (1 - X) * np.log(1 - P)))


def test_binary_cross_entropy_accepts_the_solution(capsys):
    check_binary_cross_entropy(binary_cross_entropy)
    assert capsys.readouterr().out.startswith("Correct:")


def clipped_at(eps):
    def binary_cross_entropy(X_hat, X):
        P = np.clip(X_hat, eps, 1 - eps)
        return float(np.mean(-(X * np.log(P) + (1 - X) * np.log(1 - P))))
    return binary_cross_entropy


def shifted_log(X_hat, X):
    return float(np.mean(-(X * np.log(X_hat + 1e-8) + (1 - X) * np.log(1 - X_hat + 1e-8))))


@pytest.mark.parametrize("answer", [clipped_at(1e-7), clipped_at(1e-12), clipped_at(1e-15), shifted_log],
                         ids=["clip 1e-7", "clip 1e-12", "clip 1e-15", "log(x + 1e-8)"])
def test_binary_cross_entropy_accepts_any_epsilon_up_to_1e_7(answer, capsys):
    check_binary_cross_entropy(answer)
    assert capsys.readouterr().out.startswith("Correct:")


@pytest.mark.parametrize("answer", [
    lambda X_hat, X: aelib.binary_cross_entropy(X_hat, X),
    lambda X_hat, X: aelib.losses.binary_cross_entropy(X_hat, X),
    lambda X_hat, X: bce_imported_by_name(X_hat, X),
])
def test_binary_cross_entropy_rejects_aelibs_own_and_restores_it(answer):
    with fails_with("calls aelib.losses.binary_cross_entropy, which is part of aelib"):
        check_binary_cross_entropy(answer)
    X_hat, X = np.array([[0.25, 1.0]]), np.array([[0.0, 1.0]])
    assert aelib.losses.binary_cross_entropy(X_hat, X) == pytest.approx(-np.log(0.75) / 2)


def test_binary_cross_entropy_rejects_nan_to_num():
    def hides_inf(X_hat, X):
        with np.errstate(all="ignore"):
            return float(np.mean(np.nan_to_num(-(X * np.log(X_hat) + (1 - X) * np.log(1 - X_hat)))))

    with fails_with(r"confident and wrong pixel: expected a large but finite loss, between 16\.1 and 744\.4"):
        check_binary_cross_entropy(hides_inf)


def test_binary_cross_entropy_rejects_a_clip_wider_than_1e_7():
    with fails_with(r"between 16\.1 and 744\.4 .* actual: 13\.8155"):
        check_binary_cross_entropy(clipped_at(1e-6))


def test_binary_cross_entropy_rejects_a_loss_that_handles_one_wrong_pixel_only():
    def one_wrong_pixel_at_most(X_hat, X):
        # Correct for each single pixel, but confident, wrong pixels beyond the first cost nothing.
        P = np.clip(X_hat, 1e-12, 1 - 1e-12)
        terms = -(X * np.log(P) + (1 - X) * np.log(1 - P))
        wrong = np.flatnonzero(terms.ravel() > 20)
        terms.ravel()[wrong[1:]] = 0.0
        return float(terms.mean())

    with fails_with("7 confident, wrong pixels"):
        check_binary_cross_entropy(one_wrong_pixel_at_most)


def unclipped(X_hat, X):
    return np.mean(-(X * np.log(X_hat) + (1 - X) * np.log(1 - X_hat)))


def summed(X_hat, X):
    return np.sum(-(X * np.log(X_hat) + (1 - X) * np.log(1 - X_hat)))


def per_glyph_sum(X_hat, X):
    return np.mean(np.sum(-(X * np.log(X_hat) + (1 - X) * np.log(1 - X_hat)), axis=1))


def picks_one_term(X_hat, X):
    P = np.clip(X_hat, 1e-12, 1 - 1e-12)
    return np.mean(-np.where(X > 0.5, np.log(P), np.log(1 - P)))


def clipped_too_far(X_hat, X):
    return binary_cross_entropy(np.clip(X_hat, 1e-3, 1 - 1e-3), X)


def clipped_then_nan(X_hat, X):
    # Clipping the result instead of the probabilities keeps the nan of 0 * log(0).
    return np.clip(unclipped(X_hat, X), 0, 1e3)


@pytest.mark.parametrize("wrong, message", [
    (summed, "sum of all the terms"),
    (lambda X_hat, X: -binary_cross_entropy(X_hat, X), "wrong sign"),
    (per_glyph_sum, "each glyph's sum"),
    (picks_one_term, "targets may lie between 0 and 1"),
    (unclipped, "0 \\* log\\(0\\)"),
    (clipped_then_nan, "np.clip"),
    (clipped_too_far, "tiny distance"),
    (lambda X_hat, X: np.mean((X_hat - X) ** 2), "expected"),
    (lambda X_hat, X: 0.0, "expected"),
    (lambda X_hat, X: np.zeros_like(X), "shape"),
])
def test_binary_cross_entropy_rejects_mistakes(wrong, message):
    with fails_with(message):
        check_binary_cross_entropy(wrong)


def test_binary_cross_entropy_rejects_a_loss_that_ignores_confident_mistakes():
    def floor_at_zero(X_hat, X):
        # Replacing nan and inf by 0 hides exactly the pixels the loss must punish most.
        with np.errstate(all="ignore"):
            terms = -(X * np.log(X_hat) + (1 - X) * np.log(1 - X_hat))
        return np.mean(np.nan_to_num(terms, nan=0.0, posinf=0.0))

    with fails_with("confident and wrong pixel"):
        check_binary_cross_entropy(floor_at_zero)


def test_binary_cross_entropy_stub_is_not_implemented_yet():
    with fails_with("not implemented yet"):
        check_binary_cross_entropy(not_implemented)


# Exercise 1.4: a three-dimensional latent space.

def train_3d_autoencoder(X, seed=0):
    model = aelib.Autoencoder([35, 30, 20, 3], seed=seed)
    model.fit(X, epochs=3000, lr=3e-3)
    return model


def test_train_3d_autoencoder_accepts_the_solution(capsys):
    check_train_3d_autoencoder(train_3d_autoencoder)
    assert capsys.readouterr().out.startswith("Correct:")


def test_train_3d_autoencoder_rejects_a_two_dimensional_code():
    def two_dimensional(X, seed=0):
        model = aelib.Autoencoder([35, 30, 20, 2], seed=seed)
        model.fit(X, epochs=3000, lr=3e-3)
        return model

    with fails_with(r"expected codes of shape \(27, 3\), got \(27, 2\)"):
        check_train_3d_autoencoder(two_dimensional)


def test_train_3d_autoencoder_rejects_an_untrained_model():
    with fails_with("reconstructs .* pixels wrongly"):
        check_train_3d_autoencoder(lambda X, seed=0: aelib.Autoencoder([35, 30, 20, 3], seed=seed))


def test_train_3d_autoencoder_rejects_a_model_that_remembers_instead_of_decoding():
    class Lookup:
        """Gives every letter the same code and answers reconstruct() from memory."""

        def __init__(self, X):
            self.X = X

        def encode(self, X):
            return np.zeros((len(X), 3))

        def decode(self, Z):
            return np.zeros((len(Z), 35))

        def reconstruct(self, X):
            return self.X

    with fails_with("the same code"):
        check_train_3d_autoencoder(lambda X, seed=0: Lookup(X))


def test_train_3d_autoencoder_rejects_a_reconstruct_that_skips_the_code():
    model = train_3d_autoencoder(aelib.load_font()[0])
    original = model.reconstruct
    model.reconstruct = lambda X: np.round(original(X))  # exactly X, not what decode gives

    with fails_with("reconstruct must decode"):
        check_train_3d_autoencoder(lambda X, seed=0: model)


def test_train_3d_autoencoder_rejects_something_that_is_not_a_model():
    with fails_with("no encode"):
        check_train_3d_autoencoder(lambda X, seed=0: np.zeros((27, 3)))


def test_train_3d_autoencoder_stub_is_not_implemented_yet():
    with fails_with("not implemented yet"):
        check_train_3d_autoencoder(not_implemented)


# Exercise 1.5: what the autoencoder draws for glyphs it never saw.

def hamming(A, B):
    return ((A[:, None, :] > 0.5) != (B[None, :, :] > 0.5)).sum(axis=2)


def measure_unseen(model, X_unseen, X_train):
    X_hat = model.reconstruct(X_unseen)
    wrong = ((X_hat > 0.5) != (X_unseen > 0.5)).sum(axis=1)
    return wrong, aelib.denoising.glyph_distances(X_hat, X_train, "hamming").argmin(axis=1)


def test_measure_unseen_accepts_the_solution(capsys):
    check_measure_unseen(measure_unseen)
    assert capsys.readouterr().out.startswith("Correct:")


def test_measure_unseen_accepts_a_solution_in_plain_numpy(capsys):
    def in_numpy(model, X_unseen, X_train):
        X_hat = model.reconstruct(X_unseen)
        return ((X_hat > 0.5) != (X_unseen > 0.5)).sum(axis=1), hamming(X_hat, X_train).argmin(axis=1)

    check_measure_unseen(in_numpy)
    assert capsys.readouterr().out.startswith("Correct:")


def nearest_to(model, X_unseen, X_train, wrong=None, nearest=None):
    X_hat = model.reconstruct(X_unseen)
    right_wrong, right_nearest = measure_unseen(model, X_unseen, X_train)
    return (right_wrong if wrong is None else wrong(X_hat, X_unseen, X_train),
            right_nearest if nearest is None else nearest(X_hat, X_unseen, X_train))


@pytest.mark.parametrize("wrong, message", [
    (lambda m, U, T: nearest_to(m, U, T, wrong=lambda X_hat, U, T: (X_hat != U).sum()), "single number"),
    (lambda m, U, T: nearest_to(m, U, T, wrong=lambda X_hat, U, T: (X_hat != U).sum(axis=1)),
     "every pixel counted as wrong"),
    (lambda m, U, T: nearest_to(m, U, T, wrong=lambda X_hat, U, T: hamming(X_hat, T).min(axis=1)),
     "distance to the nearest letter"),
    (lambda m, U, T: nearest_to(m, U, T, nearest=lambda X_hat, U, T: hamming(U, T).argmin(axis=1)),
     "the letter nearest to each unseen glyph itself"),
    (lambda m, U, T: nearest_to(m, U, T, nearest=lambda X_hat, U, T: hamming(X_hat, T).argmax(axis=1)),
     "farthest letter"),
    (lambda m, U, T: nearest_to(m, U, T, nearest=lambda X_hat, U, T: np.linalg.norm(
        X_hat[:, None, :] - T[None, :, :], axis=2).argmin(axis=1)), "compared the probabilities"),
    (lambda m, U, T: nearest_to(m, U, T)[0], "two arrays"),
    (lambda m, U, T: measure_unseen(m, T, T), "Reconstruct the unseen glyphs"),
])
def test_measure_unseen_rejects_mistakes(wrong, message):
    with fails_with(message):
        check_measure_unseen(wrong)


def test_measure_unseen_rejects_changing_the_input():
    def in_place(model, X_unseen, X_train):
        result = measure_unseen(model, X_unseen, X_train)
        X_train[0] = 0.0
        return result

    with fails_with("in place"):
        check_measure_unseen(in_place)


def test_measure_unseen_stub_is_not_implemented_yet():
    with fails_with("not implemented yet"):
        check_measure_unseen(not_implemented)
