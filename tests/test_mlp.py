"""The MLP's structure: parameter layout, initialisation, shapes, and what forward/backward
promise besides correct gradients (those are in test_gradcheck.py)."""
import numpy as np
import pytest

import aelib


def test_params_and_grads_are_views_into_the_flat_vectors():
    mlp = aelib.MLP([4, 3, 2], ["tanh", "sigmoid"], seed=0)
    assert [p.shape for p in mlp.params] == [(4, 3), (3,), (3, 2), (2,)]
    assert [g.shape for g in mlp.grads] == [(4, 3), (3,), (3, 2), (2,)]
    assert mlp.n_params == mlp.flat_params.size == 4 * 3 + 3 + 3 * 2 + 2
    for param, grad in zip(mlp.params, mlp.grads):
        assert np.shares_memory(param, mlp.flat_params) and np.shares_memory(grad, mlp.flat_grads)
    # Updating the flat vector updates the network, which is what the optimizers rely on.
    X = np.ones((1, 4))
    before = mlp.forward(X).copy()
    mlp.flat_params += 0.1
    assert not np.allclose(mlp.forward(X), before)
    np.testing.assert_array_equal(np.concatenate([p.ravel() for p in mlp.params]), mlp.flat_params)


def test_glorot_uniform_weights_and_zero_biases():
    sizes = [30, 20, 10]
    mlp = aelib.MLP(sizes, ["tanh", "identity"], seed=1)
    for (fan_in, fan_out), W, b in zip(zip(sizes[:-1], sizes[1:]), mlp.params[0::2], mlp.params[1::2]):
        limit = np.sqrt(6 / (fan_in + fan_out))
        assert np.abs(W).max() <= limit
        assert np.abs(W).max() > 0.8 * limit  # spread over the whole interval, not a narrow one
        assert abs(W.mean()) < 0.1 * limit
        np.testing.assert_array_equal(b, 0.0)


def test_forward_shapes_and_cached_values():
    mlp = aelib.MLP([5, 4, 3], ["relu", "sigmoid"], seed=2)
    X = np.random.default_rng(3).normal(size=(7, 5))
    Y = mlp.forward(X)
    assert Y.shape == (7, 3) and Y.dtype == np.float64
    # The caller gets its own array; the network's copy is read-only to the caller.
    np.testing.assert_array_equal(mlp.last_output, Y)
    assert not np.shares_memory(mlp.last_output, Y) and not mlp.last_output.flags.writeable
    np.testing.assert_allclose(Y, aelib.sigmoid(mlp.last_preactivation), rtol=1e-15)
    assert ((Y > 0) & (Y < 1)).all()


def test_forward_accepts_lists_and_integer_arrays():
    mlp = aelib.MLP([2, 2], ["identity"], seed=3)
    expected = mlp.forward(np.array([[1.0, 0.0]]))
    np.testing.assert_array_equal(mlp.forward([[1, 0]]), expected)
    np.testing.assert_array_equal(mlp.forward(np.array([[1, 0]], dtype=np.int64)), expected)


def test_identity_network_is_an_affine_map():
    mlp = aelib.MLP([3, 2], ["identity"], seed=4)
    W, b = mlp.params
    b[...] = [0.5, -1.0]
    X = np.arange(6.0).reshape(2, 3)
    np.testing.assert_allclose(mlp.forward(X), X @ W + b, rtol=1e-15)


def test_forward_and_backward_leave_their_inputs_alone():
    mlp = aelib.MLP([4, 5, 3], ["tanh", "relu"], seed=5)
    rng = np.random.default_rng(6)
    X, dY = rng.normal(size=(3, 4)), rng.normal(size=(3, 3))
    X_copy, dY_copy = X.copy(), dY.copy()
    mlp.forward(X)
    mlp.backward(dY)
    mlp.forward(X)
    mlp.backward_from_preactivation(dY)
    np.testing.assert_array_equal(X, X_copy)
    np.testing.assert_array_equal(dY, dY_copy)


def test_backward_overwrites_gradients_instead_of_accumulating():
    mlp = aelib.MLP([4, 5, 3], ["tanh", "sigmoid"], seed=7)
    rng = np.random.default_rng(8)
    X, dY = rng.normal(size=(3, 4)), rng.normal(size=(3, 3))
    mlp.forward(X)
    mlp.backward(dY)
    first = mlp.flat_grads.copy()
    mlp.forward(X)
    mlp.backward(dY)
    np.testing.assert_array_equal(mlp.flat_grads, first)


def test_gradients_are_taken_at_the_last_forward_pass():
    mlp = aelib.MLP([3, 4, 2], ["tanh", "identity"], seed=9)
    rng = np.random.default_rng(10)
    X1, X2, dY = rng.normal(size=(2, 3)), rng.normal(size=(2, 3)), rng.normal(size=(2, 2))
    mlp.forward(X2)
    mlp.backward(dY)
    at_X2 = mlp.flat_grads.copy()
    mlp.forward(X1)
    mlp.forward(X2)
    mlp.backward(dY)
    np.testing.assert_array_equal(mlp.flat_grads, at_X2)


def test_backward_is_linear_in_the_output_gradient():
    mlp = aelib.MLP([3, 4, 2], ["sigmoid", "tanh"], seed=11)
    rng = np.random.default_rng(12)
    X, dY = rng.normal(size=(4, 3)), rng.normal(size=(4, 2))
    mlp.forward(X)
    dX = mlp.backward(dY)
    grads = mlp.flat_grads.copy()
    dX3 = mlp.backward(3.0 * dY)
    np.testing.assert_allclose(mlp.flat_grads, 3.0 * grads, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(dX3, 3.0 * dX, rtol=1e-13, atol=1e-15)


def test_bias_gradient_sums_over_samples():
    # Duplicating every sample doubles every gradient (losses here are sums, not means).
    mlp = aelib.MLP([3, 4, 2], ["tanh", "sigmoid"], seed=13)
    rng = np.random.default_rng(14)
    X, dY = rng.normal(size=(3, 3)), rng.normal(size=(3, 2))
    mlp.forward(X)
    mlp.backward(dY)
    single = mlp.flat_grads.copy()
    mlp.forward(np.vstack([X, X]))
    mlp.backward(np.vstack([dY, dY]))
    np.testing.assert_allclose(mlp.flat_grads, 2 * single, rtol=1e-13)


def test_backward_before_forward_and_wrong_shapes_are_refused():
    mlp = aelib.MLP([3, 2], ["tanh"], seed=15)
    with pytest.raises(RuntimeError, match=r"forward\(X\) before backward"):
        mlp.backward(np.zeros((1, 2)))
    mlp.forward(np.zeros((4, 3)))
    with pytest.raises(ValueError, match=r"dY must have the shape of the last output \(4, 2\), got \(4, 3\)"):
        mlp.backward(np.zeros((4, 3)))


def test_repr_names_sizes_and_activations():
    assert repr(aelib.MLP([3, 2], ["relu"], seed=0)) == "MLP([3, 2], ['relu'])"
