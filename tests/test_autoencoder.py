"""aelib.Autoencoder: construction, shapes, saving, the options of fit, and what training reaches.

What it must reach:
- the call of chapter 1, Autoencoder([35, 30, 20, 2], seed) trained with fit(X, epochs=3000,
  lr=3e-3), reconstructs every glyph without a wrong pixel for at least 4 of seeds 0-4, on our
  font and on other alphabets of distinct 5x7 glyphs, in at most a couple of seconds;
- a linear autoencoder reaches the reconstruction error of PCA (Baldi and Hornik, 1989).
"""

import numpy as np
import pytest

import aelib

SEEDS = range(5)
THRESHOLD = 0.5


def wrong_pixels(model, X):
    """The number of pixels of each glyph that the model gets wrong after thresholding at 0.5."""
    return ((model.reconstruct(X) > THRESHOLD) != (X > THRESHOLD)).sum(axis=1)


def train_chapter_model(X, seed):
    model = aelib.Autoencoder([35, 30, 20, 2], seed=seed)
    model.fit(X, epochs=3000, lr=3e-3)
    return model


@pytest.fixture(scope="module")
def font():
    return aelib.load_font()


# Other alphabets: a classic 5x7 uppercase font, and random glyphs.

UPPERCASE = """
A .###. #...# #...# #...# ##### #...# #...#
B ####. #...# #...# ####. #...# #...# ####.
C .###. #...# #.... #.... #.... #...# .###.
D ###.. #..#. #...# #...# #...# #..#. ###..
E ##### #.... #.... ####. #.... #.... #####
F ##### #.... #.... ####. #.... #.... #....
G .###. #...# #.... #.### #...# #...# .####
H #...# #...# #...# ##### #...# #...# #...#
I .###. ..#.. ..#.. ..#.. ..#.. ..#.. .###.
J ..### ...#. ...#. ...#. ...#. #..#. .##..
K #...# #..#. #.#.. ##... #.#.. #..#. #...#
L #.... #.... #.... #.... #.... #.... #####
M #...# ##.## #.#.# #.#.# #...# #...# #...#
N #...# #...# ##..# #.#.# #..## #...# #...#
O .###. #...# #...# #...# #...# #...# .###.
P ####. #...# #...# ####. #.... #.... #....
Q .###. #...# #...# #...# #.#.# #..#. .##.#
R ####. #...# #...# ####. #.#.. #..#. #...#
S .#### #.... #.... .###. ....# ....# ####.
T ##### ..#.. ..#.. ..#.. ..#.. ..#.. ..#..
U #...# #...# #...# #...# #...# #...# .###.
V #...# #...# #...# #...# #...# .#.#. ..#..
W #...# #...# #...# #.#.# #.#.# #.#.# .#.#.
X #...# #...# .#.#. ..#.. .#.#. #...# #...#
Y #...# #...# .#.#. ..#.. ..#.. ..#.. ..#..
Z ##### ....# ...#. ..#.. .#... #.... #####
"""


def uppercase_alphabet():
    """26 glyphs, one line each: the label, then the 7 rows of 5 pixels."""
    labels, glyphs = [], []
    for line in UPPERCASE.strip().splitlines():
        label, *rows = line.split()
        assert len(rows) == 7 and all(len(row) == 5 for row in rows), label
        labels.append(label)
        glyphs.append([1.0 if pixel == "#" else 0.0 for row in rows for pixel in row])
    return np.array(glyphs), labels


def random_alphabet(n_glyphs=27, density=0.35, seed=2024):
    """n_glyphs distinct random 5x7 glyphs, each pixel inked with probability ``density``
    (0.35 is the ink density of our font)."""
    rng = np.random.default_rng(seed)
    glyphs = {}
    while len(glyphs) < n_glyphs:
        glyph = (rng.random(35) < density).astype(np.float64)
        glyphs.setdefault(glyph.tobytes(), glyph)
    return np.array(list(glyphs.values()))


