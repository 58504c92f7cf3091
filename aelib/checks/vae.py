"""Checks for the exercises of chapter 3, "Variational autoencoders".

Each check runs the reader's function on inputs where the usual slips show (a missing 1/2, the
standard deviation where the variance belongs, a sum over the wrong axis, a forgotten eps),
compares the result with aelib's own implementation, and names the slip when it recognises one.
"""
import numpy as np

from ..gradcheck import numerical_gradient
from ..vae import VAE, kl_divergence, reparametrize
from .feedback import CheckFailed, as_numbers, call, expect_close, passed

__all__ = ["check_kl_divergence", "check_reparametrization_grads", "check_encoder_output_error",
           "check_decode_slice"]


def _unchanged(function_name, before, after):
    if not all(np.array_equal(a, b) for a, b in zip(before, after)):
        raise CheckFailed(f"{function_name} changed one of its inputs in place; compute new arrays instead.")


def _check_kl_shape(actual, mu, what):
    array = as_numbers(actual)
    n_samples, n_latent = mu.shape
    if array is None or array.shape == (n_samples,):
        return
    if array.shape == mu.shape:
        raise CheckFailed(
            f"{what}: got shape {array.shape}, one value per latent dimension. The KL divergence of a "
            "diagonal Gaussian is the sum of the per-dimension terms: sum over axis=1.")
    if array.size == 1 or array.shape == (n_latent,):
        raise CheckFailed(
            f"{what}: got shape {array.shape}; expected one value per sample, shape ({n_samples},). "
            "Sum over the latent dimensions (axis=1) only, not over the samples.")


def check_kl_divergence(kl_divergence_fn):
    """Exercise 3.1: ``kl_divergence_fn(mu, logvar)`` must return KL(N(mu, exp(logvar)) || N(0, I)) per sample.

    mu, logvar: (n_samples, n_latent); the result: (n_samples,).
    """
    name = "kl_divergence"
    # Two samples and three latent dimensions, so a sum over the wrong axis changes the shape.
    zeros = np.zeros((2, 3))
    what = "kl_divergence(mu=0, logvar=0) for 2 samples with 3 latent dimensions, the prior itself"
    actual = call(kl_divergence_fn, zeros, zeros.copy(), name=name)
    _check_kl_shape(actual, zeros, what)
    expect_close(actual, np.zeros(2), what,
                 hint="A distribution's divergence from itself is 0: check the '- 1' inside the sum.")

    rng = np.random.default_rng(3)
    mu = rng.normal(size=(4, 3))
    logvar = rng.normal(scale=1.2, size=(4, 3))
    inputs = (mu.copy(), logvar.copy())
    actual = call(kl_divergence_fn, mu, logvar, name=name)
    _unchanged(name, (mu, logvar), inputs)
    what = "kl_divergence(mu, logvar) for 4 samples with 3 latent dimensions"
    _check_kl_shape(actual, mu, what)
    expected = kl_divergence(mu, logvar)
    array = as_numbers(actual)
    if array is not None and array.shape == expected.shape:
        variance, std = np.exp(logvar), np.exp(0.5 * logvar)
        slips = [
            (2.0 * expected, "is twice the right value: the closed form has a factor 1/2 in front of the sum."),
            (0.5 * np.sum(mu ** 2 + std - logvar - 1.0, axis=1),
             "uses the standard deviation exp(logvar / 2) where the variance sigma^2 = exp(logvar) belongs."),
            (expected / mu.shape[1],
             "is the mean over the latent dimensions; the divergence adds them up (np.sum, not np.mean)."),
            (0.5 * np.sum(variance - logvar - 1.0, axis=1),
             "leaves out mu^2: moving the mean away from 0 must cost something too."),
        ]
        for value, explanation in slips:
            if np.allclose(array, value) and not np.allclose(array, expected):
                raise CheckFailed(f"{what}: your result {explanation}")
    expect_close(actual, expected, what,
                 hint="Per sample, KL = 1/2 * sum_u (mu_u^2 + exp(logvar_u) - logvar_u - 1), "
                      "with u running over the latent coordinates.")
    passed("kl_divergence(mu, logvar) matches aelib.vae.kl_divergence.")


