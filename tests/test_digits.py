"""The handwritten digits, their loader, and the measuring tools of chapter 4: the stratified
split, k nearest neighbours, ROC curves and AUC, PCA and the blur baselines."""
import hashlib

import numpy as np
import pytest

import aelib
from aelib.baselines import PCA, gaussian_blur, median_filter
from aelib.data import dataset_path, load_digits
from aelib.evaluation import (knn_predict, knn_votes, nearest_neighbors, rank_average, roc_auc, roc_curve,
                              squared_distances, train_test_split)

# The 1,797 digits' grey levels (0-16, as bytes) and labels, in file order.
DIGITS_SHA256 = "87ff0c9e40dc7e2c0e34e7257799c2e3f3aec1a016363bb11cad869ec428a826"


@pytest.fixture(scope="module")
def digits():
    return load_digits()


def test_load_digits_returns_the_1797_digits(digits):
    X, y = digits
    assert X.shape == (1797, 64) and X.dtype == np.float64
    assert y.shape == (1797,) and y.dtype.kind == "i"
    assert X.min() == 0.0 and X.max() == 1.0
    assert np.array_equal(np.bincount(y), [178, 182, 177, 183, 181, 182, 181, 179, 174, 180])
    levels = np.round(X * 16).astype(np.uint8)
    assert np.array_equal(levels / 16, X)
    assert hashlib.sha256(levels.tobytes() + y.astype(np.uint8).tobytes()).hexdigest() == DIGITS_SHA256
    # The first digit of the set is a 0, read row by row from the top.
    assert y[0] == 0 and np.array_equal(levels[0, :8], [0, 0, 5, 13, 9, 1, 0, 0])


def test_load_digits_matches_scikit_learn_when_installed(digits):
    datasets = pytest.importorskip("sklearn.datasets")
    reference = datasets.load_digits()
    assert np.array_equal(digits[0], reference.data / 16)
    assert np.array_equal(digits[1], reference.target)


def test_digits_file_names_its_licence():
    header = dataset_path("digits8x8.txt").read_text(encoding="utf-8")[:2000]
    assert "Alpaydin" in header and "Kaynak" in header and "CC BY 4.0" in header


def write(tmp_path, text):
    path = tmp_path / "digits.txt"
    path.write_text(text, encoding="utf-8")
    return path


GOOD_DIGIT = "label: 7\n" + "\n".join(" ".join(["16"] * 4 + ["0"] * 4) for _ in range(8)) + "\n"


def test_load_digits_reads_a_small_file(tmp_path):
    X, y = load_digits(write(tmp_path, "; comment\n" + GOOD_DIGIT + "\n" + GOOD_DIGIT.replace("7", "3", 1)))
    assert X.shape == (2, 64) and y.tolist() == [7, 3]
    assert X[0, :8].tolist() == [1.0] * 4 + [0.0] * 4


@pytest.mark.parametrize("text, message", [
    (GOOD_DIGIT.replace("label: 7", "label: 12"), "line 1: label must be one digit"),
    (GOOD_DIGIT.replace("label: 7", "label: x"), "line 1: label must be one digit"),
    (GOOD_DIGIT.replace("16", "17", 1), "line 2: a row must be 8 grey levels 0-16"),
    (GOOD_DIGIT.replace("16 16", "16", 1), "line 2: a row must be 8 grey levels"),
    (GOOD_DIGIT.replace("16", "-1", 1), "line 2: a row must be 8 grey levels"),
    (GOOD_DIGIT.rsplit("\n", 2)[0] + "\n", "digit at line 1 has 7 rows, expected 8"),
    (GOOD_DIGIT + "0 0 0 0 0 0 0 0\n", "line 10: digit at line 1 has more than 8 rows"),
    ("0 0 0 0 0 0 0 0\n" + GOOD_DIGIT, "line 1: pixel row before any 'label:' line"),
    ("; nothing\n", "no digits found"),
])
def test_load_digits_names_the_file_and_line_of_a_mistake(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(ValueError, match=message) as error:
        load_digits(path)
    assert str(path) in str(error.value)


# The stratified split.

def test_train_test_split_is_stratified_seeded_and_disjoint(digits):
    X, y = digits
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_fraction=0.25, rng=0)
    assert len(X_train) + len(X_test) == len(X) and len(y_test) == len(X_test)
    counts = np.bincount(y)
    assert np.array_equal(np.bincount(y_test), np.round(0.25 * counts).astype(int))
    assert np.array_equal(np.bincount(y_train) + np.bincount(y_test), counts)
    # Every digit lands in exactly one part, and the same seed gives the same split.
    rows = {row.tobytes() for row in X}
    assert len({row.tobytes() for row in X_train} | {row.tobytes() for row in X_test}) == len(rows)
    again = train_test_split(X, y, test_fraction=0.25, rng=0)
    assert np.array_equal(again[1], X_test)
    assert not np.array_equal(train_test_split(X, y, test_fraction=0.25, rng=1)[1], X_test)


