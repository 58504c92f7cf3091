"""Checks for the exercises of chapter 4, "Real handwriting".

Each check tests its exercise's statement, not one example, and names the mistakes it knows:

- ``check_auc_by_pairs`` counts the pairs itself, in integers, on scores with many ties, with as
  many positives as negatives (so that comparing positive i with negative i only gives a value),
  on a single pair, on all-equal scores and on scores near the ends of the float64 range.
- ``check_minibatches`` checks the sizes and the indices of one epoch for several sizes, then
  measures 2,000 epochs drawn with one generator: no epoch may repeat another's batches, samples
  that share a batch in one epoch must share one in the next no more often than a fresh shuffle
  makes them, neighbouring indices likewise, and every sample must land in the first batch as
  often as any other, in the batch of its own position as often as chance says, and in a batch
  whose number does not follow its index (a biased shuffle written by hand fails these); then
  2,000 epochs of 4 samples in batches of one must give each of the 24 orders equally often
  (sorting random integer keys, whose ties keep index order, fails this). The
  bounds come from the exact mean and variance of these statistics under a uniformly random
  permutation (``batch_pair_moments``, ``home_batch_moments``, ``index_batch_moments``) and
  Bernstein's inequality; together a correct answer fails them with a probability below 1e-10
  (tests/test_checks_digits.py computes it).
- ``check_retrieval_precision`` uses codes with ties at the k-th distance, a query equal to a
  training code, unbalanced classes and several k, and recognises the L1 and cosine distances,
  another k, a dropped nearest neighbour, ties broken another way, a mean per class, the
  majority vote's accuracy, swapped roles, k - 1 or k + 1 neighbours, the k farthest and a code
  at distance 0 dropped.
- ``check_threshold_and_rates`` holds the threshold to its definition on the validation part,
  with ties at the boundary, a share exactly at the bound, a bound no score meets and a
  non-default rate, and recognises a threshold chosen on the training or the test part, on the
  wrong tail, or a step off; then the rates on the test part, ties at the threshold included.

While the reader's function runs, every call into aelib is refused (``guard.call``), except
``aelib.nearest_neighbors`` in Exercise 4.3, whose statement names it.
"""
import itertools
import math

import numpy as np

from ..evaluation import nearest_neighbors
from .feedback import CheckFailed, _low_precision, as_numbers, distinct_strings, expect_close, passed
from .guard import call

__all__ = ["check_auc_by_pairs", "check_minibatches", "check_retrieval_precision", "check_threshold_and_rates"]

# Results that are shares of counted pairs or samples: a float64 computation in any order agrees
# to about 1e-15; a float32 one only to about 1e-7, and is told to compute in float64.
COUNT_RTOL = 1e-12


def _number(value, what, hint=""):
    """``value`` as a float, or a CheckFailed that says what it is instead."""
    array = as_numbers(value)
    if array is None:
        raise CheckFailed(f"{what}: expected a number, got {type(value).__name__}.",
                          actual=repr(value)[:60], hint=hint)
    if array.shape != ():
        raise CheckFailed(f"{what}: expected a single number.", expected="one number",
                          actual=f"an array of shape {array.shape}", hint=hint)
    return float(array)


def _show(value):
    return "inf" if value == np.inf else f"{value:.6g}"


def _mismatch(what, expected, actual, hint):
    shown_expected, shown_actual = distinct_strings(expected, actual)
    return CheckFailed(f"{what}:", expected=shown_expected, actual=shown_actual, hint=hint)


# ---------------------------------------------------------------------------------------------
# Explaining a wrong answer: a known mistake explains it only if it gives the answer's values on
# every input the check tried, so that two mistakes that agree on one small input are told apart.

def _explanation(mistakes, cases, actuals, close, failing):
    """The first explanation whose mistake reproduces ``actuals`` on every case where it applies,
    the failing case (an index into ``cases``) among them.

    mistakes: [(explanation, value_of)], value_of(case) -> the mistake's value there, or None
    where it does not apply; close(actual, value) -> bool.
    """
    for explanation, value_of in mistakes:
        values = [value_of(case) for case in cases]
        if values[failing] is not None and all(
                value is None or close(actual, value) for actual, value in zip(actuals, values)):
            return explanation
    return None


def _float64_first(result, expected, what):
    """A float32 answer that agrees to float32's precision is told to compute in float64."""
    if _low_precision(result) and np.allclose(as_numbers(result), expected, rtol=1e-5, atol=0.0):
        expect_close(result, expected, what, rtol=COUNT_RTOL, atol=0.0)


def _same_number(actual, value):
    return bool(np.isclose(actual, value, rtol=1e-9, atol=0.0))


# ---------------------------------------------------------------------------------------------
# Exercise 4.1: the AUC from its pairs.

def _pair_counts(scores, is_positive):
    """(wins, ties, pairs): integer counts over the (positive, negative) pairs."""
    positive, negative = scores[is_positive], scores[~is_positive]
    wins = int(np.sum(positive[:, None] > negative[None, :]))
    ties = int(np.sum(positive[:, None] == negative[None, :]))
    return wins, ties, len(positive) * len(negative)


def _auc(scores, is_positive):
    wins, ties, pairs = _pair_counts(scores, is_positive)
    return (2 * wins + ties) / (2 * pairs)


def _auc_cases():
    """(description, scores, is_positive) for every input the check tries."""
    cases = [("8 scores with ties, 4 positives and 4 negatives",
              np.array([0.9, 0.4, 0.4, 0.7, 0.1, 0.4, 0.7, 0.2]),
              np.array([True, True, False, False, False, True, True, False])),
             ("one positive (0.3) and one negative (0.7)", np.array([0.7, 0.3]), np.array([False, True])),
             ("5 equal scores, 2 positives", np.full(5, 0.25), np.array([False, True, False, True, False]))]
    rng = np.random.default_rng(41)
    scores = rng.integers(0, 5, size=60).astype(np.float64)
    cases.append(("60 scores from 0 to 4 (many ties), 19 positives", scores,
                  np.isin(np.arange(60), rng.choice(60, 19, replace=False))))
    cases.append(("10 scores from -1e300 to 1e300, with ties",
                  np.array([-1e300, 1e300, 3e-300, -3e-300, 1e300, 0.0, 2e-300, -1e300, 1e299, 3e-300]),
                  np.array([True, False, True, False, True, False, False, True, False, False])))
    scores = rng.standard_normal(150)
    is_positive = np.zeros(150, dtype=bool)
    is_positive[rng.choice(150, 23, replace=False)] = True
    cases.append(("150 distinct scores, 23 positives", scores + 0.8 * is_positive, is_positive))
    # As many positives as negatives and no ties: pairing positive i with negative i gives another
    # value, while ties broken by position (a ROC curve walked one sample at a time) do not differ.
    cases.append(("12 distinct scores, 6 positives and 6 negatives",
                  np.array([2.04, -2.06, 0.92, -0.07, -0.45, 0.28, -2.02, -0.23, -0.37, 3.82, 0.23, -0.35]),
                  np.array([False, True, True, True, False, True, False, False, True, True, False, False])))
    return cases


def _ordinal_rank_auc(scores, is_positive):
    ranks = np.empty(len(scores))
    ranks[np.argsort(scores, kind="stable")] = np.arange(1, len(scores) + 1)
    n_positive = int(is_positive.sum())
    return (ranks[is_positive].sum() - n_positive * (n_positive + 1) / 2) / (n_positive * (len(scores) - n_positive))


