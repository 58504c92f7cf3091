r"""The autoencoder: an encoder MLP :math:`f` and a mirrored decoder MLP :math:`g`.

A sample :math:`x` is squeezed into a code :math:`z = f(x)` and rebuilt as
:math:`\hat x = g(z)`; training minimises a reconstruction loss between :math:`\hat x` and
:math:`x` (binary cross-entropy for pixels in [0, 1], or mean squared error).
"""
import numpy as np

from . import activations as activation_functions
from . import losses
from .encoder_decoder import EncoderDecoder
from .mlp import _check_sizes
from .training import run_epochs
from .validation import as_data_matrix, as_dtype, as_seed

LOSSES = ("bce", "mse")
BCE_NEEDS_UNIT_INTERVAL = ("loss='bce' (the binary cross-entropy) compares each value with a probability; "
                           "rescale the data, e.g. (X - X.min()) / (X.max() - X.min()), or build the model "
                           "with loss='mse' and an output_activation such as 'identity'")


class Autoencoder(EncoderDecoder):
    """An autoencoder whose decoder mirrors its encoder.

    sizes: [n_features, hidden..., n_latent]; e.g. [35, 30, 20, 2] builds the encoder
    35->30->20->2 and the decoder 2->20->30->35. Hidden layers use ``activation``, the code layer
    ``latent_activation`` (linear by default) and the output ``output_activation``.
    loss: "bce" (needs a sigmoid output and data in [0, 1]) or "mse". seed: an int >= 0 (saved
    with the model) or None. dtype: "float64" (default) or "float32" (or np.float64,
    np.float32), the type of every weight, gradient, activation and output; data of another
    type are converted once per call (once per ``fit``, not per batch).
    """

    def __init__(self, sizes, activation="tanh", output_activation="sigmoid", loss="bce", seed=None,
                 latent_activation="identity", dtype="float64"):
        sizes = _check_sizes(sizes)
        for argument, name in (("activation", activation), ("output_activation", output_activation),
                               ("latent_activation", latent_activation)):
            activation_functions.get(name, argument)
        if loss not in LOSSES:
            raise ValueError(f"loss must be one of {LOSSES}, got {loss!r}")
        if loss == "bce" and output_activation != "sigmoid":
            raise ValueError(
                f"loss='bce' compares probabilities, so output_activation must be 'sigmoid', "
                f"got {output_activation!r} (or use loss='mse')")
        seed = as_seed(seed)
        dtype = as_dtype(dtype)
        self.config = {"sizes": sizes, "activation": activation, "output_activation": output_activation,
                       "loss": loss, "seed": seed, "latent_activation": latent_activation, "dtype": dtype.name}
        self.sizes, self.loss = sizes, loss
        hidden = [activation] * (len(sizes) - 2)
        encoder_sizes, decoder_sizes = self._network_sizes(sizes)
        self._build((encoder_sizes, hidden + [latent_activation]), (decoder_sizes, hidden + [output_activation]),
                    seed, dtype)

    @staticmethod
    def _network_sizes(sizes):
        # The encoder's layer widths, and the decoder's: the same in reverse.
        return sizes, sizes[::-1]

    def __repr__(self):
        dtype = "" if self.dtype == np.float64 else f", dtype={self.dtype.name!r}"
        return f"Autoencoder({self.sizes}, loss={self.loss!r}{dtype})"

    def _check(self, X, name="X"):
        unit_interval = BCE_NEEDS_UNIT_INTERVAL if self.loss == "bce" else False
        return self._unshared(as_data_matrix(X, name, self.n_features, unit_interval=unit_interval, dtype=self.dtype))

    def encode(self, X):
        """X: (n_samples, n_features) -> Z: (n_samples, n_latent)."""
        return self.encoder._forward(as_data_matrix(X, "X", self.n_features, dtype=self.dtype))

    def decode(self, Z):
        """Z: (n_samples, n_latent) -> X_hat: (n_samples, n_features)."""
        return self.decoder._forward(as_data_matrix(Z, "Z", self.n_latent, dtype=self.dtype))

    def reconstruct(self, X):
        """X: (n_samples, n_features) -> X_hat = g(f(X)): (n_samples, n_features)."""
        return self.decoder._forward(self.encode(X))

    def _loss_and_backward(self, X_input, X_target):
        # One forward and backward pass; fills self.grads and returns (loss,). The callers have
        # checked X_input and X_target, so the losses skip their own checks (check=False).
        Z = self.encoder._forward(X_input)
        X_hat = self.decoder._forward(Z)
        if self.loss == "bce":
            logits = self.decoder.last_preactivation
            loss = losses.bce_with_logits(logits, X_target, check=False)
            # Sigmoid and cross-entropy fuse: dL/dlogits = (X_hat - X) / N.
            dZ = self.decoder.backward_from_preactivation((X_hat - X_target) / X_target.size)
        else:
            loss = losses.mse(X_hat, X_target, check=False)
            dZ = self.decoder.backward(losses.mse_grad(X_hat, X_target, check=False))
        self.encoder.backward(dZ, input_grad=False)
        return (loss,)

    def loss_and_grads(self, X, X_target=None):
        """The loss of reconstructing ``X_target`` (default X) from X, and copies of its gradients.

        Returns (loss, grads) with grads one-to-one with ``params``; for gradient checking.
        """
        X = self._check(X)
        X_target = X if X_target is None else self._check(X_target, "X_target")
        if X_target.shape != X.shape:
            raise ValueError(f"X_target must have one row per row of X, shape {X.shape}, got {X_target.shape}")
        (loss,) = self._loss_and_backward(X, X_target)
        return loss, [grad.copy() for grad in self.grads]

    def fit(self, X, epochs, lr=None, batch_size=None, optimizer="adam", noise=None, progress=False):
        """Train to reconstruct X: (n_samples, n_features). Returns the loss of every epoch (list).

        batch_size: None for full batch, or the minibatch size (reshuffled every epoch).
        optimizer: "adam" or "sgd" with learning rate ``lr``, or an object with
        ``step(params, grads)`` (e.g. ``aelib.Adam(lr=0.01)``), which uses its own learning rate:
        leave ``lr`` out then (a different ``lr`` is a ValueError).
        noise: a function ``noise(X_batch, rng=rng)``; each batch is corrupted afresh and the
        clean batch is the target (a denoising autoencoder). It must return an array of the
        batch's shape.
        Raises TrainingDivergedError naming the likely cause if the loss explodes or rises and
        stays high (see ``aelib.training.run_epochs`` for the exact rules), or if training ends
        with the same code for every sample of X, e.g. because every ReLU unit of the code died
        (see ``EncoderDecoder._check_codes_differ``).
        """
        X = self._check(X)
        (history,) = run_epochs(
            self._loss_and_backward, X, *self._flat_params_and_grads(), epochs=epochs, lr=lr, batch_size=batch_size, optimizer=optimizer,
            rng=self.rng, noise=noise, progress=progress)
        self._check_codes_differ(X, self.encoder._forward(X))
        return history
