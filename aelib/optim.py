r"""Optimizers: plain/momentum SGD and Adam. Each updates a list of parameter arrays in place.

``step(params, grads)`` takes matching lists of arrays: one gradient per parameter, each of its
parameter's shape (checked on every step; a wrong shape is never broadcast, a missing gradient
never skips a parameter). An optimizer with state (momentum's velocities, Adam's moments) belongs
to the parameters of its first step: stepping it on other arrays (another model) raises
ValueError, because it would apply one model's moments to the other. Create one optimizer per
model, or call ``reset()`` to start afresh on new parameters.

SGD with momentum :math:`\alpha`, where :math:`\nabla L` is the gradient and :math:`t` counts the steps:
:math:`\theta_{t+1} = \theta_t - \eta \nabla L(\theta_t) + \alpha (\theta_t - \theta_{t-1})`. The last
step, :math:`\theta_t - \theta_{t-1}`, is kept as ``velocity``.

Adam (Kingma and Ba, 2014), with bias-corrected moments and the small constant :math:`\delta`
(``eps``, the paper's :math:`\epsilon`):

.. math::
    m \leftarrow \beta_1 m + (1-\beta_1) \nabla L,\quad v \leftarrow \beta_2 v + (1-\beta_2) (\nabla L)^2,\quad
    \theta \leftarrow \theta - \frac{\eta}{1-\beta_1^t}\,\frac{m}{\sqrt{v / (1-\beta_2^t)} + \delta},

Both optimizers work on whatever arrays they are given, in their own dtype (float32 or float64):
their state (velocities, moments) takes the dtype of its parameter. The models give them one
flat vector holding every weight, so that a step is a handful of whole-vector operations.

What an Adam step costs: thirteen passes over the weights (each one numpy operation), which
read a vector 17 times and write one 13 times, and allocate nothing: every intermediate result
goes into one scratch vector kept from step to step. Written as the formula above with
temporaries, the same step allocates six new vectors, once per step; the results are the same.
"""
import math

import numpy as np

from .validation import non_negative_number, positive_number


def check_step_arguments(params, grads):
    """Raise ValueError/TypeError unless ``grads`` gives one gradient of the right shape per param.

    O(number of arrays): cheap enough for every step of every training loop.
    """
    if len(params) != len(grads):
        raise ValueError(f"grads must give one gradient per parameter: got {len(grads)} gradient(s) "
                         f"for {len(params)} parameter array(s)")
    for i, (param, grad) in enumerate(zip(params, grads)):
        if not isinstance(param, np.ndarray) or param.dtype.kind != "f":
            raise TypeError(f"params[{i}] must be a float numpy array updated in place, got "
                            f"{type(param).__name__} {getattr(param, 'dtype', '')}".rstrip())
        if np.shape(grad) != param.shape:
            raise ValueError(f"grads[{i}] must have the shape of params[{i}], {param.shape}, got "
                             f"{np.shape(grad)} (a gradient is never broadcast)")


def _same_memory(a, b):
    # The same array, or a view of exactly the same memory (same address, shape and strides).
    return a is b or (a.__array_interface__["data"][0] == b.__array_interface__["data"][0]
                      and a.shape == b.shape and a.strides == b.strides)


class Optimizer:
    """What SGD and Adam share: argument checks and the parameters their state belongs to."""

    def reset(self):
        """Forget the state (velocities, moments, step count), e.g. to train another model."""
        self._params = None
        self._checked = None

    def _check_and_bind(self, params, grads):
        # The same two tuples as at the last step (a training loop's): nothing in them can have
        # changed, so the checks are skipped and a step costs no more than before they existed.
        if self._checked is not None and self._checked[0] is params and self._checked[1] is grads:
            return
        check_step_arguments(params, grads)
        if isinstance(params, tuple) and isinstance(grads, tuple):
            self._checked = (params, grads)
        if self._params is None:
            # Holding the arrays keeps their memory alive, so their addresses are never reused.
            self._params = list(params)
        elif len(params) != len(self._params) or not all(map(_same_memory, params, self._params)):
            raise ValueError(
                f"this {type(self).__name__} already holds the state of other parameters "
                f"({len(self._params)} array(s) of shapes {[param.shape for param in self._params]}); "
                "use one optimizer per model, or call reset() first")


