r"""The sparse autoencoder (SAE): sparse codes over an overcomplete dictionary of unit directions.

An SAE reads activations, rows :math:`x` of :math:`d` numbers (say, a hidden layer of another
network), and writes each as a sparse, non-negative combination of :math:`k > d` learned
directions, the rows of the decoder's weights :math:`W_\text{dec}` (the *dictionary*), plus a
bias :math:`b_\text{dec}`. The decoder bias is subtracted before encoding:

.. math::
    A = (X - \mathbf{1} b_\text{dec}) W_\text{enc} + \mathbf{1} b_\text{enc}, \qquad
    Z = \mathrm{ReLU}(A) \;\;\text{or}\;\; Z = \mathrm{ReLU}\big(\mathrm{TopK}(A)\big), \qquad
    \hat X = Z W_\text{dec} + \mathbf{1} b_\text{dec},

where TopK keeps the :math:`k_\text{top}` largest entries of each row of :math:`A` and sets
the others to zero (Gao et al., 2024). The loss is the squared error per sample, plus, for
an L1 SAE (Bricken et al., 2023), :math:`\lambda` times the sum of the codes:

.. math::
    L = \frac1n \sum_i \lVert \hat x_i - x_i \rVert^2 + \frac{\lambda}{n} \sum_i \sum_u z_{iu}.

Its gradient, with :math:`G = \partial L / \partial \hat X = \frac2n (\hat X - X)` and
:math:`\Delta = \partial L / \partial A`:

.. math::
    \frac{\partial L}{\partial W_\text{dec}} = Z^\top G, \quad
    \Delta = \big(G W_\text{dec}^\top + \tfrac{\lambda}{n}\big) \odot [Z > 0], \quad
    \frac{\partial L}{\partial W_\text{enc}} = (X - \mathbf{1} b_\text{dec})^\top \Delta, \quad
    \frac{\partial L}{\partial b_\text{enc}} = \textstyle\sum_i \Delta_{i,:}, \quad
    \frac{\partial L}{\partial b_\text{dec}} = \textstyle\sum_i G_{i,:} - W_\text{enc} \sum_i \Delta_{i,:}.

:math:`[Z > 0]` is the ReLU's derivative, and under TopK also the selection's: which entries
are kept does not change under a small enough nudge of the weights, so the kept entries pass
their gradient and the others pass none. :math:`b_\text{dec}` is used twice, added at the
output and subtracted at the input, so its two paths add.

The dictionary's rows are held at unit norm. Without that, an L1 SAE would dodge its penalty:
halving every code and doubling every direction gives the same reconstruction at half the
penalty. ``fit`` removes from each row's gradient its component along the row (which could
only change the row's length) before the optimizer step, and rescales each row to length 1
after it (Bricken et al., 2023). ``loss_and_grads`` returns the plain gradient of the loss.

Initialisation follows Gao et al. (2024): random unit rows for the dictionary, the encoder its
transpose, zero biases; the first ``fit`` starts :math:`b_\text{dec}` at the mean row of the
data, so that the encoder sees centred activations from the first step.
"""
import numbers

import numpy as np

from .mlp import flat_views
from .serialization import SavedModel, bound_config
from .training import run_epochs
from .validation import (as_data_matrix, as_dtype, as_seed, non_negative_number, positive_int, seeded_generators,
                         unshared)

PARAM_NAMES = ("W_enc", "b_enc", "W_dec", "b_dec")


def top_k_relu(A, k):
    """ReLU of the k largest entries of each row of A: (n_samples, n_latent).

    Zero elsewhere. Exactly k entries of a row are kept (1 <= k <= n_latent),
    so a row has at most k non-zeros.
    """
    A = _top_k_arguments(A, k)  # a wrong shape or k is named here, not deep in numpy
    # Each row's k-th largest value is its threshold (np.partition finds it
    # three times faster than np.argpartition finds the positions).
    threshold = np.partition(A, -k, axis=1)[:, -k, None]
    kept = A >= threshold
    ties = np.count_nonzero(kept, axis=1) > k
    if ties.any():
        # Entries equal to the threshold would make more than k: keep k.
        rows = np.flatnonzero(ties)
        kept[rows] = False
        top = np.argpartition(A[rows], -k, axis=1)[:, -k:]
        kept[rows[:, None], top] = True
    Z = np.maximum(A, 0.0)
    Z *= kept
    return Z