# Construction and shapes.

def test_decoder_mirrors_encoder():
    model = aelib.Autoencoder([35, 30, 20, 2], seed=0)
    assert model.encoder.sizes == [35, 30, 20, 2]
    assert model.decoder.sizes == [2, 20, 30, 35]
    assert model.encoder.activations == ["tanh", "tanh", "identity"]
    assert model.decoder.activations == ["tanh", "tanh", "sigmoid"]
    assert model.loss == "bce"
    assert (model.n_features, model.n_latent) == (35, 2)
    shapes = [param.shape for param in model.params]
    assert shapes == [(35, 30), (30,), (30, 20), (20,), (20, 2), (2,),
                      (2, 20), (20,), (20, 30), (30,), (30, 35), (35,)]
    assert len(model.grads) == len(model.params)


def test_linear_autoencoder_has_no_nonlinearity():
    lin = aelib.Autoencoder([64, 8], activation="identity", output_activation="identity", loss="mse", seed=0)
    assert lin.encoder.activations == ["identity"] and lin.decoder.activations == ["identity"]
    assert lin.encoder.sizes == [64, 8] and lin.decoder.sizes == [8, 64]


def test_shapes_of_encode_decode_reconstruct(font):
    X, _ = font
    model = aelib.Autoencoder([35, 30, 20, 2], seed=0)
    Z = model.encode(X)
    X_hat = model.decode(Z)
    assert Z.shape == (27, 2) and X_hat.shape == (27, 35)
    np.testing.assert_allclose(model.reconstruct(X), X_hat)
    assert np.all((X_hat > 0) & (X_hat < 1)), "a sigmoid output gives probabilities"
    assert model.encode(X[:1]).shape == (1, 2)


def test_encode_computes_the_layers_of_the_chapter(font):
    # Z = f(X) with A = H W + b and tanh on the hidden layers, a linear code layer.
    X, _ = font
    model = aelib.Autoencoder([35, 30, 20, 2], seed=3)
    W1, b1, W2, b2, W3, b3 = model.encoder.params
    Z = np.tanh(np.tanh(X @ W1 + b1) @ W2 + b2) @ W3 + b3
    np.testing.assert_allclose(model.encode(X), Z)


def test_same_seed_same_weights_different_seed_different_weights():
    first, again, other = (aelib.Autoencoder([35, 30, 20, 2], seed=seed) for seed in (0, 0, 1))
    assert all(np.array_equal(a, b) for a, b in zip(first.params, again.params))
    assert not np.array_equal(first.params[0], other.params[0])


@pytest.mark.parametrize("kwargs, message", [
    ({"output_activation": "identity"}, "output_activation"),
    ({"loss": "l1"}, "loss"),
    ({"activation": "swish"}, "swish"),
])
def test_invalid_configurations_name_the_argument(kwargs, message):
    with pytest.raises(ValueError, match=message):
        aelib.Autoencoder([35, 30, 2], **kwargs)


def test_wrong_data_is_rejected_with_the_argument_name(font):
    X, _ = font
    model = aelib.Autoencoder([35, 30, 20, 2], seed=0)
    with pytest.raises(ValueError, match="35 features"):
        model.fit(X[:, :30], epochs=1, lr=1e-3)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        model.fit(2 * X, epochs=1, lr=1e-3)
    with pytest.raises(ValueError, match="Z must have 2 features"):
        model.decode(np.zeros((3, 5)))


# Saving and loading.

@pytest.mark.parametrize("kwargs", [
    {},
    {"activation": "identity", "output_activation": "identity", "loss": "mse"},
    {"activation": "relu", "latent_activation": "tanh"},
])
def test_save_and_load_give_the_same_model(tmp_path, font, kwargs):
    X, _ = font
    model = aelib.Autoencoder([35, 16, 3], seed=7, **kwargs)
    model.fit(X, epochs=20, lr=1e-3)
    path = tmp_path / "model.npz"
    model.save(path)
    loaded = aelib.Autoencoder.load(path)
    assert loaded.config == model.config
    assert loaded.encoder.activations == model.encoder.activations
    assert loaded.decoder.activations == model.decoder.activations
    for saved, restored in zip(model.params, loaded.params):
        np.testing.assert_array_equal(saved, restored)
    np.testing.assert_array_equal(loaded.reconstruct(X), model.reconstruct(X))


