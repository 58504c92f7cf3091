"""Checks for the exercises of chapter 4, "Real handwriting".

The AUC check uses scores with many ties, so that counting a tie as a win, as a loss or not at
all gives a different number than counting it one half; the minibatch check calls the reader's
function twice with one generator, which tells a reshuffled epoch from a fixed order; the
retrieval check uses codes where the nearest neighbour of a query is far from its label.
"""
import numpy as np

from ..evaluation import nearest_neighbors, roc_auc
from .feedback import call, expect_close, passed

__all__ = ["check_auc_by_pairs", "check_minibatches", "check_retrieval_precision"]


def _number(value, what):
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise AssertionError(f"{what}: expected a number, got {type(value).__name__} {value!r}") from None
    if array.shape != ():
        raise AssertionError(f"{what}: expected a single number, got an array of shape {array.shape}. "
                             "Average over all pairs (or all queries) to get one number.")
    return float(array)


def check_auc_by_pairs(auc_by_pairs):
    """Exercise 4.1: ``auc_by_pairs(scores, is_positive)``, the share of (positive, negative) pairs in
    which the positive scores higher, ties counting one half."""
    name = "auc_by_pairs"
    scores = np.array([0.9, 0.4, 0.4, 0.7, 0.1, 0.4, 0.7, 0.2])
    is_positive = np.array([True, True, False, False, False, True, True, False])
    what = f"{name}(scores={scores.tolist()}, is_positive={is_positive.astype(int).tolist()})"
    expected = roc_auc(scores, is_positive)
    actual = _number(call(auc_by_pairs, scores.copy(), is_positive.copy(), name=name), what)
    positive, negative = scores[is_positive], scores[~is_positive]
    wins = (positive[:, None] > negative[None, :]).mean()
    ties = (positive[:, None] == negative[None, :]).mean()
    mistakes = [
        (wins, "a tie counted as a loss: a pair with equal scores counts one half."),
        (wins + ties, "a tie counted as a win: a pair with equal scores counts one half."),
        (1 - expected, "the AUC of the reversed score. The positives should score higher: count the pairs "
                       "where the positive's score is greater than the negative's."),
    ]
    for value, explanation in mistakes:
        if np.isclose(actual, value) and not np.isclose(actual, expected):
            raise AssertionError(f"{what}: expected {expected:.6g}, got {actual:.6g}, {explanation}")
    expect_close(actual, expected, what,
                 hint="Compare every positive score with every negative score (n_pos * n_neg pairs), "
                      "count 1 for a win and 1/2 for a tie, and divide by the number of pairs.")
    rng = np.random.default_rng(0)
    scores = rng.integers(0, 5, size=60).astype(np.float64)
    is_positive = rng.random(60) < 0.3
    what = f"{name} on 60 random scores with ties ({is_positive.sum()} positives)"
    expect_close(_number(call(auc_by_pairs, scores, is_positive, name=name), what), roc_auc(scores, is_positive),
                 what, hint="Divide by n_pos * n_neg, the number of (positive, negative) pairs.")
    passed("auc_by_pairs agrees with aelib.roc_auc, ties included.")


def _batches(minibatches, n_samples, batch_size, rng, name):
    result = call(minibatches, n_samples, batch_size, rng, name=name)
    try:
        batches = [np.asarray(batch) for batch in result]
    except TypeError:
        raise AssertionError(f"{name} must return a list of index arrays, got {type(result).__name__}") from None
    for batch in batches:
        if batch.ndim != 1 or (batch.size and batch.dtype.kind not in "iu"):
            raise AssertionError(f"{name}: each batch must be a 1-D array of integer indices, got "
                                 f"{batch.dtype} of shape {batch.shape}")
    return batches


