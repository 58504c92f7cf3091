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
"""
import numpy as np

from . import activations as activation_functions
from . import losses
from .encoder_decoder import EncoderDecoder
from .mlp import _check_sizes
from .training import run_epochs
from .validation import as_data_matrix, as_dtype, as_generator, as_seed, non_negative_number, positive_int


# Why a VAE's data must lie in [0, 1]; unlike Autoencoder it has no loss to choose.
PIXEL_PROBABILITIES = ("a VAE's decoder gives each pixel a probability of ink, compared with the pixel by "
                       "binary cross-entropy; rescale the data, e.g. (X - X.min()) / (X.max() - X.min())")


def reparametrize(mu, logvar, eps):
    """z = mu + exp(logvar / 2) * eps. All (n_samples, n_latent)."""
    return mu + np.exp(0.5 * logvar) * eps


def kl_divergence(mu, logvar):
    """KL(N(mu, exp(logvar)) || N(0, I)) per sample: (n_samples,)."""
    return 0.5 * np.sum(mu * mu + np.exp(logvar) - logvar - 1.0, axis=1)


def kl_divergence_grads(mu, logvar):
    """Gradients of ``kl_divergence`` with respect to mu and logvar: (mu, (exp(logvar) - 1) / 2)."""
    return mu, 0.5 * (np.exp(logvar) - 1.0)


class VAE(EncoderDecoder):
    """A VAE with a Gaussian code and a Bernoulli (pixel) decoder.

    sizes: [n_features, hidden..., n_latent]; e.g. [144, 64, 2] builds the encoder
    144->64->(mu, logvar), each of size 2, and the decoder 2->64->144 with a sigmoid output.
    seed: an int >= 0 (saved with the model) or None. dtype: "float64" (default) or "float32",
    as for ``Autoencoder``; the noise eps is drawn in float64 and rounded, so both dtypes see
    the same draws.
    """

    def __init__(self, sizes, activation="tanh", seed=None, dtype="float64"):
        sizes = _check_sizes(sizes)
        activation_functions.get(activation, "activation")
        seed = as_seed(seed)
        dtype = as_dtype(dtype)
        self.config = {"sizes": sizes, "activation": activation, "seed": seed, "dtype": dtype.name}
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
        return f"VAE({self.sizes}{dtype})"

    def _check(self, X):
        return as_data_matrix(X, "X", self.n_features, unit_interval=PIXEL_PROBABILITIES, dtype=self.dtype)

    def encode(self, X):
        """X: (n_samples, n_features) -> (mu, logvar), each (n_samples, n_latent)."""
        out = self.encoder._forward(self._check(X))
        return out[:, :self.n_latent].copy(), out[:, self.n_latent:].copy()

    def decode(self, Z):
        """Z: (n_samples, n_latent) -> pixel probabilities X_hat: (n_samples, n_features)."""
        return self.decoder._forward(as_data_matrix(Z, "Z", self.n_latent, dtype=self.dtype))

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
        n_samples, d = X.shape
        out = self.encoder._forward(X)
        mu, logvar = out[:, :self.n_latent], out[:, self.n_latent:]
        Z = reparametrize(mu, logvar, eps)
        X_hat = self.decoder._forward(Z)
        # bce_with_logits averages over all n*d entries; times d it is summed over pixels.
        reconstruction = d * losses.bce_with_logits(self.decoder.last_preactivation, X, check=False)
        kl = float(np.mean(kl_divergence(mu, logvar)))
        # Backward: decoder, then through z = mu + std * eps, then KL's own terms, then encoder.
        dZ = self.decoder.backward_from_preactivation((X_hat - X) / n_samples)
        dkl_dmu, dkl_dlogvar = kl_divergence_grads(mu, logvar)
        std = np.exp(0.5 * logvar)
        d_out = np.empty_like(out)
        d_out[:, :self.n_latent] = dZ + (beta / n_samples) * dkl_dmu
        d_out[:, self.n_latent:] = dZ * eps * 0.5 * std + (beta / n_samples) * dkl_dlogvar
        self.encoder.backward_from_preactivation(d_out, input_grad=False)
        return reconstruction + beta * kl, reconstruction, kl

    def _check_eps(self, eps, n_samples):
        eps = np.asarray(eps, dtype=np.float64).astype(self.dtype, copy=False)
        if eps.shape != (n_samples, self.n_latent):
            raise ValueError(f"eps must have shape (n_samples, n_latent) = {(n_samples, self.n_latent)}, got {eps.shape}")
        return eps

    def loss_and_grads(self, X, eps, beta=1.0):
        """Loss and gradients at fixed noise ``eps``: (n_samples, n_latent).

        With eps fixed the loss is a deterministic function of ``params``. Returns (loss, grads),
        grads new arrays one-to-one with ``params``.
        """
        X = self._unshared(self._check(X))
        eps = self._check_eps(eps, X.shape[0])
        beta = non_negative_number(beta, "beta")
        loss, _, _ = self._loss_and_backward(X, eps, beta)
        return loss, [grad.copy() for grad in self.grads]

    def fit(self, X, epochs, lr=None, beta=1.0, batch_size=None, optimizer="adam", progress=False):
        """Train on X: (n_samples, n_features) in [0, 1], drawing fresh eps for every batch.

        Returns {"loss": [...], "reconstruction": [...], "kl": [...]}: per-epoch means.
        lr and optimizer as in ``Autoencoder.fit``: "adam" or "sgd" with learning rate ``lr``, or
        an optimizer object with its own learning rate (and no other ``lr``). Raises
        TrainingDivergedError naming the likely cause if the loss explodes or rises and stays high,
        or if every sample ends with the same mean code mu (dead or saturated units), as for
        ``Autoencoder.fit``.
        """
        X = self._unshared(self._check(X))
        beta = non_negative_number(beta, "beta")
        rng = self.rng

        def step(X_batch, _target):
            # Drawn in float64 (the same draws for either dtype); (n, n_latent) is small to round.
            eps = rng.standard_normal((X_batch.shape[0], self.n_latent)).astype(self.dtype, copy=False)
            return self._loss_and_backward(X_batch, eps, beta)

        loss, reconstruction, kl = run_epochs(
            step, X, *self._flat_params_and_grads(), epochs=epochs, lr=lr, batch_size=batch_size, optimizer=optimizer, rng=rng, progress=progress)
        self._check_codes_differ(X, self.encoder._forward(X)[:, :self.n_latent])
        return {"loss": loss, "reconstruction": reconstruction, "kl": kl}
