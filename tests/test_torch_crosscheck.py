"""An optional cross-check against PyTorch's autograd, in float64.

The same network, the same weights and the same loss in aelib and in PyTorch must give the same
values and the same gradients (up to rounding). PyTorch is not a dependency of the book (it is in
the ``bench`` extra of pyproject.toml); without it these tests are skipped.
"""
import numpy as np
import pytest

import aelib
from aelib import losses

torch = pytest.importorskip("torch")
F = torch.nn.functional

TORCH_ACTIVATIONS = {"identity": lambda a: a, "sigmoid": torch.sigmoid, "tanh": torch.tanh, "relu": torch.relu}
ARCHITECTURES = [
    pytest.param([4, 3], ["sigmoid"], id="1-layer"),
    pytest.param([5, 6, 3], ["tanh", "sigmoid"], id="tanh-sigmoid"),
    pytest.param([6, 5, 4, 6], ["relu", "tanh", "identity"], id="relu-tanh-identity"),
    pytest.param([35, 20, 10, 2], ["tanh", "relu", "identity"], id="font-encoder"),
]


def network(sizes, names, seed):
    mlp = aelib.MLP(sizes, names, seed=seed)
    rng = np.random.default_rng(seed)
    for b in mlp.params[1::2]:
        b[...] = rng.uniform(-0.5, 0.5, b.shape)
    return mlp, rng.normal(size=(7, sizes[0])), rng.normal(size=(7, sizes[-1]))


def torch_forward(mlp, X):
    """The same network in PyTorch: returns (output, pre-activation, parameter tensors, X tensor)."""
    params = [torch.tensor(p, dtype=torch.float64, requires_grad=True) for p in mlp.params]
    X_t = torch.tensor(X, dtype=torch.float64, requires_grad=True)
    H = X_t
    for W, b, name in zip(params[0::2], params[1::2], mlp.activations):
        A = H @ W + b
        H = TORCH_ACTIVATIONS[name](A)
    return H, A, params, X_t


def assert_same(ours, theirs, what):
    np.testing.assert_allclose(ours, theirs.detach().numpy(), rtol=1e-10, atol=1e-13, err_msg=what)


@pytest.mark.parametrize("sizes, names", ARCHITECTURES)
def test_forward_and_backward_match_autograd(sizes, names):
    mlp, X, G = network(sizes, names, seed=0)
    Y_t, _, params, X_t = torch_forward(mlp, X)
    (Y_t * torch.tensor(G)).sum().backward()

    Y = mlp.forward(X)
    dX = mlp.backward(G)
    assert_same(Y, Y_t, "output")
    for i, (grad, param) in enumerate(zip(mlp.grads, params)):
        assert_same(grad, param.grad, f"gradient of array {i}")
    assert_same(dX, X_t.grad, "input gradient")


@pytest.mark.parametrize("sizes, names", ARCHITECTURES)
def test_backward_from_preactivation_matches_autograd(sizes, names):
    mlp, X, G = network(sizes, names, seed=1)
    _, A_t, params, X_t = torch_forward(mlp, X)
    (A_t * torch.tensor(G)).sum().backward()

    mlp.forward(X)
    dX = mlp.backward_from_preactivation(G)
    assert_same(mlp.last_preactivation, A_t, "pre-activation")
    for i, (grad, param) in enumerate(zip(mlp.grads, params)):
        assert_same(grad, param.grad, f"gradient of array {i}")
    assert_same(dX, X_t.grad, "input gradient")


def test_losses_and_their_gradients_match_autograd():
    rng = np.random.default_rng(2)
    Y = (rng.random((5, 8)) < 0.5).astype(float)
    A = rng.normal(0.0, 3.0, (5, 8))
    P = rng.uniform(0.05, 0.95, (5, 8))
    cases = [
        (losses.mse, losses.mse_grad, A, F.mse_loss),
        (losses.binary_cross_entropy, losses.binary_cross_entropy_grad, P, F.binary_cross_entropy),
        (losses.bce_with_logits, losses.bce_with_logits_grad, A, F.binary_cross_entropy_with_logits),
    ]
    for loss, loss_grad, prediction, torch_loss in cases:
        prediction_t = torch.tensor(prediction, requires_grad=True)
        value_t = torch_loss(prediction_t, torch.tensor(Y))
        value_t.backward()
        assert loss(prediction, Y) == pytest.approx(value_t.item(), rel=1e-12), loss.__name__
        assert_same(loss_grad(prediction, Y), prediction_t.grad, loss.__name__)


