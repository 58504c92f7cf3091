"""Checks for the exercises of chapter 3, "Variational autoencoders".

Each check runs the reader's function on several shapes, on values far from the usual ones
(log-variances of -30 and 30, means of a thousand, zero noise, beta = 0) and on hyperparameters
other than the defaults, compares the result with aelib's own computation and names the slip
when it recognises one (a missing 1/2, the standard deviation where the variance belongs, a sum
over the wrong axis, a forgotten beta or 1/n). The closed form of the KL divergence and the
gradients are exact computations: they are held to rounding (``expect_exact``), so that finite
differences, which agree to 10 digits at best, fail and are named; the whole backward pass also
counts the forward evaluations the answer makes (it needs none). What agrees to 14 digits without
being the chain rule leaves other traces: the complex step computes with complex numbers (in the
answer's code or on its inputs), and a high-order stencil with a step of a few hundredths shifts
an input by that step. The same stencil on plain copies of the inputs (np.asarray) leaves none.
"""
import numpy as np

from ..mlp import MLP
from ..vae import VAE
from .feedback import EXACT_RTOL, CheckFailed, as_numbers, expect_close, expect_exact, passed
from .guard import call
from .reading import number_signs
from .tracing import traced
from .mlp import FORWARD_EVALUATIONS_ALLOWED, _Cache, _Params

__all__ = ["check_kl_divergence", "check_reparametrization_grads", "check_encoder_output_error",
           "check_decode_slice", "check_vae_backward"]


def _same(array, value):
    """Whether ``array`` (numbers or None) equals ``value`` to 6 digits: a recognised slip."""
    return (array is not None and array.shape == np.shape(value)
            and bool(np.allclose(array, value, rtol=1e-6, atol=1e-12)))


def _name_slip(actual, expected, slips, what, subject="your result"):
    """Raise ``CheckFailed`` with the explanation of the first slip that ``actual`` reproduces
    (and that differs from the right value on this input)."""
    array = as_numbers(actual)
    if array is None or array.shape != np.shape(expected) or _same(array, expected):
        return
    for value, explanation in slips:
        if _same(array, value) and not _same(np.asarray(expected, dtype=np.float64), value):
            raise CheckFailed(f"{what}: {subject} {explanation}")


def _no_nudges(log, name, derivative, shifted=None):
    """Fail if the answer nudged one of its traced inputs by a small step (x + h): finite
    differences of one step, which can agree with the exact derivative to 12 or 13 digits.
    ``shifted``: {input: size} for the inputs that no formula of the exercise shifts by a
    constant below that size, so that a larger step fails too (a stencil with a step of a tenth,
    or a difference quotient of the parabola mu^2, exact for any step)."""
    shifted = shifted or {}
    nudged = sorted(set(log.nudges))
    if nudged:
        raise CheckFailed(
            f"{name} nudged {', '.join(nudged)} by a small step (x + h) {log.nudged()} time(s): that is "
            "finite differences, which approximate a derivative. This exercise asks for the exact "
            f"derivative, by the chain rule: {derivative}")
    steps = sorted({(input_name, size) for input_name, size in log.shifts if size < shifted.get(input_name, 0.0)})
    if steps:
        inputs = ", ".join(sorted({input_name for input_name, _ in steps}))
        sizes = ", ".join(sorted({f"{size:.3g}" for _, size in steps}))
        raise CheckFailed(
            f"{name} shifted {inputs} by constant steps ({sizes}) {len(steps)} time(s): that is finite "
            "differences (a stencil or an extrapolation over several steps), which approximate a "
            "derivative. The formula needs no shifted input: derive the exact derivative by the chain "
            f"rule: {derivative}")


def _no_complex_step(function, log, name, derivative):
    """Fail if the answer computes with complex numbers: the complex step, Im f(x + ih) / h,
    reads a derivative off a function's values to rounding, but it is not the chain rule."""
    sign = number_signs(function)["complex"]
    kinds = log.complex_kinds()
    if sign or kinds:
        seen = sign or f"{kinds[0]} arrays made from the inputs"
        raise CheckFailed(
            f"{name} computes with complex numbers ({seen}): that is the complex-step method, which "
            "reads a derivative off the function's values at x + ih. It is exact to rounding, but it "
            "evaluates the function instead of differentiating it; this exercise asks for the "
            f"derivative by the chain rule: {derivative}")


def _float32_inside(function, log, what, actual, expected, scale):
    """Fail with the cause if ``actual`` (a float64 array) misses the exact value while the
    answer's code computes with float32: its result is float64, but has only about 7 digits."""
    array = as_numbers(actual)
    if array is None or array.shape != np.shape(expected):
        return
    scale = np.broadcast_to(np.asarray(scale, dtype=np.float64), np.shape(expected))
    if np.all(np.abs(array - expected) <= EXACT_RTOL * scale + np.finfo(np.float64).tiny):
        return
    kinds = log.low_precision_kinds() if log is not None else []
    # float32 seen in the code but not on the arrays (a guard such as `if X.dtype == np.float32`)
    # is the cause only if the error is of float32's size; a larger one is a mistake of its own.
    within_float32 = np.all(np.abs(array - expected) <= 1e-4 * scale + np.finfo(np.float64).tiny)
    sign = number_signs(function)["float32"] if within_float32 else None
    if sign or kinds:
        raise CheckFailed(
            f"{what}: your code computes with float32 ({sign or kinds[0] + ' arrays'}), which keeps "
            "about 7 significant digits; this exercise computes in float64 (16 digits) and holds the "
            "result to 13. Keep every array float64: do not convert to float32.")


def _pair(result, name, names):
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        raise CheckFailed(
            f"{name} must return two arrays {names}, got {type(result).__name__}"
            + (f" of length {len(result)}" if isinstance(result, (tuple, list)) else "") + ".")
    return result


# ---------------------------------------------------------------------------------------------
# Exercise 3.1: the KL divergence of a diagonal Gaussian from N(0, I).

def _kl_cases():
    """(what, mu, logvar): the prior itself, ordinary values, one sample with one coordinate,
    a single latent coordinate, and the extremes the statement allows."""
    rng = np.random.default_rng(3)
    # Each row's tolerance follows the size of its terms: the extremes sit in different rows, so
    # that a slip in a small term is not hidden by a large one.
    extreme_mu = np.array([[1e3, 0.0, -2.5, 0.1, 0.0],
                           [0.0, -1e3, 0.0, 3.0, -0.5],
                           [0.5, 0.5, 0.5, 0.5, 0.5],
                           [0.0, 0.0, 0.0, 0.0, 0.0]])
    extreme_logvar = np.array([[30.0, 0.0, 0.0, 1e-6, -1.0],
                               [-30.0, 0.5, 2.0, 0.0, 0.5],
                               [-30.0, 0.0, -30.0, 0.0, 0.0],
                               [30.0, 1e-8, -1e-8, 0.0, 0.0]])
    return [
        ("the prior itself, mu = 0 and logvar = 0, for 2 samples with 3 latent coordinates",
         np.zeros((2, 3)), np.zeros((2, 3))),
        ("4 samples with 3 latent coordinates", rng.normal(size=(4, 3)), rng.normal(scale=1.2, size=(4, 3))),
        ("1 sample with 1 latent coordinate", np.array([[0.5]]), np.array([[-2.0]])),
        ("6 samples with 1 latent coordinate", rng.normal(size=(6, 1)), rng.normal(scale=2.0, size=(6, 1))),
        ("4 samples with 5 coordinates, |mu| up to 1000 and logvar from -30 to 30",
         extreme_mu, extreme_logvar),
    ]


