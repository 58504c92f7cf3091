"""The exercise checks of chapter 4 accept the reference solutions, reject the usual mistakes with
a message that names them, and say "not implemented yet" for an untouched stub."""

import numpy as np
import pytest
from check_failures import accepts, fails_with, forbid_training, not_implemented

import aelib
from aelib import nearest_neighbors
from aelib.evaluation import rank_average, roc_auc
from aelib.checks import check_auc_by_pairs, check_minibatches, check_retrieval_precision


# Exercise 4.1: the AUC from its pairs.

def auc_by_pairs(scores, is_positive):
    difference = scores[is_positive][:, None] - scores[~is_positive][None, :]
    return np.mean((difference > 0) + 0.5 * (difference == 0))


def ties_lose(scores, is_positive):
    return np.mean(scores[is_positive][:, None] > scores[~is_positive][None, :])


def ties_win(scores, is_positive):
    return np.mean(scores[is_positive][:, None] >= scores[~is_positive][None, :])


def reversed_score(scores, is_positive):
    return auc_by_pairs(-scores, is_positive)


def per_positive(scores, is_positive):
    difference = scores[is_positive][:, None] - scores[~is_positive][None, :]
    return np.mean((difference > 0) + 0.5 * (difference == 0), axis=1)


def test_auc_by_pairs_accepts_the_solution(capsys):
    accepts(check_auc_by_pairs, auc_by_pairs, capsys)


@pytest.mark.parametrize("wrong, message", [
    (ties_lose, "tie counted as a loss"),
    (ties_win, "tie counted as a win"),
    (reversed_score, "reversed score"),
    (per_positive, "expected a single number"),
    (lambda scores, is_positive: np.sum(auc_by_pairs(scores, is_positive)) * 0.9, "relative difference"),
    (lambda scores, is_positive: "AUC", "expected a number, got str"),
    (lambda scores, is_positive: scores[~is_positive][:, None] > 1, "raised|expected a single number"),
    (not_implemented, "not implemented yet"),
])
def test_auc_by_pairs_names_the_mistake(wrong, message):
    with fails_with(message):
        check_auc_by_pairs(wrong)


# Exercise 4.2: one epoch of minibatches.

def minibatches(n_samples, batch_size, rng):
    order = rng.permutation(n_samples)
    return [order[start:start + batch_size] for start in range(0, n_samples, batch_size)]


def in_order(n_samples, batch_size, rng):
    return minibatches(n_samples, batch_size, np.random.default_rng(0))[:0] + [
        np.arange(n_samples)[start:start + batch_size] for start in range(0, n_samples, batch_size)]


def drops_last(n_samples, batch_size, rng):
    return [batch for batch in minibatches(n_samples, batch_size, rng) if len(batch) == batch_size]


def fixed_seed(n_samples, batch_size, rng):
    return minibatches(n_samples, batch_size, np.random.default_rng(0))


def with_replacement(n_samples, batch_size, rng):
    order = rng.integers(0, n_samples, n_samples)
    return [order[start:start + batch_size] for start in range(0, n_samples, batch_size)]


def float_indices(n_samples, batch_size, rng):
    return [batch.astype(float) for batch in minibatches(n_samples, batch_size, rng)]


def unseeded(n_samples, batch_size, rng):
    return minibatches(n_samples, batch_size, np.random.default_rng())


def at_least_two_batches(n_samples, batch_size, rng):
    return minibatches(n_samples, min(batch_size, (n_samples + 1) // 2), rng)


def test_minibatches_accepts_the_solution(capsys):
    accepts(check_minibatches, minibatches, capsys)


@pytest.mark.parametrize("wrong, message", [
    (in_order, "stored order"),
    (drops_last, "keep the smaller last batch"),
    (fixed_seed, "same order"),
    (with_replacement, "exactly one batch"),
    (float_indices, "integer indices"),
    (lambda n_samples, batch_size, rng: rng.permutation(n_samples), "one array of 103 indices, not a list"),
    (lambda n_samples, batch_size, rng: minibatches(n_samples, batch_size + 1, rng), "batch sizes are wrong"),
    (lambda n_samples, batch_size, rng: None, "must return a list of index arrays"),
    (unseeded, "same seed gave different orders"),
    (at_least_two_batches, "one batch of all 5 samples"),
    (not_implemented, "not implemented yet"),
])
def test_minibatches_names_the_mistake(wrong, message):
    with fails_with(message):
        check_minibatches(wrong)


# Exercise 4.3: retrieval precision.

def retrieval_precision(Z_train, y_train, Z_query, y_query, k):
    indices, _ = nearest_neighbors(Z_train, Z_query, k)
    return np.mean(y_train[indices] == y_query[:, None])


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


def test_retrieval_precision_accepts_the_solution(capsys):
    accepts(check_retrieval_precision, retrieval_precision, capsys)


@pytest.mark.parametrize("wrong, message", [
    (per_query, "one value per query"),
    (nearest_only, "nearest neighbour matches"),
    (fixed_k, "Use the k argument"),
    (default_k, "precision of 5 neighbours; pass k on to aelib.nearest_neighbors"),
    (lambda Z_train, y_train, Z_query, y_query, k: "precision", "expected a number, got str"),
    (not_implemented, "not implemented yet"),
])
def test_retrieval_precision_names_the_mistake(wrong, message):
    with fails_with(message):
        check_retrieval_precision(wrong)


# Each answer that only calls aelib's own version of the exercise fails and is told so, however
# it reached it; aelib.nearest_neighbors, the tool Exercise 4.3 asks for, stays available.

@pytest.mark.parametrize("own, called", [
    (lambda scores, is_positive: aelib.roc_auc(scores, is_positive), "aelib.evaluation.roc_auc"),
    (lambda scores, is_positive: aelib.evaluation.roc_auc(scores, is_positive), "aelib.evaluation.roc_auc"),
    (lambda scores, is_positive: roc_auc(scores, is_positive), "aelib.evaluation.roc_auc"),
    (lambda scores, is_positive: (rank_average(scores)[is_positive].sum() - is_positive.sum()
                                  * (is_positive.sum() + 1) / 2) / (is_positive.sum() * (~is_positive).sum()),
     "aelib.evaluation.rank_average"),
])
def test_auc_by_pairs_rejects_aelibs_own(own, called):
    with fails_with(f"calls {called}, which is part of aelib"):
        check_auc_by_pairs(own)


def test_aelibs_own_functions_work_again_after_a_check():
    with fails_with("which is part of aelib"):
        check_auc_by_pairs(lambda scores, is_positive: aelib.roc_auc(scores, is_positive))
    assert aelib.roc_auc([0.1, 0.9, 0.5, 0.5], [False, True, True, False]) == 0.875


def test_retrieval_precision_may_use_nearest_neighbors_however_imported(capsys):
    def via_module(Z_train, y_train, Z_query, y_query, k):
        indices, _ = aelib.evaluation.nearest_neighbors(Z_train, Z_query, k)
        return np.mean(y_train[indices] == y_query[:, None])

    for solution in (retrieval_precision, via_module):
        accepts(check_retrieval_precision, solution, capsys)


@pytest.mark.parametrize("check, solution", [
    (check_auc_by_pairs, auc_by_pairs),
    (check_minibatches, minibatches),
    (check_retrieval_precision, retrieval_precision),
])
def test_checks_train_no_model(check, solution, capsys, monkeypatch):
    # What keeps these checks quick, asserted without a clock: they train nothing.
    forbid_training(monkeypatch)
    check(solution)
    assert capsys.readouterr().out.startswith("Correct:")
