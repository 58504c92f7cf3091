"""Checks for the exercises of chapter 0, "A multilayer perceptron from scratch".

Each check runs the reader's function on inputs chosen so that the usual mistakes show
(a transposed product, a sum over the wrong axis, tanh applied twice, a missing bias
correction), compares the result with aelib's own implementation, and names the mistake.
"""
import numpy as np

from ..activations import tanh_grad
from ..mlp import MLP
from ..optim import Adam
from .feedback import CheckFailed, call, expect_close, passed

__all__ = ["check_tanh_grad", "check_dense_backward", "check_adam_step"]


def check_tanh_grad(tanh_grad_fn):
    """Exercise 0.1: ``tanh_grad_fn(h)`` must return tanh'(a) = 1 - h**2 given only h = tanh(a)."""
    a = np.linspace(-2.5, 2.5, 12).reshape(3, 4)
    h = np.tanh(a)
    h_before = h.copy()
    actual = call(tanh_grad_fn, h, name="tanh_grad", hidden=(tanh_grad,))
    if not np.array_equal(h, h_before):
        raise CheckFailed("tanh_grad changed its input h in place; return a new array instead.")
    try:
        actual_array = np.asarray(actual, dtype=np.float64)
    except (TypeError, ValueError):
        actual_array = None
    if actual_array is not None and actual_array.shape == h.shape:
        if np.allclose(actual_array, 1.0 - np.tanh(h) ** 2):
            raise CheckFailed(
                "tanh_grad(h) returned 1 - tanh(h)**2: h is already the output tanh(a), so applying "
                "tanh again computes the derivative at the wrong point. Write the derivative with h alone.")
        if np.allclose(actual_array, 1.0 - h):
            raise CheckFailed("tanh_grad(h) returned 1 - h; the derivative of tanh is 1 - tanh(a)**2, "
                              "so h must be squared.")
    expect_close(actual, tanh_grad(h), "tanh_grad(h) for h = tanh(a), a from -2.5 to 2.5 (shape (3, 4))",
                 hint="Differentiate tanh a = sinh a / cosh a with the quotient rule, then write the result "
                      "in terms of h = tanh a.")
    passed("tanh_grad(h) = 1 - h**2 matches aelib.activations.tanh_grad.")


def _reference_dense_backward(H_in, W, b, Delta):
    # aelib's own backward pass for a single linear layer: A = H_in W + b, so dL/dA = Delta.
    layer = MLP([W.shape[0], W.shape[1]], ["identity"], seed=0)
    layer.params[0][...] = W
    layer.params[1][...] = b
    layer.forward(H_in)
    dH_in = layer.backward_from_preactivation(Delta)
    return layer.grads[0].copy(), layer.grads[1].copy(), dH_in


def check_dense_backward(dense_backward_fn):
    """Exercise 0.2: ``dense_backward_fn(H_in, W, Delta)`` must return (dW, db, dH_in) for A = H_in W + b."""
    rng = np.random.default_rng(0)
    # Five samples, three inputs, four outputs: every transposition mistake changes a shape.
    n_samples, fan_in, fan_out = 5, 3, 4
    H_in = rng.normal(size=(n_samples, fan_in))
    W = rng.normal(size=(fan_in, fan_out))
    b = rng.normal(size=fan_out)
    Delta = rng.normal(size=(n_samples, fan_out))
    shapes = f"H_in {H_in.shape}, W {W.shape}, Delta {Delta.shape}"
    inputs = [array.copy() for array in (H_in, W, Delta)]
    result = call(dense_backward_fn, H_in, W, Delta, name="dense_backward",
                  hidden=(MLP.backward, MLP.backward_from_preactivation))
    if not all(np.array_equal(array, copy) for array, copy in zip((H_in, W, Delta), inputs)):
        raise CheckFailed("dense_backward changed one of its inputs in place; compute new arrays instead.")
    if not isinstance(result, (tuple, list)) or len(result) != 3:
        raise CheckFailed(
            f"dense_backward must return three arrays (dW, db, dH_in), got {type(result).__name__}"
            + (f" of length {len(result)}" if isinstance(result, (tuple, list)) else "") + ".")
    dW, db, dH_in = result
    expected_dW, expected_db, expected_dH_in = _reference_dense_backward(H_in, W, b, Delta)

    if np.shape(db) == (n_samples,):
        raise CheckFailed(
            f"db has shape {np.shape(db)}, one entry per sample; the bias gradient has one entry per output "
            f"unit, {expected_db.shape}. Sum Delta over the samples (the rows): axis=0.")
    if np.shape(db) == expected_db.shape and np.allclose(db, Delta.mean(axis=0)):
        raise CheckFailed(
            "db is the mean of Delta's rows; it must be their sum. Every sample adds its own term to dL/db, "
            "and the 1/N of a mean loss is already inside Delta.")
    expect_close(dW, expected_dW, f"dW for {shapes}",
                 hint="dW must have W's shape (fan_in, fan_out): the product H_in.T @ Delta.")
    expect_close(db, expected_db, f"db for {shapes}",
                 hint="db is the column sums of Delta, Delta.sum(axis=0).")
    expect_close(dH_in, expected_dH_in, f"dH_in for {shapes}",
                 hint="dH_in must have H_in's shape (n_samples, fan_in): the product Delta @ W.T.")
    passed("dW, db and dH_in match the backward pass of aelib.MLP.")