def _float32_auc(scores, is_positive):
    with np.errstate(over="ignore", invalid="ignore"):
        in_float32 = scores.astype(np.float32)
    if np.array_equal(in_float32, scores):
        return None
    with np.errstate(invalid="ignore"):
        difference = in_float32[is_positive][:, None] - in_float32[~is_positive][None, :]
        return float(np.mean((difference > 0) + 0.5 * (difference == 0)))


def _dense_rank_auc(scores, is_positive):
    ranks = np.unique(scores, return_inverse=True)[1].ravel() + 1.0
    n_positive = int(is_positive.sum())
    return (ranks[is_positive].sum() - n_positive * (n_positive + 1) / 2) / (n_positive * (len(scores) - n_positive))


def _elementwise_auc(scores, is_positive):
    positive, negative = scores[is_positive], scores[~is_positive]
    if len(positive) != len(negative):
        return None
    return float(np.mean((positive > negative) + 0.5 * (positive == negative)))


def _against_every_score(scores, is_positive):
    difference = scores[:, None] - scores[~is_positive][None, :]
    return float(np.mean((difference > 0) + 0.5 * (difference == 0)))


_AUC_MISTAKES = [
    ("A tie counted as a loss: a pair with equal scores counts one half.",
     lambda case: (lambda w, t, p: w / p)(*_pair_counts(*case[1:]))),
    ("A tie counted as a win: a pair with equal scores counts one half.",
     lambda case: (lambda w, t, p: (w + t) / p)(*_pair_counts(*case[1:]))),
    ("That turns an AUC below 0.5 into 1 - AUC. Below 0.5 is a result (the score ranks the negatives "
     "higher); return the share of pairs as it is.",
     lambda case: max(_auc(*case[1:]), 1 - _auc(*case[1:])) if _auc(*case[1:]) < 0.5 else None),
    ("That is the AUC of the reversed score. Count the pairs where the positive's score is greater "
     "than the negative's.", lambda case: 1.0 - _auc(*case[1:])),
    ("That compares positive i with negative i only. Compare every positive with every negative: "
     "positive[:, None] against negative[None, :].", lambda case: _elementwise_auc(*case[1:])),
    ("That is the number of winning pairs; divide by n_pos * n_neg, the number of (positive, "
     "negative) pairs.", lambda case: (lambda w, t, p: w + 0.5 * t)(*_pair_counts(*case[1:]))),
    ("That compares every score with the negatives, the negatives' own scores too. Compare only "
     "the positives: scores[is_positive][:, None] against scores[~is_positive][None, :].",
     lambda case: _against_every_score(*case[1:])),
    ("That is the rank formula with tied scores given different ranks. Equal scores must share the "
     "mean of their ranks (or count the pairs directly).", lambda case: _ordinal_rank_auc(*case[1:])),
    ("That is the rank formula with the ranks of the distinct values (1, 2, 3, ... as np.unique's "
     "inverse numbers them). Rank all n scores 1..n, tied scores sharing the mean of their ranks (or "
     "count the pairs directly).", lambda case: _dense_rank_auc(*case[1:])),
    ("That leaves the tied pairs out of the count of pairs. A tie is a pair like any other: it counts "
     "one half, and the denominator is n_pos * n_neg.",
     lambda case: (lambda w, t, p: w / (p - t) if p > t else None)(*_pair_counts(*case[1:]))),
    ("That is what the scores give in float32, where +-1e300 become +-inf and 1e-300 becomes 0. Keep "
     "the scores' float64 dtype.", lambda case: _float32_auc(*case[1:])),
]


def check_auc_by_pairs(auc_by_pairs):
    """Exercise 4.1: ``auc_by_pairs(scores, is_positive)``, the share of (positive, negative) pairs in
    which the positive scores higher, ties counting one half."""
    name = "auc_by_pairs"
    one_number = "Average over all (positive, negative) pairs at once, e.g. np.mean of the whole matrix."
    cases, results, actuals = _auc_cases(), [], []
    for description, scores, is_positive in cases:
        result = call(auc_by_pairs, scores.copy(), is_positive.copy(), name=name,
                      on_error="scores and is_positive have shape (n,); scores[is_positive] has "
                               "shape (n_pos,), scores[~is_positive] (n_neg,).")
        results.append(result)
        actuals.append(_number(result, f"{name}(scores, is_positive) for {description}", one_number))
    for index, (case, result, actual) in enumerate(zip(cases, results, actuals)):
        description, scores, is_positive = case
        expected = _auc(scores, is_positive)
        if np.isclose(actual, expected, rtol=COUNT_RTOL, atol=0.0):
            continue
        what = f"{name}(scores, is_positive) for {description}"
        _float64_first(result, expected, what)
        explanation = _explanation(_AUC_MISTAKES, cases, actuals, _same_number, index)
        if explanation:
            raise _mismatch(what, expected, actual, explanation)
        wins, ties, pairs = _pair_counts(scores, is_positive)
        bounds = [(lambda w, t, p: (w / p, (w + t) / p))(*_pair_counts(*other[1:])) for other in cases]
        if ties and all(low - 1e-12 <= value <= high + 1e-12 for value, (low, high) in zip(actuals, bounds)):
            raise _mismatch(what, expected, actual,
                            f"Your value lies between counting the {ties} tied pairs as losses and as "
                            "wins: each tie must count exactly one half. (Ties broken at random or by "
                            "position do not; in the rank formula, tied scores share the mean of their "
                            "ranks.)")
        expect_close(result, expected, what, rtol=COUNT_RTOL, atol=0.0,
                     hint="Compare every positive score with every negative one (n_pos * n_neg pairs), "
                          "count 1 for a win and 1/2 for a tie, and divide by the number of pairs.")
    passed("auc_by_pairs counts every (positive, negative) pair, ties as one half, on ties, "
           "single pairs and extreme scores.")


# ---------------------------------------------------------------------------------------------
# Exercise 4.2: one epoch of minibatches.

_CUT = ("Cut the shuffled indices into slices order[start:start + batch_size], for start in "
        "range(0, n_samples, batch_size).")
_BY_HAND = ("Use rng.permutation(n_samples), or shuffle by Fisher-Yates: for i from n - 1 down to 1, "
            "swap position i with a position j drawn from 0..i (rng.integers(0, i + 1)).")
_RETURN = ("Return a list of 1-D integer index arrays, the last one smaller when batch_size does not divide "
           "n_samples (a reshape cannot make it). rng.shuffle(x) shuffles x in place and returns None; "
           "rng.permutation(n_samples) returns a new array.")
_RESHUFFLE = ("Draw a new order of all the indices from rng in every call, rng.permutation(n_samples), "
              "and only then cut it into batches.")
# Shapes of the epochs checked one by one: a remainder, no remainder, batch_size 1, a batch as
# large as the data, larger than the data, a single sample.
_EPOCH_SHAPES = [(103, 10), (60, 7), (64, 8), (7, 1), (5, 5), (5, 8), (1, 3)]
# The statistics: N_EPOCHS epochs of STATISTICS_SHAPE drawn with one generator.
STATISTICS_SHAPE = (60, 7)
N_EPOCHS = 2000
# Allowed excess over the expected rate of a shared batch (pairs of the previous epoch and
# neighbouring indices) and deviation of the first batch's share per sample; each is a few times
# the spread of its statistic over N_EPOCHS epochs (see ``false_failure_bounds``).
PAIR_MARGIN = 0.02
ADJACENT_MARGIN = 0.012
FIRST_BATCH_MARGIN = 0.06
# Allowed deviation of the share of samples found in their home batch (sample i in batch
# i // batch_size, where it would be without a shuffle), below and above its expected value, and of
# the mean correlation between a sample's index and its batch number from 0: a biased shuffle (a
# swap loop that draws j from all n positions, or Sattolo's j < i) moves these, as a uniform one
# cannot.
HOME_MARGIN_BELOW = 0.008
HOME_MARGIN_ABOVE = 0.012
CORRELATION_MARGIN = 0.026
# Every order equally likely, seen whole: N_EPOCHS epochs of ORDERS_SHAPE (4 samples in batches of
# one, so an epoch is one of the 4! = 24 orders) and the allowed deviation of any order's share from
# 1/24. Sorting random integer keys, rng.integers(0, n, n), keeps tied samples in index order: the
# order 0, 1, 2, 3 then comes up 35 / 256 = 13.7% of the time, a bias too small to see at 60 samples
# (i before j with probability 1/2 + 1/(2n)) but not at 4.
ORDERS_SHAPE = (4, 1)
ORDER_MARGIN = 0.04


