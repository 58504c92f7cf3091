r"""The variational autoencoder (Kingma and Welling, 2013), with its gradient derived by hand.

The recognition network (encoder) maps :math:`x` to the mean :math:`\mu` and log-variance
:math:`\log\sigma^2` of a Gaussian over the code; the reparametrization
:math:`z = \mu + e^{\log\sigma^2/2}\,\epsilon`, :math:`\epsilon \sim \mathcal N(0, I)`, draws a code;
the generative network (decoder) turns :math:`z` into pixel probabilities :math:`\hat x`.
The loss per sample is the negative evidence lower bound, with weight :math:`\beta` on the KL term
(:math:`j` runs over the pixels, :math:`u` over the latent coordinates):

.. math::
    \ell = \underbrace{-\sum_{j} \big[x_j \log \hat x_j + (1 - x_j)\log(1 - \hat x_j)\big]}_{\text{reconstruction}}
    \;+\; \beta\, \underbrace{\tfrac12 \sum_u \big(\mu_u^2 + \sigma_u^2 - \log\sigma_u^2 - 1\big)}_{\mathrm{KL}(\mathcal N(\mu, \sigma^2)\,\|\,\mathcal N(0, I))}

With ``likelihood="continuous-bernoulli"`` the reconstruction term is :math:`-\log p(x \mid z)` of
the continuous Bernoulli, a density for grey levels (see ``likelihoods``). The negative ELBO
bounds :math:`-\log p(x)` from above; ``log_likelihood`` estimates :math:`\log p(x)` itself by
importance sampling (Burda, Grosse and Salakhutdinov, 2015), and for a 2-D code
``quadrature_log_likelihood`` computes it on a grid.
"""
import numbers

import numpy as np

from . import activations as activation_functions
from . import likelihoods, losses
from .encoder_decoder import EncoderDecoder
from .mlp import _check_sizes
from .training import run_epochs
from .validation import (as_data_matrix, as_dtype, as_generator, as_real_array, as_seed, non_negative_number,
                         positive_int, positive_number)

# log_likelihood, elbo and log_joint decode at most this many codes at once, so that their memory
# stays small (a few megabytes for the book's decoders) however many codes they decode.
DECODED_AT_ONCE = 8192


# Why a VAE's data must lie in [0, 1]; unlike Autoencoder it has no loss to choose.
PIXEL_PROBABILITIES = ("a VAE's decoder gives each pixel a probability of ink, compared with the pixel by "
                       "binary cross-entropy (or a density on [0, 1], the continuous Bernoulli); rescale the "
                       "data, e.g. (X - X.min()) / (X.max() - X.min())")


def reparametrize(mu, logvar, eps):
    """z = mu + exp(logvar / 2) * eps. All (n_samples, n_latent)."""
    return mu + np.exp(0.5 * logvar) * eps


def kl_divergence(mu, logvar):
    """KL(N(mu, exp(logvar)) || N(0, I)) per sample: (n_samples,)."""
    return 0.5 * np.sum(mu * mu + np.exp(logvar) - logvar - 1.0, axis=1)


def kl_divergence_grads(mu, logvar):
    """Gradients of ``kl_divergence`` with respect to mu and logvar: (mu, (exp(logvar) - 1) / 2)."""
    return mu, 0.5 * (np.exp(logvar) - 1.0)


def active_units(mu, threshold=0.01):
    """Which latent coordinates are active (Burda, Grosse and Salakhutdinov, 2015): (n_latent,) booleans.

    mu: (n_samples, n_latent), the encoder's means E_q[z] of a data set. Coordinate u is active
    when the variance of mu[:, u] over the data exceeds ``threshold``: its code changes with x.
    An inactive coordinate says the same for every sample, so the decoder cannot use it.
    """
    mu = as_data_matrix(mu, "mu")
    if mu.shape[0] < 2:
        raise ValueError(f"mu must hold the codes of at least 2 samples (over one, every variance is 0 and "
                         f"every coordinate would look inactive), got shape {mu.shape}")
    threshold = positive_number(threshold, "threshold")
    return np.var(mu, axis=0) > threshold


