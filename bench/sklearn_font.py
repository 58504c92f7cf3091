"""Benchmark 4: scikit-learn's MLPRegressor trained as an autoencoder on the font.

MLPRegressor has one activation for all hidden layers and an identity output trained on the
squared error, so the matching aelib model is Autoencoder([35, 30, 20, 2], activation="tanh",
latent_activation="tanh", output_activation="identity", loss="mse"): hidden layers
(30, 20, 2, 20, 30) with tanh, code included. Both train with full-batch Adam (lr 3e-3) for
2000 epochs in float64, from the same initial weights (aelib's, copied into scikit-learn).
"""
import warnings

from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPRegressor

import aelib

from .common import stopwatch, timed, wrong_pixels

SIZES = [35, 30, 20, 2]
LR = 3e-3


def aelib_model(seed):
    return aelib.Autoencoder(SIZES, activation="tanh", latent_activation="tanh", output_activation="identity",
                             loss="mse", seed=seed)


def sklearn_model(X, seed, epochs):
    """An MLPRegressor with the aelib model's initial weights, ready for ``fit(X, X)``.

    scikit-learn draws its own weights inside ``fit``; one throw-away iteration creates them,
    they are overwritten with aelib's, and ``warm_start`` keeps them for the timed ``fit``
    (which starts a fresh Adam).
    """
    hidden = tuple(SIZES[1:] + SIZES[-2:0:-1])
    regressor = MLPRegressor(hidden_layer_sizes=hidden, activation="tanh", solver="adam",
                             learning_rate_init=LR, batch_size=X.shape[0], shuffle=False, alpha=0.0,
                             max_iter=1, tol=0.0, n_iter_no_change=epochs + 1, warm_start=True,
                             random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        regressor.fit(X, X)
    model = aelib_model(seed)
    regressor.coefs_ = [W.copy() for W in model.params[0::2]]
    regressor.intercepts_ = [b.copy() for b in model.params[1::2]]
    regressor.max_iter = epochs
    return regressor


def run(quick=False):
    X, _ = aelib.load_font()
    epochs = 300 if quick else 2000
    seeds = [0, 1] if quick else [0, 1, 2, 3, 4]
    repeats = 2 if quick else 3

    def train_aelib(seed):
        model = aelib_model(seed)
        seconds, history = stopwatch(model.fit, X, epochs=epochs, lr=LR)
        return seconds, (history[-1], wrong_pixels(model.reconstruct(X), X))

    def train_sklearn(seed):
        regressor = sklearn_model(X, seed, epochs)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            seconds, _ = stopwatch(regressor.fit, X, X)
        # scikit-learn reports half the mean squared error; aelib the mean squared error.
        return seconds, (2 * regressor.loss_curve_[-1], wrong_pixels(regressor.predict(X), X))

    runs = []
    for seed in seeds:
        row = {"seed": seed}
        trainers = {"aelib": lambda: train_aelib(seed), "sklearn": lambda: train_sklearn(seed)}
        for name, (time, (loss, wrong)) in timed(trainers, repeats, warmup=1 if seed == seeds[0] else 0).items():
            row[name] = {"time": time, "final_loss": loss, "wrong_pixels": wrong}
        runs.append(row)

    def total(name):
        return sum(row[name]["time"]["median"] for row in runs)

    return {
        "config": {"sizes": SIZES, "hidden_layer_sizes": SIZES[1:] + SIZES[-2:0:-1], "activation": "tanh",
                   "output": "identity", "loss": "mse", "epochs": epochs, "lr": LR, "batch": "full (27 glyphs)",
                   "optimizer": "Adam", "dtype": "float64", "seeds": seeds, "repeats": repeats},
        "runs": runs,
        "seconds_per_epoch": {name: total(name) / (len(seeds) * epochs) for name in ("aelib", "sklearn")},
        "ratio": total("aelib") / total("sklearn"),
        "all_zero_wrong": {name: all(row[name]["wrong_pixels"] == 0 for row in runs) for name in ("aelib", "sklearn")},
        "notes": [
            "scikit-learn uses one activation for every hidden layer, so the 2-unit code is tanh here "
            "(linear in benchmark 1), and the output is linear with the squared error instead of a "
            "sigmoid with cross-entropy.",
            "Its gradient is that of half the squared error summed over the 35 pixels, 17.5 times "
            "aelib's mean squared error; Adam's steps do not depend on that scale (up to eps).",
            "alpha=0 (no weight decay), tol=0 and n_iter_no_change above max_iter so that all "
            "epochs run, shuffle=False (one full batch); scikit-learn's fit also validates its input "
            "and checks the weights for NaN at the end, both inside the timed call.",
        ],
    }
