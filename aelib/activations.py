r"""Activation functions and their derivatives, side by side.

Each derivative is written in terms of the activation's *output* :math:`H = \varphi(A)`, entry by
entry, because that is what the forward pass keeps for the backward pass:

==========  ==============================  ===================================
name        :math:`\varphi(a)`              :math:`\varphi'(a)` from :math:`H = \varphi(a)`
==========  ==============================  ===================================
identity    :math:`a`                       :math:`1`
sigmoid     :math:`1 / (1 + e^{-a})`        :math:`H (1 - H)`
tanh        :math:`\tanh a`                 :math:`1 - H^2`
relu        :math:`\max(a, 0)`              :math:`[H > 0]`
==========  ==============================  ===================================
"""
import numpy as np


def identity(a):
    return a


def identity_grad(H):
    return np.ones_like(H)


def sigmoid(a):
    # 1 / (1 + exp(-a)) overflows exp for a < -709; this form never overflows.
    return 0.5 * (1.0 + np.tanh(0.5 * a))


def sigmoid_grad(H):
    return H * (1.0 - H)


def tanh(a):
    return np.tanh(a)


def tanh_grad(H):
    return 1.0 - H * H


def relu(a):
    return np.maximum(a, 0.0)


def relu_grad(H):
    return (H > 0.0).astype(H.dtype)


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