def _kl_terms(mu, logvar):
    return mu * mu + np.exp(logvar) - logvar - 1.0


def _kl_shape(actual, mu, what):
    array = as_numbers(actual)
    n_samples, n_latent = mu.shape
    if array is None or array.shape == (n_samples,):
        return
    if array.shape == (n_samples, 1):
        raise CheckFailed(f"{what}: got shape {array.shape}; return one number per sample, shape "
                          f"({n_samples},): sum over axis=1 without keepdims.")
    if array.shape == mu.shape and n_latent > 1:
        raise CheckFailed(
            f"{what}: got shape {array.shape}, one value per latent coordinate. The KL divergence of "
            "a diagonal Gaussian is the sum of the per-coordinate terms: sum over axis=1.")
    if array.shape == () and n_samples == 1:
        raise CheckFailed(
            f"{what}: got a single number, shape (); return an array of one value per sample, shape "
            "(1,), even for one sample: sum over axis=1 and do not squeeze the result or turn it "
            "into a float.")
    if array.size == 1 or array.shape == (n_latent,):
        raise CheckFailed(
            f"{what}: got shape {array.shape}; expected one value per sample, shape ({n_samples},). "
            "Sum over the latent coordinates (axis=1) only, not over the samples.")


# The closed form (4) in float64 agrees with aelib's to about 1e-16 of the size of its terms,
# however it is written; float32 reaches only 1e-7.
KL_RTOL = 1e-10


def check_kl_divergence(kl_divergence_fn):
    """Exercise 3.1: ``kl_divergence_fn(mu, logvar)`` must return KL(N(mu, exp(logvar)) || N(0, I))
    per sample, equation (4).

    mu, logvar: float64 (n_samples, n_latent), any n_samples and n_latent >= 1, |mu| up to 1000,
    logvar from -30 to 30; the result: float64 (n_samples,), within 1e-10 of the size of the
    terms summed (float32 reaches only 1e-7).
    """
    name = "kl_divergence"
    for what, mu, logvar in _kl_cases():
        what = f"kl_divergence(mu, logvar) for {what}"
        actual = call(kl_divergence_fn, mu.copy(), logvar.copy(), name=name,
                      on_error=f"mu and logvar have shape {mu.shape}; return shape ({len(mu)},).")
        _kl_shape(actual, mu, what)
        expected = 0.5 * np.sum(_kl_terms(mu, logvar), axis=1)
        variance, std, k = np.exp(logvar), np.exp(0.5 * logvar), mu.shape[1]
        half_sum = lambda terms: 0.5 * np.sum(terms, axis=1)  # noqa: E731 (one line per slip below)
        _name_slip(actual, expected, [
            (2.0 * expected, "is twice the right value: the closed form (4) has a factor 1/2 in "
                             "front of the sum."),
            (-expected, "is the divergence with the wrong sign: KL is never negative, it is "
                        "1/2 * sum(mu^2 + sigma^2 - log sigma^2 - 1)."),
            (half_sum(mu ** 2 + std - logvar - 1.0),
             "uses the standard deviation exp(logvar / 2) where the variance sigma^2 = exp(logvar) "
             "belongs."),
            (half_sum(mu ** 2 + np.exp(2.0 * logvar) - 2.0 * logvar - 1.0),
             "treats logvar as log sigma; it is log sigma^2, so sigma^2 = exp(logvar) and "
             "log sigma^2 = logvar itself."),
            (half_sum(mu ** 2 + variance - 0.5 * logvar - 1.0),
             "halves the log term: log sigma^2 is logvar itself, not logvar / 2."),
            (expected / k, "is the mean over the latent coordinates; the divergence adds them up "
                           "(np.sum, not np.mean)."),
            (half_sum(variance - logvar - 1.0),
             "leaves out mu^2: moving the mean away from 0 must cost something too."),
            (half_sum(mu + variance - logvar - 1.0), "adds mu where mu^2 belongs."),
            (half_sum(mu ** 2 + variance + logvar - 1.0),
             "adds logvar; the term is - log sigma^2 = - logvar."),
            (half_sum(mu ** 2 + variance - 1.0), "leaves out the term - log sigma^2 = - logvar."),
            (expected + 0.5 * (k - 1),
             "subtracts 1 once per sample; the - 1 is inside the sum, once for each of the k latent "
             "coordinates."),
            (half_sum(mu ** 2 + variance - logvar), "leaves out the - 1 inside the sum: the "
                                                    "divergence of the prior from itself must be 0."),
            (half_sum(mu ** 2), "leaves out every term with logvar: sigma^2 - log sigma^2 - 1."),
        ] + [(half_sum(_kl_terms(mu[:, :j], logvar[:, :j])),
              f"adds up only the first {j} latent coordinate(s) of {k}: sum over all of them, "
              "whatever k is (np.sum(..., axis=1)).") for j in range(1, k)], what)
        scale = 0.5 * np.sum(mu * mu + variance + np.abs(logvar) + 1.0, axis=1)
        array = as_numbers(actual)
        if array is not None and array.shape == expected.shape and np.all(
                np.abs(array - expected) <= KL_RTOL * scale):
            continue
        if array is not None and array.shape == expected.shape and np.all(
                np.abs(array - expected) <= 1e-4 * scale) and number_signs(kl_divergence_fn)["float32"]:
            raise CheckFailed(
                f"{what}: agrees with (4) to only about 7 significant digits, and your code computes "
                f"with float32 ({number_signs(kl_divergence_fn)['float32']}); this exercise computes in "
                "float64 (16 digits). Keep every array float64: do not convert to float32.")
        # Not within the tolerance: expect_close names the type, the shape, float32 or the values.
        expect_close(actual, expected, what, rtol=KL_RTOL, atol=0.0,
                     hint="Per sample, KL = 1/2 * sum_u (mu_u^2 + exp(logvar_u) - logvar_u - 1), "
                          "with u running over the latent coordinates (axis=1).")
    passed("kl_divergence(mu, logvar) matches equation (4) on 5 sets of shapes and values, "
           "from the prior itself to logvar = +-30.")


# ---------------------------------------------------------------------------------------------
# Exercise 3.2: the gradient through z = mu + exp(logvar / 2) * eps.

