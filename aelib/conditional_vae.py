r"""The conditional VAE (Sohn, Lee and Yan, 2015): a VAE told the label of every sample.

The label :math:`y` of a sample, one of ``n_classes``, enters both networks as a one-hot vector
:math:`\operatorname{onehot}(y)` appended to their input: the encoder gives :math:`q(z \mid x, y)`
from :math:`[x, \operatorname{onehot}(y)]` and the decoder gives :math:`p(x \mid z, y)` from
:math:`[z, \operatorname{onehot}(y)]`; the prior
stays :math:`p(z) = \mathcal N(0, I)`. The loss is the VAE's, term for term. Since the label
already says *which* digit, the code is free to hold *how* it is written (its style), and
``sample(y)`` draws a new style :math:`z \sim \mathcal N(0, I)` for any label asked for.

The loss and the backward pass are the VAE's own code (``VAE._loss_and_backward``), run on the
two networks seen through ``WithLabels``: the decoder's input gradient has one column per input,
and only the first ``n_latent`` (those of z) travel on to the encoder; the label's columns are data.
"""
import inspect
import numbers
from types import SimpleNamespace

import numpy as np

from . import activations as activation_functions
from . import likelihoods
from .encoder_decoder import EncoderDecoder
from .losses import one_hot
from .mlp import _check_sizes, parameter_shapes
from .training import run_epochs
from .vae import PIXEL_PROBABILITIES, VAE, checked_eps, kl_weights, warmup_steps
from .validation import as_data_matrix, as_dtype, as_generator, as_seed, non_negative_number


def _check_n_classes(n_classes):
    if isinstance(n_classes, bool) or not isinstance(n_classes, numbers.Integral) or n_classes < 2:
        raise ValueError(f"n_classes must be an integer >= 2 (the number of labels), got {n_classes!r}")
    return int(n_classes)


class WithLabels:
    """A network of the conditional VAE, with the one-hot labels Y appended
    to its input: Y is (n_samples, n_classes).

    It offers what ``VAE._loss_and_backward`` uses of a network:
    ``_forward(inputs)`` runs the network on [inputs, Y], and
    ``backward_from_preactivation`` returns the gradient with respect to
    ``inputs`` only, the first columns of the network's input gradient. The
    labels' columns stop there (they are data, not weights): of the decoder's
    input gradient only z's columns travel on to the encoder.
    """

    def __init__(self, network, Y):
        self.network, self.Y = network, Y

    def _forward(self, inputs):
        return self.network._forward(np.hstack([inputs, self.Y]))

    @property
    def last_preactivation(self):
        return self.network.last_preactivation

    def backward_from_preactivation(self, delta, input_grad=True):
        network = self.network
        d_inputs = network.backward_from_preactivation(delta, input_grad)
        if d_inputs is None:
            return None
        return d_inputs[:, :-self.Y.shape[1]]


