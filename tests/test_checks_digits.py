"""The exercise checks of chapter 4 accept correct answers written in several ways, reject the
plausible wrong ones with a message that names the mistake, and say "not implemented yet" for an
untouched stub. The statistical checks of Exercise 4.2 fail a correct answer with a probability
computed here (below 1e-10)."""

import itertools

import numpy as np
import pytest
from check_failures import accepts, fails_with, forbid_training, not_implemented

import aelib
from aelib import nearest_neighbors
from aelib.checks import check_auc_by_pairs, check_minibatches, check_retrieval_precision, check_threshold_and_rates
from aelib.checks import digits
from aelib.evaluation import rank_average, roc_auc

# ---------------------------------------------------------------------------------------------
# Exercise 4.1: the AUC from its pairs.


def auc_by_pairs(scores, is_positive):
    difference = scores[is_positive][:, None] - scores[~is_positive][None, :]
    return np.mean((difference > 0) + 0.5 * (difference == 0))


def auc_by_loops(scores, is_positive):
    total, pairs = 0.0, 0
    for positive in scores[is_positive]:
        for negative in scores[~is_positive]:
            total += 1.0 if positive > negative else 0.5 if positive == negative else 0.0
            pairs += 1
    return total / pairs


def auc_by_sorting(scores, is_positive):
    negative = np.sort(scores[~is_positive])
    below = np.searchsorted(negative, scores[is_positive], side="left")
    at_most = np.searchsorted(negative, scores[is_positive], side="right")
    return (below.sum() + 0.5 * (at_most - below).sum()) / (is_positive.sum() * len(negative))


def auc_by_own_ranks(scores, is_positive):
    values, inverse, counts = np.unique(scores, return_inverse=True, return_counts=True)
    mean_rank = np.cumsum(counts) - (counts - 1) / 2          # the mean of the ranks of each value
    n_positive = is_positive.sum()
    return (mean_rank[inverse][is_positive].sum() - n_positive * (n_positive + 1) / 2) / (
        n_positive * (~is_positive).sum())


@pytest.mark.parametrize("solution", [auc_by_pairs, auc_by_loops, auc_by_sorting, auc_by_own_ranks])
def test_auc_by_pairs_accepts_correct_answers(solution, capsys):
    accepts(check_auc_by_pairs, solution, capsys)


def ties_lose(scores, is_positive):
    return np.mean(scores[is_positive][:, None] > scores[~is_positive][None, :])


def ties_win(scores, is_positive):
    return np.mean(scores[is_positive][:, None] >= scores[~is_positive][None, :])


def reversed_score(scores, is_positive):
    return auc_by_pairs(-scores, is_positive)


def per_positive(scores, is_positive):
    difference = scores[is_positive][:, None] - scores[~is_positive][None, :]
    return np.mean((difference > 0) + 0.5 * (difference == 0), axis=1)


def positive_i_with_negative_i(scores, is_positive):
    positive, negative = scores[is_positive], scores[~is_positive]
    n = min(len(positive), len(negative))
    return np.mean((positive[:n] > negative[:n]) + 0.5 * (positive[:n] == negative[:n]))


def elementwise_without_broadcasting(scores, is_positive):
    positive, negative = scores[is_positive], scores[~is_positive]
    return np.mean((positive > negative) + 0.5 * (positive == negative))


def pair_count(scores, is_positive):
    difference = scores[is_positive][:, None] - scores[~is_positive][None, :]
    return np.sum((difference > 0) + 0.5 * (difference == 0))


def every_score_against_negatives(scores, is_positive):
    difference = scores[:, None] - scores[~is_positive][None, :]
    return np.mean((difference > 0) + 0.5 * (difference == 0))


def ranks_without_ties(scores, is_positive):
    ranks = np.argsort(np.argsort(scores)) + 1
    n_positive = is_positive.sum()
    return (ranks[is_positive].sum() - n_positive * (n_positive + 1) / 2) / (n_positive * (~is_positive).sum())


def ties_broken_at_random(scores, is_positive):
    # Ranks 1..n with ties in a random order (a random key sorted second), then the rank formula.
    ranks = np.empty(len(scores))
    ranks[np.lexsort((np.random.default_rng(0).random(len(scores)), scores))] = np.arange(1, len(scores) + 1)
    n_positive = is_positive.sum()
    return (ranks[is_positive].sum() - n_positive * (n_positive + 1) / 2) / (n_positive * (~is_positive).sum())


def ties_broken_by_global_noise(scores, is_positive):
    return ties_lose(scores + 1e-9 * np.random.random(len(scores)), is_positive)


def trapezoid_of_roc_curve(scores, is_positive):
    fpr, tpr, _ = aelib.roc_curve(scores, is_positive)
    return np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2)


def sorted_in_place(scores, is_positive):
    scores.sort()
    return auc_by_pairs(scores, is_positive)


def mean_in_float32(scores, is_positive):
    difference = scores[is_positive][:, None] - scores[~is_positive][None, :]
    return np.mean((difference > 0) + 0.5 * (difference == 0), dtype=np.float32)


def ties_out_of_the_denominator(scores, is_positive):
    difference = scores[is_positive][:, None] - scores[~is_positive][None, :]
    with np.errstate(invalid="ignore"):     # 0 / 0 when every pair is a tie
        return np.sum(difference > 0) / (difference.size - np.sum(difference == 0))


def scores_in_float32(scores, is_positive):
    with np.errstate(over="ignore", invalid="ignore"):
        return auc_by_pairs(scores.astype(np.float32), is_positive)


def divided_by_all_samples(scores, is_positive):
    return pair_count(scores, is_positive) / len(scores) ** 2


def flipped_below_one_half(scores, is_positive):
    auc = auc_by_pairs(scores, is_positive)
    return max(auc, 1 - auc)


def roc_walked_one_sample_at_a_time(scores, is_positive):
    # The ROC curve by hand without grouping tied scores: ties are broken by position.
    truth = is_positive[np.argsort(-scores, kind="stable")]
    tpr = np.r_[0.0, np.cumsum(truth) / truth.sum()]
    fpr = np.r_[0.0, np.cumsum(~truth) / (~truth).sum()]
    return np.sum(np.diff(fpr) * tpr[1:])


def ranks_of_distinct_values(scores, is_positive):
    ranks = np.unique(scores, return_inverse=True)[1] + 1
    n_positive = is_positive.sum()
    return (ranks[is_positive].sum() - n_positive * (n_positive + 1) / 2) / (n_positive * (~is_positive).sum())


