"""The two corruptions of chapter 2: their statistics over many pixels, their use of the random
generator, and their contract (a new array of the same shape, the input untouched, clear errors)."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import aelib
from conftest import examples

X_FONT, _ = aelib.load_font()
MANY = np.repeat(X_FONT, 200, axis=0)  # 5,400 glyphs, 189,000 pixels
NOISES = [(aelib.salt_and_pepper, "p"), (aelib.gaussian_noise, "sigma")]


def test_salt_and_pepper_replaces_a_fraction_p_of_the_pixels_by_0_or_1_equally_often():
    grey = np.full((4000, 35), 0.5)  # a replaced pixel can never keep the value 0.5
    X_noisy = aelib.salt_and_pepper(grey, p=0.3, rng=0)
    replaced = X_noisy != 0.5
    assert np.isin(X_noisy[replaced], (0.0, 1.0)).all()
    assert abs(replaced.mean() - 0.3) < 0.005
    assert abs(X_noisy[replaced].mean() - 0.5) < 0.01


@pytest.mark.parametrize("p", [0.1, 0.2, 0.5])
def test_salt_and_pepper_changes_a_fraction_p_over_2_of_binary_pixels(p):
    # Half of the replaced pixels receive the value they already had.
    changed = aelib.salt_and_pepper(MANY, p=p, rng=1) != MANY
    assert abs(changed.mean() - p / 2) < 0.005


def test_salt_and_pepper_at_p_1_keeps_nothing_of_the_glyph():
    X_noisy = aelib.salt_and_pepper(MANY, p=1.0, rng=2)
    assert np.isin(X_noisy, (0.0, 1.0)).all()
    assert abs(X_noisy.mean() - 0.5) < 0.01
    assert abs(np.mean(X_noisy == MANY) - 0.5) < 0.01


@pytest.mark.parametrize("sigma", [0.1, 0.5, 1.0])
def test_gaussian_noise_has_mean_0_and_standard_deviation_sigma(sigma):
    residual = aelib.gaussian_noise(MANY, sigma=sigma, rng=3) - MANY
    assert abs(residual.mean()) < 0.01 * sigma
    assert abs(residual.std() - sigma) < 0.01 * sigma


def test_gaussian_noise_is_not_clipped():
    X_noisy = aelib.gaussian_noise(MANY, sigma=0.5, rng=4)
    assert X_noisy.min() < -1.0 and X_noisy.max() > 2.0


@pytest.mark.parametrize("noise, level_name", NOISES)
def test_zero_noise_is_the_identity(noise, level_name):
    X_noisy = noise(X_FONT, **{level_name: 0.0}, rng=5)
    assert np.array_equal(X_noisy, X_FONT)
    assert X_noisy is not X_FONT


@pytest.mark.parametrize("noise, level_name", NOISES)
def test_the_input_is_never_modified(noise, level_name):
    X = X_FONT.copy()
    noise(X, **{level_name: 0.7}, rng=6)
    assert np.array_equal(X, X_FONT)


@pytest.mark.parametrize("noise, level_name", NOISES)
def test_the_same_seed_or_generator_state_repeats_the_noise(noise, level_name):
    level = {level_name: 0.3}
    assert np.array_equal(noise(X_FONT, **level, rng=7), noise(X_FONT, **level, rng=7))
    assert np.array_equal(noise(X_FONT, **level, rng=np.random.default_rng(7)),
                          noise(X_FONT, **level, rng=np.random.default_rng(7)))
    assert not np.array_equal(noise(X_FONT, **level, rng=7), noise(X_FONT, **level, rng=8))


@pytest.mark.parametrize("noise, level_name", NOISES)
def test_a_shared_generator_gives_new_noise_at_every_call(noise, level_name):
    rng = np.random.default_rng(9)
    first, second = noise(X_FONT, **{level_name: 0.3}, rng=rng), noise(X_FONT, **{level_name: 0.3}, rng=rng)
    assert not np.array_equal(first, second)


@pytest.mark.parametrize("noise, level_name", NOISES)
def test_rng_may_be_omitted(noise, level_name):
    first, second = noise(MANY, **{level_name: 0.3}), noise(MANY, **{level_name: 0.3})
    assert first.shape == MANY.shape
    assert not np.array_equal(first, second)  # fresh entropy each time


@pytest.mark.parametrize("p", [-0.1, 1.5, np.inf, np.nan])
def test_salt_and_pepper_rejects_a_p_outside_0_1(p):
    with pytest.raises(ValueError, match="p"):
        aelib.salt_and_pepper(X_FONT, p=p, rng=0)


@pytest.mark.parametrize("sigma", [-0.5, np.inf, np.nan])
def test_gaussian_noise_rejects_a_negative_or_infinite_sigma(sigma):
    with pytest.raises(ValueError, match="sigma"):
        aelib.gaussian_noise(X_FONT, sigma=sigma, rng=0)


@pytest.mark.parametrize("noise, level_name", NOISES)
def test_a_level_that_is_not_a_number_is_a_type_error(noise, level_name):
    with pytest.raises(TypeError, match=level_name):
        noise(X_FONT, **{level_name: "0.2"}, rng=0)


@settings(max_examples=examples(40))
@given(p=st.floats(0.0, 1.0), seed=st.integers(0, 2**32 - 1), n_samples=st.integers(1, 30))
def test_salt_and_pepper_only_ever_writes_0_or_1(p, seed, n_samples):
    X = np.random.default_rng(seed).random((n_samples, 35))  # grey values, never exactly 0 or 1
    X_noisy = aelib.salt_and_pepper(X, p=p, rng=seed)
    changed = X_noisy != X
    assert X_noisy.shape == X.shape
    assert np.isin(X_noisy[changed], (0.0, 1.0)).all()
