"""Checks for the exercises of chapter 6, "VAEs measured honestly".

Each check runs the reader's function, under the guard that refuses calls into aelib beyond what
the exercise allows, on inputs where the usual slips show, compares the result with aelib's own
computation, and names the slip when it recognises one. The continuous Bernoulli's mean and
variance (Exercise 6.6) are held to rounding (``expect_exact``) over the whole range of logits,
so that finite differences, the complex step and a closed form used where it cancels all fail
and are named.
"""

import numpy as np

from ..encoder_decoder import EncoderDecoder
from ..likelihoods import continuous_bernoulli_log_normalizer, continuous_bernoulli_mean, continuous_bernoulli_variance
from ..vae import VAE
from .feedback import CheckFailed, as_numbers, call, expect_close, expect_exact, expect_float64, passed
from .reading import number_signs

__all__ = ["check_importance_log_likelihood", "check_log_normalizer", "check_active_units",
           "check_mean_and_variance"]


# Exercise 6.1: the importance-weighted estimate.

# What the exercise lets the reader use: the model's encoder, decoder and log p(x | z), and its sizes.
ALLOWED_MODEL_PARTS = (VAE.encode, VAE.decode, VAE.log_density,
                       EncoderDecoder.n_latent.fget, EncoderDecoder.n_features.fget)


# The very sure decoder's last layer is multiplied by this: its log-weights on the inverted samples
# lie between -12,000 and -30,000, below exp's range in float64 (exp(-746) is 0) and even in long
# double (exp(-11,400) is 0 there), so only a log-mean-exp gets them right.
SURE = 5200.0


def _model(sizes, likelihood, seed, sharpen=1.0):
    """A VAE with weights moved well away from their initial values (no training: the check is quick).

    sharpen multiplies the decoder's last layer: a very sure decoder, whose log-weights on
    unlikely data lie far below -900, where exp underflows to 0.
    """
    rng = np.random.default_rng(seed)
    vae = VAE(sizes, seed=seed, likelihood=likelihood)
    for param in vae.params:
        param += rng.normal(scale=0.5, size=param.shape)
    vae.encoder.params[-1][sizes[-1]:] -= 1.0   # sigmas from about 0.1 to 2, not all 1: the q terms matter
    for param in vae.decoder.params[-2:]:
        param *= sharpen
    return vae


def _importance_cases():
    """(what, vae, X, n_draws, seed) for the check: both likelihoods, several R, and tiny weights."""
    rng = np.random.default_rng(60)
    bernoulli = _model([12, 8, 2], "bernoulli", seed=61)
    continuous = _model([10, 6, 3], "continuous-bernoulli", seed=62)
    sure = _model([12, 8, 2], "bernoulli", seed=63, sharpen=SURE)
    X_binary = (rng.random((4, 12)) < 0.4).astype(np.float64)
    X_grey = rng.uniform(0.01, 0.99, (3, 10))
    return [
        ("a Bernoulli VAE with a 2-D code, 4 samples, n_draws=7", bernoulli, X_binary, 7, 1),
        ("the same VAE and samples, n_draws=1", bernoulli, X_binary, 1, 2),
        ("a continuous Bernoulli VAE with a 3-D code, 3 grey samples, n_draws=40", continuous, X_grey, 40, 3),
        ("a very sure decoder (log-weights below -12000), inverted samples, n_draws=30", sure, 1.0 - X_binary, 30, 4),
        ("the Bernoulli VAE, 4 samples, n_draws=200", bernoulli, X_binary, 200, 5),
    ]


def _log_p_x_given_z(vae, X, Z):
    """log p(x | z) for each row of X, (n,), with each of its codes Z: (n, m, k) -> (n, m)."""
    n, m, k = Z.shape
    return vae.log_density(np.repeat(X, m, axis=0), Z.reshape(-1, k)).reshape(n, m)


def _pieces(vae, X, n_draws, seed):
    """The draws of the exercise and the terms of the log-weights, computed as the statement says."""
    n, k = X.shape[0], vae.n_latent
    mu, logvar = vae.encode(X)
    eps = np.random.default_rng(seed).standard_normal((n, n_draws, k))
    Z = mu[:, None, :] + np.exp(0.5 * logvar)[:, None, :] * eps
    return mu, logvar, eps, Z, _log_p_x_given_z(vae, X, Z)


def _log_mean_exp(values):
    top = values.max(axis=1, keepdims=True)
    return top[:, 0] + np.log(np.mean(np.exp(values - top), axis=1))


def _estimate_with(vae, X, mu, logvar, eps):
    """The correct estimate for given noise eps: (n, m, k)."""
    Z = mu[:, None, :] + np.exp(0.5 * logvar)[:, None, :] * eps
    return _log_mean_exp(_log_p_x_given_z(vae, X, Z) - 0.5 * np.sum(Z ** 2, axis=2)
                         + 0.5 * np.sum(logvar[:, None, :] + eps ** 2, axis=2))