def _reparametrization_cases():
    """(what, dZ, eps, logvar): ordinary values, one sample with one coordinate, and extremes
    (logvar = +-30 and 0, eps = 0, dZ = 0 and 1000)."""
    rng = np.random.default_rng(4)
    return [
        ("dZ, eps, logvar of shape (5, 2)", rng.normal(size=(5, 2)), rng.normal(size=(5, 2)),
         rng.normal(scale=1.2, size=(5, 2))),
        ("1 sample with 1 latent coordinate", np.array([[0.7]]), np.array([[-1.3]]), np.array([[-2.0]])),
        ("3 samples with 4 coordinates, logvar from -30 to 30",
         np.array([[1.0, -2.0, 0.0, 1e3], [0.5, 0.5, -0.5, 0.25], [-1.0, 2.0, 3.0, -4.0]]),
         np.array([[1.5, 0.0, 2.0, -0.5], [-3.0, 1.0, 1.0, 0.0], [0.3, -0.7, 1.1, 2.2]]),
         np.array([[30.0, -30.0, 0.0, 1.0], [-30.0, 30.0, 0.5, -0.5], [0.0, 0.0, 0.0, 0.0]])),
    ]


REPARAMETRIZATION_DERIVATIVE = "d/dlogvar exp(logvar / 2) = exp(logvar / 2) / 2."
# No formula of Exercises 3.2 and 3.5 adds a constant to dZ, eps or mu; logvar may be shifted
# by a logarithm (exp((logvar - log 4) / 2) = sigma / 2), never by less than 1.
SHIFTS_OF_THE_LATENT_INPUTS = {"dZ": np.inf, "eps": np.inf, "mu": np.inf, "logvar": 1.0}


def check_reparametrization_grads(reparametrization_grads_fn):
    """Exercise 3.2: ``reparametrization_grads_fn(dZ, eps, logvar)`` must return (dmu, dlogvar).

    For z = mu + exp(logvar / 2) * eps and dZ = dL/dz, all float64 (n_samples, n_latent), logvar
    from -30 to 30: dmu = dL/dmu and dlogvar = dL/dlogvar, the parts that reach mu and logvar
    through z (equation (9)). An exact computation, held to rounding.
    """
    name = "reparametrization_grads"
    for what, dZ, eps, logvar in _reparametrization_cases():
        log, arrays = traced(dZ=dZ, eps=eps, logvar=logvar)
        result = call(reparametrization_grads_fn, arrays["dZ"], arrays["eps"], arrays["logvar"], name=name,
                      on_error=f"dZ, eps and logvar have shape {dZ.shape}; so do dmu and dlogvar.")
        _no_complex_step(reparametrization_grads_fn, log, name, REPARAMETRIZATION_DERIVATIVE)
        _no_nudges(log, name, REPARAMETRIZATION_DERIVATIVE, shifted=SHIFTS_OF_THE_LATENT_INPUTS)
        dmu, dlogvar = _pair(result, name, "(dmu, dlogvar)")
        std, variance = np.exp(0.5 * logvar), np.exp(logvar)
        expected_dlogvar = 0.5 * dZ * eps * std
        what = f"for {what}"
        if _same(as_numbers(dmu), expected_dlogvar) and _same(as_numbers(dlogvar), dZ) \
                and not _same(dZ, expected_dlogvar):
            raise CheckFailed(f"{name} {what} returned (dlogvar, dmu); return (dmu, dlogvar), in "
                              "this order.")
        _name_slip(dmu, dZ, [
            (dZ * eps, "multiplies dZ by eps; z = mu + sigma * eps depends on mu with slope 1, so "
                       "dL/dmu is dZ itself. eps and sigma only multiply the logvar path."),
            (dZ * std, "multiplies dZ by sigma; z depends on mu with slope 1, so dL/dmu is dZ itself."),
            (dZ * eps * std, "multiplies dZ by sigma * eps; z depends on mu with slope 1, so dL/dmu "
                             "is dZ itself."),
            (-dZ, "has the wrong sign: z = mu + sigma * eps grows with mu, so dL/dmu = + dZ."),
        ], f"dmu {what}")
        _float32_inside(reparametrization_grads_fn, log, f"dmu {what}", dmu, dZ, np.abs(dZ))
        expect_exact(dmu, dZ, f"dmu {what}", scale=np.abs(dZ), hint="dz/dmu = 1 in every coordinate.")
        _name_slip(dlogvar, expected_dlogvar, [
            (dZ * eps * std, "is missing the factor 1/2: d/dlogvar exp(logvar / 2) = "
                             "1/2 * exp(logvar / 2)."),
            (0.5 * dZ * eps * variance, "uses exp(logvar), the variance; z is built from the "
                                        "standard deviation exp(logvar / 2)."),
            (dZ * eps * variance, "uses exp(logvar), the variance, and misses the 1/2; z is "
                                  "built from sigma = exp(logvar / 2), and dsigma/dlogvar = sigma / 2."),
            (0.5 * dZ * std, "is missing eps: the noise multiplies sigma in z = mu + sigma * eps."),
            (0.5 * dZ * eps, "is missing sigma = exp(logvar / 2): the derivative of exp brings it back."),
            (dZ * eps, "is dL/dsigma, the gradient with respect to sigma; chain it on to logvar "
                       "with dsigma/dlogvar = sigma / 2."),
            (-expected_dlogvar, "has the wrong sign: dz/dlogvar = + sigma * eps / 2."),
            (expected_dlogvar + 0.5 * (variance - 1.0),
             "adds the KL term's gradient (sigma^2 - 1) / 2; this exercise asks only for the path "
             "through z (the KL term does not pass through z)."),
        ], f"dlogvar {what}")
        _float32_inside(reparametrization_grads_fn, log, f"dlogvar {what}", dlogvar, expected_dlogvar,
                        np.abs(expected_dlogvar))
        expect_exact(dlogvar, expected_dlogvar, f"dlogvar {what}", scale=np.abs(expected_dlogvar),
                     hint="Chain rule: dL/dlogvar = dZ * dz/dlogvar, with z = mu + exp(logvar / 2) * eps.")
    passed("dmu = dZ and dlogvar = dZ * eps * exp(logvar / 2) / 2 on 3 sets of shapes and values, "
           "logvar from -30 to 30.")


# ---------------------------------------------------------------------------------------------
# Exercise 3.5: the encoder's output error Delta of equation (12).

def _encoder_output_error(dZ, mu, logvar, eps, beta):
    # Equations (11) and (12) of the VAE chapter: [dL/dmu, dL/dlogvar], side by side, and the
    # size of the terms summed in each entry (what rounding is measured against).
    n_samples = len(dZ)
    variance, std = np.exp(logvar), np.exp(0.5 * logvar)
    weight = beta / n_samples
    value = np.hstack([dZ + weight * mu, 0.5 * dZ * eps * std + weight * 0.5 * (variance - 1.0)])
    scale = np.hstack([np.abs(dZ) + weight * np.abs(mu),
                       0.5 * np.abs(dZ * eps) * std + weight * 0.5 * (variance + 1.0)])
    return value, scale


