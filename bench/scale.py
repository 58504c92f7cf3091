"""Benchmark 2: one epoch at scale, aelib against PyTorch in the same dtype, with the peak memory
and the machine's own limit beside it.

20,000 binary 28x28 images, a [784, 256, 64, 16] autoencoder (tanh, linear code, sigmoid
output, binary cross-entropy), minibatches of 128 reshuffled every epoch, Adam with lr 1e-3,
in float64 and in float32 (PyTorch's default). Here the matrix products dominate and both sides
call an optimised BLAS (OpenBLAS through numpy, MKL inside PyTorch).

"How close to the machine": in the same run, taking turns with the epochs, a large matrix
product (2048 x 2048 times 2048 x 2048) measures the rate numpy's BLAS reaches in each dtype,
in GFLOP/s. An epoch needs a known number of floating-point operations (the matrix products of
the forward and backward passes); at that rate it would take ``floor`` seconds, and
floor / (the measured epoch) is the fraction of the machine's peak an epoch reaches.
"""
import json
import os
import subprocess
import sys

import numpy as np
import torch

import aelib

from . import peers
from .common import binary_images, stopwatch, timed
# The workload is defined once, where the memory measurement (a separate process) reads it too.
from .memory import BATCH_SIZE, LR, N_SAMPLES, SIZES

DTYPES = ("float32", "float64")
FRAMEWORKS = ("aelib", "torch", "torch_fused")
GEMM_SIZE = 2048


def epoch_timer(framework, X, sizes, batch_size=BATCH_SIZE, model="autoencoder", dtype="float64"):
    """A function that builds a fresh model (not timed) and times one epoch: (seconds, final loss).

    framework: "aelib", "torch" (default Adam) or "torch_fused" (Adam(fused=True)). X is given
    to each side in ``dtype`` beforehand, as a user holding data in that dtype would.
    """
    X = X.astype(dtype, copy=False)
    X_torch = torch.from_numpy(X)
    variant = "fused" if framework == "torch_fused" else "default"

    def train():
        if model == "autoencoder":
            net = aelib.Autoencoder(sizes, seed=0, dtype=dtype)
            if framework == "aelib":
                seconds, history = stopwatch(net.fit, X, epochs=1, lr=LR, batch_size=batch_size)
                return seconds, history[-1]
            network, loss_fn = peers.torch_autoencoder(net)
            optimizer = peers.adam(network, LR, variant)
            seconds, history = stopwatch(peers.train_autoencoder, network, loss_fn, optimizer, X_torch, 1,
                                         batch_size)
            return seconds, history[-1]
        vae = aelib.VAE(sizes, seed=0, dtype=dtype)
        if framework == "aelib":
            seconds, history = stopwatch(vae.fit, X, epochs=1, lr=LR, batch_size=batch_size)
            return seconds, history["loss"][-1]
        torch_vae = peers.TorchVAE(vae)
        optimizer = peers.adam(torch_vae, LR, variant)
        seconds, history = stopwatch(peers.train_vae, torch_vae, optimizer, X_torch, 1, batch_size)
        return seconds, history[-1]

    return train


def gemm_timer(dtype, size=GEMM_SIZE):
    """Time one large matrix product with numpy: (seconds, GFLOP/s of that product)."""
    rng = np.random.default_rng(0)
    A, B = rng.random((size, size)).astype(dtype), rng.random((size, size)).astype(dtype)
    C = np.empty((size, size), dtype=dtype)

    def multiply():
        seconds, _ = stopwatch(np.matmul, A, B, out=C)
        return seconds, 2.0 * size ** 3 / seconds / 1e9

    return multiply


def epoch_gflop(model, n_samples, sizes):
    """Floating-point operations (in GFLOP) of one epoch's matrix products.

    Each layer's forward product H @ W costs 2 n fan_in fan_out; the backward pass computes
    dW = H.T @ delta and delta @ W.T, the same again each, except that the first layer's
    input gradient is never computed.
    """
    if model == "autoencoder":
        networks = [sizes, sizes[::-1]]
    else:
        networks = [sizes[:-1] + [2 * sizes[-1]], sizes[::-1]]
    products = sum(a * b for net in networks for a, b in zip(net[:-1], net[1:]))
    first = networks[0][0] * networks[0][1]
    return 2.0 * n_samples * (3 * products - first) / 1e9


