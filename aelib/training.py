"""The training loop shared by the models: minibatches, optional noise, divergence, progress."""
import sys

import numpy as np

from .optim import make_optimizer
from .validation import positive_int, positive_number


class TrainingDivergedError(RuntimeError):
    """The loss became NaN or infinite: the step size was too large for this problem."""


# A diverging run overflows somewhere in the forward or backward pass before its loss turns
# inf or NaN; silencing those warnings lets the finite-loss check below report it once, clearly.
@np.errstate(over="ignore", invalid="ignore")
def run_epochs(step, X, params, grads, *, epochs, lr, batch_size, optimizer, rng,
               noise=None, progress=False):
    """Train by calling ``step(X_input, X_target)`` on each batch and updating ``params``.

    X: (n_samples, n_features), already validated. ``step`` fills ``grads`` and returns a tuple of
    loss terms (the first is the loss minimised). Batches are reshuffled every epoch with ``rng``;
    ``noise(X_batch, rng=rng)``, if given, corrupts each batch afresh and the target stays clean.
    Returns one list per loss term, each with the batch-size-weighted mean of every epoch.
    """
    epochs = positive_int(epochs, "epochs")
    lr = positive_number(lr, "lr")
    n_samples = X.shape[0]
    batch_size = n_samples if batch_size is None else positive_int(batch_size, "batch_size")
    optimizer = make_optimizer(optimizer, lr)
    if noise is not None and not callable(noise):
        raise TypeError(f"noise must be a function noise(X, rng=rng), got {noise!r}")
    bar = ProgressBar(epochs) if progress else None
    history = None
    full_batch = batch_size >= n_samples
    for epoch in range(1, epochs + 1):
        if full_batch:
            batches = [X]
        else:
            order = rng.permutation(n_samples)
            # A generator, not a list: each batch is copied out of X only when its turn comes,
            # so a shuffled copy of the whole data set never sits in memory.
            batches = (X[order[start:start + batch_size]] for start in range(0, n_samples, batch_size))
        totals = None
        for X_batch in batches:
            X_input = X_batch if noise is None else noise(X_batch, rng=rng)
            terms = step(X_input, X_batch)
            if not np.isfinite(terms[0]):
                raise TrainingDivergedError(
                    f"training diverged at epoch {epoch}: the loss became {terms[0]}. "
                    f"The learning rate lr={lr:g} is too large for this problem; try a smaller lr "
                    f"(e.g. lr={lr / 10:g}).")
            optimizer.step(params, grads)
            weighted = [term * X_batch.shape[0] for term in terms]
            totals = weighted if totals is None else [t + w for t, w in zip(totals, weighted)]
        if history is None:
            history = [[] for _ in totals]
        for values, total in zip(history, totals):
            values.append(total / n_samples)
        if bar is not None:
            bar.update(epoch, history[0][-1])
    if bar is not None:
        bar.close()
    return history


class ProgressBar:
    """A one-line text progress bar that rewrites itself (works in terminals and notebooks)."""

    def __init__(self, total, width=30, stream=None):
        self.total, self.width = total, width
        self.stream = stream or sys.stdout
        self.every = max(1, total // 100)

    def update(self, done, loss):
        if done % self.every and done != self.total:
            return
        filled = round(self.width * done / self.total)
        bar = "#" * filled + "-" * (self.width - filled)
        self.stream.write(f"\r[{bar}] epoch {done}/{self.total}  loss {loss:.4f}")
        self.stream.flush()

    def close(self):
        self.stream.write("\n")
        self.stream.flush()
