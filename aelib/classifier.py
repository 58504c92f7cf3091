r"""A classifier: an MLP whose last layer gives one logit per class, trained with cross-entropy.

With the network's output :math:`A^{(K)}` (one row of :math:`d_K` logits per sample), the class
probabilities are :math:`\hat Y = \mathrm{softmax}(A^{(K)})` and the loss is the softmax
cross-entropy against the one-hot labels :math:`Y`, whose gradient at the logits is
:math:`\frac1n (\hat Y - Y)` (``aelib.losses``); from there the ``MLP``'s own backward pass does
the rest.
"""
import numpy as np

from . import activations as activation_functions
from . import losses
from .mlp import MLP, _check_sizes, parameter_shapes
from .serialization import SavedModel, bound_config
from .training import run_epochs
from .validation import as_data_matrix, as_dtype, as_seed, positive_int, seeded_generators


class Classifier(SavedModel):
    """An MLP classifier.

    sizes: [n_features, hidden..., n_classes], at least two classes; hidden layers use
    ``activation``, the last layer is linear (logits). seed: an int >= 0 (saved with the model)
    or None. dtype: "float64" (default) or "float32". ``network`` is the MLP; ``params`` its arrays.
    """

    def __init__(self, sizes, activation="relu", seed=None, dtype="float64"):
        sizes = _check_sizes(sizes)
        if sizes[-1] < 2:
            raise ValueError(f"sizes must end with the number of classes, at least 2, got {sizes!r}")
        activation_functions.get(activation, "activation")
        seed = as_seed(seed)
        dtype = as_dtype(dtype)
        self.config = {"sizes": sizes, "activation": activation, "seed": seed, "dtype": dtype.name}
        self.sizes, self.activation, self.dtype = sizes, activation, dtype
        network_rng, self.rng = seeded_generators(seed, 2)
        self.network = MLP(sizes, [activation] * (len(sizes) - 2) + ["identity"], seed=network_rng, dtype=dtype)

    @classmethod
    def _parameter_shapes(cls, config):
        # The weight shapes of a saved configuration, checked before the model is built.
        bound_config(cls, config)
        if not isinstance(config.get("sizes"), list):
            raise ValueError(f"sizes must be a list of layer widths, got {config.get('sizes')!r}")
        return parameter_shapes(_check_sizes(config["sizes"]))

    def __repr__(self):
        dtype = "" if self.dtype == np.float64 else f", dtype={self.dtype.name!r}"
        return f"Classifier({self.sizes}, activation={self.activation!r}{dtype})"

    @property
    def params(self):
        """[W1, b1, W2, b2, ...]: the network's live arrays."""
        return self.network.params

    @property
    def grads(self):
        """The gradients of the last backward pass, one-to-one with ``params``."""
        return self.network.grads

    @property
    def n_features(self):
        return self.sizes[0]

    @property
    def n_classes(self):
        return self.sizes[-1]

    def _check(self, X):
        return as_data_matrix(X, "X", self.n_features, dtype=self.dtype)

    def _targets(self, y, n_samples):
        y = np.asarray(y)
        if y.shape != (n_samples,):
            raise ValueError(f"y must hold one label per sample, shape ({n_samples},), got {y.shape}")
        return losses.one_hot(y, self.n_classes).astype(self.dtype)

    def predict_proba(self, X):
        """X: (n_samples, n_features) -> class probabilities (n_samples, n_classes), rows summing to 1."""
        return losses.softmax(self.network._forward(self._check(X)))

    def predict(self, X):
        """X: (n_samples, n_features) -> the most probable class of each sample: (n_samples,) ints."""
        return np.argmax(self.network._forward(self._check(X)), axis=1)

    def hidden(self, X, layer=1):
        """The activations H of hidden layer ``layer`` (1 to len(sizes) - 2): (n_samples, sizes[layer])."""
        if isinstance(layer, bool) or not isinstance(layer, (int, np.integer)) or not 1 <= layer <= len(self.sizes) - 2:
            raise ValueError(f"layer must be a hidden layer, from 1 to {len(self.sizes) - 2}, got {layer!r}")
        H = self._check(X)
        functions = [activation_functions.get(name)[0] for name in self.network.activations]
        for W, b, activate in zip(self.params[0:2 * layer:2], self.params[1:2 * layer:2], functions):
            H = activate(H @ W + b)
        return H

    def _loss_and_backward(self, X, Y):
        A = self.network._forward(X)
        loss = losses.softmax_cross_entropy(A, Y, check=False)
        self.network.backward_from_preactivation(losses.softmax_cross_entropy_grad(A, Y, check=False),
                                                 input_grad=False)
        return (loss,)

    def loss_and_grads(self, X, y):
        """The cross-entropy on X: (n_samples, n_features) with labels y: (n_samples,), and copies
        of its gradients, one per ``params`` array."""
        X = self._check(X)
        (loss,) = self._loss_and_backward(X, self._targets(y, X.shape[0]))
        return loss, [grad.copy() for grad in self.grads]

    def fit(self, X, y, epochs, lr=None, batch_size=None, optimizer="adam", progress=False):
        """Train on X: (n_samples, n_features) with labels y: (n_samples,) ints from 0 to n_classes - 1.

        Returns the cross-entropy of every epoch (list). lr, batch_size, optimizer and progress
        as in ``Autoencoder.fit``.
        """
        X = self._check(X)
        Y = self._targets(y, X.shape[0])
        # The one-hot labels ride along as extra columns, so that shuffling and batching keep
        # every sample with its label.
        data = np.hstack([X, Y])

        def step(batch, _target):
            return self._loss_and_backward(batch[:, :self.n_features], batch[:, self.n_features:])

        (history,) = run_epochs(step, data, (self.network.flat_params,), (self.network.flat_grads,),
                                epochs=epochs, lr=lr, batch_size=batch_size, optimizer=optimizer, rng=self.rng,
                                progress=progress)
        return history