def _encoder_output_slips(dZ, mu, logvar, eps, beta):
    """(wrong Delta, what it does) for the usual mistakes of equations (11)-(12)."""
    n_samples, n_latent = dZ.shape
    variance, std = np.exp(logvar), np.exp(0.5 * logvar)
    weight = beta / n_samples
    expected, _ = _encoder_output_error(dZ, mu, logvar, eps, beta)
    through_z = np.hstack([dZ, 0.5 * dZ * eps * std])
    kl = np.hstack([mu, 0.5 * (variance - 1.0)])
    return [
        (np.hstack([dZ + weight * mu, dZ * eps * std + weight * 0.5 * (variance - 1.0)]),
         "misses the 1/2 of the reparametrization path: dz/dlogvar = sigma * eps / 2."),
        (np.hstack([dZ + weight * mu, 0.5 * dZ * eps * std + weight * (variance - 1.0)]),
         "misses the 1/2 of the KL term's logvar gradient: dKL/dlogvar = (sigma^2 - 1) / 2."),
        (np.hstack([dZ + weight * mu, 0.5 * dZ * eps * variance + weight * 0.5 * (variance - 1.0)]),
         "uses the variance exp(logvar) in the path through z; z = mu + sigma * eps is built "
         "from the standard deviation sigma = exp(logvar / 2)."),
        (through_z + kl / n_samples, "forgets beta on the KL term: its gradient is weighted by beta / n."),
        (through_z + beta * kl,
         "weights the KL term by beta, not beta / n: the loss (6) averages over the batch, and dZ "
         "already carries its 1/n."),
        (through_z + weight * kl / n_latent,
         "divides the KL term's weight by n * k; the loss (6) averages over the n samples only."),
        (through_z / n_samples + weight * kl,
         "divides dZ by n again: dZ comes from the decoder's backward pass and already carries the "
         "1/n of the batch mean."),
        (through_z + beta / n_latent * kl,
         "weights the KL term by beta / k, k = dZ.shape[1] the number of latent coordinates; the "
         "loss (6) averages over the n = len(dZ) = dZ.shape[0] samples: beta / n."),
        (through_z + weight * np.hstack([mu, 0.5 * (std - 1.0)]),
         "uses sigma where sigma^2 belongs in the KL term's logvar gradient: dKL/dlogvar = "
         "(exp(logvar) - 1) / 2 = (sigma^2 - 1) / 2."),
        (through_z + weight * np.hstack([2.0 * mu, 0.5 * (variance - 1.0)]),
         "has 2 * mu for dKL/dmu; the 1/2 in front of the KL divergence (4) cancels the 2 of "
         "d(mu^2)/dmu: dKL/dmu = mu."),
        (through_z, "leaves out the KL term's gradient (10), weighted by beta / n."),
        (through_z - weight * kl, "has the KL gradient with the wrong sign: dKL/dmu = + mu, "
                                  "which pulls the means towards 0 in a descent step."),
        (weight * kl - through_z, "has the path through z with the wrong sign: dz/dmu = + 1."),
        (np.hstack([dZ + weight * mu, weight * 0.5 * (variance - 1.0)]),
         "drops the path through z for logvar: sigma * eps depends on logvar, so dZ reaches it too."),
        (np.hstack([dZ + weight * mu, 0.5 * dZ * std + weight * 0.5 * (variance - 1.0)]),
         "drops eps from the logvar path: z = mu + sigma * eps, so dz/dlogvar = sigma * eps / 2."),
        (np.hstack([weight * mu, 0.5 * dZ * eps * std + weight * 0.5 * (variance - 1.0)]),
         "drops dZ from dL/dmu: z depends on mu with slope 1, so dZ reaches mu unchanged."),
        (weight * kl, "has the KL term alone: dZ must reach mu and logvar through z too."),
        (np.hstack([expected[:, n_latent:], expected[:, :n_latent]]),
         "has the halves swapped: the encoder outputs mu first, then logvar."),
        (np.stack([expected[:, :n_latent], expected[:, n_latent:]], axis=2).reshape(n_samples, -1),
         "interleaves the columns of dL/dmu and dL/dlogvar; put all k columns of dL/dmu first, "
         "then the k of dL/dlogvar (np.hstack)."),
    ]


ENCODER_OUTPUT_DERIVATIVES = ("dz/dmu = 1, dz/dlogvar = sigma * eps / 2 (9), dKL/dmu = mu and "
                              "dKL/dlogvar = (sigma^2 - 1) / 2 (10).")


def _encoder_output_cases():
    """(what, dZ, mu, logvar, eps, beta): several shapes and values of beta, beta = 0 among them,
    and the extremes of logvar."""
    rng = np.random.default_rng(7)
    normal = lambda *shape: rng.normal(size=shape)  # noqa: E731
    return [
        ("5 samples with 2 latent coordinates, beta = 2.5",
         normal(5, 2), normal(5, 2), rng.normal(scale=1.2, size=(5, 2)), normal(5, 2), 2.5),
        ("4 samples with 3 latent coordinates, beta = 0.3",
         normal(4, 3), normal(4, 3), rng.normal(scale=1.2, size=(4, 3)), normal(4, 3), 0.3),
        ("8 samples with 1 latent coordinate, beta = 0", normal(8, 1), normal(8, 1), normal(8, 1),
         normal(8, 1), 0.0),
        ("1 sample with 1 latent coordinate, beta = 1",
         np.array([[0.4]]), np.array([[-1.2]]), np.array([[-1.5]]), np.array([[0.8]]), 1.0),
        ("3 samples with 2 coordinates, logvar from -30 to 30, beta = 100",
         np.array([[0.5, -1e3], [0.0, 2.0], [1.0, -1.0]]), np.array([[3.0, 0.0], [-2.0, 1e3], [0.0, 0.5]]),
         np.array([[30.0, -30.0], [-30.0, 30.0], [0.0, 1.0]]), np.array([[1.0, 2.0], [0.0, -1.0], [-0.5, 0.0]]),
         100.0),
    ]


def _vae_at_work(seed=6):
    """A small VAE with its logvar well away from 0, a batch, its eps and beta, and aelib's dZ
    and gradients."""
    rng = np.random.default_rng(seed)
    X = (rng.random((6, 12)) < 0.4).astype(np.float64)
    vae = VAE([12, 5, 2], seed=seed)
    # At initialisation logvar is near 0, where the KL gradient (sigma^2 - 1) / 2 vanishes and
    # hides mistakes in it; a bias of -1.5 moves sigma to about 0.5.
    vae.encoder.params[-1][2:] -= 1.5
    eps = rng.standard_normal((6, 2))
    beta = 2.5
    mu, logvar = vae.encode(X)
    X_hat = vae.decoder.forward(mu + np.exp(0.5 * logvar) * eps)
    dZ = vae.decoder.backward_from_preactivation((X_hat - X) / len(X))
    _, grads = vae.loss_and_grads(X, eps, beta=beta)
    return X, dZ, mu, logvar, eps, beta, grads