@pytest.mark.parametrize("wrong, message", [
    (ties_lose, "tie counted as a loss"),
    (ties_win, "tie counted as a win"),
    (reversed_score, "reversed score"),
    (per_positive, "expected a single number"),
    (positive_i_with_negative_i, "compares positive i with negative i only"),
    (elementwise_without_broadcasting, "shapes do not fit.*scores\\[is_positive\\] has shape \\(n_pos,\\)"),
    (pair_count, "number of winning pairs; divide by n_pos \\* n_neg"),
    (every_score_against_negatives, "compares every score with the negatives"),
    (ranks_without_ties, "tied scores given different ranks|tied scores share the mean of their ranks"),
    (ties_broken_at_random, "between counting the \\d+ tied pairs as losses and as wins"),
    (ties_broken_by_global_noise, "used numpy's global random generator"),
    (trapezoid_of_roc_curve, "calls aelib.evaluation.roc_curve, which is part of aelib"),
    (sorted_in_place, "changed scores in place"),
    (mean_in_float32, "your result is float32.*computes in float64"),
    (divided_by_all_samples, "relative difference .* allowed 1e-12"),
    (ties_out_of_the_denominator, "leaves the tied pairs out of the count of pairs"),
    (scores_in_float32, "in float32, where \\+-1e300 become \\+-inf"),
    (roc_walked_one_sample_at_a_time, "between counting the \\d+ tied pairs as losses and as wins"),
    (ranks_of_distinct_values, "ranks of the distinct values"),
    (flipped_below_one_half, "turns an AUC below 0.5 into 1 - AUC"),
    (lambda scores, is_positive: "AUC", "expected a number, got str"),
    (not_implemented, "not implemented yet"),
])
def test_auc_by_pairs_names_the_mistake(wrong, message):
    with fails_with(message):
        check_auc_by_pairs(wrong)


def roc_auc_in_a_thread_pool(scores, is_positive):
    import concurrent.futures
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(aelib.roc_auc, scores, is_positive).result()


@pytest.mark.parametrize("own, called", [
    (lambda scores, is_positive: aelib.roc_auc(scores, is_positive), "aelib.evaluation.roc_auc"),
    (lambda scores, is_positive: aelib.evaluation.roc_auc(scores, is_positive), "aelib.evaluation.roc_auc"),
    (lambda scores, is_positive: roc_auc(scores, is_positive), "aelib.evaluation.roc_auc"),
    (lambda scores, is_positive: (rank_average(scores)[is_positive].sum() - is_positive.sum()
                                  * (is_positive.sum() + 1) / 2) / (is_positive.sum() * (~is_positive).sum()),
     "aelib.evaluation.rank_average"),
    (lambda scores, is_positive: aelib.evaluation._scores_and_truth(scores, is_positive) and auc_by_pairs(
        scores, is_positive), "aelib.evaluation._scores_and_truth"),
    (roc_auc_in_a_thread_pool, "aelib.evaluation.roc_auc"),
])
def test_auc_by_pairs_refuses_aelibs_own(own, called):
    with fails_with(f"calls {called}, which is part of aelib"):
        check_auc_by_pairs(own)


def test_aelibs_own_functions_work_again_after_a_check():
    with fails_with("which is part of aelib"):
        check_auc_by_pairs(lambda scores, is_positive: aelib.roc_auc(scores, is_positive))
    assert aelib.roc_auc([0.1, 0.9, 0.5, 0.5], [False, True, True, False]) == 0.875


# ---------------------------------------------------------------------------------------------
# Exercise 4.2: one epoch of minibatches.

def minibatches(n_samples, batch_size, rng):
    order = rng.permutation(n_samples)
    return [order[start:start + batch_size] for start in range(0, n_samples, batch_size)]


def minibatches_by_shuffle_and_split(n_samples, batch_size, rng):
    order = np.arange(n_samples)
    rng.shuffle(order)
    return np.split(order, np.arange(batch_size, n_samples, batch_size))


def minibatches_by_choice_sorted_inside(n_samples, batch_size, rng):
    # The order inside a batch does not matter to its gradient.
    order = rng.choice(n_samples, size=n_samples, replace=False)
    return [np.sort(order[start:start + batch_size]) for start in range(0, n_samples, batch_size)]


def minibatches_as_generator_of_lists(n_samples, batch_size, rng):
    order = rng.permutation(n_samples).tolist()
    while order:
        yield order[:batch_size]
        order = order[batch_size:]


def minibatches_by_sorting_random_keys(n_samples, batch_size, rng):
    order = np.argsort(rng.random(n_samples))
    return [order[start:start + batch_size] for start in range(0, n_samples, batch_size)]


def minibatches_by_fisher_yates(n_samples, batch_size, rng):
    order = list(range(n_samples))
    for i in range(n_samples - 1, 0, -1):
        j = int(rng.integers(0, i + 1))
        order[i], order[j] = order[j], order[i]
    return [np.array(order[start:start + batch_size]) for start in range(0, n_samples, batch_size)]


@pytest.mark.parametrize("solution", [minibatches, minibatches_by_shuffle_and_split,
                                      minibatches_by_choice_sorted_inside, minibatches_as_generator_of_lists,
                                      minibatches_by_sorting_random_keys, minibatches_by_fisher_yates])
def test_minibatches_accepts_correct_answers(solution, capsys):
    accepts(check_minibatches, solution, capsys)


def in_order(n_samples, batch_size, rng):
    return [np.arange(n_samples)[start:start + batch_size] for start in range(0, n_samples, batch_size)]


def drops_last(n_samples, batch_size, rng):
    return [batch for batch in minibatches(n_samples, batch_size, rng) if len(batch) == batch_size]


def remainder_in_the_batch_before(n_samples, batch_size, rng):
    batches = minibatches(n_samples, batch_size, rng)
    if len(batches) > 1 and len(batches[-1]) < batch_size:
        batches[-2:] = [np.concatenate(batches[-2:])]
    return batches


def evened_out(n_samples, batch_size, rng):
    return np.array_split(rng.permutation(n_samples), int(np.ceil(n_samples / batch_size)))


def fixed_seed(n_samples, batch_size, rng):
    return minibatches(n_samples, batch_size, np.random.default_rng(0))


