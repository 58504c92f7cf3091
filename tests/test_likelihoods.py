"""aelib.likelihoods: the continuous Bernoulli against its closed form in lambda (Loaiza-Ganem and
Cunningham, 2019) and against numerical integration, its mean against the derivative of its
log-partition, its variance against 80-digit decimal arithmetic, and the Bernoulli against the
binary cross-entropy."""
from decimal import Decimal, localcontext

import numpy as np
import pytest

import aelib
from aelib import likelihoods

# Composite Gauss-Legendre on [0, 1]: 20 nodes in each of 100 panels integrate even the steepest
# densities below (|a| = 40, mass within ~0.1 of one end) to ~1e-15.
_nodes, _weights = np.polynomial.legendre.leggauss(20)
_left = np.arange(100) / 100
NODES = (_left[:, None] + (_nodes + 1) / 200).ravel()
WEIGHTS = np.tile(_weights / 200, 100)


def logit(lam):
    return np.log(lam) - np.log1p(-lam)


def paper_log_normalizer(lam):
    """log C(lambda) = log(2 artanh(1 - 2 lambda) / (1 - 2 lambda)), the paper's formula (lambda != 1/2)."""
    u = 1 - 2 * lam
    return np.log(2 * np.arctanh(u) / u)


def paper_mean(lam):
    return lam / (2 * lam - 1) + 1 / (2 * np.arctanh(1 - 2 * lam))


# Away from 1/2, where the paper's formulas have no cancellation to speak of.
LAMBDAS = np.array([1e-6, 1e-3, 0.02, 0.1, 0.3, 0.45, 0.49, 0.55, 0.7, 0.9, 0.95, 0.999, 1 - 1e-6])


def test_log_normalizer_matches_the_closed_form_in_lambda():
    np.testing.assert_allclose(likelihoods.continuous_bernoulli_log_normalizer(logit(LAMBDAS)),
                               paper_log_normalizer(LAMBDAS), rtol=1e-12)


def test_log_normalizer_is_log_2_at_one_half_and_follows_the_taylor_series_near_it():
    assert likelihoods.continuous_bernoulli_log_normalizer(np.array(0.0)) == pytest.approx(np.log(2), rel=1e-15)
    # log C = log 2 + u^2 / 3 + 13 u^4 / 90 + ... with u = 1 - 2 lambda; at |u| <= 1e-3 the first two suffice.
    lam = 0.5 + np.array([-5e-4, -1e-7, -1e-12, 1e-15, 1e-9, 5e-4])
    u = 1 - 2 * lam
    np.testing.assert_allclose(likelihoods.continuous_bernoulli_log_normalizer(logit(lam)),
                               np.log(2) + u ** 2 / 3 + 13 * u ** 4 / 90, rtol=1e-14)


@pytest.mark.skipif(np.finfo(np.longdouble).eps > 1e-18, reason="needs an extended-precision long double")
@pytest.mark.parametrize("threshold", [likelihoods.SERIES_LOG_NORMALIZER, likelihoods.SERIES_MEAN])
def test_series_and_closed_forms_are_accurate_on_both_sides_of_where_they_meet(threshold):
    # The reference: the closed forms in extended precision (~1e-19 relative), where 1/tanh(a/2)
    # and 2/a cancel to at most ~1e-17 for these |a| >= 0.01.
    A = threshold * np.array([1 - 1e-9, 1 + 1e-9, -1 + 1e-9, -1 - 1e-9, 0.5, 2.0])
    wide = A.astype(np.longdouble)
    log_normalizer = np.log(wide / np.tanh(wide / 2))
    mean = 0.5 + 0.5 / np.tanh(wide / 2) - 1 / wide
    np.testing.assert_allclose(likelihoods.continuous_bernoulli_log_normalizer(A), log_normalizer.astype(float),
                               rtol=0, atol=1e-15)
    np.testing.assert_allclose(likelihoods.continuous_bernoulli_mean(A), mean.astype(float), rtol=0, atol=5e-15)