def test_train_test_split_rejects_bad_arguments():
    with pytest.raises(ValueError, match="test_fraction"):
        train_test_split(np.zeros((4, 2)), [0, 0, 1, 1], test_fraction=1.0)
    with pytest.raises(ValueError, match="y must have shape"):
        train_test_split(np.zeros((4, 2)), [0, 1, 1])


# Nearest neighbours.

def test_squared_distances_match_the_definition():
    rng = np.random.default_rng(0)
    A, B = rng.random((70, 5)), rng.random((9, 5))
    expected = np.array([[np.sum((a - b) ** 2) for b in B] for a in A])
    assert np.allclose(squared_distances(A, B), expected, rtol=0, atol=1e-12)


def test_nearest_neighbors_sorted_and_ties_keep_reference_order():
    reference = np.array([[0.0], [2.0], [1.0], [-1.0], [5.0]])
    indices, distances = nearest_neighbors(reference, np.array([[0.0], [4.0]]), k=3)
    assert indices.tolist() == [[0, 2, 3], [4, 1, 2]]
    assert np.allclose(distances, [[0, 1, 1], [1, 2, 3]])
    with pytest.raises(ValueError, match="k must be at most"):
        nearest_neighbors(reference, reference, k=6)


def test_knn_votes_majority_and_tie_to_the_nearest():
    X_train = np.array([[0.0], [1.0], [2.0], [3.0], [10.0]])
    y_train = np.array([5, 5, 7, 7, 9])
    labels, agreement = knn_votes(X_train, y_train, np.array([[0.4], [2.6], [1.6]]), k=3)
    assert labels.tolist() == [5, 7, 7]
    assert np.allclose(agreement, [2 / 3, 2 / 3, 2 / 3])
    # k = 2 at 1.6: one 5 (distance 0.6) and one 7 (distance 0.4): the tie goes to the nearer 7.
    assert knn_predict(X_train, y_train, np.array([[1.6], [1.4]]), k=2).tolist() == [7, 5]


def test_knn_on_raw_digits_is_accurate(digits):
    X_train, X_test, y_train, y_test = train_test_split(*digits, rng=0)
    assert np.mean(knn_predict(X_train, y_train, X_test, k=5) == y_test) > 0.97


# ROC and AUC.

def auc_by_pairs(scores, is_positive):
    positive, negative = scores[is_positive], scores[~is_positive]
    difference = positive[:, None] - negative[None, :]
    return np.mean((difference > 0) + 0.5 * (difference == 0))


def test_rank_average_shares_ranks_among_ties():
    assert rank_average([3.0, 1.0, 3.0, 2.0, 3.0]).tolist() == [4.0, 1.0, 4.0, 2.0, 4.0]


@pytest.mark.parametrize("seed", range(5))
def test_roc_auc_is_the_probability_a_positive_outscores_a_negative(seed):
    rng = np.random.default_rng(seed)
    scores = rng.integers(0, 6, size=40).astype(float)   # many ties
    is_positive = rng.random(40) < 0.3
    is_positive[:2] = [True, False]
    assert np.isclose(roc_auc(scores, is_positive), auc_by_pairs(scores, is_positive))


def test_roc_curve_points_and_area():
    scores = np.array([0.9, 0.8, 0.8, 0.3, 0.1])
    is_positive = np.array([True, False, True, False, False])
    fpr, tpr, thresholds = roc_curve(scores, is_positive)
    assert fpr.tolist() == [0, 0, 1 / 3, 2 / 3, 1]
    assert tpr.tolist() == [0, 0.5, 1, 1, 1]
    assert thresholds.tolist() == [np.inf, 0.9, 0.8, 0.3, 0.1]
    # The trapezoid area under the curve is the rank-based AUC (ties count one half). Written out
    # rather than np.trapezoid, which numpy 1.24 (the oldest aelib supports) does not have.
    area = np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2)
    assert np.isclose(area, roc_auc(scores, is_positive))
    assert roc_auc(-scores, is_positive) == pytest.approx(1 - roc_auc(scores, is_positive))


def test_roc_rejects_a_single_class_and_bad_shapes():
    with pytest.raises(ValueError, match="both classes"):
        roc_auc([0.1, 0.2], [True, True])
    with pytest.raises(ValueError, match="is_positive"):
        roc_curve([0.1, 0.2], [True])


def test_roc_matches_scikit_learn_when_installed():
    metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(3)
    for _ in range(5):
        scores = np.round(rng.random(200), 2)
        is_positive = rng.random(200) < 0.2
        assert roc_auc(scores, is_positive) == pytest.approx(metrics.roc_auc_score(is_positive, scores))
        fpr, tpr, _ = roc_curve(scores, is_positive)
        fpr_ref, tpr_ref, _ = metrics.roc_curve(is_positive, scores, drop_intermediate=False)
        assert np.allclose(fpr, fpr_ref) and np.allclose(tpr, tpr_ref)