def with_replacement(n_samples, batch_size, rng):
    order = rng.integers(0, n_samples, n_samples)
    return [order[start:start + batch_size] for start in range(0, n_samples, batch_size)]


def float_indices(n_samples, batch_size, rng):
    return [batch.astype(float) for batch in minibatches(n_samples, batch_size, rng)]


def unseeded(n_samples, batch_size, rng):
    return minibatches(n_samples, batch_size, np.random.default_rng())


def global_generator(n_samples, batch_size, rng):
    order = np.random.permutation(n_samples)
    return [order[start:start + batch_size] for start in range(0, n_samples, batch_size)]


def reseeds_global_generator(n_samples, batch_size, rng):
    np.random.seed(int(rng.integers(2**31)))
    return global_generator(n_samples, batch_size, rng)


def shuffled_inside_fixed_batches(n_samples, batch_size, rng):
    return [rng.permutation(np.arange(start, min(start + batch_size, n_samples)))
            for start in range(0, n_samples, batch_size)]


def fixed_batches_in_shuffled_order(n_samples, batch_size, rng):
    batches = in_order(n_samples, batch_size, rng)
    return [batches[i] for i in rng.permutation(len(batches))]


def fixed_full_batches_in_shuffled_order(n_samples, batch_size, rng):
    # As above, with the smaller batch kept last.
    batches = in_order(n_samples, batch_size, rng)
    full = n_samples // batch_size
    return [batches[i] for i in rng.permutation(full)] + batches[full:]


def one_partition_drawn_once(n_samples, batch_size, rng):
    batches = minibatches(n_samples, batch_size, np.random.default_rng(n_samples))
    full = n_samples // batch_size
    return [batches[i] for i in rng.permutation(full)] + batches[full:]


def rotated(n_samples, batch_size, rng):
    order = np.roll(np.arange(n_samples), rng.integers(n_samples))
    return [order[start:start + batch_size] for start in range(0, n_samples, batch_size)]


def ten_possible_orders(n_samples, batch_size, rng):
    return minibatches(n_samples, batch_size, np.random.default_rng(rng.integers(10)))