def test_save_and_load_with_a_string_path(tmp_path, font, monkeypatch):
    # The call of the issue, ae.save("model.npz"), with a plain file name.
    X, _ = font
    monkeypatch.chdir(tmp_path)
    model = aelib.Autoencoder([35, 30, 20, 2], seed=0)
    model.save("model.npz")
    np.testing.assert_array_equal(aelib.Autoencoder.load("model.npz").encode(X), model.encode(X))


def test_loading_something_else_names_the_file(tmp_path):
    path = tmp_path / "notes.npz"
    path.write_text("not a model")
    with pytest.raises(ValueError, match="notes.npz"):
        aelib.Autoencoder.load(path)


# The options of fit.

def test_fit_returns_one_loss_per_epoch(font):
    X, _ = font
    model = aelib.Autoencoder([35, 30, 20, 2], seed=0)
    history = model.fit(X, epochs=40, lr=3e-3)
    assert isinstance(history, list) and len(history) == 40
    assert all(isinstance(loss, float) for loss in history)
    assert history[-1] < history[0]
    # The first entry is the loss of the untrained model (it is measured before the first step).
    untrained = aelib.Autoencoder([35, 30, 20, 2], seed=0)
    assert history[0] == pytest.approx(untrained.loss_and_grads(X)[0])


def test_training_is_reproducible_from_the_seed(font):
    X, _ = font
    histories = []
    for seed in (0, 0, 1):
        model = aelib.Autoencoder([35, 30, 20, 2], seed=seed)
        histories.append(model.fit(X, epochs=10, lr=1e-3, batch_size=8))
    assert histories[0] == histories[1]
    assert histories[0] != histories[2]


def record_batches(batches):
    """A noise function that corrupts nothing and remembers every batch it is given."""
    def noise(X_batch, rng):
        batches.append(X_batch.copy())
        return X_batch
    return noise


def test_minibatches_cover_the_data_and_are_reshuffled_every_epoch():
    n_samples, batch_size = 300, 128
    # Distinct rows (each holds its own index), so batches can be traced back to samples.
    X = np.linspace(0.0, 1.0, n_samples)[:, None] * np.ones((1, 4))
    batches = []
    model = aelib.Autoencoder([4, 2], seed=0)
    history = model.fit(X, epochs=5, lr=1e-3, batch_size=batch_size, noise=record_batches(batches))
    assert len(history) == 5
    assert [len(batch) for batch in batches] == [128, 128, 44] * 5
    orders = []
    for epoch in range(5):
        rows = np.concatenate(batches[3 * epoch:3 * epoch + 3])[:, 0]
        np.testing.assert_array_equal(np.sort(rows), X[:, 0])  # every sample exactly once
        orders.append(rows)
    assert not any(np.array_equal(orders[0], order) for order in orders[1:]), "not reshuffled"
    assert not np.array_equal(orders[0], X[:, 0]), "not shuffled at all"

    again = []
    aelib.Autoencoder([4, 2], seed=0).fit(X, epochs=5, lr=1e-3, batch_size=batch_size,
                                          noise=record_batches(again))
    assert all(np.array_equal(a, b) for a, b in zip(batches, again)), "the shuffle must follow the seed"


def test_full_batch_sees_the_data_in_order(font):
    X, _ = font
    batches = []
    aelib.Autoencoder([35, 30, 20, 2], seed=0).fit(X, epochs=3, lr=1e-3, noise=record_batches(batches))
    assert len(batches) == 3
    assert all(np.array_equal(batch, X) for batch in batches)


