"""Property-based tests: for randomly drawn networks, data and settings, the backward pass
equals finite differences, the noise functions keep values where they belong and leave their
input alone, and saved models load back exactly. And no silent wrong answer: the gradient
checker fails on NaN for any memory layout, losses and optimizers never broadcast, a failed save
keeps the old file, seeds are checked, and forward's results belong to the caller."""
import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import aelib
from conftest import examples, finite_difference_error_bound

ACTIVATIONS = ["identity", "sigmoid", "tanh", "relu"]
seeds = st.integers(0, 2**32 - 1)
# 1 to 4 layers, each 1 to 6 wide.
layer_sizes = st.lists(st.integers(1, 6), min_size=2, max_size=5)


@st.composite
def networks(draw):
    sizes = draw(layer_sizes)
    names = draw(st.lists(st.sampled_from(ACTIVATIONS), min_size=len(sizes) - 1, max_size=len(sizes) - 1))
    return sizes, names


def preactivations(mlp, X):
    H, result = X, []
    for W, b, name in zip(mlp.params[0::2], mlp.params[1::2], mlp.activations):
        A = H @ W + b
        result.append(A)
        H = aelib.activations.get(name)[0](A)
    return result


def output_loss_scale(Y, G):
    """The scale of the loss sum(Y G): each term rounds at about eps |G| max(|Y|, 1), since the
    outputs of unit-scale layers carry absolute rounding errors of order eps even when Y is near 0."""
    return float(np.sum(np.abs(G) * np.maximum(np.abs(Y), 1.0)))


def assert_gradient(loss, array, analytic, what, loss_scale):
    # One absolute bound, the finite differences' own error (see conftest.py), for gradients of
    # any size: no switch between a relative and an absolute comparison at some gradient norm.
    numerical, bound = finite_difference_error_bound(loss, array, loss_scale)
    difference = np.linalg.norm(numerical - analytic)
    assert difference <= bound, (f"{what}: |num - ana| = {difference:.2e} exceeds the finite differences' "
                                 f"error bound {bound:.2e} (gradient norm {np.linalg.norm(analytic):.2e})")


def network_and_loss(sizes, names, n_samples, seed, from_preactivation):
    """The network, data and loss sum(Y G) of the property below, and the analytic gradients."""
    rng = np.random.default_rng(seed)
    mlp = aelib.MLP(sizes, names, seed=rng)
    for b in mlp.params[1::2]:
        b[...] = rng.uniform(0.1, 0.5, b.shape) * rng.choice([-1.0, 1.0], b.shape)
    X = rng.normal(0.0, 1.0, (n_samples, sizes[0]))
    G = rng.normal(0.0, 1.0, (n_samples, sizes[-1]))

    def output():
        Y = mlp.forward(X)
        return mlp.last_preactivation if from_preactivation else Y

    def loss():
        return float(np.sum(output() * G))
    scale = output_loss_scale(output(), G)
    dX = mlp.backward_from_preactivation(G) if from_preactivation else mlp.backward(G)
    arrays = [(f"array {i}", param, grad.copy()) for i, (param, grad) in enumerate(zip(mlp.params, mlp.grads))]
    return mlp, X, loss, scale, arrays + [("dX", X, dX)]


@settings(max_examples=examples(80))
@given(network=networks(), n_samples=st.integers(1, 4), seed=seeds, from_preactivation=st.booleans())
def test_backward_equals_finite_differences(network, n_samples, seed, from_preactivation):
    sizes, names = network
    mlp, X, loss, scale, arrays = network_and_loss(sizes, names, n_samples, seed, from_preactivation)
    # Stay clear of relu's kink, where the derivative does not exist.
    assume(all(np.abs(A).min() > 1e-3 for A, name in zip(preactivations(mlp, X), names) if name == "relu"))
    for what, array, analytic in arrays:
        assert_gradient(loss, array, analytic, f"{mlp}, {what}", scale)


# A draw that once failed the earlier bound (relative error 1.09e-7 against 1e-7, for a gradient of
# norm 1.6e-4 just above the norm where that test switched to an absolute comparison).
ONCE_FLAKY = dict(sizes=[4, 1, 6, 1, 3], names=["sigmoid", "sigmoid", "sigmoid", "identity"], n_samples=3,
                  seed=291)


