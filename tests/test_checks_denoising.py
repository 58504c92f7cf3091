"""The exercise checks of chapter 2 accept correct answers written in several ways, reject the
plausible wrong ones with a message that names the mistake, and say "not implemented yet" for an
untouched stub."""
import copy
import math
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from check_failures import accepts, fails_with, not_implemented

import aelib
import aelib.checks.denoising
from aelib.checks import check_masking_decoder, check_masking_noise, check_nearest_glyph, check_salt_and_pepper
from aelib.checks.denoising import FALSE_FAILURE_PER_TEST, _expect_independent_pairs, _tolerance
from aelib.checks.feedback import CheckFailed


# Exercise 2.1: salt-and-pepper noise.

def salt_and_pepper(X, p, rng):
    replaced = rng.random(X.shape) < p
    salt = rng.random(X.shape) < 0.5
    return np.where(replaced, salt.astype(float), X)


def one_uniform_per_pixel(X, p, rng):
    # One number per pixel decides both: below p/2 it becomes 1, between p/2 and p it becomes 0.
    u = rng.random(X.shape)
    return np.where(u < p / 2, 1.0, np.where(u < p, 0.0, X))


def three_outcomes(X, p, rng):
    outcome = rng.choice(3, size=X.shape, p=[1 - p, p / 2, p / 2])
    return np.choose(outcome, [X, np.zeros_like(X), np.ones_like(X)])


def pixel_by_pixel(X, p, rng):
    X_noisy = X.copy()
    for i in range(X.shape[0]):
        for j in range(X.shape[1]):
            if rng.random() < p:
                X_noisy[i, j] = float(rng.integers(2))
    return X_noisy


def binomial_masks(X, p, rng):
    replaced = rng.binomial(1, p, X.shape).astype(bool)
    return np.where(replaced, rng.integers(0, 2, X.shape), X).astype(np.float64)


def own_stream(offset):
    # A correct answer whose random numbers differ from every other answer's: a generator seeded
    # from rng (so the same seed still gives the same result).
    def answer(X, p, rng):
        return salt_and_pepper(X, p, np.random.default_rng([int(rng.integers(2**32)), offset]))
    return answer


@pytest.mark.parametrize("answer", [salt_and_pepper, one_uniform_per_pixel, three_outcomes, pixel_by_pixel,
                                    binomial_masks])
def test_salt_and_pepper_accepts_correct_answers(answer, capsys):
    accepts(check_salt_and_pepper, answer, capsys)


def test_salt_and_pepper_accepts_correct_answers_whatever_numbers_they_draw(capsys):
    for offset in range(8):
        accepts(check_salt_and_pepper, own_stream(offset), capsys)


def two_passes(X, p, rng):
    # A mistake that used to pass: 19% of the pixels replaced, not 20%, and 47% of them white.
    X = np.where(rng.random(X.shape) < p / 2, 1.0, X)
    return np.where(rng.random(X.shape) < p / 2, 0.0, X)


def binarised(X, p, rng):
    X_noisy = np.where(rng.random(X.shape) < p, rng.random(X.shape) < 0.5, X > 0.5)
    return X_noisy.astype(np.float64)


def flip(X, p, rng):
    return np.where(rng.random(X.shape) < p, 1.0 - X, X)


def pepper_only(X, p, rng):
    return np.where(rng.random(X.shape) < p, 0.0, X)


def same_number_twice(X, p, rng):
    # One array of uniforms for both decisions: every replaced pixel (u < p < 0.5) becomes 1.
    u = rng.random(X.shape)
    return np.where(u < p, (u < 0.5).astype(float), X)


def coin_that_never_lands(X, p, rng):
    return np.where(rng.random(X.shape) < p, rng.integers(0, 1, X.shape).astype(float), X)


def value_decides(X, p, rng):
    # A replaced pixel takes the opposite colour of what it was: a flip in disguise.
    return np.where(rng.random(X.shape) < p, (X < 0.5).astype(float), X)


def ink_only(X, p, rng):
    return np.where((rng.random(X.shape) < p) & (X > 0.5), (rng.random(X.shape) < 0.5).astype(float), X)


def one_draw_per_image(X, p, rng):
    replaced = rng.random((len(X), 1)) < p
    return np.where(replaced, (rng.random(X.shape) < 0.5).astype(float), X)


def one_draw_per_position(X, p, rng):
    replaced = rng.random(X.shape[1]) < p
    return np.where(replaced, (rng.random(X.shape) < 0.5).astype(float), X)


def one_salt_per_image(X, p, rng):
    salt = np.broadcast_to(rng.random((len(X), 1)) < 0.5, X.shape)
    return np.where(rng.random(X.shape) < p, salt.astype(float), X)


def fixed_number_of_pixels(X, p, rng):
    X_noisy = X.copy().ravel()
    chosen = rng.choice(X.size, int(round(p * X.size)), replace=False)
    X_noisy[chosen] = rng.random(len(chosen)) < 0.5
    return X_noisy.reshape(X.shape)


def fixed_number_per_image(X, p, rng):
    X_noisy = X.copy()
    k = int(round(p * X.shape[1]))
    for row in X_noisy:
        chosen = rng.permutation(X.shape[1])[:k]
        row[chosen] = rng.random(k) < 0.5
    return X_noisy


