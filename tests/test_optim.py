"""Optimizer steps against values computed by hand from the update formulas.

The expected numbers are computed here in plain Python floats, entry by entry, straight from
the formulas, never by calling aelib:

* SGD:           theta <- theta - lr * g
* momentum SGD:  v <- mu * v - lr * g,  theta <- theta + v          (v starts at 0)
* Adam:          m <- b1 m + (1 - b1) g,  v <- b2 v + (1 - b2) g^2,
                 m_hat = m / (1 - b1^t),  v_hat = v / (1 - b2^t),
                 theta <- theta - lr * m_hat / (sqrt(v_hat) + eps)  (m, v start at 0, t = 1, 2, ...)
"""
import math

import numpy as np
import pytest

from aelib.optim import SGD, Adam, make_optimizer

# Two parameter arrays (a matrix and a vector) and the gradients of two successive steps.
THETA0 = [[[0.5, -1.0], [2.0, 0.0]], [0.25, -0.75]]
GRADS = [
    [[[0.1, -0.2], [0.3, 0.0]], [1.0, -0.5]],       # step 1
    [[[-0.4, 0.1], [0.2, 0.05]], [0.5, 0.001]],     # step 2
]


def flatten(nested):
    if isinstance(nested, list):
        return [x for item in nested for x in flatten(item)]
    return [nested]


def run(optimizer):
    """Apply the two gradient steps to fresh arrays; return the parameters after each step, flattened."""
    params = [np.array(THETA0[0]), np.array(THETA0[1])]
    identities = [id(p) for p in params]
    after = []
    for step_grads in GRADS:
        optimizer.step(params, [np.array(g) for g in step_grads])
        after.append([float(x) for p in params for x in p.ravel()])
    assert [id(p) for p in params] == identities  # updated in place
    return after


def assert_steps(actual, expected):
    for step, (a, e) in enumerate(zip(actual, expected), start=1):
        assert a == pytest.approx(e, rel=1e-12, abs=1e-15), f"after step {step}"


def test_plain_sgd_two_steps():
    lr = 0.1
    theta = flatten(THETA0)
    expected = []
    for step_grads in GRADS:
        theta = [t - lr * g for t, g in zip(theta, flatten(step_grads))]
        expected.append(theta)
    assert_steps(run(SGD(lr)), expected)
    # The first entry, written out: 0.5 - 0.1 * 0.1 = 0.49, then 0.49 - 0.1 * (-0.4) = 0.53.
    assert run(SGD(lr))[1][0] == pytest.approx(0.53, rel=1e-14)


def test_momentum_sgd_two_steps():
    lr, mu = 0.1, 0.9
    theta = flatten(THETA0)
    velocity = [0.0] * len(theta)
    expected = []
    for step_grads in GRADS:
        velocity = [mu * v - lr * g for v, g in zip(velocity, flatten(step_grads))]
        theta = [t + v for t, v in zip(theta, velocity)]
        expected.append(theta)
    assert_steps(run(SGD(lr, momentum=mu)), expected)
    # First entry: v1 = -0.01, theta1 = 0.49; v2 = 0.9 * -0.01 + 0.04 = 0.031, theta2 = 0.521.
    assert run(SGD(lr, momentum=mu))[1][0] == pytest.approx(0.521, rel=1e-14)


@pytest.mark.parametrize("lr, beta1, beta2, eps", [
    (0.01, 0.9, 0.999, 1e-8),
    (0.5, 0.5, 0.9, 1e-3),  # a large eps, so that its place in the formula matters
])
def test_adam_two_steps(lr, beta1, beta2, eps):
    theta = flatten(THETA0)
    m = [0.0] * len(theta)
    v = [0.0] * len(theta)
    expected = []
    for t, step_grads in enumerate(GRADS, start=1):
        g = flatten(step_grads)
        m = [beta1 * mi + (1 - beta1) * gi for mi, gi in zip(m, g)]
        v = [beta2 * vi + (1 - beta2) * gi * gi for vi, gi in zip(v, g)]
        m_hat = [mi / (1 - beta1 ** t) for mi in m]
        v_hat = [vi / (1 - beta2 ** t) for vi in v]
        theta = [ti - lr * mh / (math.sqrt(vh) + eps) for ti, mh, vh in zip(theta, m_hat, v_hat)]
        expected.append(theta)
    assert_steps(run(Adam(lr, beta1=beta1, beta2=beta2, eps=eps)), expected)


def test_adam_first_step_moves_each_nonzero_entry_by_about_lr():
    # After bias correction, step 1 is -lr * g / (|g| + eps): about -lr * sign(g) whatever |g|
    # is, short of it by the fraction eps / |g| (at most 1e-7 here).
    lr = 0.01
    after = run(Adam(lr))[0]
    for before, now, g in zip(flatten(THETA0), after, flatten(GRADS[0])):
        expected_move = 0.0 if g == 0 else -lr * math.copysign(1.0, g)
        assert now - before == pytest.approx(expected_move, abs=2e-7 * lr)


def test_optimizers_keep_state_per_array():
    # The same gradient twice on two arrays must give the same update to each, as if alone.
    for make in (lambda: SGD(0.1, momentum=0.5), lambda: Adam(0.1)):
        together = make()
        params = [np.zeros(2), np.zeros(3)]
        alone = make()
        single = [np.zeros(3)]
        for _ in range(3):
            together.step(params, [np.ones(2), np.full(3, 2.0)])
            alone.step(single, [np.full(3, 2.0)])
        np.testing.assert_array_equal(params[1], single[0])


def test_make_optimizer():
    assert isinstance(make_optimizer("adam", 0.1), Adam)
    sgd = make_optimizer("sgd", 0.1)
    assert isinstance(sgd, SGD) and sgd.lr == 0.1 and sgd.momentum == 0.0
    custom = SGD(0.5, momentum=0.9)
    assert make_optimizer(custom, 0.1) is custom
    with pytest.raises(ValueError, match="optimizer must be 'adam', 'sgd'.*'rmsprop'"):
        make_optimizer("rmsprop", 0.1)
    with pytest.raises(TypeError, match="step"):
        make_optimizer(object(), 0.1)


@pytest.mark.parametrize("make, argument", [
    (lambda: SGD(0.0), "lr"),
    (lambda: SGD(-0.1), "lr"),
    (lambda: Adam(0.0), "lr"),
    (lambda: SGD(float("nan")), "lr"),
    (lambda: SGD(0.1, momentum=1.0), "momentum"),
    (lambda: SGD(0.1, momentum=-0.5), "momentum"),
    (lambda: Adam(0.1, beta1=1.0), "beta1"),
    (lambda: Adam(0.1, beta2=-0.1), "beta2"),
    (lambda: Adam(0.1, eps=0.0), "eps"),
])
def test_bad_hyperparameters_are_refused_by_name(make, argument):
    with pytest.raises(ValueError, match=rf"^{argument} must"):
        make()


def test_non_numeric_lr_is_a_type_error():
    with pytest.raises(TypeError, match="lr must be a positive number, got '0.1'"):
        SGD("0.1")
