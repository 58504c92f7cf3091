r"""A multilayer perceptron with a hand-written backward pass.

Rows are samples. With :math:`H^{(0)} = X`, layer :math:`l = 1, \dots, K` computes

.. math::
    A^{(l)} = H^{(l-1)} W^{(l)} + b^{(l)}, \qquad H^{(l)} = \varphi_l(A^{(l)}),

and the backward pass runs the chain rule the other way. Given
:math:`\Delta^{(l)} = \partial L / \partial A^{(l)}`,

.. math::
    \frac{\partial L}{\partial W^{(l)}} = H^{(l-1)\top} \Delta^{(l)}, \quad
    \frac{\partial L}{\partial b^{(l)}} = \textstyle\sum_{\text{rows}} \Delta^{(l)}, \quad
    \Delta^{(l-1)} = \big(\Delta^{(l)} W^{(l)\top}\big) \odot \varphi_{l-1}'(A^{(l-1)}).

All weights live in one flat vector and every ``W`` and ``b`` is a view into it, so an
optimizer can update the whole network with a handful of vector operations.

Every array has the network's ``dtype``: float64 by default (finite-difference gradient checks
need its 16 digits), or float32, which halves the memory and roughly doubles the speed of the
matrix products. Inputs of another dtype are converted once, on the way in.

Two idioms make the code faster without changing what it computes: ``A = H @ W`` followed by
``A += b`` (instead of ``A = H @ W + b``) adds the bias into the product's own memory instead of
allocating a second array, and ``np.matmul(H.T, delta, out=dW)`` writes the gradient straight
into its place in the flat vector instead of into a new array that would then be copied there.
Each gives exactly the same numbers as the plain formula: the same operations, in the same order.

The arrays the network computes with cannot silently part from the ones it reports and saves:
``params`` and ``grads`` are fixed sequences of those views (``params[0][...] = W`` writes into
the network; ``params[0] = W`` raises instead of replacing the array in the list only), and
``forward`` keeps its own copy of X and returns a new array, so editing either before
``backward`` cannot change the gradient.
"""
import numbers

import numpy as np

from . import activations as activation_functions
from .validation import as_data_matrix, as_dtype, as_generator, as_real_array


def n_params(sizes):
    """The number of weights and biases of an MLP with these layer widths."""
    return sum(fan_in * fan_out + fan_out for fan_in, fan_out in zip(sizes[:-1], sizes[1:]))


def _check_sizes(sizes):
    if isinstance(sizes, (str, bytes)) or not hasattr(sizes, "__len__"):
        raise TypeError(f"sizes must be a list of layer widths like [35, 30, 2], got {sizes!r}")
    sizes = list(sizes)
    if len(sizes) < 2:
        raise ValueError(f"sizes needs at least an input and an output width, got {sizes!r}")
    for size in sizes:
        if isinstance(size, bool) or not isinstance(size, numbers.Integral) or size < 1:
            raise ValueError(f"sizes must be positive integers, got {sizes!r}")
    return [int(size) for size in sizes]


class ParameterList(tuple):
    """The live arrays of a network, in a fixed order: write into them, never replace them.

    name: what the sequence is called in messages ("params" or "grads").
    """

    def __new__(cls, arrays, name="params"):
        sequence = super().__new__(cls, arrays)
        sequence.name = name
        return sequence

    def __setitem__(self, index, value):
        raise TypeError(
            f"cannot replace {self.name}[{index}]: the network would keep computing with the old array. "
            f"Write into it instead: {self.name}[{index}][...] = new_values")


def parameter_shapes(sizes):
    """The shapes [W1, b1, W2, b2, ...] of an MLP with these layer widths (nothing is allocated)."""
    shapes = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        shapes += [(fan_in, fan_out), (fan_out,)]
    return shapes


def flat_views(flat, shapes, name="params"):
    """One array of each shape in ``shapes``, in order, each a view of the next
    stretch of the 1-D array ``flat``: writing into them writes into ``flat``,
    which an optimizer updates whole."""
    views, start = [], 0
    for shape in shapes:
        stop = start + int(np.prod(shape))
        views.append(flat[start:stop].reshape(shape))
        start = stop
    return ParameterList(views, name)