@pytest.mark.parametrize("a", [-40.0, -8.0, -1.0, -0.05, -1e-3, 0.0, 1e-6, 0.3, 2.0, 12.0])
def test_continuous_bernoulli_density_integrates_to_one(a):
    A = np.full((len(NODES), 1), a)
    density = np.exp(likelihoods.log_density(A, NODES[:, None], "continuous-bernoulli"))
    assert np.sum(WEIGHTS * density) == pytest.approx(1.0, rel=1e-12)


@pytest.mark.parametrize("a", [-40.0, -8.0, -1.0, -0.05, 0.0, 1e-4, 0.3, 2.0, 7.0])
def test_continuous_bernoulli_mean_is_the_integral_of_x_times_the_density(a):
    A = np.full((len(NODES), 1), a)
    density = np.exp(likelihoods.log_density(A, NODES[:, None], "continuous-bernoulli"))
    assert likelihoods.continuous_bernoulli_mean(np.array(a)) == pytest.approx(np.sum(WEIGHTS * NODES * density), rel=1e-12)


def test_continuous_bernoulli_mean_matches_the_closed_form_and_known_values():
    np.testing.assert_allclose(likelihoods.continuous_bernoulli_mean(logit(LAMBDAS)), paper_mean(LAMBDAS), rtol=1e-9)
    assert likelihoods.continuous_bernoulli_mean(logit(np.array(0.1))) == pytest.approx(0.3301, abs=5e-5)
    assert likelihoods.continuous_bernoulli_mean(logit(np.array(0.95))) == pytest.approx(0.7159, abs=5e-5)
    assert likelihoods.continuous_bernoulli_mean(np.array(0.0)) == 0.5
    # The mean lies between 1/2 and lambda: the continuous Bernoulli pulls towards the middle.
    mean = likelihoods.continuous_bernoulli_mean(logit(LAMBDAS))
    assert np.all((mean - 0.5) * (LAMBDAS - 0.5) > 0) and np.all(np.abs(mean - 0.5) < np.abs(LAMBDAS - 0.5))


@pytest.mark.parametrize("likelihood", likelihoods.LIKELIHOODS)
def test_mean_is_the_derivative_of_the_log_partition(gradients, likelihood):
    # F'(a) = mean: the gradient of -log p(x | a) = F(a) - a x is mean - x, which the VAE uses.
    A = np.array([[-30.0, -6.0, -0.9, -0.08, -0.004, 0.0], [0.003, 0.07, 0.2, 1.5, 9.0, 25.0]])
    gradients.assert_close(lambda: likelihoods.log_partition(A, likelihood).sum(), A,
                           likelihoods.mean(A, likelihood), f"F'(a), {likelihood}")


def decimal_variance(a):
    """F''(a) = 1/a^2 - 1/(4 sinh^2(a/2)) in 80-digit decimal arithmetic (its series below 1e-6)."""
    with localcontext() as context:
        context.prec = 80
        a = Decimal(float(a))
        if abs(a) < Decimal("1e-6"):
            return float(1 / Decimal(12) - a * a / 240 + a ** 4 / 6048)
        sinh = ((a / 2).exp() - (-a / 2).exp()) / 2
        return float(1 / (a * a) - 1 / (4 * sinh * sinh))


def test_continuous_bernoulli_variance_keeps_every_digit_from_0_to_large_logits():
    # Both sides of the switch to the series, the cancellation of the closed form near 0, and
    # logits whose sinh would overflow: within a few rounding errors of the exact value.
    A = np.concatenate([[0.0, 1e-300, -1e-12, 1e-8, 0.999999, 1.0, 1.0000001, 40.0, 1e3, 1e6],
                        np.geomspace(1e-6, 1e3, 200), -np.geomspace(1e-6, 1e3, 200),
                        np.random.default_rng(0).uniform(-3, 3, 200)])
    exact = np.array([decimal_variance(a) for a in A])
    np.testing.assert_allclose(likelihoods.continuous_bernoulli_variance(A), exact, rtol=1e-14, atol=0)


def test_variance_is_the_derivative_of_the_mean(gradients):
    A = np.array([[-30.0, -6.0, -0.9, -0.08, -0.004, 0.0], [0.003, 0.07, 0.2, 1.5, 9.0, 25.0]])
    gradients.assert_close(lambda: likelihoods.continuous_bernoulli_mean(A).sum(), A,
                           likelihoods.continuous_bernoulli_variance(A), "F''(a) = m'(a)")