@pytest.mark.parametrize("from_preactivation", [False, True])
def test_the_bound_accepts_the_draw_that_once_failed(from_preactivation):
    mlp, _, loss, scale, arrays = network_and_loss(**ONCE_FLAKY, from_preactivation=from_preactivation)
    for what, array, analytic in arrays:
        assert_gradient(loss, array, analytic, f"{mlp}, {what}", scale)


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_the_bound_rejects_a_gradient_off_by_1e_5_of_its_size(sign):
    # The same network, each gradient with one entry off by 1e-5 of the gradient's norm: refused
    # for the six arrays whose gradient is not vanishingly small next to the loss's scale S = 7.0.
    # The other three (norms 8e-5 to 1.1e-4, below 2e-5 of S) are below what central differences resolve
    # at 1e-5 relative; there a mistake of 1e-4 relative is refused.
    mlp, _, loss, scale, arrays = network_and_loss(**ONCE_FLAKY, from_preactivation=False)
    tiny = 0
    for what, array, analytic in arrays:
        norm = np.linalg.norm(analytic)
        relative = 1e-5 if norm >= 1e-4 * scale else 1e-4
        tiny += relative == 1e-4
        wrong = analytic.copy()
        wrong.reshape(-1)[np.argmax(np.abs(wrong))] += sign * relative * norm
        with pytest.raises(AssertionError, match="exceeds the finite differences' error bound"):
            assert_gradient(loss, array, wrong, f"{mlp}, {what}", scale)
    assert tiny == 3


matrices = hnp.arrays(np.float64, hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=8),
                      elements=st.floats(-3.0, 3.0, allow_nan=False))
unit_matrices = hnp.arrays(np.float64, hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=8),
                           elements=st.floats(0.0, 1.0))
binary_matrices = hnp.arrays(np.float64, hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=8),
                             elements=st.sampled_from([0.0, 1.0]))
probabilities = st.floats(0.0, 1.0)


@settings(max_examples=examples(100))
@given(X=matrices, p=probabilities, seed=seeds)
def test_salt_and_pepper_replaces_values_by_zero_or_one(X, p, seed):
    original = X.copy()
    noisy = aelib.salt_and_pepper(X, p, rng=seed)
    np.testing.assert_array_equal(X, original)  # the input is untouched
    assert noisy.shape == X.shape and noisy.dtype == np.float64 and noisy is not X
    assert np.all((noisy == 0.0) | (noisy == 1.0) | (noisy == X))
    if p == 0.0:
        np.testing.assert_array_equal(noisy, X)
    if p == 1.0:
        assert np.all((noisy == 0.0) | (noisy == 1.0))


@settings(max_examples=examples(60))
@given(X=st.one_of(unit_matrices, binary_matrices), p=probabilities, seed=seeds)
def test_salt_and_pepper_keeps_unit_interval_data_in_it(X, p, seed):
    noisy = aelib.salt_and_pepper(X, p, rng=seed)
    assert np.all((noisy >= 0.0) & (noisy <= 1.0))
    if set(np.unique(X)) <= {0.0, 1.0}:
        assert set(np.unique(noisy)) <= {0.0, 1.0}


@settings(max_examples=examples(60))
@given(X=matrices, sigma=st.floats(0.0, 5.0), seed=seeds)
def test_gaussian_noise_adds_finite_noise_of_scale_sigma(X, sigma, seed):
    original = X.copy()
    noisy = aelib.gaussian_noise(X, sigma, rng=seed)
    np.testing.assert_array_equal(X, original)
    assert noisy.shape == X.shape and np.isfinite(noisy).all()
    if sigma == 0.0:
        np.testing.assert_array_equal(noisy, X)
    # Standard normal draws beyond 10 have probability ~1e-23.
    assert np.all(np.abs(noisy - X) <= 10 * sigma)