class SGD(Optimizer):
    """Stochastic gradient descent, with optional momentum in [0, 1)."""

    def __init__(self, lr, momentum=0.0):
        self.lr = positive_number(lr, "lr")
        self.momentum = non_negative_number(momentum, "momentum")
        if self.momentum >= 1:
            raise ValueError(f"momentum must lie in [0, 1), got {momentum!r}")
        self.reset()

    def reset(self):
        super().reset()
        self.velocities = None

    def step(self, params, grads):
        """Update ``params`` in place from ``grads`` (lists of arrays of matching shapes)."""
        if self.momentum == 0.0:
            check_step_arguments(params, grads)  # plain SGD has no state: any parameters will do
            for param, grad in zip(params, grads):
                param -= self.lr * grad
            return
        self._check_and_bind(params, grads)
        if self.velocities is None:
            self.velocities = [np.zeros_like(param) for param in params]
        for param, grad, velocity in zip(params, grads, self.velocities):
            # velocity = momentum * velocity - lr * grad, the new step;  theta = theta + velocity
            velocity *= self.momentum
            velocity -= self.lr * grad
            param += velocity


class Adam(Optimizer):
    """Adam with the bias corrections of the paper (and of PyTorch's implementation).

    ``eps`` (1e-8) is the same in float32: it is far above float32's smallest number (1e-38),
    so a weight whose gradient has always been zero gets a zero step, never 0 / 0.
    """

    def __init__(self, lr, beta1=0.9, beta2=0.999, eps=1e-8):
        self.lr = positive_number(lr, "lr")
        for name, beta in (("beta1", beta1), ("beta2", beta2)):
            if not 0.0 <= non_negative_number(beta, name) < 1.0:
                raise ValueError(f"{name} must lie in [0, 1), got {beta!r}")
        self.beta1, self.beta2 = float(beta1), float(beta2)
        self.eps = positive_number(eps, "eps")
        self.reset()

    def reset(self):
        super().reset()
        self.t = 0
        self.moments = None
        self._scratch = None

    def step(self, params, grads):
        """Update ``params`` in place from ``grads`` (lists of arrays of matching shapes)."""
        self._check_and_bind(params, grads)
        if self.moments is None:
            self.moments = [(np.zeros_like(param), np.zeros_like(param)) for param in params]
            # One scratch array per parameter, reused by every step for the intermediate results.
            self._scratch = [np.empty_like(param) for param in params]
        self.t += 1
        # Python floats, which keep a float32 array float32 (a numpy float64 scalar would not).
        step_size = self.lr / (1.0 - self.beta1 ** self.t)
        root_correction = math.sqrt(1.0 - self.beta2 ** self.t)
        for param, grad, (m, v), scratch in zip(params, grads, self.moments, self._scratch):
            # Each line below is one pass over the vector, writing into memory that already
            # exists (``out=`` or an in-place operator) instead of allocating a temporary. Each
            # computes the same operation, in the same order, as the plain formula beside it,
            # so the results are the same to the last bit.
            # m = beta1 * m + (1 - beta1) * grad
            np.multiply(grad, 1.0 - self.beta1, out=scratch)
            m *= self.beta1
            m += scratch
            # v = beta2 * v + (1 - beta2) * (grad * grad)
            np.multiply(grad, grad, out=scratch)
            scratch *= 1.0 - self.beta2
            v *= self.beta2
            v += scratch
            # theta = theta - step_size * (m / (sqrt(v) / root_correction + eps))
            np.sqrt(v, out=scratch)
            scratch /= root_correction
            scratch += self.eps
            np.divide(m, scratch, out=scratch)
            scratch *= step_size
            param -= scratch


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
