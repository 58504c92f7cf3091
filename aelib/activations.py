r"""Activation functions and their derivatives, side by side.

Each derivative is written in terms of the activation's *output* :math:`h = \sigma(a)`,
because that is what the forward pass keeps for the backward pass:

==========  ==============================  ===================================
name        :math:`h = \sigma(a)`           :math:`\sigma'(a)` from :math:`h`
==========  ==============================  ===================================
identity    :math:`a`                       :math:`1`
sigmoid     :math:`1 / (1 + e^{-a})`        :math:`h (1 - h)`
tanh        :math:`\tanh a`                 :math:`1 - h^2`
relu        :math:`\max(a, 0)`              :math:`[h > 0]`
==========  ==============================  ===================================
"""
import numpy as np


def identity(a):
    return a


def identity_grad(h):
    return np.ones_like(h)


def sigmoid(a):
    # 1 / (1 + exp(-a)) overflows exp for a < -709; this form never overflows.
    return 0.5 * (1.0 + np.tanh(0.5 * a))


def sigmoid_grad(h):
    return h * (1.0 - h)


def tanh(a):
    return np.tanh(a)


def tanh_grad(h):
    return 1.0 - h * h


def relu(a):
    return np.maximum(a, 0.0)


def relu_grad(h):
    return (h > 0.0).astype(h.dtype)


ACTIVATIONS = {
    "identity": (identity, identity_grad),
    "sigmoid": (sigmoid, sigmoid_grad),
    "tanh": (tanh, tanh_grad),
    "relu": (relu, relu_grad),
}


def get(name, argument="activation"):
    """Return (function, derivative_from_output) for an activation name.

    ``argument`` is the name of the argument the caller received it as, for the error message.
    """
    if not isinstance(name, str):
        raise TypeError(f"{argument} must be a name (one of {sorted(ACTIVATIONS)}), got {name!r}")
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown {argument} {name!r}; expected one of {sorted(ACTIVATIONS)}")
    return ACTIVATIONS[name]
