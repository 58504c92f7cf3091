"""The exercise checks of chapter 4 accept the reference solutions, reject the usual mistakes with
a message that names them, and say "not implemented yet" for an untouched stub."""
import numpy as np
import pytest

from aelib import nearest_neighbors
from aelib.checks import check_auc_by_pairs, check_minibatches, check_retrieval_precision


def not_implemented(*args):
    raise NotImplementedError()


def accepts(check, solution, capsys):
    check(solution)
    assert capsys.readouterr().out.startswith("Correct:")


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
    (ties_lose, "a tie counted as a loss"),
    (ties_win, "a tie counted as a win"),
    (reversed_score, "reversed score"),
    (per_positive, "expected a single number"),
    (not_implemented, "not implemented yet"),
])
def test_auc_by_pairs_names_the_mistake(wrong, message):
    with pytest.raises(AssertionError, match=message):
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


def test_minibatches_accepts_the_solution(capsys):
    accepts(check_minibatches, minibatches, capsys)


@pytest.mark.parametrize("wrong, message", [
    (in_order, "stored order"),
    (drops_last, "keep the smaller last batch"),
    (fixed_seed, "same order"),
    (with_replacement, "exactly one batch"),
    (float_indices, "integer indices"),
    (not_implemented, "not implemented yet"),
])
def test_minibatches_names_the_mistake(wrong, message):
    with pytest.raises(AssertionError, match=message):
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


def test_retrieval_precision_accepts_the_solution(capsys):
    accepts(check_retrieval_precision, retrieval_precision, capsys)


@pytest.mark.parametrize("wrong, message", [
    (per_query, "one value per query"),
    (nearest_only, "nearest neighbour matches"),
    (fixed_k, "Use the k argument"),
    (not_implemented, "not implemented yet"),
])
def test_retrieval_precision_names_the_mistake(wrong, message):
    with pytest.raises(AssertionError, match=message):
        check_retrieval_precision(wrong)
