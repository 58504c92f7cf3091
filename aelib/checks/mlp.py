"""Checks for the exercises of chapter 0, "A multilayer perceptron from scratch".

Each check runs the reader's function on inputs chosen so that the usual mistakes show
(a transposed product, a sum over the wrong axis, tanh applied twice, a missing bias
correction, a forgotten activation derivative), compares the result with aelib's own
implementation (and, for a whole backward pass, with central differences), and names the mistake.
"""
import numpy as np

from ..activations import tanh_grad
from ..gradcheck import numerical_gradient, relative_error
from ..losses import bce_with_logits, bce_with_logits_grad
from ..mlp import MLP
from ..optim import Adam
from .feedback import CheckFailed, as_numbers, call, expect_close, passed

__all__ = ["check_tanh_grad", "check_dense_backward", "check_adam_step", "check_mlp_backward"]


def check_tanh_grad(tanh_grad_fn):
    """Exercise 0.1: ``tanh_grad_fn(H)`` must return tanh'(A) = 1 - H**2, entry by entry,
    given only H = tanh(A)."""
    A = np.linspace(-2.5, 2.5, 12).reshape(3, 4)
    H = np.tanh(A)
    H_before = H.copy()
    actual = call(tanh_grad_fn, H, name="tanh_grad")
    if not np.array_equal(H, H_before):
        raise CheckFailed("tanh_grad changed its input H in place; return a new array instead.")
    try:
        actual_array = np.asarray(actual, dtype=np.float64)
    except (TypeError, ValueError):
        actual_array = None
    if actual_array is not None and actual_array.shape == H.shape:
        if np.allclose(actual_array, 1.0 - np.tanh(H) ** 2):
            raise CheckFailed(
                "tanh_grad(H) returned 1 - tanh(H)**2: H is already the output tanh(A), so applying "
                "tanh again computes the derivative at the wrong point. Write the derivative with H alone.")
        if np.allclose(actual_array, 1.0 - H):
            raise CheckFailed("tanh_grad(H) returned 1 - H; the derivative of tanh is 1 - tanh(A)**2, "
                              "so H must be squared.")
    expect_close(actual, tanh_grad(H), "tanh_grad(H) for H = tanh(A), A from -2.5 to 2.5 (shape (3, 4))",
                 hint="Differentiate tanh a = sinh a / cosh a with the quotient rule, then write the result "
                      "in terms of H = tanh A.")
    passed("tanh_grad(H) = 1 - H**2 matches aelib.activations.tanh_grad.")


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
    result = call(dense_backward_fn, H_in, W, Delta, name="dense_backward")
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


def _adam_without_bias_correction(theta, grad, m, v, lr, beta1, beta2, eps):
    m = beta1 * m + (1 - beta1) * grad
    v = beta2 * v + (1 - beta2) * grad * grad
    return theta - lr * m / (np.sqrt(v) + eps), m, v


def check_adam_step(adam_step_fn):
    """Exercise 0.5: ``adam_step_fn(theta, grad, m, v, t, lr, beta1, beta2, eps)`` -> (theta, m, v)."""
    rng = np.random.default_rng(0)
    # Hyperparameters other than the defaults, so that ignoring an argument shows.
    lr, beta1, beta2, eps = 0.1, 0.8, 0.95, 1e-8
    theta = rng.normal(size=(2, 3))
    gradients = [rng.normal(size=theta.shape) for _ in range(5)]

    reference = theta.copy()
    adam = Adam(lr, beta1=beta1, beta2=beta2, eps=eps)
    mine, m, v = theta.copy(), np.zeros_like(theta), np.zeros_like(theta)
    plain, plain_m, plain_v = theta.copy(), np.zeros_like(theta), np.zeros_like(theta)
    for t, grad in enumerate(gradients, start=1):
        adam.step([reference], [grad])
        plain, plain_m, plain_v = _adam_without_bias_correction(plain, grad, plain_m, plain_v, lr, beta1, beta2, eps)
        result = call(adam_step_fn, mine.copy(), grad.copy(), np.copy(m), np.copy(v), t, lr, beta1, beta2, eps,
                      name="adam_step", may_change=(0, 2, 3))
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


# Exercise 0.6: the whole backward pass of a network with two tanh hidden layers.

GRADIENT_NAMES = ["dW1", "db1", "dW2", "db2", "dW3", "db3"]
# Central differences with the step chapter 0 recommends, on the truncation side of the error
# valley: their relative error to the exact gradient is below 4e-7 here, far from the errors
# of order 1e-2 to 1 that a mistake makes.
FD_STEP, FD_TOLERANCE = 1e-3, 1e-6


