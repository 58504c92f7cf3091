"""The exercise checks of chapter 0 accept the reference solutions, reject the usual mistakes with
a message that names them, and say "not implemented yet" for an untouched stub."""
import numpy as np
import pytest
from check_failures import accepts, fails_with, not_implemented

from aelib.checks import check_adam_step, check_dense_backward, check_mlp_backward, check_tanh_grad


# Exercise 0.1: tanh's derivative from its output.

def tanh_grad(H):
    return 1.0 - H ** 2


def test_tanh_grad_accepts_the_solution(capsys):
    check_tanh_grad(tanh_grad)
    assert capsys.readouterr().out.startswith("Correct:")


@pytest.mark.parametrize("wrong, message", [
    (lambda H: 1.0 - np.tanh(H) ** 2, "already the output"),
    (lambda H: 1.0 - H, "must be squared"),
    (lambda H: np.ones_like(H), "expected"),
    (lambda H: H * (1.0 - H), "expected"),
    (lambda H: (1.0 - H ** 2).ravel(), "shape"),
    (lambda H: 0.0, "shape"),
])
def test_tanh_grad_rejects_mistakes(wrong, message):
    with fails_with(message):
        check_tanh_grad(wrong)


def test_tanh_grad_rejects_changing_the_input():
    def in_place(H):
        H **= 2
        return 1.0 - H

    with fails_with("in place"):
        check_tanh_grad(in_place)


def test_tanh_grad_stub_is_not_implemented_yet():
    with fails_with("not implemented yet"):
        check_tanh_grad(not_implemented)


# Exercise 0.2: the backward pass of one dense layer.

def dense_backward(H_in, W, Delta):
    return H_in.T @ Delta, Delta.sum(axis=0), Delta @ W.T


def test_dense_backward_accepts_the_solution(capsys):
    check_dense_backward(dense_backward)
    assert capsys.readouterr().out.startswith("Correct:")


@pytest.mark.parametrize("wrong, message", [
    (lambda H_in, W, Delta: (Delta.T @ H_in, Delta.sum(axis=0), Delta @ W.T), r"dW .*shape \(3, 4\)"),
    (lambda H_in, W, Delta: (H_in.T @ Delta, Delta.sum(axis=1), Delta @ W.T), "axis=0"),
    (lambda H_in, W, Delta: (H_in.T @ Delta, Delta.mean(axis=0), Delta @ W.T), "mean"),
    (lambda H_in, W, Delta: (H_in.T @ Delta, Delta.sum(axis=0), (Delta @ W.T).T), r"dH_in.*shape \(5, 3\)"),
    (lambda H_in, W, Delta: (H_in.T @ Delta, Delta.sum(axis=0) + 1.0, Delta @ W.T), "db"),
    (lambda H_in, W, Delta: (H_in.T @ Delta, Delta.sum(axis=0)), "three arrays"),
    (lambda H_in, W, Delta: H_in.T @ Delta, "three arrays"),
])
def test_dense_backward_rejects_mistakes(wrong, message):
    with fails_with(message):
        check_dense_backward(wrong)


def test_dense_backward_reports_an_exception_with_its_input():
    def broken(H_in, W, Delta):
        return H_in @ Delta, Delta.sum(axis=0), Delta @ W.T

    with fails_with(r"dense_backward\(H_in=<array of shape \(5, 3\)>, W=<array of shape \(3, 4\)>, "
                    r"Delta=<array of shape \(5, 4\)>\) combined arrays whose shapes do not fit"):
        check_dense_backward(broken)


def test_dense_backward_stub_is_not_implemented_yet():
    with fails_with("not implemented yet"):
        check_dense_backward(not_implemented)


# Exercise 0.5: one step of Adam.

