"""What the autoencoder and the VAE share: two MLPs and their parameters (saving and loading come
from ``serialization.SavedModel``).

A subclass sets ``sizes`` ([n_features, hidden..., n_latent]) and ``config`` (its constructor's
arguments, enough to rebuild it), and calls ``_build`` for ``encoder`` and ``decoder`` (MLPs),
``dtype`` and ``rng`` (for training).

Both networks keep their weights in consecutive parts of one flat vector (and their gradients
in one other), so the optimizer updates the whole model with one set of whole-vector operations
instead of one per network.
"""
import numpy as np

from .mlp import MLP, ParameterList, n_params
from .serialization import SavedModel


def seeded_generators(seed):
    """Three independent generators from one seed: encoder weights, decoder weights, training."""
    return [np.random.default_rng(child) for child in np.random.SeedSequence(seed).spawn(3)]


class EncoderDecoder(SavedModel):
    """Base class of ``Autoencoder`` and ``VAE``."""

    def _build(self, encoder, decoder, seed, dtype):
        # encoder, decoder: (sizes, activations) of each MLP. Weights are drawn from independent
        # streams, one per network, and the third stream is kept for shuffling and noise.
        encoder_rng, decoder_rng, self.rng = seeded_generators(seed)
        n_encoder, n_decoder = n_params(encoder[0]), n_params(decoder[0])
        self._flat_params = np.zeros(n_encoder + n_decoder, dtype=dtype)
        self._flat_grads = np.zeros(n_encoder + n_decoder, dtype=dtype)
        parts = (slice(0, n_encoder), slice(n_encoder, None))
        self.encoder, self.decoder = (
            MLP(*network, seed=rng, dtype=dtype, buffers=(self._flat_params[part], self._flat_grads[part]))
            for network, rng, part in zip((encoder, decoder), (encoder_rng, decoder_rng), parts))
        self.dtype = self.encoder.dtype

    @property
    def params(self):
        """[encoder W1, b1, ..., decoder W1, b1, ...]: the live arrays (write into them; they cannot be replaced)."""
        return ParameterList(self.encoder.params + self.decoder.params)

    @property
    def grads(self):
        """The gradients of the last backward pass, one-to-one with ``params``."""
        return ParameterList(self.encoder.grads + self.decoder.grads, "grads")

    @property
    def n_features(self):
        return self.sizes[0]

    @property
    def n_latent(self):
        return self.sizes[-1]

    def _unshared(self, X):
        # Training data that share memory with the weights or gradients (say, X = model.params[0])
        # would be rewritten by every step: train on a copy of them instead.
        networks = (self.encoder, self.decoder)
        if any(np.may_share_memory(X, flat) for net in networks for flat in (net.flat_params, net.flat_grads)):
            return X.copy()
        return X

    def _flat_params_and_grads(self):
        # What the optimizer updates: all weights of both networks, one flat vector.
        return (self._flat_params,), (self._flat_grads,)