def check_reparametrization_grads(reparametrization_grads_fn):
    """Exercise 3.2: ``reparametrization_grads_fn(dZ, eps, logvar)`` must return (dmu, dlogvar).

    For z = mu + exp(logvar / 2) * eps and dZ = dL/dz, all (n_samples, n_latent): dmu = dL/dmu and
    dlogvar = dL/dlogvar, the parts that reach mu and logvar through z.
    """
    name = "reparametrization_grads"
    rng = np.random.default_rng(4)
    dZ = rng.normal(size=(5, 2))
    eps = rng.normal(size=(5, 2))
    logvar = rng.normal(scale=1.2, size=(5, 2))
    inputs = (dZ.copy(), eps.copy(), logvar.copy())
    result = call(reparametrization_grads_fn, dZ, eps, logvar, name=name)
    _unchanged(name, (dZ, eps, logvar), inputs)
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        raise CheckFailed(
            f"{name} must return two arrays (dmu, dlogvar), got {type(result).__name__}"
            + (f" of length {len(result)}" if isinstance(result, (tuple, list)) else "") + ".")
    dmu, dlogvar = result
    std = np.exp(0.5 * logvar)
    expected_dmu = dZ
    expected_dlogvar = 0.5 * dZ * eps * std
    what = "for dZ, eps, logvar of shape (5, 2)"

    dmu_array = as_numbers(dmu)
    if dmu_array is not None and dmu_array.shape == dZ.shape and not np.allclose(dmu_array, expected_dmu):
        if np.allclose(dmu_array, dZ * eps) or np.allclose(dmu_array, dZ * std):
            raise CheckFailed(
                f"dmu {what}: z = mu + sigma * eps depends on mu with slope 1, so dL/dmu is dZ itself; "
                "eps and sigma only multiply the logvar path.")
    expect_close(dmu, expected_dmu, f"dmu {what}", hint="dz/dmu = 1 in every coordinate.")

    dlogvar_array = as_numbers(dlogvar)
    if dlogvar_array is not None and dlogvar_array.shape == dZ.shape:
        slips = [
            (dZ * eps * std, "is missing the factor 1/2: d/dlogvar exp(logvar / 2) = 1/2 exp(logvar / 2)."),
            (0.5 * dZ * eps * np.exp(logvar),
             "uses exp(logvar), the variance; z is built from the standard deviation exp(logvar / 2)."),
            (0.5 * dZ * std, "is missing eps: the noise multiplies sigma in z = mu + sigma * eps."),
            (0.5 * dZ * eps, "is missing sigma = exp(logvar / 2), the derivative of exp brings it back."),
            (dZ * eps, "is dL/dsigma, the gradient with respect to sigma; chain it on to logvar "
                       "with dsigma/dlogvar = sigma / 2."),
        ]
        for value, explanation in slips:
            if np.allclose(dlogvar_array, value) and not np.allclose(dlogvar_array, expected_dlogvar):
                raise CheckFailed(f"dlogvar {what}: your result {explanation}")
    expect_close(dlogvar, expected_dlogvar, f"dlogvar {what}",
                 hint="Chain rule: dL/dlogvar = dZ * dz/dlogvar, with z = mu + exp(logvar / 2) * eps.")
    passed("dmu = dZ and dlogvar = dZ * eps * exp(logvar / 2) / 2, as in VAE._loss_and_backward.")


def _encoder_output_error(dZ, mu, logvar, eps, beta):
    # Equations (11) and (12) of the VAE chapter: [dL/dmu, dL/dlogvar], side by side.
    n_samples = len(dZ)
    variance, std = np.exp(logvar), np.exp(0.5 * logvar)
    return np.hstack([dZ + beta / n_samples * mu,
                      0.5 * dZ * eps * std + beta / n_samples * 0.5 * (variance - 1.0)])