def adam_step(theta, grad, m, v, t, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    m = beta1 * m + (1 - beta1) * grad
    v = beta2 * v + (1 - beta2) * grad ** 2
    m_hat = m / (1 - beta1 ** t)
    v_hat = v / (1 - beta2 ** t)
    return theta - lr * m_hat / (np.sqrt(v_hat) + eps), m, v


def test_adam_step_accepts_the_solution(capsys):
    check_adam_step(adam_step)
    assert capsys.readouterr().out.startswith("Correct:")


def test_adam_step_accepts_updating_the_moments_in_place(capsys):
    def in_place(theta, grad, m, v, t, lr, beta1=0.9, beta2=0.999, eps=1e-8):
        m *= beta1
        m += (1 - beta1) * grad
        v *= beta2
        v += (1 - beta2) * grad * grad
        theta -= lr / (1 - beta1 ** t) * m / (np.sqrt(v / (1 - beta2 ** t)) + eps)
        return theta, m, v

    check_adam_step(in_place)
    assert capsys.readouterr().out.startswith("Correct:")


def without_bias_correction(theta, grad, m, v, t, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    m = beta1 * m + (1 - beta1) * grad
    v = beta2 * v + (1 - beta2) * grad ** 2
    return theta - lr * m / (np.sqrt(v) + eps), m, v


def counting_from_zero(theta, grad, m, v, t, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    return adam_step(theta, grad, m, v, t - 1, lr, beta1, beta2, eps)


def default_betas(theta, grad, m, v, t, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    return adam_step(theta, grad, m, v, t, lr)


def plain_gradient_descent(theta, grad, m, v, t, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    return theta - lr * grad, m, v


@pytest.mark.parametrize("wrong, message", [
    (without_bias_correction, "without bias correction"),
    (counting_from_zero, "from 1"),
    (default_betas, "expected"),
    (plain_gradient_descent, "expected"),
    (lambda theta, grad, m, v, t, lr, beta1, beta2, eps: theta, "three arrays"),
])
def test_adam_step_rejects_mistakes(wrong, message):
    with np.errstate(divide="ignore", invalid="ignore"):
        with fails_with(message):
            check_adam_step(wrong)


def test_adam_step_stub_is_not_implemented_yet():
    with fails_with("not implemented yet"):
        check_adam_step(not_implemented)


# Answers that only call aelib's own version of the exercise fail, whatever the import.

def test_tanh_grad_rejects_aelibs_own():
    import aelib
    from aelib.activations import tanh_grad as imported

    for answer in (aelib.activations.tanh_grad, lambda H: imported(H)):
        with fails_with("calls aelib.activations.tanh_grad, which is part of aelib"):
            check_tanh_grad(answer)
    assert np.allclose(aelib.activations.tanh_grad(np.array([0.5])), [0.75])


def test_dense_backward_rejects_aelibs_backward_pass():
    import aelib

    def through_mlp(H_in, W, Delta):
        layer = aelib.MLP([W.shape[0], W.shape[1]], ["identity"], seed=0)
        layer.params[0][...] = W
        layer.forward(H_in)
        dH_in = layer.backward_from_preactivation(Delta)
        return layer.grads[0], layer.grads[1], dH_in

    with fails_with("calls aelib.mlp.MLP, which is part of aelib"):
        check_dense_backward(through_mlp)


def test_adam_step_rejects_aelibs_adam():
    import aelib

    def through_adam(theta, grad, m, v, t, lr, beta1=0.9, beta2=0.999, eps=1e-8):
        theta = theta.copy()
        aelib.Adam(lr, beta1=beta1, beta2=beta2, eps=eps).step([theta], [grad])
        return theta, m, v

    with fails_with("calls aelib.optim.Adam, which is part of aelib"):
        check_adam_step(through_adam)


def test_adam_step_with_eps_inside_the_root_shows_the_digits_that_differ():
    def eps_inside_the_root(theta, grad, m, v, t, lr, beta1=0.9, beta2=0.999, eps=1e-8):
        m = beta1 * m + (1 - beta1) * grad
        v = beta2 * v + (1 - beta2) * grad**2
        m_hat, v_hat = m / (1 - beta1**t), v / (1 - beta2**t)
        return theta - lr * m_hat / np.sqrt(v_hat + eps), m, v

    with fails_with(r"relative difference \d\.\de-\d\d, allowed 1e-06\): expected: (\S+) actual: (\S+)") as info:
        check_adam_step(eps_inside_the_root)
    lines = str(info.value).split("\n")
    expected = next(line for line in lines if "expected:" in line).split()[-1]
    actual = next(line for line in lines if "actual:" in line).split()[-1]
    assert expected != actual


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


def test_mlp_backward_accepts_the_solution(capsys):
    accepts(check_mlp_backward, mlp_backward, capsys)


def test_mlp_backward_accepts_the_derivative_from_the_pre_activation(capsys):
    from_A = lambda dH, A, H: dH * (1.0 - np.tanh(A) ** 2)  # noqa: E731
    accepts(check_mlp_backward, backward_with(from_A, from_A), capsys)


def test_mlp_backward_accepts_a_tuple(capsys):
    accepts(check_mlp_backward, lambda cache, params, Delta3: tuple(mlp_backward(cache, params, Delta3)), capsys)


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
    (backward_with(db=lambda Delta: Delta.mean(axis=0)), "db3 is the mean of Delta3's rows; it must be their sum"),
    (backward_with(db=lambda Delta: Delta.sum(axis=1)), r"db3 has shape \(6,\), one entry per sample.*axis=0"),
    (backward_with(dW=lambda H_in, A_in, Delta: Delta.T @ H_in), r"dW3 is transposed: it has shape \(2, 3\)"),
    (backward_with(dW=lambda H_in, A_in, Delta: (A_in if A_in is not None else H_in).T @ Delta),
     "dW3 used the pre-activation A2 as the layer's input"),
    (lambda cache, params, Delta3: mlp_backward(cache, params, Delta3)[::-1], "wrong order"),
    (lambda cache, params, Delta3: sum([mlp_backward(cache, params, Delta3)[i:i + 2] for i in (4, 2, 0)], []),
     r"wrong order .*\[dW1, db1, dW2, db2, dW3, db3\]"),
    (lambda cache, params, Delta3: mlp_backward(cache, params, Delta3)[:4], "six arrays"),
    (lambda cache, params, Delta3: None, "six arrays"),
])
def test_mlp_backward_rejects_mistakes(wrong, message):
    with fails_with(message):
        check_mlp_backward(wrong)


def test_mlp_backward_names_the_first_wrong_gradient_with_central_differences():
    def off_by_two(cache, params, Delta3):
        grads = mlp_backward(cache, params, Delta3)
        grads[2] = 2.0 * grads[2]
        return grads

    with fails_with(r"dW2 .*relative errors to central differences: dW1 below 1e-6, db1 below 1e-6, "
                    r"dW2 3e-01.*dW2 is the first wrong gradient counted from the output"):
        check_mlp_backward(off_by_two)


def test_mlp_backward_rejects_changing_an_input():
    def in_place(cache, params, Delta3):
        grads = mlp_backward(cache, params, Delta3)
        cache["H1"] **= 2
        return grads

    with fails_with(r"changed cache\['H1'\] in place"):
        check_mlp_backward(in_place)


def test_mlp_backward_rejects_aelibs_backward_pass():
    import aelib

    def through_mlp(cache, params, Delta3):
        net = aelib.MLP([4, 5, 3, 2], ["tanh", "tanh", "sigmoid"])
        for param, value in zip(net.params, params):
            param[...] = value
        net.forward(cache["X"])
        net.backward_from_preactivation(Delta3)
        return [grad.copy() for grad in net.grads]

    with fails_with("calls aelib.mlp.MLP, which is part of aelib"):
        check_mlp_backward(through_mlp)


def test_mlp_backward_stub_is_not_implemented_yet():
    with fails_with("not implemented yet"):
        check_mlp_backward(not_implemented)