def _importance_slips(vae, X, n_draws, seed):
    """Plausible wrong answers on the check's own draws: (value, explanation) pairs."""
    mu, logvar, eps, Z, log_p_x_given_z = _pieces(vae, X, n_draws, seed)
    n, k = X.shape[0], vae.n_latent
    log_p_z = -0.5 * np.sum(Z ** 2, axis=2)
    log_q = -0.5 * np.sum(logvar[:, None, :] + eps ** 2, axis=2)
    log_w = log_p_x_given_z + log_p_z - log_q
    log_sum = _log_mean_exp(log_w) + np.log(n_draws)
    slips = [
        (np.mean(log_w, axis=1),
         "averages the log-weights: that estimates the ELBO. The estimate is the log of the average "
         "weight, log (1/R) sum exp(log w): a log-mean-exp."),
        (log_sum,
         "is log R too large: it adds up the weights instead of averaging them (divide by R, or subtract log R)."),
        (log_sum / n_draws,
         "divides the log of the summed weights by R; the average divides the sum itself: "
         "log((1/R) sum w) = log(sum w) - log R."),
        (_log_mean_exp(log_w) - log_w.max(axis=1),
         "leaves out the largest log-weight m that it took out: log mean exp(log w) = m + log mean exp(log w - m)."),
        (_log_mean_exp(log_w) - 0.5 * np.sum(logvar, axis=1),
         "leaves out the log sigma^2 of log q(z | x) = -sum_u (log sigma_u^2 + eps_u^2) / 2 + const."),
        (_log_mean_exp(log_w) - 0.25 * np.sum(logvar, axis=1),
         "uses log sigma where log q(z | x) has log sigma^2: the Gaussian's normaliser is sqrt(2 pi sigma^2)."),
        (_log_mean_exp(log_w) + 0.5 * np.sum(logvar, axis=1),
         "uses log sigma^2 where log q(z | x) has log sigma = (log sigma^2) / 2: "
         "log q(z | x) = -sum_u (log sigma_u + eps_u^2 / 2) + const."),
        (_log_mean_exp(log_p_x_given_z + log_p_z - log_q - 0.5 * np.sum(eps ** 2, axis=2)),
         "evaluates q(z | x) at its mean: log q(z | x) has -eps^2 / 2 for the drawn z = mu + sigma * eps."),
        (_log_mean_exp(log_p_x_given_z - log_q),
         "leaves out the prior: the weight is p(x | z) p(z) / q(z | x), with log p(z) = -|z|^2 / 2 + const."),
        (_log_mean_exp(log_p_x_given_z + log_p_z),
         "leaves out q(z | x): the weight divides by it, p(x | z) p(z) / q(z | x)."),
        (_log_mean_exp(log_p_x_given_z + log_p_z + log_q),
         "adds log q(z | x) where the weight divides by q(z | x): log w = log p(x | z) + log p(z) - log q(z | x)."),
        (_log_mean_exp(log_w) - 0.5 * k * np.log(2 * np.pi),
         "includes -k/2 log(2 pi) in log p(z) but not in log q(z | x): keep it in both (it cancels) or in neither."),
        (_log_mean_exp(log_w) + 0.5 * k * np.log(2 * np.pi),
         "includes -k/2 log(2 pi) in log q(z | x) but not in log p(z): keep it in both (it cancels) or in neither."),
        (_log_mean_exp(log_p_x_given_z),
         "averages p(x | z) alone: without p(z) / q(z | x) the draws are not weighted."),
        (_log_mean_exp(log_p_x_given_z - 0.5 * np.sum(mu ** 2, axis=1)[:, None] - log_q),
         "evaluates the prior at the mean mu; log p(z) = -|z|^2 / 2 + const at each drawn z."),
        (_log_mean_exp(vae.log_density(X, mu)[:, None] + log_p_z - log_q),
         "decodes the mean mu instead of the drawn codes: log p(x | z) at each z = mu + sigma * eps."),
        (_log_mean_exp(vae.log_density(np.tile(X, (n_draws, 1)), Z.reshape(-1, k)).reshape(n, n_draws)
                       + log_p_z - log_q),
         "pairs the rows of X with the wrong codes: np.tile(X, (n_draws, 1)) repeats the whole of X, while "
         "Z.reshape(-1, k) lists the draws row by row, as np.repeat(X, n_draws, axis=0) does."),
    ]
    # sigma taken as exp(logvar), the variance, in z = mu + sigma * eps (and log q with it).
    Z_var = mu[:, None, :] + np.exp(logvar)[:, None, :] * eps
    log_p_var = _log_p_x_given_z(vae, X, Z_var) - 0.5 * np.sum(Z_var ** 2, axis=2)
    for log_q_var in (-np.sum(logvar[:, None, :] + 0.5 * eps ** 2, axis=2), log_q):
        slips.append((_log_mean_exp(log_p_var - log_q_var),
                      "takes exp(logvar), the variance, for sigma: sigma = exp(logvar / 2), the square root."))
    if vae.likelihood == "continuous-bernoulli":
        A = _logits(vae, Z)
        bernoulli_formula = np.sum(X[:, None, :] * A - np.logaddexp(0, A), axis=2)
        slips.append((_log_mean_exp(bernoulli_formula + log_p_z - log_q),
                      "uses the Bernoulli's log p(x | z) for a continuous Bernoulli VAE: take log p(x | z) "
                      "from vae.log_density, which knows the model's likelihood."))
    draws = np.random.default_rng(seed)
    shared = np.broadcast_to(draws.standard_normal((n_draws, k)), eps.shape)
    slips.append((_estimate_with(vae, X, mu, logvar, shared),
                  "uses the same draws eps for every row of X: draw eps = rng.standard_normal((n, n_draws, k)), "
                  "n_draws codes for each row."))
    if n_draws > 1:
        # The same numbers drawn in another shape, and used as if drawn as (n, n_draws, k).
        sizes = {"n": n, "r": n_draws, "k": k}
        for order in ("rnk", "nkr", "knr", "rkn", "krn"):
            other = np.random.default_rng(seed).standard_normal([sizes[axis] for axis in order])
            other = other.transpose([order.index(axis) for axis in "nrk"])
            slips.append((_estimate_with(vae, X, mu, logvar, other),
                          "draws the noise in another order: draw eps = rng.standard_normal((n, n_draws, k)) "
                          "in one call, so that your draws are the check's."))
    return slips


def _logits(vae, Z):
    vae.decoder.forward(Z.reshape(-1, vae.n_latent))
    return vae.decoder.last_preactivation.reshape(Z.shape[0], Z.shape[1], -1)


def _not_finite(what, value, expected, sure):
    """The message for an estimate ``value`` that is not finite where log p(x) (``expected``) is."""
    got = f"{what}: got {value} where log p(x) is finite (about {expected:.6g})."
    decode = ("log p(x | z) must come from vae.log_density, which works from the logits: this very sure "
              "decoder's probabilities vae.decode(Z) round to exactly 0 or 1, where log(0) = -inf and "
              "0 * log(0) = nan.")
    if np.isnan(value) and sure:
        return f"{got} {decode} (A log-mean-exp of log-weights that are all -inf gives nan too.)"
    if np.isnan(value):
        return (f"{got} A log or square root of a negative number? logvar is the log of the variance and "
                "may be negative: sigma = exp(logvar / 2).")
    if value > 0:
        return (f"{got} exp overflowed: take out the largest log-weight m of each row, m + log mean "
                "exp(log w - m), so that every exponential lies in (0, 1].")
    if sure:
        return (f"{got} The weights are below exp(-900), which is 0 in floating point: "
                "np.log(np.mean(np.exp(log_w))) gives -inf. Take the largest log-weight out first: "
                f"m + log mean exp(log w - m), with m the largest of each row. And {decode}")
    return f"{got} Work in logarithms: a log-mean-exp of the log-weights, m + log mean exp(log w - m)."


