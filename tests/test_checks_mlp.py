"""The exercise checks of chapter 0 accept the reference solutions, reject the usual mistakes with
a message that names them, and say "not implemented yet" for an untouched stub."""
import numpy as np
import pytest
from check_failures import fails_with, not_implemented

from aelib.checks import check_adam_step, check_dense_backward, check_tanh_grad


# Exercise 0.1: tanh's derivative from its output.

def tanh_grad(h):
    return 1.0 - h ** 2


def test_tanh_grad_accepts_the_solution(capsys):
    check_tanh_grad(tanh_grad)
    assert capsys.readouterr().out.startswith("Correct:")


@pytest.mark.parametrize("wrong, message", [
    (lambda h: 1.0 - np.tanh(h) ** 2, "already the output"),
    (lambda h: 1.0 - h, "must be squared"),
    (lambda h: np.ones_like(h), "expected"),
    (lambda h: h * (1.0 - h), "expected"),
    (lambda h: (1.0 - h ** 2).ravel(), "shape"),
    (lambda h: 0.0, "shape"),
])
def test_tanh_grad_rejects_mistakes(wrong, message):
    with fails_with(message):
        check_tanh_grad(wrong)


def test_tanh_grad_rejects_changing_the_input():
    def in_place(h):
        h **= 2
        return 1.0 - h

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

    with fails_with("raised ValueError"):
        check_dense_backward(broken)


def test_dense_backward_stub_is_not_implemented_yet():
    with fails_with("not implemented yet"):
        check_dense_backward(not_implemented)


# Exercise 0.5: one step of Adam.

def adam_step(theta, g, m, v, t, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    m = beta1 * m + (1 - beta1) * g
    v = beta2 * v + (1 - beta2) * g ** 2
    m_hat = m / (1 - beta1 ** t)
    v_hat = v / (1 - beta2 ** t)
    return theta - lr * m_hat / (np.sqrt(v_hat) + eps), m, v


def test_adam_step_accepts_the_solution(capsys):
    check_adam_step(adam_step)
    assert capsys.readouterr().out.startswith("Correct:")


def test_adam_step_accepts_updating_the_moments_in_place(capsys):
    def in_place(theta, g, m, v, t, lr, beta1=0.9, beta2=0.999, eps=1e-8):
        m *= beta1
        m += (1 - beta1) * g
        v *= beta2
        v += (1 - beta2) * g * g
        theta -= lr / (1 - beta1 ** t) * m / (np.sqrt(v / (1 - beta2 ** t)) + eps)
        return theta, m, v

    check_adam_step(in_place)
    assert capsys.readouterr().out.startswith("Correct:")


def without_bias_correction(theta, g, m, v, t, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    m = beta1 * m + (1 - beta1) * g
    v = beta2 * v + (1 - beta2) * g ** 2
    return theta - lr * m / (np.sqrt(v) + eps), m, v


def counting_from_zero(theta, g, m, v, t, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    return adam_step(theta, g, m, v, t - 1, lr, beta1, beta2, eps)


def default_betas(theta, g, m, v, t, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    return adam_step(theta, g, m, v, t, lr)


def plain_gradient_descent(theta, g, m, v, t, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    return theta - lr * g, m, v


@pytest.mark.parametrize("wrong, message", [
    (without_bias_correction, "without bias correction"),
    (counting_from_zero, "from 1"),
    (default_betas, "expected"),
    (plain_gradient_descent, "expected"),
    (lambda theta, g, m, v, t, lr, beta1, beta2, eps: theta, "three arrays"),
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

    for answer in (aelib.activations.tanh_grad, lambda h: imported(h)):
        with fails_with("calls aelib.activations.tanh_grad, aelib's own solution"):
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

    with fails_with("calls aelib.mlp.MLP.backward_from_preactivation, aelib's own solution"):
        check_dense_backward(through_mlp)


def test_adam_step_rejects_aelibs_adam():
    import aelib

    def through_adam(theta, g, m, v, t, lr, beta1=0.9, beta2=0.999, eps=1e-8):
        theta = theta.copy()
        aelib.Adam(lr, beta1=beta1, beta2=beta2, eps=eps).step([theta], [g])
        return theta, m, v

    with fails_with("calls aelib.optim.Adam.step, aelib's own solution"):
        check_adam_step(through_adam)


def test_adam_step_with_eps_inside_the_root_shows_the_digits_that_differ():
    def eps_inside_the_root(theta, g, m, v, t, lr, beta1=0.9, beta2=0.999, eps=1e-8):
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g**2
        m_hat, v_hat = m / (1 - beta1**t), v / (1 - beta2**t)
        return theta - lr * m_hat / np.sqrt(v_hat + eps), m, v

    with fails_with(r"relative difference \d\.\de-\d\d, allowed 1e-06\): expected: (\S+) actual: (\S+)") as info:
        check_adam_step(eps_inside_the_root)
    lines = str(info.value).split("\n")
    expected = next(line for line in lines if "expected:" in line).split()[-1]
    actual = next(line for line in lines if "actual:" in line).split()[-1]
    assert expected != actual
