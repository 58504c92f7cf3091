"""Benchmark 3: how the time of an epoch grows with the data and with the network.

Two sweeps of the benchmark-2 setup (binary 28x28 images, minibatches of 128, Adam, in float64
and in float32, PyTorch in the same dtype):
the number of samples from 1,000 to 60,000 with the [784, 256, 64, 16] network, and the width
of the network, [784, w, w/4, 16] for w from 16 to 2048, on 5,000 samples. With the batch size
fixed, the number of steps grows with the data, so time per epoch should be linear in it. Along
the width axis the time stays flat while per-step overhead dominates, and grows like the number
of weights (w^2 for the middle layer) once the matrix products (BLAS) take over.
"""
from .common import binary_images, timed
from .scale import epoch_timer

SAMPLES = [1_000, 2_000, 5_000, 10_000, 20_000, 60_000]
SAMPLES_SIZES = [784, 256, 64, 16]
WIDTHS = [16, 32, 64, 128, 256, 512, 1024, 2048]
WIDTH_SAMPLES = 5_000


def width_sizes(width):
    return [784, width, max(width // 4, 2), 16]


def n_params(sizes):
    """Weights and biases of an autoencoder with these encoder sizes (the decoder mirrors it)."""
    return 2 * sum(fan_in * fan_out + fan_out for fan_in, fan_out in zip(sizes[:-1], sizes[1:]))


def sweep(points, data_and_sizes, repeats):
    rows = []
    for point in points:
        X, sizes = data_and_sizes(point)
        row = {"x": point, "n_samples": X.shape[0], "sizes": sizes, "n_params": n_params(sizes)}
        for dtype in ("float64", "float32"):
            trainers = {framework: epoch_timer(framework, X, sizes, dtype=dtype) for framework in ("aelib", "torch")}
            for framework, (time, _) in timed(trainers, repeats).items():
                row[framework if dtype == "float64" else f"{framework}_float32"] = time["median"]
        rows.append(row)
    return rows


def run(quick=False):
    samples = SAMPLES[:3] if quick else SAMPLES
    widths = WIDTHS[:4] if quick else WIDTHS
    repeats = 1 if quick else 3
    X_all = binary_images(max(samples + [WIDTH_SAMPLES]))
    # One untimed epoch per framework, so that the first point does not pay for warming up.
    for framework in ("aelib", "torch"):
        epoch_timer(framework, X_all[:1000], SAMPLES_SIZES)()
    return {
        "config": {"batch_size": 128, "optimizer": "Adam", "dtypes": ["float64", "float32"], "repeats": repeats,
                   "samples_sizes": SAMPLES_SIZES, "width_samples": WIDTH_SAMPLES,
                   "width_sizes": "[784, w, w/4, 16]"},
        "samples": sweep(samples, lambda n: (X_all[:n], SAMPLES_SIZES), repeats),
        "width": sweep(widths, lambda w: (X_all[:WIDTH_SAMPLES], width_sizes(w)), repeats),
        "notes": ["Median of the repeats per point; each epoch starts from a fresh model."],
    }