def _reference_state(seed, shape):
    """The state of a generator seeded with ``seed`` after drawing the exercise's noise."""
    rng = np.random.default_rng(seed)
    rng.standard_normal(shape)
    return rng.bit_generator.state


def check_importance_log_likelihood(importance_log_likelihood_fn):
    """Exercise 6.1: ``importance_log_likelihood_fn(vae, X, n_draws, rng)`` returns the importance-
    weighted estimates of log p(x), (n,), with eps = rng.standard_normal((n, n_draws, k)).

    Compared with ``VAE.log_likelihood`` on the same draws, for both likelihoods, several numbers of
    draws and seeds, and a model whose weights are all below exp(-12000).
    """
    name = "importance_log_likelihood"
    hint = ("log w = log p(x | z) + log p(z) - log q(z | x) for each draw, then a log-mean-exp over "
            "the draws: m + log mean exp(log w - m), with m the largest log w of the row.")
    shapes = "X is (n, d), eps (n, n_draws, k), the log-weights (n, n_draws) and the result (n,)."
    # First: two generators must give two sets of draws (the rng argument is used).
    what, vae, X, n_draws, seed = _importance_cases()[0]
    first, second = (as_numbers(call(importance_log_likelihood_fn, vae, X.copy(), n_draws, np.random.default_rng(s),
                                     name=name, allowed=ALLOWED_MODEL_PARTS, on_error=shapes))
                     for s in (seed, seed + 100))
    if first is not None and second is not None and first.shape == second.shape and np.array_equal(first, second):
        raise CheckFailed(f"{name} gives the same estimates for two different generators rng: draw the "
                          "noise from the rng argument, not from a generator of your own.")
    for what, vae, X, n_draws, seed in _importance_cases():
        rng = np.random.default_rng(seed)
        untouched = rng.bit_generator.state
        actual = call(importance_log_likelihood_fn, vae, X.copy(), n_draws, rng, name=name,
                      allowed=ALLOWED_MODEL_PARTS, on_error=shapes)
        expected = vae.log_likelihood(X, n_draws, rng=seed)
        what = f"{name} for {what}"
        array = as_numbers(actual)
        if array is not None and array.shape == (n_draws,) and n_draws != X.shape[0]:
            raise CheckFailed(f"{what}: got one value per draw, shape {array.shape}; average over the draws "
                              f"(axis=1 of the (n, n_draws) log-weights) to get one estimate per row of X.")
        if array is not None and array.shape == expected.shape:
            if np.isfinite(expected).all() and not np.isfinite(array).all():
                bad = ~np.isfinite(array)
                raise CheckFailed(_not_finite(what, array[bad][0], expected[bad][0], "very sure" in what))
            if not np.allclose(array, expected, rtol=1e-9, atol=1e-9):
                if np.allclose(array, expected, rtol=1e-4, atol=1e-4):
                    expect_float64(actual, what)   # a float32 answer, otherwise right
                for value, explanation in _importance_slips(vae, X, n_draws, seed):
                    if np.allclose(array, value, rtol=1e-9, atol=1e-9):
                        raise CheckFailed(f"{what}: your estimate {explanation}")
                for other in (1, 10, 100, 1000):
                    if other != n_draws and np.allclose(array, vae.log_likelihood(X, other, rng=seed), rtol=1e-9, atol=1e-9):
                        raise CheckFailed(f"{what}: your estimate uses {other} draws, not n_draws={n_draws}: "
                                          "draw n_draws codes for each row.")
                state = rng.bit_generator.state
                if state == untouched:
                    raise CheckFailed(f"{what}: your function drew nothing from the generator rng it was given: "
                                      "draw eps = rng.standard_normal((n, n_draws, k)) from it.")
                if state != _reference_state(seed, (X.shape[0], n_draws, vae.n_latent)):
                    hint = (f"Your function drew from rng other than n * n_draws * k = "
                            f"{X.shape[0] * n_draws * vae.n_latent} standard normal numbers, as one call "
                            "rng.standard_normal((n, n_draws, k)) does. " + hint)
        expect_close(actual, expected, what, hint=hint, rtol=1e-9, atol=1e-9)
    passed("the importance-weighted estimates match VAE.log_likelihood, for both likelihoods and "
           "weights below exp(-12000).")


# Exercise 6.2: the continuous Bernoulli's log-normaliser.

def _normalizer_inputs():
    """Decoder outputs in (0, 1): far from 1/2, near it (where the closed form is 0/0 or cancels) and at it."""
    offsets = np.array([4e-4, 1e-6, 1e-9, 1e-12, 1e-15])
    near = 0.5 + np.concatenate([offsets, -offsets, [0.0]])
    middle = 0.5 + np.array([0.003, -0.006, 0.01, -0.02, 0.04, -0.08])
    far = np.linspace(1e-4, 1 - 1e-4, 41)
    return near, middle, far


# At x_hat = 1/2 the series gives log 2 exactly; a few units in the last place allow for another
# exact route (the logit 0 and a/tanh(a/2) -> 2, or a ratio set to 1 there). Moving x_hat off 1/2
# by 1e-6 to dodge the 0/0 is off by 1.3e-12, a thousand times more.
EXACT_AT_HALF = 4 * np.spacing(np.log(2.0))


def _log_normalizer_of(x_hat):
    """aelib's log C(x_hat), through the logit of x_hat."""
    return continuous_bernoulli_log_normalizer(np.log(x_hat) - np.log1p(-x_hat))