def _vae_at_work(seed=6):
    """A small VAE with its logvar well away from 0, a batch, its eps and beta, and the loss as a
    function of the encoder's output [mu, logvar] (the decoder held fixed)."""
    rng = np.random.default_rng(seed)
    X = (rng.random((6, 12)) < 0.4).astype(np.float64)
    vae = VAE([12, 5, 2], seed=seed)
    # At initialisation logvar is near 0, where the KL gradient (sigma^2 - 1) / 2 vanishes and
    # hides mistakes in it; a bias of -1.5 moves sigma to about 0.5.
    vae.encoder.params[-1][2:] -= 1.5
    eps = rng.standard_normal((6, 2))
    beta = 2.5

    def loss(out):
        mu, logvar = out[:, :2], out[:, 2:]
        X_hat = vae.decoder.forward(reparametrize(mu, logvar, eps))
        reconstruction = -np.sum(X * np.log(X_hat) + (1 - X) * np.log(1 - X_hat), axis=1)
        return float(np.mean(reconstruction + beta * kl_divergence(mu, logvar)))

    return vae, X, eps, beta, loss


def check_encoder_output_error(encoder_output_error_fn):
    """Exercise 3.5: ``encoder_output_error_fn(dZ, mu, logvar, eps, beta)`` returns the error
    Delta = [dL/dmu, dL/dlogvar] of equation (12): (n_samples, 2 * n_latent).

    dZ = dL/dZ from the decoder's backward pass (it already carries the 1/n of the batch mean);
    mu, logvar, eps: (n_samples, n_latent); beta: the KL weight. Checked against the formula, then
    on a small VAE against central differences in float64 and against aelib's own gradient.
    """
    name = "encoder_output_error"
    rng = np.random.default_rng(7)
    dZ, mu, eps = (rng.normal(size=(5, 2)) for _ in range(3))
    logvar = rng.normal(scale=1.2, size=(5, 2))
    beta = 2.5
    inputs = (dZ.copy(), mu.copy(), logvar.copy(), eps.copy())
    result = call(encoder_output_error_fn, dZ, mu, logvar, eps, beta, name=name)
    _unchanged(name, (dZ, mu, logvar, eps), inputs)
    what = f"{name}(dZ, mu, logvar, eps, beta={beta}) for 5 samples with 2 latent coordinates"
    if isinstance(result, (tuple, list)) and len(result) == 2:
        raise CheckFailed(f"{what}: got two arrays; Delta is one (n, 2k) array, dL/dmu and dL/dlogvar "
                          "side by side, as the encoder's last layer outputs mu and logvar: np.hstack.")
    expected = _encoder_output_error(dZ, mu, logvar, eps, beta)
    array = as_numbers(result)
    if array is not None and array.shape == expected.shape and not np.allclose(array, expected):
        n_samples, std, variance = len(dZ), np.exp(0.5 * logvar), np.exp(logvar)
        through_z = np.hstack([dZ, 0.5 * dZ * eps * std])
        kl = np.hstack([mu, 0.5 * (variance - 1.0)]) / n_samples
        slips = [
            (np.hstack([dZ + beta / n_samples * mu, dZ * eps * std + beta / n_samples * 0.5 * (variance - 1.0)]),
             "misses the 1/2 of the reparametrization path: dz/dlogvar = sigma * eps / 2."),
            (np.hstack([dZ + beta / n_samples * mu, 0.5 * dZ * eps * std + beta / n_samples * (variance - 1.0)]),
             "misses the 1/2 of the KL term's logvar gradient: dKL/dlogvar = (sigma^2 - 1) / 2."),
            (through_z + kl, "forgets beta on the KL term: its gradient is weighted by beta / n."),
            (through_z + beta * kl * n_samples,
             "weights the KL term by beta, not beta / n: the loss (6) averages over the batch, and dZ "
             "already carries its 1/n."),
            (through_z - beta * kl, "has the KL gradient with the wrong sign: dKL/dmu = +mu pulls the means "
                                    "towards 0 when subtracted in the descent step."),
            (np.hstack([dZ + beta / n_samples * mu, beta / n_samples * 0.5 * (variance - 1.0)]),
             "drops the path through z for logvar: sigma * eps depends on logvar, so dZ reaches it too."),
            (np.hstack([dZ + beta / n_samples * mu, 0.5 * dZ * std + beta / n_samples * 0.5 * (variance - 1.0)]),
             "drops eps from the logvar path: z = mu + sigma * eps, so dz/dlogvar = sigma * eps / 2."),
            (np.hstack([beta / n_samples * mu, 0.5 * dZ * eps * std + beta / n_samples * 0.5 * (variance - 1.0)]),
             "drops dZ from dL/dmu: z depends on mu with slope 1, so dZ reaches mu unchanged."),
            (np.hstack([expected[:, 2:], expected[:, :2]]),
             "has the halves swapped: the encoder outputs mu first, then logvar."),
        ]
        for value, explanation in slips:
            if np.allclose(array, value):
                raise CheckFailed(f"{what}: your Delta {explanation}")
    expect_close(result, expected, what,
                 hint="Delta = [dZ + beta/n * mu, dZ * eps * sigma / 2 + beta/n * (sigma^2 - 1) / 2], "
                      "with sigma = exp(logvar / 2) and n = len(dZ): equations (11) and (12).")

    vae, X, eps, beta, loss = _vae_at_work()
    n_samples = len(X)
    mu, logvar = vae.encode(X)
    X_hat = vae.decoder.forward(reparametrize(mu, logvar, eps))
    dZ = vae.decoder.backward_from_preactivation((X_hat - X) / n_samples)
    result = call(encoder_output_error_fn, dZ, mu, logvar, eps, beta, name=name)
    what = f"{name} on a VAE([12, 5, 2]) with a batch of {n_samples}, beta = {beta}"
    # The loss is smooth and cheap here; h = 1e-5 sits near the bottom of the error valley.
    out = np.hstack([mu, logvar])
    numerical = numerical_gradient(lambda: loss(out), out, h=1e-5)
    expect_close(result, numerical, f"{what}, against central differences", rtol=1e-6, atol=1e-9,
                 hint="The gradient of the loss (6) with respect to the encoder's output [mu, logvar].")
    _, grads = vae.loss_and_grads(X, eps, beta=beta)
    expect_close(np.sum(result, axis=0), grads[3], f"{what}: its column sums against aelib's gradient of "
                 "the encoder's last bias", hint="The last bias of the encoder receives Delta's column sums.")
    passed("Delta matches equations (11)-(12), central differences of the loss and the gradient of "
           "aelib's VAE.")


