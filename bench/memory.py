"""Peak memory of one training epoch, measured in a fresh process per measurement.

    python -m bench.memory MODEL FRAMEWORK METHOD [DTYPE]   (MODEL: autoencoder or vae;
        FRAMEWORK: aelib or torch; METHOD: rss or tracemalloc; DTYPE: float64 (default) or float32)

Prints one JSON object. Both frameworks are measured the same way ("rss"): the data and the
model are built first, then the kernel's high-water mark of the resident set is reset
(``/proc/self/clear_refs``) and the epoch runs; the peak minus the resident size just before
the epoch is the memory the epoch itself needed: activations, gradients, optimizer state,
batch copies, temporaries, and whatever the libraries' allocators keep. A fresh process per
measurement keeps one framework's allocations out of the other's figures.
"tracemalloc" (aelib only) counts the bytes numpy itself allocated, which numpy reports to
Python's tracemalloc; PyTorch's allocator does not, so it has no such figure.
"""
import gc
import json
import os
import sys
import tracemalloc

from .threads import apply_to_torch, limit_threads

N_SAMPLES = 20_000
SIZES = [784, 256, 64, 16]
BATCH_SIZE = 128
LR = 1e-3


def status_kib(key):
    with open("/proc/self/status", encoding="utf-8") as file:
        for line in file:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise KeyError(key)


def reset_peak():
    """Reset the peak resident set size (VmHWM) to the current one; False where unsupported."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="utf-8") as file:
            file.write("5")
        return True
    except OSError:
        return False


def epoch_function(model_name, framework, X, dtype="float64"):
    """Build the model (not measured) and return a function that trains it for one epoch."""
    import aelib

    if framework == "aelib":
        model = (aelib.Autoencoder(SIZES, seed=0, dtype=dtype) if model_name == "autoencoder"
                 else aelib.VAE(SIZES, seed=0, dtype=dtype))
        return lambda: model.fit(X, epochs=1, lr=LR, batch_size=BATCH_SIZE)

    import torch

    from . import peers

    X_torch = torch.from_numpy(X)
    if model_name == "autoencoder":
        model = aelib.Autoencoder(SIZES, seed=0, dtype=dtype)
        network, loss_fn = peers.torch_autoencoder(model)
        optimizer = peers.adam(network, LR)
        return lambda: peers.train_autoencoder(network, loss_fn, optimizer, X_torch, 1, BATCH_SIZE)
    vae = peers.TorchVAE(aelib.VAE(SIZES, seed=0, dtype=dtype))
    optimizer = peers.adam(vae, LR)
    return lambda: peers.train_vae(vae, optimizer, X_torch, 1, BATCH_SIZE)


def measure(model_name, framework, method, dtype="float64"):
    # The parent process passes its thread limits down in the environment.
    n_threads = limit_threads(int(os.environ.get("OMP_NUM_THREADS", 0)) or None)
    import numpy as np

    from .common import binary_images

    if framework == "torch":
        apply_to_torch(n_threads)
    X = binary_images(N_SAMPLES).astype(dtype)
    train_one_epoch = epoch_function(model_name, framework, X, dtype)
    gc.collect()
    result = {"model": model_name, "framework": framework, "method": method, "dtype": dtype,
              "data_mib": X.nbytes / 2**20}
    if method == "tracemalloc":
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        train_one_epoch()
        result["peak_mib"] = (tracemalloc.get_traced_memory()[1] - before) / 2**20
        tracemalloc.stop()
    else:
        result["reset_supported"] = reset_peak()
        before = status_kib("VmRSS")
        train_one_epoch()
        result["peak_mib"] = (status_kib("VmHWM") - before) / 1024
        result["rss_before_mib"] = before / 1024
    result["numpy"] = np.__version__
    return result


if __name__ == "__main__":
    print(json.dumps(measure(*sys.argv[1:5])))