def check_encoder_output_error(encoder_output_error_fn):
    """Exercise 3.5: ``encoder_output_error_fn(dZ, mu, logvar, eps, beta)`` returns the error
    Delta = [dL/dmu, dL/dlogvar] of equation (12): float64 (n_samples, 2 * n_latent).

    dZ = dL/dZ from the decoder's backward pass (it already carries the 1/n of the batch mean);
    dZ, mu, logvar, eps: float64 (n_samples, n_latent); beta >= 0: the KL weight. An exact
    computation, held to rounding on several shapes and values of beta (0 among them) and on a
    small VAE, where the column sums must equal aelib's gradient of the encoder's last bias.
    """
    name = "encoder_output_error"
    for what, dZ, mu, logvar, eps, beta in _encoder_output_cases():
        n_samples, n_latent = dZ.shape
        what = f"{name}(dZ, mu, logvar, eps, beta) for {what}"
        log, arrays = traced(dZ=dZ, mu=mu, logvar=logvar, eps=eps)
        result = call(encoder_output_error_fn, *arrays.values(), beta,
                      name=name, on_error=f"dZ, mu, logvar and eps have shape {dZ.shape}; Delta has "
                                          f"shape ({n_samples}, {2 * n_latent}).")
        _no_complex_step(encoder_output_error_fn, log, name, ENCODER_OUTPUT_DERIVATIVES)
        _no_nudges(log, name, ENCODER_OUTPUT_DERIVATIVES, shifted=SHIFTS_OF_THE_LATENT_INPUTS)
        if isinstance(result, (tuple, list)) and len(result) == 2:
            raise CheckFailed(f"{what}: got two arrays; Delta is one (n, 2k) array, dL/dmu and "
                              "dL/dlogvar side by side, as the encoder's last layer outputs mu and "
                              "logvar: np.hstack.")
        expected, scale = _encoder_output_error(dZ, mu, logvar, eps, beta)
        array = as_numbers(result)
        if array is not None and array.shape == (2 * n_samples, n_latent):
            raise CheckFailed(f"{what}: got shape {array.shape}, dL/dmu above dL/dlogvar (np.vstack); "
                              "Delta puts them side by side, shape (n, 2k): np.hstack.")
        _name_slip(result, expected, _encoder_output_slips(dZ, mu, logvar, eps, beta), what,
                   subject="your Delta")
        _float32_inside(encoder_output_error_fn, log, what, result, expected, scale)
        expect_exact(result, expected, what, scale=scale,
                     hint="Delta = [dZ + beta/n * mu, dZ * eps * sigma / 2 + beta/n * (sigma^2 - 1) / 2], "
                          "with sigma = exp(logvar / 2) and n = len(dZ): equations (11) and (12).")

    X, dZ, mu, logvar, eps, beta, grads = _vae_at_work()
    log, arrays = traced(dZ=dZ, mu=mu, logvar=logvar, eps=eps)
    result = call(encoder_output_error_fn, *arrays.values(), beta, name=name)
    _no_complex_step(encoder_output_error_fn, log, name, ENCODER_OUTPUT_DERIVATIVES)
    _no_nudges(log, name, ENCODER_OUTPUT_DERIVATIVES, shifted=SHIFTS_OF_THE_LATENT_INPUTS)
    what = f"{name} on a VAE([12, 5, 2]) with a batch of {len(X)}, beta = {beta}"
    expected, scale = _encoder_output_error(dZ, mu, logvar, eps, beta)
    _name_slip(result, expected, _encoder_output_slips(dZ, mu, logvar, eps, beta), what,
               subject="your Delta")
    _float32_inside(encoder_output_error_fn, log, what, result, expected, scale)
    expect_exact(result, expected, what, scale=scale)
    expect_exact(np.sum(as_numbers(result), axis=0), grads[3],
                 f"{what}: its column sums against aelib's gradient of the encoder's last bias",
                 scale=np.sum(scale, axis=0),
                 hint="The last bias of the encoder receives Delta's column sums.")
    passed("Delta matches equations (11)-(12) on 5 sets of shapes and values of beta, and the "
           "gradient of aelib's VAE.")


# ---------------------------------------------------------------------------------------------
# Exercise 3.4: a slice z3 = const of a 3-D latent space.

