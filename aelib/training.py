"""The training loop shared by the models: minibatches, optional noise, divergence, progress."""
import sys

import numpy as np

from .optim import make_optimizer
from .validation import check_noise_output, format_number, positive_int, positive_number


class TrainingDivergedError(RuntimeError):
    """Training diverged: the loss became NaN or infinite, exploded, or rose and stayed high (see
    ``run_epochs``), or the model ended with one code for every sample (see ``Autoencoder.fit``).

    The message names the likely cause: the learning rate (``lr``, or the optimizer object's own
    ``lr``), the data's scale, the noise function, or dead units.
    """


# A loss above this many times its reference (the larger of the first batch's loss and 1.0) is
# called divergence even while it is finite: no healthy run grows its loss ten-thousand-fold, and
# an exploding run that is not stopped may come back down to a finite, meaningless loss. The
# floor of 1.0 keeps a model that starts near zero loss (trained before) from being stopped by
# the ordinary ups and downs of its first steps.
DIVERGENCE_FACTOR = 1e4
# An epoch whose mean loss is more than this many times the same reference is called divergence
# too: a loss that rose and stays high, finite because saturated outputs bound it (Adam with
# lr=10 on the font: 13 nats per pixel after 300 epochs, 78 times the reference at its peak).
# On every training run of chapters 1-4 (41 runs) no epoch's mean exceeded 1.0 times the
# reference, nor 1.18 times the first batch's loss: a factor of 4 leaves a margin above 3.
RISE_FACTOR = 4.0
# Data whose values reach beyond this are named as a likely cause of divergence.
LARGE_DATA = 1e3


# A diverging run overflows somewhere in the forward or backward pass before its loss turns
# inf or NaN; silencing those warnings lets the checks below report it once, clearly.
@np.errstate(over="ignore", invalid="ignore")
def run_epochs(step, X, params, grads, *, epochs, lr, batch_size, optimizer, rng,
               noise=None, progress=False, after_step=None):
    """Train by calling ``step(X_input, X_target)`` on each batch and updating ``params``.

    X: (n_samples, n_features), already validated and of the model's dtype. ``step`` fills
    ``grads`` and returns a tuple of loss terms (the first is the loss minimised). Batches are
    reshuffled every epoch with ``rng``; ``noise(X_batch, rng=rng)``, if given, corrupts each batch
    afresh and the target stays clean (a noisy batch of another dtype is converted to X's).
    optimizer: "adam" or "sgd" (with learning rate ``lr``), or an optimizer object, which uses
    its own learning rate (``lr`` must then be left out, or equal the optimizer's: two different
    learning rates would leave unclear which one counts).
    after_step: a function of no arguments, called after every optimizer step, e.g. to hold
    weights to a constraint (a sparse autoencoder renormalises its dictionary there).
    Returns one list per loss term, each with the batch-size-weighted mean of every epoch.

    Raises TrainingDivergedError when a batch's loss is NaN or infinite, or is more than
    ``DIVERGENCE_FACTOR`` (1e4) times the larger of the first batch's loss and 1.0 (the
    reference); when an epoch's mean loss overflows, or is more than ``RISE_FACTOR`` (4) times the
    reference (a loss that rose and stays high: no healthy run ends an epoch above where it
    started); or when the weights are not finite at the end.
    """
    epochs = positive_int(epochs, "epochs")
    own_lr = not isinstance(optimizer, str)
    if own_lr:
        optimizer = make_optimizer(optimizer, None)  # checks that it has a step method
        if lr is not None and lr != getattr(optimizer, "lr", None):
            raise ValueError(
                f"lr must be left out when optimizer is an object: it uses its own learning rate "
                f"(got lr={lr!r} and {type(optimizer).__name__} with lr={getattr(optimizer, 'lr', None)!r}); "
                f"set it there, e.g. Adam(lr={lr!r})")
    else:
        optimizer = make_optimizer(optimizer, positive_number(lr, "lr"))
    n_samples = X.shape[0]
    batch_size = n_samples if batch_size is None else positive_int(batch_size, "batch_size")
    if noise is not None and not callable(noise):
        raise TypeError(f"noise must be a function noise(X, rng=rng), got {noise!r}")
    if after_step is not None and not callable(after_step):
        raise TypeError(f"after_step must be a function of no arguments, got {after_step!r}")
    bar = ProgressBar(epochs) if progress else None
    history = None
    full_batch = batch_size >= n_samples
    limit = np.inf  # set from the first batch's loss
    if noise is not None:
        noise = _NoiseInDtype(noise, X.dtype)
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
            if np.shape(X_input) != X_batch.shape:
                raise ValueError(f"noise must return an array of its input's shape {X_batch.shape}, "
                                 f"got {np.shape(X_input)} from {noise!r}")
            terms = step(X_input, X_batch)
            # One comparison catches NaN, inf and a loss that exploded while staying finite.
            if not terms[0] < limit:
                raise TrainingDivergedError(_diverged(epoch, terms[0], limit, X, X_input, noise, optimizer, own_lr))
            if limit == np.inf:
                limit = DIVERGENCE_FACTOR * max(terms[0], 1.0)
            optimizer.step(params, grads)
            if after_step is not None:
                after_step()
            weighted = [term * X_batch.shape[0] for term in terms]
            totals = weighted if totals is None else [t + w for t, w in zip(totals, weighted)]
        if history is None:
            history = [[] for _ in totals]
        for values, total in zip(history, totals):
            values.append(total / n_samples)
        if not np.isfinite(history[0][-1]):
            raise TrainingDivergedError(
                f"training diverged at epoch {epoch}: every batch's loss was finite (the last "
                f"{terms[0]:.3g}), but their sum over the epoch overflowed to {history[0][-1]}. The loss "
                f"is far too large to train on: check the weights of its terms and the data's scale.")
        reference = limit / DIVERGENCE_FACTOR
        if history[0][-1] > RISE_FACTOR * reference:
            raise TrainingDivergedError(_rose(epoch, history[0][-1], reference, X, optimizer, own_lr))
        if bar is not None:
            bar.update(epoch, history[0][-1])
    if bar is not None:
        bar.close()
    # The last step is the only one whose result no loss has seen yet.
    if not all(np.isfinite(param).all() for param in params):
        raise TrainingDivergedError(
            f"training diverged at the last step of epoch {epochs}: the weights became NaN or infinite. "
            + _lr_advice(optimizer, own_lr))
    return history


