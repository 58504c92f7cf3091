"""What the autoencoder and the VAE share: two MLPs and their parameters (saving and loading
come from ``serialization.SavedModel``).

A subclass sets ``sizes`` ([n_features, hidden..., n_latent]) and ``config`` (its constructor's
arguments, enough to rebuild it), and calls ``_build`` for ``encoder`` and ``decoder`` (MLPs),
``dtype`` and ``rng`` (for training).

Both networks keep their weights in consecutive parts of one flat vector (and their gradients
in one other), so the optimizer updates the whole model with one set of whole-vector operations
instead of one per network.
"""
import numpy as np

from .mlp import MLP, ParameterList, _check_sizes, n_params, parameter_shapes
from .serialization import SavedModel, bound_config
from .training import TrainingDivergedError
from .validation import seeded_generators, unshared

# Codes whose every coordinate spreads over less than this, times their size, are one code.
COLLAPSE_SPREAD = 1e-8


class EncoderDecoder(SavedModel):
    """Base class of ``Autoencoder`` and ``VAE``.

    A subclass defines ``_network_sizes(sizes)``: the layer widths of its encoder and decoder.
    Saving and loading come from ``serialization.SavedModel``.
    """

    @classmethod
    def _parameter_shapes(cls, config):
        # The weight shapes of the model a saved configuration describes, without building it.
        bound_config(cls, config)
        if not isinstance(config.get("sizes"), list):
            raise ValueError(f"sizes must be a list of layer widths, got {config.get('sizes')!r}")
        encoder_sizes, decoder_sizes = cls._network_sizes(_check_sizes(config["sizes"]))
        return parameter_shapes(encoder_sizes) + parameter_shapes(decoder_sizes)

    def _build(self, encoder, decoder, seed, dtype):
        # encoder, decoder: (sizes, activations) of each MLP. Weights are drawn from independent
        # streams, one per network, and the third stream is kept for shuffling and noise.
        # Independent streams: encoder weights, decoder weights, and shuffling and noise.
        encoder_rng, decoder_rng, self.rng = seeded_generators(seed, 3)
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
        # Both networks keep their weights and gradients in parts of these two vectors.
        return unshared(X, self._flat_params, self._flat_grads)

    def _check_codes_differ(self, X, codes):
        """Raise TrainingDivergedError if samples that differ all got the same code after training.

        X: (n_samples, n_features) the training data; codes: (n_samples, n_latent) their codes
        (the means, for a VAE). One code for every sample means one picture for every sample:
        typically ReLU units that output 0 for every sample (dead: no gradient reaches them
        again) or saturated tanh units, after steps too large. On the book's 41 training runs the
        codes spread over at least 2.5 (the smallest range of a latent coordinate); a collapsed
        run spreads over 0 (dead ReLUs) or 4.5e-12 (saturated tanh units, Adam with lr=0.3), so
        a spread below 1e-8 times the codes' size is called collapse.
        """
        if len(X) < 2 or not np.ptp(X, axis=0).any():
            return
        spread = float(np.ptp(codes, axis=0).max())
        if spread > COLLAPSE_SPREAD * max(1.0, float(np.abs(codes).max())):
            return
        cause = "the hidden units saturated (every sample drives them to the same values)"
        for layer, (name, output) in enumerate(zip(self.encoder.activations, self.encoder._inputs[1:] +
                                                    [self.encoder._last_output])):
            if name == "relu" and not output.any():
                what = "code" if layer == len(self.encoder.activations) - 1 else f"hidden layer {layer + 1}"
                cause = (f"every ReLU unit of the encoder's {what} outputs 0 for every sample: the units are "
                         "dead (a ReLU at 0 passes no gradient, so training cannot revive them)")
                break
        raise TrainingDivergedError(
            f"training collapsed: all {len(X)} samples end with the same code (the codes spread over "
            f"{spread:.3g}), so every sample is decoded alike. Likely cause: {cause}. Train again with a "
            "smaller lr" + (", or another activation (e.g. 'tanh')" if "ReLU" in cause else "") + ".")

    def _flat_params_and_grads(self):
        # What the optimizer updates: all weights of both networks, one flat vector.
        return (self._flat_params,), (self._flat_grads,)