def test_minibatch_history_is_the_mean_loss_over_the_epoch():
    # With lr tiny the weights barely move, so the epoch's loss is the loss of all samples.
    rng = np.random.default_rng(0)
    X = rng.random((50, 6))
    model = aelib.Autoencoder([6, 3], seed=0)
    loss_before = model.loss_and_grads(X)[0]
    history = model.fit(X, epochs=1, lr=1e-12, batch_size=16, optimizer="sgd")
    assert history[0] == pytest.approx(loss_before, rel=1e-9)


def test_sgd_by_name_is_plain_sgd(font):
    X, _ = font
    by_name = aelib.Autoencoder([35, 30, 20, 2], seed=0)
    by_object = aelib.Autoencoder([35, 30, 20, 2], seed=0)
    history_name = by_name.fit(X, epochs=10, lr=0.1, optimizer="sgd")
    history_object = by_object.fit(X, epochs=10, lr=0.1, optimizer=aelib.SGD(0.1))
    assert history_name == history_object
    assert history_name[-1] < history_name[0]


def test_sgd_takes_the_gradient_step(font):
    X, _ = font
    model = aelib.Autoencoder([35, 30, 20, 2], seed=0)
    _, grads = model.loss_and_grads(X)
    expected = [param - 0.1 * grad for param, grad in zip(model.params, grads)]
    model.fit(X, epochs=1, lr=0.1, optimizer="sgd")
    for param, value in zip(model.params, expected):
        np.testing.assert_allclose(param, value)


def test_adam_is_the_default(font):
    X, _ = font
    default = aelib.Autoencoder([35, 30, 20, 2], seed=0).fit(X, epochs=10, lr=3e-3)
    adam = aelib.Autoencoder([35, 30, 20, 2], seed=0).fit(X, epochs=10, lr=3e-3, optimizer=aelib.Adam(3e-3))
    by_name = aelib.Autoencoder([35, 30, 20, 2], seed=0).fit(X, epochs=10, lr=3e-3, optimizer="adam")
    assert default == adam == by_name


def test_an_optimizer_object_does_every_update(font):
    X, _ = font

    class HalfSGD:
        """Plain SGD at half the step, counting its steps."""

        def __init__(self):
            self.steps = 0

        def step(self, params, grads):
            self.steps += 1
            for param, grad in zip(params, grads):
                param -= 0.05 * grad

    optimizer = HalfSGD()
    model = aelib.Autoencoder([35, 30, 20, 2], seed=0)
    history = model.fit(X, epochs=6, batch_size=10, optimizer=optimizer)  # it has its own step size
    assert optimizer.steps == 6 * 3  # 27 samples in batches of 10, 10 and 7
    reference = aelib.Autoencoder([35, 30, 20, 2], seed=0)
    assert history == reference.fit(X, epochs=6, batch_size=10, optimizer=aelib.SGD(0.05))
    np.testing.assert_array_equal(model.encode(X), reference.encode(X))


@pytest.mark.parametrize("optimizer, error", [("adagrad", ValueError), (42, TypeError)])
def test_unknown_optimizer_is_rejected(font, optimizer, error):
    X, _ = font
    with pytest.raises(error, match="optimizer"):
        aelib.Autoencoder([35, 30, 20, 2], seed=0).fit(X, epochs=1, lr=0.1, optimizer=optimizer)


def test_noise_is_drawn_afresh_for_every_batch_from_the_models_generator(font):
    X, _ = font
    calls = []

    def noise(X_batch, rng):
        calls.append((X_batch.copy(), rng))
        return aelib.salt_and_pepper(X_batch, p=0.2, rng=rng)

    model = aelib.Autoencoder([35, 30, 20, 2], seed=0)
    model.fit(X, epochs=4, lr=1e-3, batch_size=9, noise=noise)
    assert len(calls) == 4 * 3
    assert all(isinstance(rng, np.random.Generator) for _, rng in calls)
    assert all(rng is calls[0][1] for _, rng in calls), "one generator, the model's, for all batches"
    # The noise function gets the clean batch: rows of X, never an earlier corruption.
    rows = {row.tobytes() for row in X}
    assert all(row.tobytes() in rows for batch, _ in calls for row in batch)

    corrupted = []
    model = aelib.Autoencoder([35, 30, 20, 2], seed=0)
    model.fit(X, epochs=2, lr=1e-3, noise=lambda X_batch, rng: corrupted.append(
        aelib.salt_and_pepper(X_batch, p=0.2, rng=rng)) or corrupted[-1])
    assert not np.array_equal(corrupted[0], corrupted[1]), "the same noise in two epochs"


