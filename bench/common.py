"""Timing, the machine's description and the data sets that the benchmarks share."""
import datetime
import gc
import os
import platform
import statistics
import sys
import time
from importlib import metadata

import numpy as np

import aelib

from .threads import OPENBLAS_VARIABLES, THREAD_VARIABLES


def timed(trainers, repeats, warmup=0):
    """Time several ways of training in alternation, so that a slow spell of the machine hits all alike.

    trainers: dict name -> function returning ``(seconds, result)``, where ``seconds`` covers
    only the training itself (building a model is never timed). Each round runs every trainer
    once; the first ``warmup`` rounds are not counted.
    Returns dict name -> ({"median", "min", "max", "runs"} in seconds, the last result).
    """
    seconds = {name: [] for name in trainers}
    results = {}
    for round_ in range(warmup + repeats):
        for name, train in trainers.items():
            gc.collect()
            elapsed, results[name] = train()
            if round_ >= warmup:
                seconds[name].append(elapsed)
    return {name: (summary(seconds[name]), results[name]) for name in trainers}


def summary(seconds):
    return {"median": statistics.median(seconds), "min": min(seconds), "max": max(seconds),
            "runs": [round(s, 6) for s in seconds]}


def stopwatch(function, *args, **kwargs):
    """(seconds, function(*args, **kwargs)), timed with the highest-resolution clock."""
    start = time.perf_counter()
    result = function(*args, **kwargs)
    return time.perf_counter() - start, result


def wrong_pixels(X_hat, X):
    """Pixels that are wrong once the reconstruction X_hat is thresholded at 0.5."""
    return int(np.sum((np.asarray(X_hat) > 0.5) != (X > 0.5)))


def binary_images(n_samples, seed=0):
    """(n_samples, 784) binary 28x28 images: font glyphs drawn 4x larger at a random place, 2% of pixels flipped.

    A stand-in for a data set like MNIST, which cannot be fetched here. The time of an epoch
    does not depend on what the images show, only on their number and size, but glyphs keep
    the losses meaningful.
    """
    X, _ = aelib.load_font()
    glyphs = np.kron(X.reshape(-1, 7, 5), np.ones((4, 4)))  # (27, 28, 20)
    rng = np.random.default_rng(seed)
    images = np.zeros((n_samples, 28, 28))
    which = rng.integers(0, len(glyphs), n_samples)
    shifts = rng.integers(0, 28 - 20 + 1, n_samples)
    for shift in range(28 - 20 + 1):
        chosen = shifts == shift
        images[chosen, :, shift:shift + 20] = glyphs[which[chosen]]
    flipped = rng.random(images.shape) < 0.02
    images[flipped] = 1.0 - images[flipped]
    return images.reshape(n_samples, 28 * 28)


def package_version(name):
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def cpu_model():
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as file:
            for line in file:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def memory_gib():
    try:
        return round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (ValueError, OSError, AttributeError):
        return None


def machine(n_threads):
    """What the results depend on: hardware, software versions, thread pools and BLAS settings."""
    from threadpoolctl import threadpool_info

    import torch

    pools = []
    for pool in threadpool_info():
        described = {key: pool.get(key) for key in ("user_api", "internal_api", "num_threads", "version",
                                                     "architecture", "threading_layer")}
        # Which package shipped the library: numpy's OpenBLAS is the one aelib uses.
        described["library"] = pool.get("filepath", "").split("site-packages/")[-1]
        pools.append(described)
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "memory_gib": memory_gib(),
        "os": platform.platform(),
        "python": sys.version.split()[0],
        "versions": {name: package_version(name) for name in ("aelib", "numpy", "torch", "scikit-learn",
                                                               "threadpoolctl")},
        "threads": n_threads,
        "torch_threads": torch.get_num_threads(),
        "torch_blas": "MKL" if torch.backends.mkl.is_available() else "other",
        "thread_pools": pools,
        "environment": {name: os.environ.get(name) for name in THREAD_VARIABLES + OPENBLAS_VARIABLES},
    }