def _two_hidden_layer_problem():
    """A [4, 5, 3, 2] network (tanh, tanh, sigmoid) on 6 samples with random 0/1 targets.

    Every width differs, so that a transposed product changes a shape; the biases are moved away
    from zero, so that no unit sits at tanh's special point 0. Returns (net, X, Y, cache, Delta3).
    """
    rng = np.random.default_rng(6)
    net = MLP([4, 5, 3, 2], ["tanh", "tanh", "sigmoid"], seed=rng)
    for b in net.params[1::2]:
        b[...] = rng.normal(0.0, 0.5, b.shape)
    X = rng.normal(size=(6, 4))
    Y = (rng.random((6, 2)) < 0.5).astype(np.float64)
    W1, b1, W2, b2, W3, b3 = net.params
    A1 = X @ W1 + b1
    H1 = np.tanh(A1)
    A2 = H1 @ W2 + b2
    H2 = np.tanh(A2)
    A3 = H2 @ W3 + b3
    cache = {"X": X, "A1": A1, "H1": H1, "A2": A2, "H2": H2}
    return net, X, Y, cache, bce_with_logits_grad(A3, Y)


def _aelib_gradients(net, X, Delta3):
    # aelib's own backward pass, run before the student's function (which runs while it is hidden).
    net.forward(X)
    net.backward_from_preactivation(Delta3.copy(), input_grad=False)
    return [grad.copy() for grad in net.grads]


def _central_differences(net, X, Y):
    def loss():
        net.forward(X)
        return bce_with_logits(net.last_preactivation, Y)
    return [numerical_gradient(loss, param, FD_STEP) for param in net.params]


def _relative_errors(result, numerical):
    # "wrong shape" instead of a number where an array cannot be compared with its differences.
    errors = []
    for name, array, reference in zip(GRADIENT_NAMES, result, numerical):
        array = as_numbers(array)
        if array is None:
            errors.append(f"{name} not an array")
        elif array.shape != reference.shape:
            errors.append(f"{name} wrong shape")
        else:
            error = relative_error(reference, array)
            errors.append(f"{name} {'below 1e-6' if error < 1e-6 else f'{error:.0e}'}")
    return ", ".join(errors)


def _shape(array):
    # None for what is not an array of numbers.
    array = as_numbers(array)
    return None if array is None else array.shape


def _close(array, expected):
    array = as_numbers(array)
    if array is None or array.shape != expected.shape:
        return False
    return np.allclose(array, expected, rtol=1e-6, atol=1e-10)


def _likely_deltas(layer, cache, params, deltas):
    """The usual wrong versions of Delta{layer}, computed from the right Delta{layer + 1}.

    Yields (wrong Delta, what was done). Layer 3's Delta is given, so it has none.
    """
    if layer == 3:
        return
    W_above = params[2 * layer]
    A, H = cache[f"A{layer}"], cache[f"H{layer}"]
    dH = deltas[layer + 1] @ W_above.T
    yield dH, (f"forgot the derivative of tanh: Delta{layer} must be "
               f"(Delta{layer + 1} @ W{layer + 1}.T) * (1 - H{layer}**2), not the product alone")
    yield dH * (1.0 - A ** 2), (
        f"used the pre-activation A{layer} in 1 - H**2; that formula takes the "
        f"post-activation, H{layer} = tanh(A{layer}): use 1 - H{layer}**2")
    yield dH * (1.0 - np.tanh(H) ** 2), (
        f"took tanh of the post-activation H{layer}: tanh'(A{layer}) = 1 - tanh(A{layer})**2 "
        f"= 1 - H{layer}**2, so H{layer} is already the tanh")
    yield dH * H * (1.0 - H), (
        f"used the sigmoid's derivative H * (1 - H) for layer {layer}, whose activation is tanh: "
        f"use 1 - H{layer}**2")


def _diagnose(index, array, cache, params, deltas, expected):
    """A message naming the mistake behind a wrong gradient, or None if it is not recognised."""
    layer = index // 2 + 1
    name = GRADIENT_NAMES[index]
    H_in = cache["X"] if layer == 1 else cache[f"H{layer - 1}"]
    input_name = "X" if layer == 1 else f"H{layer - 1}"
    delta = deltas[layer]
    shape = _shape(array)
    if index % 2 == 0:  # a weight gradient
        fan_in, fan_out = expected.shape
        if shape == (fan_out, fan_in) and fan_in != fan_out and _close(np.transpose(array), expected):
            return (f"{name} is transposed: it has shape {shape}, W{layer} has shape {expected.shape}. "
                    f"Use {input_name}.T @ Delta{layer}.")
        if layer > 1 and _close(array, cache[f"A{layer - 1}"].T @ delta):
            return (f"{name} used the pre-activation A{layer - 1} as the layer's input; the input of layer "
                    f"{layer} is the post-activation H{layer - 1} = tanh(A{layer - 1}): {input_name}.T @ Delta{layer}.")
        for wrong, what in _likely_deltas(layer, cache, params, deltas):
            if _close(array, H_in.T @ wrong):
                return f"{name} is wrong: you {what}."
        return None
    # a bias gradient
    if shape == (delta.shape[0],) and delta.shape[0] != expected.shape[0]:
        return (f"{name} has shape {shape}, one entry per sample; it needs one per unit, "
                f"{expected.shape}. Sum Delta{layer} over the samples (the rows): axis=0.")
    if _close(array, delta.mean(axis=0)):
        return (f"{name} is the mean of Delta{layer}'s rows; it must be their sum. Every sample adds its "
                "own term, and the 1/N of the mean loss is already inside Delta3.")
    for wrong, what in _likely_deltas(layer, cache, params, deltas):
        if _close(array, wrong.sum(axis=0)):
            return f"{name} is wrong: you {what}."
    return None