def _normalizer_diagnosis(array_given, x_hat, expected, what):
    """Name the mistake of a log-normaliser (the answer ``array_given``, of ``x_hat``'s shape) when one
    is recognised."""
    array = as_numbers(array_given)
    is_half = x_hat == 0.5
    t = np.abs(1 - 2 * x_hat)
    finite = np.isfinite(array)
    expect_float64(array_given, what)
    with np.errstate(all="ignore"):
        if not finite.any() or np.all(array[finite] < 0):
            raise CheckFailed(f"{what}: your result is not a logarithm of a positive number. C(x_hat) = "
                              "2 artanh(1 - 2 x_hat) / (1 - 2 x_hat) is positive: artanh and its argument "
                              "have the same sign, so check the signs of t in numerator and denominator.")
        if not finite[is_half].all() and finite[~is_half].all():
            raise CheckFailed(f"{what}: at x_hat = 1/2 exactly your result is {array[is_half][0]}: the closed "
                              "form is 0 / 0 there. Use the series log 2 + t^2/3 + 13 t^4 / 90 for small |t|.")
        if not finite[~is_half].all():
            bad = ~finite & ~is_half
            raise CheckFailed(
                f"{what}: your result is {array[bad][0]} at x_hat = {float(x_hat[bad][0])!r} "
                f"({np.sum(bad)} of the {bad.size} values are not finite). C is positive for every x_hat: "
                "take the log of the whole ratio, log(2 artanh(t) / t); log(artanh(t)) and log(t) "
                "separately are logs of negative numbers when x_hat > 1/2.")
        if np.allclose(array, np.exp(expected), rtol=1e-9):
            raise CheckFailed(f"{what}: your result is C(x_hat) itself; return its logarithm, log C.")
        if np.allclose(array, expected - np.log(2), rtol=1e-9, atol=1e-12):
            raise CheckFailed(f"{what}: your result is log 2 too small: C = 2 artanh(t) / t, with the factor 2.")
        wrong = ~np.isclose(array, expected, rtol=1e-11, atol=0)
        rounded = x_hat.astype(np.float32).astype(np.float64)
        if wrong.any() and np.allclose(array, _log_normalizer_of(rounded), rtol=1e-9, atol=0):
            raise CheckFailed(f"{what}: your result is log C of x_hat rounded to float32 (7 significant digits); "
                              "this exercise computes in float64 (16 digits): keep x_hat's float64 dtype.")
        off = np.abs(array[is_half] - np.log(2.0))
        if is_half.any() and off.max() > EXACT_AT_HALF and not wrong[~is_half].any():
            value = float(array[is_half][np.argmax(off)])
            dodge = (" Moving x_hat (or t) off 1/2 to avoid the 0 / 0 leaves an error like this one: use "
                     "the series there." if off.max() < 1e-6 else "")
            raise CheckFailed(
                f"{what}: right everywhere but at x_hat = 1/2 exactly, where your result is {value!r}, off by "
                f"{value - np.log(2.0):.1e}: log C(1/2) = log 2 exactly (C(1/2) = 2), as the series gives at "
                f"t = 0.{dodge}")
        if wrong.any() and not wrong[t >= 1e-3].any():
            near = (t < 1e-3) & ~is_half
            error = np.abs(array[near] - expected[near]) / expected[near]
            # A series with a wrong or missing term errs most where t is largest; the cancellation of
            # a form through logarithms errs most at small t (up to 1e-8 relative, at t near 1e-8).
            if error[np.argmax(t[near])] < error.max():
                raise CheckFailed(
                    f"{what}: wrong near x_hat = 1/2 (at x_hat = {float(x_hat[wrong][0])!r}), right elsewhere. "
                    "A form like 0.5 * log((1 + t) / (1 - t)) takes the "
                    "log of a number within rounding of 1 there and loses digits; use np.arctanh, and the "
                    "series for |t| < 1e-3.")
            worst = np.argmax(np.abs(array - expected) / expected * near)
            raise CheckFailed(
                f"{what}: wrong near x_hat = 1/2 (at x_hat = {float(x_hat.flat[worst])!r}, t = 1 - 2 x_hat = "
                f"{float(1 - 2 * x_hat.flat[worst]):.1e}), right elsewhere, and worse the further from 1/2: "
                "check the terms of your series, log 2 + t^2/3 + 13 t^4 / 90 with t = 1 - 2 x_hat.",
                expected=repr(float(expected.flat[worst])), actual=repr(float(array.flat[worst])))
        if wrong.any() and not wrong[t < 1e-3].any():
            first = np.flatnonzero(wrong.ravel())[0]
            raise CheckFailed(
                f"{what}: right near x_hat = 1/2, wrong further out (at x_hat = {float(x_hat.flat[first])!r}): "
                "the series is accurate only for small |t|; beyond |t| < 1e-3 use the closed form "
                "log(2 artanh(t) / t), t = 1 - 2 x_hat, and check it against (4).",
                expected=repr(float(expected.flat[first])), actual=repr(float(array.flat[first])))


def check_log_normalizer(log_normalizer_fn):
    """Exercise 6.2: ``log_normalizer_fn(x_hat)`` returns log C(x_hat) of the continuous Bernoulli,
    elementwise for an array of any shape, exact at x_hat = 1/2 and accurate near it."""
    name = "log_normalizer"
    near, middle, far = _normalizer_inputs()
    hint = ("log C = log(2 artanh(t) / t) with t = 1 - 2 x_hat, and log 2 + t^2/3 + 13 t^4 / 90 for "
            "|t| < 1e-3, where the closed form is 0/0 or close to it.")
    shapes = "x_hat is an array of any shape; work elementwise and return its shape."

    # A 2-D input first, then 1-D ones and a single value (0-D) at 1/2 itself, where a sigmoid
    # output lands whenever its logit is 0.
    inputs = [(np.concatenate([near, middle, far[:13]]).reshape(5, 6), "x_hat of shape (5, 6), values in (0, 1)"),
              (far, f"{len(far)} values far from 1/2"), (near, f"{len(near)} values near 1/2"),
              (np.array(0.5), "x_hat = np.array(0.5), a 0-D array")]
    for x_hat, where in inputs:
        actual = call(log_normalizer_fn, x_hat.copy(), name=name, on_error=shapes)
        what = f"{name}(x_hat) for {where}"
        expected = _log_normalizer_of(x_hat)
        array = as_numbers(actual)
        if array is not None and array.shape == x_hat.shape:
            _normalizer_diagnosis(actual, x_hat, expected, what)
        expect_close(actual, expected, what, hint=hint, rtol=1e-11, atol=0)
    passed("log C(x_hat) matches aelib's, exactly at 1/2 and to 11 digits near it and from 1e-4 to 1 - 1e-4.")


# Exercise 6.3: active units.

# A coordinate whose values are +-1/8 in equal numbers has a variance of exactly 1/64 (every step of
# its sums is exact in floating point): the threshold it must not exceed when it only equals it.
TIE = 0.125
TIE_THRESHOLD = TIE ** 2