def check_decode_slice(decode_slice_fn):
    """Exercise 3.4: ``decode_slice_fn(vae, z3)`` must return a function decode(Z) for a 3-D latent VAE.

    decode(Z) with Z: float64 (m, 2), any m >= 1, must equal vae.decode of the codes
    [z1, z2, z3], shape (m, n_features), for any number z3 and any VAE with 3 latent coordinates
    (a continuous Bernoulli one among them, whose vae.mean is not vae.decode). Each returned
    function keeps its own z3 and its own vae.
    """
    name = "decode_slice"
    rng = np.random.default_rng(5)
    # Three models of different widths, so that a hard-coded 144 or a global model shows, one of
    # them a continuous Bernoulli VAE, whose mean (vae.mean) is not its pixel parameters
    # (vae.decode); several values of z3 (0 and an int among them) and of m (1 and a 9 x 9 grid
    # among them).
    vaes = {(144, 8, 3): VAE([144, 8, 3], seed=1), (35, 6, 3): VAE([35, 6, 3], seed=2),
            (20, 5, 3): VAE([20, 5, 3], seed=3, likelihood="continuous-bernoulli")}
    for vae in vaes.values():
        # Output biases spread from about -10 to 10, so that pixel probabilities reach 1e-4 and
        # 1 - 1e-4, as a trained model's do: an answer that clips or rounds them shows.
        vae.decoder.params[-1][...] = rng.normal(0.0, 5.0, vae.n_features)
    cases = [((144, 8, 3), -1.5, rng.normal(size=(6, 2))), ((35, 6, 3), 0.7, rng.normal(size=(81, 2))),
             ((144, 8, 3), 0.0, rng.normal(size=(1, 2))), ((35, 6, 3), 2, 3.0 * rng.normal(size=(4, 2))),
             ((20, 5, 3), -0.4, rng.normal(size=(5, 2)))]
    # The slice z3 = 0 is made and decoded first: an answer that keeps one z3 per model (an
    # attribute of the model) decodes it with that model's other z3, -1.5, so that the shared
    # value is named as such, not as "z3 = 0 whatever z3 is".
    cases = [cases[2], cases[0], cases[4], cases[1], cases[3]]
    allowed = (VAE, MLP)  # the model handed over and its two networks
    decoders = []
    for sizes, z3, Z in cases:
        vae = vaes[sizes]
        decode = call(decode_slice_fn, vae, z3, name=name, allowed=allowed)
        if not callable(decode):
            raise CheckFailed(
                f"{name}(vae, z3={z3}) must return a function that decodes 2-D codes, "
                f"got {type(decode).__name__}.")
        decoders.append((sizes, z3, Z, decode))
    # Every function is called after all of them were made: each must keep its own vae and z3.
    for sizes, z3, Z, decode in decoders:
        vae = vaes[sizes]
        shown = f"{name}(VAE({list(sizes)}), z3={z3})"
        actual = call(decode, Z.copy(), name=f"the function returned by {shown}", allowed=allowed,
                      on_error=f"Z has shape {Z.shape}; decode the codes of shape ({len(Z)}, 3).")
        codes = np.column_stack([Z, np.full(len(Z), float(z3))])
        expected = vae.decode(codes)
        what = f"{shown}(Z) for Z of shape {Z.shape}"
        if len(decoders) > 1:
            what += ", called after the other slices were made"
        array = as_numbers(actual)
        z3_values = [z3] + sorted({other for _, other, _, _ in decoders} - {z3})
        for other in vaes.values():
            for other_z3 in z3_values if other is not vae and array is not None else ():
                if _same(array, other.decode(np.column_stack([Z, np.full(len(Z), float(other_z3))]))):
                    raise CheckFailed(
                        f"{what}: it decodes with the VAE of another call, {other!r}, not the one it was "
                        "made with" + ("" if other_z3 == z3 else f", and the z3 of another call, {other_z3}")
                        + ". Each function must keep its own vae and z3 (a closure: def decode(Z) inside "
                        "decode_slice), not a global or a value shared between calls.")
        if array is not None and array.shape == expected.shape and not _same(array, expected):
            slips = [
                (vae.mean(codes),
                 f"decodes with vae.mean, the mean of p(x | z). For this {vae!r} that is not what "
                 "vae.decode gives, the pixel parameters x_hat (only for a Bernoulli VAE are they the "
                 "same): decode with vae.decode."),
                (vae.decode(np.column_stack([np.full(len(Z), float(z3)), Z])),
                 "puts z3 first; the fixed coordinate is the third, codes are [z1, z2, z3]."),
                (vae.decode(np.column_stack([Z[:, :1], np.full(len(Z), float(z3)), Z[:, 1:]])),
                 "puts z3 in the middle; the fixed coordinate is the third, codes are [z1, z2, z3]."),
                (vae.decode(np.column_stack([Z, np.zeros(len(Z))])),
                 "decodes the slice z3 = 0 whatever z3 is: use the z3 passed in."),
                ((expected > 0.5).astype(np.float64),
                 "rounds the pixels; return the decoder's probabilities, as vae.decode does."),
                (np.clip(expected, array.min(), array.max()),
                 f"clips the probabilities to [{array.min():.3g}, {array.max():.3g}]; return them as "
                 "vae.decode gives them."),
                (vae.decode(np.column_stack([Z, np.full(len(Z), float(int(z3)))])),
                 "drops the fraction of z3 (an integer array?): the codes are floats, keep z3 as it is."),
            ]
            for value, explanation in slips:
                if _same(array, value) and not _same(expected, value):
                    raise CheckFailed(f"{what}: your function {explanation}")
            for other_z3 in sorted({other for _, other, _, _ in decoders} - {z3}):
                if _same(array, vae.decode(np.column_stack([Z, np.full(len(Z), float(other_z3))]))):
                    raise CheckFailed(
                        f"{what}: it decodes the slice z3 = {other_z3}, the z3 of another call. Each "
                        "function must keep the z3 it was made with (a closure: def decode(Z) inside "
                        "decode_slice), not a global or a value shared between calls.")
        if (array is not None and array.shape == expected.shape
                and not np.allclose(array, expected, rtol=1e-12, atol=0.0)):
            # Codes rounded to float32 change the probabilities in their 8th digit: named here,
            # since the slips above are told apart to 6 digits only.
            for rounded, explanation in [
                    (codes.astype(np.float32).astype(np.float64), "rounds the codes to float32"),
                    (np.column_stack([Z, np.full(len(Z), np.float32(z3), dtype=np.float64)]),
                     "rounds z3 to float32")]:
                if np.allclose(array, vae.decode(rounded), rtol=1e-13, atol=0.0):
                    raise CheckFailed(f"{what}: your function {explanation}, which keeps about 7 significant "
                                      "digits; the codes are float64 (16 digits): keep them float64.")
        expect_close(actual, expected, what, rtol=1e-12, atol=0.0,
                     hint="Append a column filled with z3 to Z (np.column_stack) and decode with vae.decode.")
    passed("decode_slice(vae, z3) decodes the plane z3 = const of a 3-D latent space, for three "
           "models (one a continuous Bernoulli VAE) and five values of z3.")


# ---------------------------------------------------------------------------------------------
# Exercise 3.6: the whole backward pass of the VAE.

VAE_GRADIENT_NAMES = ["dW1", "db1", "dW2", "db2", "dW3", "db3", "dW4", "db4"]
CACHE_KEYS = ("X", "A1", "H1", "mu", "logvar", "eps", "Z", "A3", "H3", "X_hat")
# (layer, its input in the cache, its weight) for the four layers: encoder 1, 2; decoder 3, 4.
LAYERS = ((1, "X", "W1"), (2, "H1", "W2"), (3, "Z", "W3"), (4, "H3", "W4"))


def _vae_backward_problem(sizes, n_samples, beta, grey, seed):
    """A VAE(sizes) (tanh hidden layers) at a batch X with fixed eps: (vae, cache, params, beta).

    Every bias is moved away from zero and logvar well below 0 (sigma about 0.5), so that no
    unit sits at a special point and the KL gradient (sigma^2 - 1) / 2 does not vanish. With
    ``grey`` a third of the pixels of X are grey levels, as the loss allows.
    """
    rng = np.random.default_rng(seed)
    vae = VAE(sizes, seed=seed)
    n_latent = sizes[-1]
    for b in vae.params[1::2]:
        b[...] = rng.normal(0.0, 0.5, b.shape)
    vae.encoder.params[-1][n_latent:] -= 1.5
    X = (rng.random((n_samples, sizes[0])) < 0.4).astype(np.float64)
    if grey:
        X = np.where(rng.random(X.shape) < 1 / 3, rng.random(X.shape), X)
    eps = rng.standard_normal((n_samples, n_latent))
    W1, b1, W2, b2, W3, b3, W4, b4 = (np.array(param) for param in vae.params)
    A1 = X @ W1 + b1
    H1 = np.tanh(A1)
    out = H1 @ W2 + b2
    mu, logvar = out[:, :n_latent].copy(), out[:, n_latent:].copy()
    Z = mu + np.exp(0.5 * logvar) * eps
    A3 = Z @ W3 + b3
    H3 = np.tanh(A3)
    X_hat = 0.5 * (1.0 + np.tanh(0.5 * (H3 @ W4 + b4)))  # aelib's sigmoid, to the last bit
    cache = dict(zip(CACHE_KEYS, (X, A1, H1, mu, logvar, eps, Z, A3, H3, X_hat)))
    return vae, cache, [W1, b1, W2, b2, W3, b3, W4, b4], beta


def _deltas_and_scales(cache, params, beta):
    """The right errors of the four layers and, for each gradient, the size of the terms summed
    in each entry (absolute values carried through the same products)."""
    W1, b1, W2, b2, W3, b3, W4, b4 = params
    X, H1, H3, mu, logvar, eps = (cache[key] for key in ("X", "H1", "H3", "mu", "logvar", "eps"))
    n_samples = len(X)
    deltas, sizes = {}, {}
    deltas[4] = (cache["X_hat"] - X) / n_samples
    sizes[4] = (np.abs(cache["X_hat"]) + np.abs(X)) / n_samples
    deltas[3] = (deltas[4] @ W4.T) * (1.0 - H3 ** 2)
    sizes[3] = (sizes[4] @ np.abs(W4).T) * (1.0 + H3 ** 2)
    dZ = deltas[3] @ W3.T
    deltas[2], _ = _encoder_output_error(dZ, mu, logvar, eps, beta)
    _, sizes[2] = _encoder_output_error(sizes[3] @ np.abs(W3).T, np.abs(mu), logvar, np.abs(eps), beta)
    deltas[1] = (deltas[2] @ W2.T) * (1.0 - H1 ** 2)
    sizes[1] = (sizes[2] @ np.abs(W2).T) * (1.0 + H1 ** 2)
    inputs = {1: np.abs(X), 2: np.abs(H1), 3: np.abs(mu) + np.exp(0.5 * logvar) * np.abs(eps), 4: np.abs(H3)}
    scales = []
    for layer in (1, 2, 3, 4):
        scales += [inputs[layer].T @ sizes[layer], sizes[layer].sum(axis=0)]
    return deltas, dZ, scales


