"""The exercise checks of chapter 0 accept correct answers written in several ways, reject the
plausible wrong ones (each with a message that names its mistake), and say "not implemented yet"
for an untouched stub.

The wrong answers are the mistakes students make: a sign, a transpose, a missing term, a sum over
the wrong axis, an argument ignored or hard-coded, an input narrower than the statement (a loop
over the rows of a 2-D array, a floor or a cut near tanh's saturation), finite differences where a
backward pass is asked (through aelib.gradcheck.numerical_gradient and by hand, with steps from
1e-5 to 1, Richardson extrapolation, the complex step), aelib's own function by another route,
float32, inputs changed in place.
"""
import copy
import itertools

import numpy as np
import pytest
from check_failures import accepts, fails_with, not_implemented

import aelib
from aelib.checks import check_adam_step, check_dense_backward, check_mlp_backward, check_tanh_grad
from aelib.checks import mlp as checks


def quietly(function):
    """``function`` with numpy's warnings about inf and NaN silenced (a wrong answer's own)."""
    def answer(*args, **kwargs):
        with np.errstate(all="ignore"):
            return function(*args, **kwargs)
    answer.__name__ = function.__name__
    return answer


# ---------------------------------------------------------------------------------------------
# Exercise 0.1: tanh's derivative from its output.

def tanh_grad(H):
    return 1.0 - H ** 2


def tanh_grad_by_entries(H):
    result = np.empty(np.shape(H))
    for index in np.ndindex(result.shape):
        result[index] = (1.0 - H[index]) * (1.0 + H[index])
    return result


@pytest.mark.parametrize("answer", [
    tanh_grad,
    lambda H: (1.0 - H) * (1.0 + H),
    lambda H: np.subtract(1.0, np.square(H)),
    tanh_grad_by_entries,
    quietly(lambda H: 1.0 / np.cosh(np.arctanh(H)) ** 2),
    lambda H: (1.0 - H * H).tolist(),
    lambda H: np.maximum(1.0 - H ** 2, 0.0),
], ids=["solution", "factored", "ufuncs", "loop over np.ndindex", "sech of arctanh", "a list",
        "clipped at 0"])
def test_tanh_grad_accepts_correct_answers(answer, capsys):
    accepts(check_tanh_grad, answer, capsys)


def tanh_grad_rows_only(H):
    return np.array([[1.0 - h ** 2 for h in row] for row in H])


def tanh_grad_for_matrices(H):
    n_rows, n_columns = H.shape
    return 1.0 - H ** 2


def tanh_grad_by_rows(H):
    result = np.empty_like(H)
    for i in range(len(H)):
        result[i] = 1.0 - H[i] ** 2
    return result


def tanh_grad_by_central_differences(H, h=1e-5):
    A = np.arctanh(H)
    return (np.tanh(A + h) - np.tanh(A - h)) / (2 * h)


def tanh_grad_by_the_quotient_rule(H):
    A = np.arctanh(H)
    return (np.cosh(A) ** 2 - np.sinh(A) ** 2) / np.cosh(A) ** 2


def tanh_grad_in_place(H):
    H **= 2
    return 1.0 - H


@pytest.mark.parametrize("wrong, message", [
    (lambda H: 1.0 - np.tanh(H) ** 2, "already the output tanh"),
    (lambda H: 1.0 / np.cosh(H) ** 2, "already the output tanh"),
    (lambda H: 1.0 - H, "H must be squared"),
    (lambda H: (1.0 - H) ** 2, r"\(1 - H\)\*\*2; .* square H alone"),
    (lambda H: H * (1.0 - H), "the sigmoid's derivative"),
    (lambda H: -2.0 * H, "derivative of 1 - H\\*\\*2 with respect to H"),
    (lambda H: H ** 2 - 1.0, "wrong sign"),
    (lambda H: np.ones_like(H), "derivative of the identity"),
    (lambda H: 1.0 + H ** 2, r"returned 1 \+ H\*\*2, a sign slip"),
    (lambda H: 1.0 - np.abs(H), r"returned 1 - \|H\|;.*square H instead of taking its absolute value"),
    # A value wrong in a way not recognised: the hint is about the derivative, not the shape.
    (lambda H: 1.0 - H ** 4, r"^(?!.*must have H's shape).*at index.*Differentiate tanh"),
    (lambda H: np.maximum(1.0 - H ** 2, 0.01), r"returned 0.01 where tanh'\(A\) is smaller.*without a floor"),
    (lambda H: np.clip(1.0 - H ** 2, 1e-8, 1.0), r"returned 1e-08 where tanh'\(A\) is smaller.*\|A\| >= 20"),
    (lambda H: np.where(np.abs(H) >= 0.99, 0.0, 1.0 - H ** 2),
     r"returned 0 where \|H\| >= 0.9900664, but tanh' is not 0 there.*without a cut"),
    (lambda H: np.where(np.abs(H) > 0.999999, 0.0, 1.0 - H ** 2), r"returned 0 where \|H\| >= 0.99999977"),
    (tanh_grad_rows_only, r"H=<array of shape \(11,\)>\) raised TypeError.*shape \(11,\) \(1-D\)"),
    (tanh_grad_for_matrices, r"raised ValueError.*this H has shape \(11,\) \(1-D\).*a loop over rows does not"),
    (tanh_grad_by_rows, r"H=<array of shape \(\)>\) raised TypeError.*shape \(\) \(one number\)"),
    (lambda H: 1.0 - H @ H, r"combined arrays whose shapes do not fit.*Entry-by-entry numpy operations"),
    (lambda H: np.atleast_1d(1.0 - H ** 2), r"shape \(\), .* the shape is wrong.*expected: shape \(\)"),
    (lambda H: [1.0 - h ** 2 for h in np.ravel(H)], r"shape \(3, 4\).*the shape is wrong.*must have H's shape"),
    (quietly(tanh_grad_by_central_differences), "accuracy of finite differences"),
    (quietly(tanh_grad_by_the_quotient_rule), r"NaN or inf where H = \+-1 exactly"),
    (lambda H: 1.0 - H.astype(np.float32) ** 2, "float32.*computes in float64"),
    (tanh_grad_in_place, "changed H in place"),
    (lambda H: aelib.activations.tanh_grad(H), "calls aelib.activations.tanh_grad, which is part of aelib"),
    (lambda H: aelib.activations.get("tanh")[1](H), "calls aelib.activations.get, which is part of aelib"),
    (lambda H: 0.0, "the shape is wrong"),
])
def test_tanh_grad_rejects_mistakes(wrong, message):
    with fails_with(message):
        check_tanh_grad(wrong)


def test_tanh_grad_rejects_aelibs_own_however_imported():
    from aelib.activations import tanh_grad as imported

    for answer in (aelib.activations.tanh_grad, lambda H: imported(H)):
        with fails_with("calls aelib.activations.tanh_grad, which is part of aelib"):
            check_tanh_grad(answer)
    assert np.allclose(aelib.activations.tanh_grad(np.array([0.5])), [0.75])


def test_tanh_grad_inputs_reach_every_promised_case():
    A = np.concatenate([A.ravel() for A, _ in checks._tanh_inputs()])
    H = np.tanh(A)
    assert {A.ndim for A, _ in checks._tanh_inputs()} == {0, 1, 2, 3}
    assert np.any(H == 0.0) and np.any(H == 1.0) and np.any(H == -1.0)
    assert np.any((np.abs(H) >= 0.99) & (np.abs(H) < 1.0)) and np.max(np.abs(A)) == 20.0


