"""What the autoencoder and the VAE share: two MLPs, their parameters, and saving and loading.

A subclass sets ``sizes`` ([n_features, hidden..., n_latent]), ``config`` (its constructor's
arguments, enough to rebuild it), ``encoder`` and ``decoder`` (MLPs) and ``rng`` (for training).
"""
import numpy as np

from .mlp import ParameterList
from .serialization import copy_params, load_model, save_model


def seeded_generators(seed):
    """Three independent generators from one seed: encoder weights, decoder weights, training."""
    return [np.random.default_rng(child) for child in np.random.SeedSequence(seed).spawn(3)]


class EncoderDecoder:
    """Base class of ``Autoencoder`` and ``VAE``."""

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
        # What the optimizer updates: each network's weights are one flat vector.
        return ((self.encoder.flat_params, self.decoder.flat_params),
                (self.encoder.flat_grads, self.decoder.flat_grads))

    def save(self, path):
        """Write architecture and weights to ``path`` (.npz), atomically.

        path: a str or pathlib.Path. The file is replaced in one step once the whole model is
        serialized, so a failed save leaves an existing file intact. Weights that are NaN or
        infinite are refused (ValueError): such a model diverged and could not be loaded back.
        """
        save_model(path, type(self).__name__, self.config, self.params)

    @classmethod
    def load(cls, path):
        """Read a model written by ``save``; raises ValueError naming the file if it is not one."""
        config, stored = load_model(path, cls.__name__)
        try:
            model = cls(**config)
        except (TypeError, ValueError) as error:
            raise ValueError(f"{path}: invalid architecture {config!r}: {error}") from None
        copy_params(path, model.params, stored)
        return model