@pytest.mark.parametrize("ours, theirs", [
    pytest.param(lambda: aelib.SGD(0.1), lambda p: torch.optim.SGD(p, lr=0.1), id="sgd"),
    pytest.param(lambda: aelib.SGD(0.1, momentum=0.9), lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9),
                 id="sgd-momentum"),
    pytest.param(lambda: aelib.Adam(0.01), lambda p: torch.optim.Adam(p, lr=0.01), id="adam"),
])
def test_optimizers_match_torch(ours, theirs):
    # PyTorch's momentum keeps b = mu b + g and steps by -lr b; ours keeps v = -lr b: the same path.
    rng = np.random.default_rng(3)
    params = [rng.normal(size=(3, 4)), rng.normal(size=4)]
    params_t = [torch.tensor(p.copy(), requires_grad=True) for p in params]
    optimizer, optimizer_t = ours(), theirs(params_t)
    for _ in range(5):
        grads = [rng.normal(size=p.shape) for p in params]
        optimizer.step(params, grads)
        for p_t, g in zip(params_t, grads):
            p_t.grad = torch.tensor(g)
        optimizer_t.step()
    for p, p_t in zip(params, params_t):
        assert_same(p, p_t, "parameters after 5 steps")


def test_softmax_cross_entropy_and_its_gradient_match_autograd():
    rng = np.random.default_rng(4)
    A = rng.normal(0.0, 3.0, (6, 5))
    y = rng.integers(0, 5, 6)
    A_t = torch.tensor(A, requires_grad=True)
    value_t = F.cross_entropy(A_t, torch.tensor(y))
    value_t.backward()
    Y = aelib.one_hot(y, 5)
    assert losses.softmax_cross_entropy(A, Y) == pytest.approx(value_t.item(), rel=1e-12)
    assert_same(losses.softmax_cross_entropy_grad(A, Y), A_t.grad, "softmax cross-entropy gradient")


@pytest.mark.parametrize("rule", [{"k": 3}, {"l1": 0.4}], ids=["topk", "l1"])
def test_sparse_autoencoder_loss_and_grads_match_autograd(rule):
    rng = np.random.default_rng(5)
    sae = aelib.SparseAutoencoder(6, 15, seed=2, **rule)
    for param in sae.params:
        param[...] += rng.normal(0.0, 0.2, param.shape)
    X = rng.normal(size=(9, 6))
    loss, grads = sae.loss_and_grads(X)
    W_enc, b_enc, W_dec, b_dec = params = [torch.tensor(p, requires_grad=True) for p in sae.params]
    X_t = torch.tensor(X)
    A = (X_t - b_dec) @ W_enc + b_enc
    if "k" in rule:
        values, indices = torch.topk(A, rule["k"], dim=1)
        Z = torch.zeros_like(A).scatter(1, indices, torch.relu(values))
        penalty = 0.0
    else:
        Z = torch.relu(A)
        penalty = rule["l1"] * Z.sum(dim=1).mean()
    loss_t = ((Z @ W_dec + b_dec - X_t) ** 2).sum(dim=1).mean() + penalty
    loss_t.backward()
    assert loss == pytest.approx(loss_t.item(), rel=1e-12)
    for name, grad, param in zip(sae.param_names, grads, params):
        assert_same(grad, param.grad, f"gradient of {name}")


def test_toy_model_loss_and_grads_match_autograd():
    rng = np.random.default_rng(6)
    importance = rng.uniform(0.2, 1.5, 8)
    toy = aelib.ToyModel(8, 3, importance=importance, seed=1)
    toy.params[1][...] = rng.normal(0.0, 0.2, 8)
    X = aelib.sparse_features(10, 8, 0.4, rng)
    loss, grads = toy.loss_and_grads(X)
    W, b = params = [torch.tensor(p, requires_grad=True) for p in toy.params]
    X_t = torch.tensor(X)
    loss_t = (torch.tensor(importance) * (torch.relu(X_t @ W @ W.T + b) - X_t) ** 2).mean()
    loss_t.backward()
    assert loss == pytest.approx(loss_t.item(), rel=1e-12)
    for name, grad, param in zip(toy.param_names, grads, params):
        assert_same(grad, param.grad, f"gradient of {name}")


def test_classifier_loss_and_grads_match_autograd():
    rng = np.random.default_rng(7)
    model = aelib.Classifier([5, 6, 4], seed=0)
    X, y = rng.normal(size=(8, 5)), rng.integers(0, 4, 8)
    loss, grads = model.loss_and_grads(X, y)
    W1, b1, W2, b2 = params = [torch.tensor(p, requires_grad=True) for p in model.params]
    loss_t = F.cross_entropy(torch.relu(torch.tensor(X) @ W1 + b1) @ W2 + b2, torch.tensor(y))
    loss_t.backward()
    assert loss == pytest.approx(loss_t.item(), rel=1e-12)
    for index, (grad, param) in enumerate(zip(grads, params)):
        assert_same(grad, param.grad, f"gradient of array {index}")


