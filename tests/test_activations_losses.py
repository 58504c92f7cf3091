"""Activations and losses: their values, their derivatives against finite differences (float64,
h = 1e-5, norm-wise relative error below 1e-7) and their numerical stability at huge logits."""
import math
import warnings

import numpy as np
import pytest

from aelib import activations, losses

ACTIVATIONS = ["identity", "sigmoid", "tanh", "relu"]


def random_preactivations(seed, shape=(4, 5), scale=2.0):
    A = np.random.default_rng(seed).normal(0.0, scale, shape)
    # relu has a kink at 0: keep every entry well away from it, so that a step of h = 1e-5
    # never crosses it.
    return np.where(np.abs(A) < 0.1, A + np.copysign(0.1, A), A)


@pytest.fixture
def no_float_warnings():
    """Turn every floating-point warning into an error, and overflow/invalid/divide into FloatingPointError."""
    with warnings.catch_warnings(), np.errstate(over="raise", invalid="raise", divide="raise"):
        warnings.simplefilter("error")
        yield


def test_activation_values():
    a = np.array([[-2.0, -0.5, 0.0, 0.5, 2.0]])
    expected = {
        "identity": a,
        "sigmoid": np.array([[1 / (1 + math.exp(-x)) for x in a[0]]]),
        "tanh": np.array([[math.tanh(x) for x in a[0]]]),
        "relu": np.array([[0.0, 0.0, 0.0, 0.5, 2.0]]),
    }
    for name in ACTIVATIONS:
        function, _ = activations.get(name)
        np.testing.assert_allclose(function(a), expected[name], rtol=1e-15, atol=1e-16, err_msg=name)
    assert activations.sigmoid(np.array(0.0)) == 0.5


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activation_derivative_from_output_matches_finite_differences(name, gradients):
    function, derivative = activations.get(name)
    A = random_preactivations(seed=1)
    # The derivative is given the OUTPUT h = sigma(a); compare it with d sigma / d a.
    analytic = derivative(function(A))
    # An elementwise function: the gradient of sum(sigma(A) * G) is sigma'(A) * G.
    G = np.random.default_rng(2).normal(size=A.shape)
    gradients.assert_close(lambda: float(np.sum(function(A) * G)), A, analytic * G, name)


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activation_derivative_keeps_shape_and_dtype(name):
    function, derivative = activations.get(name)
    H = function(random_preactivations(seed=3))
    assert derivative(H).shape == H.shape and derivative(H).dtype == np.float64


def test_mse_and_its_gradient():
    Y_hat = np.array([[1.0, 2.0], [3.0, 5.0]])
    Y = np.array([[1.0, 0.0], [4.0, 1.0]])
    # (0 + 4 + 1 + 16) / 4
    assert losses.mse(Y_hat, Y) == pytest.approx(21 / 4, rel=1e-15)
    np.testing.assert_allclose(losses.mse_grad(Y_hat, Y), 2 / 4 * (Y_hat - Y), rtol=1e-15)


def test_binary_cross_entropy_value():
    Y_hat = np.array([[0.9, 0.2]])
    Y = np.array([[1.0, 0.0]])
    expected = -(math.log(0.9) + math.log(0.8)) / 2
    assert losses.binary_cross_entropy(Y_hat, Y) == pytest.approx(expected, rel=1e-14)


def test_bce_with_logits_equals_bce_of_sigmoid():
    rng = np.random.default_rng(4)
    A = rng.normal(0.0, 3.0, (6, 7))
    Y = rng.random((6, 7))
    direct = losses.binary_cross_entropy(activations.sigmoid(A), Y)
    assert losses.bce_with_logits(A, Y) == pytest.approx(direct, rel=1e-12)
    # Chain rule through the sigmoid: dL/dA = dL/dP * P (1 - P).
    P = activations.sigmoid(A)
    np.testing.assert_allclose(losses.bce_with_logits_grad(A, Y),
                               losses.binary_cross_entropy_grad(P, Y) * activations.sigmoid_grad(P), rtol=1e-10)


