"""The exercise checks of chapter 1 accept correct answers written in several ways, reject the
plausible wrong ones with a message that names the mistake, and say "not implemented yet" for an
untouched stub."""
import copy
import math
import pickle

import numpy as np
import pytest
from check_failures import accepts, fails_with, not_implemented

import aelib
from aelib.checks import (check_binary_cross_entropy, check_count_wrong_pixels, check_measure_unseen,
                          check_train_3d_autoencoder)
from aelib.losses import binary_cross_entropy as bce_imported_by_name

# ---------------------------------------------------------------------------------------------
# Exercise 1.1: wrong pixels per glyph.


def count_wrong_pixels(X, X_hat):
    return ((X_hat > 0.5) != (X > 0.5)).sum(axis=1)


def count_with_loops(X, X_hat):
    counts = []
    for x, x_hat in zip(X, X_hat):
        counts.append(sum(1 for a, b in zip(x, x_hat) if (a > 0.5) != (b > 0.5)))
    return np.array(counts)


@pytest.mark.parametrize("answer", [
    count_wrong_pixels,
    count_with_loops,
    lambda X, X_hat: np.count_nonzero(np.logical_xor(X_hat > 0.5, X > 0.5), axis=1),
    # np.round sends 0.5 to 0 (round half to even), the same as "> 0.5", in X as in X_hat.
    lambda X, X_hat: (np.round(X_hat) != np.round(X)).sum(axis=1),
    # Counts as floats are still the counts.
    lambda X, X_hat: np.abs((X_hat > 0.5).astype(float) - (X > 0.5).astype(float)).sum(axis=1),
], ids=["comparison", "loops", "xor", "rounding", "float counts"])
def test_count_wrong_pixels_accepts_correct_answers(answer, capsys):
    accepts(check_count_wrong_pixels, answer, capsys)


