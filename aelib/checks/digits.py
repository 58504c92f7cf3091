"""Checks for the exercises of chapter 4, "Real handwriting".

The AUC check uses scores with many ties, so that counting a tie as a win, as a loss or not at
all gives a different number than counting it one half; it runs the reader's function while
``aelib.roc_auc`` (and the ranks behind it) are unavailable. The minibatch check calls the
reader's function twice with one generator, which tells a reshuffled epoch from a fixed order
(aelib has no function that returns an epoch's batches: its training loop cuts them inline).
The retrieval check uses codes where the nearest neighbour of a query is far from its label;
``aelib.nearest_neighbors`` is the tool the exercise asks for, so it stays available (aelib
has no function that computes the precision itself).
"""
import numpy as np

from .. import evaluation
from ..evaluation import nearest_neighbors, roc_auc
from .feedback import CheckFailed, call, expect_close, passed

__all__ = ["check_auc_by_pairs", "check_minibatches", "check_retrieval_precision"]


def _number(value, what, hint):
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise CheckFailed(f"{what}: expected a number, got {type(value).__name__}.",
                          actual=repr(value)[:60]) from None
    if array.shape != ():
        raise CheckFailed(f"{what}: expected a single number.", expected="one number",
                          actual=f"an array of shape {array.shape}", hint=hint)
    return float(array)


def check_auc_by_pairs(auc_by_pairs):
    """Exercise 4.1: ``auc_by_pairs(scores, is_positive)``, the share of (positive, negative) pairs in
    which the positive scores higher, ties counting one half."""
    name = "auc_by_pairs"
    one_number = "Average over all (positive, negative) pairs at once, e.g. np.mean of the whole matrix."
    scores = np.array([0.9, 0.4, 0.4, 0.7, 0.1, 0.4, 0.7, 0.2])
    is_positive = np.array([True, True, False, False, False, True, True, False])
    what = f"{name}(scores, is_positive) for 8 scores with ties (4 positives)"
    expected = roc_auc(scores, is_positive)
    result = call(auc_by_pairs, scores.copy(), is_positive.copy(), name=name)
    actual = _number(result, what, one_number)
    positive, negative = scores[is_positive], scores[~is_positive]
    wins = (positive[:, None] > negative[None, :]).mean()
    ties = (positive[:, None] == negative[None, :]).mean()
    mistakes = [
        (wins, "A tie counted as a loss: a pair with equal scores counts one half."),
        (wins + ties, "A tie counted as a win: a pair with equal scores counts one half."),
        (1 - expected, "That is the AUC of the reversed score. Count the pairs where the positive's "
                       "score is greater than the negative's."),
    ]
    for value, explanation in mistakes:
        if np.isclose(actual, value) and not np.isclose(actual, expected):
            raise CheckFailed(f"{what}:", expected=f"{expected:.6g}", actual=f"{actual:.6g}", hint=explanation)
    expect_close(actual, expected, what,
                 hint="Compare every positive score with every negative one (n_pos * n_neg pairs), "
                      "count 1 for a win and 1/2 for a tie, and divide by the number of pairs.")
    rng = np.random.default_rng(0)
    scores = rng.integers(0, 5, size=60).astype(np.float64)
    is_positive = rng.random(60) < 0.3
    what = f"{name} on 60 random scores with ties ({is_positive.sum()} positives)"
    result = call(auc_by_pairs, scores, is_positive, name=name)
    expect_close(_number(result, what, one_number), roc_auc(scores, is_positive), what,
                 hint="Divide by n_pos * n_neg, the number of (positive, negative) pairs.")
    passed("auc_by_pairs agrees with aelib.roc_auc, ties included.")


_CUT = ("Cut the shuffled indices into slices order[start:start + batch_size], for start in "
        "range(0, n_samples, batch_size).")