def check_mlp_backward(mlp_backward_fn):
    """Exercise 0.6: ``mlp_backward_fn(cache, params, Delta3)`` -> [dW1, db1, dW2, db2, dW3, db3].

    For a network X -> tanh -> tanh -> A3 with params [W1, b1, W2, b2, W3, b3], the forward cache
    {"X", "A1", "H1", "A2", "H2"} and Delta3 = dL/dA3. The answer is compared with aelib's backward
    pass and with central differences of the loss (float64, h = 1e-3), from the last layer down,
    and the usual mistakes are named.
    """
    net, X, Y, cache, Delta3 = _two_hidden_layer_problem()
    params = [param.copy() for param in net.params]
    expected = _aelib_gradients(net, X, Delta3)
    numerical = _central_differences(net, X, Y)
    errors = [relative_error(num, ana) for num, ana in zip(numerical, expected)]
    if max(errors) > FD_TOLERANCE:  # the check's own reference must pass its own test
        raise RuntimeError(f"aelib's backward pass disagrees with central differences: {errors}")

    student_cache = {key: value.copy() for key, value in cache.items()}
    student_params = [param.copy() for param in params]
    student_Delta3 = Delta3.copy()
    result = call(mlp_backward_fn, student_cache, student_params, student_Delta3, name="mlp_backward")
    changed = [name for name, array, original in
               [(f"cache[{key!r}]", student_cache.get(key), cache[key]) for key in cache]
               + [(f"params[{i}]", student_params[i], params[i]) for i in range(len(params))]
               + [("Delta3", student_Delta3, Delta3)]
               if not (isinstance(array, np.ndarray) and np.array_equal(array, original))]
    if changed:
        raise CheckFailed(f"mlp_backward changed {', '.join(changed)} in place; compute new arrays instead "
                          "(e.g. Delta = Delta * d, not Delta *= d, when Delta is an argument).")
    if not isinstance(result, (tuple, list)) or len(result) != 6:
        raise CheckFailed(
            f"mlp_backward must return six arrays [dW1, db1, dW2, db2, dW3, db3], got {type(result).__name__}"
            + (f" of length {len(result)}" if isinstance(result, (tuple, list)) else "") + ".")
    result = list(result)
    shapes = [_shape(array) for array in result]
    expected_shapes = [grad.shape for grad in expected]
    if None not in shapes and shapes != expected_shapes and sorted(shapes) == sorted(expected_shapes):
        raise CheckFailed(f"mlp_backward returned arrays of the right shapes in the wrong order {shapes}; "
                          "return them in the order of params: [dW1, db1, dW2, db2, dW3, db3].")

    W1, b1, W2, b2, W3, b3 = params
    deltas = {3: Delta3}
    deltas[2] = (Delta3 @ W3.T) * (1.0 - cache["H2"] ** 2)
    deltas[1] = (deltas[2] @ W2.T) * (1.0 - cache["H1"] ** 2)
    setting = "the [4, 5, 3, 2] network (tanh, tanh), 6 samples"
    # From the last layer down: the first wrong gradient shows where the mistake is, since a
    # wrong Delta spoils every gradient below it.
    for index in (4, 5, 2, 3, 0, 1):
        if _close(result[index], expected[index]):
            continue
        name = GRADIENT_NAMES[index]
        message = _diagnose(index, result[index], cache, params, deltas, expected[index])
        if message:
            raise CheckFailed(message)
        layer = index // 2 + 1
        where = ("it needs only H2 and Delta3" if layer == 3 else
                 f"look at Delta{layer} = (Delta{layer + 1} @ W{layer + 1}.T) * (1 - H{layer}**2)")
        expect_close(result[index], expected[index],
                     f"{name} for {setting} (relative errors to central differences: "
                     f"{_relative_errors(result, numerical)})",
                     hint=f"{name} is the first wrong gradient counted from the output: {where}.")
    student_errors = [relative_error(num, np.asarray(array, dtype=np.float64)) for num, array in zip(numerical, result)]
    if not max(student_errors) < FD_TOLERANCE:
        raise CheckFailed(f"the gradients match aelib's to 6 digits but not central differences: "
                          f"{_relative_errors(result, numerical)}.")
    passed("all six gradients match aelib.MLP's backward pass and central differences "
           "(relative error below 1e-6 for every array).")