def p_fixed(X, p, rng):
    return salt_and_pepper(X, 0.2, rng)


def half_the_rate(X, p, rng):
    return salt_and_pepper(X, p / 2, rng)


def keeps_with_probability_p(X, p, rng):
    return salt_and_pepper(X, 1 - p, rng)


def thirty_five_columns(X, p, rng):
    replaced = rng.random((len(X), 35)) < p
    return np.where(replaced, (rng.random((len(X), 35)) < 0.5).astype(float), X)


def first_35_columns(X, p, rng):
    # A loop over the font's 35 columns: other images are noised only in part.
    X_noisy = X.copy()
    for j in range(min(35, X.shape[1])):
        replaced = rng.random(len(X)) < p
        X_noisy[replaced, j] = rng.random(replaced.sum()) < 0.5
    return X_noisy


def in_float32(X, p, rng):
    return salt_and_pepper(X, p, rng).astype(np.float32)


def global_generator(X, p, rng):
    return salt_and_pepper(X, p, np.random.default_rng(np.random.randint(2**31)))


def reseeds_numpy(X, p, rng):
    np.random.seed(0)
    return salt_and_pepper(X, p, rng)


def fresh_entropy(X, p, rng):
    return salt_and_pepper(X, p, np.random.default_rng())


def fixed_seed(X, p, rng):
    return salt_and_pepper(X, p, np.random.default_rng(0))


def in_place(X, p, rng):
    replaced = rng.random(X.shape) < p
    X[replaced] = (rng.random(X.shape) < 0.5)[replaced]
    return X


def gaussian_instead(X, p, rng):
    return X + p * rng.standard_normal(X.shape)


@pytest.mark.parametrize("wrong, message", [
    (two_passes, r"fraction of pixels replaced is wrong: expected: 0\.2 .* actual: 0\.19.* Two passes"),
    (binarised, "with p=0 changed the grey pixels to 0 or 1 .* it binarises the image"),
    (flip, r"went from 0\.\d+ to 0\.\d+, that is 1 - x: it flips pixels"),
    (pepper_only, "Replaced pixels all became 0"),
    (same_number_twice, "Replaced pixels all became 1"),
    (coin_that_never_lands, "Replaced pixels all became 0"),
    (value_decides, r"of the replaced pixels, 100\.0% of the pixels below 0\.5 became 1, but 0\.0% of the "
                    "pixels above 0.5.*must not depend on its value"),
    (ink_only, r"0\.0% of the pixels below 0\.5 were replaced, but 20\.0% of the pixels above 0\.5"),
    (one_draw_per_image, r"second was replaced in 100\.0% of the pairs whose first was.*Pixels of one image "
                         "are replaced together"),
    (one_draw_per_position, "two pixels at the same position in two images.*The same pixels are replaced "
                            "in every image"),
    (one_salt_per_image, "neighbouring pixels of one image, the second was set to 1"),
    (fixed_number_of_pixels, "replaced exactly 7 of the 35 pixels of one image in each of 200 calls"),
    (fixed_number_per_image, "not replaced independently"),
    (p_fixed, "with p=0 must return X unchanged.*is p fixed at 0.2"),
    (half_the_rate, r"actual: 0\.1.* That is about p/2"),
    (keeps_with_probability_p, "Every pixel changed: do you keep a pixel with probability p instead of 1 - p"),
    (thirty_five_columns, r"combined arrays whose shapes do not fit.*use X\.shape, not fixed sizes such as 35"),
    (first_35_columns, r"in an X of shape \(3000, 64\), 50\.\d% of the pixels in columns 0 to 34 were replaced, "
                       r"but 0\.0% of the pixels in the other columns"),
    (in_float32, "returned float32 values.*Keep X's float64 dtype"),
    (global_generator, "used numpy's global random generator"),
    (reseeds_numpy, "used numpy's global random generator"),
    (fresh_entropy, "different results for two generators with the same seed"),
    (fixed_seed, "same result for generators with different seeds"),
    (in_place, "changed X in place"),
    (gaussian_instead, "Each pixel either keeps its exact value or is replaced by exactly 0 or 1"),
    (lambda X, p, rng: salt_and_pepper(X, p, rng).ravel(), r"must return an array of X's shape .* "
                                                           r"expected: shape \(500, 35\)"),
    (lambda X, p, rng: None, "must return an array of X's shape"),
])
def test_salt_and_pepper_rejects_mistakes(wrong, message):
    with fails_with(message):
        check_salt_and_pepper(wrong)


def uniforms_transposed(X, p, rng):
    # The same statistics from numbers drawn in another order and shape.
    replaced = rng.random(X.shape[::-1]).T < p
    return np.where(replaced, rng.integers(0, 2, X.shape), X)


def exponential_times(X, p, rng):
    # A pixel is replaced when an exponential time falls before -log(1 - p): probability p.
    with np.errstate(divide="ignore"):
        threshold = -np.log1p(-p)
    return np.where(rng.exponential(size=X.shape) < threshold, rng.choice([0.0, 1.0], size=X.shape), X)


def binomial_count_then_subset(X, p, rng):
    # A Binomial(X.size, p) number of pixels, chosen uniformly: the same law as independent pixels.
    k = rng.binomial(X.size, p)
    X_noisy = X.copy().ravel()
    X_noisy[rng.permutation(X.size)[:k]] = rng.integers(0, 2, k)
    return X_noisy.reshape(X.shape)