def test_the_target_is_the_clean_batch(font):
    # Invert every input: the loss of the first epoch must be the loss of reconstructing X
    # from its inversion, not of reconstructing the inversion.
    X, _ = font
    inverted = 1.0 - X
    model = aelib.Autoencoder([35, 30, 20, 2], seed=0)
    history = model.fit(X, epochs=1, lr=1e-3, noise=lambda X_batch, rng: 1.0 - X_batch)
    untrained = aelib.Autoencoder([35, 30, 20, 2], seed=0)
    clean_target = untrained.loss_and_grads(inverted, X_target=X)[0]
    noisy_target = untrained.loss_and_grads(inverted)[0]
    assert history[0] == pytest.approx(clean_target, rel=1e-12)
    assert history[0] != pytest.approx(noisy_target, rel=1e-6)


def test_noise_must_be_a_function(font):
    X, _ = font
    with pytest.raises(TypeError, match="noise"):
        aelib.Autoencoder([35, 30, 20, 2], seed=0).fit(X, epochs=1, lr=1e-3, noise=0.1)


def test_progress_bar_shows_epoch_and_loss_only_when_asked(font, capsys):
    X, _ = font
    model = aelib.Autoencoder([35, 30, 20, 2], seed=0)
    model.fit(X, epochs=5, lr=1e-3)
    assert capsys.readouterr().out == ""
    history = model.fit(X, epochs=5, lr=1e-3, progress=True)
    out = capsys.readouterr().out
    assert "epoch 5/5" in out and f"loss {history[-1]:.4f}" in out
    assert out.endswith("\n")


# What training reaches.

@pytest.mark.training
def test_the_chapter_model_reconstructs_our_font_without_a_wrong_pixel(font):
    X, labels = font
    results = {}
    for seed in SEEDS:
        wrong = wrong_pixels(train_chapter_model(X, seed), X)
        results[seed] = {labels[i]: int(wrong[i]) for i in np.flatnonzero(wrong)}
    perfect = [seed for seed, misses in results.items() if not misses]
    assert len(perfect) >= 4, f"wrong pixels per seed (letter: count): {results}"


@pytest.mark.training
@pytest.mark.parametrize("alphabet", ["uppercase", "random"])
def test_the_chapter_model_is_not_tuned_to_our_font(alphabet):
    X = uppercase_alphabet()[0] if alphabet == "uppercase" else random_alphabet()
    assert len({row.tobytes() for row in X}) == len(X), "the glyphs must be distinct"
    wrong = {seed: int(wrong_pixels(train_chapter_model(X, seed), X).sum()) for seed in SEEDS}
    perfect = [seed for seed, count in wrong.items() if count == 0]
    assert len(perfect) >= 4, f"{alphabet} alphabet: wrong pixels per seed {wrong}"


TINY_FONT = """
; four glyphs, drawn in the format of data/font5x7.txt
label: I
.###.
..#..
..#..
..#..
..#..
..#..
.###.

label: L
#....
#....
#....
#....
#....
#....
#####

label: O
.###.
#...#
#...#
#...#
#...#
#...#
.###.

label: T
#####
..#..
..#..
..#..
..#..
..#..
..#..
"""