def reconstruction_term(A, X_hat, X, likelihood):
    """-log p(x | z) summed over the pixels and averaged over the batch, and its error.

    A: the decoder's logits, X_hat = sigmoid(A), X: the targets, all (n_samples, n_features).
    Returns (reconstruction, dA) with dA = F'(A) - X, the gradient of each sample's term with
    respect to its logits: X_hat - X for the Bernoulli, the continuous Bernoulli's mean minus X
    for the continuous Bernoulli (see ``likelihoods``).
    """
    if likelihood == "bernoulli":
        # bce_with_logits averages over all n*d entries; times d it is summed over pixels.
        return X.shape[1] * losses.bce_with_logits(A, X, check=False), X_hat - X
    reconstruction = -float(np.mean(
        likelihoods.log_density(A, X, likelihood, check=False)))
    return reconstruction, likelihoods.continuous_bernoulli_mean(A) - X


def checked_eps(eps, n_samples, n_latent, dtype):
    """The noise eps of ``loss_and_grads`` as an array of ``dtype`` and shape (n_samples, n_latent)
    of finite numbers, or raise naming it."""
    eps = as_real_array(eps, "eps").astype(dtype, copy=False)
    if eps.shape != (n_samples, n_latent):
        raise ValueError(f"eps must have shape (n_samples, n_latent) = {(n_samples, n_latent)}, got {eps.shape}")
    if not np.isfinite(eps).all():
        raise ValueError(f"eps must contain only finite numbers (draws of N(0, I)), got {np.isnan(eps).sum()} "
                         f"NaN and {np.isinf(eps).sum()} infinite value(s)")
    return eps


def log_mean_exp(values, axis=-1):
    """log(mean(exp(values))) along ``axis``, without overflow or underflow.

    The largest value is taken out first, log mean exp(xi) = xi_max + log mean exp(xi - xi_max), so
    that every exponential lies in (0, 1] and the largest is exactly 1. values: any shape.
    """
    values = np.asarray(values)
    top = np.max(values, axis=axis, keepdims=True)
    return np.squeeze(top, axis=axis) + np.log(np.mean(np.exp(values - top), axis=axis))


def quadrature_grid(limit, step):
    """The centres of the square cells of side ``step`` that tile [-limit, limit]^2: (n_cells, 2).

    Row by row from the bottom left, z1 varying fastest; 2 * limit / step cells per side.
    """
    limit, step = positive_number(limit, "limit"), positive_number(step, "step")
    n_cells = int(round(2 * limit / step))
    if not 1 <= n_cells <= 10_000:
        raise ValueError(f"the grid must have 1 to 10000 cells per side, got 2 * limit / step = {2 * limit / step:.6g}")
    centres = -limit + step * (np.arange(n_cells) + 0.5)
    z1, z2 = np.meshgrid(centres, centres)
    return np.column_stack([z1.ravel(), z2.ravel()])


class RunningLogSumExp:
    """log sum exp of values that arrive in parts, one sum per row, without overflow.

    ``add(rows, values)`` takes values: (len(rows), m); ``result()`` returns the (n_rows,) sums.
    It keeps each row's largest value so far, top, and the sum of exp(value - top).
    """

    def __init__(self, n_rows):
        self.top = np.full(n_rows, -np.inf)
        self.total = np.zeros(n_rows)

    def add(self, rows, values):
        top = np.maximum(self.top[rows], values.max(axis=1))
        # Rescale the sum so far to the new top (a factor of 0 before the first part).
        self.total[rows] = self.total[rows] * np.exp(self.top[rows] - top) + np.exp(values - top[:, None]).sum(axis=1)
        self.top[rows] = top

    def result(self):
        return self.top + np.log(self.total)


def kl_weights(beta, warmup_steps):
    """The KL weight of training steps 1, 2, 3, ...: beta * min(1, t / warmup_steps).

    A KL warm-up (Bowman et al., 2016) raises the weight linearly from near 0 to beta over the
    first ``warmup_steps`` steps; with warmup_steps = 0 every step has weight beta.
    """
    t = 0
    while True:
        t += 1
        yield beta if t >= warmup_steps else beta * t / warmup_steps