@pytest.mark.parametrize("wrong, message", [
    (lambda X, X_hat: ((X_hat > 0.5) != (X > 0.5)).sum(), "total over all glyphs"),
    (lambda X, X_hat: np.count_nonzero((X_hat > 0.5) != (X > 0.5)), "total over all glyphs"),
    (lambda X, X_hat: ((X_hat > 0.5) != (X > 0.5)).sum(axis=0), "axis=0"),
    (lambda X, X_hat: (X_hat > 0.5) != (X > 0.5), "one value per pixel"),
    (lambda X, X_hat: (X_hat != X).sum(axis=1), "every pixel counted as wrong"),
    (lambda X, X_hat: np.abs(X_hat - X).sum(axis=1), "sum of the errors"),
    (lambda X, X_hat: ((X_hat > 0.5) != (X > 0.5)).mean(axis=1), "fraction"),
    (lambda X, X_hat: ((X_hat > 0.5) != (X > 0.5)).any(axis=1), "whether a glyph has a wrong pixel"),
    # Ties at 0.5: ink is greater than 0.5, in the reconstruction and in the glyph.
    (lambda X, X_hat: ((X_hat >= 0.5) != (X > 0.5)).sum(axis=1), r"x = 1\.0 and x_hat = 0\.5, .*not >= 0\.5"),
    (lambda X, X_hat: ((X_hat >= 0.5) != (X >= 0.5)).sum(axis=1), r"x = 1\.0 and x_hat = 0\.5, .*not >= 0\.5"),
    (lambda X, X_hat: (np.abs(X_hat - X) >= 0.5).sum(axis=1), r"x = 0\.0 and x_hat = 0\.5, .*not >= 0\.5"),
    (lambda X, X_hat: (np.abs(X_hat - X) > 0.5).sum(axis=1), r"x = 1\.0 and x_hat = 0\.5, .*not >= 0\.5"),
    # Grey glyphs: X is thresholded too.
    (lambda X, X_hat: ((X_hat > 0.5) != X).sum(axis=1), r"X holds values other than 0 and 1 here"),
    (lambda X, X_hat: (np.round(X_hat) != X).sum(axis=1), r"X holds values other than 0 and 1 here"),
    # A threshold with a margin, or in float32, misjudges values a hair above 0.5.
    (lambda X, X_hat: ((X_hat > 0.5 + 1e-9) != (X > 0.5)).sum(axis=1), r"just above 0\.5, is ink"),
    (lambda X, X_hat: ((X_hat.astype(np.float32) > 0.5) != (X > 0.5)).sum(axis=1), r"just above 0\.5, is ink"),
    # Sizes: glyphs of 35 pixels only.
    (lambda X, X_hat: ((X_hat > 0.5) != (X > 0.5)).reshape(-1, 35).sum(axis=1), "raised ValueError"),
    (lambda X, X_hat: np.array([sum((X_hat[i, j] > 0.5) != (X[i, j] > 0.5) for j in range(35))
                                for i in range(len(X))]), "raised IndexError.*any numbers of each"),
    (lambda X, X_hat: np.zeros(len(X), dtype=int), "expected"),
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


def test_count_wrong_pixels_refuses_aelib():
    def through_aelib(X, X_hat):
        distances = aelib.denoising.glyph_distances(X_hat, X)
        return np.diag(distances).astype(int)

    with fails_with("calls aelib.denoising.glyph_distances, which is part of aelib"):
        check_count_wrong_pixels(through_aelib)


def test_count_wrong_pixels_stub_is_not_implemented_yet():
    with fails_with("not implemented yet"):
        check_count_wrong_pixels(not_implemented)


def test_count_wrong_pixels_reports_a_crash_with_its_input():
    with fails_with(r"count_wrong_pixels\(X=<array of shape \(4, 35\)>, X_hat=<array of shape \(4, 35\)>\) "
                    "raised ZeroDivisionError"):
        check_count_wrong_pixels(lambda X, X_hat: 1 / 0)


# ---------------------------------------------------------------------------------------------
# Exercise 1.2: binary cross-entropy from probabilities.

def binary_cross_entropy(X_hat, X):
    P = np.clip(X_hat, 1e-12, 1 - 1e-12)
    return np.mean(-(X * np.log(P) + (1 - X) * np.log(1 - P)))


def clipped_at(eps):
    def binary_cross_entropy(X_hat, X):
        P = np.clip(X_hat, eps, 1 - eps)
        return float(np.mean(-(X * np.log(P) + (1 - X) * np.log(1 - P))))
    return binary_cross_entropy


def shifted_log(X_hat, X):
    return float(np.mean(-(X * np.log(X_hat + 1e-8) + (1 - X) * np.log(1 - X_hat + 1e-8))))


def with_log1p_and_maximum(X_hat, X):
    eps = 1e-10
    return np.mean(-(X * np.log(np.maximum(X_hat, eps)) + (1 - X) * np.log1p(-np.minimum(X_hat, 1 - eps))))


def in_pure_python(X_hat, X):
    total, count = 0.0, 0
    for row_hat, row in zip(X_hat.tolist(), X.tolist()):
        for p, x in zip(row_hat, row):
            p = min(max(p, 1e-12), 1 - 1e-12)
            total -= x * math.log(p) + (1 - x) * math.log(1 - p)
            count += 1
    return total / count


@pytest.mark.parametrize("answer", [binary_cross_entropy, clipped_at(1e-7), clipped_at(1e-15), shifted_log,
                                    with_log1p_and_maximum, in_pure_python],
                         ids=["clip 1e-12", "clip 1e-7", "clip 1e-15", "log(x + 1e-8)", "log1p", "pure Python"])
def test_binary_cross_entropy_accepts_any_epsilon_up_to_1e_7(answer, capsys):
    accepts(check_binary_cross_entropy, answer, capsys)


@pytest.mark.parametrize("answer, called", [
    (lambda X_hat, X: aelib.binary_cross_entropy(X_hat, X), "aelib.losses.binary_cross_entropy"),
    (lambda X_hat, X: aelib.losses.binary_cross_entropy(X_hat, X), "aelib.losses.binary_cross_entropy"),
    (lambda X_hat, X: bce_imported_by_name(X_hat, X), "aelib.losses.binary_cross_entropy"),
    # From logits, through the loss aelib trains with, public or private.
    (lambda X_hat, X: aelib.losses.bce_with_logits(np.log(np.clip(X_hat, 1e-12, 1 - 1e-12))
                                                   - np.log1p(-np.clip(X_hat, 1e-12, 1 - 1e-12)), X),
     "aelib.losses.bce_with_logits"),
    (lambda X_hat, X: float(aelib.losses._bce_with_logits_float32(
        np.log(np.clip(X_hat, 1e-12, 1 - 1e-12)) - np.log1p(-np.clip(X_hat, 1e-12, 1 - 1e-12)), X)),
     "aelib.losses._bce_with_logits_float32"),
], ids=["aelib", "aelib.losses", "imported", "bce_with_logits", "private helper"])
def test_binary_cross_entropy_refuses_aelibs_own_and_leaves_it_working(answer, called):
    with fails_with(f"calls {called}, which is part of aelib"):
        check_binary_cross_entropy(answer)
    X_hat, X = np.array([[0.25, 1.0]]), np.array([[0.0, 1.0]])
    assert aelib.losses.binary_cross_entropy(X_hat, X) == pytest.approx(-np.log(0.75) / 2)


def hides_inf_as(posinf):
    def binary_cross_entropy(X_hat, X):
        with np.errstate(all="ignore"):
            terms = -(X * np.log(X_hat) + (1 - X) * np.log(1 - X_hat))
        return float(np.mean(np.nan_to_num(terms, nan=0.0, posinf=posinf)))
    return binary_cross_entropy


def one_wrong_pixel_at_most(X_hat, X):
    # Correct for each single pixel, but confident, wrong pixels beyond the first cost nothing.
    P = np.clip(X_hat, 1e-12, 1 - 1e-12)
    terms = -(X * np.log(P) + (1 - X) * np.log(1 - P))
    wrong = np.flatnonzero(terms.ravel() > 20)
    terms.ravel()[wrong[1:]] = 0.0
    return float(terms.mean())


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


def clipped_below_only(X_hat, X):
    P = np.maximum(X_hat, 1e-12)
    return np.mean(-(X * np.log(P) + (1 - X) * np.log(1 - P)))


def divides_by_35(X_hat, X):
    P = np.clip(X_hat, 1e-12, 1 - 1e-12)
    return np.sum(-(X * np.log(P) + (1 - X) * np.log(1 - P))) / (len(X) * 35)


def in_float32(X_hat, X):
    X_hat, X = X_hat.astype(np.float32), X.astype(np.float32)
    P = np.clip(X_hat, 1e-12, 1 - 1e-12)  # 1 - 1e-12 is 1.0 in float32
    return np.mean(-(X * np.log(P) + (1 - X) * np.log(1 - P)))


@pytest.mark.parametrize("wrong, message", [
    (summed, "sum of all the terms"),
    (lambda X_hat, X: -binary_cross_entropy(X_hat, X), "wrong sign"),
    (per_glyph_sum, "each glyph's sum"),
    (lambda X_hat, X: binary_cross_entropy(X_hat, X) / np.log(2), "log base 2"),
    (lambda X_hat, X: np.mean(-(X * np.log10(np.clip(X_hat, 1e-12, 1)) + (1 - X) * np.log10(
        np.clip(1 - X_hat, 1e-12, 1)))), "log base 10"),
    (divides_by_35, r"divides by n \* 35"),
    (picks_one_term, "targets may lie between 0 and 1"),
    (unclipped, r"0 \* log\(0\)"),
    (clipped_then_nan, "np.clip"),
    (clipped_below_only, r"0 \* log\(0\)"),
    (clipped_too_far, "tiny distance"),
    (clipped_at(1e-6), r"between 16\.1 and 744\.4 .* actual: 13\.8155"),
    # 1 - 1e-20 rounds to 1, so log(1 - P) is -inf at a confident, correct pixel.
    (clipped_at(1e-20), r"confident, correct pixels: the loss is not finite.*at least about 1e-16.*1 - eps"
                        r"\s+must stay below 1 in float64"),
    (hides_inf_as(0.0), r"confident and wrong pixel: expected a large but finite loss, between 16\.1 and 744\.4"),
    (hides_inf_as(30.0), r"X_hat=\[\[5e-324\]\], X=\[\[1\]\]\) = 744\.44 is more than .*\[\[0\.0\]\].* = 30"),
    (hides_inf_as(700.0), r"X_hat=\[\[5e-324\]\], X=\[\[1\]\]\) = 744\.44 is more than .*np\.nan_to_num"),
    (one_wrong_pixel_at_most, "7 confident, wrong pixels"),
    (in_float32, "your result is float32.* computes in float64"),
    (lambda X_hat, X: np.mean((X_hat - X) ** 2), "expected"),
    (lambda X_hat, X: 0.0, "expected"),
    (lambda X_hat, X: np.zeros_like(X), "shape"),
])
def test_binary_cross_entropy_rejects_mistakes(wrong, message):
    with fails_with(message):
        check_binary_cross_entropy(wrong)


def test_binary_cross_entropy_rejects_changing_the_input():
    def in_place(X_hat, X):
        np.clip(X_hat, 1e-12, 1 - 1e-12, out=X_hat)
        return unclipped(X_hat, X)

    with fails_with("changed X_hat in place"):
        check_binary_cross_entropy(in_place)


def test_binary_cross_entropy_stub_is_not_implemented_yet():
    with fails_with("not implemented yet"):
        check_binary_cross_entropy(not_implemented)


# ---------------------------------------------------------------------------------------------
# Exercise 1.4: a three-dimensional latent space.

def train_3d_autoencoder(X, seed=0, epochs=3000):
    model = aelib.Autoencoder([35, 30, 20, 3], seed=seed)
    model.fit(X, epochs=epochs, lr=3e-3)
    return model


def spelled_out(X, seed=0, epochs=3000):
    model = aelib.Autoencoder(sizes=[X.shape[1], 30, 20, 3], activation="tanh", output_activation="sigmoid",
                              loss="bce", seed=int(seed))
    history = model.fit(np.array(X), epochs, 0.003, batch_size=len(X), optimizer="adam")
    assert len(history) == epochs
    return model


def train_in_a_subclass(X, seed=0, epochs=3000):
    class Model(aelib.Autoencoder):
        """The chapter's model, with a name of its own."""

    model = Model([35, 30, 20, 3], seed=seed)
    model.fit(X, epochs=epochs, lr=3e-3)
    return model


@pytest.mark.parametrize("answer", [train_3d_autoencoder, spelled_out, train_in_a_subclass],
                         ids=["solution", "every setting spelled out", "a subclass"])
def test_train_3d_autoencoder_accepts_correct_answers(answer, capsys):
    accepts(check_train_3d_autoencoder, answer, capsys)


LETTERS = aelib.load_font()[0]


def trained(sizes=(35, 30, 20, 3), seed=0, epochs=3000, lr=3e-3, data=LETTERS, **options):
    model = aelib.Autoencoder(list(sizes), seed=seed, **options)
    model.fit(data, epochs=epochs, lr=lr)
    return model

TRAINED_EARLIER = trained(data=LETTERS, seed=0, epochs=50)


def remembers(key):
    models = {}

    def train_3d_autoencoder(X, seed=0, epochs=3000):
        if key(seed, epochs) not in models:
            models[key(seed, epochs)] = trained(seed=seed, epochs=epochs, data=X)
        return models[key(seed, epochs)]
    return train_3d_autoencoder


def trains_twice(X, seed=0, epochs=3000):
    model = aelib.Autoencoder([35, 30, 20, 3], seed=seed)
    model.fit(X, epochs=epochs // 2, lr=3e-3)
    model.fit(X, epochs=epochs - epochs // 2, lr=3e-3)
    return model


def seeds_numpy(X, seed=0, epochs=3000):
    np.random.seed(seed)
    return trained(seed=seed, epochs=epochs, data=X)


def smooths_in_place(X, seed=0, epochs=3000):
    X *= 0.98  # keeps the targets away from 0 and 1, and changes the caller's data
    return trained(seed=seed, epochs=epochs, data=X)


class Lookup:
    """Gives every glyph the same code and answers reconstruct() from memory."""

    def __init__(self, X):
        self.X = X

    def encode(self, X):
        return np.zeros((len(X), 3))

    def decode(self, Z):
        return np.zeros((len(Z), 35))

    def reconstruct(self, X):
        return self.X


@pytest.mark.parametrize("wrong, message", [
    (lambda X, seed=0, epochs=3000: trained((35, 30, 20, 2), seed, epochs, data=X), "a 2-dimensional code"),
    (lambda X, seed=0, epochs=3000: trained((35, 30, 20, 1), seed, epochs, data=X), "a 1-dimensional code"),
    (lambda X, seed=0, epochs=3000: trained((35, 20, 3), seed, epochs, data=X), "other hidden layers"),
    (lambda X, seed=0, epochs=3000: trained((35, 64, 32, 3), seed, epochs, data=X), "other hidden layers"),
    (lambda X, seed=0, epochs=3000: trained(seed=seed, epochs=epochs, data=X, activation="relu"),
     "activation='relu'"),
    (lambda X, seed=0, epochs=3000: trained(seed=seed, epochs=epochs, data=X, loss="mse"), "loss='mse'"),
    (lambda X, seed=0, epochs=3000: trained(seed=seed, epochs=epochs, data=X, dtype="float32"),
     "dtype='float32'"),
    # The seed: ignored, hard-coded, or fresh randomness.
    (lambda X, seed=0, epochs=3000: trained(seed=0, epochs=epochs, data=X), "seed=0 although the check passed seed=1"),
    (lambda X, seed=0, epochs=3000: trained(seed=None, epochs=epochs, data=X), "seed=None"),
    (lambda X, seed=0, epochs=3000: trained(seed=1, epochs=epochs, data=X), "seed=1 although the check passed seed=2"),
    # The data: the letters from a global, or a model trained before.
    (lambda X, seed=0, epochs=3000: trained(seed=seed, epochs=epochs, data=LETTERS),
     "reconstructs the letters .* better than the 10 digits .* trained on the letters"),
    (remembers(lambda seed, epochs: seed), "trained on the letters"),
    (remembers(lambda seed, epochs: (seed, epochs)), "trained on the letters"),
    (remembers(lambda seed, epochs: epochs), "trained on the letters"),
    (lambda X, seed=0, epochs=3000: TRAINED_EARLIER, "seed=0 although the check passed seed=1"),
    # Training: none, the default number of epochs, another learning rate, two calls, minibatches.
    (lambda X, seed=0, epochs=3000: aelib.Autoencoder([35, 30, 20, 3], seed=seed), "not trained"),
    (lambda X, seed=0, epochs=3000: trained(seed=seed, data=X), "trained for 3000 epochs, not for the epochs=600"),
    (lambda X, seed=0, epochs=3000: trained(seed=seed, epochs=epochs, lr=1e-2, data=X),
     "codes differ from those of aelib.Autoencoder.*expected: loss"),
    (trains_twice, "codes differ from those of"),
    (lambda X, seed=0, epochs=3000: trained(seed=seed, epochs=epochs, data=X[::-1]),
     "is that of the exercise's model to 6 digits, but whose codes differ in their last digits"),
    (seeds_numpy, "numpy's global random generator"),
    (smooths_in_place, "changed X in place"),
    # Not the model.
    (lambda X, seed=0, epochs=3000: trained(seed=seed, epochs=epochs, data=X).fit(X, epochs=1, lr=3e-3),
     "list, which has no encode"),
    (lambda X, seed=0, epochs=3000: Lookup(X), "gives glyphs 0 and 1 the same code"),
    (lambda X, seed=0: trained(seed=seed, data=X), "unexpected keyword argument 'epochs'.*seed=0, epochs=3000"),
])
def test_train_3d_autoencoder_rejects_mistakes(wrong, message):
    with fails_with(message):
        check_train_3d_autoencoder(wrong)


def test_train_3d_autoencoder_rejects_a_reconstruct_that_skips_the_code():
    def train_3d_autoencoder(X, seed=0, epochs=3000):
        model = trained(seed=seed, epochs=epochs, data=X)
        model.reconstruct = lambda X: np.round(aelib.Autoencoder.reconstruct(model, X))  # X, not g(f(X))
        return model

    with fails_with("reconstruct must decode"):
        check_train_3d_autoencoder(train_3d_autoencoder)


def test_train_3d_autoencoder_refuses_other_parts_of_aelib():
    def with_adam(X, seed=0, epochs=3000):
        model = aelib.Autoencoder([35, 30, 20, 3], seed=seed)
        model.fit(X, epochs=epochs, optimizer=aelib.Adam(lr=3e-3))
        return model

    with fails_with("calls aelib.optim.Adam, which is part of aelib.* allows only aelib.autoencoder.Autoencoder"):
        check_train_3d_autoencoder(with_adam)


def test_train_3d_autoencoder_stub_is_not_implemented_yet():
    with fails_with("not implemented yet"):
        check_train_3d_autoencoder(not_implemented)


# ---------------------------------------------------------------------------------------------
# Exercise 1.5: what the autoencoder draws for glyphs it never saw.

def hamming(A, B):
    return ((A[:, None, :] > 0.5) != (B[None, :, :] > 0.5)).sum(axis=2)


def measure_unseen(model, X_unseen, X_train):
    X_hat = model.reconstruct(X_unseen)
    wrong = ((X_hat > 0.5) != (X_unseen > 0.5)).sum(axis=1)
    return wrong, aelib.denoising.glyph_distances(X_hat, X_train, "hamming").argmin(axis=1)


def in_numpy(model, X_unseen, X_train):
    X_hat = model.reconstruct(X_unseen)
    return ((X_hat > 0.5) != (X_unseen > 0.5)).sum(axis=1), hamming(X_hat, X_train).argmin(axis=1)


def through_the_code(model, X_unseen, X_train):
    X_hat = model.decode(model.encode(X_unseen))
    B, G = (X_hat > 0.5).astype(int), (X_train > 0.5).astype(int)
    distances = B.sum(axis=1, keepdims=True) + G.sum(axis=1) - 2 * B @ G.T
    return np.count_nonzero(B != (X_unseen > 0.5), axis=1), np.argmin(distances, axis=1)


def glyph_by_glyph(model, X_unseen, X_train):
    wrong, nearest = [], []
    for x in X_unseen:
        x_hat = model.reconstruct(x.reshape(1, -1))[0] > 0.5
        wrong.append(int(np.sum(x_hat != (x > 0.5))))
        best, best_distance = 0, np.inf
        for j, glyph in enumerate(X_train):
            distance = np.sum(x_hat != (glyph > 0.5))
            if distance < best_distance:
                best, best_distance = j, distance
        nearest.append(best)
    return np.array(wrong), np.array(nearest)


@pytest.mark.parametrize("answer", [measure_unseen, in_numpy, through_the_code, glyph_by_glyph],
                         ids=["glyph_distances", "numpy", "decode(encode(X))", "glyph by glyph"])
def test_measure_unseen_accepts_correct_answers(answer, capsys):
    accepts(check_measure_unseen, answer, capsys)


def nearest_to(model, X_unseen, X_train, wrong=None, nearest=None):
    X_hat = model.reconstruct(X_unseen)
    right_wrong, right_nearest = in_numpy(model, X_unseen, X_train)
    return (right_wrong if wrong is None else wrong(X_hat, X_unseen, X_train),
            right_nearest if nearest is None else nearest(X_hat, X_unseen, X_train))


def ties_to_the_last(model, X_unseen, X_train):
    wrong, _ = in_numpy(model, X_unseen, X_train)
    X_hat = model.reconstruct(X_unseen)
    nearest = []
    for x_hat in X_hat:
        best, best_distance = 0, np.inf
        for j, glyph in enumerate(X_train):
            distance = np.sum((x_hat > 0.5) != (glyph > 0.5))
            if distance <= best_distance:
                best, best_distance = j, distance
        nearest.append(best)
    return wrong, np.array(nearest)


def knows_the_letters(model, X_unseen, X_train):
    wrong, _ = in_numpy(model, X_unseen, X_train)
    X_hat = model.reconstruct(X_unseen)
    return wrong, np.array([min(range(27), key=lambda j: np.sum((x > 0.5) != (X_train[j] > 0.5))) for x in X_hat])


@pytest.mark.parametrize("wrong, message", [
    (lambda m, U, T: nearest_to(m, U, T, wrong=lambda X_hat, U, T: (X_hat != U).sum()), "single number"),
    (lambda m, U, T: nearest_to(m, U, T, wrong=lambda X_hat, U, T: (X_hat != U).sum(axis=1)),
     "every pixel counted as wrong"),
    (lambda m, U, T: nearest_to(m, U, T, wrong=lambda X_hat, U, T: hamming(X_hat, T).min(axis=1)),
     "distance to the nearest training glyph"),
    (lambda m, U, T: nearest_to(m, U, T, wrong=lambda X_hat, U, T: ((X_hat >= 0.5) != (U > 0.5)).sum(axis=1)),
     r"exactly 0\.5 counted as ink"),
    (lambda m, U, T: nearest_to(m, U, T, wrong=lambda X_hat, U, T: ((X_hat > 0.5) != U).sum(axis=1)),
     "X_unseen holds grey levels here"),
    (lambda m, U, T: nearest_to(m, U, T, nearest=lambda X_hat, U, T: hamming(U, T).argmin(axis=1)),
     "nearest to each unseen glyph itself"),
    (lambda m, U, T: nearest_to(m, U, T, nearest=lambda X_hat, U, T: hamming(X_hat, T).argmax(axis=1)),
     "farthest training glyph"),
    (lambda m, U, T: nearest_to(m, U, T, nearest=lambda X_hat, U, T: np.linalg.norm(
        X_hat[:, None, :] - T[None, :, :], axis=2).argmin(axis=1)), "compared the probabilities"),
    (lambda m, U, T: nearest_to(m, U, T, nearest=lambda X_hat, U, T: aelib.denoising.glyph_distances(
        X_hat, T, "euclidean").argmin(axis=1)), "compared the probabilities"),
    (lambda m, U, T: nearest_to(m, U, T, nearest=lambda X_hat, U, T: np.abs(
        X_hat[:, None, :] - T[None, :, :]).sum(axis=2).argmin(axis=1)), "compared the probabilities"),
    (lambda m, U, T: nearest_to(m, U, T, nearest=lambda X_hat, U, T: (
        (X_hat[:, None, :] >= 0.5) != (T[None, :, :] > 0.5)).sum(axis=2).argmin(axis=1)),
     r"exactly 0\.5 counted as ink"),
    (lambda m, U, T: nearest_to(m, U, T, nearest=lambda X_hat, U, T: (
        (X_hat[:, None, :] > 0.5) != T[None, :, :]).sum(axis=2).argmin(axis=1)), "X_train holds grey levels"),
    (lambda m, U, T: nearest_to(m, U, T, nearest=lambda X_hat, U, T: (
        (X_hat[:, None, :] > 0.5) != (T[None, :, :] >= 0.5)).sum(axis=2).argmin(axis=1)),
     r"a training pixel of exactly 0\.5 counted as ink"),
    (lambda m, U, T: nearest_to(m, U, T, wrong=lambda X_hat, U, T: ((X_hat > 0.5) != (U >= 0.5)).sum(axis=1)),
     r"a pixel of X_unseen of exactly 0\.5 counted as ink"),
    (lambda m, U, T: nearest_to(m, U, T, nearest=lambda X_hat, U, T: hamming(X_hat, T).argmin(axis=0)),
     "one per training glyph"),
    (lambda m, U, T: nearest_to(m, U, T, nearest=lambda X_hat, U, T: hamming(X_hat, T).argmin(axis=1) * 1.0),
     "the indices are float64; return integers"),
    (ties_to_the_last, "on a tie you named the last"),
    (knows_the_letters, "raised IndexError"),
    (lambda m, U, T: nearest_to(m, U, T, nearest=lambda X_hat, U, T: aelib.nearest_glyph(X_hat, T)),
     "calls aelib.denoising.nearest_glyph, which is part of aelib"),
    (lambda m, U, T: nearest_to(m, U, T)[0], "two arrays"),
    (lambda m, U, T: (m.encode(U), in_numpy(m, U, T)[1]), "shape"),
    (lambda m, U, T: measure_unseen(m, T, T), "Reconstruct the unseen glyphs"),
    (lambda m, U, T: in_numpy(m, U, T)[::-1], "expected"),
])
def test_measure_unseen_rejects_mistakes(wrong, message):
    with fails_with(message):
        check_measure_unseen(wrong)


def test_measure_unseen_rejects_changing_the_input():
    def in_place(model, X_unseen, X_train):
        result = measure_unseen(model, X_unseen, X_train)
        X_train[0] = 0.0
        return result

    with fails_with("changed X_train in place"):
        check_measure_unseen(in_place)


def test_measure_unseen_stub_is_not_implemented_yet():
    with fails_with("not implemented yet"):
        check_measure_unseen(not_implemented)


# ---------------------------------------------------------------------------------------------
# More answers, each exercise in the order of the chapter.

@pytest.mark.parametrize("answer", [
    lambda X, X_hat: ((X_hat > 0.5) != (X > 0.5)).sum(axis=1, dtype=np.uint8),
    lambda X, X_hat: np.abs(np.rint(X_hat).astype(int) - np.rint(X).astype(int)).sum(axis=1),
    lambda X, X_hat: [int(np.sum((x_hat > 0.5) ^ (x > 0.5))) for x, x_hat in zip(X, X_hat)],
], ids=["uint8 counts", "rint as integers", "a list of ints"])
def test_count_wrong_pixels_accepts_more_correct_answers(answer, capsys):
    accepts(check_count_wrong_pixels, answer, capsys)


def capped_cross_entropy(X_hat, X, cap=100.0):
    """The zero-weight terms left out, so that no 0 * log(0) appears, and each pixel's cost capped:
    as a clip where targets are 0 or 1, but a grey target pays the whole cap."""
    with np.errstate(divide="ignore"):
        terms = (np.where(X > 0, -X * np.log(X_hat), 0.0) + np.where(X < 1, -(1 - X) * np.log(1 - X_hat), 0.0))
    return float(np.mean(np.minimum(terms, cap)))


def shifted_cross_entropy(X_hat, X, eps=1e-5):
    return float(np.mean(-(X * np.log(X_hat + eps) + (1 - X) * np.log(1 - X_hat + eps))))


@pytest.mark.parametrize("wrong, message", [
    (capped_cross_entropy, r"grey targets .* expected: 50 actual: 100 .*A cap on each pixel's cost"),
    (shifted_cross_entropy, r"relative difference 4\.1e-05.*Close, but not equal: a shift or a clip by eps"),
], ids=["a cap on each pixel's cost", "a shift by 1e-5"])
def test_binary_cross_entropy_rejects_more_mistakes(wrong, message):
    with fails_with(message):
        check_binary_cross_entropy(wrong)


@pytest.mark.parametrize("answer", [
    lambda X_hat, X: float(np.mean(-(X * np.log(np.maximum(X_hat, 1e-300))
                                     + (1 - X) * np.log(np.maximum(1 - X_hat, 1e-300))))),
    lambda X_hat, X: float(np.mean(-(X * np.log(np.clip(X_hat, 1e-16, 1 - 1e-16))
                                     + (1 - X) * np.log(1 - np.clip(X_hat, 1e-16, 1 - 1e-16))))),
    lambda X_hat, X: float(np.mean(-(X * np.log(np.clip(X_hat, 1e-15, 1 - 1e-15))
                                     + (1 - X) * np.log1p(-np.clip(X_hat, 1e-15, 1 - 1e-15))))),
    lambda X_hat, X: shifted_cross_entropy(X_hat, X, eps=1e-7),
], ids=["a floor of 1e-300", "a clip at 1e-16", "log1p", "a shift by 1e-7"])
def test_binary_cross_entropy_accepts_more_correct_answers(answer, capsys):
    accepts(check_binary_cross_entropy, answer, capsys)


def remembers_by_data(key):
    models = {}

    def train_3d_autoencoder(X, seed=0, epochs=3000):
        if key(X, seed, epochs) not in models:
            models[key(X, seed, epochs)] = trained(seed=seed, epochs=epochs, data=X)
        return models[key(X, seed, epochs)]
    return train_3d_autoencoder


@pytest.mark.parametrize("wrong, message", [
    (remembers_by_data(lambda X, seed, epochs: (X.tobytes(), seed)),
     r"seed=1, epochs=400\) on the 27 letters returned the very model it returned when called with seed=1, "
     r"epochs=600 on the letters: a model kept from an earlier call"),
    (remembers_by_data(lambda X, seed, epochs: (len(X), epochs)),
     r"seed=1, epochs=400\) on the 27 letters returned the very model it returned when called with seed=2, "
     r"epochs=400 on the letters"),
    (remembers_by_data(lambda X, seed, epochs: X.tobytes()), "returned the very model it returned"),
], ids=["by data and seed", "by data size and epochs", "by data"])
def test_train_3d_autoencoder_rejects_a_model_kept_from_an_earlier_call(wrong, message):
    with fails_with(message):
        check_train_3d_autoencoder(wrong)


def test_train_3d_autoencoder_says_what_the_exercise_allows():
    def denoising(X, seed=0, epochs=3000):
        model = aelib.Autoencoder([35, 30, 20, 3], seed=seed)
        model.fit(X, epochs=epochs, lr=3e-3, noise=lambda B, rng: aelib.salt_and_pepper(B, 0.05, rng=rng))
        return model

    with fails_with(r"calls aelib.noise.salt_and_pepper, which is part of aelib. This exercise builds "
                    r"aelib.Autoencoder\(\[35, 30, 20, 3\], seed=seed\) and trains it with one call of its fit "
                    r"method, fit\(X, epochs=epochs, lr=3e-3\)"):
        check_train_3d_autoencoder(denoising)


def copy_of_a_model_built_earlier():
    built = aelib.Autoencoder([35, 30, 20, 3], seed=0)

    def train_3d_autoencoder(X, seed=0, epochs=3000):
        model = copy.deepcopy(built)
        model.fit(X, epochs=epochs, lr=3e-3)
        return model
    return train_3d_autoencoder


def test_train_3d_autoencoder_copies_models_and_names_the_seed_of_a_copy(capsys):
    accepts(check_train_3d_autoencoder,
            lambda X, seed=0, epochs=3000: pickle.loads(pickle.dumps(trained(seed=seed, epochs=epochs, data=X))),
            capsys)
    accepts(check_train_3d_autoencoder,
            lambda X, seed=0, epochs=3000: copy.deepcopy(trained(seed=seed, epochs=epochs, data=X)), capsys)
    with fails_with("built with seed=0 although the check passed seed=1"):
        check_train_3d_autoencoder(copy_of_a_model_built_earlier())


A_MODEL_OF_ITS_OWN = aelib.Autoencoder([35, 30, 20, 2], seed=0)  # as the chapter's ae, a global


def sorts_the_distances(model, X_unseen, X_train, kind="quicksort"):
    wrong, _ = in_numpy(model, X_unseen, X_train)
    return wrong, np.argsort(hamming(model.reconstruct(X_unseen), X_train), axis=1, kind=kind)[:, 0]


@pytest.mark.parametrize("wrong, message", [
    (sorts_the_distances, r"12 unseen and 30 training glyphs: reconstruction 0 is as near to training glyphs 20 "
                          r"and 24 .* on a tie the exercise asks for the first.*kind='stable'"),
    (lambda m, U, T: sorts_the_distances(m, U, T, kind="heapsort"), "on a tie the exercise asks for the first"),
    (lambda m, U, T: nearest_to(m, U, T, nearest=lambda X_hat, U, T: hamming(X_hat, LETTERS).argmin(axis=1)),
     r"4 unseen and 6 training glyphs in grey levels: got .*those are the letters nearest to each "
     r"reconstruction.*not with the letters X defined outside the function"),
    (lambda m, U, T: in_numpy(A_MODEL_OF_ITS_OWN, U, T),
     r"calls aelib.autoencoder.Autoencoder.reconstruct, a method of a model of aelib's own, not of the model "
     r"passed in.*not a model defined outside the function \(such as ae\)"),
    (lambda m, U, T: tuple(value[:10] for value in in_numpy(m, U, T)),
     r"for 12 unseen and 30 training glyphs: the shape is wrong"),
    (lambda m, U, T: in_numpy(aelib.Autoencoder([35, 30, 20, 2], seed=0), U, T),
     r"calls aelib.autoencoder.Autoencoder, a model of aelib's own, not the model passed in"),
], ids=["np.argsort's default", "a heap sort", "the letters instead of X_train", "a global model",
        "ten glyphs at most", "a model built inside"])
def test_measure_unseen_rejects_more_mistakes(wrong, message):
    with fails_with(message):
        check_measure_unseen(wrong)


@pytest.mark.parametrize("answer", [
    lambda m, U, T: sorts_the_distances(m, U, T, kind="stable"),
    lambda m, U, T: ((np.round(m.reconstruct(U)) != np.round(U)).sum(axis=1),
                     (np.round(m.reconstruct(U))[:, None, :] != np.round(T)[None, :, :]).sum(axis=2).argmin(axis=1)),
], ids=["a stable sort", "np.round, which sends 0.5 to 0"])
def test_measure_unseen_accepts_more_correct_answers(answer, capsys):
    accepts(check_measure_unseen, answer, capsys)