def test_end_to_end_a_tiny_alphabet_from_file_to_perfect_reconstruction(tmp_path):
    path = tmp_path / "tiny.txt"
    path.write_text(TINY_FONT, encoding="utf-8")
    X, labels = aelib.load_glyphs(path, (7, 5))
    assert labels == ["I", "L", "O", "T"]
    model = aelib.Autoencoder([35, 8, 2], seed=0)
    history = model.fit(X, epochs=500, lr=1e-2)
    assert history[-1] < 0.05
    assert wrong_pixels(model, X).tolist() == [0, 0, 0, 0]
    model.save(tmp_path / "tiny.npz")
    assert wrong_pixels(aelib.Autoencoder.load(tmp_path / "tiny.npz"), X).tolist() == [0, 0, 0, 0]


# A linear autoencoder finds PCA's subspace (Baldi and Hornik, 1989).

# Each digit as strokes (polylines) on the unit square, y pointing down.
DIGIT_STROKES = {
    0: [[(0.5, 0.1), (0.8, 0.3), (0.8, 0.7), (0.5, 0.9), (0.2, 0.7), (0.2, 0.3), (0.5, 0.1)]],
    1: [[(0.35, 0.25), (0.55, 0.1), (0.55, 0.9)]],
    2: [[(0.2, 0.3), (0.4, 0.1), (0.7, 0.15), (0.75, 0.4), (0.2, 0.9), (0.8, 0.9)]],
    3: [[(0.2, 0.15), (0.75, 0.15), (0.45, 0.45), (0.75, 0.65), (0.6, 0.9), (0.2, 0.85)]],
    4: [[(0.65, 0.9), (0.65, 0.1), (0.15, 0.65), (0.85, 0.65)]],
    5: [[(0.8, 0.1), (0.25, 0.1), (0.2, 0.45), (0.65, 0.45), (0.75, 0.7), (0.55, 0.9), (0.2, 0.85)]],
    6: [[(0.7, 0.1), (0.3, 0.4), (0.2, 0.75), (0.5, 0.9), (0.75, 0.7), (0.5, 0.5), (0.25, 0.6)]],
    7: [[(0.2, 0.1), (0.8, 0.1), (0.4, 0.9)], [(0.35, 0.5), (0.7, 0.5)]],
    8: [[(0.5, 0.5), (0.25, 0.3), (0.5, 0.1), (0.75, 0.3), (0.5, 0.5), (0.2, 0.7), (0.5, 0.9),
         (0.8, 0.7), (0.5, 0.5)]],
    9: [[(0.75, 0.4), (0.5, 0.5), (0.25, 0.3), (0.5, 0.1), (0.75, 0.3), (0.7, 0.9)]],
}


def stroke_digits(n_samples=500, seed=0, side=8, supersample=4):
    """Handwriting-like 8x8 digits in [0, 1]: D (n_samples, 64) and the digit of each row.

    Each digit's strokes are randomly rotated, sheared, scaled, shifted and jittered, drawn with
    a random pen width on a 32x32 canvas, averaged down to 8x8 (as scikit-learn's digits were
    made from 32x32 bitmaps) and given a little Gaussian noise.
    """
    rng = np.random.default_rng(seed)
    fine = side * supersample
    points = (np.stack(np.meshgrid(np.arange(fine), np.arange(fine)), axis=-1).reshape(-1, 2) + 0.5) / fine
    digits = rng.integers(0, 10, n_samples)
    D = np.empty((n_samples, side * side))
    for i, digit in enumerate(digits):
        angle, shear = rng.uniform(-0.25, 0.25), rng.uniform(-0.2, 0.2)
        rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
        transform = rotation @ np.array([[1.0, shear], [0.0, 1.0]]) @ np.diag(rng.uniform(0.8, 1.05, 2))
        shift = rng.uniform(-0.08, 0.08, 2)
        pen_width = rng.uniform(0.05, 0.09)
        distance = np.full(len(points), np.inf)
        for stroke in DIGIT_STROKES[digit]:
            corners = (np.array(stroke) - 0.5) @ transform.T + 0.5 + shift
            corners += rng.normal(0.0, 0.02, corners.shape)
            for start, end in zip(corners[:-1], corners[1:]):
                along = np.clip((points - start) @ (end - start) / np.sum((end - start) ** 2), 0.0, 1.0)
                nearest = start + along[:, None] * (end - start)
                distance = np.minimum(distance, np.linalg.norm(points - nearest, axis=1))
        ink = (distance < pen_width).astype(np.float64)
        D[i] = ink.reshape(side, supersample, side, supersample).mean(axis=(1, 3)).ravel()
    return np.clip(D + rng.normal(0.0, 0.03, D.shape), 0.0, 1.0), digits


