"""The MLP's hand-written backward pass against central finite differences, in float64.

For every parameter array and for the input, the norm-wise relative error
||num - ana|| / (||num|| + ||ana||) must stay below 1e-7. Biases are set away from zero, since
zero biases could hide a wrong bias gradient. The second half tests ``aelib.gradcheck``, the
readers' gradient-check tool, against the independent helper of conftest.py.
"""
import numpy as np
import pytest

import aelib
from aelib import losses

ARCHITECTURES = [
    pytest.param([3, 4], ["sigmoid"], id="1-layer-sigmoid"),
    pytest.param([3, 2], ["identity"], id="1-layer-identity"),
    pytest.param([4, 5, 3], ["tanh", "sigmoid"], id="2-layers-tanh-sigmoid"),
    pytest.param([4, 6, 3], ["relu", "identity"], id="2-layers-relu-identity"),
    pytest.param([5, 4, 4, 2], ["sigmoid", "relu", "tanh"], id="3-layers-mixed"),
    pytest.param([6, 5, 4, 3, 6], ["tanh", "tanh", "relu", "sigmoid"], id="4-layers-mixed"),
    pytest.param([3, 4, 3, 4, 3, 2], ["identity", "sigmoid", "identity", "tanh", "relu"], id="5-layers-mixed"),
]
# relu's kink at 0: every relu pre-activation must be farther than this from 0, so that the
# finite-difference steps never cross it.
KINK_MARGIN = 1e-3


def make_network(sizes, activation_names, seed):
    mlp = aelib.MLP(sizes, activation_names, seed=seed)
    rng = np.random.default_rng(seed + 100)
    for b in mlp.params[1::2]:
        b[...] = rng.uniform(0.1, 0.5, b.shape) * rng.choice([-1.0, 1.0], b.shape)
    X = rng.normal(0.0, 1.0, (5, sizes[0]))
    return mlp, X


def preactivations(mlp, X):
    """Every layer's A = H W + b, computed here independently of the MLP's own forward pass."""
    H, result = X, []
    for (W, b), name in zip(zip(mlp.params[0::2], mlp.params[1::2]), mlp.activations):
        A = H @ W + b
        result.append(A)
        H = aelib.activations.get(name)[0](A)
    return result


def assert_away_from_kinks(mlp, X):
    for A, name in zip(preactivations(mlp, X), mlp.activations):
        if name == "relu":
            assert np.abs(A).min() > KINK_MARGIN, "test setup: a relu pre-activation sits at the kink"


def check_all(gradients, loss, mlp, X, analytic_params, analytic_input, what):
    for i, (param, analytic) in enumerate(zip(mlp.params, analytic_params)):
        name = f"{'W' if i % 2 == 0 else 'b'}{i // 2 + 1}"
        gradients.assert_close(loss, param, analytic, f"{what}, {name} of {mlp}")
    if analytic_input is not None:
        gradients.assert_close(loss, X, analytic_input, f"{what}, dX of {mlp}")