def _sizes(n_samples, batch_size):
    return [batch_size] * (n_samples // batch_size) + ([n_samples % batch_size] if n_samples % batch_size else [])


def _as_batches(result, n_samples, batch_size, name):
    """The reader's epoch as a list of 1-D integer arrays, or a CheckFailed saying why not."""
    call_text = f"{name}({n_samples}, {batch_size}, rng)"
    if isinstance(result, np.ndarray) and result.ndim == 1:
        raise CheckFailed(f"{call_text} returned one array of {result.size} indices, not a list of "
                          "batches.", hint=_CUT)
    if result is None or isinstance(result, (str, bytes, dict)) or not hasattr(result, "__iter__"):
        raise CheckFailed(f"{call_text} must return a list of index arrays.", actual=type(result).__name__,
                          hint=_CUT)
    batches = []
    for batch in result:
        batch = np.asarray(batch)
        if batch.ndim != 1 or (batch.size and batch.dtype.kind not in "iu"):
            raise CheckFailed(f"{call_text}: each batch must be a 1-D array of integer indices.",
                              expected="1-D integer array", actual=f"{batch.dtype} of shape {batch.shape}",
                              hint="Slice rng.permutation(n_samples), whose entries are integers.")
        batches.append(batch)
    return batches


def _check_epoch(batches, n_samples, batch_size, name):
    """Sizes and indices of one epoch."""
    call_text = f"{name}({n_samples}, {batch_size}, rng)"
    sizes = [len(batch) for batch in batches]
    expected_sizes = _sizes(n_samples, batch_size)
    if sizes != expected_sizes:
        remainder = n_samples % batch_size
        if remainder and sizes == expected_sizes[:-1]:
            hint = f"The last {remainder} samples are missing: keep the smaller last batch."
        elif remainder and len(expected_sizes) > 1 and sizes == expected_sizes[:-2] + [batch_size + remainder]:
            hint = f"The last {remainder} samples were added to the batch before: they form a batch of their own."
        elif sorted(sizes) == sorted(expected_sizes):
            hint = ("The smaller batch is not the last one: it looks as if whole batches were shuffled. "
                    "Shuffle all the indices, rng.permutation(n_samples), then cut them in order.")
        elif len(sizes) == len(expected_sizes) and sum(sizes) == n_samples and max(sizes) - min(sizes) <= 1:
            hint = ("The batches have evened-out sizes (as np.array_split makes them): every batch holds "
                    "batch_size samples except the last.")
        else:
            hint = _CUT
        raise CheckFailed(f"{call_text}: the batch sizes are wrong.", expected=_short_list(expected_sizes),
                          actual=_short_list(sizes), hint=hint)
    everything = np.concatenate(batches) if batches else np.zeros(0, dtype=int)
    if sorted(everything.tolist()) != list(range(n_samples)):
        repeated = len(everything) - len(set(everything.tolist()))
        outside = int(np.sum((everything < 0) | (everything >= n_samples)))
        raise CheckFailed(
            f"{call_text}: every index 0..{n_samples - 1} must appear in exactly one batch; {repeated} "
            f"appear more than once{f' and {outside} lie outside 0..{n_samples - 1}' if outside else ''}.",
            hint="Split one permutation, rng.permutation(n_samples), instead of drawing indices "
                 "(rng.integers or rng.choice with replacement repeats some).")
    return everything


def _short_list(values):
    return str(values) if len(values) <= 12 else f"{values[:10]}... ({len(values)} batches)"


def _epochs(minibatches, n_samples, batch_size, rng, n_epochs):
    # Many epochs in one guarded call (fast); calls from here into the reader's function are the
    # check's own.
    return [minibatches(n_samples, batch_size, rng) for _ in range(n_epochs)]


def batch_pair_moments(sizes, degrees):
    """Mean and variance of the number of pairs of a fixed set that share a batch in one epoch.

    sizes: the batch sizes of an epoch (a uniformly random permutation cut into slices of these
    sizes); degrees: for each sample, in how many pairs of the set it appears. Returns (n_pairs,
    mean, variance) of the count, exactly: pairs that share a sample share a batch together
    with probability r3, disjoint pairs with probability r4.
    """
    s = np.asarray(sizes, dtype=np.float64)
    n = s.sum()
    within = s * (s - 1)
    q = within.sum() / (n * (n - 1))
    r3 = np.sum(within * (s - 2)) / (n * (n - 1) * (n - 2))
    r4 = (np.sum(within * (s - 2) * (s - 3)) + within.sum() ** 2 - np.sum(within ** 2)) / (
        n * (n - 1) * (n - 2) * (n - 3))
    d = np.asarray(degrees, dtype=np.float64)
    n_pairs = d.sum() / 2
    sharing = np.sum(d * (d - 1))                 # ordered pairs of pairs with one sample in common
    disjoint = n_pairs * (n_pairs - 1) - sharing
    variance = n_pairs * q * (1 - q) + sharing * (r3 - q * q) + disjoint * (r4 - q * q)
    return n_pairs, n_pairs * q, variance


def home_batch_moments(sizes):
    """Mean and variance of the number of samples in their home batch in one epoch.

    sizes: the batch sizes of an epoch (a uniformly random permutation cut into slices of these
    sizes); sample i's home batch is the one that holds position i. A sample is at home with
    probability s / n (s its home batch's size); two samples of one home batch both are with
    probability s (s - 1) / (n (n - 1)), two of home batches of sizes s and t with s t / (n (n - 1)).
    """
    s = np.asarray(sizes, dtype=np.float64)
    n = s.sum()
    mean = np.sum(s * s) / n
    both = (np.sum(s * s * (s - 1) ** 2) + np.sum(s * s) ** 2 - np.sum(s ** 4)) / (n * (n - 1))
    return mean, mean + both - mean ** 2


def index_batch_moments(sizes):
    """Scale, variance and largest value of S = sum_i (i - mean index) * batch number of sample i.

    Returns (scale, variance, reach): S / scale is the correlation of index and batch number in one
    epoch (scale = the square root of the product of their sums of squares about the mean), its
    mean is 0 for a uniformly random permutation and its variance sum (a - mean)^2 sum (c - mean)^2 /
    (n - 1) (Hoeffding's combinatorial variance); |S| <= reach, the value of the unshuffled order.
    """
    s = np.asarray(sizes, dtype=np.int64)
    n = int(s.sum())
    a = np.arange(n) - (n - 1) / 2
    c = np.repeat(np.arange(len(s)), s).astype(np.float64)
    c -= c.mean()
    sum_a, sum_c = np.sum(a * a), np.sum(c * c)
    return math.sqrt(sum_a * sum_c), sum_a * sum_c / (n - 1), float(np.sum(a * c))


def bernstein_bound(n_terms, variance, excess, reach=1.0):
    """Bernstein's inequality: an upper bound on the probability that the mean of ``n_terms``
    independent values, each at most ``reach`` above its mean and of the given variance, exceeds
    its mean by ``excess`` (for the lower tail: each at most ``reach`` below its mean)."""
    return math.exp(-n_terms * excess ** 2 / (2 * variance + 2 * reach * excess / 3))


def false_failure_bounds():
    """{statistic: bound on the probability that a correct answer fails it}, for the statistics of
    ``check_minibatches`` (a repeated epoch is left out: its probability is below 1e-60)."""
    n_samples, batch_size = STATISTICS_SHAPE
    sizes = _sizes(n_samples, batch_size)
    kept, kept_mean, kept_variance = batch_pair_moments(sizes, [s - 1 for s in sizes for _ in range(s)])
    adjacent, adjacent_mean, adjacent_variance = batch_pair_moments(sizes, [1] + [2] * (n_samples - 2) + [1])
    p = sizes[0] / n_samples
    home_mean, home_variance = home_batch_moments(sizes)
    scale, index_variance, reach = index_batch_moments(sizes)
    n_orders = math.factorial(ORDERS_SHAPE[0])
    q = 1 / n_orders
    return {
        "pairs kept from the previous epoch": bernstein_bound(N_EPOCHS // 2, kept_variance / kept ** 2, PAIR_MARGIN),
        "neighbouring indices together": bernstein_bound(N_EPOCHS, adjacent_variance / adjacent ** 2, ADJACENT_MARGIN),
        "first batch, any sample, either side": 2 * n_samples * bernstein_bound(N_EPOCHS, p * (1 - p),
                                                                                FIRST_BATCH_MARGIN),
        # The share at home lies in [0, 1]: at most its mean below it, 1 - mean above.
        "samples at home, fewer": bernstein_bound(N_EPOCHS, home_variance / n_samples ** 2, HOME_MARGIN_BELOW,
                                                  reach=home_mean / n_samples),
        "samples at home, more": bernstein_bound(N_EPOCHS, home_variance / n_samples ** 2, HOME_MARGIN_ABOVE,
                                                 reach=1 - home_mean / n_samples),
        # S / reach lies in [-1, 1] with mean 0.
        "index and batch correlated, either sign": 2 * bernstein_bound(
            N_EPOCHS, index_variance / reach ** 2, CORRELATION_MARGIN * scale / reach),
        # Each order's indicator lies in [0, 1] with mean 1/24: at most 1/24 below it, 23/24 above.
        "an order of 4 samples too rare or too common": n_orders * (
            bernstein_bound(N_EPOCHS, q * (1 - q), ORDER_MARGIN, reach=q)
            + bernstein_bound(N_EPOCHS, q * (1 - q), ORDER_MARGIN, reach=1 - q)),
    }


def _batch_labels(batches, n_samples):
    labels = np.empty(n_samples, dtype=np.int64)
    for number, batch in enumerate(batches):
        labels[batch] = number
    return labels


def _check_statistics(minibatches, name):
    n_samples, batch_size = STATISTICS_SHAPE
    sizes = _sizes(n_samples, batch_size)
    epochs = call(_epochs, minibatches, n_samples, batch_size, np.random.default_rng(2024), N_EPOCHS,
                  name=name, allowed=(_epochs,), on_error=_RETURN)
    labels = np.empty((N_EPOCHS, n_samples), dtype=np.int64)
    for epoch, result in enumerate(epochs):
        batches = _as_batches(result, n_samples, batch_size, name)
        _check_epoch(batches, n_samples, batch_size, name)
        labels[epoch] = _batch_labels(batches, n_samples)
    intro = f"{N_EPOCHS} epochs of {name}({n_samples}, {batch_size}, rng), one generator"

    # The same batches (in any order) in two epochs: each sample's smallest batch-mate.
    same = labels[:, :, None] == labels[:, None, :]
    first_mate = np.argmax(same, axis=2)
    _, first_epoch, inverse = np.unique(first_mate, axis=0, return_index=True, return_inverse=True)
    repeats = N_EPOCHS - len(first_epoch)
    if repeats:
        epoch = int(np.flatnonzero(first_epoch[inverse.ravel()] != np.arange(N_EPOCHS))[0])
        earlier = int(first_epoch[inverse.ravel()[epoch]])
        if repeats == N_EPOCHS - 1:
            problem = ("every epoch puts the same samples together: the batches are fixed, and only the "
                       "order inside them or their order in the epoch changes.")
        else:
            problem = (f"{repeats} epochs repeat the batches of an earlier one (epoch {epoch} those of "
                       f"epoch {earlier}); a fresh shuffle never repeats in {N_EPOCHS} epochs.")
        raise CheckFailed(f"{intro}: {problem}", hint=_RESHUFFLE)

    # Pairs that share a batch in epoch 2t, and in epoch 2t + 1 again (independent pairs of epochs).
    kept_pairs, kept_mean, _ = batch_pair_moments(sizes, [s - 1 for s in sizes for _ in range(s)])
    upper = np.triu(np.ones((n_samples, n_samples), dtype=bool), 1)
    kept = np.sum(same[0::2] & same[1::2] & upper, axis=(1, 2)) / kept_pairs
    expected = kept_mean / kept_pairs
    if kept.mean() > expected + PAIR_MARGIN:
        raise CheckFailed(
            f"{intro}: two samples that share a batch in one epoch share one again in the next epoch "
            f"{kept.mean():.1%} of the time; a fresh shuffle of all the indices makes that "
            f"{expected:.1%}. Part of each batch stays together from epoch to epoch.", hint=_RESHUFFLE)

    adjacent = np.mean(labels[:, 1:] == labels[:, :-1], axis=1)
    if adjacent.mean() > expected + ADJACENT_MARGIN:
        raise CheckFailed(
            f"{intro}: neighbouring indices i and i + 1 share a batch in {adjacent.mean():.1%} of the "
            f"cases; a fresh shuffle makes that {expected:.1%}. The order is only partly shuffled "
            "(rotated, or shuffled in blocks).", hint=_RESHUFFLE)

    in_first = np.mean(labels == 0, axis=0)
    p = sizes[0] / n_samples
    worst = int(np.argmax(np.abs(in_first - p)))
    if abs(in_first[worst] - p) > FIRST_BATCH_MARGIN:
        raise CheckFailed(
            f"{intro}: sample {worst} is in the first batch in {in_first[worst]:.1%} of the epochs; "
            f"in a fresh shuffle every sample is, {p:.1%} of the time. Some positions are not shuffled.",
            hint=_RESHUFFLE)

    # Every order equally likely: a sample is in its home batch (the one holding position i) as
    # often as chance says, and its batch number does not follow its index.
    home_mean, _ = home_batch_moments(sizes)
    home = np.mean(labels == np.repeat(np.arange(len(sizes)), sizes)[None, :])
    expected_home = home_mean / n_samples
    if home < expected_home - HOME_MARGIN_BELOW or home > expected_home + HOME_MARGIN_ABOVE:
        fewer = home < expected_home
        raise CheckFailed(
            f"{intro}: a sample is in the batch of its own position (sample i in batch i // {batch_size}) "
            f"in {home:.2%} of the cases; a uniform shuffle, every order equally likely, makes that "
            f"{expected_home:.2%}. The shuffle is biased: "
            + ("it keeps samples away from their own position." if fewer else
               "it leaves samples near their own position."),
            hint=(_BY_HAND + (" A loop that draws j from range(i) instead of range(i + 1) never leaves a "
                              "sample in place." if fewer else "")))
    scale, _, _ = index_batch_moments(sizes)
    centred = np.arange(n_samples) - (n_samples - 1) / 2
    correlation = float(np.mean(labels @ centred)) / scale
    if abs(correlation) > CORRELATION_MARGIN:
        raise CheckFailed(
            f"{intro}: a sample's batch number is correlated with its index (correlation {correlation:.3f} "
            f"on average; a uniform shuffle, every order equally likely, gives 0, within "
            f"{CORRELATION_MARGIN}). The shuffle is biased: some orders come up more often than others.",
            hint=_BY_HAND + " A loop that swaps position i with any of the n positions (j from range(n)) "
                            "is biased.")
    _check_orders(minibatches, name)


def _check_orders(minibatches, name):
    """Every order of a few samples comes up equally often (batches of one: the epoch is the order)."""
    n_samples, batch_size = ORDERS_SHAPE
    epochs = call(_epochs, minibatches, n_samples, batch_size, np.random.default_rng(2025), N_EPOCHS,
                  name=name, allowed=(_epochs,), on_error=_RETURN)
    orders = list(itertools.permutations(range(n_samples)))
    number = {order: i for i, order in enumerate(orders)}
    counts = np.zeros(len(orders), dtype=np.int64)
    for result in epochs:
        batches = _as_batches(result, n_samples, batch_size, name)
        counts[number[tuple(_check_epoch(batches, n_samples, batch_size, name).tolist())]] += 1
    shares = counts / N_EPOCHS
    expected = 1 / len(orders)
    worst = int(np.argmax(np.abs(shares - expected)))
    if abs(shares[worst] - expected) <= ORDER_MARGIN:
        return
    order = ", ".join(map(str, orders[worst]))
    problem = (f"{N_EPOCHS} epochs of {name}({n_samples}, {batch_size}, rng), one generator: the order "
               f"{order} came up in {shares[worst]:.1%} of the epochs; a uniform shuffle, every order "
               f"equally likely, gives each of the {len(orders)} orders {expected:.1%}. The shuffle is "
               "biased.")
    if worst == 0 and shares[worst] > expected:
        raise CheckFailed(problem + " The samples keep their index order too often, as they do when "
                          "random keys tie: sorting rng.integers(0, n, n) (or any keys with repeated "
                          "values) leaves tied samples in index order.",
                          hint="Sort keys that cannot tie, np.argsort(rng.random(n_samples)), or better, "
                               "use rng.permutation(n_samples).")
    raise CheckFailed(problem, hint=_BY_HAND)


def check_minibatches(minibatches):
    """Exercise 4.2: ``minibatches(n_samples, batch_size, rng)``, one epoch's batches of indices."""
    name = "minibatches"
    for n_samples, batch_size in _EPOCH_SHAPES:
        result = call(minibatches, n_samples, batch_size, np.random.default_rng(n_samples), name=name,
                      on_error=_RETURN)
        everything = _check_epoch(_as_batches(result, n_samples, batch_size, name), n_samples, batch_size, name)
        if n_samples >= 20 and np.array_equal(everything, np.arange(n_samples)):  # 1 / 20! by chance
            raise CheckFailed(f"{name}({n_samples}, {batch_size}, rng): the batches take the samples in "
                              "their stored order.",
                              hint="Shuffle them: split rng.permutation(n_samples) instead of "
                                   "np.arange(n_samples).")

    n_samples, batch_size = 103, 10

    def epoch(rng):
        result = call(minibatches, n_samples, batch_size, rng, name=name, on_error=_RETURN)
        return [batch.tolist() for batch in _as_batches(result, n_samples, batch_size, name)]

    rng = np.random.default_rng(1)
    first, second = epoch(rng), epoch(rng)
    if first == second:
        raise CheckFailed(f"{name}: two epochs with the same generator gave the same batches.",
                          hint="Draw the permutation from rng in every call, so that each epoch is "
                               "reshuffled; do not make a new generator with a fixed seed.")
    if epoch(np.random.default_rng(1)) != first:
        raise CheckFailed(f"{name}: two generators with the same seed gave different batches.",
                          hint="Draw every random number from the rng argument, not from np.random or "
                               "a generator of your own.")
    if epoch(np.random.default_rng(7)) == first:
        raise CheckFailed(f"{name}: generators with different seeds gave the same batches.",
                          hint="Draw the permutation from the rng argument, not from a generator "
                               "with a fixed seed.")
    _check_statistics(minibatches, name)
    passed(f"every sample once per epoch, the last batch smaller, and over {N_EPOCHS} epochs the "
           "batches are reshuffled as a fresh permutation reshuffles them, every order of "
           f"{ORDERS_SHAPE[0]} samples equally often.")


# ---------------------------------------------------------------------------------------------
# Exercise 4.3: retrieval precision.

def _precision_from(indices, y_train, y_query):
    return float(np.mean(y_train[indices] == y_query[:, None]))


def _precision(Z_train, y_train, Z_query, y_query, k):
    indices, _ = nearest_neighbors(Z_train, Z_query, k)
    return _precision_from(indices, y_train, y_query)


def _nearest_by(distances, k):
    return np.argsort(distances, axis=1, kind="stable")[:, :k]


def _l1_precision(Z_train, y_train, Z_query, y_query, k):
    distances = np.sum(np.abs(Z_query[:, None, :] - Z_train[None, :, :]), axis=2)
    return _precision_from(_nearest_by(distances, k), y_train, y_query)


def _cosine_precision(Z_train, y_train, Z_query, y_query, k):
    norms = np.linalg.norm(Z_query, axis=1)[:, None] * np.linalg.norm(Z_train, axis=1)[None, :]
    distances = 1 - (Z_query @ Z_train.T) / np.where(norms > 0, norms, 1.0)
    return _precision_from(_nearest_by(distances, k), y_train, y_query)


def _dropped_nearest(Z_train, y_train, Z_query, y_query, k):
    if k >= len(Z_train):
        return None
    indices, _ = nearest_neighbors(Z_train, Z_query, k + 1)
    return _precision_from(indices[:, 1:], y_train, y_query)


def _without_distance_zero(Z_train, y_train, Z_query, y_query, k):
    distances = np.sum((Z_query[:, None, :] - Z_train[None, :, :]) ** 2, axis=2)
    if not np.any(distances == 0) or np.min(np.sum(distances > 0, axis=1)) < k:
        return None
    return _precision_from(_nearest_by(np.where(distances == 0, np.inf, distances), k), y_train, y_query)


def _farthest(Z_train, y_train, Z_query, y_query, k):
    distances = np.sum((Z_query[:, None, :] - Z_train[None, :, :]) ** 2, axis=2)
    return _precision_from(_nearest_by(distances, len(Z_train))[:, len(Z_train) - k:], y_train, y_query)


def _shifted_k(shift):
    def precision(Z_train, y_train, Z_query, y_query, k):
        return _precision(Z_train, y_train, Z_query, y_query, k + shift) if 1 <= k + shift <= len(Z_train) else None
    return precision


def _per_class_mean(Z_train, y_train, Z_query, y_query, k):
    indices, _ = nearest_neighbors(Z_train, Z_query, k)
    shares = np.mean(y_train[indices] == y_query[:, None], axis=1)
    return float(np.mean([shares[y_query == label].mean() for label in np.unique(y_query)]))


def _vote_accuracy(Z_train, y_train, Z_query, y_query, k):
    indices, _ = nearest_neighbors(Z_train, Z_query, k)
    return float(np.mean([np.bincount(row).argmax() == label for row, label in zip(y_train[indices], y_query)]))


def _swapped(Z_train, y_train, Z_query, y_query, k):
    if k > len(Z_query):
        return None
    indices, _ = nearest_neighbors(Z_query, Z_train, k)
    return _precision_from(indices, y_query, y_train)


def _match_count(Z_train, y_train, Z_query, y_query, k):
    indices, _ = nearest_neighbors(Z_train, Z_query, k)
    return float(np.sum(y_train[indices] == y_query[:, None]))


def _matches_per_query(Z_train, y_train, Z_query, y_query, k):
    return _match_count(Z_train, y_train, Z_query, y_query, k) / len(Z_query)


def _hit_rate(Z_train, y_train, Z_query, y_query, k):
    indices, _ = nearest_neighbors(Z_train, Z_query, k)
    return float(np.mean(np.any(y_train[indices] == y_query[:, None], axis=1)))


def _transposed_labels(Z_train, y_train, Z_query, y_query, k):
    if k != len(Z_query):
        return None
    indices, _ = nearest_neighbors(Z_train, Z_query, k)
    return float(np.mean(y_train[indices] == y_query[None, :]))


def _fixed_k(other):
    def precision(Z_train, y_train, Z_query, y_query, k):
        return _precision(Z_train, y_train, Z_query, y_query, other) if other <= len(Z_train) else None
    return precision


def _retrieval_mistakes(cases):
    """[(explanation, value_of(case))]: the known mistakes, most specific first."""
    mistakes = [
        ("These are the neighbours by the L1 (Manhattan) distance, the sum of |differences|. The "
         "exercise uses the Euclidean distance, as aelib.nearest_neighbors does.", _l1_precision),
        ("These are the neighbours by the cosine distance (the angle between codes). The exercise uses "
         "the Euclidean distance, as aelib.nearest_neighbors does.", _cosine_precision),
        ("That leaves out each query's nearest training code. The queries are not among the training "
         "codes, so there is nothing to exclude: keep all k.", _dropped_nearest),
        ("That leaves out the training codes at distance 0 from the query, as if they were the query "
         "itself. The queries are not part of the training codes: a training code equal to a query is a "
         "neighbour like any other; keep it.", _without_distance_zero),
        ("Those are the k farthest training codes. Sort the distances in increasing order and take the "
         "first k (aelib.nearest_neighbors gives them nearest first).", _farthest),
        ("That is the precision of k - 1 neighbours: one too few. Take all k nearest training codes "
         "(indices[:, :k], or aelib.nearest_neighbors(Z_train, Z_query, k) as it is).", _shifted_k(-1)),
        ("That is the precision of k + 1 neighbours: one too many. Take the k nearest training codes.",
         _shifted_k(1)),
        ("The i-th neighbours were compared with the i-th query's label. Compare each query's "
         "neighbours with its own label: y_train[indices] == y_query[:, None].", _transposed_labels),
        ("That averages per class first. Average the shares of all the queries, each query counting "
         "once.", _per_class_mean),
        ("That is the accuracy of the majority vote. The precision counts every one of the k "
         "neighbours: the share of them with the query's label.", _vote_accuracy),
        ("That searches the queries for each training code. Search the training codes (the "
         "collection) for each query.", _swapped),
        ("That is the number of matching neighbours. Divide each query's count by k and average over "
         "the queries.", _match_count),
        ("That is the mean number of matching neighbours per query. Divide by k: the precision is a "
         "share.", _matches_per_query),
        ("That is the share of queries whose nearest neighbour matches. Count the matches among all k "
         "neighbours.", _fixed_k(1)),
        ("That is the share of queries with at least one matching neighbour. The precision is the share "
         "of the k neighbours that match, averaged over the queries.", _hit_rate),
    ]
    for other in sorted({other for case in cases for other in range(2, len(case[1]) + 1)}):
        mistakes.append((f"That is the precision of {other} neighbours whatever k is; pass k on to "
                         f"aelib.nearest_neighbors{' (its default is 5)' if other == 5 else ''}.",
                         _fixed_k(other)))
    return [(explanation, lambda case, value_of=value_of: value_of(*case[1:])) for explanation, value_of in mistakes]


def _tie_range(Z_train, y_train, Z_query, y_query, k):
    """The lowest and highest precision over every way of breaking ties at the k-th distance."""
    distances = np.sum((Z_query[:, None, :] - Z_train[None, :, :]) ** 2, axis=2)
    low = high = 0
    for row, label in zip(distances, y_query):
        kth = np.sort(row)[k - 1]
        closer, tied = row < kth, row == kth
        matches = np.sum(closer & (y_train == label))
        free = k - closer.sum()
        tied_matches = np.sum(tied & (y_train == label))
        low += matches + max(0, free - (tied.sum() - tied_matches))
        high += matches + min(free, tied_matches)
    return low / (k * len(y_query)), high / (k * len(y_query))


def _retrieval_cases():
    """(description, Z_train, y_train, Z_query, y_query, k) for every input the check tries."""
    cases = [("6 training and 3 query codes in 2-D, k=3",
              np.array([[0.0, 0.0], [0.1, 0.0], [0.0, 0.2], [1.0, 1.0], [1.1, 1.0], [0.5, 0.5]]),
              np.array([0, 0, 1, 1, 1, 0]), np.array([[0.05, 0.05], [1.0, 0.9], [0.6, 0.6]]),
              np.array([0, 1, 0]), 3)]
    rng = np.random.default_rng(0)
    cases.append(("40 random 3-D training codes and 15 queries, k=4", rng.standard_normal((40, 3)),
                  rng.integers(0, 3, 40), rng.standard_normal((15, 3)), rng.integers(0, 3, 15), 4))
    # Codes on a grid: many training codes at the same distance from a query, ties at the k-th.
    cases.append(("30 training and 12 query codes on a grid (ties at the k-th distance), k=5",
                  rng.integers(-2, 3, (30, 2)).astype(np.float64), rng.integers(0, 3, 30),
                  rng.integers(-2, 3, (12, 2)).astype(np.float64), rng.integers(0, 3, 12), 5))
    # Codes in 64-D with unbalanced classes; one query equals a training code.
    Z_train = rng.random((50, 64)) + 0.5
    y_train = rng.choice([3, 7, 9], size=50, p=[0.6, 0.3, 0.1])
    Z_query = rng.random((12, 64)) + 0.5
    Z_query[4] = Z_train[17]
    y_query = np.array([3, 3, 3, 3, y_train[17], 3, 3, 9, 7, 3, 3, 3])
    cases.append(("50 training and 12 query codes in 64-D, classes 3, 7 and 9, k=7",
                  Z_train, y_train, Z_query, y_query, 7))
    cases.append(("the same codes with k=1", Z_train, y_train, Z_query, y_query, 1))
    cases.append(("the same codes with k=50, every training code", Z_train, y_train, Z_query, y_query, 50))
    return cases


def check_retrieval_precision(retrieval_precision):
    """Exercise 4.3: ``retrieval_precision(Z_train, y_train, Z_query, y_query, k)``, the mean share of
    each query's k nearest training codes that carry the query's label."""
    name = "retrieval_precision"
    average = "Average the shares of the queries into one number."
    shapes = ("Z_train is (n_train, m), Z_query (n_query, m); aelib.nearest_neighbors(Z_train, Z_query, k) "
              "gives indices of shape (n_query, k), so compare y_train[indices] with y_query[:, None].")
    cases, results, actuals = _retrieval_cases(), [], []
    for description, Z_train, y_train, Z_query, y_query, k in cases:
        what = f"{name}(Z_train, y_train, Z_query, y_query, k={k}) on {description}"

        def explained(error, n_train=len(Z_train), k=k):
            # aelib.nearest_neighbors refuses k + 1 neighbours where k is every training code.
            if str(error) == f"k must be at most the number of reference samples ({n_train}), got {k + 1}":
                return (f"You asked aelib.nearest_neighbors for k + 1 = {k + 1} neighbours, as if to drop "
                        "the first: that leaves out each query's nearest training code. The queries are "
                        "not among the training codes, so there is nothing to exclude: take the k nearest, "
                        "aelib.nearest_neighbors(Z_train, Z_query, k), and keep them all.")
            return shapes

        result = call(retrieval_precision, Z_train.copy(), y_train.copy(), Z_query.copy(), y_query.copy(), k,
                      name=name, allowed=(nearest_neighbors,), on_error=explained)
        if np.shape(result) == (len(Z_query),) and len(Z_query) > 1:
            raise CheckFailed(f"{what}: expected one number, the mean over the queries, got one value "
                              "per query.", expected=f"{_precision(Z_train, y_train, Z_query, y_query, k):.6g}",
                              actual=_short_list(np.round(as_numbers(result), 4).tolist()), hint=average)
        results.append(result)
        actuals.append(_number(result, what, average))
    for index, (case, result, actual) in enumerate(zip(cases, results, actuals)):
        description, Z_train, y_train, Z_query, y_query, k = case
        expected = _precision(Z_train, y_train, Z_query, y_query, k)
        if np.isclose(actual, expected, rtol=COUNT_RTOL, atol=0.0):
            continue
        what = f"{name}(Z_train, y_train, Z_query, y_query, k={k}) on {description}"
        _float64_first(result, expected, what)
        explanation = _explanation(_retrieval_mistakes(cases), cases, actuals, _same_number, index)
        if explanation:
            raise _mismatch(what, expected, actual, explanation)
        ranges = [_tie_range(*other[1:]) for other in cases]
        if all(low - 1e-12 <= value <= high + 1e-12 for value, (low, high) in zip(actuals, ranges)):
            raise _mismatch(what, expected, actual,
                            "Your answer differs only where several training codes lie at the same "
                            "distance as the k-th neighbour. Break such ties in favour of the training "
                            "code that comes first, as aelib.nearest_neighbors does (or "
                            "np.argsort(..., kind='stable')).")
        expect_close(result, expected, what, rtol=COUNT_RTOL, atol=0.0,
                     hint="For each query take its k nearest training codes by Euclidean distance "
                          "(aelib.nearest_neighbors), count those with the query's label, divide by k, "
                          "and average over the queries.")
    passed("retrieval_precision agrees with the k nearest training codes, ties, duplicates and "
           "every k included.")


# ---------------------------------------------------------------------------------------------
# Exercise 4.5: a threshold chosen on the validation part, rates measured on the test part.

def smallest_threshold(scores, max_rate, candidates=None):
    """The smallest of ``scores`` (or of ``candidates``) that flags (s >= tau) at most a share
    ``max_rate`` of ``scores``, or inf if none does."""
    candidates = np.unique(scores if candidates is None else candidates)
    flagged = np.sum(scores[None, :] >= candidates[:, None], axis=1) / len(scores)
    meets = flagged <= max_rate
    return float(candidates[meets][0]) if meets.any() else np.inf


def _bound_on_all_validation(case):
    """The smallest normal validation score that flags at most the share of all validation digits."""
    _, _, val, is_anomaly_val, _, _, rate = case
    normal = np.unique(val[~is_anomaly_val])
    meets = np.sum(val[None, :] >= normal[:, None], axis=1) / len(val) <= rate
    return float(normal[meets][0]) if meets.any() else np.inf


def _threshold_cases():
    """(description, scores_train, scores_val, is_anomaly_val, scores_test, is_anomaly_test, rate).

    Lognormal scores like a detector's (anomalies higher, training digits lower than new ones);
    a bound that a share of exactly max_false_alarm_rate meets; integer scores whose tied block
    straddles the bound, with test scores equal to the threshold; and a bound no score meets.
    """
    rng = np.random.default_rng(5)

    def shuffled(normal, anomalous):
        scores = np.concatenate([normal, anomalous])
        order = rng.permutation(len(scores))
        return scores[order], (np.arange(len(scores)) >= len(normal))[order]

    def lognormal(n_normal, n_anomalous):
        return shuffled(np.exp(rng.normal(-3.5, 0.5, n_normal)), np.exp(rng.normal(-2.3, 0.5, n_anomalous)))

    def training(n):
        return np.exp(rng.normal(-3.8, 0.45, n))

    chapter = (training(970), *lognormal(243, 27), *lognormal(405, 45))
    # 8, 8, ... (6 of them), 7 (6 of them), ...: at most 20% of 50 is 10, inside the block of 7s.
    tied_normal = np.repeat(np.arange(1.0, 9.0), [5, 5, 6, 7, 8, 7, 6, 6])
    tied = (rng.integers(0, 8, 200).astype(np.float64),
            *shuffled(tied_normal, np.array([9.0, 10, 11, 12, 12, 2, 8, 9, 10, 11])),
            *shuffled(np.repeat(np.arange(1.0, 9.0), 10), np.array([8.0, 8, 9, 9, 10, 10, 11, 12, 5, 7])))
    return [
        ("243 normal and 27 anomalous validation scores, 405 and 45 test scores, at most 5%", *chapter, 0.05),
        ("the same scores, at most 20%", *chapter, 0.2),
        ("40 normal validation scores, at most 10% (exactly 4 may be flagged)",
         training(300), *lognormal(40, 8), *lognormal(100, 20), 0.1),
        ("integer scores with ties, 50 normal validation scores, at most 20%", *tied, 0.2),
        ("60 normal validation scores, at most 1% (fewer than one digit)",
         training(300), *lognormal(60, 10), *lognormal(70, 10), 0.01),
    ]


def _rates(tau, scores, is_anomaly, flag=np.greater_equal):
    flagged = flag(scores, tau)
    return float(np.mean(flagged[~is_anomaly])), float(np.mean(flagged[is_anomaly]))


def _expected_tau(case):
    _, _, val, is_anomaly_val, _, _, rate = case
    return smallest_threshold(val[~is_anomaly_val], rate)


def _same_threshold(actual, value):
    return actual == value or bool(np.isfinite(value) and np.isclose(actual, value, rtol=COUNT_RTOL, atol=0.0))


_THRESHOLD_MISTAKES = [
    ("That threshold is chosen on the normal test digits. The test part is only for measuring: "
     "choose tau on the normal validation digits, then measure the rates on the test part.",
     lambda case: smallest_threshold(case[4][~case[5]], case[6])),
    ("That threshold is chosen on the training digits. The detector rebuilds its own training digits "
     "better than new ones, so their scores are too low: choose on the validation part.",
     lambda case: smallest_threshold(case[1], case[6])),
    ("That threshold is chosen on the training and validation digits together. Choose it on the "
     "normal validation digits only.",
     lambda case: smallest_threshold(np.concatenate([case[1], case[2][~case[3]]]), case[6])),
    ("That threshold is chosen on all the normal digits, training, validation and test together. "
     "Choose it on the normal validation digits only; the test digits are only for measuring.",
     lambda case: smallest_threshold(np.concatenate([case[1], case[2][~case[3]], case[4][~case[5]]]), case[6])),
    ("That threshold is chosen on the anomalous validation digits: scores_val[is_anomaly_val] selects "
     "the anomalies. The bound is on false alarms, so use the normal ones, scores_val[~is_anomaly_val].",
     lambda case: smallest_threshold(case[2][case[3]], case[6])),
    ("That tau is an anomalous validation digit's score. The candidates are the normal validation "
     "scores only: tau is the smallest of them within the bound (or np.inf).",
     lambda case: smallest_threshold(case[2][~case[3]], case[6], candidates=case[2])),
    ("That bounds the share of all the validation digits flagged, anomalies included. The bound is on "
     "false alarms: the share of the normal validation digits flagged.", _bound_on_all_validation),
    ("That threshold is chosen on all the validation digits, anomalies included. The bound is on "
     "false alarms: use the normal validation digits only.",
     lambda case: smallest_threshold(case[2], case[6])),
    ("That is the threshold for at most 5% false alarms whatever the bound; use the "
     "max_false_alarm_rate argument.",
     lambda case: smallest_threshold(case[2][~case[3]], 0.05)),
]


def _threshold_hint(tau, case):
    """What is wrong with a threshold that no known mistake explains on every input."""
    _, _, val, is_anomaly_val, _, _, rate = case
    normal_val = val[~is_anomaly_val]
    m = len(normal_val)
    flagged = int(np.sum(normal_val >= tau))
    share = f"{flagged} of the {m} normal validation digits ({flagged / m:.1%})"
    if _expected_tau(case) == np.inf:
        top = int(np.sum(normal_val == normal_val.max()))
        return (f"No normal validation score meets this bound: even the largest flags {top} of the {m} "
                f"({top / m:.1%}), more than {rate:.0%}. Then tau is np.inf, which flags nothing, as the "
                "exercise says.")
    if flagged / m >= 0.5 > rate:
        return (f"That tau flags {share}: the wrong tail. The detector flags high scores, s >= tau; "
                "tau must leave all but a share max_false_alarm_rate of the normal digits below it.")
    if tau != np.inf and not np.any(normal_val == tau):
        return (f"That tau ({_show(tau)}) is not one of the normal validation scores (an interpolated "
                "quantile, or a value between two scores?). Choose the smallest normal validation score "
                "that meets the bound.")
    if flagged / m > rate:
        return (f"That tau flags {share}, more than the {rate:.0%} allowed: a digit with s = tau is "
                "flagged too (s >= tau), and tied scores are flagged together.")
    return (f"That tau flags {share}, within the {rate:.0%} allowed, but a smaller normal validation "
            "score does too ('at most' includes a share equal to the bound). Take the smallest.")


def _test_rates(case, flag=np.greater_equal):
    return _rates(_expected_tau(case), case[4], case[5], flag)


def _shares_of_all(case):
    flagged = case[4] >= _expected_tau(case)
    return float(np.mean(flagged & ~case[5])), float(np.mean(flagged & case[5]))


def _precision_second(case):
    flagged = case[4] >= _expected_tau(case)
    if not flagged.any():
        return None
    return _test_rates(case)[0], float(np.mean(case[5][flagged]))


def _false_discovery_first(case):
    flagged = case[4] >= _expected_tau(case)
    if not flagged.any():
        return None
    return float(np.mean(~case[5][flagged])), _test_rates(case)[1]


_RATE_MISTAKES = [
    ("Those are the rates on the validation digits, where tau was chosen. Measure them on the test "
     "digits: that is what tau does on new digits.",
     lambda case: _rates(_expected_tau(case), case[2], case[3])),
    ("Those count only s > tau. A digit whose score equals tau is flagged (s >= tau).",
     lambda case: _test_rates(case, np.greater)),
    ("The two rates are swapped: false_alarm_rate comes first.", lambda case: _test_rates(case)[::-1]),
    ("Those are percentages; return shares, between 0 and 1.",
     lambda case: tuple(100 * rate for rate in _test_rates(case))),
    ("The first rate is the share of normal test digits NOT flagged (the specificity); the false-alarm "
     "rate is the share that is flagged.", lambda case: (1 - _test_rates(case)[0], _test_rates(case)[1])),
    ("Those are counts; divide by the number of normal (anomalous) test digits.",
     lambda case: tuple(float(np.sum(case[4][mask] >= _expected_tau(case))) for mask in (~case[5], case[5]))),
    ("Those are shares of all the test digits. The false-alarm rate is a share of the normal test "
     "digits, the detection rate a share of the anomalous ones.", _shares_of_all),
    ("The second value is the share of anomalous test digits NOT flagged (the miss rate); the "
     "detection rate is the share that is flagged.", lambda case: (_test_rates(case)[0], 1 - _test_rates(case)[1])),
    ("The first value is the share of normal digits among the flagged ones. The false-alarm rate is "
     "the share of the normal test digits that are flagged.", _false_discovery_first),
    ("The second value is the share of anomalies among the flagged digits (the precision). The "
     "detection rate is the share of the anomalous test digits that are flagged.", _precision_second),
]


def _same_rates(actual, values):
    return bool(np.allclose(actual, values, rtol=1e-9, atol=0.0))


def check_threshold_and_rates(threshold_and_rates):
    """Exercise 4.5: ``threshold_and_rates(scores_train, scores_val, is_anomaly_val, scores_test,
    is_anomaly_test, max_false_alarm_rate)`` -> (tau, false_alarm_rate, detection_rate)."""
    name = "threshold_and_rates"
    cases, results = _threshold_cases(), []
    for case in cases:
        description, train, val, is_anomaly_val, test, is_anomaly_test, rate = case
        result = call(threshold_and_rates, train.copy(), val.copy(), is_anomaly_val.copy(), test.copy(),
                      is_anomaly_test.copy(), rate, name=name,
                      on_error="Every scores array is 1-D; is_anomaly_val and is_anomaly_test are "
                               "booleans of the shapes of scores_val and scores_test.")
        values = as_numbers(result) if isinstance(result, (tuple, list, np.ndarray)) else None
        if values is None or values.shape != (3,):
            raise CheckFailed(f"{name}(...) on {description}: expected three numbers.",
                              actual=repr(result)[:60],
                              hint="Return a tuple (tau, false_alarm_rate, detection_rate).")
        results.append((result, values))

    taus = [float(values[0]) for _, values in results]
    for index, (case, (result, values), tau) in enumerate(zip(cases, results, taus)):
        expected = _expected_tau(case)
        if _same_threshold(tau, expected):
            continue
        what = f"{name}(...) on {case[0]}: tau is wrong."
        hint = (_explanation(_THRESHOLD_MISTAKES, cases, taus, _same_threshold, index)
                or _threshold_hint(tau, case))
        if np.isfinite(tau) and np.isfinite(expected) and np.isclose(tau, expected, rtol=1e-5):
            expect_close(result[0], expected, what[:-1], rtol=COUNT_RTOL, atol=0.0, hint=hint)
        raise CheckFailed(what, expected=_show(expected), actual=_show(tau), hint=hint)

    rates = [(float(values[1]), float(values[2])) for _, values in results]
    for index, (case, (result, _), actual) in enumerate(zip(cases, results, rates)):
        expected = _test_rates(case)
        if np.allclose(actual, expected, rtol=COUNT_RTOL, atol=0.0):
            continue
        what = f"{name}(...) on {case[0]}"
        explanation = _explanation(_RATE_MISTAKES, cases, rates, _same_rates, index)
        if explanation:
            raise CheckFailed(f"{what}: the rates are wrong (tau is right).",
                              expected=f"({expected[0]:.6g}, {expected[1]:.6g})",
                              actual=f"({actual[0]:.6g}, {actual[1]:.6g})", hint=explanation)
        for position, label in ((1, "false_alarm_rate"), (2, "detection_rate")):
            expect_close(result[position], expected[position - 1], f"{what}, {label}",
                         rtol=COUNT_RTOL, atol=0.0,
                         hint="Flag the test digits with s >= tau; the false-alarm rate is the share of "
                              "normal test digits flagged, the detection rate the share of anomalous ones.")
    passed("tau is the smallest normal validation score within the bound, and the rates are "
           "measured on the test digits.")