def check_decode_slice(decode_slice_fn):
    """Exercise 3.4: ``decode_slice_fn(vae, z3)`` must return a function decode(Z) for a 3-D latent VAE.

    decode(Z) with Z: (m, 2) must equal vae.decode of the codes [z1, z2, z3], shape (m, n_features).
    """
    name = "decode_slice"
    rng = np.random.default_rng(5)
    Z = rng.normal(size=(6, 2))
    # Two models of different widths, so a hard-coded 144 or a fixed z3 shows.
    for sizes, z3 in (([144, 8, 3], -1.5), ([35, 6, 3], 0.7)):
        vae = VAE(sizes, seed=1)
        decode = call(decode_slice_fn, vae, z3, name=name, allowed=(VAE,))
        if not callable(decode):
            raise CheckFailed(
                f"{name}(vae, z3={z3}) must return a function that decodes 2-D codes, "
                f"got {type(decode).__name__}.")
        before = Z.copy()
        actual = call(decode, Z, name=f"the function returned by {name}(vae, z3={z3})", allowed=(VAE,))
        _unchanged(f"the function returned by {name}", (Z,), (before,))
        expected = vae.decode(np.column_stack([Z, np.full(len(Z), z3)]))
        what = f"{name}(VAE({sizes}), z3={z3})(Z) for Z of shape {Z.shape}"
        array = as_numbers(actual)
        if array is not None and array.shape == expected.shape and not np.allclose(array, expected):
            if np.allclose(array, vae.decode(np.column_stack([np.full(len(Z), z3), Z]))):
                raise CheckFailed(
                    f"{what}: you put z3 first; the fixed coordinate is the third, codes are [z1, z2, z3].")
        expect_close(actual, expected, what,
                     hint="Append a column filled with z3 to Z (np.column_stack) and decode with vae.decode.")
    passed("decode_slice(vae, z3) decodes the plane z3 = const of a 3-D latent space.")