@settings(max_examples=examples(60))
@given(X=matrices, p=probabilities, sigma=st.floats(0.0, 2.0), seed=seeds)
def test_noise_is_a_function_of_the_seed(X, p, sigma, seed):
    for noise, level in ((aelib.salt_and_pepper, p), (aelib.gaussian_noise, sigma)):
        np.testing.assert_array_equal(noise(X, level, rng=seed), noise(X, level, rng=seed))


@st.composite
def models(draw):
    sizes = draw(st.lists(st.integers(1, 6), min_size=2, max_size=4))
    seed = draw(st.integers(0, 2**31 - 1))
    activation = draw(st.sampled_from(ACTIVATIONS))
    if draw(st.booleans()):
        return aelib.VAE(sizes, activation=activation, seed=seed)
    loss = draw(st.sampled_from(["bce", "mse"]))
    output = "sigmoid" if loss == "bce" else draw(st.sampled_from(ACTIVATIONS))
    return aelib.Autoencoder(sizes, activation=activation, output_activation=output, loss=loss, seed=seed,
                             latent_activation=draw(st.sampled_from(ACTIVATIONS)))


@settings(max_examples=examples(40))
@given(model=models(), data_seed=seeds)
def test_save_load_round_trip(model, data_seed, tmp_path_factory):
    rng = np.random.default_rng(data_seed)
    for param in model.params:  # arbitrary weights and biases, not just the initial ones
        param[...] = rng.normal(0.0, 1.0, param.shape)
    path = tmp_path_factory.mktemp("models") / "model.npz"
    model.save(path)
    loaded = type(model).load(path)
    assert loaded.config == model.config
    assert all(np.array_equal(a, b) for a, b in zip(model.params, loaded.params))
    X = rng.random((3, model.n_features))
    Z = rng.normal(size=(3, model.n_latent))
    np.testing.assert_array_equal(loaded.decode(Z), model.decode(Z))
    np.testing.assert_array_equal(loaded.reconstruct(X), model.reconstruct(X))


@settings(max_examples=examples(40))
@given(network=networks(), seed=seeds)
def test_a_seed_fixes_the_weights(network, seed):
    sizes, names = network
    np.testing.assert_array_equal(aelib.MLP(sizes, names, seed=seed).flat_params,
                                  aelib.MLP(sizes, names, seed=seed).flat_params)


# The gradient checker: right for any layout and shape, and never fooled by a NaN.
layouts = st.sampled_from(["C", "F", "transposed", "strided"])


def stored_as(values, layout):
    if layout == "F":
        return np.asfortranarray(values)
    if layout == "transposed":
        return values.T.copy().T
    if layout == "strided":
        return np.repeat(values, 2, axis=-1)[..., ::2]
    return values.copy()


@settings(max_examples=examples(40))
@given(shape=st.tuples(st.integers(1, 4), st.integers(1, 4)), layout=layouts, seed=seeds,
       nan_at=st.one_of(st.none(), st.integers(0, 15)))
def test_gradient_check_is_right_for_any_layout_and_fails_on_nan(shape, layout, seed, nan_at):
    rng = np.random.default_rng(seed)
    values, C = rng.normal(size=shape), rng.normal(size=shape)
    W = stored_as(values, layout)
    assert np.array_equal(W, values)

    def loss():
        return float(np.sum(C * np.sin(W)))
    analytic = C * np.cos(values)
    if nan_at is not None:
        analytic.reshape(-1)[nan_at % analytic.size] = np.nan
    check = aelib.gradient_check(loss, [W], [analytic])
    assert check.passed() == (nan_at is None), str(check)
    np.testing.assert_array_equal(W, values)


# Losses and optimizers: any two different shapes are refused, never broadcast.
LOSS_FUNCTIONS = [aelib.losses.mse, aelib.losses.mse_grad, aelib.losses.binary_cross_entropy,
                  aelib.losses.binary_cross_entropy_grad, aelib.losses.bce_with_logits,
                  aelib.losses.bce_with_logits_grad]
small_shapes = hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4)