def test_tanh_grad_stub_is_not_implemented_yet():
    with fails_with("not implemented yet"):
        check_tanh_grad(not_implemented)


# ---------------------------------------------------------------------------------------------
# Exercise 0.2: the backward pass of one dense layer.

def dense_backward(H_in, W, Delta):
    return H_in.T @ Delta, Delta.sum(axis=0), Delta @ W.T


def dense_backward_by_samples(H_in, W, Delta):
    dW, db, dH_in = np.zeros(W.shape), np.zeros(W.shape[1]), np.zeros(H_in.shape)
    for h, delta, row in zip(H_in, Delta, range(len(H_in))):
        dW += np.outer(h, delta)
        db += delta
        dH_in[row] = W @ delta
    return dW, db, dH_in


def dense_backward_with_the_layer_output(H_in, W, Delta):
    A = H_in @ W  # computed once, needlessly: the layer's output is not needed
    assert A.shape == Delta.shape
    return H_in.T @ Delta, np.sum(Delta, axis=0), np.dot(Delta, W.T)


@pytest.mark.parametrize("answer", [
    dense_backward,
    lambda H_in, W, Delta: (np.einsum("ni,nj->ij", H_in, Delta), np.einsum("nj->j", Delta),
                            np.einsum("nj,ij->ni", Delta, W)),
    dense_backward_by_samples,
    lambda H_in, W, Delta: [(Delta.T @ H_in).T, np.ones(len(Delta)) @ Delta, (W @ Delta.T).T],
    dense_backward_with_the_layer_output,
], ids=["solution", "einsum", "loop over samples", "transposed products, a list", "with the layer output"])
def test_dense_backward_accepts_correct_answers(answer, capsys):
    accepts(check_dense_backward, answer, capsys)


def dense_backward_through_numerical_gradient(H_in, W, Delta):
    W, H_in = W.copy(), H_in.copy()

    def surrogate():  # a loss whose gradient with respect to the layer's output A is Delta
        return np.sum(Delta * (H_in @ W))

    return (aelib.gradcheck.numerical_gradient(surrogate, W), Delta.sum(axis=0),
            aelib.gradcheck.numerical_gradient(surrogate, H_in))


def dense_backward_by_central_differences(H_in, W, Delta, h=1e-5, perturb="copy", stencil="central", plain=False):
    """Finite differences of the surrogate loss sum(Delta * A), by hand. ``perturb``: "copy"
    (a copy of the array with one entry moved) or "add" (the array plus a matrix with one entry h);
    ``plain``: the arrays are first copied with np.array, as some answers do to be safe."""
    if plain:
        H_in, W, Delta = np.array(H_in), np.array(W), np.array(Delta)

    def loss(H, V):
        return np.sum(Delta * (H @ V))

    def nudged(array, index, step):
        if perturb == "copy":
            moved = array.copy()
            moved[index] += step
            return moved
        E = np.zeros(array.shape)
        E[index] = step
        return array + E

    def derivative(f):
        if stencil == "central":
            return (f(h) - f(-h)) / (2 * h)
        if stencil == "forward":
            return (f(h) - f(0.0)) / h
        return (8 * (f(h) - f(-h)) - (f(2 * h) - f(-2 * h))) / (12 * h)  # Richardson

    dW = np.zeros(W.shape)
    for index in np.ndindex(W.shape):
        dW[index] = derivative(lambda step: loss(H_in, nudged(W, index, step)))
    dH_in = np.zeros(H_in.shape)
    for index in np.ndindex(H_in.shape):
        dH_in[index] = derivative(lambda step: loss(nudged(H_in, index, step), W))
    return dW, Delta.sum(axis=0), dH_in


def dense_backward_through_mlp(H_in, W, Delta):
    layer = aelib.MLP([W.shape[0], W.shape[1]], ["identity"], seed=0)
    layer.params[0][...] = W
    layer.forward(H_in)
    dH_in = layer.backward_from_preactivation(Delta)
    return layer.grads[0], layer.grads[1], dH_in


@pytest.mark.parametrize("wrong, message", [
    (lambda H_in, W, Delta: (Delta.T @ H_in, Delta.sum(axis=0), Delta @ W.T),
     r"For H_in \(4, 4\), W \(4, 4\), Delta \(4, 4\): dW is transposed.*H_in.T @ Delta"),
    (lambda H_in, W, Delta: (H_in.T @ Delta, Delta.sum(axis=1), Delta @ W.T),
     r"db is Delta.sum\(axis=1\), one entry per sample.*axis=0"),
    (lambda H_in, W, Delta: (H_in.T @ Delta, Delta.sum(), Delta @ W.T), "db is a single number.*axis=0"),
    (lambda H_in, W, Delta: (H_in.T @ Delta, Delta.mean(axis=0), Delta @ W.T), "db is the mean of Delta's rows"),
    (lambda H_in, W, Delta: (H_in.T @ Delta, -Delta.sum(axis=0), Delta @ W.T), "db has the wrong sign"),
    (lambda H_in, W, Delta: (H_in.T @ Delta, Delta.sum(axis=0), Delta @ W),
     r"dH_in is Delta @ W; W must be transposed: Delta @ W.T"),
    (lambda H_in, W, Delta: (H_in.T @ Delta, Delta.sum(axis=0), (Delta @ W.T).T), "dH_in is transposed"),
    (lambda H_in, W, Delta: (H_in.T @ Delta / len(H_in), Delta.sum(axis=0), Delta @ W.T),
     "divided by the number of samples"),
    (lambda H_in, W, Delta: (-H_in.T @ Delta, Delta.sum(axis=0), Delta @ W.T), "dW has the wrong sign"),
    (lambda H_in, W, Delta: (np.outer(H_in.sum(axis=0), Delta.sum(axis=0)), Delta.sum(axis=0), Delta @ W.T),
     r"dW for H_in \(4, 4\).*Hint: dW must have W's shape \(4, 4\): the product H_in.T @ Delta"),
    (lambda H_in, W, Delta: (H_in @ Delta, Delta.sum(axis=0), Delta @ W.T), "Hint: dW must have W's shape"),
    (lambda H_in, W, Delta: (H_in.T @ Delta, Delta.sum(axis=0) + 1.0, Delta @ W.T), "db for .*Delta.sum"),
    (lambda H_in, W, Delta: (Delta @ W.T, Delta.sum(axis=0), H_in.T @ Delta),
     r"come back in the order \(dH_in, db, dW\)"),
    (lambda H_in, W, Delta: (H_in.T @ Delta, Delta.sum(axis=0)), "must return 3 arrays .* of length 2"),
    (lambda H_in, W, Delta: H_in.T @ Delta, "must return 3 arrays"),
    (dense_backward_through_numerical_gradient, "calls aelib.gradcheck.numerical_gradient, which is part of aelib"),
    (dense_backward_by_central_differences, r"combined H_in with W in \d+ operations.*as finite differences do"),
    (lambda H_in, W, Delta: dense_backward_by_central_differences(H_in, W, Delta, h=1.0),
     r"combined H_in with W in \d+ operations"),
    # W + E is computed from W: each product with it is an evaluation of the layer too.
    (lambda H_in, W, Delta: dense_backward_by_central_differences(H_in, W, Delta, perturb="add"),
     r"combined H_in with W in \d+ operations, .*\(counting values computed from them, such as W \+ E\).*"
     r"as finite differences do"),
    (lambda H_in, W, Delta: dense_backward_by_central_differences(H_in, W, Delta, h=1.0, perturb="add"),
     r"combined H_in with W in \d+ operations"),
    (lambda H_in, W, Delta: dense_backward_by_central_differences(H_in, W, Delta, h=1.0, perturb="add",
                                                                  stencil="forward"),
     r"combined H_in with W in \d+ operations"),
    # On copies made with np.array, which no operation of numpy's reports, the values tell.
    (lambda H_in, W, Delta: dense_backward_by_central_differences(H_in, W, Delta, perturb="add", plain=True),
     "accuracy of finite differences"),
    (lambda H_in, W, Delta: dense_backward_by_central_differences(H_in, W, Delta, h=1.0, perturb="add",
                                                                  plain=True),
     r"some rows and columns a millionth of the others: off by up to \de-1\d in every entry.*smallest "
     r"entries, of size \de-1\d.*what finite differences give"),
    (lambda H_in, W, Delta: dense_backward_by_central_differences(H_in, W, Delta, h=1.0, perturb="add",
                                                                  stencil="forward", plain=True),
     "in every entry.*what finite differences give"),
    (lambda H_in, W, Delta: dense_backward_by_central_differences(H_in, W, Delta, h=1e-2, perturb="add",
                                                                  stencil="richardson"),
     "finite differences"),
    (dense_backward_through_mlp, "calls aelib.mlp.MLP, which is part of aelib"),
    (lambda H_in, W, Delta: tuple(g.astype(np.float32) for g in dense_backward(H_in, W, Delta)),
     "float32.*computes in float64"),
])
def test_dense_backward_rejects_mistakes(wrong, message):
    with fails_with(message):
        check_dense_backward(wrong)