def loss_cases():
    rng = np.random.default_rng(5)
    Y_binary = (rng.random((4, 6)) < 0.5).astype(float)
    Y_soft = rng.random((4, 6))  # targets in [0, 1] need not be 0/1
    probabilities = rng.uniform(0.05, 0.95, (4, 6))
    logits = rng.normal(0.0, 2.0, (4, 6))
    predictions = rng.normal(0.0, 1.0, (4, 6))
    return [
        pytest.param(losses.mse, losses.mse_grad, predictions, Y_soft, id="mse"),
        pytest.param(losses.binary_cross_entropy, losses.binary_cross_entropy_grad, probabilities, Y_binary,
                     id="bce-binary-targets"),
        pytest.param(losses.binary_cross_entropy, losses.binary_cross_entropy_grad, probabilities, Y_soft,
                     id="bce-soft-targets"),
        pytest.param(losses.bce_with_logits, losses.bce_with_logits_grad, logits, Y_binary, id="bce-with-logits"),
        pytest.param(losses.bce_with_logits, losses.bce_with_logits_grad, logits, Y_soft,
                     id="bce-with-logits-soft-targets"),
    ]


@pytest.mark.parametrize("loss, loss_grad, prediction, Y", loss_cases())
def test_loss_gradient_matches_finite_differences(loss, loss_grad, prediction, Y, gradients):
    prediction = prediction.copy()
    analytic = loss_grad(prediction, Y)
    gradients.assert_close(lambda: loss(prediction, Y), prediction, analytic, loss.__name__)


@pytest.mark.parametrize("loss", [losses.mse, losses.binary_cross_entropy, losses.bce_with_logits])
def test_losses_return_python_floats_and_leave_inputs_alone(loss):
    rng = np.random.default_rng(6)
    Y_hat, Y = rng.uniform(0.1, 0.9, (3, 4)), rng.random((3, 4))
    copies = Y_hat.copy(), Y.copy()
    assert type(loss(Y_hat, Y)) is float
    np.testing.assert_array_equal(Y_hat, copies[0])
    np.testing.assert_array_equal(Y, copies[1])


HUGE = np.array([[-1000.0, -100.0, -1.0, 0.0, 1.0, 100.0, 1000.0]])


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activations_are_stable_at_huge_logits(name, no_float_warnings):
    function, derivative = activations.get(name)
    H = function(HUGE)
    assert np.isfinite(H).all() and np.isfinite(derivative(H)).all()


def test_sigmoid_saturates_exactly_without_overflow(no_float_warnings):
    H = activations.sigmoid(HUGE)
    assert H[0, 0] == 0.0 and H[0, -1] == 1.0
    assert ((H >= 0) & (H <= 1)).all()
    assert np.all(np.diff(H) >= 0)


@pytest.mark.parametrize("target", [0.0, 1.0, 0.5])
def test_bce_with_logits_is_finite_and_exact_at_huge_logits(target, no_float_warnings):
    Y = np.full(HUGE.shape, target)
    value = losses.bce_with_logits(HUGE, Y)
    grad = losses.bce_with_logits_grad(HUGE, Y)
    assert math.isfinite(value) and np.isfinite(grad).all()
    # Per entry the loss is max(a, 0) - a y + log(1 + exp(-|a|)); at a = +-1000 it is exactly
    # 1000 when the sign is wrong and 0 when it is right (pure 0/1 targets).
    per_entry = [losses.bce_with_logits(np.array([[a]]), np.array([[target]])) for a in HUGE[0]]
    if target == 1.0:
        assert per_entry[0] == 1000.0 and per_entry[-1] == 0.0
    if target == 0.0:
        assert per_entry[0] == 0.0 and per_entry[-1] == 1000.0


@pytest.mark.parametrize("target", [0.0, 1.0])
def test_bce_on_saturated_probabilities_never_takes_log_of_zero(target, no_float_warnings):
    # sigmoid(+-1000) is exactly 0 or 1: the loss must clip instead of computing log(0).
    P = activations.sigmoid(HUGE)
    Y = np.full(P.shape, target)
    value = losses.binary_cross_entropy(P, Y)
    grad = losses.binary_cross_entropy_grad(P, Y)
    assert math.isfinite(value) and value > 0
    assert np.isfinite(grad).all()
    perfect = losses.binary_cross_entropy(np.array([[target]]), np.array([[target]]))
    assert 0.0 <= perfect < 1e-9


def test_mse_overflows_to_inf_silently(no_float_warnings):
    # A diverging model's loss must come back as inf, for the training loop to report,
    # not as a RuntimeWarning.
    Y_hat = np.array([[1e200, -1e200]])
    assert losses.mse(Y_hat, np.zeros_like(Y_hat)) == math.inf
    assert losses.bce_with_logits(np.array([[1e308, 1e308]]), np.zeros((1, 2))) == math.inf


def test_unknown_activation_name_is_refused():
    with pytest.raises(ValueError, match="unknown activation 'softmax'.*identity.*relu.*sigmoid.*tanh"):
        activations.get("softmax")
    with pytest.raises(TypeError, match="activation must be a name"):
        activations.get(np.tanh)