class ConditionalVAE(EncoderDecoder):
    """A VAE whose encoder and decoder also receive each sample's label, as a one-hot vector.

    sizes: [n_features, hidden..., n_latent] as for ``VAE``, without the label: e.g.
    ConditionalVAE([64, 128, 4], 10) builds the encoder (64 + 10)->128->(mu, logvar), each of
    size 4, and the decoder (4 + 10)->128->64 with a sigmoid output. n_classes: the number of
    labels, >= 2; labels are the integers 0, ..., n_classes - 1. activation, seed, dtype and
    likelihood as for ``VAE``.
    """

    def __init__(self, sizes, n_classes, activation="tanh", seed=None, dtype="float64", likelihood="bernoulli"):
        sizes = _check_sizes(sizes)
        n_classes = _check_n_classes(n_classes)
        activation_functions.get(activation, "activation")
        seed = as_seed(seed)
        dtype = as_dtype(dtype)
        self.likelihood = likelihoods.check_likelihood(likelihood)
        self.config = {"sizes": sizes, "n_classes": n_classes, "activation": activation, "seed": seed,
                       "dtype": dtype.name, "likelihood": likelihood}
        self.sizes, self.n_classes = sizes, n_classes
        hidden = [activation] * (len(sizes) - 2)
        encoder_sizes, decoder_sizes = self._network_sizes(sizes, n_classes)
        self._build((encoder_sizes, hidden + ["identity"]), (decoder_sizes, hidden + ["sigmoid"]), seed, dtype)

    @staticmethod
    def _network_sizes(sizes, n_classes):
        # The VAE's widths, with the one-hot label added to the input of each network.
        return [sizes[0] + n_classes] + sizes[1:-1] + [2 * sizes[-1]], [sizes[-1] + n_classes] + sizes[-2:0:-1] + [sizes[0]]

    @classmethod
    def _parameter_shapes(cls, config):
        # The weight shapes a saved configuration describes, as EncoderDecoder's (which knows
        # the sizes only), with the label's width from n_classes.
        try:
            inspect.signature(cls).bind(**config)
        except TypeError as error:
            raise ValueError(f"{cls.__name__} takes no such arguments: {error}") from None
        if not isinstance(config.get("sizes"), list):
            raise ValueError(f"sizes must be a list of layer widths, got {config.get('sizes')!r}")
        encoder_sizes, decoder_sizes = cls._network_sizes(_check_sizes(config["sizes"]),
                                                          _check_n_classes(config["n_classes"]))
        return parameter_shapes(encoder_sizes) + parameter_shapes(decoder_sizes)

    def __repr__(self):
        dtype = "" if self.dtype == np.float64 else f", dtype={self.dtype.name!r}"
        likelihood = "" if self.likelihood == "bernoulli" else f", likelihood={self.likelihood!r}"
        return f"ConditionalVAE({self.sizes}, {self.n_classes}{dtype}{likelihood})"

    def _check(self, X):
        return as_data_matrix(X, "X", self.n_features, unit_interval=PIXEL_PROBABILITIES, dtype=self.dtype)

    def _labels(self, y, n_samples, name="y"):
        """y as one-hot rows (n_samples, n_classes) of the model's dtype, or raise naming the problem."""
        if isinstance(y, (str, bytes)) or y is None:
            raise TypeError(f"{name} must be an array of integer labels, got {type(y).__name__}")
        labels = np.asarray(y)
        if labels.dtype.kind not in "iuf":
            raise TypeError(f"{name} must hold integer labels 0 to {self.n_classes - 1}, got dtype {labels.dtype}")
        if labels.ndim != 1:
            raise ValueError(f"{name} must be 1-D, one label per sample, got shape {labels.shape}"
                             + (" (for n samples of one label use np.full(n, label))" if labels.ndim == 0 else ""))
        if n_samples is not None and len(labels) != n_samples:
            raise ValueError(f"{name} must have one label per sample: {n_samples} samples, got {len(labels)} labels")
        whole = np.isfinite(labels) & (labels == np.round(labels))
        if not whole.all():
            raise ValueError(f"{name} must hold whole numbers (class labels), got e.g. {labels[~whole][0]:g}")
        if len(labels) and (labels.min() < 0 or labels.max() >= self.n_classes):
            bad = labels[(labels < 0) | (labels >= self.n_classes)][0]
            raise ValueError(f"{name} holds the label {bad:g}, outside 0 to {self.n_classes - 1} "
                             f"(the model has n_classes = {self.n_classes})")
        return one_hot(labels.astype(np.int64), self.n_classes).astype(self.dtype, copy=False)

    def encode(self, X, y):
        """X: (n_samples, n_features), y: (n_samples,) labels -> (mu, logvar), each (n_samples, n_latent)."""
        X = self._check(X)
        out = self.encoder._forward(np.hstack([X, self._labels(y, X.shape[0])]))
        return out[:, :self.n_latent].copy(), out[:, self.n_latent:].copy()

    def decode(self, Z, y):
        """Z: (n_samples, n_latent), y: (n_samples,) labels -> the parameters X_hat: (n_samples, n_features)."""
        Z = as_data_matrix(Z, "Z", self.n_latent, dtype=self.dtype)
        return self.decoder._forward(np.hstack([Z, self._labels(y, Z.shape[0])]))

    def mean(self, Z, y):
        """The mean of p(x | z, y): (n_samples, n_features); see ``VAE.mean``."""
        X_hat = self.decode(Z, y)
        if self.likelihood == "bernoulli":
            return X_hat
        return likelihoods.continuous_bernoulli_mean(self.decoder.last_preactivation)

    def reconstruct(self, X, y):
        """Decode each sample's mean code with its own label: (n_samples, n_features)."""
        mu, _ = self.encode(X, y)
        return self.decode(mu, y)

    def sample(self, y, rng=None):
        """One sample per label in y: (len(y),) -> (len(y), n_features), codes z ~ N(0, I), decoded."""
        Y = self._labels(y, None)
        if len(Y) == 0:
            raise ValueError("y must hold at least one label")
        Z = as_generator(rng).standard_normal((len(Y), self.n_latent)).astype(self.dtype, copy=False)
        return self.decoder._forward(np.hstack([Z, Y]))

    def _loss_and_backward(self, X, Y, eps, beta):
        # The VAE's loss and backward pass (chapter 3), line for line, run
        # on both networks seen with the one-hot labels Y appended to their
        # inputs. Fills self.grads; returns (loss, reconstruction, kl).
        seen_with_labels = SimpleNamespace(
            encoder=WithLabels(self.encoder, Y),
            decoder=WithLabels(self.decoder, Y),
            n_latent=self.n_latent, likelihood=self.likelihood)
        return VAE._loss_and_backward(seen_with_labels, X, eps, beta)

    def loss_and_grads(self, X, y, eps, beta=1.0):
        """Loss and gradients at fixed noise eps: (n_samples, n_latent), as ``VAE.loss_and_grads``."""
        X = self._unshared(self._check(X))
        Y = self._labels(y, X.shape[0])
        eps = checked_eps(eps, X.shape[0], self.n_latent, self.dtype)
        beta = non_negative_number(beta, "beta")
        loss, _, _ = self._loss_and_backward(X, Y, eps, beta)
        return loss, [grad.copy() for grad in self.grads]

    def fit(self, X, y, epochs, lr=None, beta=1.0, batch_size=None, optimizer="adam", warmup_epochs=0,
            progress=False):
        """Train on X: (n_samples, n_features) in [0, 1] with labels y: (n_samples,).

        Each label stays with its sample through the shuffled batches. Arguments and the
        returned history as for ``VAE.fit``.
        """
        X = self._unshared(self._check(X))
        Y = self._labels(y, X.shape[0])
        beta = non_negative_number(beta, "beta")
        weights = kl_weights(beta, warmup_steps(warmup_epochs, X.shape[0], batch_size))
        rng = self.rng
        # The one-hot labels ride along as extra columns, so that the training loop's shuffling
        # and batching keep every label with its sample; each step splits them off again.
        X_and_Y = np.hstack([X, Y])

        def step(batch, _target):
            X_batch, Y_batch = batch[:, :self.n_features], batch[:, self.n_features:]
            eps = rng.standard_normal((batch.shape[0], self.n_latent)).astype(self.dtype, copy=False)
            return self._loss_and_backward(X_batch, Y_batch, eps, next(weights))

        loss, reconstruction, kl = run_epochs(
            step, X_and_Y, *self._flat_params_and_grads(), epochs=epochs, lr=lr, batch_size=batch_size,
            optimizer=optimizer, rng=rng, progress=progress)
        self._check_codes_differ(X, self.encoder._forward(X_and_Y)[:, :self.n_latent])
        return {"loss": loss, "reconstruction": reconstruction, "kl": kl}