def half_shuffled(n_samples, batch_size, rng):
    order = np.arange(n_samples)
    order[: n_samples // 2] = rng.permutation(n_samples // 2)
    return [order[start:start + batch_size] for start in range(0, n_samples, batch_size)]


def first_sample_always_first(n_samples, batch_size, rng):
    order = np.r_[0, 1 + rng.permutation(n_samples - 1)]
    return [order[start:start + batch_size] for start in range(0, n_samples, batch_size)]


def coarse_random_keys(n_samples, batch_size, rng):
    order = np.argsort(rng.integers(0, 4, n_samples), kind="stable")
    return [order[start:start + batch_size] for start in range(0, n_samples, batch_size)]


def keeps_a_few_fixed(n_samples, batch_size, rng):
    # The first batch's samples stay together every epoch, in a batch placed at random; the rest
    # are shuffled.
    head = np.arange(min(batch_size, n_samples))
    order = np.r_[head, head.size + rng.permutation(n_samples - head.size)]
    blocks = [order[start:start + batch_size] for start in range(0, n_samples, batch_size)]
    full = n_samples // batch_size
    return [blocks[i] for i in rng.permutation(full)] + blocks[full:]


def shuffle_returns_none(n_samples, batch_size, rng):
    order = rng.shuffle(np.arange(n_samples))
    return [order[start:start + batch_size] for start in range(0, len(order), batch_size)]


def sattolo_shuffle(n_samples, batch_size, rng):
    # Fisher-Yates with j drawn from range(i) instead of range(i + 1): no sample stays in place.
    order = np.arange(n_samples)
    for i in range(n_samples - 1, 0, -1):
        j = rng.integers(0, i)
        order[i], order[j] = order[j], order[i]
    return [order[start:start + batch_size] for start in range(0, n_samples, batch_size)]


def naive_swap_shuffle(n_samples, batch_size, rng):
    # Every position swapped with any of the n positions: n^n equally likely runs cannot give the
    # n! orders equally often.
    order = np.arange(n_samples)
    for i in range(n_samples):
        j = rng.integers(0, n_samples)
        order[i], order[j] = order[j], order[i]
    return [order[start:start + batch_size] for start in range(0, n_samples, batch_size)]


def random_keys_from_twenty_values(n_samples, batch_size, rng):
    # Samples with equal keys keep their index order.
    order = np.argsort(rng.integers(0, 20, n_samples), kind="stable")
    return [order[start:start + batch_size] for start in range(0, n_samples, batch_size)]


def random_keys_as_many_values_as_samples(n_samples, batch_size, rng):
    # Samples with equal keys keep their index order: i precedes j with probability 1/2 + 1/(2n),
    # too little to see at 60 samples, plain at 4.
    order = np.argsort(rng.integers(0, n_samples, n_samples), kind="stable")
    return [order[start:start + batch_size] for start in range(0, n_samples, batch_size)]


def at_least_two_batches(n_samples, batch_size, rng):
    return minibatches(n_samples, min(batch_size, (n_samples + 1) // 2), rng)


@pytest.mark.parametrize("wrong, message", [
    (in_order, "stored order"),
    (drops_last, "The last 3 samples are missing: keep the smaller last batch"),
    (remainder_in_the_batch_before, "added to the batch before"),
    (evened_out, "evened-out sizes \\(as np.array_split"),
    (fixed_seed, "two epochs with the same generator gave the same batches"),
    (with_replacement, "exactly one batch"),
    (float_indices, "integer indices"),
    (lambda n_samples, batch_size, rng: rng.permutation(n_samples), "one array of 103 indices, not a list"),
    (lambda n_samples, batch_size, rng: minibatches(n_samples, batch_size + 1, rng), "batch sizes are wrong"),
    (lambda n_samples, batch_size, rng: None, "must return a list of index arrays"),
    (unseeded, "same seed gave different batches"),
    (global_generator, "used numpy's global random generator"),
    (reseeds_global_generator, "used numpy's global random generator"),
    (shuffled_inside_fixed_batches, "every epoch puts the same samples together"),
    (fixed_batches_in_shuffled_order, "smaller batch is not the last one: it looks as if whole batches were shuffled"),
    (fixed_full_batches_in_shuffled_order, "every epoch puts the same samples together"),
    (one_partition_drawn_once, "every epoch puts the same samples together"),
    (ten_possible_orders, "repeat the batches of an earlier one"),
    (rotated, "epochs repeat the batches of an earlier one"),
    (half_shuffled, "share one again in the next epoch"),
    (keeps_a_few_fixed, "share one again in the next epoch"),
    (coarse_random_keys, "share one again in the next epoch|neighbouring indices i and i \\+ 1 share a batch"),
    (first_sample_always_first, "sample 0 is in the first batch in 100.0% of the epochs"),
    (at_least_two_batches, "batch sizes are wrong"),
    (lambda n_samples, batch_size, rng: list(rng.permutation(n_samples).reshape(-1, batch_size)),
     "cannot reshape.*the last one smaller when batch_size does not divide n_samples"),
    (shuffle_returns_none, "raised TypeError.*rng.shuffle\\(x\\) shuffles x in place and returns None"),
    (sattolo_shuffle, "in the batch of its own position .* biased: it keeps samples away from their own position"),
    (naive_swap_shuffle, "batch number is correlated with its index .* The shuffle is biased"),
    (random_keys_from_twenty_values, "batch number is correlated with its index"),
    (random_keys_as_many_values_as_samples, "order 0, 1, 2, 3 came up in 1[3-5].*The shuffle is biased.*random "
                                            "keys tie.*Sort keys that cannot tie"),
    (not_implemented, "not implemented yet"),
])
def test_minibatches_names_the_mistake(wrong, message):
    with fails_with(message):
        check_minibatches(wrong)


def test_minibatches_refuses_aelibs_training_loop():
    def through_run_epochs(n_samples, batch_size, rng):
        seen = []
        aelib.training.run_epochs(lambda X_input, X_target: seen.append(X_input[:, 0].astype(int)) or (0.0,),
                                  np.arange(n_samples, dtype=float)[:, None], [], [], epochs=1, lr=0.1,
                                  batch_size=batch_size, optimizer="sgd", rng=rng)
        return seen

    with fails_with("calls aelib.training.run_epochs, which is part of aelib"):
        check_minibatches(through_run_epochs)


def test_the_batch_statistics_fail_a_correct_answer_with_probability_below_1e_10():
    bounds = digits.false_failure_bounds()
    assert sum(bounds.values()) < 1e-10, bounds   # as Exercise 4.2 states


def test_integer_keys_put_four_samples_in_index_order_35_times_in_256():
    # The share ORDER_MARGIN must see: all 4**4 key vectors, sorted stably.
    keys = np.array(list(itertools.product(range(4), repeat=4)))
    in_order = np.all(np.argsort(keys, axis=1, kind="stable") == np.arange(4), axis=1)
    assert in_order.sum() == 35
    assert 35 / 256 - 1 / 24 > 2 * digits.ORDER_MARGIN


def test_the_moments_of_home_batches_and_of_index_and_batch_are_exact():
    # Monte Carlo over uniformly random permutations agrees with the closed forms.
    n_samples, batch_size = 20, 6
    sizes = digits._sizes(n_samples, batch_size)
    home = np.repeat(np.arange(len(sizes)), sizes)
    centred = np.arange(n_samples) - (n_samples - 1) / 2
    rng = np.random.default_rng(1)
    labels = np.array([digits._batch_labels(minibatches(n_samples, batch_size, rng), n_samples)
                       for _ in range(40000)])
    at_home = np.sum(labels == home, axis=1)
    mean, variance = digits.home_batch_moments(sizes)
    assert abs(at_home.mean() - mean) < 5 * np.sqrt(variance / len(labels))
    assert abs(at_home.var() / variance - 1) < 0.05
    scale, index_variance, reach = digits.index_batch_moments(sizes)
    statistic = labels @ centred
    assert abs(statistic.mean()) < 5 * np.sqrt(index_variance / len(labels))
    assert abs(statistic.var() / index_variance - 1) < 0.05
    assert reach == pytest.approx(home @ centred) and np.abs(statistic).max() <= reach + 1e-9
    assert scale == pytest.approx(np.sqrt(np.sum(centred ** 2) * np.sum((home - home.mean()) ** 2)))


def test_the_moments_of_shared_batches_are_exact():
    # Monte Carlo over uniformly random permutations agrees with the closed form.
    n_samples, batch_size = 20, 6
    sizes = digits._sizes(n_samples, batch_size)
    rng = np.random.default_rng(0)

    def labels():
        return digits._batch_labels(minibatches(n_samples, batch_size, rng), n_samples)

    reference = labels()
    pairs = np.triu(reference[:, None] == reference[None, :], 1)
    degrees = pairs.sum(axis=0) + pairs.sum(axis=1)
    counts = []
    for _ in range(40000):
        other = labels()
        counts.append(np.sum(pairs & (other[:, None] == other[None, :])))
    n_pairs, mean, variance = digits.batch_pair_moments(sizes, degrees)
    assert n_pairs == pairs.sum()
    assert abs(np.mean(counts) - mean) < 5 * np.sqrt(variance / len(counts))
    assert abs(np.var(counts) / variance - 1) < 0.05


# ---------------------------------------------------------------------------------------------
# Exercise 4.3: retrieval precision.

def retrieval_precision(Z_train, y_train, Z_query, y_query, k):
    indices, _ = nearest_neighbors(Z_train, Z_query, k)
    return np.mean(y_train[indices] == y_query[:, None])


def precision_with_own_distances(Z_train, y_train, Z_query, y_query, k):
    squared = np.einsum("qtf,qtf->qt", Z_query[:, None] - Z_train[None], Z_query[:, None] - Z_train[None])
    indices = np.argsort(squared, axis=1, kind="stable")[:, :k]
    return np.mean(y_train[indices] == y_query[:, None])


def precision_by_loop(Z_train, y_train, Z_query, y_query, k):
    shares = []
    for z, label in zip(Z_query, y_query):
        distances = np.linalg.norm(Z_train - z, axis=1)
        nearest = sorted(range(len(Z_train)), key=lambda i: distances[i])[:k]   # sorted() is stable
        shares.append(sum(y_train[i] == label for i in nearest) / k)
    return float(np.mean(shares))


def precision_via_module(Z_train, y_train, Z_query, y_query, k):
    indices, _ = aelib.evaluation.nearest_neighbors(Z_train, Z_query, k=k)
    return (y_train[indices] == y_query[:, None]).mean(axis=1).mean()


@pytest.mark.parametrize("solution", [retrieval_precision, precision_with_own_distances, precision_by_loop,
                                      precision_via_module])
def test_retrieval_precision_accepts_correct_answers(solution, capsys):
    accepts(check_retrieval_precision, solution, capsys)


def per_query(Z_train, y_train, Z_query, y_query, k):
    indices, _ = nearest_neighbors(Z_train, Z_query, k)
    return np.mean(y_train[indices] == y_query[:, None], axis=1)


def nearest_only(Z_train, y_train, Z_query, y_query, k):
    return retrieval_precision(Z_train, y_train, Z_query, y_query, 1)


def fixed_k(Z_train, y_train, Z_query, y_query, k):
    return retrieval_precision(Z_train, y_train, Z_query, y_query, 3)


def default_k(Z_train, y_train, Z_query, y_query, k):
    indices, _ = aelib.nearest_neighbors(Z_train, Z_query)
    return np.mean(y_train[indices] == y_query[:, None])


def l1_distance(Z_train, y_train, Z_query, y_query, k):
    distances = np.abs(Z_query[:, None] - Z_train[None]).sum(axis=2)
    indices = np.argsort(distances, axis=1, kind="stable")[:, :k]
    return np.mean(y_train[indices] == y_query[:, None])


def cosine_distance(Z_train, y_train, Z_query, y_query, k):
    with np.errstate(invalid="ignore", divide="ignore"):     # a code at the origin has no angle
        similarity = (Z_query @ Z_train.T) / np.outer(np.linalg.norm(Z_query, axis=1), np.linalg.norm(Z_train, axis=1))
    indices = np.argsort(-similarity, axis=1, kind="stable")[:, :k]
    return np.mean(y_train[indices] == y_query[:, None])


def drops_the_nearest_of_k_plus_one(Z_train, y_train, Z_query, y_query, k):
    # As above, without the guard: k + 1 is too many where k is every training code.
    indices, _ = nearest_neighbors(Z_train, Z_query, k + 1)
    return float(np.mean(y_train[indices[:, 1:]] == y_query[:, None]))


def drops_the_nearest(Z_train, y_train, Z_query, y_query, k):
    indices, _ = nearest_neighbors(Z_train, Z_query, min(k + 1, len(Z_train)))
    return np.mean(y_train[indices[:, 1:]] == y_query[:, None])


def ties_to_the_last(Z_train, y_train, Z_query, y_query, k):
    squared = ((Z_query[:, None] - Z_train[None]) ** 2).sum(axis=2)
    reversed_order = np.argsort(squared[:, ::-1], axis=1, kind="stable")[:, :k]
    return np.mean(y_train[len(Z_train) - 1 - reversed_order] == y_query[:, None])


def default_argsort(Z_train, y_train, Z_query, y_query, k):
    # numpy's default sort does not keep tied distances in order (on every CPU it dispatches to).
    indices = np.argsort(((Z_query[:, None] - Z_train[None]) ** 2).sum(axis=2), axis=1)[:, :k]
    return np.mean(y_train[indices] == y_query[:, None])


def per_class_mean(Z_train, y_train, Z_query, y_query, k):
    shares = per_query(Z_train, y_train, Z_query, y_query, k)
    return np.mean([shares[y_query == label].mean() for label in np.unique(y_query)])


def majority_vote_accuracy(Z_train, y_train, Z_query, y_query, k):
    indices, _ = nearest_neighbors(Z_train, Z_query, k)
    votes = [np.bincount(row).argmax() for row in y_train[indices]]
    return np.mean(np.array(votes) == y_query)


def swapped_roles(Z_train, y_train, Z_query, y_query, k):
    return retrieval_precision(Z_query, y_query, Z_train, y_train, min(k, len(Z_query)))


def match_count(Z_train, y_train, Z_query, y_query, k):
    indices, _ = nearest_neighbors(Z_train, Z_query, k)
    return np.sum(y_train[indices] == y_query[:, None])


def matches_per_query(Z_train, y_train, Z_query, y_query, k):
    indices, _ = nearest_neighbors(Z_train, Z_query, k)
    return np.mean(np.sum(y_train[indices] == y_query[:, None], axis=1))


def hit_rate(Z_train, y_train, Z_query, y_query, k):
    indices, _ = nearest_neighbors(Z_train, Z_query, k)
    return np.mean(np.any(y_train[indices] == y_query[:, None], axis=1))


def labels_not_broadcast(Z_train, y_train, Z_query, y_query, k):
    indices, _ = nearest_neighbors(Z_train, Z_query, k)
    return np.mean(y_train[indices] == y_query)


def centres_in_place(Z_train, y_train, Z_query, y_query, k):
    Z_train -= Z_train.mean(axis=0)
    return retrieval_precision(Z_train, y_train, Z_query - Z_query.mean(axis=0), y_query, k)


def standardised_features(Z_train, y_train, Z_query, y_query, k):
    scale = Z_train.std(axis=0)
    return retrieval_precision(Z_train / scale, y_train, Z_query / scale, y_query, k)


def one_neighbour_too_few(Z_train, y_train, Z_query, y_query, k):
    indices, _ = nearest_neighbors(Z_train, Z_query, k)
    return np.mean(y_train[indices[:, :max(k - 1, 1)]] == y_query[:, None])


def one_neighbour_too_many(Z_train, y_train, Z_query, y_query, k):
    return retrieval_precision(Z_train, y_train, Z_query, y_query, min(k + 1, len(Z_train)))


def skips_codes_at_distance_zero(Z_train, y_train, Z_query, y_query, k):
    # A self-match excluded where there is none: a training code equal to the query is dropped.
    squared = ((Z_query[:, None] - Z_train[None]) ** 2).sum(axis=2)
    indices = np.argsort(np.where(squared > 0, squared, np.inf), axis=1, kind="stable")[:, :k]
    return np.mean(y_train[indices] == y_query[:, None])


def the_farthest(Z_train, y_train, Z_query, y_query, k):
    squared = ((Z_query[:, None] - Z_train[None]) ** 2).sum(axis=2)
    indices = np.argsort(squared, axis=1, kind="stable")[:, -k:]
    return np.mean(y_train[indices] == y_query[:, None])


@pytest.mark.parametrize("wrong, message", [
    (per_query, "one value per query"),
    (nearest_only, "share of queries whose nearest neighbour matches"),
    (fixed_k, "precision of 3 neighbours whatever k is"),
    (default_k, "precision of 5 neighbours whatever k is; pass k on to aelib.nearest_neighbors \\(its default is 5\\)"),
    (l1_distance, "L1 \\(Manhattan\\) distance"),
    (cosine_distance, "cosine distance"),
    (drops_the_nearest, "leaves out each query's nearest training code"),
    (drops_the_nearest_of_k_plus_one, r"k=50\) raised ValueError: k must be at most .*Hint: You asked "
                                      r"aelib.nearest_neighbors for k \+ 1 = 51 neighbours, as if to drop the "
                                      r"first: that leaves out each query's nearest training code"),
    (ties_to_the_last, "same distance as the k-th neighbour"),
    (default_argsort, "same distance as the k-th neighbour"),
    (per_class_mean, "averages per class first"),
    (majority_vote_accuracy, "accuracy of the majority vote"),
    (swapped_roles, "searches the queries for each training code"),
    (match_count, "number of matching neighbours"),
    (matches_per_query, "mean number of matching neighbours per query. Divide by k"),
    (labels_not_broadcast, "i-th neighbours were compared with the i-th query's label|shapes do not fit.*y_query\\[:, None\\]"),
    (hit_rate, "share of queries with at least one matching neighbour"),
    (centres_in_place, "changed Z_train in place"),
    (standardised_features, "relative difference"),
    (one_neighbour_too_few, "precision of k - 1 neighbours: one too few"),
    (one_neighbour_too_many, "precision of k \\+ 1 neighbours: one too many"),
    (skips_codes_at_distance_zero, "leaves out the training codes at distance 0 from the query"),
    (the_farthest, "k farthest training codes"),
    (lambda Z_train, y_train, Z_query, y_query, k: "precision", "expected a number, got str"),
    (not_implemented, "not implemented yet"),
])
def test_retrieval_precision_names_the_mistake(wrong, message):
    with fails_with(message):
        check_retrieval_precision(wrong)


def by_squared_distances(Z_train, y_train, Z_query, y_query, k):
    indices = np.argsort(aelib.evaluation.squared_distances(Z_query, Z_train), axis=1, kind="stable")[:, :k]
    return np.mean(y_train[indices] == y_query[:, None])


def by_knn_votes(Z_train, y_train, Z_query, y_query, k):
    return np.mean(aelib.knn_votes(Z_train, y_train, Z_query, k)[1])


def by_knn_predict(Z_train, y_train, Z_query, y_query, k):
    return np.mean(aelib.knn_predict(Z_train, y_train, Z_query, k) == y_query)


@pytest.mark.parametrize("route, called", [
    (by_squared_distances, "aelib.evaluation.squared_distances"),
    (by_knn_votes, "aelib.evaluation.knn_votes"),
    (by_knn_predict, "aelib.evaluation.knn_predict"),
])
def test_retrieval_precision_refuses_aelib_beyond_nearest_neighbors(route, called):
    with fails_with(f"calls {called}, which is part of aelib.*allows only aelib.evaluation.nearest_neighbors"):
        check_retrieval_precision(route)


# ---------------------------------------------------------------------------------------------
# Exercise 4.5: a threshold chosen on the validation part, rates measured on the test part.

def threshold_and_rates(scores_train, scores_val, is_anomaly_val, scores_test, is_anomaly_test,
                        max_false_alarm_rate):
    normal = scores_val[~is_anomaly_val]
    tau = np.inf
    for candidate in np.sort(np.unique(normal))[::-1]:      # from the largest down, while allowed
        if np.mean(normal >= candidate) > max_false_alarm_rate:
            break
        tau = candidate
    flagged = scores_test >= tau
    return tau, np.mean(flagged[~is_anomaly_test]), np.mean(flagged[is_anomaly_test])


def threshold_by_counts(scores_train, scores_val, is_anomaly_val, scores_test, is_anomaly_test,
                        max_false_alarm_rate):
    normal = np.sort(scores_val[~is_anomaly_val])
    allowed = int(np.floor(max_false_alarm_rate * len(normal)))       # digits that may be flagged
    values, counts = np.unique(normal, return_counts=True)
    flagged_from = np.cumsum(counts[::-1])[::-1]                       # flagged by each value as tau
    meets = flagged_from <= allowed
    tau = values[meets][0] if meets.any() else np.inf
    normal_test, anomalous_test = scores_test[~is_anomaly_test], scores_test[is_anomaly_test]
    return tau, np.sum(normal_test >= tau) / len(normal_test), np.sum(anomalous_test >= tau) / len(anomalous_test)


def threshold_by_matrix(scores_train, scores_val, is_anomaly_val, scores_test, is_anomaly_test,
                        max_false_alarm_rate):
    normal = scores_val[~is_anomaly_val]
    share_flagged = (normal[None, :] >= normal[:, None]).mean(axis=1)
    candidates = normal[share_flagged <= max_false_alarm_rate]
    tau = candidates.min() if candidates.size else np.inf
    return [float(tau), float((scores_test[~is_anomaly_test] >= tau).mean()),
            float((scores_test[is_anomaly_test] >= tau).mean())]


@pytest.mark.parametrize("solution", [threshold_and_rates, threshold_by_counts, threshold_by_matrix])
def test_threshold_and_rates_accepts_correct_answers(solution, capsys):
    accepts(check_threshold_and_rates, solution, capsys)


def rates_on_test(tau, scores_test, is_anomaly_test):
    flagged = scores_test >= tau
    return tau, np.mean(flagged[~is_anomaly_test]), np.mean(flagged[is_anomaly_test])


def smallest_allowed(scores, rate):
    # The reference threshold written out again: a wrong answer may not call the check's own.
    candidates = [s for s in np.unique(scores) if np.mean(scores >= s) <= rate]
    return min(candidates) if candidates else np.inf


def on_the_test_digits(train, val, is_anomaly_val, test, is_anomaly_test, rate):
    return rates_on_test(smallest_allowed(test[~is_anomaly_test], rate), test, is_anomaly_test)


def on_the_training_digits(train, val, is_anomaly_val, test, is_anomaly_test, rate):
    return rates_on_test(smallest_allowed(train, rate), test, is_anomaly_test)


def on_training_and_validation(train, val, is_anomaly_val, test, is_anomaly_test, rate):
    return rates_on_test(smallest_allowed(np.r_[train, val[~is_anomaly_val]], rate), test, is_anomaly_test)


def anomalies_included(train, val, is_anomaly_val, test, is_anomaly_test, rate):
    return rates_on_test(smallest_allowed(val, rate), test, is_anomaly_test)


def five_percent_always(train, val, is_anomaly_val, test, is_anomaly_test, rate):
    return threshold_and_rates(train, val, is_anomaly_val, test, is_anomaly_test, 0.05)


def interpolated_quantile(train, val, is_anomaly_val, test, is_anomaly_test, rate):
    return rates_on_test(np.quantile(val[~is_anomaly_val], 1 - rate), test, is_anomaly_test)


def wrong_tail(train, val, is_anomaly_val, test, is_anomaly_test, rate):
    return rates_on_test(np.quantile(val[~is_anomaly_val], rate, method="lower"), test, is_anomaly_test)


def kth_largest_ignoring_ties(train, val, is_anomaly_val, test, is_anomaly_test, rate):
    normal = np.sort(val[~is_anomaly_val])[::-1]
    allowed = int(rate * len(normal))
    return rates_on_test(normal[allowed - 1] if allowed else np.inf, test, is_anomaly_test)


def one_past_the_bound(train, val, is_anomaly_val, test, is_anomaly_test, rate):
    normal = np.sort(val[~is_anomaly_val])[::-1]
    return rates_on_test(normal[int(rate * len(normal))], test, is_anomaly_test)


def strictly_below_the_bound(train, val, is_anomaly_val, test, is_anomaly_test, rate):
    normal = val[~is_anomaly_val]
    candidates = [s for s in np.unique(normal) if np.mean(normal >= s) < rate]
    return rates_on_test(min(candidates) if candidates else np.inf, test, is_anomaly_test)


def rounded_up(train, val, is_anomaly_val, test, is_anomaly_test, rate):
    normal = np.sort(val[~is_anomaly_val])[::-1]
    allowed = int(np.ceil(rate * len(normal)))
    return rates_on_test(normal[allowed - 1], test, is_anomaly_test)


def midpoint(train, val, is_anomaly_val, test, is_anomaly_test, rate):
    normal = np.sort(val[~is_anomaly_val])[::-1]
    allowed = int(rate * len(normal))
    if allowed == 0:
        return rates_on_test(np.inf, test, is_anomaly_test)
    return rates_on_test((normal[allowed - 1] + normal[allowed]) / 2, test, is_anomaly_test)


def largest_score_when_none_qualifies(train, val, is_anomaly_val, test, is_anomaly_test, rate):
    tau, _, _ = threshold_and_rates(train, val, is_anomaly_val, test, is_anomaly_test, rate)
    return rates_on_test(val[~is_anomaly_val].max() if tau == np.inf else tau, test, is_anomaly_test)


def just_above_the_largest_when_none_qualifies(train, val, is_anomaly_val, test, is_anomaly_test, rate):
    tau, _, _ = threshold_and_rates(train, val, is_anomaly_val, test, is_anomaly_test, rate)
    return rates_on_test(np.nextafter(val[~is_anomaly_val].max(), np.inf) if tau == np.inf else tau, test,
                         is_anomaly_test)


def on_all_normal_digits(train, val, is_anomaly_val, test, is_anomaly_test, rate):
    normal = np.concatenate([train, val[~is_anomaly_val], test[~is_anomaly_test]])
    return rates_on_test(smallest_allowed(normal, rate), test, is_anomaly_test)


def on_the_anomalies(train, val, is_anomaly_val, test, is_anomaly_test, rate):
    return rates_on_test(smallest_allowed(val[is_anomaly_val], rate), test, is_anomaly_test)


def bound_on_all_validation_digits(train, val, is_anomaly_val, test, is_anomaly_test, rate):
    tau = np.inf
    for candidate in np.unique(val[~is_anomaly_val])[::-1]:
        if np.mean(val >= candidate) > rate:
            break
        tau = candidate
    return rates_on_test(tau, test, is_anomaly_test)


def candidates_from_all_validation_digits(train, val, is_anomaly_val, test, is_anomaly_test, rate):
    normal, tau = val[~is_anomaly_val], np.inf
    for candidate in np.unique(val)[::-1]:
        if np.mean(normal >= candidate) > rate:
            break
        tau = candidate
    return rates_on_test(tau, test, is_anomaly_test)


def miss_rate(train, val, is_anomaly_val, test, is_anomaly_test, rate):
    tau, false_alarms, detections = threshold_and_rates(train, val, is_anomaly_val, test, is_anomaly_test, rate)
    return tau, false_alarms, 1 - detections


def normal_share_of_flagged(train, val, is_anomaly_val, test, is_anomaly_test, rate):
    tau, _, detections = threshold_and_rates(train, val, is_anomaly_val, test, is_anomaly_test, rate)
    flagged = test >= tau
    return tau, np.mean(~is_anomaly_test[flagged]) if flagged.any() else 0.0, detections


def correct_tau(train, val, is_anomaly_val, test, is_anomaly_test, rate):
    return threshold_and_rates(train, val, is_anomaly_val, test, is_anomaly_test, rate)[0]


def rates_on_validation(train, val, is_anomaly_val, test, is_anomaly_test, rate):
    return rates_on_test(correct_tau(train, val, is_anomaly_val, test, is_anomaly_test, rate), val, is_anomaly_val)


def strict_on_test(train, val, is_anomaly_val, test, is_anomaly_test, rate):
    tau = correct_tau(train, val, is_anomaly_val, test, is_anomaly_test, rate)
    flagged = test > tau
    return tau, np.mean(flagged[~is_anomaly_test]), np.mean(flagged[is_anomaly_test])


def swapped_rates(train, val, is_anomaly_val, test, is_anomaly_test, rate):
    tau, false_alarms, detections = threshold_and_rates(train, val, is_anomaly_val, test, is_anomaly_test, rate)
    return tau, detections, false_alarms


def counts_not_shares(train, val, is_anomaly_val, test, is_anomaly_test, rate):
    tau = correct_tau(train, val, is_anomaly_val, test, is_anomaly_test, rate)
    flagged = test >= tau
    return tau, np.sum(flagged[~is_anomaly_test]), np.sum(flagged[is_anomaly_test])


def shares_of_all_test_digits(train, val, is_anomaly_val, test, is_anomaly_test, rate):
    tau = correct_tau(train, val, is_anomaly_val, test, is_anomaly_test, rate)
    flagged = test >= tau
    return tau, np.mean(flagged & ~is_anomaly_test), np.mean(flagged & is_anomaly_test)


def precision_as_detection_rate(train, val, is_anomaly_val, test, is_anomaly_test, rate):
    tau = correct_tau(train, val, is_anomaly_val, test, is_anomaly_test, rate)
    flagged = test >= tau
    return tau, np.mean(flagged[~is_anomaly_test]), np.mean(is_anomaly_test[flagged]) if flagged.any() else 0.0


def percentages(train, val, is_anomaly_val, test, is_anomaly_test, rate):
    tau, false_alarms, detections = threshold_and_rates(train, val, is_anomaly_val, test, is_anomaly_test, rate)
    return tau, 100 * false_alarms, 100 * detections


def specificity(train, val, is_anomaly_val, test, is_anomaly_test, rate):
    tau, false_alarms, detections = threshold_and_rates(train, val, is_anomaly_val, test, is_anomaly_test, rate)
    return tau, 1 - false_alarms, detections


def sorts_in_place(scores_train, scores_val, is_anomaly_val, scores_test, is_anomaly_test, rate):
    scores_val.sort()
    return threshold_and_rates(scores_train, scores_val, is_anomaly_val, scores_test, is_anomaly_test, rate)


def tau_in_float32(train, val, is_anomaly_val, test, is_anomaly_test, rate):
    tau, false_alarms, detections = threshold_and_rates(train, val, is_anomaly_val, test, is_anomaly_test, rate)
    return np.float32(tau), false_alarms, detections


@pytest.mark.parametrize("wrong, message", [
    (on_the_test_digits, "chosen on the normal test digits"),
    (on_the_training_digits, "chosen on the training digits"),
    (on_training_and_validation, "chosen on the training and validation digits together"),
    (anomalies_included, "chosen on all the validation digits, anomalies included"),
    (five_percent_always, "at most 5% false alarms whatever the bound; use the max_false_alarm_rate"),
    (interpolated_quantile, "is not one of the normal validation scores"),
    (wrong_tail, "the wrong tail"),
    (kth_largest_ignoring_ties, "more than the 20% allowed: .* tied scores are flagged together"),
    (one_past_the_bound, "flags 13 of the 243 normal validation digits \\(5.3%\\), more than the 5% allowed"),
    (strictly_below_the_bound, "within the 10% allowed, but a smaller normal validation score does too"),
    (rounded_up, "more than the 5% allowed"),
    (midpoint, "is not one of the normal validation scores"),
    (largest_score_when_none_qualifies, "No normal validation score meets this bound: even the largest flags 1 "
                                        "of the 60 \\(1.7%\\), more than 1%. Then tau is np.inf"),
    (just_above_the_largest_when_none_qualifies, "No normal validation score meets this bound.*tau is np.inf"),
    (on_all_normal_digits, "chosen on all the normal digits, training, validation and test together"),
    (on_the_anomalies, "chosen on the anomalous validation digits"),
    (bound_on_all_validation_digits, "bounds the share of all the validation digits flagged"),
    (candidates_from_all_validation_digits, "tau is an anomalous validation digit's score"),
    (miss_rate, "NOT flagged \\(the miss rate\\)"),
    (normal_share_of_flagged, "share of normal digits among the flagged ones"),
    (rates_on_validation, "rates on the validation digits"),
    (strict_on_test, "count only s > tau"),
    (swapped_rates, "two rates are swapped"),
    (counts_not_shares, "Those are counts"),
    (shares_of_all_test_digits, "shares of all the test digits"),
    (precision_as_detection_rate, "share of anomalies among the flagged digits \\(the precision\\)"),
    (percentages, "Those are percentages"),
    (specificity, "NOT flagged \\(the specificity\\)"),
    (sorts_in_place, "changed scores_val in place"),
    (tau_in_float32, "your result is float32"),
    (lambda *args: {"tau": 0.1}, "expected three numbers"),
    (lambda *args: (0.1, 0.05), "expected three numbers"),
    (not_implemented, "not implemented yet"),
])
def test_threshold_and_rates_names_the_mistake(wrong, message):
    with fails_with(message):
        check_threshold_and_rates(wrong)


def test_threshold_and_rates_refuses_aelib():
    def from_the_roc_curve(train, val, is_anomaly_val, test, is_anomaly_test, rate):
        fpr, tpr, thresholds = aelib.roc_curve(val, is_anomaly_val)
        return rates_on_test(thresholds[fpr <= rate][-1], test, is_anomaly_test)

    with fails_with("calls aelib.evaluation.roc_curve, which is part of aelib"):
        check_threshold_and_rates(from_the_roc_curve)


def test_the_threshold_inputs_have_the_boundaries_they_claim():
    cases = digits._threshold_cases()
    for description, train, val, is_anomaly_val, test, is_anomaly_test, rate in cases:
        normal = val[~is_anomaly_val]
        # "share <= rate" and "count <= rate * n" agree on these inputs, so both ways of writing
        # the bound are right.
        for count in range(len(normal) + 1):
            assert (count / len(normal) <= rate) == (count <= rate * len(normal)) == (
                count <= np.floor(rate * len(normal)))
    exact, tied, none = cases[2], cases[3], cases[4]
    normal = exact[2][~exact[3]]
    assert np.mean(normal >= digits.smallest_threshold(normal, exact[6])) == exact[6]
    normal = np.sort(tied[2][~tied[3]])[::-1]
    allowed = int(tied[6] * len(normal))
    assert normal[allowed - 1] == normal[allowed]                     # the bound falls inside a tie
    assert np.any(tied[4] == digits.smallest_threshold(normal, tied[6]))   # test scores equal tau
    assert digits.smallest_threshold(none[2][~none[3]], none[6]) == np.inf


# ---------------------------------------------------------------------------------------------
# All four checks.

@pytest.mark.parametrize("check, solution", [
    (check_auc_by_pairs, auc_by_pairs),
    (check_minibatches, minibatches),
    (check_retrieval_precision, retrieval_precision),
    (check_threshold_and_rates, threshold_and_rates),
])
def test_checks_train_no_model(check, solution, capsys, monkeypatch):
    # What keeps these checks quick, asserted without a clock: they train nothing.
    forbid_training(monkeypatch)
    check(solution)
    assert capsys.readouterr().out.startswith("Correct:")