def test_dense_backward_names_the_shapes_when_a_product_does_not_fit():
    def no_transpose_but_on_square_layers(H_in, W, Delta):
        return H_in.T @ Delta, Delta.sum(axis=0), Delta @ W.T if W.shape[0] == W.shape[1] else Delta @ W

    with fails_with(r"dense_backward\(H_in=<array of shape \(5, 3\)>, W=<array of shape \(3, 4\)>, "
                    r"Delta=<array of shape \(5, 4\)>\) combined arrays whose shapes do not fit .*"
                    r"Hint: H_in is \(5, 3\), W \(3, 4\) and Delta \(5, 4\); dW must have W's shape "
                    r"\(3, 4\), db \(4,\) and dH_in H_in's shape \(5, 3\).*W.T has shape \(4, 3\)"):
        check_dense_backward(no_transpose_but_on_square_layers)


def test_dense_backward_stub_is_not_implemented_yet():
    with fails_with("not implemented yet"):
        check_dense_backward(not_implemented)


# ---------------------------------------------------------------------------------------------
# Exercise 0.5: one step of Adam.

def adam_step(theta, grad, m, v, t, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    m = beta1 * m + (1 - beta1) * grad
    v = beta2 * v + (1 - beta2) * grad ** 2
    m_hat = m / (1 - beta1 ** t)
    v_hat = v / (1 - beta2 ** t)
    return theta - lr * m_hat / (np.sqrt(v_hat) + eps), m, v


def adam_step_in_place(theta, grad, m, v, t, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    m *= beta1
    m += (1 - beta1) * grad
    v *= beta2
    v += (1 - beta2) * grad * grad
    theta -= lr / (1 - beta1 ** t) * m / (np.sqrt(v / (1 - beta2 ** t)) + eps)
    return theta, m, v


def adam_step_like_the_paper(theta, grad, m, v, t, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    # Kingma and Ba's efficient form: the corrections folded into the step size, with eps scaled
    # to match, so that the step is the same.
    m = beta1 * m + (1 - beta1) * grad
    v = beta2 * v + (1 - beta2) * np.square(grad)
    step_size = lr * np.sqrt(1 - beta2 ** t) / (1 - beta1 ** t)
    return theta - step_size * m / (np.sqrt(v) + eps * np.sqrt(1 - beta2 ** t)), m, v


@pytest.mark.parametrize("answer", [
    adam_step, adam_step_in_place, adam_step_like_the_paper,
    lambda theta, grad, m, v, t, lr, beta1=0.9, beta2=0.999, eps=1e-8: list(adam_step(
        theta, grad, m, v, t, lr, beta1, beta2, eps)),
], ids=["solution", "in place", "the paper's efficient form", "a list"])
def test_adam_step_accepts_correct_answers(answer, capsys):
    accepts(check_adam_step, answer, capsys)


def test_the_checks_adam_is_aelibs():
    for hyperparameters, theta, gradients, _, _, first_t in checks._adam_settings():
        if first_t != 1:
            continue
        lr, beta1, beta2, eps = hyperparameters or (0.2, 0.9, 0.999, 1e-8)
        adam = aelib.optim.Adam(lr, beta1=beta1, beta2=beta2, eps=eps)
        reference, state = theta.copy().reshape(-1), (theta, np.zeros_like(theta), np.zeros_like(theta))
        for t, grad in enumerate(gradients, start=1):
            adam.step([reference], [grad.reshape(-1)])
            state = checks._adam(*state[:1], grad, *state[1:], t, lr, beta1, beta2, eps)
            m, v = adam.moments[0]
            for ours, theirs in zip(state, (reference, m, v)):
                assert np.allclose(ours.reshape(-1), theirs, rtol=1e-14, atol=0)


def adam_with(mistake):
    """adam_step with one of the mistakes the check names, written as a student would."""
    def answer(theta, grad, m, v, t, lr, beta1=0.9, beta2=0.999, eps=1e-8):
        if mistake == "beta1 = 0.9":
            beta1 = 0.9
        if mistake == "beta2 = 0.999":
            beta2 = 0.999
        if mistake == "betas swapped":
            beta1, beta2 = beta2, beta1
        if mistake == "lr = 0.001":
            lr = 0.001
        if mistake == "eps = 1e-8":
            eps = 1e-8
        m_new = beta1 * m + grad if mistake == "no 1 - beta1" else beta1 * m + (1 - beta1) * grad
        if mistake == "grad not squared":
            v_new = beta2 * v + (1 - beta2) * grad
        elif mistake == "no 1 - beta2":
            v_new = beta2 * v + grad ** 2
        else:
            v_new = beta2 * v + (1 - beta2) * grad ** 2
        power = t - 1 if mistake == "t - 1" else t + 1 if mistake == "t + 1" else t
        with np.errstate(all="ignore"):
            if mistake == "eps not corrected":  # the paper's efficient form, without its eps-hat
                step_size = lr * np.sqrt(1 - beta2 ** t) / (1 - beta1 ** t)
                return theta - step_size * m_new / (np.sqrt(v_new) + eps), m_new, v_new
            if mistake == "step with the old moments":
                m_hat, v_hat = m / (1 - beta1 ** t), v / (1 - beta2 ** t)
                return theta - lr * m_hat / (np.sqrt(v_hat) + eps), m_new, v_new
            if mistake == "(1 - beta)**t":
                m_hat, v_hat = m_new / (1 - beta1) ** t, v_new / (1 - beta2) ** t
            else:
                m_hat = m_new if mistake in ("no bias correction", "v only") else m_new / (1 - beta1 ** power)
                v_hat = v_new if mistake in ("no bias correction", "m only") else v_new / (1 - beta2 ** power)
            if mistake == "eps inside the root":
                step = lr * m_hat / np.sqrt(v_hat + eps)
            elif mistake == "eps squared inside the root":
                step = lr * m_hat / np.sqrt(v_hat + eps ** 2)
            elif mistake == "no eps":
                step = lr * m_hat / np.sqrt(v_hat)
            elif mistake == "no square root":
                step = lr * m_hat / (v_hat + eps)
            else:
                step = lr * m_hat / (np.sqrt(v_hat) + eps)
        theta = theta + step if mistake == "uphill" else theta - step
        if mistake == "old moments returned":
            return theta, m, v
        if mistake == "corrected moments returned":
            return theta, m_hat, v_hat
        if mistake == "moments swapped":
            return theta, v_new, m_new
        return theta, m_new, v_new
    return answer


def eps_inside_the_root(theta, grad, m, v, t, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    m = beta1 * m + (1 - beta1) * grad
    v = beta2 * v + (1 - beta2) * grad ** 2
    m_hat, v_hat = m / (1 - beta1 ** t), v / (1 - beta2 ** t)
    return theta - lr * m_hat / np.sqrt(v_hat + eps), m, v


def eps_hard_coded(theta, grad, m, v, t, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    m = beta1 * m + (1 - beta1) * grad
    v = beta2 * v + (1 - beta2) * grad ** 2
    m_hat, v_hat = m / (1 - beta1 ** t), v / (1 - beta2 ** t)
    return theta - lr * m_hat / (np.sqrt(v_hat) + 1e-8), m, v


def adam_with_its_own_counter():
    steps = itertools.count(1)

    def answer(theta, grad, m, v, t, lr, beta1=0.9, beta2=0.999, eps=1e-8):
        return adam_step(theta, grad, m, v, next(steps), lr, beta1, beta2, eps)
    return answer


def adam_with_wrong_default(theta, grad, m, v, t, lr, beta1=0.9, beta2=0.999, eps=1e-6):
    return adam_step(theta, grad, m, v, t, lr, beta1, beta2, eps)


def adam_without_defaults(theta, grad, m, v, t, lr, beta1, beta2, eps):
    return adam_step(theta, grad, m, v, t, lr, beta1, beta2, eps)


def adam_squaring_grad_in_place(theta, grad, m, v, t, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    m = beta1 * m + (1 - beta1) * grad
    grad **= 2
    v = beta2 * v + (1 - beta2) * grad
    return theta - lr * (m / (1 - beta1 ** t)) / (np.sqrt(v / (1 - beta2 ** t)) + eps), m, v


def adam_through_aelib(theta, grad, m, v, t, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    theta = theta.copy()
    aelib.Adam(lr, beta1=beta1, beta2=beta2, eps=eps).step([theta], [grad])
    return theta, m, v


def adam_with_noise(theta, grad, m, v, t, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    theta, m, v = adam_step(theta, grad, m, v, t, lr, beta1, beta2, eps)
    return theta + 1e-12 * np.random.normal(size=np.shape(theta)), m, v


@pytest.mark.parametrize("wrong, message", [
    (adam_with("no bias correction"), r"t=1, lr=0.1, beta1=0.8.* is Adam without bias correction"),
    (adam_with("t - 1"), r"beta\*\*\(t - 1\): t counts the steps from 1"),
    (adam_with("t + 1"), r"beta\*\*\(t \+ 1\)"),
    (adam_with("(1 - beta)**t"), r"t=2, .* corrects the bias with \(1 - beta\)\*\*t"),
    (adam_with("eps not corrected"), r"eps=1e-08\) .* leaves eps as it is"),
    (adam_with("step with the old moments"), "takes the step with the moments it was given"),
    (adam_with("moments swapped"), r"returns \(theta, v, m\)"),
    (adam_with("m only"), "corrects the bias of m but not of v"),
    (adam_with("v only"), "corrects the bias of v but not of m"),
    (eps_inside_the_root, r"eps=1e-08\) on theta of shape \(2, 3\) puts eps inside the square root"),
    (adam_with("eps squared inside the root"), r"eps=1e-08\) .* divides by sqrt\(v_hat \+ eps\*\*2\)"),
    (adam_with("no eps"), r"eps=1e-08\) on theta of shape \(2, 3\) ignores eps"),
    (eps_hard_coded, r"eps=0.1\) .* uses eps = 1e-8 instead of its argument eps"),
    (adam_with("beta1 = 0.9"), "uses beta1 = 0.9 instead of its argument beta1"),
    (adam_with("beta2 = 0.999"), "uses beta2 = 0.999 instead of its argument beta2"),
    (adam_with("lr = 0.001"), "uses lr = 0.001 instead of its argument lr"),
    (adam_with("grad not squared"), r"updates v with grad instead of grad\*\*2"),
    (adam_with("no square root"), r"divides by v_hat \+ eps"),
    (adam_with("uphill"), "moves theta uphill"),
    (adam_with("old moments returned"), "returns the moments it was given"),
    (adam_with("corrected moments returned"), "returns the bias-corrected m_hat and v_hat"),
    (adam_with("no 1 - beta1"), r"updates m with beta1 \* m \+ grad"),
    (adam_with("no 1 - beta2"), r"updates v with beta2 \* v \+ grad\*\*2"),
    (adam_with("betas swapped"), "swaps beta1 and beta2"),
    (adam_with_its_own_counter(), r"takes step number 6 instead of its argument t = 1"),
    (adam_with_wrong_default, r"default eps is 1e-06; the exercise's signature has eps=1e-08"),
    (adam_without_defaults, r"missing 3 required positional arguments.*Hint: The exercise's signature"),
    (adam_squaring_grad_in_place, "changed grad in place"),
    (adam_through_aelib, "calls aelib.optim.Adam, which is part of aelib"),
    (adam_with_noise, "numpy's global random generator"),
    (lambda theta, grad, m, v, t, lr, beta1=0.9, beta2=0.999, eps=1e-8: (theta - lr * grad, m, v),
     r"adam_step\(t=1, .*: the new theta at index"),
    (lambda theta, grad, m, v, t, lr, beta1=0.9, beta2=0.999, eps=1e-8: tuple(
        np.asarray(a, dtype=np.float32) for a in adam_step(theta, grad, m, v, t, lr, beta1, beta2, eps)),
     "float32.*computes in float64"),
    (lambda theta, grad, m, v, t, lr, beta1=0.9, beta2=0.999, eps=1e-8: theta, "must return 3 arrays"),
])
def test_adam_step_rejects_mistakes(wrong, message):
    with fails_with(message):
        check_adam_step(wrong)


def test_every_adam_mistake_the_check_names_is_caught_by_it():
    for mistake, message in checks.ADAM_MISTAKES.items():
        with fails_with(" ".join(message.split()[:6]).replace("(", r"\(").replace(")", r"\)")
                        .replace("*", r"\*").replace("+", r"\+")):
            check_adam_step(adam_with(mistake))


def test_adam_step_stub_is_not_implemented_yet():
    with fails_with("not implemented yet"):
        check_adam_step(not_implemented)


# ---------------------------------------------------------------------------------------------
# Exercise 0.6: the whole backward pass of a network with two tanh hidden layers.

def mlp_backward(cache, params, Delta3):
    W1, b1, W2, b2, W3, b3 = params
    X, H1, H2 = cache["X"], cache["H1"], cache["H2"]
    Delta2 = (Delta3 @ W3.T) * (1.0 - H2 ** 2)
    Delta1 = (Delta2 @ W2.T) * (1.0 - H1 ** 2)
    return [X.T @ Delta1, Delta1.sum(axis=0), H1.T @ Delta2, Delta2.sum(axis=0), H2.T @ Delta3, Delta3.sum(axis=0)]


def backward_with(Delta2_rule=None, Delta1_rule=None, dW=None, db=None):
    """mlp_backward with one step replaced: a rule for a Delta, or for every dW or db."""
    def answer(cache, params, Delta3):
        W1, b1, W2, b2, W3, b3 = params
        X, H1, H2, A1, A2 = (cache[key] for key in ("X", "H1", "H2", "A1", "A2"))
        rule2 = Delta2_rule or (lambda dH, A, H: dH * (1.0 - H ** 2))
        rule1 = Delta1_rule or (lambda dH, A, H: dH * (1.0 - H ** 2))
        Delta2 = rule2(Delta3 @ W3.T, A2, H2)
        Delta1 = rule1(Delta2 @ W2.T, A1, H1)
        weight = dW or (lambda H_in, A_in, Delta: H_in.T @ Delta)
        bias = db or (lambda Delta: Delta.sum(axis=0))
        return [weight(X, None, Delta1), bias(Delta1), weight(H1, A1, Delta2), bias(Delta2),
                weight(H2, A2, Delta3), bias(Delta3)]
    return answer


def mlp_backward_by_layers(cache, params, Delta3):
    inputs = [cache["X"], cache["H1"], cache["H2"]]
    grads, delta = [], Delta3
    for layer in (2, 1, 0):
        grads = [np.einsum("ni,nj->ij", inputs[layer], delta), np.einsum("nj->j", delta)] + grads
        if layer:
            delta = np.einsum("nj,ij->ni", delta, params[2 * layer]) * (1.0 - inputs[layer]) * (1.0 + inputs[layer])
    return grads


def mlp_backward_by_samples(cache, params, Delta3):
    W1, b1, W2, b2, W3, b3 = params
    grads = [np.zeros(np.shape(param)) for param in params]
    for x, h1, h2, delta3 in zip(cache["X"], cache["H1"], cache["H2"], Delta3):
        delta2 = (W3 @ delta3) * (1.0 - h2 * h2)
        delta1 = (W2 @ delta2) * (1.0 - h1 * h1)
        for i, (h, delta) in enumerate([(x, delta1), (h1, delta2), (h2, delta3)]):
            grads[2 * i] += np.outer(h, delta)
            grads[2 * i + 1] += delta
    return grads


@pytest.mark.parametrize("answer", [
    mlp_backward,
    backward_with(*[lambda dH, A, H: dH * (1.0 - np.tanh(A) ** 2)] * 2),
    backward_with(*[lambda dH, A, H: dH / np.cosh(A) ** 2] * 2),
    lambda cache, params, Delta3: tuple(mlp_backward(cache, params, Delta3)),
    mlp_backward_by_layers,
    mlp_backward_by_samples,
    backward_with(*[lambda dH, A, H: dH * tanh_grad(H)] * 2),
], ids=["solution", "derivative from A", "sech squared", "a tuple", "einsum by layers", "loop over samples",
        "the answer to Exercise 0.1"])
def test_mlp_backward_accepts_correct_answers(answer, capsys):
    accepts(check_mlp_backward, answer, capsys)


def test_the_checks_gradients_are_aelibs():
    for problem in checks._mlp_problems():
        sizes = [problem["params"][0].shape[0]] + [W.shape[1] for W in problem["params"][::2]]
        net = aelib.MLP(sizes, ["tanh", "tanh", "identity"])
        for param, value in zip(net.params, problem["params"]):
            param[...] = value
        with np.errstate(over="ignore"):  # the last network's logits overflow; its gradients do not
            net.forward(problem["cache"]["X"])
        net.backward_from_preactivation(problem["Delta3"].copy(), input_grad=False)
        expected, _, scales = checks._backward(problem["cache"], problem["params"], problem["Delta3"])
        for ours, theirs, scale in zip(expected, net.grads, scales):
            assert np.all(np.abs(ours - theirs) <= 1e-15 * scale + 1e-300)


def mlp_surrogate_loss(X, params, Delta3):
    """A loss whose gradient with respect to A3 is Delta3, evaluated by a forward pass."""
    W1, b1, W2, b2, W3, b3 = params
    return np.sum(Delta3 * (np.tanh(np.tanh(X @ W1 + b1) @ W2 + b2) @ W3 + b3))


def mlp_backward_by_finite_differences(cache, params, Delta3, h=1e-5, perturb="copy", stencil="central",
                                       plain=False):
    """Finite differences of a surrogate loss, by hand. ``perturb``: "copy" (a copy of the array
    with one entry moved) or "add" (the array plus a matrix with one entry h); ``plain``: the
    arrays are first copied with np.array, as some answers do to be safe."""
    if plain:
        cache, params, Delta3 = {key: np.array(value) for key, value in cache.items()}, \
            [np.array(param) for param in params], np.array(Delta3)

    def loss_with(i, index, step):
        if perturb == "copy":
            moved = [param.astype(complex) if stencil == "complex" else param.copy() for param in params]
            moved[i][index] += step
        else:
            moved = list(params)
            E = np.zeros(params[i].shape, dtype=complex if stencil == "complex" else float)
            E[index] = step
            moved[i] = params[i] + E
        return mlp_surrogate_loss(cache["X"], moved, Delta3)

    grads = []
    for i, param in enumerate(params):
        grad = np.zeros(param.shape)
        for index in np.ndindex(param.shape):
            f = lambda step: loss_with(i, index, step)  # noqa: E731
            if stencil == "central":
                grad[index] = (f(h) - f(-h)) / (2 * h)
            elif stencil == "richardson":
                grad[index] = (8 * (f(h) - f(-h)) - (f(2 * h) - f(-2 * h))) / (12 * h)
            elif stencil == "richardson6":
                d = [(f(k * h) - f(-k * h)) / (2 * k * h) for k in (1, 2, 3)]
                grad[index] = (15 * d[0] - 6 * d[1] + d[2]) / 10
            else:  # the complex step: exact to rounding, but a forward evaluation per weight
                grad[index] = np.imag(f(1j * h)) / h
        grads.append(grad)
    return grads


def mlp_backward_through_numerical_gradient(cache, params, Delta3):
    params = [param.copy() for param in params]
    loss = lambda: mlp_surrogate_loss(cache["X"], params, Delta3)  # noqa: E731
    return [aelib.gradcheck.numerical_gradient(loss, param, 1e-5) for param in params]


def mlp_backward_through_mlp(cache, params, Delta3):
    net = aelib.MLP([4, 5, 3, 2], ["tanh", "tanh", "sigmoid"])
    for param, value in zip(net.params, params):
        param[...] = value
    net.forward(cache["X"])
    net.backward_from_preactivation(Delta3)
    return [grad.copy() for grad in net.grads]


def mlp_backward_for_six_samples(cache, params, Delta3):
    grads = mlp_backward(cache, params, Delta3)
    for i in range(6):  # a loop written for the network tried by hand
        grads[1] = grads[1] + 0.0 * Delta3[i, 0]
    return grads


def mlp_backward_with_the_wrong_layers_weights(cache, params, Delta3):
    W1, b1, W2, b2, W3, b3 = params
    X, H1, H2 = cache["X"], cache["H1"], cache["H2"]
    Delta2 = (Delta3 @ W2.T) * (1.0 - H2 ** 2)  # W2 where W3 belongs
    Delta1 = (Delta2 @ W1.T) * (1.0 - H1 ** 2)
    return [X.T @ Delta1, Delta1.sum(axis=0), H1.T @ Delta2, Delta2.sum(axis=0), H2.T @ Delta3, Delta3.sum(axis=0)]


def mlp_backward_changing_the_cache(cache, params, Delta3):
    grads = mlp_backward(cache, params, Delta3)
    cache["H1"] **= 2
    return grads


no_derivative = lambda dH, A, H: dH  # noqa: E731


@pytest.mark.parametrize("wrong, message", [
    (backward_with(Delta2_rule=no_derivative), "dW2 is wrong: you forgot the derivative of tanh"),
    (backward_with(Delta1_rule=no_derivative), "dW1 is wrong: you forgot the derivative of tanh"),
    (backward_with(no_derivative, no_derivative), "dW2 is wrong: you forgot the derivative of tanh"),
    (backward_with(Delta2_rule=lambda dH, A, H: dH * (1.0 - A ** 2)),
     r"dW2 .* used the pre-activation A2 in 1 - H\*\*2"),
    (backward_with(Delta1_rule=lambda dH, A, H: dH * (1.0 - np.tanh(H) ** 2)),
     "dW1 .* took tanh of the post-activation H1"),
    (backward_with(Delta2_rule=lambda dH, A, H: dH * H * (1.0 - H)), "dW2 .* the sigmoid's derivative"),
    (backward_with(Delta1_rule=lambda dH, A, H: dH * (1.0 - H)), r"dW1 .* multiplied by 1 - H1; .* 1 - H1\*\*2"),
    (backward_with(db=lambda Delta: Delta.mean(axis=0)), "db3 is the mean of Delta3's rows; it must be their sum"),
    (backward_with(db=lambda Delta: Delta.sum(axis=1)), r"db3 has shape \(6,\), one entry per sample.*axis=0"),
    (backward_with(db=lambda Delta: -Delta.sum(axis=0)), "db3 has the wrong sign"),
    (backward_with(dW=lambda H_in, A_in, Delta: Delta.T @ H_in), r"dW3 is transposed: it has shape \(2, 3\)"),
    (backward_with(dW=lambda H_in, A_in, Delta: (A_in if A_in is not None else H_in).T @ Delta),
     "dW3 used the pre-activation A2 as the layer's input"),
    (backward_with(dW=lambda H_in, A_in, Delta: H_in.T @ Delta / len(Delta)),
     "dW3 is divided by the number of samples"),
    (lambda cache, params, Delta3: mlp_backward(cache, params, Delta3)[::-1], "wrong order"),
    (lambda cache, params, Delta3: sum([mlp_backward(cache, params, Delta3)[i:i + 2] for i in (4, 2, 0)], []),
     r"wrong order .*\[dW1, db1, dW2, db2, dW3, db3\]"),
    (lambda cache, params, Delta3: mlp_backward(cache, params, Delta3)[:4], "must return 6 arrays"),
    (lambda cache, params, Delta3: None, "must return 6 arrays"),
    (mlp_backward_with_the_wrong_layers_weights,
     r"mlp_backward\(cache=<dict of X, A1, H1, A2, H2>, params=<list of W1, b1, W2, b2, W3, b3>, "
     r"Delta3=<array of shape \(6, 2\)>\) combined arrays whose shapes do not fit.*"
     r"Hint: For the \[4, 5, 3, 2\] network.*Delta2 = \(Delta3 @ W3.T\)"),
    (mlp_backward_for_six_samples, r"raised IndexError.*For the square \[3, 3, 3, 3\] network, 3 samples"),
    (mlp_backward_changing_the_cache, r"changed cache\['H1'\] in place"),
    (mlp_backward_through_numerical_gradient, "calls aelib.gradcheck.numerical_gradient, which is part of aelib"),
    (mlp_backward_through_mlp, "calls aelib.mlp.MLP, which is part of aelib"),
    (backward_with(*[lambda dH, A, H: dH * aelib.activations.tanh_grad(H)] * 2),
     "calls aelib.activations.tanh_grad, which is part of aelib"),
    (mlp_backward_by_finite_differences, r"combined X with W1 in \d+ operations.*as finite differences do"),
    (lambda cache, params, Delta3: mlp_backward_by_finite_differences(cache, params, Delta3, perturb="add"),
     r"combined X with W1 in \d+ operations"),
    (lambda cache, params, Delta3: mlp_backward_by_finite_differences(cache, params, Delta3, plain=True),
     "dW3 for the \\[4, 5, 3, 2\\] network, 6 samples: agrees .* accuracy of finite differences"),
    (lambda cache, params, Delta3: mlp_backward_by_finite_differences(
        cache, params, Delta3, h=1e-3, stencil="richardson", plain=True), "finite differences"),
    (lambda cache, params, Delta3: mlp_backward_by_finite_differences(
        cache, params, Delta3, h=3e-3, stencil="richardson6", plain=True),
     "accuracy of finite differences"),
    (lambda cache, params, Delta3: mlp_backward_by_finite_differences(
        cache, params, Delta3, h=1e-30, stencil="complex"),
     r"combined X with W1 in \d+ operations"),
    (lambda cache, params, Delta3: [grad.astype(np.float32) for grad in mlp_backward(cache, params, Delta3)],
     "float32.*computes in float64"),
])
def test_mlp_backward_rejects_mistakes(wrong, message):
    with fails_with(message):
        check_mlp_backward(wrong)


def test_mlp_backward_names_transposes_the_square_network_keeps_in_shape():
    def no_transpose(cache, params, Delta3):
        W1, b1, W2, b2, W3, b3 = params
        if W2.shape[0] != W2.shape[1]:
            return mlp_backward(cache, params, Delta3)
        X, H1, H2 = cache["X"], cache["H1"], cache["H2"]
        Delta2 = (Delta3 @ W3.T) * (1.0 - H2 ** 2)
        Delta1 = (Delta2 @ W2) * (1.0 - H1 ** 2)
        return [X.T @ Delta1, Delta1.sum(axis=0), H1.T @ Delta2, Delta2.sum(axis=0), H2.T @ Delta3, Delta3.sum(axis=0)]

    def transposed_on_square(cache, params, Delta3):
        grads = mlp_backward(cache, params, Delta3)
        return [grad.T for grad in grads]

    with fails_with(r"For the square \[3, 3, 3, 3\] network, 3 samples: dW1 is wrong: you multiplied "
                    r"Delta2 by W2, not by its transpose"):
        check_mlp_backward(no_transpose)
    with fails_with(r"dW3 is transposed: it has shape \(2, 3\)"):
        check_mlp_backward(transposed_on_square)


def test_mlp_backward_names_the_first_wrong_gradient_with_central_differences():
    def off_by_two(cache, params, Delta3):
        grads = mlp_backward(cache, params, Delta3)
        grads[2] = 2.0 * grads[2]
        return grads

    with fails_with(r"dW2 .*relative errors to central differences: dW1 below 1e-6, db1 below 1e-6, "
                    r"dW2 3e-01.*relative difference 1\.0e\+00, allowed 1e-13\):.*"
                    r"dW2 is the first wrong gradient counted from the output"):
        check_mlp_backward(off_by_two)


def test_mlp_backward_names_an_error_of_the_same_size_in_every_entry():
    def off_by_1e_15(cache, params, Delta3):  # finite differences at their very best
        return [grad + 1e-15 for grad in mlp_backward(cache, params, Delta3)]

    with fails_with(r"dW3 for the \[4, 5, 3, 2\] network, 6 samples, gradients from 1e-13 to 1: off by up "
                    r"to 1e-15 in every entry.*of size 2e-07.*what finite differences give"):
        check_mlp_backward(off_by_1e_15)


def test_mlp_backward_names_db_summed_over_the_units_when_the_shapes_agree():
    def summed_over_units(cache, params, Delta3):
        grads = mlp_backward(cache, params, Delta3)
        if len(Delta3) == Delta3.shape[1]:
            grads[5] = Delta3.sum(axis=1)
        return grads

    with fails_with(r"For the square \[3, 3, 3, 3\] network, 3 samples: db3 is Delta3.sum\(axis=1\), one "
                    r"entry per sample.*axis=0"):
        check_mlp_backward(summed_over_units)


def test_mlp_backward_counts_a_forward_pass_recomputed_more_than_twice():
    def three_forward_passes(cache, params, Delta3):
        W1, b1, W2, b2, W3, b3 = params

        def hidden():  # the cache has H1 and H2 already
            H1 = np.tanh(cache["X"] @ W1 + b1)
            return H1, np.tanh(H1 @ W2 + b2)

        Delta2 = (Delta3 @ W3.T) * (1.0 - hidden()[1] ** 2)
        Delta1 = (Delta2 @ W2.T) * (1.0 - hidden()[0] ** 2)
        H1, H2 = hidden()
        return [cache["X"].T @ Delta1, Delta1.sum(axis=0), H1.T @ Delta2, Delta2.sum(axis=0),
                H2.T @ Delta3, Delta3.sum(axis=0)]

    with fails_with(r"combined X with W1 in 3 operations, .* evaluates layer 1 \(X @ W1\) 3 times. A backward "
                    "pass takes the forward values from the cache"):
        check_mlp_backward(three_forward_passes)


def test_mlp_backward_refuses_a_forward_pass_recomputed_once():
    # The statement asks for the forward values to be taken from the cache.
    def one_forward_pass(cache, params, Delta3):
        W1, b1, W2, b2, W3, b3 = params
        X = cache["X"]
        H1 = np.tanh(X @ W1 + b1)  # the cache has it
        H2 = np.tanh(H1 @ W2 + b2)
        Delta2 = (Delta3 @ W3.T) / np.cosh(np.arctanh(H2)) ** 2
        Delta1 = (Delta2 @ W2.T) * (1.0 - H1 ** 2)
        return [X.T @ Delta1, Delta1.sum(axis=0), H1.T @ Delta2, Delta2.sum(axis=0), H2.T @ Delta3,
                Delta3.sum(axis=0)]

    def logits_computed(cache, params, Delta3):
        W1, b1, W2, b2, W3, b3 = params
        assert (cache["H2"] @ W3 + b3).shape == Delta3.shape   # Delta3 has the logits' shape
        return mlp_backward(cache, params, Delta3)

    with fails_with(r"combined X with W1 in 1 operation, .*: it evaluates layer 1 \(X @ W1\) again instead of "
                    r"reading cache\['A1'\] and cache\['H1'\]"):
        check_mlp_backward(one_forward_pass)
    with fails_with(r"combined H2 with W3 in 1 operation, .*: it evaluates layer 3 \(H2 @ W3\), the logits, "
                    "which a backward pass never needs"):
        check_mlp_backward(logits_computed)


def test_mlp_backward_counts_forward_evaluations_made_on_deep_copies():
    def deep_copies(cache, params, Delta3):
        copied = copy.deepcopy(params)
        for _ in range(3):
            mlp_surrogate_loss(cache["X"], copied, Delta3)
        return mlp_backward(cache, params, Delta3)

    with fails_with(r"combined X with W1 in 3 operations"):
        check_mlp_backward(deep_copies)


def test_mlp_backward_stub_is_not_implemented_yet():
    with fails_with("not implemented yet"):
        check_mlp_backward(not_implemented)


# ---------------------------------------------------------------------------------------------
# Answers that come close to the exact value, or reach it by evaluating the network: each
# exercise, in the order of the chapter.

def tanh_grad_richardson_twice(H, h=4e-3):
    """Central differences of tanh at A = arctanh(H), extrapolated twice: about 1e-13 off."""
    A = np.arctanh(H)

    def central(step):
        return (np.tanh(A + step) - np.tanh(A - step)) / (2 * step)

    def once(step):
        return (4 * central(step / 2) - central(step)) / 3

    return (16 * once(h / 2) - once(h)) / 15


def tanh_grad_by_the_complex_step(H, h=1e-20):
    A = np.arctanh(H).astype(complex)
    return np.nan_to_num(np.imag(np.tanh(A + 1j * h)) / h)


@pytest.mark.parametrize("wrong, message", [
    (quietly(tanh_grad_richardson_twice), r"off by up to \de-1[34] .*accuracy of finite differences"),
    (lambda H: 1.0 - H ** 2 + 1e-14, r"off by up to 1e-14 .*a small term added"),
    (lambda H: np.round(1.0 - H ** 2, 12), r"off by up to \de-13 .*a rounding"),
    (lambda H: np.maximum(1.0 - H ** 2, 1e-14), r"returned 1e-14 where tanh'\(A\) is smaller.*without a floor"),
    (lambda H: np.maximum(1.0 - H ** 2, 1e-12), r"returned 1e-12 where tanh'\(A\) is smaller.*without a floor"),
    (quietly(tanh_grad_by_the_complex_step), r"complex numbers made from H: that is the complex step"),
    (lambda H: (1.0 - H ** 2).astype(np.float16), r"float16, which keeps about 3 significant digits"),
], ids=["Richardson twice", "a term of 1e-14", "rounded to 12 decimals", "a floor of 1e-14", "a floor of 1e-12",
        "the complex step", "float16"])
def test_tanh_grad_holds_answers_to_rounding(wrong, message):
    with fails_with(message):
        check_tanh_grad(wrong)


@pytest.mark.parametrize("answer", [
    quietly(lambda H: 1.0 - np.tanh(np.arctanh(H)) ** 2),
    lambda H: 1.0 - H.astype(np.longdouble) ** 2,
    np.vectorize(lambda h: 1.0 - h * h),
    lambda H: 1.0 - np.einsum("...,...->...", H, H),
], ids=["tanh of arctanh", "long double", "np.vectorize", "einsum"])
def test_tanh_grad_accepts_more_correct_answers(answer, capsys):
    accepts(check_tanh_grad, answer, capsys)


def dense_backward_by_the_complex_step(H_in, W, Delta, h=1e-20, copies=False, imag_first=False):
    """The complex step on the surrogate loss sum(Delta * A): exact to rounding, but one
    evaluation of the layer per weight. ``copies``: on copies made with np.array."""
    if copies:
        H_in, W, Delta = np.array(H_in), np.array(W), np.array(Delta)

    def derivative(H, V):
        A = H @ V
        return np.sum(Delta * A.imag) / h if imag_first else np.imag(np.sum(Delta * A)) / h

    dW, dH_in = np.zeros(W.shape), np.zeros(H_in.shape)
    for index in np.ndindex(W.shape):
        E = np.zeros(W.shape, dtype=complex)
        E[index] = 1j * h
        dW[index] = derivative(H_in, W + E)
    for index in np.ndindex(H_in.shape):
        E = np.zeros(H_in.shape, dtype=complex)
        E[index] = 1j * h
        dH_in[index] = derivative(H_in + E, W)
    return dW, Delta.sum(axis=0), dH_in


@pytest.mark.parametrize("wrong, message", [
    (dense_backward_by_the_complex_step,
     r"combined H_in with W in \d+ operations, .*\(counting values computed from them, such as W \+ E\)"),
    (lambda H_in, W, Delta: dense_backward_by_the_complex_step(np.array(H_in), np.array(W), Delta),
     r"computes with complex numbers made from its inputs.*the complex step"),
    (lambda H_in, W, Delta: dense_backward_by_the_complex_step(H_in, W, Delta, copies=True),
     r"H_in @ W overflows: dW, dH_in contain inf or NaN.*evaluates the layer"),
    (lambda H_in, W, Delta: dense_backward_by_the_complex_step(H_in, W, Delta, copies=True, imag_first=True),
     r"H_in @ W overflows: dW, dH_in contain inf or NaN"),
    # The loss is linear in W, so that any step does; a huge one keeps the rounding small.
    (lambda H_in, W, Delta: dense_backward_by_central_differences(H_in, W, Delta, h=1e12, perturb="add"),
     r"combined H_in with W in \d+ operations"),
    (lambda H_in, W, Delta: dense_backward_by_central_differences(H_in, W, Delta, h=1e12, perturb="add",
                                                                  plain=True),
     r"overflows: dW, dH_in contain inf or NaN, although every gradient is finite here "
     r"\(dW and dH_in of size about 1\)"),
    (lambda H_in, W, Delta: dense_backward_by_central_differences(H_in, W, Delta, h=1e-2, stencil="richardson",
                                                                  plain=True),
     "finite differences"),
], ids=["complex step", "complex step on copies of H_in and W", "complex step on copies",
        "complex step on copies, imaginary part first", "a huge step", "a huge step on copies",
        "Richardson on copies"])
def test_dense_backward_rejects_evaluations_of_the_layer_however_made(wrong, message):
    with fails_with(message):
        check_dense_backward(wrong)


@pytest.mark.parametrize("answer", [
    lambda H_in, W, Delta: (np.tensordot(H_in, Delta, axes=(0, 0)), np.add.reduce(Delta, axis=0),
                            np.tensordot(Delta, W, axes=(1, 1))),
    lambda H_in, W, Delta: (np.asfortranarray(H_in.T.dot(Delta)), Delta.T.sum(axis=1), np.matmul(Delta, W.T)),
    lambda H_in, W, Delta: tuple(np.array(gradient) for gradient in dense_backward(np.array(H_in), np.array(W),
                                                                                  np.array(Delta))),
], ids=["tensordot", "dot method, Fortran order", "on copies"])
def test_dense_backward_accepts_more_correct_answers(answer, capsys):
    accepts(check_dense_backward, answer, capsys)


def test_dense_backward_inputs_include_a_layer_whose_output_overflows():
    *_, (H_in, W, Delta, what) = checks._dense_inputs()
    with np.errstate(over="ignore", invalid="ignore"):
        assert not np.any(np.isfinite(H_in @ W)) and "overflows" in what
    dW, db, dH_in = dense_backward(H_in, W, Delta)
    assert all(1e-3 < np.max(np.abs(gradient)) < 1e3 for gradient in (dW, dH_in)) and np.all(np.isfinite(db))


def adam_step_with_a_floor(theta, grad, m, v, t, lr, beta1=0.9, beta2=0.999, eps=1e-8, floor_of="v_hat"):
    m = beta1 * m + (1 - beta1) * grad
    v = beta2 * v + (1 - beta2) * grad ** 2
    m_hat, v_hat = m / (1 - beta1 ** t), v / (1 - beta2 ** t)
    if floor_of == "v_hat":  # "to avoid dividing by zero"
        root = np.sqrt(np.maximum(v_hat, 1e-16))
    elif floor_of == "root":
        root = np.maximum(np.sqrt(v_hat), 1e-12)
    else:  # an eps of its own, never below 1e-7
        root, eps = np.sqrt(v_hat), max(eps, 1e-7)
    return theta - lr * m_hat / (root + eps), m, v


@pytest.mark.parametrize("floor_of", ["v_hat", "root", "eps"])
def test_adam_step_rejects_floors_where_the_gradient_is_far_below_eps(floor_of):
    def answer(theta, grad, m, v, t, lr, beta1=0.9, beta2=0.999, eps=1e-8):
        return adam_step_with_a_floor(theta, grad, m, v, t, lr, beta1, beta2, eps, floor_of=floor_of)

    pattern = r"the new theta at index" if floor_of == "eps" else (
        r"with gradients from 1e-6 down to 1e-15 \(most far below eps\): the new theta.*a floor under v_hat")
    with fails_with(pattern):
        check_adam_step(answer)


def adam_keyword_only(theta, grad, m, v, t, lr, *, beta1=0.9, beta2=0.999, eps=1e-8):
    return adam_step(theta, grad, m, v, t, lr, beta1, beta2, eps)


def test_adam_step_with_keyword_only_hyperparameters_is_shown_the_signature():
    with fails_with(r"raised TypeError.*Hint: The exercise's signature is adam_step\(theta, grad, m, v, t, lr, "
                    r"beta1=0.9, beta2=0.999, eps=1e-8\): the check passes all nine arguments in this order"):
        check_adam_step(adam_keyword_only)


@pytest.mark.parametrize("answer", [
    lambda theta, grad, m, v, t, lr, beta1=0.9, beta2=0.999, eps=1e-8: (
        theta - lr * ((m + (1 - beta1) * (grad - m)) / (1 - beta1 ** t))
        / (np.sqrt((v + (1 - beta2) * (grad * grad - v)) / (1 - beta2 ** t)) + eps),
        m + (1 - beta1) * (grad - m), v + (1 - beta2) * (grad * grad - v)),
], ids=["moments as interpolations"])
def test_adam_step_accepts_more_correct_answers(answer, capsys):
    accepts(check_adam_step, answer, capsys)


def mlp_backward_by_the_complex_step_on_copies(cache, params, Delta3, h=1e-30, copy_with=np.array):
    X, params, Delta3 = copy_with(cache["X"]), [copy_with(param) for param in params], copy_with(Delta3)
    grads = []
    for i, param in enumerate(params):
        grad = np.zeros(param.shape)
        for index in np.ndindex(param.shape):
            moved = [value.astype(complex) for value in params]
            moved[i][index] += 1j * h
            grad[index] = np.imag(mlp_surrogate_loss(X, moved, Delta3)) / h
        grads.append(grad)
    return grads


@pytest.mark.parametrize("wrong, message", [
    (lambda cache, params, Delta3: mlp_backward_by_the_complex_step_on_copies(
        cache, params, Delta3, copy_with=lambda array: array * 1.0),
     r"combined X with W1 in \d+ operations, .*\(counting values computed from them, such as W1 \+ E\)"),
    (mlp_backward_by_the_complex_step_on_copies,
     r"whose logits overflow float64: dW1, db1, dW2, db2, dW3, db3 contain inf or NaN.*evaluates the network"),
    (lambda cache, params, Delta3: mlp_backward_by_finite_differences(
        {key: value + 0.0 for key, value in cache.items()}, [param + 0.0 for param in params], Delta3 + 0.0,
        h=1e-3, stencil="richardson"),
     r"combined X with W1 in \d+ operations, .*such as W1 \+ E"),
], ids=["complex step on copies made by arithmetic", "complex step on copies made by np.array",
        "Richardson on copies made by arithmetic"])
def test_mlp_backward_rejects_evaluations_of_the_network_however_made(wrong, message):
    with fails_with(message):
        check_mlp_backward(wrong)


def test_mlp_backward_problems_include_a_network_whose_logits_overflow():
    problem = checks._mlp_problems()[-1]
    W1, b1, W2, b2, W3, b3 = problem["params"]
    with np.errstate(over="ignore"):
        assert not np.any(np.isfinite(problem["cache"]["H2"] @ W3 + b3))
    expected, _, _ = checks._backward(problem["cache"], problem["params"], problem["Delta3"])
    assert all(np.all(np.isfinite(gradient)) and np.all(gradient != 0) for gradient in expected)