def pca_mse(D, k):
    """The mean squared error of reconstructing D from its first k principal components."""
    mean = D.mean(axis=0)
    _, _, Vt = np.linalg.svd(D - mean, full_matrices=False)
    V = Vt[:k].T
    return float(np.mean(((D - mean) @ V @ V.T + mean - D) ** 2))


def assert_linear_autoencoder_matches_pca(D):
    lin = aelib.Autoencoder([64, 8], activation="identity", output_activation="identity", loss="mse", seed=0)
    lin.fit(D, epochs=3000, lr=1e-2)
    lin_mse = float(np.mean((lin.reconstruct(D) - D) ** 2))
    best = pca_mse(D, 8)
    # PCA is the best rank-8 affine reconstruction, so the autoencoder can only tie it.
    assert lin_mse >= best * (1 - 1e-9), (lin_mse, best)
    assert lin_mse <= 1.01 * best, f"linear autoencoder MSE {lin_mse:.6f}, PCA-8 MSE {best:.6f}"


@pytest.fixture(scope="module")
def digits():
    return stroke_digits()


def test_stroke_digits_look_like_data(digits):
    D, labels = digits
    assert D.shape == (500, 64) and D.min() >= 0.0 and D.max() <= 1.0
    assert set(labels.tolist()) == set(range(10))
    # Structured, not noise: 8 of 64 components keep well over a third of the variance, and
    # far from all of it, so that the linear autoencoder has a real choice to make.
    singular_values = np.linalg.svd(D - D.mean(axis=0), compute_uv=False)
    kept = np.sum(singular_values[:8] ** 2) / np.sum(singular_values ** 2)
    assert 0.4 < kept < 0.9


def test_linear_autoencoder_reaches_pca_on_stroke_digits(digits):
    D, _ = digits
    assert_linear_autoencoder_matches_pca(D)


def test_linear_autoencoder_reaches_pca_on_scikit_learn_digits():
    datasets = pytest.importorskip("sklearn.datasets", reason="scikit-learn is an optional test dependency")
    D = datasets.load_digits().data / 16.0  # 1797 scanned handwritten digits, 8x8, values 0..16
    assert_linear_autoencoder_matches_pca(D)


# The figure of the chapter that shows reconstructions (aelib.plots.plot_reconstructions).

def test_plot_reconstructions_titles_each_pair_with_its_wrong_pixels(font):
    import matplotlib.pyplot as plt

    X, labels = font
    X_hat = X.copy()
    X_hat[1, :3] = 1.0 - X_hat[1, :3]   # three wrong pixels in "b"
    X_hat[4, 0] = 0.5 if X[4, 0] else 0.2   # "e": exactly 0.5 is blank, so wrong only on ink
    fig = aelib.plots.plot_reconstructions(X, X_hat, labels, title="t")
    texts = [text.get_text() for text in fig.axes[0].texts]
    expected_e = 1 if X[4, 0] else 0
    assert texts[:5] == ["a: 0", "b: 3", "c: 0", "d: 0", f"e: {expected_e}"]
    assert len(texts) == 27 and len(fig.axes) == 1
    assert fig.get_size_inches()[0] <= 7.0, "readable at book width"
    plt.close(fig)
    with pytest.raises(ValueError, match="same shape"):
        aelib.plots.plot_reconstructions(X, X_hat[:, :30])