def _fixed(attribute, doc):
    # A property that can be written only with the object it already holds, which is what an
    # in-place update such as ``mlp.flat_params += 0.1`` does; anything else raises.
    name = attribute.lstrip("_")

    def get(self):
        return getattr(self, attribute)

    def set(self, value):
        if value is not getattr(self, attribute):
            raise AttributeError(f"{name} cannot be replaced: the network computes with its own arrays. "
                                 f"Write into them instead, e.g. {name}[...] = values")
    return property(get, set, doc=doc)


class MLP:
    """A stack of fully connected layers.

    sizes: [n_inputs, n_hidden_1, ..., n_outputs]; activations: one name per layer
    (``len(sizes) - 1`` of "identity", "sigmoid", "tanh", "relu"). seed: int, Generator or None.
    Weights are drawn from the Glorot uniform distribution, biases start at zero.

    dtype: "float64" (default) or "float32" (or np.float64, np.float32): the type of every
    weight, gradient and activation. The initial weights are drawn in float64 and rounded, so
    a float32 network starts from the float64 one's weights to 7 digits.

    ``params`` and ``grads`` are lists [W1, b1, W2, b2, ...] with W: (fan_in, fan_out) and
    b: (fan_out,); ``params`` are the live arrays the network computes with (write into them
    with ``W[...] = values``; they cannot be replaced).

    buffers: optional (flat_params, flat_grads), two 1-D arrays of ``n_params(sizes)`` entries
    of ``dtype`` for the network to keep its weights and gradients in (instead of allocating
    its own). A model of two networks gives them consecutive parts of one vector, so that its
    optimizer updates both with one set of whole-vector operations.
    """

    def __init__(self, sizes, activations, seed=None, dtype="float64", buffers=None):
        self.sizes = _check_sizes(sizes)
        n_layers = len(self.sizes) - 1
        if isinstance(activations, str) or not hasattr(activations, "__len__"):
            raise TypeError(f"activations must be a list with one name per layer ({n_layers}), got {activations!r}")
        if len(activations) != n_layers:
            raise ValueError(
                f"activations must have one name per layer: sizes {self.sizes} make {n_layers} "
                f"layer(s), got {len(activations)} activation(s) {list(activations)!r}")
        self.activations = list(activations)
        functions = [activation_functions.get(name) for name in self.activations]
        self._activate = [function for function, _ in functions]
        self._derivative = [None if name == "identity" else derivative
                            for name, (_, derivative) in zip(self.activations, functions)]

        shapes = parameter_shapes(self.sizes)
        self.dtype = as_dtype(dtype)
        size = n_params(self.sizes)
        if buffers is None:
            self._flat_params = np.zeros(size, dtype=self.dtype)
            self._flat_grads = np.zeros(size, dtype=self.dtype)
        else:
            self._flat_params, self._flat_grads = buffers
            for flat in buffers:
                if not (isinstance(flat, np.ndarray) and flat.shape == (size,) and flat.dtype == self.dtype
                        and flat.flags.c_contiguous and flat.flags.writeable):
                    raise ValueError(f"buffers must be two writeable contiguous {self.dtype} vectors of "
                                     f"{size} entries, got {getattr(flat, 'shape', flat)!r}")
            self._flat_params[...] = 0.0
        self._params = flat_views(self._flat_params, shapes)
        self._grads = flat_views(self._flat_grads, shapes, "grads")

        rng = as_generator(seed, "seed")
        for W in self.params[0::2]:
            limit = np.sqrt(6.0 / (W.shape[0] + W.shape[1]))
            W[...] = rng.uniform(-limit, limit, W.shape)  # drawn in float64, rounded to dtype
        self._layers = list(zip(self.params[0::2], self.params[1::2], self.grads[0::2], self.grads[1::2]))
        self._inputs = self._last_preactivation = self._last_output = None

    def __repr__(self):
        dtype = "" if self.dtype == np.float64 else f", dtype={self.dtype.name!r}"
        return f"MLP({self.sizes}, {self.activations}{dtype})"

    # Fixed attributes: each returns the network's own arrays (or read-only views of them), so
    # that no assignment can make the network compute with one array and report another.
    params = _fixed("_params", "[W1, b1, W2, b2, ...]: views of flat_params.")
    grads = _fixed("_grads", "The gradients of the last backward pass, like params.")
    flat_params = _fixed("_flat_params", "All weights in one vector.")
    flat_grads = _fixed("_flat_grads", "All gradients in one vector.")

    @property
    def last_preactivation(self):
        """The last layer's pre-activation A of the last forward pass (read-only)."""
        return _read_only(self._last_preactivation)

    @last_preactivation.setter
    def last_preactivation(self, A):
        self._last_preactivation = A

    @property
    def last_output(self):
        """The output of the last forward pass (read-only)."""
        return _read_only(self._last_output)

    @last_output.setter
    def last_output(self, H):
        self._last_output = H

    @property
    def n_params(self):
        return self.flat_params.size

    def forward(self, X):
        """X: (n_samples, sizes[0]) -> outputs (n_samples, sizes[-1]). Keeps what backward needs.

        The network keeps its own copy of X and returns a new array: editing either afterwards
        does not change what ``backward`` computes.
        """
        X = as_data_matrix(X, "X", self.sizes[0], dtype=self.dtype)
        return self._forward(X.copy()).copy()

    def _forward(self, X):
        # Unchecked fast path for the training loops, which validate their data once.
        inputs = []
        H = X
        for (W, b, _, _), activate in zip(self._layers, self._activate):
            inputs.append(H)
            A = H @ W
            A += b
            H = activate(A)
        self._inputs, self.last_preactivation, self.last_output = inputs, A, H
        return H

    def backward(self, dY, input_grad=True):
        """dY: dL/d(outputs), (n_samples, sizes[-1]). Fills ``grads``; returns dL/dX (n_samples, sizes[0]).

        Call ``forward`` first: the gradient is taken at the inputs of the last forward pass.
        """
        dY = self._check_backward_argument(dY, "dY", "backward(dY)")
        derivative = self._derivative[-1]
        delta = dY if derivative is None else dY * derivative(self._last_output)
        return self.backward_from_preactivation(delta, input_grad)

    def _check_backward_argument(self, value, name, call):
        # O(1), and for the arrays of a training loop (of the network's dtype) a single test:
        # cheap enough for every batch.
        if type(value) is np.ndarray and value.dtype is self.dtype and self._inputs is not None \
                and value.shape == self._last_output.shape:
            return value
        if self._inputs is None:
            raise RuntimeError(f"call forward(X) before {call}: the gradient is taken at the inputs of "
                               "the last forward pass")
        if not isinstance(value, np.ndarray) or value.dtype != self.dtype:
            value = as_real_array(value, name).astype(self.dtype, copy=False)
        if value.shape != self._last_output.shape:
            raise ValueError(f"{name} must have the shape of the last output {self._last_output.shape}, "
                             f"got {value.shape}")
        return value

    def backward_from_preactivation(self, delta, input_grad=True):
        """Like ``backward``, but delta is dL/dA of the last layer's pre-activation A.

        Losses that fuse with the output activation (sigmoid + cross-entropy) start here.
        With ``input_grad=False`` the last product for dL/dX is skipped and None returned.
        """
        delta = self._check_backward_argument(delta, "delta", "backward_from_preactivation(delta)")
        inputs = self._inputs
        dH = None
        for layer in range(len(self._layers) - 1, -1, -1):
            W, _, dW, db = self._layers[layer]
            H_in = inputs[layer]
            np.matmul(H_in.T, delta, out=dW)
            delta.sum(axis=0, out=db)
            if layer == 0:
                if input_grad:
                    dH = delta @ W.T
                break
            delta = delta @ W.T
            derivative = self._derivative[layer - 1]
            if derivative is not None:
                delta *= derivative(H_in)
        return dH


def _read_only(array):
    # A view that refuses writes, of an array the network keeps for its backward pass.
    if array is None:
        return None
    view = array.view()
    view.flags.writeable = False
    return view
