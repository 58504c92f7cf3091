"""The exercise checks of chapter 0 accept the reference solutions, reject the usual mistakes with
a message that names them, and say "not implemented yet" for an untouched stub."""
import numpy as np
import pytest

from aelib.checks import check_adam_step, check_dense_backward, check_tanh_grad


def not_implemented(*args):
    raise NotImplementedError()


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
    with pytest.raises(AssertionError, match=message):
        check_tanh_grad(wrong)


def test_tanh_grad_rejects_changing_the_input():
    def in_place(h):
        h **= 2
        return 1.0 - h

    with pytest.raises(AssertionError, match="in place"):
        check_tanh_grad(in_place)


def test_tanh_grad_stub_is_not_implemented_yet():
    with pytest.raises(AssertionError, match="not implemented yet"):
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
    with pytest.raises(AssertionError, match=message):
        check_dense_backward(wrong)


def test_dense_backward_reports_an_exception_with_its_input():
    def broken(H_in, W, Delta):
        return H_in @ Delta, Delta.sum(axis=0), Delta @ W.T

    with pytest.raises(AssertionError, match="raised ValueError"):
        check_dense_backward(broken)


def test_dense_backward_stub_is_not_implemented_yet():
    with pytest.raises(AssertionError, match="not implemented yet"):
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
        with pytest.raises(AssertionError, match=message):
            check_adam_step(wrong)


def test_adam_step_stub_is_not_implemented_yet():
    with pytest.raises(AssertionError, match="not implemented yet"):
        check_adam_step(not_implemented)
