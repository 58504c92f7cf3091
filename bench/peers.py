"""The same models in PyTorch, started from aelib's own initial weights, and their training loops.

Each peer mirrors an aelib model layer for layer: ``nn.Linear`` layers in the aelib model's
dtype (float64 or float32) whose weights
and biases are copied from the aelib model before training (Glorot-uniform weights, zero
biases), the same activations, the same loss as a mean over the batch, and ``torch.optim.Adam``
with aelib's hyperparameters (lr, betas 0.9 and 0.999, eps 1e-8). The sigmoid of the output
layer is folded into ``BCEWithLogitsLoss``, exactly as aelib computes the loss from the logits.
Like aelib's ``fit``, every loop reads each batch's loss as a Python float (aelib checks it for
divergence and records the epoch's mean).
"""
import numpy as np
import torch
from torch import nn

TORCH_ACTIVATIONS = {"tanh": nn.Tanh, "relu": nn.ReLU, "sigmoid": nn.Sigmoid}
TORCH_DTYPES = {"float64": torch.float64, "float32": torch.float32}


def torch_mlp(mlp, final_activation=True):
    """nn.Sequential with the layers and current weights of an aelib MLP.

    final_activation=False leaves out the last layer's activation (its pre-activation is the
    output), for losses that take logits.
    """
    layers = []
    for index, (W, b, name) in enumerate(zip(mlp.params[0::2], mlp.params[1::2], mlp.activations)):
        linear = nn.Linear(W.shape[0], W.shape[1], dtype=TORCH_DTYPES[W.dtype.name])
        with torch.no_grad():
            # aelib computes H @ W with W: (fan_in, fan_out); nn.Linear stores W.T.
            linear.weight.copy_(torch.from_numpy(W.T.copy()))
            linear.bias.copy_(torch.from_numpy(b.copy()))
        layers.append(linear)
        last = index == len(mlp.activations) - 1
        if name != "identity" and not (last and not final_activation):
            layers.append(TORCH_ACTIVATIONS[name]())
    return nn.Sequential(*layers)


def torch_autoencoder(model):
    """(network, loss_fn) for an aelib Autoencoder: encoder and decoder in one nn.Sequential."""
    logits = model.loss == "bce"
    network = nn.Sequential(*torch_mlp(model.encoder), *torch_mlp(model.decoder, final_activation=not logits))
    loss_fn = nn.BCEWithLogitsLoss() if logits else nn.MSELoss()
    return network, loss_fn


def adam(network, lr, variant="default"):
    """torch.optim.Adam; variant "fused" is PyTorch's fastest CPU implementation (opt-in)."""
    options = {"default": {}, "foreach": {"foreach": True}, "fused": {"fused": True}}[variant]
    return torch.optim.Adam(network.parameters(), lr=lr, **options)


def shuffled_batches(X, batch_size, generator):
    """The minibatches of one epoch, reshuffled, as aelib's training loop makes them."""
    n_samples = X.shape[0]
    if batch_size >= n_samples:
        yield X
        return
    order = torch.randperm(n_samples, generator=generator)
    for start in range(0, n_samples, batch_size):
        yield X[order[start:start + batch_size]]


def train_epochs(batch_loss, optimizer, X, epochs, batch_size=None, seed=0):
    """The usual PyTorch loop; X a tensor of the network's dtype. Returns the mean loss of every epoch.

    batch_loss(X_batch, generator) returns the loss tensor of one minibatch.
    """
    n_samples = X.shape[0]
    batch_size = batch_size or n_samples
    generator = torch.Generator().manual_seed(seed)
    history = []
    for _ in range(epochs):
        total = 0.0
        for X_batch in shuffled_batches(X, batch_size, generator):
            optimizer.zero_grad()
            loss = batch_loss(X_batch, generator)
            loss.backward()
            optimizer.step()
            total += loss.item() * X_batch.shape[0]
        history.append(total / n_samples)
    return history


def train_autoencoder(network, loss_fn, optimizer, X, epochs, batch_size=None, seed=0):
    """Train ``network`` to reconstruct X with ``loss_fn(X_hat, X)``; see ``train_epochs``."""
    return train_epochs(lambda X_batch, _: loss_fn(network(X_batch), X_batch),
                        optimizer, X, epochs, batch_size, seed)


class TorchVAE(nn.Module):
    """aelib's VAE in PyTorch: the encoder outputs (mu, logvar) side by side, as in aelib."""

    def __init__(self, vae):
        super().__init__()
        self.n_latent = vae.n_latent
        self.encoder = torch_mlp(vae.encoder)
        self.decoder = torch_mlp(vae.decoder, final_activation=False)

    def loss(self, X, eps, beta=1.0):
        """Negative ELBO per sample, averaged over the batch, exactly as aelib.VAE defines it."""
        out = self.encoder(X)
        mu, logvar = out[:, :self.n_latent], out[:, self.n_latent:]
        Z = mu + torch.exp(0.5 * logvar) * eps
        logits = self.decoder(Z)
        reconstruction = nn.functional.binary_cross_entropy_with_logits(logits, X, reduction="sum") / X.shape[0]
        kl = 0.5 * torch.sum(mu * mu + torch.exp(logvar) - logvar - 1.0) / X.shape[0]
        return reconstruction + beta * kl


def train_vae(model, optimizer, X, epochs, batch_size=None, seed=0, beta=1.0):
    """Like ``train_autoencoder``, drawing fresh eps ~ N(0, I) for every batch."""
    def batch_loss(X_batch, generator):
        eps = torch.randn(X_batch.shape[0], model.n_latent, generator=generator, dtype=X_batch.dtype)
        return model.loss(X_batch, eps, beta)

    return train_epochs(batch_loss, optimizer, X, epochs, batch_size, seed)


def torch_reconstruct(network, X):
    """Pixel probabilities from an autoencoder network whose output is logits: numpy (n, d)."""
    with torch.no_grad():
        dtype = next(network.parameters()).dtype
        return torch.sigmoid(network(torch.from_numpy(X).to(dtype))).numpy()


def torch_vae_reconstruct(model, X):
    with torch.no_grad():
        out = model.encoder(torch.from_numpy(X).to(next(model.parameters()).dtype))
        return torch.sigmoid(model.decoder(out[:, :model.n_latent])).numpy()


def weights_match(model, network):
    """True if the torch network holds the aelib model's current weights (a check of the copy)."""
    torch_params = [p.detach().numpy() for p in network.parameters()]
    aelib_params = []
    for W, b in zip(model.params[0::2], model.params[1::2]):
        aelib_params += [W.T, b]
    return len(torch_params) == len(aelib_params) and all(
        np.array_equal(a, t) for a, t in zip(aelib_params, torch_params))