def _top_k_arguments(A, k):
    # A as a 2-D numpy array, if k is an integer from 1 to its width; else raise. (k = 0 or
    # k = -1 would silently keep every positive entry.) NaN are let through: in training they
    # make the loss NaN, which the training loop reports as divergence.
    A = np.asarray(A)
    if A.dtype.kind not in "biuf":
        raise TypeError(f"A must be a 2-D array of real numbers, got dtype {A.dtype}")
    if A.ndim != 2:
        raise ValueError(f"A must be 2-D (n_samples, n_latent), got shape {A.shape}")
    if isinstance(k, bool) or not isinstance(k, numbers.Integral):
        raise TypeError(f"k must be an integer from 1 to n_latent = {A.shape[1]}, got {k!r}")
    if not 1 <= k <= A.shape[1]:
        raise ValueError(f"k must be an integer from 1 to n_latent = {A.shape[1]} (the number of entries "
                         f"kept in each row of A), got k={k}")
    return A


class SparseAutoencoder(SavedModel):
    """A sparse autoencoder with ``n_latent`` latents on activations of ``n_features`` numbers.

    Give exactly one of ``k`` (a TopK SAE: each sample keeps its k largest pre-activations,
    1 <= k <= n_latent) and ``l1`` (an L1 SAE: the penalty weight lambda >= 0 on the codes).
    seed: an int >= 0 (saved with the model) or None. dtype: "float64" (default) or "float32".

    ``params`` are [W_enc (n_features, n_latent), b_enc (n_latent,), W_dec (n_latent,
    n_features), b_dec (n_features,)] (names in ``param_names``), live arrays in one flat vector
    like an ``MLP``'s; ``dictionary`` is a copy of W_dec, whose rows have unit norm.

    A recipe for activations made of n sparse features in n_features dimensions (each active
    with probability about 0.05, k near the expected number active per sample):
    ``SparseAutoencoder(n_features, 2 * n, k=k).fit(X, epochs=50, lr=3e-3, batch_size=1024)``
    on 60,000 samples (about 3,000 steps); tests/test_sparse.py holds it to finding at least 95%
    of the true directions at |cos| > 0.9 on problems drawn afresh.
    """

    param_names = PARAM_NAMES

    def __init__(self, n_features, n_latent, k=None, l1=None, seed=None, dtype="float64"):
        n_features = positive_int(n_features, "n_features")
        n_latent = positive_int(n_latent, "n_latent")
        if (k is None) == (l1 is None):
            given = "neither" if k is None else f"both (k={k!r}, l1={l1!r})"
            raise ValueError("give exactly one of k (a TopK SAE keeps the k largest pre-activations of each "
                             f"sample) and l1 (the weight of an L1 penalty on the codes), got {given}")
        if k is not None:
            k = positive_int(k, "k")
            if k > n_latent:
                raise ValueError(f"k must be at most n_latent = {n_latent} (each sample keeps k of the "
                                 f"n_latent latents), got k={k}")
        else:
            l1 = non_negative_number(l1, "l1")
        seed = as_seed(seed)
        dtype = as_dtype(dtype)
        self.config = {"n_features": n_features, "n_latent": n_latent, "k": k, "l1": l1, "seed": seed,
                       "dtype": dtype.name}
        self.n_features, self.n_latent, self.k, self.l1, self.dtype = n_features, n_latent, k, l1, dtype

        shapes = [(n_features, n_latent), (n_latent,), (n_latent, n_features), (n_features,)]
        size = sum(int(np.prod(shape)) for shape in shapes)
        # One flat vector of weights and one of gradients, which the optimizer updates whole.
        self._flat_params = np.zeros(size, dtype=dtype)
        self._flat_grads = np.zeros(size, dtype=dtype)
        self._params = flat_views(self._flat_params, shapes)
        self._grads = flat_views(self._flat_grads, shapes, "grads")

        init_rng, self.rng = seeded_generators(seed, 2)
        directions = init_rng.standard_normal((n_latent, n_features))
        directions /= np.linalg.norm(directions, axis=1, keepdims=True)
        W_enc, _, W_dec, _ = self._params
        W_dec[...] = directions       # drawn in float64, rounded to dtype
        W_enc[...] = directions.T
        self._new = True              # the first fit starts b_dec at the data's mean

    def __repr__(self):
        rule = f"k={self.k}" if self.k is not None else f"l1={self.l1:g}"
        dtype = "" if self.dtype == np.float64 else f", dtype={self.dtype.name!r}"
        return f"SparseAutoencoder({self.n_features}, {self.n_latent}, {rule}{dtype})"

    @property
    def params(self):
        """[W_enc, b_enc, W_dec, b_dec]: the live arrays (write into them; they cannot be replaced)."""
        return self._params

    @property
    def grads(self):
        """The gradients of the last backward pass, one-to-one with ``params``."""
        return self._grads

    @property
    def dictionary(self):
        """The decoder's directions, (n_latent, n_features), one unit-norm row per latent (a copy)."""
        return self._params[2].copy()

    def _check(self, X, name="X"):
        return unshared(as_data_matrix(X, name, self.n_features, dtype=self.dtype),
                        self._flat_params, self._flat_grads)

    def _sparse_codes(self, A):
        return np.maximum(A, 0.0) if self.k is None else top_k_relu(A, self.k)

    def encode(self, X):
        """X: (n_samples, n_features) -> Z: (n_samples, n_latent), non-negative; under TopK at
        most k non-zeros per row."""
        W_enc, b_enc, _, b_dec = self._params
        A = (self._check(X) - b_dec) @ W_enc
        A += b_enc
        return self._sparse_codes(A)

    def decode(self, Z):
        """Z: (n_samples, n_latent) -> X_hat = Z W_dec + b_dec: (n_samples, n_features)."""
        _, _, W_dec, b_dec = self._params
        X_hat = as_data_matrix(Z, "Z", self.n_latent, dtype=self.dtype) @ W_dec
        X_hat += b_dec
        return X_hat

    def reconstruct(self, X):
        """X: (n_samples, n_features) -> X_hat = decode(encode(X)): (n_samples, n_features)."""
        return self.decode(self.encode(X))

    def _loss_and_backward(self, X):
        # One forward and backward pass (the formulas of the module's docstring); fills
        # self.grads and returns (loss,). X is checked and of the model's dtype.
        W_enc, b_enc, W_dec, b_dec = self._params
        dW_enc, db_enc, dW_dec, db_dec = self._grads
        n = X.shape[0]
        X_centred = X - b_dec
        A = X_centred @ W_enc
        A += b_enc
        Z = self._sparse_codes(A)
        X_hat = Z @ W_dec
        X_hat += b_dec
        residual = X_hat - X
        loss = float(np.sum(residual * residual)) / n
        if self.l1:
            loss += self.l1 * float(Z.sum()) / n
        G = residual * (2.0 / n)
        np.matmul(Z.T, G, out=dW_dec)
        delta = G @ W_dec.T
        if self.l1:
            delta += self.l1 / n
        delta *= Z > 0
        np.matmul(X_centred.T, delta, out=dW_enc)
        delta.sum(axis=0, out=db_enc)
        np.subtract(G.sum(axis=0), W_enc @ db_enc, out=db_dec)
        return (loss,)

    def loss_and_grads(self, X):
        """The loss on X: (n_samples, n_features) and copies of its gradients, one per ``params`` array.

        The plain gradient of the loss, for gradient checking (``fit`` also projects the
        dictionary's gradient onto the unit sphere before each step).
        """
        (loss,) = self._loss_and_backward(self._check(X))
        return loss, [grad.copy() for grad in self._grads]

    def _project_dictionary_gradient(self):
        # Remove from each row's gradient its component along the (unit) row:
        # what is left turns the direction and does not stretch it.
        W_dec, dW_dec = self._params[2], self._grads[2]
        dW_dec -= np.sum(dW_dec * W_dec, axis=1, keepdims=True) * W_dec

    def _normalise_dictionary(self):
        W_dec = self._params[2]
        W_dec /= np.linalg.norm(W_dec, axis=1, keepdims=True)

    def fit(self, X, epochs, lr=None, batch_size=None, optimizer="adam", progress=False, *,
            centre=True):
        """Train on activations X: (n_samples, n_features). Returns the loss of every epoch (list).

        lr, batch_size, optimizer and progress as in ``Autoencoder.fit``. Every step projects the
        dictionary's gradient onto the sphere, and every optimizer step is followed by
        rescaling the dictionary's rows to unit norm. A new model's first fit starts b_dec at
        the mean row of X, so that the encoder sees centred activations; ``centre=False`` leaves
        it at zero instead (to measure what centring does). Later fits, and fits of a loaded
        model, keep the b_dec they find. Raises TrainingDivergedError naming the likely cause if
        the loss explodes.
        """
        if not isinstance(centre, (bool, np.bool_)):
            raise TypeError(f"centre must be True or False, got {centre!r}")
        X = self._check(X)
        mean = X.mean(axis=0)

        def step(X_batch, _target):
            if self._new:  # at the first step, once the arguments of run_epochs are checked
                if centre:
                    self._params[3][...] = mean
                self._new = False
            terms = self._loss_and_backward(X_batch)
            self._project_dictionary_gradient()
            return terms

        (history,) = run_epochs(step, X, (self._flat_params,), (self._flat_grads,), epochs=epochs, lr=lr,
                                batch_size=batch_size, optimizer=optimizer, rng=self.rng, progress=progress,
                                after_step=self._normalise_dictionary)
        return history

    @classmethod
    def _parameter_shapes(cls, config):
        # The weight shapes of a saved configuration, checked before the model is built.
        bound_config(cls, config)
        d = positive_int(config.get("n_features"), "n_features")
        k = positive_int(config.get("n_latent"), "n_latent")
        return [(d, k), (k,), (k, d), (d,)]

    def _loaded(self):
        self._new = False  # a loaded model keeps its trained b_dec when it is fitted further