def peak_memory(model, framework, method="rss", dtype="float64"):
    """Run bench.memory in a fresh process (same thread limits) and return its result."""
    completed = subprocess.run([sys.executable, "-m", "bench.memory", model, framework, method, dtype],
                               capture_output=True, text=True, check=True, env=os.environ.copy(),
                               cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    return json.loads(completed.stdout.strip().splitlines()[-1])


def compare_dtype(model, X, dtype, repeats, quick):
    """Epochs of aelib and both PyTorch optimizers in ``dtype``, in turns with the large product."""
    trainers = {framework: epoch_timer(framework, X, SIZES, model=model, dtype=dtype) for framework in FRAMEWORKS}
    trainers["gemm"] = gemm_timer(dtype)
    result = {}
    timings = timed(trainers, repeats, warmup=1)
    for framework in FRAMEWORKS:
        time, loss = timings[framework]
        result[framework] = {"time": time, "loss_after_one_epoch": loss}
    gemm_time = timings["gemm"][0]
    gflop = epoch_gflop(model, X.shape[0], SIZES)
    peak = 2.0 * GEMM_SIZE ** 3 / gemm_time["median"] / 1e9
    floor = gflop / peak
    result["machine"] = {"gemm_size": GEMM_SIZE, "gemm_time": gemm_time, "gflops": peak, "epoch_gflop": gflop,
                         "floor_seconds": floor,
                         "fraction_of_peak": {name: floor / result[name]["time"]["median"] for name in FRAMEWORKS}}
    result["ratio"] = result["aelib"]["time"]["median"] / result["torch"]["time"]["median"]
    result["ratio_fused"] = result["aelib"]["time"]["median"] / result["torch_fused"]["time"]["median"]
    if not quick:
        result["memory"] = {"aelib": peak_memory(model, "aelib", dtype=dtype),
                            "torch": peak_memory(model, "torch", dtype=dtype),
                            "aelib_tracemalloc": peak_memory(model, "aelib", "tracemalloc", dtype)}
    return result


def compare(model, quick=False):
    """Time one epoch of ``model`` ("autoencoder" or "vae") in both dtypes and frameworks, and measure memory."""
    n_samples = 4000 if quick else N_SAMPLES
    X = binary_images(n_samples)
    repeats = 1 if quick else 5
    result = {"config": {"n_samples": n_samples, "n_features": X.shape[1], "sizes": SIZES,
                         "batch_size": BATCH_SIZE, "lr": LR, "optimizer": "Adam", "dtypes": list(DTYPES),
                         "repeats": repeats, "model": model},
              "fused_adam_available": fused_adam_available()}
    for dtype in DTYPES:
        result[dtype] = compare_dtype(model, X, dtype, repeats, quick)
    return result


def fused_adam_available():
    try:
        torch.optim.Adam([torch.zeros(2, requires_grad=True)], lr=1e-3, fused=True)
    except (RuntimeError, ValueError):
        return False
    return True


def run(quick=False):
    result = compare("autoencoder", quick)
    result["goal_ratio"] = {"float32": 1.0, "float64": 1.2}
    result["notes"] = [
        "Synthetic data: font glyphs drawn 4x larger at random places in 28x28 images, 2% of pixels "
        "flipped (so the benchmark needs no download; the time of an epoch depends only on the shapes).",
        "Each timed epoch starts from a fresh model with the same initial weights on both sides "
        "(aelib's float32 weights are its float64 ones rounded); one untimed round warms up first. "
        "The data are handed to each side in the dtype of the model.",
        "torch: torch.optim.Adam with its defaults; torch_fused: Adam(fused=True), which must be asked for.",
        "Peak memory: the rise of the resident set (VmHWM) during one epoch in a fresh process, "
        "above the resident size with data and model already loaded; the same method for both. "
        "aelib_tracemalloc: bytes allocated by numpy during the epoch, as seen by tracemalloc.",
    ]
    return result
