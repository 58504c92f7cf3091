r"""Measuring a model on data it did not see: a stratified split, k nearest neighbours, ROC and AUC.

Plain numpy, no model knowledge (the first floor). Distances are computed from differences, not
from the expansion :math:`\|a\|^2 + \|b\|^2 - 2 a \cdot b`: that way they do not depend on the
matrix-product kernel of the machine, and neighbours and votes come out the same everywhere.
"""
import numpy as np

from .validation import as_data_matrix, as_generator, positive_int

# Queries are compared with the reference set in chunks of this many rows, so that the
# (chunk, n_reference, n_features) array of differences stays small.
CHUNK = 64


def _labels(y, name, n_samples):
    y = np.asarray(y)
    if y.shape != (n_samples,):
        raise ValueError(f"{name} must have shape ({n_samples},), one label per sample, got {y.shape}")
    return y


def train_test_split(X, y, test_fraction=0.25, rng=None):
    """Split X, y into a training and a test part, with each class split in the same proportion.

    X: (n_samples, n_features); y: (n_samples,) class labels. From each class,
    ``round(test_fraction * n_class)`` samples, drawn with ``rng`` (a seed or a Generator), go to
    the test part. Both parts keep the original order of the samples.
    Returns X_train, X_test, y_train, y_test.
    """
    X = as_data_matrix(X)
    y = _labels(y, "y", X.shape[0])
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must lie strictly between 0 and 1, got {test_fraction!r}")
    rng = as_generator(rng)
    is_test = np.zeros(len(y), dtype=bool)
    for label in np.unique(y):
        members = np.flatnonzero(y == label)
        n_test = int(round(test_fraction * len(members)))
        is_test[rng.choice(members, size=n_test, replace=False)] = True
    return X[~is_test], X[is_test], y[~is_test], y[is_test]


def squared_distances(X_query, X_reference):
    """Squared Euclidean distances, (n_query, n_reference), from the differences of the rows."""
    X_query = as_data_matrix(X_query, "X_query")
    X_reference = as_data_matrix(X_reference, "X_reference", X_query.shape[1])
    D = np.empty((len(X_query), len(X_reference)))
    for start in range(0, len(X_query), CHUNK):
        difference = X_query[start:start + CHUNK, None, :] - X_reference[None, :, :]
        D[start:start + CHUNK] = np.einsum("qrf,qrf->qr", difference, difference)
    return D


def nearest_neighbors(X_reference, X_query, k=5):
    """The k rows of X_reference nearest to each row of X_query, nearest first.

    X_reference: (n_reference, n_features); X_query: (n_query, n_features).
    Returns (indices, distances), each (n_query, k); equal distances keep the reference order.
    """
    k = positive_int(k, "k")
    D = squared_distances(X_query, X_reference)
    if k > D.shape[1]:
        raise ValueError(f"k must be at most the number of reference samples ({D.shape[1]}), got {k}")
    indices = np.argsort(D, axis=1, kind="stable")[:, :k]
    return indices, np.sqrt(np.take_along_axis(D, indices, axis=1))


def knn_votes(X_train, y_train, X_query, k=5):
    """Each query's predicted label and the share of its k nearest training samples that agree.

    The label with the most votes wins; a tie goes to the tied label of the nearest neighbour.
    Returns (labels: (n_query,), agreement: (n_query,) in [1/k, 1]).
    """
    X_train = as_data_matrix(X_train, "X_train")
    y_train = _labels(y_train, "y_train", X_train.shape[0])
    indices, _ = nearest_neighbors(X_train, X_query, k)
    neighbor_labels = y_train[indices]                                   # (n_query, k)
    votes = (neighbor_labels[:, :, None] == neighbor_labels[:, None, :]).sum(axis=2)
    # The first neighbour (nearest first) whose label has the most votes.
    first_best = np.argmax(votes == votes.max(axis=1, keepdims=True), axis=1)
    rows = np.arange(len(indices))
    return neighbor_labels[rows, first_best], votes[rows, first_best] / indices.shape[1]


def knn_predict(X_train, y_train, X_query, k=5):
    """The k-nearest-neighbour classifier: the majority label of each query's k nearest training
    samples (ties to the nearest). Returns labels: (n_query,)."""
    return knn_votes(X_train, y_train, X_query, k)[0]


def _scores_and_truth(scores, is_positive):
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim != 1 or not np.isfinite(scores).all():
        raise ValueError(f"scores must be a 1-D array of finite numbers, got shape {scores.shape}")
    is_positive = np.asarray(is_positive)
    if is_positive.shape != scores.shape or not np.isin(is_positive, (0, 1)).all():
        raise ValueError(f"is_positive must be booleans (or 0/1) with the shape of scores {scores.shape}, "
                         f"got shape {is_positive.shape}")
    is_positive = is_positive.astype(bool)
    n_positive = int(is_positive.sum())
    if n_positive in (0, len(scores)):
        raise ValueError(f"is_positive must contain both classes, got {n_positive} positives "
                         f"among {len(scores)} samples")
    return scores, is_positive


def roc_curve(scores, is_positive):
    """The receiver operating characteristic of a score that should be higher for positives.

    scores: (n,) numbers; is_positive: (n,) booleans. Flagging every sample whose score is at
    least a threshold, for every threshold from +inf down to the lowest score, gives one point
    (false positive rate, true positive rate) per distinct score.
    Returns (fpr, tpr, thresholds), each (n_distinct + 1,), starting at (0, 0) and ending at (1, 1).
    """
    scores, is_positive = _scores_and_truth(scores, is_positive)
    order = np.argsort(-scores, kind="stable")
    scores, is_positive = scores[order], is_positive[order]
    true_positives = np.cumsum(is_positive)
    false_positives = np.cumsum(~is_positive)
    # Samples with equal scores are flagged together: keep the last index of each run.
    last_of_run = np.r_[scores[1:] != scores[:-1], True]
    tpr = np.r_[0.0, true_positives[last_of_run] / true_positives[-1]]
    fpr = np.r_[0.0, false_positives[last_of_run] / false_positives[-1]]
    return fpr, tpr, np.r_[np.inf, scores[last_of_run]]


def rank_average(values):
    """The ranks 1..n of ``values`` (n,), with tied values sharing the average of their ranks."""
    values = np.asarray(values, dtype=np.float64)
    order = np.argsort(values, kind="stable")
    sorted_values = values[order]
    starts = np.r_[True, sorted_values[1:] != sorted_values[:-1]]
    run = np.cumsum(starts) - 1                             # which run of equal values each belongs to
    run_start = np.flatnonzero(starts)
    run_end = np.r_[run_start[1:], len(values)]
    ranks = np.empty(len(values))
    ranks[order] = (run_start + run_end + 1)[run] / 2      # mean of ranks start+1 .. end
    return ranks


def roc_auc(scores, is_positive):
    r"""The area under the ROC curve: the probability that a random positive scores higher than a
    random negative (ties count one half).

    With ranks :math:`\rho_i` of all the scores (ties averaged), :math:`n_+` positives and
    :math:`n_-` negatives,
    :math:`\mathrm{AUC} = \big(\sum_{i\,\text{positive}} \rho_i - n_+(n_+ + 1)/2\big) / (n_+ n_-)`.
    """
    scores, is_positive = _scores_and_truth(scores, is_positive)
    n_positive = is_positive.sum()
    n_negative = len(scores) - n_positive
    ranks = rank_average(scores)
    return float((ranks[is_positive].sum() - n_positive * (n_positive + 1) / 2) / (n_positive * n_negative))
