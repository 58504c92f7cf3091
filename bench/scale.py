"""Benchmark 2: one epoch at scale, aelib against PyTorch, with the peak memory beside it.

20,000 binary 28x28 images, a [784, 256, 64, 16] autoencoder (tanh, linear code, sigmoid
output, binary cross-entropy), minibatches of 128 reshuffled every epoch, Adam with lr 1e-3,
float64. Here the matrix products dominate and both sides call an optimised BLAS (OpenBLAS
through numpy, MKL inside PyTorch).
"""
import json
import os
import subprocess
import sys

import torch

import aelib

from . import peers
from .common import binary_images, stopwatch, timed
# The workload is defined once, where the memory measurement (a separate process) reads it too.
from .memory import BATCH_SIZE, LR, N_SAMPLES, SIZES


def epoch_timer(framework, X, sizes, batch_size=BATCH_SIZE, model="autoencoder"):
    """A function that builds a fresh model (not timed) and times one epoch: (seconds, final loss)."""
    X_torch = torch.from_numpy(X)

    def train():
        if model == "autoencoder":
            net = aelib.Autoencoder(sizes, seed=0)
            if framework == "aelib":
                seconds, history = stopwatch(net.fit, X, epochs=1, lr=LR, batch_size=batch_size)
                return seconds, history[-1]
            network, loss_fn = peers.torch_autoencoder(net)
            optimizer = peers.adam(network, LR)
            seconds, history = stopwatch(peers.train_autoencoder, network, loss_fn, optimizer, X_torch, 1,
                                         batch_size)
            return seconds, history[-1]
        vae = aelib.VAE(sizes, seed=0)
        if framework == "aelib":
            seconds, history = stopwatch(vae.fit, X, epochs=1, lr=LR, batch_size=batch_size)
            return seconds, history["loss"][-1]
        torch_vae = peers.TorchVAE(vae)
        optimizer = peers.adam(torch_vae, LR)
        seconds, history = stopwatch(peers.train_vae, torch_vae, optimizer, X_torch, 1, batch_size)
        return seconds, history[-1]

    return train


def peak_memory(model, framework, method="rss"):
    """Run bench.memory in a fresh process (same thread limits) and return its result."""
    completed = subprocess.run([sys.executable, "-m", "bench.memory", model, framework, method],
                               capture_output=True, text=True, check=True, env=os.environ.copy(),
                               cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    return json.loads(completed.stdout.strip().splitlines()[-1])


def compare(model, quick=False):
    """Time one epoch of ``model`` ("autoencoder" or "vae") in both frameworks and measure memory."""
    n_samples = 4000 if quick else N_SAMPLES
    X = binary_images(n_samples)
    repeats = 1 if quick else 3
    result = {"config": {"n_samples": n_samples, "n_features": X.shape[1], "sizes": SIZES,
                         "batch_size": BATCH_SIZE, "lr": LR, "optimizer": "Adam", "dtype": "float64",
                         "repeats": repeats, "model": model}}
    trainers = {framework: epoch_timer(framework, X, SIZES, model=model) for framework in ("aelib", "torch")}
    for framework, (time, loss) in timed(trainers, repeats, warmup=1).items():
        result[framework] = {"time": time, "loss_after_one_epoch": loss}
    result["ratio"] = result["aelib"]["time"]["median"] / result["torch"]["time"]["median"]
    if not quick:
        result["memory"] = {"aelib": peak_memory(model, "aelib"), "torch": peak_memory(model, "torch"),
                            "aelib_tracemalloc": peak_memory(model, "aelib", "tracemalloc")}
    return result


def run(quick=False):
    result = compare("autoencoder", quick)
    result["goal_ratio"] = 1.2
    result["notes"] = [
        "Synthetic data: font glyphs drawn 4x larger at random places in 28x28 images, 2% of pixels "
        "flipped (so the benchmark needs no download; the time of an epoch depends only on the shapes).",
        "Each timed epoch starts from a fresh model with the same initial weights on both sides; "
        "one untimed epoch warms up first.",
        "Peak memory: the rise of the resident set (VmHWM) during one epoch in a fresh process, "
        "above the resident size with data and model already loaded; the same method for both. "
        "aelib_tracemalloc: bytes allocated by numpy during the epoch, as seen by tracemalloc.",
    ]
    return result
