"""What the autoencoder and the VAE share: two MLPs, their parameters, and saving and loading.

A subclass sets ``sizes`` ([n_features, hidden..., n_latent]) and ``config`` (its constructor's
arguments, enough to rebuild it), and calls ``_build`` for ``encoder`` and ``decoder`` (MLPs),
``dtype`` and ``rng`` (for training).

Both networks keep their weights in consecutive parts of one flat vector (and their gradients
in one other), so the optimizer updates the whole model with one set of whole-vector operations
instead of one per network.
"""
import functools
import inspect

import numpy as np

from .mlp import MLP, ParameterList, _check_sizes, n_params
from .serialization import copy_params, load_model, save_model
from .training import TrainingDivergedError

# Codes whose every coordinate spreads over less than this, times their size, are one code.
COLLAPSE_SPREAD = 1e-8


def seeded_generators(seed):
    """Three independent generators from one seed: encoder weights, decoder weights, training."""
    return [np.random.default_rng(child) for child in np.random.SeedSequence(seed).spawn(3)]


def parameter_shapes(sizes):
    """The shapes [W1, b1, W2, b2, ...] of an MLP with these layer widths (nothing is allocated)."""
    shapes = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        shapes += [(fan_in, fan_out), (fan_out,)]
    return shapes


class class_only_method:
    """A classmethod that refuses to be called on an instance, e.g. ``load``, which makes a new model.

    ``model.load(path)`` would return a new model and leave ``model`` as it was, untrained: a
    mistake that shows only much later. Called on an instance, it raises TypeError showing the call.
    """

    def __init__(self, function):
        self.function = function
        functools.update_wrapper(self, function)

    def __get__(self, instance, owner):
        if instance is None:
            return self.function.__get__(owner, type(owner))
        name, cls = self.function.__name__, type(instance).__name__

        @functools.wraps(self.function)
        def refuse(*args, **kwargs):
            raise TypeError(
                f"{name} is called on the class and returns a new model: model = {cls}.{name}(path). "
                f"Called on a model it would leave that model unchanged (its weights are not replaced).")
        return refuse


class EncoderDecoder:
    """Base class of ``Autoencoder`` and ``VAE``.

    A subclass defines ``_network_sizes(sizes)``: the layer widths of its encoder and decoder.
    """

    @classmethod
    def _parameter_shapes(cls, config):
        # The weight shapes of the model a saved configuration describes, without building it.
        try:
            inspect.signature(cls).bind(**config)
        except TypeError as error:
            raise ValueError(f"{cls.__name__} takes no such arguments: {error}") from None
        if not isinstance(config.get("sizes"), list):
            raise ValueError(f"sizes must be a list of layer widths, got {config.get('sizes')!r}")
        encoder_sizes, decoder_sizes = cls._network_sizes(_check_sizes(config["sizes"]))
        return parameter_shapes(encoder_sizes) + parameter_shapes(decoder_sizes)

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

    def save(self, path):
        """Write architecture and weights to ``path`` (.npz), atomically.

        path: a str or pathlib.Path. The file is replaced in one step once the whole model is
        serialized, so a failed save leaves an existing file intact. Weights that are NaN or
        infinite are refused (ValueError): such a model diverged and could not be loaded back.
        """
        save_model(path, type(self).__name__, self.config, self.params)

    @class_only_method
    def load(cls, path):
        """Read a model written by ``save``: ``model = Autoencoder.load(path)`` (or ``VAE.load``).

        Returns a new model; raises ValueError naming the file if it is not one (or if its
        configuration does not match its weights, checked before the model is built), and
        TypeError when called on a model instead of the class.
        """
        config, stored = load_model(path, cls.__name__, cls._parameter_shapes)
        try:
            model = cls(**config)
        except (TypeError, ValueError) as error:
            raise ValueError(f"{path}: invalid architecture {config!r}: {error}") from None
        copy_params(path, model.params, stored)
        return model