def test_variance_is_the_integral_of_the_squared_deviation_from_the_mean():
    for a in (-12.0, -0.7, 0.0, 0.05, 3.0):
        density = np.exp(likelihoods.log_density(np.full((len(NODES), 1), a), NODES[:, None], "continuous-bernoulli"))
        mean = likelihoods.continuous_bernoulli_mean(np.array(a))
        assert np.sum(WEIGHTS * density * (NODES - mean) ** 2) == pytest.approx(
            likelihoods.continuous_bernoulli_variance(np.array(a)), rel=1e-12)


def test_continuous_bernoulli_log_partition_is_softplus_minus_the_log_normalizer():
    # Two routes to F(a) = log((e^a - 1) / a): the library computes it directly (faster), and
    # through the normaliser, log(1 + e^a) - log C; both keep every digit that matters.
    A = np.concatenate([np.linspace(-0.3, 0.3, 2001), np.geomspace(1e-9, 700, 500), -np.geomspace(1e-9, 700, 500)])
    np.testing.assert_allclose(likelihoods.continuous_bernoulli_log_partition(A),
                               likelihoods.softplus(A) - likelihoods.continuous_bernoulli_log_normalizer(A),
                               rtol=1e-14, atol=1e-14)


def test_bernoulli_log_density_is_minus_the_summed_cross_entropy():
    rng = np.random.default_rng(0)
    A = rng.normal(scale=3.0, size=(6, 9))
    X = (rng.random((6, 9)) < 0.5).astype(float)
    expected = -9 * np.array([aelib.binary_cross_entropy(aelib.sigmoid(a)[None], x[None]) for a, x in zip(A, X)])
    np.testing.assert_allclose(likelihoods.log_density(A, X, "bernoulli"), expected, rtol=1e-12)


def test_continuous_bernoulli_log_density_adds_log_c_to_the_bernoulli_formula():
    rng = np.random.default_rng(1)
    lam = rng.uniform(0.01, 0.99, (5, 7))
    X = rng.random((5, 7))
    expected = np.sum(paper_log_normalizer(lam) + X * np.log(lam) + (1 - X) * np.log1p(-lam), axis=1)
    np.testing.assert_allclose(likelihoods.log_density(logit(lam), X, "continuous-bernoulli"), expected, rtol=1e-12)


def test_extreme_logits_stay_finite():
    A = np.array([-1e4, -745.0, -40.0, 40.0, 745.0, 1e4])
    for likelihood in likelihoods.LIKELIHOODS:
        assert np.all(np.isfinite(likelihoods.log_partition(A, likelihood)))
        assert np.all(np.isfinite(likelihoods.mean(A, likelihood)))
    assert np.all(np.isfinite(likelihoods.continuous_bernoulli_variance(A)))
    # log C grows like log |a| as lambda approaches 0 or 1: the density's peak at x = 0 or 1.
    assert likelihoods.continuous_bernoulli_log_normalizer(np.array(1e4)) == pytest.approx(np.log(1e4), rel=1e-12)


@pytest.mark.parametrize("function", [likelihoods.continuous_bernoulli_log_normalizer,
                                      likelihoods.continuous_bernoulli_log_partition,
                                      likelihoods.continuous_bernoulli_mean,
                                      likelihoods.continuous_bernoulli_variance, likelihoods.softplus])
def test_float32_logits_give_float32_results_close_to_float64(function):
    A = np.linspace(-20, 20, 101)
    result = function(A.astype(np.float32))
    assert result.dtype == np.float32
    np.testing.assert_allclose(result, function(A), rtol=1e-5, atol=1e-6)


def test_unknown_likelihoods_are_refused_by_name():
    with pytest.raises(ValueError, match="unknown likelihood 'gaussian'.*continuous-bernoulli"):
        likelihoods.log_partition(np.zeros(3), "gaussian")
    with pytest.raises(TypeError, match="likelihood must be one of"):
        likelihoods.mean(np.zeros(3), None)
