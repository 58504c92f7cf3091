r"""Optimizers: plain/momentum SGD and Adam. Each updates a list of parameter arrays in place.

``step(params, grads)`` takes matching lists of arrays; the state (velocity, moments) is kept
per array, so pass the same lists every step.

SGD with momentum :math:`\mu`:  :math:`v \leftarrow \mu v - \eta g,\ \theta \leftarrow \theta + v`.

Adam (Kingma and Ba, 2014), with bias-corrected moments:

.. math::
    m \leftarrow \beta_1 m + (1-\beta_1) g,\quad v \leftarrow \beta_2 v + (1-\beta_2) g^2,\quad
    \theta \leftarrow \theta - \frac{\eta}{1-\beta_1^t}\,\frac{m}{\sqrt{v / (1-\beta_2^t)} + \epsilon}.
"""
import numpy as np

from .validation import non_negative_number, positive_number


class SGD:
    """Stochastic gradient descent, with optional momentum in [0, 1)."""

    def __init__(self, lr, momentum=0.0):
        self.lr = positive_number(lr, "lr")
        self.momentum = non_negative_number(momentum, "momentum")
        if self.momentum >= 1:
            raise ValueError(f"momentum must lie in [0, 1), got {momentum!r}")
        self.velocities = None

    def step(self, params, grads):
        if self.momentum == 0.0:
            for param, grad in zip(params, grads):
                param -= self.lr * grad
            return
        if self.velocities is None:
            self.velocities = [np.zeros_like(param) for param in params]
        for param, grad, velocity in zip(params, grads, self.velocities):
            velocity *= self.momentum
            velocity -= self.lr * grad
            param += velocity


class Adam:
    """Adam with the bias corrections of the paper (and of PyTorch's implementation)."""

    def __init__(self, lr, beta1=0.9, beta2=0.999, eps=1e-8):
        self.lr = positive_number(lr, "lr")
        for name, beta in (("beta1", beta1), ("beta2", beta2)):
            if not 0.0 <= non_negative_number(beta, name) < 1.0:
                raise ValueError(f"{name} must lie in [0, 1), got {beta!r}")
        self.beta1, self.beta2 = float(beta1), float(beta2)
        self.eps = positive_number(eps, "eps")
        self.t = 0
        self.moments = None

    def step(self, params, grads):
        if self.moments is None:
            self.moments = [(np.zeros_like(param), np.zeros_like(param)) for param in params]
        self.t += 1
        step_size = self.lr / (1.0 - self.beta1 ** self.t)
        root_correction = np.sqrt(1.0 - self.beta2 ** self.t)
        for param, grad, (m, v) in zip(params, grads, self.moments):
            m *= self.beta1
            m += (1.0 - self.beta1) * grad
            v *= self.beta2
            v += (1.0 - self.beta2) * (grad * grad)
            denominator = np.sqrt(v)
            denominator /= root_correction
            denominator += self.eps
            param -= step_size * (m / denominator)


def make_optimizer(optimizer, lr):
    """Turn "adam", "sgd" or an object with a ``step(params, grads)`` method into an optimizer."""
    if isinstance(optimizer, str):
        if optimizer == "adam":
            return Adam(lr)
        if optimizer == "sgd":
            return SGD(lr)
        raise ValueError(f"optimizer must be 'adam', 'sgd' or an optimizer object, got {optimizer!r}")
    if not callable(getattr(optimizer, "step", None)):
        raise TypeError(f"optimizer must be 'adam', 'sgd' or have a step(params, grads) method, got {optimizer!r}")
    return optimizer
