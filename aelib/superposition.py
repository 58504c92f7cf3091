r"""The toy model of superposition (Elhage et al., 2022): more features than dimensions.

A sample holds :math:`d` features, each zero with probability :math:`1 - \gamma` and uniform on
:math:`[0, 1]` otherwise (``sparse_features``). The model squeezes them into :math:`d_1 < d`
dimensions and reads them back with the transpose of the same weights, through a ReLU:

.. math::
    H = X W, \qquad A = H W^\top + \mathbf{1} b, \qquad \hat X = \mathrm{ReLU}(A),

with :math:`W` of shape :math:`(d, d_1)`: row :math:`j` is the direction in which feature
:math:`j` is stored. The loss weighs each feature's squared error by its importance
:math:`\omega_j` (all 1 by default), as a mean over every entry:
:math:`L = \frac{1}{nd} \sum_{i,j} \omega_j (\hat x_{ij} - x_{ij})^2`.

Its gradient: with :math:`\Delta = \partial L / \partial A = \frac{2}{nd}\, \omega \odot
(\hat X - X) \odot [A > 0]`, :math:`\partial L / \partial b = \sum_i \Delta_{i,:}` and

.. math::
    \frac{\partial L}{\partial W} = X^\top \Delta W + \Delta^\top H,

one term for each place where :math:`W` is used: as the encoder (:math:`H = XW`) and,
transposed, as the decoder.

When features are dense, the model keeps the :math:`d_1` most important ones, one per
dimension, and drops the rest. When they are sparse (:math:`\gamma` small), two features are
rarely active together, so the model can afford to store more than :math:`d_1` of them in
nearly orthogonal directions (5 in 2 dimensions as a pentagon) and let the ReLU and the bias
clean up the small interference: *superposition*.
"""
import numpy as np

from .mlp import flat_views
from .serialization import SavedModel, bound_config
from .training import run_epochs
from .validation import (as_data_matrix, as_dtype, as_generator, as_seed, positive_int, probability,
                         seeded_generators, unshared)

PARAM_NAMES = ("W", "b")


def sparse_features(n_samples, n_features, p, rng=None):
    """X: float64 (n_samples, n_features) of independent sparse features.

    Each entry is 0 with probability 1 - p, else uniform on [0, 1].
    p: the probability that a feature is active. rng: a seed or a Generator.
    """
    n_samples = positive_int(n_samples, "n_samples")
    n_features = positive_int(n_features, "n_features")
    p = probability(p, "p")
    rng = as_generator(rng)
    values = rng.random((n_samples, n_features))
    active = rng.random((n_samples, n_features)) < p
    return np.where(active, values, 0.0)


def random_directions(n_directions, n_dims, rng=None):
    """n_directions random unit vectors in n_dims dimensions: (n_directions, n_dims).

    Each is a standard normal vector divided by its length, so every direction is equally likely.
    """
    n_directions = positive_int(n_directions, "n_directions")
    n_dims = positive_int(n_dims, "n_dims")
    directions = as_generator(rng).standard_normal((n_directions, n_dims))
    return directions / np.linalg.norm(directions, axis=1, keepdims=True)


