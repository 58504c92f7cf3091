"""Benchmark 5b: the variational autoencoder's epoch, aelib against the same VAE in PyTorch.

Two settings: the emoji VAE of chapter 3 ([144, 64, 2], tanh, full batch of 32 emojis, Adam lr
3e-3, 3000 epochs) and a VAE at scale on the benchmark-2 data ([784, 256, 64, 16], minibatches
of 128, one epoch). Both sides start from the same weights; each draws its own noise eps, so the
trajectories are alike but not identical.
"""
import torch

import aelib

from . import peers
from .common import stopwatch, timed
from .scale import compare

SIZES = [144, 64, 2]
LR = 3e-3


def emoji(quick=False, dtype="float64"):
    E = aelib.load_emojis()[0].astype(dtype)
    E_torch = torch.from_numpy(E)
    epochs = 300 if quick else 3000
    repeats = 2 if quick else 3

    def train_aelib():
        vae = aelib.VAE(SIZES, seed=0, dtype=dtype)
        seconds, history = stopwatch(vae.fit, E, epochs=epochs, lr=LR)
        return seconds, history["loss"][-1]

    def train_torch(variant):
        model = peers.TorchVAE(aelib.VAE(SIZES, seed=0, dtype=dtype))
        optimizer = peers.adam(model, LR, variant)
        seconds, history = stopwatch(peers.train_vae, model, optimizer, E_torch, epochs)
        return seconds, history[-1]

    result = {"config": {"sizes": SIZES, "epochs": epochs, "lr": LR, "batch": "full (32 emojis)", "beta": 1.0,
                         "optimizer": "Adam", "dtype": dtype, "repeats": repeats}}
    trainers = {"aelib": train_aelib, "torch": lambda: train_torch("default"),
                "torch_fused": lambda: train_torch("fused")}
    for name, (time, loss) in timed(trainers, repeats, warmup=1).items():
        result[name] = {"time": time, "final_loss": loss, "seconds_per_epoch": time["median"] / epochs}
    result["ratio"] = result["aelib"]["time"]["median"] / result["torch"]["time"]["median"]
    result["ratio_fused"] = result["aelib"]["time"]["median"] / result["torch_fused"]["time"]["median"]
    return result


def run(quick=False):
    return {"emoji": {dtype: emoji(quick, dtype) for dtype in ("float64", "float32")},
            "scale": compare("vae", quick)}