def _active_cases():
    """(what, mu, threshold): coordinates chosen so that the usual slips change the answer.

    The variance over the samples may divide by n (np.var) or by n - 1: the statement does not
    say which, and the check accepts either, used throughout. Ties at the threshold are exact for
    both: values +-1/8 over 256 samples have the variance 1/64 dividing by n, and with one more
    sample at 0, dividing by n - 1.
    """
    rng = np.random.default_rng(64)
    n = 400
    columns = [rng.normal(0.0, 1.0, n),            # active
               rng.normal(0.5, 0.02, n),           # inactive, but its mean is far from 0: E[mu^2] = 0.25
               rng.normal(0.0, 0.07, n),           # inactive: variance 0.005, though its std 0.07 > 0.01
               rng.normal(0.0, 0.15, n),           # active: variance 0.0225 (inactive at threshold 0.05)
               rng.normal(-2.0, 0.05, n),          # inactive, mean far from 0
               rng.normal(0.0, 0.3, n),            # active: variance 0.09
               rng.normal(3.0, 0.004, n),          # inactive: std 0.004 < 0.01, but a range of about 0.025
               np.concatenate([np.zeros(n // 2), rng.normal(0.0, 1.0, n // 2)])]   # active in the second half only
    mu = np.column_stack(columns)
    tie = np.tile([TIE, -TIE], 128)
    tied = np.column_stack([tie, rng.normal(0.0, 1.0, 256), np.full(256, 0.7), rng.normal(0.0, 0.1, 256)])
    tie_unbiased = np.concatenate([tie, [0.0]])
    tied_unbiased = np.column_stack([rng.normal(0.0, 1.0, 257), tie_unbiased])
    # 6 samples, 5 coordinates (n != k). The first has a variance of 0.0096 dividing by n, 0.0116 by
    # n - 1; the last two vary only in their first or their last sample (variance 0.0125, 0.015).
    small = np.column_stack([[0.17, -0.17, 0.0, 0.0, 0.0, 0.0], [1.1, -0.4, 0.3, -1.3, 0.6, 0.2],
                             rng.normal(0.0, 0.01, 6), [0.3, 0.0, 0.0, 0.0, 0.0, 0.0],
                             [0.0, 0.0, 0.0, 0.0, 0.0, -0.3]])
    return [("mu of 400 samples with 8 coordinates, threshold=0.01", mu, 0.01),
            ("the same mu, threshold=0.05", mu, 0.05),
            (f"mu of 256 samples whose first coordinate is +-{TIE}, threshold={TIE_THRESHOLD}", tied, TIE_THRESHOLD),
            (f"mu of 257 samples whose second coordinate is +-{TIE} and one 0, threshold={TIE_THRESHOLD}",
             tied_unbiased, TIE_THRESHOLD),
            ("mu of 6 samples with 5 coordinates, threshold=0.01", small, 0.01)]


def _variances(mu):
    """The variance of each coordinate dividing by n and by n - 1: the two conventions accepted."""
    return np.var(mu, axis=0), np.var(mu, axis=0, ddof=1)


def _active_slips(mu, threshold):
    """Plausible wrong answers, (explanation, [result with each variance convention])."""
    variances = _variances(mu)
    return [
        ("compares the standard deviation with the threshold (or the variance with threshold^2); "
         "(9) compares the variance.", [np.sqrt(v) > threshold for v in variances]),
        ("uses the mean of mu^2, which counts a coordinate whose mean code is far from 0 but the "
         "same for every sample; the variance subtracts the mean first.", [np.mean(mu ** 2, axis=0) > threshold]),
        ("subtracts the mean of all of mu, not each coordinate's own mean (mu.mean(axis=0)).",
         [np.mean((mu - mu.mean()) ** 2, axis=0) > threshold]),
        ("adds up the squared deviations from the mean without dividing by the number of samples: "
         "the variance is their mean.", [np.sum((mu - mu.mean(axis=0)) ** 2, axis=0) > threshold]),
        ("looks at the mean of mu; activity is how much mu changes from sample to sample: its variance.",
         [np.abs(np.mean(mu, axis=0)) > threshold]),
        ("compares the range of mu (largest minus smallest) with the threshold; (9) compares the variance.",
         [np.ptp(mu, axis=0) > threshold]),
        (f"counts a coordinate whose variance equals the threshold as active: it must exceed it "
         f"(>, not >=). A coordinate of values +-{TIE} has the variance {TIE_THRESHOLD} exactly.",
         [v >= threshold for v in variances]),
        (f"ignores the threshold argument (it is {threshold} here): compare with threshold, not 0.01.",
         [v > 0.01 for v in variances]),
        ("is True for the inactive coordinates: a coordinate is active when its variance exceeds the threshold.",
         [v <= threshold for v in variances] + [v < threshold for v in variances]),
    ]


def _boolean_answer(actual, what, n, k):
    """The answer as a (k,) boolean array, or CheckFailed naming what it is instead."""
    if np.isscalar(actual) or (isinstance(actual, np.ndarray) and actual.ndim == 0):
        raise CheckFailed(f"{what}: got the single number {actual!r}; return one True/False per "
                          f"coordinate, a boolean array of shape ({k},) (np.sum of it counts them).")
    array = as_numbers(actual)
    if array is not None and array.shape == (n,) and n != k:
        raise CheckFailed(f"{what}: got shape ({n},), one value per sample: the variance is over the "
                          f"samples, axis=0, one per coordinate, shape ({k},).")
    if array is not None and array.shape != (k,) and array.ndim == 1 and np.all(np.isin(array, np.arange(k))):
        raise CheckFailed(f"{what}: got {array.shape[0]} numbers that look like indices; return a boolean "
                          f"mask of shape ({k},), True where the coordinate is active.")
    if array is None or array.shape != (k,):
        expect_close(actual, np.zeros(k), what)   # names the type or the shape
    if not np.all(np.isin(array, (0.0, 1.0))):
        raise CheckFailed(f"{what}: got values other than True and False, e.g. "
                          f"{array[~np.isin(array, (0.0, 1.0))][0]:.4g}: compare the variances with the threshold.")
    dtype = np.asarray(actual).dtype
    if dtype != bool:
        raise CheckFailed(f"{what}: got 0s and 1s of dtype {dtype}; return booleans, as the comparison "
                          "variance > threshold gives them. As a mask, mu[:, active] keeps the active "
                          "coordinates; an array of integers would pick columns 0 and 1 instead.")
    return array.astype(bool)


def check_active_units(active_units_fn):
    """Exercise 6.3: ``active_units_fn(mu, threshold=0.01)`` returns the (k,) booleans Var_x(mu_u) > threshold.

    Several data sets and thresholds, exact ties at the threshold, and the default threshold. The
    variance may divide by n or by n - 1 (the statement does not say which), the same way throughout.
    """
    name = "active_units"
    cases = _active_cases()
    answers = []
    for what, mu, threshold in cases:
        actual = call(active_units_fn, mu.copy(), threshold=threshold, name=name,
                      on_error="mu is (n, k), threshold a number; return a boolean array of shape (k,).")
        answers.append(_boolean_answer(actual, f"{name} for {what}", *mu.shape))
    # One convention for all cases: the variance dividing by n, or by n - 1.
    expected = [[v > threshold for v in _variances(mu)] for _, mu, threshold in cases]
    if not any(all(np.array_equal(answer, right[convention]) for answer, right in zip(answers, expected))
               for convention in (0, 1)):
        slips = [_active_slips(mu, threshold) for _, mu, threshold in cases]
        for i, (explanation, _) in enumerate(slips[0]):
            per_case = [case_slips[i][1] for case_slips in slips]
            for variant in range(len(per_case[0])):
                if all(np.array_equal(answer, results[variant]) for answer, results in zip(answers, per_case)):
                    first = next((j for j, (answer, right) in enumerate(zip(answers, expected))
                                  if not any(np.array_equal(answer, r) for r in right)),
                                 next(j for j, (answer, right) in enumerate(zip(answers, expected))
                                      if not np.array_equal(answer, right[0])))
                    raise CheckFailed(f"{name} for {cases[first][0]}: your result {slips[first][i][0]}")
        # No slip recognised: the first coordinate that neither convention explains.
        for (what, mu, threshold), answer, right in zip(cases, answers, expected):
            wrong = (answer != right[0]) & (answer != right[1])
            if not wrong.any():
                wrong = answer != right[0]
            if wrong.any():
                u = int(np.flatnonzero(wrong)[0])
                variance = _variances(mu)[0][u]
                raise CheckFailed(
                    f"{name} for {what}, coordinate {u} (its variance over the samples is {variance:.4g}):",
                    expected=str(bool(right[0][u])), actual=str(bool(answer[u])),
                    hint="Var over the samples (axis=0) of each coordinate of mu, compared with threshold: "
                         "True where it exceeds it.")
    # The default threshold of the statement, 0.01.
    what, mu, _ = cases[0]
    actual = call(active_units_fn, mu.copy(), name=name,
                  on_error="threshold has a default, 0.01: active_units(mu) must work.")
    answer = _boolean_answer(actual, f"{name}(mu) without a threshold", *mu.shape)
    if not any(np.array_equal(answer, v > 0.01) for v in _variances(mu)):
        raise CheckFailed(f"{name}(mu) without a threshold, for {what}: the default threshold must be 0.01, "
                          "as in the statement: def active_units(mu, threshold=0.01).")
    passed("active_units finds the coordinates whose mean code varies by more than the threshold.")


# Exercise 6.6: the continuous Bernoulli's mean and variance, to the last digit.

def _logit_cases():
    """(what, a): logits of several shapes where the usual slips show.

    a = 0 (0/0 in the closed forms), logits small enough that 1/a^2 overflows, the stretch from
    1e-6 to 1 where the closed forms cancel and truncated series fall short, both sides of the
    switches an answer may choose, and logits large enough that e^a or sinh(a/2) overflows.
    """
    rng = np.random.default_rng(66)
    special = np.array([0.0, 1e-300, -1e-300, 1e-12, -1e-8, 1e-5, -1e-3, 0.01, -0.05, 0.0999, 0.1,
                        -0.1001, 0.2, -0.3, 0.5, -0.99, 1.0, -1.01, 2.0, -3.5, 7.0, -30.0, 40.0,
                        -100.0, 710.0, -1e3, 1e4, -1e6, 1e6, -2.5, 0.7, -0.45, 1.5, -0.15, 0.35, -6.0])
    dense = np.geomspace(1e-6, 1e3, 181)
    return [("a of shape (4, 9): 0, tiny, small, moderate and large logits of both signs", special.reshape(4, 9)),
            ("a = np.array(0.0), a 0-D array", np.array(0.0)),
            ("a = np.array(-2.5), a 0-D array", np.array(-2.5)),
            ("362 logits from -1e3 to 1e3, every tenth of a decade from 1e-6 on",
             np.concatenate([dense, -dense[::-1]])),
            ("200 logits drawn uniformly from [-4, 4]", rng.uniform(-4.0, 4.0, 200))]


def _pair_of(result, name, shape):
    """The answer as two float64 arrays (m, v), or CheckFailed naming what it is instead."""
    if isinstance(result, np.ndarray) and result.shape == shape:
        raise CheckFailed(f"{name} returned one array of a's shape; return the pair (m, v): the mean and "
                          "its derivative, e.g. return m, v.")
    try:
        m, v = result
    except (TypeError, ValueError):
        raise CheckFailed(f"{name} must return a pair (m, v) of arrays of a's shape, got "
                          f"{type(result).__name__}" + (f" of length {len(result)}" if hasattr(result, "__len__")
                                                        else "") + ".") from None
    for value, which in ((m, "m"), (v, "v")):
        if np.iscomplexobj(value):
            raise CheckFailed(f"{name} returned complex numbers for {which}: the complex step, Im f(a + ih) / h, "
                              "is not allowed here, and the mean and variance are real.")
    return m, v


def _relative_error(actual, expected):
    with np.errstate(all="ignore"):
        return np.where(actual == expected, 0.0, np.abs(actual - expected) / np.abs(expected))


def _mean_slips(a, x_hat):
    """Plausible wrong means, as their closed forms give them (accurate where |a| is moderate)."""
    with np.errstate(all="ignore"):
        half_a = 0.5 * a
        return [
            (x_hat, "is sigmoid(a) = x_hat, the decoder's output: that is the continuous Bernoulli's "
                    "parameter, not its mean (8), which lies between 1/2 and x_hat"),
            (0.5 / np.tanh(half_a) - 1.0 / a, "leaves out the 1/2 of (8): m = 1/2 + 1/(2 tanh(a/2)) - 1/a"),
            (0.5 + 0.5 / np.tanh(a) - 1.0 / a, "has tanh(a) where (8) has tanh(a/2)"),
            (0.5 + 0.5 / np.tanh(half_a) + 1.0 / a, "adds 1/a; (8) subtracts it: m = 1/2 + 1/(2 tanh(a/2)) - 1/a"),
            (0.5 + 1.0 / np.tanh(half_a) - 1.0 / a, "has 1/tanh(a/2) where (8) has 1/(2 tanh(a/2))"),
        ]


def _variance_slips(a, x_hat, m, v):
    """Plausible wrong variances (derivatives of the mean), as their closed forms give them."""
    with np.errstate(all="ignore"):
        sinh2 = np.sinh(0.5 * a) ** 2
        return [
            (x_hat * (1.0 - x_hat), "is x_hat (1 - x_hat), the Bernoulli's variance (and the derivative of "
                                    "sigmoid); differentiate the continuous Bernoulli's mean (8) instead"),
            (m * (1.0 - m), "is m (1 - m), the Bernoulli's formula applied to the continuous Bernoulli's mean; "
                            "differentiate the mean (8) instead"),
            (-v, "has the wrong sign: m(a) increases with a, so m'(a) = 1/a^2 - 1/(4 sinh^2(a/2)) > 0"),
            (1.0 / a ** 2 - 1.0 / sinh2, "leaves out the 4 of 4 sinh^2(a/2): the derivative of "
                                         "1/(2 tanh(a/2)) is -1/(4 sinh^2(a/2))"),
            (1.0 / a ** 2 - 1.0 / (2.0 * sinh2), "has 2 sinh^2(a/2) where the derivative of 1/(2 tanh(a/2)) "
                                                 "gives 4 sinh^2(a/2)"),
            (1.0 / a ** 2 - 1.0 / (4.0 * np.sinh(a) ** 2), "has sinh(a) where the derivative of 1/(2 tanh(a/2)) "
                                                           "gives sinh(a/2): -1/(4 sinh^2(a/2))"),
            (1.0 / a - 1.0 / (4.0 * sinh2), "differentiates -1/a into 1/a; its derivative is 1/a^2"),
            (v / (x_hat * (1.0 - x_hat)), "is the derivative with respect to x_hat; this exercise asks for "
                                          "the derivative with respect to the logit a (x_hat = sigmoid(a))"),
            (1.0 / a ** 2 - 0.25 / np.cosh(0.5 * a) ** 2, "has cosh where the derivative of tanh gives "
                                                          "1/cosh^2, and of 1/tanh gives -1/sinh^2"),
        ]


def _named_slip(array, slips, right, where, what):
    """Raise with the explanation of the first slip that ``array`` reproduces at the logits ``where``
    (moderate ones, where every closed form is accurate and a series is not used) and that differs
    from the right value there."""
    with np.errstate(all="ignore"):
        for value, explanation in slips:
            differs = where & ~np.isclose(value, right, rtol=1e-6, atol=0)
            if differs.any() and np.all(np.isclose(array[differs], value[differs], rtol=1e-9, atol=0)):
                raise CheckFailed(f"{what}: your result {explanation}.")


# Near 0 the closed forms cancel (12 / a^2 rounding errors in the variance) and answers switch to
# a series; for large |a| they overflow or cancel again. Between the two, every closed form is
# accurate to a few 1e-15, and a wrong formula or finite differences show as they are.
NEAR_ZERO, LARGE = 2.0, 20.0
EXACT_RTOL = 1e-13   # expect_exact's: a relative 1e-13 of each value


def _region_diagnosis(a, error, what, quantity, forms):
    """Name where a quantity that is wrong somewhere goes wrong: at 0 only, near 0 (cancellation or a
    short series) or at large |a| only."""
    wrong = ~(error <= EXACT_RTOL)          # NaN counts as wrong
    if not wrong.any():
        return
    magnitude = np.abs(a)
    worst = int(np.argmax(np.where(np.isfinite(error), error, np.inf)))
    at = f"(at a = {float(a.flat[worst])!r}, relative error {float(error.flat[worst]):.1e})"
    if np.all(magnitude[wrong] < NEAR_ZERO):
        near = wrong & (magnitude > 0)
        if near.any():
            # Errors growing towards 0: a closed form where it cancels; growing away from 0: a series
            # used beyond where its terms suffice.
            inner = error[near & (magnitude == magnitude[near].min())].max()
            outer = error[near & (magnitude == magnitude[near].max())].max()
            if not np.isfinite(inner) or inner >= outer:
                raise CheckFailed(
                    f"{what}: wrong near a = 0 only, and the worse the closer to 0 {at}. {forms} cancel "
                    f"there: two terms that grow without bound leave a difference that does not, and "
                    f"their rounding errors stay. Below some |a| use the Taylor series of {quantity} at 0 "
                    "instead, and switch where the closed form has lost no digits.")
            raise CheckFailed(
                f"{what}: wrong near a = 0 only, and the worse the further from 0 {at}: a Taylor series "
                "used where its left-out terms still count. Add terms, or switch to the closed form "
                "closer to 0 (where it has not yet lost digits).")
        raise CheckFailed(f"{what}: wrong at a = 0 exactly {at}, right elsewhere. There the closed forms are "
                          f"0/0: use the Taylor series of {quantity} (its value at 0 is exact), not a moved a.")
    if np.all(magnitude[wrong] >= LARGE):
        raise CheckFailed(
            f"{what}: right for small and moderate a, wrong for large |a| {at}. Overflow (e^a, sinh(a/2) "
            "or a^2 beyond 1e308 give inf and nan) or a cancellation of two terms near 1: write the "
            "closed form with e^-|a|, which cannot overflow, and avoid differences of nearly equal terms.")


def _series_too_far(a, error, what):
    """Fail naming a series used too far from 0: wrong only below some |a|, right beyond it, and
    the worse the further from 0 (float32 or finite differences are wrong at every size of a)."""
    wrong = ~(error <= EXACT_RTOL)
    magnitude = np.abs(a)
    if not wrong.any() or not np.all(np.isfinite(error[wrong])):
        return
    edge = magnitude[wrong].max()
    if edge < NEAR_ZERO:
        return  # _region_diagnosis names it, with the cancellation it may be instead
    beyond = magnitude > edge
    inner = error[wrong & (magnitude == magnitude[wrong].min())].max()
    outer = error[wrong & (magnitude == edge)].max()
    if beyond.any() and np.all(error[beyond] <= EXACT_RTOL) and outer > inner:
        worst = int(np.argmax(np.where(wrong, error, -np.inf)))
        raise CheckFailed(
            f"{what}: right for |a| > {edge:g}, wrong below, and the worse the further from 0 (at a = "
            f"{float(a.flat[worst])!r}, relative error {float(error.flat[worst]):.1e}): a Taylor series "
            "used where its left-out terms still count. Add terms, or switch to the closed form closer "
            "to 0 (where it has not yet lost digits).")


def _float32_in_code(function, error, what):
    """Fail naming float32 if the answer's code uses it and every error is of float32's size: say,
    logits rounded to float32 on the way in, which shows only where they are not whole numbers."""
    sign = number_signs(function)["float32"]
    if sign and np.all(error <= 1e-4):    # NaN fails the comparison: not float32's doing
        raise CheckFailed(
            f"{what}: agrees with the exact value to only {float(np.max(error)):.0e} (relative), and your "
            f"code computes with float32 ({sign}), which keeps about 7 significant digits; this exercise "
            "computes in float64 (16 digits) and holds the result to 13. Keep every array float64.")


def _few_digits(what, error, where, cause):
    worst = float(np.max(error[where]))
    return (f"{what}: agrees with the exact value to only about {max(0, int(-np.log10(worst)))} significant "
            f"digits where 2 <= |a| < 20 (relative error {worst:.0e}), where every closed form is accurate to "
            f"15. {cause}")


def check_mean_and_variance(mean_and_variance_fn):
    """Exercise 6.6: ``mean_and_variance_fn(a)`` returns (m, v) for logits a of any shape: the
    continuous Bernoulli's mean m(a) = F'(a) of (8) and its derivative v(a) = F''(a).

    Both are held to a relative 1e-13 of aelib's values (``continuous_bernoulli_mean`` and
    ``continuous_bernoulli_variance``, themselves within a few 1e-15 of 80-digit arithmetic), for
    logits from 0 and 1e-300 to 1e6 of both signs, 0-D to 2-D. No call into aelib is allowed;
    an answer that computes with complex numbers (the complex step) fails, and so does one that
    differentiates by finite differences, which cannot reach 13 digits.
    """
    name = "mean_and_variance"
    complex_code = number_signs(mean_and_variance_fn)["complex"]
    if complex_code:
        raise CheckFailed(
            f"{name} computes with complex numbers ({complex_code}): that is the complex step, which "
            "reads a derivative off the mean's values at a + ih. It is exact to rounding, but it evaluates "
            "the mean instead of differentiating it; this exercise asks for m'(a) derived by hand, a "
            "formula of its own (and its series near 0).")
    hint = ("m = 1/2 + 1/(2 tanh(a/2)) - 1/a and m' = 1/a^2 - 1/(4 sinh^2(a/2)), each with its Taylor "
            "series near 0, where the two terms cancel.")
    for what, a in _logit_cases():
        result = call(mean_and_variance_fn, a.copy(), name=name,
                      on_error=f"a has shape {a.shape}; work elementwise and return (m, v), each of a's shape.")
        m, v = _pair_of(result, name, a.shape)
        expected_m, expected_v = continuous_bernoulli_mean(a), continuous_bernoulli_variance(a)
        what = f"{name}(a) for {what}"
        numbers_m, numbers_v = as_numbers(m), as_numbers(v)
        shapes_fit = (numbers_m is not None and numbers_v is not None
                      and numbers_m.shape == numbers_v.shape == a.shape)
        if shapes_fit:
            if np.allclose(numbers_m, expected_v, rtol=1e-9) and np.allclose(numbers_v, expected_m, rtol=1e-9):
                raise CheckFailed(f"{what}: you returned (v, m); return the mean first: (m, v).")
            for value, which in ((m, "m"), (v, "v")):
                expect_float64(value, f"{what}, {which}")
            with np.errstate(over="ignore"):
                x_hat = np.exp(-np.logaddexp(0.0, -a))     # sigmoid(a), accurate for large |a| too
            moderate = (np.abs(a) >= NEAR_ZERO) & (np.abs(a) < LARGE)
            error_m = _relative_error(numbers_m, expected_m)
            error_v = _relative_error(numbers_v, expected_v)
            if not np.all(error_m <= EXACT_RTOL):
                _named_slip(numbers_m, _mean_slips(a, x_hat), expected_m, moderate, f"{what}, the mean m")
                _series_too_far(a, error_m, f"{what}, the mean m")
                if moderate.any() and np.all(error_m[moderate] < 1e-4) and np.any(error_m[moderate] > EXACT_RTOL):
                    raise CheckFailed(_few_digits(
                        f"{what}, the mean m", error_m, moderate,
                        "About 7 digits is float32's precision: keep every array float64 (16 digits)."))
                _float32_in_code(mean_and_variance_fn, error_m, f"{what}, the mean m")
                _region_diagnosis(a, error_m, f"{what}, the mean m", "the mean",
                                  "1/(2 tanh(a/2)) and 1/a in (8)")
            if not np.all(error_v <= EXACT_RTOL):
                _named_slip(numbers_v, _variance_slips(a, x_hat, expected_m, expected_v), expected_v, moderate,
                            f"{what}, the derivative v")
                _series_too_far(a, error_v, f"{what}, the derivative v")
                if moderate.any() and np.all(error_v[moderate] < 1e-4) and np.any(error_v[moderate] > EXACT_RTOL):
                    raise CheckFailed(_few_digits(
                        f"{what}, the derivative v", error_v, moderate,
                        "That is the accuracy of finite differences, (m(a + h) - m(a - h)) / 2h or an "
                        "extrapolation of them (or of float32 arithmetic): derive m'(a) by hand instead, "
                        "in float64."))
                _float32_in_code(mean_and_variance_fn, error_v, f"{what}, the derivative v")
                _region_diagnosis(a, error_v, f"{what}, the derivative v", "m'(a)",
                                  "1/a^2 and 1/(4 sinh^2(a/2))")
        expect_exact(m, expected_m, f"{what}, the mean m", scale=np.abs(expected_m), hint=hint)
        expect_exact(v, expected_v, f"{what}, the derivative v", scale=np.abs(expected_v), hint=hint)
    passed("the continuous Bernoulli's mean and its derivative match aelib's to 13 digits, from "
           "a = 0 and 1e-300 to 1e6.")