def check_minibatches(minibatches):
    """Exercise 4.2: ``minibatches(n_samples, batch_size, rng)``, one epoch's batches of indices."""
    name = "minibatches"
    n_samples, batch_size = 103, 10
    what = f"{name}({n_samples}, {batch_size}, rng)"
    batches = _batches(minibatches, n_samples, batch_size, np.random.default_rng(0), name)
    sizes = [len(batch) for batch in batches]
    expected_sizes = [batch_size] * (n_samples // batch_size) + [n_samples % batch_size]
    if sizes != expected_sizes:
        hint = (" The last 3 samples are missing: keep the smaller last batch."
                if sum(sizes) == n_samples - n_samples % batch_size else "")
        raise AssertionError(f"{what}: expected batch sizes {expected_sizes}, got {sizes}.{hint}")
    everything = np.concatenate(batches)
    if sorted(everything.tolist()) != list(range(n_samples)):
        repeated = len(everything) - len(set(everything.tolist()))
        raise AssertionError(f"{what}: every index 0..{n_samples - 1} must appear in exactly one batch; "
                             f"{repeated} appear more than once. Split one permutation, rng.permutation(n_samples).")
    if np.array_equal(everything, np.arange(n_samples)):
        raise AssertionError(f"{what}: the batches take the samples in their stored order. Shuffle them: "
                             "split rng.permutation(n_samples) instead of np.arange(n_samples).")
    rng = np.random.default_rng(1)
    first = np.concatenate(_batches(minibatches, n_samples, batch_size, rng, name))
    second = np.concatenate(_batches(minibatches, n_samples, batch_size, rng, name))
    if np.array_equal(first, second):
        raise AssertionError(f"{name}: two epochs with the same generator gave the same order. Draw the "
                             "permutation from rng in every call, so each epoch is reshuffled.")
    again = np.concatenate(_batches(minibatches, n_samples, batch_size, np.random.default_rng(1), name))
    if not np.array_equal(first, again):
        raise AssertionError(f"{name}: two generators with the same seed gave different orders: draw the "
                             "permutation from the rng argument, not from np.random.")
    whole = _batches(minibatches, 5, 8, np.random.default_rng(2), name)
    if [len(batch) for batch in whole] != [5]:
        raise AssertionError(f"{name}(5, 8, rng): a batch size larger than the data set gives one batch of all "
                             f"5 samples, got batch sizes {[len(batch) for batch in whole]}.")
    passed("every sample once per epoch, in a fresh order each epoch, the last batch smaller.")


def check_retrieval_precision(retrieval_precision):
    """Exercise 4.3: ``retrieval_precision(Z_train, y_train, Z_query, y_query, k)``, the mean share of
    each query's k nearest training codes that carry the query's label."""
    name = "retrieval_precision"
    Z_train = np.array([[0.0, 0.0], [0.1, 0.0], [0.0, 0.2], [1.0, 1.0], [1.1, 1.0], [0.5, 0.5]])
    y_train = np.array([0, 0, 1, 1, 1, 0])
    Z_query = np.array([[0.05, 0.05], [1.0, 0.9], [0.6, 0.6]])
    y_query = np.array([0, 1, 0])
    k = 3
    indices, _ = nearest_neighbors(Z_train, Z_query, k)
    per_query = (y_train[indices] == y_query[:, None]).mean(axis=1)     # [2/3, 2/3, 1/3]; every nearest one matches
    what = f"{name}(Z_train, y_train, Z_query, y_query, k={k}) for 6 training and 3 query codes"
    result = call(retrieval_precision, Z_train.copy(), y_train.copy(), Z_query.copy(), y_query.copy(), k,
                  name=name)
    if np.shape(result) == (len(Z_query),):
        raise AssertionError(f"{what}: expected one number, the mean over the queries, got one value per "
                             "query. Average them.")
    actual = _number(result, what)
    first_only = np.mean(y_train[indices[:, 0]] == y_query)
    if np.isclose(actual, first_only) and not np.isclose(actual, per_query.mean()):
        raise AssertionError(f"{what}: expected {per_query.mean():.6g}, got {actual:.6g}: the share of queries "
                             f"whose nearest neighbour matches. Count the matches among all {k} neighbours.")
    expect_close(actual, per_query.mean(), what,
                 hint="For each query find its k nearest training codes (aelib.nearest_neighbors), count "
                      "those with the query's label, divide by k, and average over the queries.")
    rng = np.random.default_rng(0)
    Z_train, Z_query = rng.standard_normal((40, 3)), rng.standard_normal((15, 3))
    y_train, y_query = rng.integers(0, 3, 40), rng.integers(0, 3, 15)
    indices, _ = nearest_neighbors(Z_train, Z_query, 5)
    expected = (y_train[indices] == y_query[:, None]).mean()
    what = f"{name} on 40 random 3-D training codes and 15 queries, k=5"
    expect_close(_number(call(retrieval_precision, Z_train, y_train, Z_query, y_query, 5, name=name), what),
                 expected, what, hint="Use the k argument, not a fixed number of neighbours.")
    passed("retrieval_precision agrees with aelib's nearest neighbours.")