class _NoiseInDtype:
    """A noise function whose output is checked and converted to the data's dtype (float32 or float64).

    The noise functions of aelib return float64; a float32 model trains on float32 batches.
    Anything but a numeric array of the batch's shape (a list, say) is refused with a message
    naming the function, which it shows itself as.
    """

    def __init__(self, noise, dtype):
        self.noise, self.dtype = noise, dtype

    def __call__(self, X, rng):
        X_noisy = check_noise_output(self.noise(X, rng=rng), X, self.noise)
        if X_noisy.dtype != self.dtype:
            X_noisy = X_noisy.astype(self.dtype)
        return X_noisy

    def __repr__(self):
        return repr(self.noise)


def _lr_advice(optimizer, own_lr):
    lr = getattr(optimizer, "lr", None)
    if lr is None:
        return "The optimizer's steps are too large for this problem."
    if own_lr:
        return (f"The optimizer's own learning rate, {type(optimizer).__name__}.lr={lr:g}, is too large for "
                f"this problem; create it with a smaller lr (e.g. lr={lr / 10:g}).")
    return f"The learning rate lr={lr:g} is too large for this problem; try a smaller lr (e.g. lr={lr / 10:g})."


def _diverged(epoch, loss, limit, X, X_input, noise, optimizer, own_lr):
    # The message of a TrainingDivergedError: what happened, then the likely cause, checked in
    # the order of how surely it can be told: the noise function's output, the data, the step size.
    if np.isfinite(loss):
        what = (f"training diverged at epoch {epoch}: the loss exploded to {loss:.3g}, more than "
                f"{DIVERGENCE_FACTOR:.0e} times its reference {limit / DIVERGENCE_FACTOR:.3g} "
                "(the larger of the first batch's loss and 1.0).")
    else:
        what = f"training diverged at epoch {epoch}: the loss became {loss}."
    if noise is not None and not np.isfinite(np.asarray(X_input, dtype=np.float64)).all():
        return f"{what} The noise function {noise!r} returned NaN or infinite values; fix the noise function."
    first = limit == np.inf  # no training step was taken yet: the step size cannot be the cause
    data = _large_data(X)
    if data:
        return f"{what} {data}" if first else f"{what} {data} Otherwise: {_lr_advice(optimizer, own_lr)}"
    if first:
        return (f"{what} This is the loss of the first batch, before any training step, so the learning "
                "rate is not the cause: check the data and the model's settings.")
    return f"{what} {_lr_advice(optimizer, own_lr)}"


def _large_data(X):
    # Names data beyond LARGE_DATA as a likely cause of divergence, or returns "".
    scale = float(np.max(np.abs(X)))
    if scale <= LARGE_DATA:
        return ""
    return (f"The data reach values of {format_number(scale, unlike=(LARGE_DATA,))}, too large for the "
            "network: rescale X (e.g. to [0, 1] or to unit variance).")


def _rose(epoch, loss, reference, X, optimizer, own_lr):
    # The message of the rule that catches a loss that rose and stays high but finite.
    what = (f"training diverged at epoch {epoch}: the epoch's mean loss rose to {loss:.3g}, more than "
            f"{RISE_FACTOR:g} times its reference {reference:.3g} (the larger of the first batch's loss and 1.0), "
            f"where a healthy run's loss falls; it stayed finite and below the {DIVERGENCE_FACTOR:.0e} times that "
            "calls a loss exploded (saturated outputs bound the binary cross-entropy).")
    data = _large_data(X)
    if data:
        return f"{what} {data} Otherwise: {_lr_advice(optimizer, own_lr)}"
    return f"{what} {_lr_advice(optimizer, own_lr)}"


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