class ToyModel(SavedModel):
    """The toy model of superposition: ``n_features`` features stored in ``n_hidden`` dimensions.

    importance: None (every feature 1) or ``n_features`` numbers >= 0, the weights omega of the
    features' squared errors. seed: an int >= 0 (saved with the model) or None. dtype:
    "float64" (default) or "float32". W starts from the Glorot uniform distribution, b at zero.
    ``params`` are [W (n_features, n_hidden), b (n_features,)]; ``directions`` is a copy of W.
    """

    param_names = PARAM_NAMES

    def __init__(self, n_features, n_hidden, importance=None, seed=None, dtype="float64"):
        n_features = positive_int(n_features, "n_features")
        n_hidden = positive_int(n_hidden, "n_hidden")
        if importance is None:
            weights = np.ones(n_features)
        else:
            try:
                weights = np.asarray(importance)
            except ValueError:  # a ragged list, e.g. [1, [1, 2], 1]
                weights = None
            weights = weights.astype(np.float64) if weights is not None and weights.dtype.kind in "biuf" else None
            if weights is None or weights.shape != (n_features,) or not np.all(np.isfinite(weights)) \
                    or np.any(weights < 0):
                raise ValueError(f"importance must be None or {n_features} finite numbers >= 0, one per "
                                 f"feature, got {importance!r}")
        seed = as_seed(seed)
        dtype = as_dtype(dtype)
        self.config = {"n_features": n_features, "n_hidden": n_hidden,
                       "importance": None if importance is None else weights.tolist(), "seed": seed,
                       "dtype": dtype.name}
        self.n_features, self.n_hidden, self.dtype = n_features, n_hidden, dtype
        self.importance = weights.astype(dtype)
        self._flat_params = np.zeros(n_features * n_hidden + n_features, dtype=dtype)
        self._flat_grads = np.zeros_like(self._flat_params)
        shapes = [(n_features, n_hidden), (n_features,)]
        self._params = flat_views(self._flat_params, shapes)
        self._grads = flat_views(self._flat_grads, shapes, "grads")
        init_rng, self.rng = seeded_generators(seed, 2)
        limit = np.sqrt(6.0 / (n_features + n_hidden))
        self._params[0][...] = init_rng.uniform(-limit, limit, (n_features, n_hidden))

    @classmethod
    def _parameter_shapes(cls, config):
        # The weight shapes of a saved configuration, checked before the model is built.
        bound_config(cls, config)
        d = positive_int(config.get("n_features"), "n_features")
        return [(d, positive_int(config.get("n_hidden"), "n_hidden")), (d,)]

    def __repr__(self):
        dtype = "" if self.dtype == np.float64 else f", dtype={self.dtype.name!r}"
        return f"ToyModel({self.n_features}, {self.n_hidden}{dtype})"

    @property
    def params(self):
        """[W, b]: the live arrays (write into them; they cannot be replaced)."""
        return self._params

    @property
    def grads(self):
        """The gradients of the last backward pass, one-to-one with ``params``."""
        return self._grads

    @property
    def directions(self):
        """W: (n_features, n_hidden), a copy; row j is the direction in which feature j is stored."""
        return self._params[0].copy()

    def _check(self, X):
        return unshared(as_data_matrix(X, "X", self.n_features, dtype=self.dtype),
                        self._flat_params, self._flat_grads)

    def encode(self, X):
        """X: (n_samples, n_features) -> H = X W: (n_samples, n_hidden), the hidden activations."""
        return self._check(X) @ self._params[0]

    def decode(self, H):
        """H: (n_samples, n_hidden) -> X_hat = ReLU(H W^T + b): (n_samples, n_features)."""
        W, b = self._params
        A = as_data_matrix(H, "H", self.n_hidden, dtype=self.dtype) @ W.T
        A += b
        return np.maximum(A, 0.0)

    def reconstruct(self, X):
        """X: (n_samples, n_features) -> X_hat = decode(encode(X))."""
        return self.decode(self.encode(X))

    def _loss_and_backward(self, X):
        # One forward and backward pass (the formulas of the module's docstring); fills
        # self.grads and returns (loss,). X is checked and of the model's dtype.
        W, b = self._params
        dW, db = self._grads
        H = X @ W
        A = H @ W.T
        A += b
        X_hat = np.maximum(A, 0.0)
        weighted = self.importance * (X_hat - X)
        loss = float(np.sum(weighted * (X_hat - X))) / X.size
        delta = weighted * (2.0 / X.size)
        delta *= A > 0
        delta.sum(axis=0, out=db)
        np.matmul(X.T, delta @ W, out=dW)
        dW += delta.T @ H
        return (loss,)

    def loss_and_grads(self, X):
        """The loss on X: (n_samples, n_features) and copies of its gradients, one per ``params`` array."""
        (loss,) = self._loss_and_backward(self._check(X))
        return loss, [grad.copy() for grad in self._grads]

    def fit(self, X, epochs, lr=None, batch_size=None, optimizer="adam", progress=False):
        """Train on X: (n_samples, n_features). Returns the loss of every epoch (list).

        lr, batch_size, optimizer and progress as in ``Autoencoder.fit``. Raises
        TrainingDivergedError naming the likely cause if the loss explodes.
        """
        (history,) = run_epochs(lambda X_batch, _target: self._loss_and_backward(X_batch), self._check(X),
                                (self._flat_params,), (self._flat_grads,), epochs=epochs, lr=lr,
                                batch_size=batch_size, optimizer=optimizer, rng=self.rng, progress=progress)
        return history