def _adam_without_bias_correction(theta, g, m, v, lr, beta1, beta2, eps):
    m = beta1 * m + (1 - beta1) * g
    v = beta2 * v + (1 - beta2) * g * g
    return theta - lr * m / (np.sqrt(v) + eps), m, v


def check_adam_step(adam_step_fn):
    """Exercise 0.5: ``adam_step_fn(theta, g, m, v, t, lr, beta1, beta2, eps)`` -> (theta, m, v)."""
    rng = np.random.default_rng(0)
    # Hyperparameters other than the defaults, so that ignoring an argument shows.
    lr, beta1, beta2, eps = 0.1, 0.8, 0.95, 1e-8
    theta = rng.normal(size=(2, 3))
    gradients = [rng.normal(size=theta.shape) for _ in range(5)]

    reference = theta.copy()
    adam = Adam(lr, beta1=beta1, beta2=beta2, eps=eps)
    mine, m, v = theta.copy(), np.zeros_like(theta), np.zeros_like(theta)
    plain, plain_m, plain_v = theta.copy(), np.zeros_like(theta), np.zeros_like(theta)
    for t, g in enumerate(gradients, start=1):
        adam.step([reference], [g])
        plain, plain_m, plain_v = _adam_without_bias_correction(plain, g, plain_m, plain_v, lr, beta1, beta2, eps)
        result = call(adam_step_fn, mine.copy(), g.copy(), np.copy(m), np.copy(v), t, lr, beta1, beta2, eps,
                      name="adam_step", hidden=(Adam.step,))
        if not isinstance(result, (tuple, list)) or len(result) != 3:
            raise CheckFailed(
                f"adam_step must return three arrays (theta, m, v), got {type(result).__name__}"
                + (f" of length {len(result)}" if isinstance(result, (tuple, list)) else "") + ".")
        mine, m, v = (np.asarray(array, dtype=np.float64) for array in result)
        what = f"theta after step t={t} (lr={lr}, beta1={beta1}, beta2={beta2})"
        if not np.all(np.isfinite(mine)):
            raise CheckFailed(
                f"{what} contains NaN or inf. The bias corrections divide by 1 - beta**t, which is 0 "
                "for t = 0: t counts the steps from 1.")
        if mine.shape == reference.shape and not np.allclose(mine, reference) and np.allclose(mine, plain):
            raise CheckFailed(
                f"{what} matches Adam without bias correction. Divide m by (1 - beta1**t) and v by "
                "(1 - beta2**t) before the update: both moments start at zero and are biased towards it "
                "in the first steps.")
        expect_close(mine, reference, what,
                     hint="Update m and v first, correct their bias with t, then take the step "
                          "theta - lr * m_hat / (sqrt(v_hat) + eps). Return the new (theta, m, v).")
    passed("five steps of adam_step match aelib.optim.Adam.")