def _exactly(array, expected, scale):
    array = as_numbers(array)
    return (array is not None and array.shape == expected.shape
            and bool(np.all(np.abs(array - expected) <= 1e-13 * scale + np.finfo(np.float64).tiny)))


def _tanh_slips(layer, dH, A, H, other_layer, H_other):
    """The usual wrong versions of Delta{layer} = dH * (1 - H**2) of a tanh layer (the other
    hidden layer's H_other, of the same shape when encoder and decoder are equally wide)."""
    slips = [] if H_other.shape != H.shape else [
        (dH * (1.0 - H_other ** 2), f"took tanh's derivative from H{other_layer}, the other hidden "
                                    f"layer's output; Delta{layer} needs 1 - H{layer}**2")]
    return slips + [
        (dH, f"forgot the derivative of tanh: Delta{layer} = (Delta{layer + 1} @ W{layer + 1}.T) "
             f"* (1 - H{layer}**2), not the product alone"),
        (dH * (1.0 - A ** 2), f"used the pre-activation A{layer} in 1 - H**2; that formula takes "
                              f"the post-activation H{layer} = tanh(A{layer})"),
        (dH * (1.0 - np.tanh(H) ** 2), f"took tanh of the post-activation H{layer}: tanh'(A{layer}) "
                                       f"= 1 - H{layer}**2, so H{layer} is already the tanh"),
        (dH * H * (1.0 - H), f"used the sigmoid's derivative H * (1 - H) for layer {layer}, whose "
                             f"activation is tanh: use 1 - H{layer}**2"),
        (dH * (1.0 - H), f"used 1 - H{layer} as tanh's derivative; it is 1 - H{layer}**2"),
    ]


def _likely_deltas(layer, cache, params, deltas, dZ, beta):
    """(wrong Delta{layer}, what was done), each computed from the right Delta of the layer above."""
    X, X_hat, n_samples = cache["X"], cache["X_hat"], len(cache["X"])
    if layer == 4:
        d = X.shape[1]
        return [
            (X_hat - X, "left out the 1/n of the batch mean (6): Delta4 = (X_hat - X) / n"),
            ((X_hat - X) / (n_samples * d),
             "divided by n * d; the VAE's loss (6) sums the cross-entropy over the d pixels "
             "(BCE_Sigma) and averages over the n samples only: Delta4 = (X_hat - X) / n"),
            ((X - X_hat) / n_samples, "took X - X_hat; Delta4 = dL/dA4 = (X_hat - X) / n (7)"),
            ((X_hat - X) / n_samples * X_hat * (1.0 - X_hat),
             "multiplied by the sigmoid's derivative; (7) has it already: with the cross-entropy "
             "it cancels, and Delta4 = (X_hat - X) / n"),
            ((X_hat - np.round(X)) / n_samples, "rounded the targets X: the cross-entropy's "
             "gradient (X_hat - X) / n holds for grey pixels, 0 < x < 1, too"),
            (np.where(X == 1.0, X_hat - 1.0, X_hat) / n_samples, "wrote Delta4 for pixels that are 0 "
             "or 1 only: the cross-entropy's gradient (X_hat - X) / n holds for grey pixels too"),
            ((X_hat - X) / (X_hat * (1.0 - X_hat)) / n_samples,
             "took dL/dX_hat for Delta4; chain it through the sigmoid, whose derivative "
             "X_hat * (1 - X_hat) cancels the denominator: Delta4 = (X_hat - X) / n (7)"),
        ]
    W_above = params[2 * layer]
    dH = deltas[layer + 1] @ W_above.T
    if layer == 3:
        return _tanh_slips(3, dH, cache["A3"], cache["H3"], 1, cache["H1"])
    if layer == 1:
        return _tanh_slips(1, dH, cache["A1"], cache["H1"], 3, cache["H3"])
    mu, logvar, eps, Z = cache["mu"], cache["logvar"], cache["eps"], cache["Z"]
    slips = [(delta, "computed Delta2 = [dL/dmu, dL/dlogvar] wrongly: it " + what)
             for delta, what in _encoder_output_slips(dZ, mu, logvar, eps, beta)]
    slips.append((_encoder_output_error(dZ * (1.0 - Z ** 2), mu, logvar, eps, beta)[0],
                  "multiplied dZ by 1 - Z**2; no activation acts on Z (it is the decoder's input), "
                  "so dZ = Delta3 @ W3.T (8)"))
    return [(delta, what.rstrip(".")) for delta, what in slips]


def _diagnose(index, array, cache, params, deltas, dZ, beta, expected):
    """A message naming the mistake behind a wrong gradient, or None if it is not recognised."""
    layer = index // 2 + 1
    name = VAE_GRADIENT_NAMES[index]
    input_name = {1: "X", 2: "H1", 3: "Z", 4: "H3"}[layer]
    H_in = cache[input_name]
    delta = deltas[layer]
    array = as_numbers(array)
    shape = None if array is None else array.shape
    if index % 2 == 0:  # a weight gradient
        fan_in, fan_out = expected.shape
        if shape == (fan_out, fan_in) and fan_in != fan_out and _same(array.T, expected):
            return (f"{name} is transposed: it has shape {shape}, W{layer} has shape {expected.shape}. "
                    f"Use {input_name}.T @ Delta{layer}.")
        if layer == 3 and _same(array, cache["mu"].T @ delta):
            return ("dW3 used mu as the decoder's input; the decoder decodes the drawn code "
                    "Z = mu + sigma * eps: dW3 = Z.T @ Delta3.")
        if layer in (2, 4) and _same(array, cache[f"A{layer - 1}"].T @ delta):
            return (f"{name} used the pre-activation A{layer - 1} as the layer's input; the input of "
                    f"layer {layer} is the post-activation H{layer - 1} = tanh(A{layer - 1}): "
                    f"{input_name}.T @ Delta{layer}.")
        for wrong, what in _likely_deltas(layer, cache, params, deltas, dZ, beta):
            if not _same(wrong, delta) and _same(array, H_in.T @ wrong):
                return f"{name} is wrong: you {what}."
        return None
    # a bias gradient
    if shape == (1, expected.shape[0]):
        return (f"{name} has shape {shape}; a bias gradient has the bias's shape {expected.shape}: "
                f"sum Delta{layer} over the samples without keepdims (np.sum(Delta{layer}, axis=0)).")
    if shape == (len(delta),) and len(delta) != expected.shape[0]:
        return (f"{name} has shape {shape}, one entry per sample; it needs one per unit, "
                f"{expected.shape}. Sum Delta{layer} over the samples (the rows): axis=0.")
    if _same(array, delta.mean(axis=0)):
        return (f"{name} is the mean of Delta{layer}'s rows; it must be their sum. Every sample adds "
                "its own term, and the 1/n of the mean loss is already inside Delta4.")
    for wrong, what in _likely_deltas(layer, cache, params, deltas, dZ, beta):
        if not _same(wrong, delta) and _same(array, wrong.sum(axis=0)):
            return f"{name} is wrong: you {what}."
    return None