# PCA and the filters.

def test_pca_is_the_best_rank_k_reconstruction():
    rng = np.random.default_rng(0)
    X = rng.random((50, 6)) @ rng.random((6, 6))
    pca = PCA(2).fit(X)
    assert pca.encode(X).shape == (50, 2)
    assert np.allclose(pca.components @ pca.components.T, np.eye(2))
    # Eckart-Young: the squared error is the sum of the discarded squared singular values.
    singular = np.linalg.svd(X - X.mean(axis=0), compute_uv=False)
    assert np.isclose(np.sum((pca.reconstruct(X) - X) ** 2), np.sum(singular[2:] ** 2))
    assert np.allclose(PCA(6).fit(X).reconstruct(X), X)


def test_pca_errors():
    with pytest.raises(RuntimeError, match="fit"):
        PCA(2).encode(np.zeros((3, 4)))
    with pytest.raises(ValueError, match="n_components"):
        PCA(5).fit(np.zeros((3, 4)))


def test_gaussian_blur_keeps_flat_images_and_mass_in_the_middle():
    flat = np.full((2, 64), 0.3)
    assert np.allclose(gaussian_blur(flat, 1.0, (8, 8)), flat)
    spike = np.zeros((1, 64))
    spike[0, 3 * 8 + 4] = 1.0
    blurred = gaussian_blur(spike, 0.8, (8, 8)).reshape(8, 8)
    assert np.isclose(blurred.sum(), 1.0) and blurred.argmax() == 3 * 8 + 4
    window = blurred[1:6, 2:7]  # the kernel reaches 2 pixels: symmetric around the spike
    assert np.allclose(window, window[::-1, ::-1]) and np.isclose(window.sum(), 1.0)
    assert np.array_equal(gaussian_blur(spike, 0, (8, 8)), spike)
    with pytest.raises(ValueError, match="shape"):
        gaussian_blur(spike, 1.0, (7, 8))


def test_median_filter_removes_isolated_pixels():
    image = np.zeros((1, 64))
    image[0, 20] = 1.0
    assert np.array_equal(median_filter(image, (8, 8)), np.zeros((1, 64)))
    with pytest.raises(ValueError, match="odd"):
        median_filter(image, (8, 8), size=2)


def test_everything_is_exported():
    for name in ("load_digits", "train_test_split", "roc_curve", "roc_auc", "knn_predict", "nearest_neighbors",
                 "PCA", "gaussian_blur", "median_filter"):
        assert hasattr(aelib, name), name


# The figures of chapter 4.

def test_plot_tile_rows_puts_every_glyph_on_one_axes(digits):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    X, y = digits
    fig = aelib.plots.plot_tile_rows([X[:10], X[10:20]], ["first", "second"], titles=[y[:10], y[10:20]],
                                     label_room=3, title="two rows")
    (ax,) = fig.axes
    canvas = ax.images[0].get_array()
    assert canvas.shape == (2 * (3 + 8 + 1) + 1, 10 * 9 + 1)
    assert np.array_equal(canvas[4:12, 1:9], X[0].reshape(8, 8))
    assert [label.get_text() for label in ax.get_yticklabels()] == ["first", "second"]
    assert len(ax.texts) == 20
    plt.close(fig)


def test_plot_labelled_codes_draws_one_marker_set_per_class():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    Z = np.random.default_rng(0).standard_normal((30, 2))
    fig = aelib.plots.plot_labelled_codes(Z, np.arange(30) % 3)
    assert len(fig.axes[0].collections) == 3
    plt.close(fig)
    with pytest.raises(ValueError, match="shape"):
        aelib.plots.plot_labelled_codes(np.zeros((3, 3)), [0, 1, 2])


def contrast_on_white(color):
    """WCAG 2.1's contrast ratio of a '#RRGGBB' colour against white."""
    def linear(channel):
        channel /= 255
        return channel / 12.92 if channel <= 0.03928 else ((channel + 0.055) / 1.055) ** 2.4
    red, green, blue = (linear(int(color[i:i + 2], 16)) for i in (1, 3, 5))
    return 1.05 / (0.2126 * red + 0.7152 * green + 0.0722 * blue + 0.05)


def test_colours_drawn_as_characters_reach_text_contrast():
    # plot_labelled_codes draws each code as its class's character in CLASS_COLORS, and wrong
    # pixels are counted in WRONG_TEXT_COLOR: text, so 4.5:1 on white (WCAG 2.1 AA).
    for color in (*aelib.plots.CLASS_COLORS, aelib.plots.WRONG_TEXT_COLOR):
        assert contrast_on_white(color) >= 4.5, color
    assert len(set(aelib.plots.CLASS_COLORS)) == 10
    assert contrast_on_white("#88CCEE") < 4.5  # the test can fail: Tol's light cyan would