@pytest.mark.parametrize("sizes, activation_names", ARCHITECTURES)
def test_forward_matches_the_layer_formula(sizes, activation_names):
    mlp, X = make_network(sizes, activation_names, seed=0)
    A_last = preactivations(mlp, X)[-1]
    np.testing.assert_allclose(mlp.forward(X), aelib.activations.get(activation_names[-1])[0](A_last),
                               rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(mlp.last_preactivation, A_last, rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("sizes, activation_names", ARCHITECTURES)
def test_backward_of_an_arbitrary_output_gradient(sizes, activation_names, gradients):
    # L = sum(Y * G) has dL/dY = G: backward(G) must give dL/dW, dL/db and dL/dX.
    mlp, X = make_network(sizes, activation_names, seed=1)
    assert_away_from_kinks(mlp, X)
    G = np.random.default_rng(2).normal(size=(X.shape[0], sizes[-1]))
    mlp.forward(X)
    dX = mlp.backward(G)
    analytic = [grad.copy() for grad in mlp.grads]
    check_all(gradients, lambda: float(np.sum(mlp.forward(X) * G)), mlp, X, analytic, dX, "backward(dY)")


@pytest.mark.parametrize("sizes, activation_names", ARCHITECTURES)
def test_backward_from_preactivation(sizes, activation_names, gradients):
    # L = sum(A * G) for the last pre-activation A has dL/dA = G.
    mlp, X = make_network(sizes, activation_names, seed=3)
    assert_away_from_kinks(mlp, X)
    G = np.random.default_rng(4).normal(size=(X.shape[0], sizes[-1]))
    mlp.forward(X)
    dX = mlp.backward_from_preactivation(G)
    analytic = [grad.copy() for grad in mlp.grads]

    def loss():
        mlp.forward(X)
        return float(np.sum(mlp.last_preactivation * G))

    check_all(gradients, loss, mlp, X, analytic, dX, "backward_from_preactivation")


@pytest.mark.parametrize("sizes, activation_names", ARCHITECTURES[2:5])
def test_mse_loss_through_the_network(sizes, activation_names, gradients):
    mlp, X = make_network(sizes, activation_names, seed=5)
    assert_away_from_kinks(mlp, X)
    Y = np.random.default_rng(6).normal(size=(X.shape[0], sizes[-1]))
    Y_hat = mlp.forward(X)
    dX = mlp.backward(losses.mse_grad(Y_hat, Y))
    analytic = [grad.copy() for grad in mlp.grads]
    check_all(gradients, lambda: losses.mse(mlp.forward(X), Y), mlp, X, analytic, dX, "mse")


@pytest.mark.parametrize("sizes, activation_names", [
    pytest.param([4, 5, 3], ["tanh", "sigmoid"], id="tanh-sigmoid"),
    pytest.param([5, 4, 4, 6], ["relu", "tanh", "sigmoid"], id="relu-tanh-sigmoid"),
])
def test_binary_cross_entropy_through_the_network(sizes, activation_names, gradients):
    # The two routes to the same gradient: probabilities with backward(dL/dY_hat), and logits
    # with backward_from_preactivation((Y_hat - Y) / N), the fused sigmoid + cross-entropy.
    mlp, X = make_network(sizes, activation_names, seed=7)
    assert_away_from_kinks(mlp, X)
    Y = (np.random.default_rng(8).random((X.shape[0], sizes[-1])) < 0.5).astype(float)

    Y_hat = mlp.forward(X)
    dX = mlp.backward(losses.binary_cross_entropy_grad(Y_hat, Y))
    via_probabilities = [grad.copy() for grad in mlp.grads]
    check_all(gradients, lambda: losses.binary_cross_entropy(mlp.forward(X), Y), mlp, X,
              via_probabilities, dX, "binary_cross_entropy")

    mlp.forward(X)
    dX_logits = mlp.backward_from_preactivation(losses.bce_with_logits_grad(mlp.last_preactivation, Y))
    via_logits = [grad.copy() for grad in mlp.grads]

    def loss():
        mlp.forward(X)
        return losses.bce_with_logits(mlp.last_preactivation, Y)

    check_all(gradients, loss, mlp, X, via_logits, dX_logits, "bce_with_logits")
    for a, b in zip(via_probabilities, via_logits):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-15)


def test_input_gradient_can_be_skipped():
    mlp, X = make_network([4, 5, 3], ["tanh", "sigmoid"], seed=9)
    G = np.ones((X.shape[0], 3))
    mlp.forward(X)
    dX = mlp.backward(G)
    with_input = [grad.copy() for grad in mlp.grads]
    mlp.forward(X)
    assert mlp.backward(G, input_grad=False) is None
    for a, b in zip(with_input, mlp.grads):
        np.testing.assert_array_equal(a, b)
    assert dX.shape == X.shape


# aelib.gradcheck: the tool the chapters use to show a gradient check.

def test_numerical_gradient_agrees_and_restores_the_array(gradients):
    rng = np.random.default_rng(10)
    W = rng.normal(size=(3, 4))
    before = W.copy()
    M = rng.normal(size=(3, 4))

    def loss():
        return float(np.sum(np.sin(W) * M))

    numerical = aelib.numerical_gradient(loss, W)
    np.testing.assert_array_equal(W, before)  # restored bit for bit
    np.testing.assert_allclose(numerical, gradients.central_differences(loss, W), rtol=1e-12)
    assert gradients.relative_error(numerical, np.cos(W) * M) < 1e-9


def test_relative_error_is_norm_wise():
    assert aelib.relative_error(np.array([1.0, 0.0]), np.array([0.0, 1.0])) == pytest.approx(np.sqrt(2) / 2)
    assert aelib.relative_error(np.zeros(3), np.zeros(3)) == 0.0
    assert aelib.relative_error(np.array([2.0]), np.array([2.0])) == 0.0
    assert aelib.relative_error(np.array([1.0, 1.0]), np.array([1.0, 1.01])) == pytest.approx(
        0.01 / (np.sqrt(2) + np.hypot(1.0, 1.01)))


def test_gradient_check_table_passes_a_right_gradient_and_flags_a_wrong_one():
    mlp, X = make_network([4, 5, 3], ["tanh", "sigmoid"], seed=11)
    G = np.random.default_rng(12).normal(size=(X.shape[0], 3))

    def loss():
        return float(np.sum(mlp.forward(X) * G))

    mlp.forward(X)
    mlp.backward(G)
    right = [grad.copy() for grad in mlp.grads]
    check = aelib.gradient_check(loss, mlp.params, right)
    assert check.names == ["W1", "b1", "W2", "b2"]
    assert check.passed() and check.max_error < 1e-7
    table = str(check)
    for name, param in zip(check.names, mlp.params):
        assert name in table and str(param.shape) in table

    wrong = [grad.copy() for grad in right]
    wrong[1] *= 1.01  # a 1% error in one bias gradient
    check = aelib.gradient_check(loss, mlp.params, wrong, names=["W1", "b1", "W2", "b2"])
    assert not check.passed()
    assert check.errors[1] == pytest.approx(0.01 / 2.01, rel=1e-3)
    assert max(check.errors[0], check.errors[2], check.errors[3]) < 1e-7


def test_gradient_check_needs_matching_lists():
    with pytest.raises(ValueError, match="params and grads"):
        aelib.gradient_check(lambda: 0.0, [np.zeros(2)], [])