# The arrays that no formula of the backward pass shifts by a constant (the weights, mu, eps, Z)
# or by a constant below 1 (A1, A3, logvar; 1 - H**2 and (1 - H) * (1 + H) shift the H's by 1):
# a stencil on them, with a step too large to count as a nudge, shows as such a shift.
SHIFTLESS = {**{name: np.inf for name in ("mu", "eps", "Z", "W1", "b1", "W2", "b2", "W3", "b3", "W4", "b4")},
             "A1": 1.0, "A3": 1.0, "logvar": 1.0}
VAE_DERIVATIVES = ("tanh'(A) = 1 - H**2, the sigmoid and the cross-entropy together give (7), and "
                   "(9)-(10) give the reparametrization and the KL term.")


def check_vae_backward(vae_backward_fn):
    """Exercise 3.6: ``vae_backward_fn(cache, params, beta)`` -> [dW1, db1, dW2, db2, dW3, db3, dW4, db4].

    For a VAE([d, h, k]): encoder X -> tanh -> [mu, logvar], decoder Z -> tanh -> sigmoid, the
    layers numbered on from the encoder's; params = vae.params; the forward cache at fixed eps
    {"X", "A1", "H1", "mu", "logvar", "eps", "Z", "A3", "H3", "X_hat"}; beta >= 0. The gradient
    of the batch loss (6) with respect to every array of params, in their order.

    Held to rounding against aelib's VAE.loss_and_grads on two networks of different widths
    (beta = 2.5 with 0/1 pixels, beta = 0.5 with grey pixels), from the output layer down, so
    that the first wrong gradient names where the mistake is. The arrays are traced: an answer
    that evaluates a layer (its input meets its weights) more than twice, as finite differences
    do, fails, and so does one that shifts an input by a step (x + h, a stencil), computes with
    complex numbers (the complex step) or agrees only to finite-difference accuracy.
    """
    name = "vae_backward"
    problems = [([12, 5, 2], 6, 2.5, False, 8), ([9, 7, 3], 8, 0.5, True, 9)]
    for sizes, n_samples, beta, grey, seed in problems:
        vae, cache, params, beta = _vae_backward_problem(sizes, n_samples, beta, grey, seed)
        _, expected = vae.loss_and_grads(cache["X"], cache["eps"], beta=beta)
        deltas, dZ, scales = _deltas_and_scales(cache, params, beta)
        setting = (f"the VAE({sizes}) with a batch of {n_samples}"
                   + (" (grey pixels among them)" if grey else "") + f", beta = {beta}")
        param_names = [f"{kind}{layer}" for layer in (1, 2, 3, 4) for kind in "Wb"]
        log, arrays = traced(**cache, **dict(zip(param_names, params)))
        student_cache = _Cache((key, arrays[key]) for key in CACHE_KEYS)
        student_params = _Params((arrays[key] for key in param_names), param_names)
        result = call(vae_backward_fn, student_cache, student_params, beta, name=name,
                      on_error=f"In {setting}: X {cache['X'].shape}, H1 and H3 {cache['H1'].shape}, "
                               f"mu, logvar, eps and Z {cache['Z'].shape}; W1 {params[0].shape}, "
                               f"W2 {params[2].shape}, W3 {params[4].shape}, W4 {params[6].shape}. Going "
                               "down a layer multiplies by the transpose of its weights: dZ = Delta3 @ W3.T "
                               "and dH1 = Delta2 @ W2.T, not Delta3 @ W3.")
        if not isinstance(result, (tuple, list)) or len(result) != 8:
            raise CheckFailed(
                f"{name} must return eight arrays [dW1, db1, dW2, db2, dW3, db3, dW4, db4], got "
                f"{type(result).__name__}" + (f" of length {len(result)}" if isinstance(result, (tuple, list))
                                              else "") + ".")
        for layer, input_name, weight_name in LAYERS:
            evaluations = log.meetings(input_name, weight_name)
            if evaluations > FORWARD_EVALUATIONS_ALLOWED:
                how = "again and again, as finite differences do" if evaluations > 10 else f"{evaluations} times"
                raise CheckFailed(
                    f"{name} combined {input_name} with {weight_name} in {evaluations} operations, for "
                    f"{setting}: it evaluates layer {layer} ({input_name} @ {weight_name}) {how}. A backward "
                    "pass takes the forward values from the cache and needs no further evaluation of any "
                    "layer: derive each gradient with the chain rule.")
        _no_complex_step(vae_backward_fn, log, name, VAE_DERIVATIVES)
        _no_nudges(log, name, VAE_DERIVATIVES, shifted=SHIFTLESS)
        result = [np.asarray(array.view(np.ndarray)) if isinstance(array, np.ndarray) else array
                  for array in result]
        shapes = [None if as_numbers(array) is None else as_numbers(array).shape for array in result]
        expected_shapes = [grad.shape for grad in expected]
        if None not in shapes and shapes != expected_shapes and sorted(shapes) == sorted(expected_shapes):
            raise CheckFailed(f"{name} returned arrays of the right shapes in the wrong order {shapes}; "
                              "return them in the order of params: [dW1, db1, dW2, db2, dW3, db3, dW4, db4].")
        # From the output layer down: the first wrong gradient shows where the mistake is, since
        # a wrong Delta spoils every gradient below it.
        for index in (6, 7, 4, 5, 2, 3, 0, 1):
            if _exactly(result[index], expected[index], scales[index]):
                continue
            gradient = VAE_GRADIENT_NAMES[index]
            _float32_inside(vae_backward_fn, log, f"{gradient} for {setting}", result[index], expected[index],
                            scales[index])
            message = _diagnose(index, result[index], cache, params, deltas, dZ, beta, expected[index])
            if message:
                raise CheckFailed(f"In {setting}: {message}")
            layer = index // 2 + 1
            where = {4: "Delta4 = (X_hat - X) / n, equation (7)",
                     3: "Delta3 = (Delta4 @ W4.T) * (1 - H3**2)",
                     2: "dZ = Delta3 @ W3.T (8) and Delta2 = [dL/dmu, dL/dlogvar] of (11)-(12)",
                     1: "Delta1 = (Delta2 @ W2.T) * (1 - H1**2)"}[layer]
            expect_exact(result[index], expected[index], f"{gradient} for {setting}", scale=scales[index],
                         hint=f"{gradient} is the first wrong gradient counted from the output: "
                              f"look at {where}.")
    passed("all eight gradients match aelib.VAE's backward pass to rounding, on two networks, "
           "with no forward evaluation.")