def _batches(minibatches, n_samples, batch_size, rng, name):
    result = call(minibatches, n_samples, batch_size, rng, name=name)
    if isinstance(result, np.ndarray) and result.ndim == 1:
        raise CheckFailed(f"{name}({n_samples}, {batch_size}, rng) returned one array of {result.size} "
                          "indices, not a list of batches.", hint=_CUT)
    try:
        batches = [np.asarray(batch) for batch in result]
    except TypeError:
        raise CheckFailed(f"{name} must return a list of index arrays.",
                          actual=type(result).__name__) from None
    for batch in batches:
        if batch.ndim != 1 or (batch.size and batch.dtype.kind not in "iu"):
            raise CheckFailed(f"{name}: each batch must be a 1-D array of integer indices.",
                              expected="1-D integer array", actual=f"{batch.dtype} of shape {batch.shape}",
                              hint="Slice rng.permutation(n_samples), whose entries are integers.")
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
        dropped = sum(sizes) == n_samples - n_samples % batch_size
        raise CheckFailed(
            f"{what}: the batch sizes are wrong.", expected=expected_sizes, actual=sizes,
            hint="The last 3 samples are missing: keep the smaller last batch." if dropped else _CUT)
    everything = np.concatenate(batches)
    if sorted(everything.tolist()) != list(range(n_samples)):
        repeated = len(everything) - len(set(everything.tolist()))
        raise CheckFailed(
            f"{what}: every index 0..{n_samples - 1} must appear in exactly one batch; "
            f"{repeated} appear more than once.",
            hint="Split one permutation, rng.permutation(n_samples), instead of drawing indices.")
    if np.array_equal(everything, np.arange(n_samples)):
        raise CheckFailed(f"{what}: the batches take the samples in their stored order.",
                          hint="Shuffle them: split rng.permutation(n_samples) instead of "
                               "np.arange(n_samples).")
    rng = np.random.default_rng(1)
    first = np.concatenate(_batches(minibatches, n_samples, batch_size, rng, name))
    second = np.concatenate(_batches(minibatches, n_samples, batch_size, rng, name))
    if np.array_equal(first, second):
        raise CheckFailed(f"{name}: two epochs with the same generator gave the same order.",
                          hint="Draw the permutation from rng in every call, so that each epoch "
                               "is reshuffled; do not make a new generator with a fixed seed.")
    again = np.concatenate(_batches(minibatches, n_samples, batch_size, np.random.default_rng(1), name))
    if not np.array_equal(first, again):
        raise CheckFailed(f"{name}: two generators with the same seed gave different orders.",
                          hint="Draw the permutation from the rng argument, not from np.random.")
    whole = [len(batch) for batch in _batches(minibatches, 5, 8, np.random.default_rng(2), name)]
    if whole != [5]:
        raise CheckFailed(f"{name}(5, 8, rng): a batch size larger than the data set gives one batch "
                          "of all 5 samples.", expected=[5], actual=whole)
    passed("every sample once per epoch, in a fresh order each epoch, the last batch smaller.")


def _precision(Z_train, y_train, Z_query, y_query, k):
    indices, _ = nearest_neighbors(Z_train, Z_query, k)
    return (y_train[indices] == y_query[:, None]).mean(axis=1)


def check_retrieval_precision(retrieval_precision):
    """Exercise 4.3: ``retrieval_precision(Z_train, y_train, Z_query, y_query, k)``, the mean share of
    each query's k nearest training codes that carry the query's label."""
    name = "retrieval_precision"
    average = "Average the shares of the queries into one number."
    Z_train = np.array([[0.0, 0.0], [0.1, 0.0], [0.0, 0.2], [1.0, 1.0], [1.1, 1.0], [0.5, 0.5]])
    y_train = np.array([0, 0, 1, 1, 1, 0])
    Z_query = np.array([[0.05, 0.05], [1.0, 0.9], [0.6, 0.6]])
    y_query = np.array([0, 1, 0])
    k = 3
    per_query = _precision(Z_train, y_train, Z_query, y_query, k)     # [2/3, 2/3, 1/3]; every nearest one matches
    expected = per_query.mean()
    what = f"{name}(Z_train, y_train, Z_query, y_query, k={k}), 6 training and 3 query codes"
    result = call(retrieval_precision, Z_train.copy(), y_train.copy(), Z_query.copy(), y_query.copy(), k,
                  name=name, allowed=(nearest_neighbors,))
    if np.shape(result) == (len(Z_query),):
        raise CheckFailed(f"{what}: expected one number, the mean over the queries, got one value "
                          "per query.", expected=f"{expected:.6g}", actual=np.round(result, 6).tolist(),
                          hint=average)
    actual = _number(result, what, average)
    if not np.isclose(actual, expected):
        for other in range(1, len(Z_train) + 1):
            if other != k and np.isclose(actual, _precision(Z_train, y_train, Z_query, y_query, other).mean()):
                explanation = (
                    "That is the share of queries whose nearest neighbour matches. Count the "
                    f"matches among all {k} neighbours." if other == 1 else
                    f"That is the precision of {other} neighbours; pass k on to aelib.nearest_neighbors "
                    "(its default is 5).")
                raise CheckFailed(f"{what}:", expected=f"{expected:.6g}", actual=f"{actual:.6g}",
                                  hint=explanation)
    expect_close(actual, expected, what,
                 hint="For each query find its k nearest training codes (aelib.nearest_neighbors), "
                      "count those with the query's label, divide by k, average over the queries.")
    rng = np.random.default_rng(0)
    Z_train, Z_query = rng.standard_normal((40, 3)), rng.standard_normal((15, 3))
    y_train, y_query = rng.integers(0, 3, 40), rng.integers(0, 3, 15)
    k = 4
    what = f"{name} on 40 random 3-D training codes and 15 queries, k={k}"
    result = call(retrieval_precision, Z_train, y_train, Z_query, y_query, k, name=name,
                  allowed=(nearest_neighbors,))
    expect_close(_number(result, what, average), _precision(Z_train, y_train, Z_query, y_query, k).mean(),
                 what, hint="Use the k argument, not a fixed number of neighbours.")
    passed("retrieval_precision agrees with aelib's nearest neighbours.")