@settings(max_examples=examples(60))
@given(first=small_shapes, second=small_shapes, loss=st.sampled_from(LOSS_FUNCTIONS), seed=seeds)
def test_losses_never_broadcast(first, second, loss, seed):
    rng = np.random.default_rng(seed)
    prediction, target = rng.uniform(0.1, 0.9, first), rng.uniform(0.0, 1.0, second)
    if first == second:
        result = np.asarray(loss(prediction, target))
        assert np.isfinite(result).all() and result.shape in ((), first)
    else:
        with pytest.raises(ValueError, match="must have the same shape"):
            loss(prediction, target)


@settings(max_examples=examples(60))
@given(shape=small_shapes, grad_shape=small_shapes, optimizer=st.sampled_from(["sgd", "momentum", "adam"]),
       n_grads=st.integers(0, 3))
def test_optimizers_update_only_with_one_gradient_of_the_right_shape_per_parameter(shape, grad_shape, optimizer, n_grads):
    make = {"sgd": lambda: aelib.SGD(0.1), "momentum": lambda: aelib.SGD(0.1, momentum=0.5),
            "adam": lambda: aelib.Adam(0.1)}[optimizer]
    params = [np.ones(shape), np.ones(3)]
    grads = [np.ones(grad_shape), np.ones(3), np.ones(3)][:n_grads]
    right = n_grads == 2 and grad_shape == shape
    if right:
        make().step(params, grads)
        assert np.all(params[0] < 1.0) and np.all(params[1] < 1.0)
    else:
        with pytest.raises(ValueError, match="grads"):
            make().step(params, grads)
        assert np.all(params[0] == 1.0) and np.all(params[1] == 1.0)


# Saving: whatever goes wrong, the file that was there stays as it was.
@settings(max_examples=examples(25))
@given(model=models(), bad=st.sampled_from([np.nan, np.inf, -np.inf]), where=st.integers(0, 10**6))
def test_a_save_that_fails_leaves_the_old_file(model, bad, where, tmp_path_factory):
    folder = tmp_path_factory.mktemp("models")
    path = folder / "model.npz"
    model.save(path)
    before = path.read_bytes()
    flat = model.encoder.flat_params if where % 2 else model.decoder.flat_params
    flat[where % flat.size] = bad
    with pytest.raises(ValueError, match="NaN or infinite"):
        model.save(path)
    assert path.read_bytes() == before and [p.name for p in folder.iterdir()] == ["model.npz"]


# Seeds: a non-negative integer of any integer type is a seed; anything else is refused by name.
@settings(max_examples=examples(60))
@given(seed=st.one_of(st.integers(-2**40, 2**40), st.floats(allow_nan=True), st.text(max_size=3), st.booleans()))
def test_seeds_are_non_negative_integers(seed):
    valid = isinstance(seed, int) and not isinstance(seed, bool) and seed >= 0
    if valid:
        np.testing.assert_array_equal(aelib.Autoencoder([4, 2], seed=seed).encoder.flat_params,
                                      aelib.Autoencoder([4, 2], seed=np.int64(seed)).encoder.flat_params)
    else:
        with pytest.raises((TypeError, ValueError), match="^seed must be"):
            aelib.Autoencoder([4, 2], seed=seed)
        with pytest.raises((TypeError, ValueError), match="^rng must be"):
            aelib.salt_and_pepper(np.zeros((1, 4)), 0.5, rng=seed)


# Aliasing: editing what forward returned, or its input, never changes the gradient.
@settings(max_examples=examples(40))
@given(network=networks(), n_samples=st.integers(1, 4), seed=seeds, scale=st.floats(-3.0, 3.0))
def test_forward_results_are_the_callers_own(network, n_samples, seed, scale):
    sizes, names = network
    rng = np.random.default_rng(seed)
    mlp = aelib.MLP(sizes, names, seed=seed)
    X = rng.normal(size=(n_samples, sizes[0]))
    G = rng.normal(size=(n_samples, sizes[-1]))
    mlp.forward(X.copy())
    mlp.backward(G)
    expected = [grad.copy() for grad in mlp.grads]
    Y = mlp.forward(X)
    X *= scale
    Y *= scale
    mlp.backward(G)
    for a, b in zip(mlp.grads, expected):
        np.testing.assert_array_equal(a, b)