@pytest.mark.parametrize("answer", [uniforms_transposed, exponential_times, binomial_count_then_subset])
def test_salt_and_pepper_accepts_correct_answers_that_draw_in_another_order(answer, capsys):
    accepts(check_salt_and_pepper, answer, capsys)


def from_a_copy_of_rng(X, p, rng):
    # "Leave the generator untouched": then every call with one generator gives the same noise, and
    # training sees the same noisy batches in every epoch.
    return salt_and_pepper(X, p, copy.deepcopy(rng))


def from_a_small_seed(X, p, rng):
    return salt_and_pepper(X, p, np.random.default_rng(int(rng.integers(10))))


_KEPT = {}


def coins_kept_from_an_earlier_call(X, p, rng):
    if X.shape not in _KEPT:
        _KEPT[X.shape] = rng.random(X.shape) < 0.5
    return np.where(rng.random(X.shape) < p, _KEPT[X.shape].astype(float), X)


def exactly_half_salt(X, p, rng):
    replaced = rng.random(X.shape) < p
    values = np.zeros(int(replaced.sum()))
    values[:len(values) // 2] = 1.0
    X_noisy = X.copy()
    X_noisy[replaced] = rng.permutation(values)
    return X_noisy


def whole_percentages(X, p, rng):
    return np.where(rng.integers(0, 100, X.shape) < 100 * p, rng.integers(0, 2, X.shape), X)


def one_chance_in_n(X, p, rng):
    if p == 0:
        return X.copy()
    return np.where(rng.integers(0, int(1 / p), X.shape) == 0, rng.integers(0, 2, X.shape), X)


def x_itself_when_p_is_0(X, p, rng):
    return X if p == 0 else salt_and_pepper(X, p, rng)


def in_a_thread(X, p, rng):
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(aelib.salt_and_pepper, X, p, rng).result()


@pytest.mark.parametrize("wrong, message", [
    # Answers that used to pass.
    (from_a_copy_of_rng, "gave the same result twice when called twice with the same generator"),
    (lambda X, p, rng: salt_and_pepper(X, p, np.random.default_rng(int(rng.integers(10)))),
     r"same result for generators with seeds \d+ and \d+ \(p=1, 350 pixels\): its random numbers repeat"),
    (coins_kept_from_an_earlier_call, "seeds 300 and 301 .* nor numbers kept from an earlier call"),
    (exactly_half_salt, "set exactly 175 of the 350 pixels of X to 1 in each of 100 calls with p=1"),
    (whole_percentages, r"with p=0\.011, the fraction of pixels replaced is wrong: .* actual: 0\.019.* "
                        "not only a whole percentage"),
    (one_chance_in_n, r"with p=0\.7, the fraction of pixels replaced is wrong: .* actual: 1 "),
    (x_itself_when_p_is_0, "with p=0 returned X itself"),
    (in_a_thread, "calls aelib.noise.salt_and_pepper, which is part of aelib"),
    # Answers whose message used to mislead.
    (lambda X, p, rng: salt_and_pepper(X, p, rng).astype(int), "returned int64 values"),
    (lambda X, p, rng: np.round(salt_and_pepper(X, p, rng), 2), r"by at most 0\.005: do you round X"),
    (lambda X, p, rng: np.where(rng.random(X.shape) < p, (rng.random(X.shape) < 0.48) * 1.0, X),
     r"^(?!.*Two passes).*set to 1 \(not 0\) is wrong: .* actual: 0\.48"),
    (one_salt_per_image, "one coin per image"),
])
def test_salt_and_pepper_rejects_repeated_draws_grids_and_aliases(wrong, message):
    with fails_with(message):
        check_salt_and_pepper(wrong)


def test_salt_and_pepper_at_p_1_replaces_every_pixel():
    def keeps_some_at_p_1(X, p, rng):
        return salt_and_pepper(X, min(p, 0.99), rng)

    with fails_with(r"with p=1 every pixel must be replaced, but 1\.0% kept their value"):
        check_salt_and_pepper(keeps_some_at_p_1)


def test_salt_and_pepper_stub_is_not_implemented_yet():
    with fails_with("not implemented yet"):
        check_salt_and_pepper(not_implemented)


def test_salt_and_pepper_reports_an_exception_in_the_readers_code():
    def broken(X, p, rng):
        return X + rng.random(3)

    with fails_with(r"salt_and_pepper\(X=<array of shape \(500, 35\)>, p=0.0, rng=.*\) combined arrays whose "
                    r"shapes do not fit \(numpy said: operands could not be broadcast"):
        check_salt_and_pepper(broken)


# Exercise 2.4: masking noise.

def masking_noise(X, p, rng):
    return np.where(rng.random(X.shape) < p, 0.0, X)


def masking_by_product(X, p, rng):
    return X * (rng.random(X.shape) >= p)


def masking_by_binomial(X, p, rng):
    return X * rng.binomial(1, 1 - p, X.shape)


def masking_pixel_by_pixel(X, p, rng):
    X_noisy = X.copy()
    for i in range(X.shape[0]):
        for j in range(X.shape[1]):
            if rng.random() < p:
                X_noisy[i, j] = 0.0
    return X_noisy


@pytest.mark.parametrize("answer", [masking_noise, masking_by_product, masking_by_binomial, masking_pixel_by_pixel])
def test_masking_noise_accepts_correct_answers(answer, capsys):
    accepts(check_masking_noise, answer, capsys)


def masking_binarised(X, p, rng):
    # The mistake that used to pass: the font has no grey pixels, so binarising showed nowhere.
    return np.where(rng.random(X.shape) < p, 0.0, (X > 0.5).astype(float))


def masking_rounds_up(X, p, rng):
    return np.where(rng.random(X.shape) < p, 0.0, np.ceil(X))


def masking_ink_only(X, p, rng):
    return np.where((rng.random(X.shape) < p) & (X > 0.5), 0.0, X)


@pytest.mark.parametrize("wrong, message", [
    (masking_binarised, "with p=0 changed the grey pixels to 0 or 1 .* it binarises the image. Only a masked "
                        "pixel becomes 0"),
    (masking_rounds_up, "it binarises the image"),
    (salt_and_pepper, "went from 0.7889 to 1. Masking noise never turns a pixel on"),
    (flip, "that is 1 - x: it flips pixels. A masked pixel becomes 0"),
    (lambda X, p, rng: np.where(rng.random(X.shape) < p, 0.5, X), "keeps its exact value or is set to exactly 0"),
    (masking_ink_only, r"0\.0% of the pixels below 0\.5 were set to 0, but 30\.0% of the pixels above 0\.5"),
    (lambda X, p, rng: np.where(rng.random(X.shape) < p, X, 0.0),
     "Every pixel changed: do you keep a pixel with probability p instead of 1 - p"),
    (lambda X, p, rng: masking_noise(X, 0.3, rng), "with p=0 must return X unchanged.*is p fixed at 0.3"),
    (lambda X, p, rng: masking_noise(X, p / 2, rng), r"set to 0 is wrong: expected: 0\.3 .* That is about p/2"),
    (lambda X, p, rng: np.where(rng.random((len(X), 1)) < p, 0.0, X), "Pixels of one image are set to 0 together"),
    (lambda X, p, rng: np.where(rng.random(X.shape[1]) < p, 0.0, X),
     "The same pixels are set to 0 in every image"),
    (lambda X, p, rng: masking_noise(X, p, np.random.default_rng(1)), "different seeds"),
    (lambda X, p, rng: masking_noise(X, p, rng).astype(np.float32), "returned float32 values"),
    (lambda X, p, rng: np.where(rng.random((len(X), 35)) < p, 0.0, X), "use X.shape, not fixed sizes"),
    (lambda X, p, rng: np.hstack([masking_noise(X[:, :35], p, rng), X[:, 35:]]),
     "columns 0 to 34 were set to 0, but 0.0% of the pixels in the other columns"),
    (lambda X, p, rng: aelib.salt_and_pepper(X, 0.0, rng) * (rng.random(X.shape) >= p),
     "calls aelib.noise.salt_and_pepper, which is part of aelib"),
])
def test_masking_noise_rejects_mistakes(wrong, message):
    with fails_with(message):
        check_masking_noise(wrong)


def masking_by_exponential_times(X, p, rng):
    with np.errstate(divide="ignore"):
        threshold = -np.log1p(-p)
    return np.where(rng.standard_exponential(X.shape[::-1]).T < threshold, 0.0, X)


def masking_binomial_subset(X, p, rng):
    X_noisy = X.copy().ravel()
    X_noisy[rng.choice(X.size, rng.binomial(X.size, p), replace=False)] = 0.0
    return X_noisy.reshape(X.shape)


@pytest.mark.parametrize("answer", [masking_by_exponential_times, masking_binomial_subset,
                                    lambda X, p, rng: X * rng.choice([0.0, 1.0], size=X.shape, p=[p, 1 - p])])
def test_masking_noise_accepts_correct_answers_that_draw_in_another_order(answer, capsys):
    accepts(check_masking_noise, answer, capsys)


def test_masking_noise_accepts_correct_answers_whatever_numbers_they_draw(capsys):
    for offset in range(4):
        def own_stream(X, p, rng, offset=offset):
            return masking_noise(X, p, np.random.default_rng([int(rng.integers(2**32)), offset]))

        accepts(check_masking_noise, own_stream, capsys)


def masking_restores_the_state(X, p, rng):
    state = rng.bit_generator.state
    X_noisy = masking_noise(X, p, rng)
    rng.bit_generator.state = state
    return X_noisy


@pytest.mark.parametrize("wrong, message", [
    # Answers that used to pass.
    (lambda X, p, rng: masking_noise(X, p, copy.deepcopy(rng)), "same result twice when called twice with the "
                                                                "same generator"),
    (masking_restores_the_state, "same result twice when called twice with the same generator"),
    (lambda X, p, rng: masking_noise(X, p, np.random.default_rng(int(rng.integers(20)))),
     r"same result for generators with seeds \d+ and \d+ \(p=0\.5, 350 pixels\)"),
    (lambda X, p, rng: np.where(rng.integers(0, 100, X.shape) < 100 * p, 0.0, X),
     r"with p=0\.011, the fraction of pixels set to 0 is wrong"),
    (lambda X, p, rng: X if p == 0 else masking_noise(X, p, rng), "with p=0 returned X itself"),
    # Answers whose message used to mislead.
    (lambda X, p, rng: masking_noise(X, p, rng).astype(int), "returned int64 values"),
    (lambda X, p, rng: X * rng.random(X.shape) >= p, "returned bool values"),
    (lambda X, p, rng: np.round(masking_noise(X, p, rng), 2), "do you round X"),
])
def test_masking_noise_rejects_repeated_draws_grids_and_aliases(wrong, message):
    with fails_with(message):
        check_masking_noise(wrong)


def test_masking_noise_rejects_a_fixed_number_of_pixels():
    def fixed_number_erased(X, p, rng):
        X_noisy = X.copy().ravel()
        X_noisy[rng.choice(X.size, int(round(p * X.size)), replace=False)] = 0.0
        return X_noisy.reshape(X.shape)

    with fails_with("set to 0 exactly 7 of the 35 pixels of one image in each of 200 calls"):
        check_masking_noise(fixed_number_erased)


def test_masking_noise_stub_is_not_implemented_yet():
    with fails_with("not implemented yet"):
        check_masking_noise(not_implemented)


# Exercise 2.2: the nearest-glyph decoder.

def nearest_glyph(X_noisy, glyphs):
    return (X_noisy[:, None, :] != glyphs[None, :, :]).sum(axis=2).argmin(axis=1)


def last_of_the_tied(X_noisy, glyphs):
    distances = (X_noisy[:, None, :] != glyphs[None, :, :]).sum(axis=2)
    return len(glyphs) - 1 - distances[:, ::-1].argmin(axis=1)


def nearest_by_loops(X_noisy, glyphs):
    chosen = []
    for x in X_noisy:
        distances = [int(np.count_nonzero(x != glyph)) for glyph in glyphs]
        chosen.append(distances.index(min(distances)))
    return np.array(chosen)


def nearest_by_products(X_noisy, glyphs):
    # |x| is the same for every glyph, so |c| - 2 x.c orders the glyphs as the Hamming distance does.
    return (glyphs.sum(axis=1) - 2 * X_noisy @ glyphs.T).argmin(axis=1)


def nearest_euclidean(X_noisy, glyphs):
    # On 0/1 pixels the squared Euclidean distance is the Hamming distance.
    return ((X_noisy[:, None, :] - glyphs[None, :, :]) ** 2).sum(axis=2).argmin(axis=1)


@pytest.mark.parametrize("answer", [nearest_glyph, last_of_the_tied, nearest_by_loops, nearest_by_products,
                                    nearest_euclidean])
def test_nearest_glyph_accepts_correct_answers_whatever_the_tie_breaking(answer, capsys):
    accepts(check_nearest_glyph, answer, capsys)


def hamming(X_noisy, glyphs):
    return (X_noisy[:, None, :] != glyphs[None, :, :]).sum(axis=2)


@pytest.mark.parametrize("wrong, message", [
    (lambda X_noisy, glyphs: hamming(X_noisy, glyphs).argmax(axis=1),
     "decoded as 'f' at Hamming distance 23, but 'a' is at distance 4.*the farthest glyph"),
    (lambda X_noisy, glyphs: np.argsort(hamming(X_noisy, glyphs), axis=1)[:, -1], "the farthest glyph"),
    (lambda X_noisy, glyphs: hamming(X_noisy, glyphs).argmin(axis=0),
     r"expected: shape \(571,\) actual: shape \(27,\).*not over the samples \(axis=0\)"),
    (lambda X_noisy, glyphs: (X_noisy @ glyphs.T).argmax(axis=1), "the most ink in common"),
    (lambda X_noisy, glyphs: (X_noisy @ glyphs.T / np.linalg.norm(glyphs, axis=1)).argmax(axis=1),
     "the decoder takes the glyph where it is smallest"),
    (lambda X_noisy, glyphs: ((1 - X_noisy) @ glyphs.T).argmin(axis=1), "decoded as 'r' at Hamming distance 8"),
    (lambda X_noisy, glyphs: (X_noisy.sum(axis=1)[:, None] + glyphs.sum(axis=1) + 2 * X_noisy @ glyphs.T).argmin(1),
     "decoded as 'f' at Hamming distance 23"),
    (lambda X_noisy, glyphs: hamming(X_noisy[:, :-1], glyphs[:, :-1]).argmin(axis=1), "was decoded as 'u'"),
    (lambda X_noisy, glyphs: hamming(X_noisy[:, 1:], glyphs[:, 1:]).argmin(axis=1), "was decoded as 'h'"),
    (lambda X_noisy, glyphs: hamming(X_noisy.reshape(-1, 35), glyphs.reshape(-1, 35)).argmin(axis=1),
     r"X_noisy=<array of shape \(184, 64\)>.*raised ValueError"),
    (lambda X_noisy, glyphs: nearest_glyph(X_noisy, glyphs).astype(float), "must return integer indices"),
    (lambda X_noisy, glyphs: nearest_glyph(X_noisy, glyphs) + 1, "only 27 glyphs"),
    (lambda X_noisy, glyphs: glyphs[nearest_glyph(X_noisy, glyphs)], r"actual: shape \(571, 35\)"),
    (hamming, r"returned an array of shape \(571, 27\), one value per sample and glyph"),
    (lambda X_noisy, glyphs: np.array([np.random.choice(np.flatnonzero(d == d.min())) for d in hamming(X_noisy, glyphs)]),
     "used numpy's global random generator"),
])
def test_nearest_glyph_rejects_mistakes(wrong, message):
    with fails_with(message):
        check_nearest_glyph(wrong)


@pytest.mark.parametrize("wrong, message", [
    (lambda X_noisy, glyphs: hamming(X_noisy, glyphs).min(axis=1), "returned the smallest distances themselves"),
    (lambda X_noisy, glyphs: np.stack([(X_noisy != glyphs[k]).sum(axis=1) for k in range(26)], axis=1).argmin(1),
     "the best of the first 26 glyphs only, but glyphs has 27 rows"),
    (lambda X_noisy, glyphs: hamming(X_noisy[:, :35], glyphs[:, :35]).argmin(axis=1),
     r"sample 5 \(the glyph 'G5' itself\).* compares the first 35 pixels only, but these glyphs have 64"),
])
def test_nearest_glyph_names_the_narrowed_search_and_the_returned_distance(wrong, message):
    with fails_with(message):
        check_nearest_glyph(wrong)


def test_nearest_glyph_names_the_wrong_axis_when_the_shape_is_right():
    from aelib.checks.denoising import _explain_nearest_glyph, _hamming

    glyphs, labels = aelib.load_font()
    X_noisy = aelib.salt_and_pepper(glyphs, 0.3, rng=0)
    D = _hamming(X_noisy, glyphs)
    chosen = D.argmin(axis=0)
    worse = np.flatnonzero(D[np.arange(27), chosen] > D.min(axis=1))
    with fails_with(r"the argmin over the samples \(axis 0\)"):
        _explain_nearest_glyph("nearest_glyph", "27 samples", X_noisy, glyphs, labels, np.arange(27), D, chosen,
                               worse[0])


@pytest.mark.parametrize("route, used", [
    (lambda X_noisy, glyphs: aelib.nearest_glyph(X_noisy, glyphs), "aelib.denoising.nearest_glyph"),
    (lambda X_noisy, glyphs: aelib.nearest_neighbors(glyphs, X_noisy, k=1)[0][:, 0],
     "aelib.evaluation.nearest_neighbors"),
    (lambda X_noisy, glyphs: aelib.evaluation.squared_distances(X_noisy, glyphs).argmin(axis=1),
     "aelib.evaluation.squared_distances"),
    (lambda X_noisy, glyphs: aelib.knn_predict(glyphs, np.arange(len(glyphs)), X_noisy, k=1),
     "aelib.evaluation.knn_predict"),
    (lambda X_noisy, glyphs: aelib.denoising.glyph_distances(X_noisy, glyphs).argmin(axis=1),
     "aelib.denoising.glyph_distances"),
    (lambda X_noisy, glyphs: nearest_glyph(aelib.bayes_denoise(X_noisy, glyphs), glyphs),
     "aelib.denoising.bayes_denoise"),
    (lambda X_noisy, glyphs: aelib.checks.denoising._hamming(X_noisy, glyphs).argmin(axis=1),
     "aelib.checks.denoising._hamming"),
])
def test_nearest_glyph_refuses_aelibs_own_distances_by_any_route(route, used):
    with fails_with(f"calls {used}, which is part of aelib"):
        check_nearest_glyph(route)


def test_nearest_glyph_stub_is_not_implemented_yet():
    with fails_with("not implemented yet"):
        check_nearest_glyph(not_implemented)


# Exercise 2.5: the Bayes decoder for masking noise.

def masking_decoder(X_noisy, glyphs, p):
    impossible = X_noisy @ (1 - glyphs).T > 0
    erased = glyphs.sum(axis=1) - X_noisy @ glyphs.T
    return np.where(impossible, -np.inf, erased * np.log(p)).argmax(axis=1)


def decoder_in_probabilities(X_noisy, glyphs, p):
    likelihood = np.ones((len(X_noisy), len(glyphs)))
    for k, glyph in enumerate(glyphs):
        erased = ((glyph == 1) & (X_noisy == 0)).sum(axis=1)
        kept = ((glyph == 1) & (X_noisy == 1)).sum(axis=1)
        added = ((glyph == 0) & (X_noisy == 1)).sum(axis=1)
        likelihood[:, k] = np.where(added > 0, 0.0, p ** erased * (1 - p) ** kept)
    return likelihood.argmax(axis=1)


def least_ink_among_the_possible(X_noisy, glyphs, p):
    contains = np.all(glyphs[None, :, :] >= X_noisy[:, None, :], axis=2)
    return np.where(contains, glyphs.sum(axis=1), np.inf).argmin(axis=1)


def nearest_among_the_possible(X_noisy, glyphs, p):
    distances = hamming(X_noisy, glyphs).astype(float)
    distances[X_noisy @ (1 - glyphs).T > 0] = np.inf
    return distances.argmin(axis=1)


def large_penalty(X_noisy, glyphs, p):
    added = X_noisy @ (1 - glyphs).T
    erased = glyphs.sum(axis=1) - X_noisy @ glyphs.T
    return (erased * np.log(p) - 1e6 * added).argmax(axis=1)


@pytest.mark.parametrize("answer", [masking_decoder, decoder_in_probabilities, least_ink_among_the_possible,
                                    nearest_among_the_possible, large_penalty])
def test_masking_decoder_accepts_correct_answers(answer, capsys):
    accepts(check_masking_decoder, answer, capsys)


def blank_pixels_kept_with_1_minus_p(X_noisy, glyphs, p):
    # The mistake that used to pass (the check tried p = 0.4 only): a blank pixel of the glyph
    # given probability 1 - p of staying blank, which makes more ink win once p > 0.5.
    impossible = X_noisy @ (1 - glyphs).T > 0
    erased = glyphs.sum(axis=1) - X_noisy @ glyphs.T
    kept = X_noisy @ glyphs.T + (1 - X_noisy) @ (1 - glyphs).T
    return np.where(impossible, -np.inf, kept * np.log(1 - p) + erased * np.log(p)).argmax(axis=1)


def small_penalty(X_noisy, glyphs, p):
    # Ink where the glyph has none, treated as unlikely (1 in 1000) instead of impossible. At
    # p = 0.4 the full 8 x 8 glyph erased but for one pixel costs 63 |log 0.4| = 58 > |log 1e-3|.
    added = X_noisy @ (1 - glyphs).T
    erased = glyphs.sum(axis=1) - X_noisy @ glyphs.T
    return (erased * np.log(p) + added * np.log(1e-3)).argmax(axis=1)


def symmetric_noise(X_noisy, glyphs, p):
    # The salt-and-pepper likelihood with flip probability p.
    d = hamming(X_noisy, glyphs)
    return (d * np.log(p) + (X_noisy.shape[1] - d) * np.log(1 - p)).argmax(axis=1)


@pytest.mark.parametrize("wrong, message", [
    (blank_pixels_kept_with_1_minus_p, "with p=0.6: .* fewer erased pixels .*right at p=0.4 but not at p=0.6"),
    (small_penalty, "8 x 8 pixels with p=0.4: .* 'G0' is impossible: the sample has ink where"),
    (symmetric_noise, "with p=0.4: .* 'r' is impossible"),
    (lambda X_noisy, glyphs, p: nearest_glyph(X_noisy, glyphs), "'r' is impossible"),
    (lambda X_noisy, glyphs, p: np.where(X_noisy @ (1 - glyphs).T > 0, -np.inf, glyphs.sum(axis=1)).argmax(axis=1),
     r"fewer erased pixels \(1 instead of 3\)"),
    (lambda X_noisy, glyphs, p: np.full(len(X_noisy), glyphs.sum(axis=1).argmin()), "'i' is impossible"),
    (lambda X_noisy, glyphs, p: (X_noisy @ (1 - glyphs).T == 0).argmax(axis=1), r"fewer erased pixels \(8 instead"),
    (lambda X_noisy, glyphs, p: np.where(X_noisy @ (1 - glyphs).T > 0, -np.inf,
                                         (glyphs.sum(axis=1) - X_noisy @ glyphs.T) * np.log(p)).argmin(axis=1),
     "'b' is impossible"),
    (lambda X_noisy, glyphs, p: np.where((1 - X_noisy) @ glyphs.T > 0, -np.inf,
                                         (glyphs.sum(axis=1) - X_noisy @ glyphs.T) * np.log(p)).argmax(axis=1),
     "'a' is impossible"),
    (lambda X_noisy, glyphs, p: np.where(X_noisy @ (1 - glyphs).T > 0, -np.inf,
                                         -(glyphs.sum(axis=1) - X_noisy @ glyphs.T) * np.log(p)).argmax(axis=1),
     "fewer erased pixels"),
    (lambda X_noisy, glyphs, p: masking_decoder(X_noisy, glyphs, p)[:10], r"expected: shape \(540,\)"),
    (lambda X_noisy, glyphs, p: masking_decoder(X_noisy, glyphs, p).astype(float), "must return integer indices"),
    (lambda X_noisy, glyphs, p: np.where(X_noisy @ (1 - glyphs).T > 0, -np.inf,
                                         (glyphs.sum(axis=1) - X_noisy @ glyphs.T) * np.log(p)).argmax(axis=0),
     r"actual: shape \(27,\).*not over the samples"),
    (lambda X_noisy, glyphs, p: aelib.nearest_glyph(X_noisy, glyphs, rng=0), "calls aelib.denoising.nearest_glyph"),
    (lambda X_noisy, glyphs, p: np.where(aelib.checks.denoising._masking_counts(X_noisy, glyphs)[0], np.inf,
                                         aelib.checks.denoising._masking_counts(X_noisy, glyphs)[1]).argmin(axis=1),
     "calls aelib.checks.denoising._masking_counts"),
])
def test_masking_decoder_rejects_mistakes(wrong, message):
    with fails_with(message):
        check_masking_decoder(wrong)


def penalty_of_100(X_noisy, glyphs, p):
    # Used to pass: ink where the glyph has none costs 100 in log-likelihood instead of -inf. At
    # p = 0.001 an erased pixel costs 6.9, and no sample of the font needs 15 more of them for its
    # glyph than for an impossible one; the full 8 x 8 glyph with one pixel left needs 63.
    added = X_noisy @ (1 - glyphs).T
    erased = glyphs.sum(axis=1) - X_noisy @ glyphs.T
    return (erased * np.log(p) - 100 * added).argmax(axis=1)


def nan_for_the_possible(X_noisy, glyphs, p):
    # 0 * log(0) is NaN: every possible glyph scores NaN, and argmax returns the first of them.
    with np.errstate(divide="ignore", invalid="ignore"):
        log_likelihood = ((X_noisy @ glyphs.T) * np.log(1 - p) + ((1 - X_noisy) @ glyphs.T) * np.log(p)
                          + (X_noisy @ (1 - glyphs).T) * np.log(0.0))
    return log_likelihood.argmax(axis=1)


@pytest.mark.parametrize("wrong, message", [
    (penalty_of_100, "with p=0.001: sample .* 'G0' is impossible.* right at p=0.4 but not at p=0.001.* "
                     "probability exactly 0"),
    (nan_for_the_possible, "the first glyph that could have produced each sample.* argmax returns the first NaN"),
    (lambda X_noisy, glyphs, p: least_ink_among_the_possible(X_noisy, glyphs[:26], p),
     "the best of the first 26 glyphs only"),
    (lambda X_noisy, glyphs, p: least_ink_among_the_possible(X_noisy[:, :35], glyphs[:, :35], p),
     "compares the first 35 pixels only"),
])
def test_masking_decoder_names_a_finite_penalty_nan_and_a_narrowed_search(wrong, message):
    with fails_with(message):
        check_masking_decoder(wrong)


def test_masking_decoder_accepts_a_likelihood_whose_factors_are_swapped(capsys):
    # Not a mistake the check can see: for the possible glyphs, (1 - p)^(erased) p^(kept) falls with
    # the number of erased pixels too, so it picks the same glyphs as the right likelihood for every
    # p. The derivation asked for in the exercise is graded by hand.
    def swapped(X_noisy, glyphs, p):
        kept, erased = X_noisy @ glyphs.T, (1 - X_noisy) @ glyphs.T
        return np.where(X_noisy @ (1 - glyphs).T > 0, -np.inf, kept * np.log(p) + erased * np.log(1 - p)).argmax(1)

    accepts(check_masking_decoder, swapped, capsys)


def test_masking_decoder_stub_is_not_implemented_yet():
    with fails_with("not implemented yet"):
        check_masking_decoder(not_implemented)


# The statistics: tolerances a correct answer misses with probability 1e-11, and what they catch.

@pytest.mark.parametrize("n, q", [(420_000, 0.2), (140_000, 0.05), (42_000, 0.5), (12_000, 0.167)])
def test_each_tolerance_is_bernsteins_bound_at_the_stated_probability(n, q):
    t = _tolerance(n, q)
    assert math.isclose(2 * math.exp(-n * t * t / (2 * q * (1 - q) + 2 * t / 3)), FALSE_FAILURE_PER_TEST,
                        rel_tol=1e-9)
    # Near the normal approximation's 7.2 standard deviations when n is large.
    assert 7 * math.sqrt(q * (1 - q) / n) < t < 7.6 * math.sqrt(q * (1 - q) / n)


def test_the_pair_test_catches_what_the_overall_fraction_misses():
    rng = np.random.default_rng(0)
    _expect_independent_pairs(rng.random((2000, 35)) < 0.2, 0.2, "noise", "replaced")
    # Exactly 20% of the pixels, but 7 per image, always the same ones; or about 20% in whole images.
    with fails_with("same position in two images.*The same pixels are replaced in every image"):
        _expect_independent_pairs(np.tile(np.arange(35) < 7, (2000, 1)), 0.2, "noise", "replaced")
    with fails_with("Pixels of one image are replaced together"):
        _expect_independent_pairs(np.broadcast_to(rng.random((2000, 1)) < 0.2, (2000, 35)), 0.2, "noise", "replaced")


def test_the_checks_leave_numpys_global_generator_alone():
    state = np.random.get_state()
    for check, answer in ((check_salt_and_pepper, salt_and_pepper), (check_masking_noise, masking_noise),
                          (check_nearest_glyph, nearest_glyph), (check_masking_decoder, masking_decoder)):
        check(answer)
    after = np.random.get_state()
    assert np.array_equal(state[1], after[1]) and state[2:] == after[2:]


def test_each_check_uses_the_bound_fewer_than_100_times(monkeypatch):
    # The union bound of the module's comment: 100 x 1e-11 = 1e-9.
    uses = []
    bound = aelib.checks.denoising._tolerance
    monkeypatch.setattr(aelib.checks.denoising, "_tolerance", lambda n, q: uses.append(n) or bound(n, q))
    for check, answer in ((check_salt_and_pepper, salt_and_pepper), (check_masking_noise, masking_noise)):
        uses.clear()
        check(answer)
        assert 20 < len(uses) < 100


def test_the_old_two_pass_answer_is_no_longer_within_chance():
    # 0.19 against 0.2 on 420,000 pixels: more than twice the tolerance.
    assert 0.2 - 0.19 > 2 * _tolerance(420_000, 0.2)
    with pytest.raises(CheckFailed):
        check_salt_and_pepper(two_passes)