def warmup_steps(warmup_epochs, n_samples, batch_size):
    """The number of training steps in ``warmup_epochs`` epochs of n_samples in batches of batch_size."""
    if isinstance(warmup_epochs, bool) or not isinstance(warmup_epochs, numbers.Integral) or warmup_epochs < 0:
        raise ValueError(f"warmup_epochs must be an integer >= 0 (0: no warm-up), got {warmup_epochs!r}")
    steps_per_epoch = 1 if batch_size is None else -(-n_samples // positive_int(batch_size, "batch_size"))
    return int(warmup_epochs) * steps_per_epoch


class VAE(EncoderDecoder):
    """A VAE with a Gaussian code and a decoder that gives every pixel a probability.

    sizes: [n_features, hidden..., n_latent]; e.g. [144, 64, 2] builds the encoder
    144->64->(mu, logvar), each of size 2, and the decoder 2->64->144 with a sigmoid output.
    seed: an int >= 0 (saved with the model) or None. dtype: "float64" (default) or "float32",
    as for ``Autoencoder``; the noise eps is drawn in float64 and rounded, so both dtypes see
    the same draws.
    likelihood: "bernoulli" (default: a coin per pixel, the binary cross-entropy) or
    "continuous-bernoulli" (a normalised density for grey levels in [0, 1]). Either way the
    decoder outputs the parameter x_hat = sigmoid(logits) of every pixel (``decode``), and
    ``mean`` gives the distribution's mean, which for the continuous Bernoulli is not x_hat.
    """

    def __init__(self, sizes, activation="tanh", seed=None, dtype="float64", likelihood="bernoulli"):
        sizes = _check_sizes(sizes)
        activation_functions.get(activation, "activation")
        seed = as_seed(seed)
        dtype = as_dtype(dtype)
        self.likelihood = likelihoods.check_likelihood(likelihood)
        self.config = {"sizes": sizes, "activation": activation, "seed": seed, "dtype": dtype.name,
                       "likelihood": likelihood}
        self.sizes = sizes
        hidden = [activation] * (len(sizes) - 2)
        encoder_sizes, decoder_sizes = self._network_sizes(sizes)
        self._build((encoder_sizes, hidden + ["identity"]), (decoder_sizes, hidden + ["sigmoid"]), seed, dtype)

    @staticmethod
    def _network_sizes(sizes):
        # The encoder ends in mu and logvar, n_latent each; the decoder mirrors the widths.
        return sizes[:-1] + [2 * sizes[-1]], sizes[::-1]

    def __repr__(self):
        dtype = "" if self.dtype == np.float64 else f", dtype={self.dtype.name!r}"
        likelihood = "" if self.likelihood == "bernoulli" else f", likelihood={self.likelihood!r}"
        return f"VAE({self.sizes}{dtype}{likelihood})"

    def _check(self, X):
        return as_data_matrix(X, "X", self.n_features, unit_interval=PIXEL_PROBABILITIES, dtype=self.dtype)

    def encode(self, X):
        """X: (n_samples, n_features) -> (mu, logvar), each (n_samples, n_latent)."""
        out = self.encoder._forward(self._check(X))
        return out[:, :self.n_latent].copy(), out[:, self.n_latent:].copy()

    def decode(self, Z):
        """Z: (n_samples, n_latent) -> the pixels' parameters X_hat: (n_samples, n_features).

        For the Bernoulli likelihood these are the pixel probabilities, and the mean; for the
        continuous Bernoulli use ``mean`` for the mean.
        """
        return self.decoder._forward(as_data_matrix(Z, "Z", self.n_latent, dtype=self.dtype))

    def mean(self, Z):
        """Z: (n_samples, n_latent) -> the mean of p(x | z): (n_samples, n_features).

        The Bernoulli's mean is x_hat itself (``decode``); the continuous Bernoulli's lies
        between 1/2 and x_hat (``likelihoods.continuous_bernoulli_mean``).
        """
        X_hat = self.decode(Z)
        if self.likelihood == "bernoulli":
            return X_hat
        return likelihoods.continuous_bernoulli_mean(self.decoder.last_preactivation)

    def reconstruct(self, X):
        """Decode each sample's mean code: (n_samples, n_features)."""
        mu, _ = self.encode(X)
        return self.decode(mu)

    def sample(self, n_samples, rng=None):
        """Decode ``n_samples`` codes drawn from the prior N(0, I): (n_samples, n_features)."""
        n_samples = positive_int(n_samples, "n_samples")
        Z = as_generator(rng).standard_normal((n_samples, self.n_latent))
        return self.decoder._forward(Z.astype(self.dtype, copy=False))

    def _loss_and_backward(self, X, eps, beta):
        # The derivation of every line is in the VAE chapter. Fills self.grads and returns
        # (loss, reconstruction, kl), each a mean over the batch.
        n_samples = X.shape[0]
        out = self.encoder._forward(X)
        mu, logvar = out[:, :self.n_latent], out[:, self.n_latent:]
        Z = reparametrize(mu, logvar, eps)
        X_hat = self.decoder._forward(Z)
        reconstruction, dA = reconstruction_term(self.decoder.last_preactivation, X_hat, X, self.likelihood)
        kl = float(np.mean(kl_divergence(mu, logvar)))
        # Backward: decoder, then through z = mu + std * eps, then KL's own terms, then encoder.
        dZ = self.decoder.backward_from_preactivation(dA / n_samples)
        dkl_dmu, dkl_dlogvar = kl_divergence_grads(mu, logvar)
        std = np.exp(0.5 * logvar)
        d_out = np.empty_like(out)
        d_out[:, :self.n_latent] = dZ + (beta / n_samples) * dkl_dmu
        d_out[:, self.n_latent:] = dZ * eps * 0.5 * std + (beta / n_samples) * dkl_dlogvar
        self.encoder.backward_from_preactivation(d_out, input_grad=False)
        return reconstruction + beta * kl, reconstruction, kl

    def loss_and_grads(self, X, eps, beta=1.0):
        """Loss and gradients at fixed noise ``eps``: (n_samples, n_latent).

        With eps fixed the loss is a deterministic function of ``params``. Returns (loss, grads),
        grads new arrays one-to-one with ``params``.
        """
        X = self._unshared(self._check(X))
        eps = checked_eps(eps, X.shape[0], self.n_latent, self.dtype)
        beta = non_negative_number(beta, "beta")
        loss, _, _ = self._loss_and_backward(X, eps, beta)
        return loss, [grad.copy() for grad in self.grads]

    def fit(self, X, epochs, lr=None, beta=1.0, batch_size=None, optimizer="adam", warmup_epochs=0,
            progress=False):
        """Train on X: (n_samples, n_features) in [0, 1], drawing fresh eps for every batch.

        Returns {"loss": [...], "reconstruction": [...], "kl": [...]}: per-epoch means.
        lr and optimizer as in ``Autoencoder.fit``: "adam" or "sgd" with learning rate ``lr``, or
        an optimizer object with its own learning rate (and no other ``lr``). warmup_epochs: the
        KL weight rises linearly, step by step, from near 0 to ``beta`` over the first
        ``warmup_epochs`` epochs (a KL warm-up, see ``kl_weights``); "loss" is then the loss
        each step minimised, with its own weight. Raises TrainingDivergedError naming the likely
        cause if the loss explodes or rises and stays high, or if every sample ends with the same
        mean code mu (dead or saturated units), as for ``Autoencoder.fit``.
        """
        X = self._unshared(self._check(X))
        beta = non_negative_number(beta, "beta")
        weights = kl_weights(beta, warmup_steps(warmup_epochs, X.shape[0], batch_size))
        rng = self.rng

        def step(X_batch, _target):
            # Drawn in float64 (the same draws for either dtype); (n, n_latent) is small to round.
            eps = rng.standard_normal((X_batch.shape[0], self.n_latent)).astype(self.dtype, copy=False)
            return self._loss_and_backward(X_batch, eps, next(weights))

        loss, reconstruction, kl = run_epochs(
            step, X, *self._flat_params_and_grads(), epochs=epochs, lr=lr, batch_size=batch_size, optimizer=optimizer, rng=rng, progress=progress)
        self._check_codes_differ(X, self.encoder._forward(X)[:, :self.n_latent])
        return {"loss": loss, "reconstruction": reconstruction, "kl": kl}

    def log_density(self, X, Z):
        """log p(x | z) in nats, for each row of X: (n_samples, n_features) and of Z: (n_samples, n_latent).

        Returns (n_samples,). For the continuous Bernoulli a log-density over [0, 1]^n_features;
        for the Bernoulli a log-probability when X holds 0s and 1s (on grey levels, minus the
        summed binary cross-entropy, which is not a log-likelihood).
        """
        X = self._check(X)
        Z = as_data_matrix(Z, "Z", self.n_latent, dtype=self.dtype)
        if Z.shape[0] != X.shape[0]:
            raise ValueError(f"X and Z must have one row per sample each, got {X.shape[0]} and {Z.shape[0]} rows")
        self.decoder._forward(Z)
        return likelihoods.log_density(self.decoder.last_preactivation, X, self.likelihood, check=False)

    def log_joint(self, X, Z):
        """log p(x, z) = log p(x | z) + log p(z) in nats, for every row of X with every row of Z.

        X: (n_rows, n_features) in [0, 1]; Z: (n_codes, n_latent). Returns (n_rows, n_codes).
        Over a grid of codes, it is the unnormalised log-posterior log p(z | x) + log p(x). The
        codes are decoded at most ``DECODED_AT_ONCE`` at a time, so that a whole grid of them
        needs little memory beyond the result.
        """
        X = self._check(X)
        Z = as_data_matrix(Z, "Z", self.n_latent, dtype=self.dtype)
        result = np.empty((X.shape[0], Z.shape[0]), dtype=self.dtype)
        for start in range(0, Z.shape[0], DECODED_AT_ONCE):
            codes = slice(start, start + DECODED_AT_ONCE)
            result[:, codes] = self._log_joint(X, Z[codes])
        return result

    def _log_joint(self, X, Z):
        # Each code is decoded once for all rows of X: log p(x | z), which is
        # x . a - sum_j F(a_j), for every row and code is one matrix product.
        self.decoder._forward(Z)
        A = self.decoder.last_preactivation
        log_partition = likelihoods.log_partition(A, self.likelihood)
        log_partition = log_partition.sum(axis=1)
        log_prior = -0.5 * np.sum(Z * Z, axis=1)
        log_prior -= 0.5 * self.n_latent * np.log(2 * np.pi)
        return X @ A.T - log_partition + log_prior

    def _decoded_draws(self, X, n_samples, rng):
        # For blocks of rows of X, draw n_samples codes z = mu + sigma * eps from each row's
        # q(z | x) and decode them, at most DECODED_AT_ONCE at a time. Yields (rows, logvar, eps,
        # Z, log p(x | z)): logvar of shape (len(rows), n_latent), eps and Z (len(rows), m,
        # n_latent) and log p(x | z) (len(rows), m), for m <= n_samples draws; when n_samples
        # exceeds DECODED_AT_ONCE, each row's draws come in several parts, one after another.
        mu, logvar = self.encode(X)
        std = np.exp(0.5 * logvar)
        rows_at_once = max(1, DECODED_AT_ONCE // n_samples)
        draws_at_once = min(n_samples, DECODED_AT_ONCE)
        for start in range(0, X.shape[0], rows_at_once):
            rows = slice(start, min(start + rows_at_once, X.shape[0]))
            n_rows = rows.stop - rows.start
            for first in range(0, n_samples, draws_at_once):
                m = min(draws_at_once, n_samples - first)
                eps = rng.standard_normal((n_rows, m, self.n_latent)).astype(self.dtype, copy=False)
                Z = mu[rows, None, :] + std[rows, None, :] * eps
                self.decoder._forward(Z.reshape(-1, self.n_latent))
                A = self.decoder.last_preactivation.reshape(n_rows, m, self.n_features)
                log_p = likelihoods.log_density(A, X[rows, None, :], self.likelihood, check=False)
                yield rows, logvar[rows], eps, Z, log_p

    def log_likelihood(self, X, n_samples, rng=None):
        r"""Importance-sampled estimates of log p(x) in nats, one per row of X: (n_rows,).

        X: (n_rows, n_features) in [0, 1]; its density (or probability) is computed for exactly
        these values. For each row, K = ``n_samples`` codes z_k are drawn from the encoder's
        q(z | x), and

            log (1/K) sum_k p(x | z_k) p(z_k) / q(z_k | x)

        is computed without overflow (a log-sum-exp that runs over the parts of the draws). Its
        expectation is the importance-weighted bound L_K of Burda et al. (2015): L_1 is the
        ELBO, and L_K rises with K towards log p(x). The codes are decoded in blocks of at most
        ``DECODED_AT_ONCE``, so memory stays small for any K. rng: a seed or a Generator for the
        draws (None: fresh entropy).
        """
        X = self._check(X)
        n_samples = positive_int(n_samples, "n_samples")
        rng = as_generator(rng)
        running = RunningLogSumExp(X.shape[0])
        for rows, logvar, eps, Z, log_p_x_given_z in self._decoded_draws(X, n_samples, rng):
            # log w = log p(x | z) + log p(z) - log q(z | x). The 2 pi of the two Gaussians
            # cancel, and with z = mu + sigma * eps, log q(z | x) = -sum_u (log sigma_u^2 + eps_u^2) / 2.
            log_w = (log_p_x_given_z - 0.5 * np.sum(Z * Z, axis=2) + 0.5 * np.sum(eps * eps, axis=2)
                     + 0.5 * np.sum(logvar, axis=1)[:, None])
            running.add(rows, log_w)
        return running.result() - np.log(n_samples)

    def elbo(self, X, n_samples, rng=None):
        """Estimates of the ELBO in nats, one per row of X: (n_rows,).

        E_q[log p(x | z)] - KL(q(z | x) || p(z)): the first term averaged over ``n_samples``
        codes drawn from q(z | x), the KL divergence in closed form. X as for ``log_likelihood``.
        """
        X = self._check(X)
        n_samples = positive_int(n_samples, "n_samples")
        rng = as_generator(rng)
        totals = np.zeros(X.shape[0])
        for rows, _, _, _, log_p_x_given_z in self._decoded_draws(X, n_samples, rng):
            totals[rows] += log_p_x_given_z.sum(axis=1)
        mu, logvar = self.encode(X)
        return totals / n_samples - kl_divergence(mu, logvar)

    def quadrature_log_likelihood(self, X, limit=6.0, step=0.05):
        r"""log p(x) = log of the integral of p(x | z) p(z) over the plane, on a grid: (n_rows,).

        Only for a 2-D code. The midpoint rule on the square [-limit, limit]^2 in cells of side
        ``step``: log sum_g p(x | z_g) N(z_g; 0, I) step^2 over the cells' centres z_g. It is
        exact up to the mass of the posterior p(z | x) outside the square and up to the grid's
        resolution, which must be fine against the narrowest posterior: check by widening the
        square and by halving ``step``. (The prior's mass outside limit = 6 is below 1e-8, but
        the posterior of a sample unlike the training data can lie further out.) X as for
        ``log_likelihood``.
        """
        if self.n_latent != 2:
            raise ValueError(f"quadrature_log_likelihood needs a 2-D code, this VAE's has {self.n_latent} dimensions")
        X = self._check(X)
        Z = quadrature_grid(limit, step).astype(self.dtype, copy=False)
        # The cells come in chunks, so that both the decoded codes (at most DECODED_AT_ONCE)
        # and the array of (rows of X) x (cells) stay small.
        cells_at_once = max(256, min(DECODED_AT_ONCE, 8 * DECODED_AT_ONCE // X.shape[0]))
        running = RunningLogSumExp(X.shape[0])
        for start in range(0, len(Z), cells_at_once):
            running.add(slice(None), self._log_joint(X, Z[start:start + cells_at_once]) + 2 * np.log(step))
        return running.result()