# The VAEs of chapter 6: both likelihoods, and the conditional VAE. PyTorch's own
# ContinuousBernoulli distribution (written independently of aelib) gives the density.

def torch_mlp(mlp, H, params):
    for W, b, name in zip(params[0::2], params[1::2], mlp.activations):
        A = H @ W + b
        H = TORCH_ACTIVATIONS[name](A)
    return H, A


def torch_vae_loss(model, X, eps, beta, Y=None):
    """The negative ELBO of a batch in PyTorch, with the model's weights; returns (loss, parameter tensors)."""
    params = [torch.tensor(p, dtype=torch.float64, requires_grad=True) for p in model.params]
    n_encoder = len(model.encoder.params)
    X_t, eps_t = torch.tensor(X), torch.tensor(eps)
    condition = [] if Y is None else [torch.tensor(Y)]
    out, _ = torch_mlp(model.encoder, torch.cat([X_t] + condition, dim=1), params[:n_encoder])
    k = model.n_latent
    mu, logvar = out[:, :k], out[:, k:]
    Z = mu + torch.exp(0.5 * logvar) * eps_t
    _, logits = torch_mlp(model.decoder, torch.cat([Z] + condition, dim=1), params[n_encoder:])
    if model.likelihood == "bernoulli":
        log_p = -F.binary_cross_entropy_with_logits(logits, X_t, reduction="none").sum(dim=1)
    else:
        log_p = torch.distributions.ContinuousBernoulli(logits=logits).log_prob(X_t).sum(dim=1)
    kl = 0.5 * (mu ** 2 + torch.exp(logvar) - logvar - 1).sum(dim=1)
    return (-log_p + beta * kl).mean(), params


@pytest.mark.parametrize("likelihood", ["bernoulli", "continuous-bernoulli"])
@pytest.mark.parametrize("beta", [0.0, 1.0, 2.5])
def test_vae_loss_and_gradients_match_autograd(likelihood, beta):
    rng = np.random.default_rng(4)
    vae = aelib.VAE([12, 9, 3], seed=0, likelihood=likelihood)
    for param in vae.params:
        param += rng.normal(scale=0.3, size=param.shape)
    X, eps = rng.random((6, 12)), rng.standard_normal((6, 3))
    loss_t, params_t = torch_vae_loss(vae, X, eps, beta)
    loss_t.backward()
    loss, grads = vae.loss_and_grads(X, eps, beta=beta)
    assert loss == pytest.approx(loss_t.item(), rel=1e-10)
    for i, (grad, param_t) in enumerate(zip(grads, params_t)):
        # PyTorch's continuous Bernoulli uses a Taylor series within 0.01 of lambda = 1/2 of its
        # own; the tolerance leaves room for the two approximations.
        np.testing.assert_allclose(grad, param_t.grad.numpy(), rtol=1e-7, atol=1e-10, err_msg=f"array {i}")


@pytest.mark.parametrize("likelihood", ["bernoulli", "continuous-bernoulli"])
def test_conditional_vae_loss_and_gradients_match_autograd(likelihood):
    rng = np.random.default_rng(5)
    model = aelib.ConditionalVAE([10, 7, 2], 4, seed=0, likelihood=likelihood)
    for param in model.params:
        param += rng.normal(scale=0.3, size=param.shape)
    X, y, eps = rng.random((5, 10)), np.array([3, 0, 1, 3, 2]), rng.standard_normal((5, 2))
    loss_t, params_t = torch_vae_loss(model, X, eps, 1.2, Y=np.eye(4)[y])
    loss_t.backward()
    loss, grads = model.loss_and_grads(X, y, eps, beta=1.2)
    assert loss == pytest.approx(loss_t.item(), rel=1e-10)
    for i, (grad, param_t) in enumerate(zip(grads, params_t)):
        np.testing.assert_allclose(grad, param_t.grad.numpy(), rtol=1e-7, atol=1e-10, err_msg=f"array {i}")


def test_continuous_bernoulli_mean_and_density_match_pytorch():
    # PyTorch computes from the probability lambda, which loses digits for |logits| beyond ~20
    # (at a = 30 its mean is off by 1e-6), hence the range.
    A = np.concatenate([np.linspace(-20, 20, 81), [-0.2, -1e-3, 0.0, 1e-5, 0.05]])
    X = np.random.default_rng(6).random(len(A))
    distribution = torch.distributions.ContinuousBernoulli(logits=torch.tensor(A))
    np.testing.assert_allclose(aelib.likelihoods.continuous_bernoulli_mean(A), distribution.mean.numpy(), rtol=1e-6)
    np.testing.assert_allclose(aelib.likelihoods.log_density(A[:, None], X[:, None], "continuous-bernoulli"),
                               distribution.log_prob(torch.tensor(X)).numpy(), rtol=1e-7, atol=1e-9)
