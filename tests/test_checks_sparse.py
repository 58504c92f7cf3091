"""The exercise checks of chapter 5 accept correct answers written in different ways, reject the
plausible wrong ones with a message that names the mistake, refuse aelib's own solution, and say
"not implemented yet" for an untouched stub."""
import numpy as np
import pytest
from check_failures import accepts, fails_with, forbid_training, not_implemented

import aelib
from aelib.checks import check_auxk_grads, check_feature_recovery, check_topk_sae_grads
from aelib.checks.sparse import _auxk_problems, _evaluations_allowed, _topk_problems, auxk_loss, auxk_reference


# Exercise 5.1: feature recovery.

def unit_rows(M):
    return M / np.linalg.norm(M, axis=1, keepdims=True)


def recovery(true, dictionary):
    return np.abs(unit_rows(true) @ unit_rows(dictionary).T).max(axis=1)


def recovery_with_a_loop(true, dictionary):
    best = []
    for t in true:
        cosines = [abs(t @ row) / (np.sqrt(t @ t) * np.sqrt(row @ row)) for row in dictionary]
        best.append(max(cosines))
    return np.array(best)


def recovery_by_einsum(true, dictionary):
    dots = np.einsum("id,kd->ik", true, dictionary)
    lengths = np.outer(np.linalg.norm(true, axis=1), np.linalg.norm(dictionary, axis=1))
    return np.max(np.abs(dots / lengths), axis=1)


@pytest.mark.parametrize("solution", [recovery, recovery_with_a_loop, recovery_by_einsum])
def test_feature_recovery_accepts_correct_answers(solution, capsys):
    accepts(check_feature_recovery, solution, capsys)


def normalise_in_place(true_directions, dictionary):
    true_directions /= np.linalg.norm(true_directions, axis=1, keepdims=True)
    return np.abs(true_directions @ unit_rows(dictionary).T).max(axis=1)


def aelib_by_another_name(true, dictionary):
    from aelib.recovery import feature_recovery as measure
    return measure(true, dictionary)


@pytest.mark.parametrize("wrong, message", [
    (lambda T, D: (unit_rows(T) @ unit_rows(D).T).max(axis=1), r"not the largest \|cos\|.*np.abs"),
    (lambda T, D: np.abs(T @ unit_rows(D).T).max(axis=1), "does not divide the true directions"),
    (lambda T, D: np.abs(unit_rows(T) @ D.T).max(axis=1), "does not divide the dictionary's rows"),
    (lambda T, D: np.abs(T @ D.T).max(axis=1), "dot products, not cosines: divide every row"),
    (lambda T, D: np.abs(unit_rows(T) @ unit_rows(D).T).max(axis=0), "one value per dictionary row"),
    (lambda T, D: np.abs(unit_rows(T) @ unit_rows(D).T).mean(axis=1), r"mean \|cos\|"),
    (lambda T, D: np.abs(unit_rows(T) @ unit_rows(D).T).argmax(axis=1), r"index of the best row \(argmax\)"),
    (lambda T, D: ((unit_rows(T) @ unit_rows(D).T) ** 2).max(axis=1), "squared cosines"),
    (lambda T, D: recovery(T, D) > 0.9, "returned booleans"),
    (lambda T, D: np.sum(recovery(T, D) > 0.9), "a single number"),
    (lambda T, D: np.abs((T / np.linalg.norm(T, axis=0)) @ (D / np.linalg.norm(D, axis=0)).T).max(axis=1),
     "normalises the columns"),
    (lambda T, D: recovery(T, D).astype(np.float32), "float32"),
    (lambda T, D: np.round(recovery(T, D), 3), r"relative difference"),
    (aelib.feature_recovery, "calls aelib.recovery.feature_recovery, which is part of aelib"),
    (aelib_by_another_name, "calls aelib.recovery.feature_recovery"),
    (normalise_in_place, "changed true_directions in place"),
    (not_implemented, "not implemented yet"),
])
def test_feature_recovery_rejects_mistakes(wrong, message):
    with fails_with(message):
        check_feature_recovery(wrong)


def recovery_from_both_signs(true, dictionary):
    cosines = unit_rows(true) @ unit_rows(dictionary).T
    return np.maximum(cosines.max(axis=1), -cosines.min(axis=1))


def recovery_by_distances(true, dictionary):
    # The nearest of the dictionary's unit rows and their negatives: |cos| = 1 - distance^2 / 2.
    t, d = unit_rows(true)[:, None, :], unit_rows(dictionary)[None, :, :]
    nearest = np.minimum(((t - d) ** 2).sum(axis=-1), ((t + d) ** 2).sum(axis=-1)).min(axis=1)
    return 1 - nearest / 2


@pytest.mark.parametrize("solution", [recovery_from_both_signs, recovery_by_distances])
def test_feature_recovery_accepts_more_correct_answers(solution, capsys):
    accepts(check_feature_recovery, solution, capsys)


def rows_by(norm):
    return lambda M: M / np.linalg.norm(M, ord=norm, axis=1, keepdims=True)


def best_row_by_dot_product(true, dictionary):
    best = np.abs(true @ dictionary.T).argmax(axis=1)
    return np.abs(np.sum(unit_rows(true) * unit_rows(dictionary)[best], axis=1))


@pytest.mark.parametrize("wrong, message", [
    (lambda T, D: np.abs((T / np.linalg.norm(T)) @ (D / np.linalg.norm(D)).T).max(axis=1),
     "length of the whole array"),
    (lambda T, D: np.abs((T / np.sum(T ** 2, axis=1, keepdims=True)) @
                         (D / np.sum(D ** 2, axis=1, keepdims=True)).T).max(axis=1), "squared lengths"),
    (best_row_by_dot_product, "best row by the dot product"),
    (lambda T, D: (unit_rows(np.abs(T)) @ unit_rows(np.abs(D)).T).max(axis=1),
     "absolute value of the entries before the cosine"),
    (lambda T, D: (1 - np.abs(unit_rows(T) @ unit_rows(D).T)).min(axis=1), r"cosine distance 1 - \|cos\|"),
    (lambda T, D: np.abs(unit_rows(T) @ unit_rows(D).T).min(axis=1), r"smallest \|cos\|"),
    (lambda T, D: np.abs(rows_by(1)(T) @ rows_by(1)(D).T).max(axis=1), "another norm"),
    (lambda T, D: np.abs(rows_by(np.inf)(T) @ rows_by(np.inf)(D).T).max(axis=1), "another norm"),
    (lambda T, D: np.abs((T / (np.linalg.norm(T, axis=1, keepdims=True) + 1e-8)) @
                         (D / (np.linalg.norm(D, axis=1, keepdims=True) + 1e-8)).T).max(axis=1),
     "a hair below the exact .* small number is added to the lengths"),
    (lambda T, D: np.sort(recovery(T, D))[::-1], "returns the values sorted"),
])
def test_feature_recovery_names_more_mistakes(wrong, message):
    with fails_with(message):
        check_feature_recovery(wrong)


# Exercise 5.2: the TopK SAE's backward pass.

def topk_sae_grads(X, W_enc, b_enc, W_dec, b_dec, k):
    n = X.shape[0]
    X_centred = X - b_dec
    A = X_centred @ W_enc + b_enc
    rows = np.arange(n)[:, None]
    kept = np.argsort(A, axis=1)[:, -k:]
    Z = np.zeros_like(A)
    Z[rows, kept] = np.maximum(A[rows, kept], 0)
    G = 2 / n * (Z @ W_dec + b_dec - X)
    Delta = (G @ W_dec.T) * (Z > 0)
    return [X_centred.T @ Delta, Delta.sum(axis=0), Z.T @ G, G.sum(axis=0) - W_enc @ Delta.sum(axis=0)]


def topk_sae_grads_with_masks(X, W_enc, b_enc, W_dec, b_dec, k):
    # The k-th largest entry of each row as a threshold, and the gradients written entry by entry
    # through einsum.
    centred = X - b_dec
    A = np.einsum("nd,dk->nk", centred, W_enc) + b_enc
    threshold = np.sort(A, axis=1)[:, -k][:, None]
    active = (A >= threshold) & (A > 0)
    Z = np.where(active, A, 0.0)
    residual = Z @ W_dec + b_dec - X
    G = residual * (2.0 / len(X))
    Delta = np.where(active, G @ W_dec.T, 0.0)
    db_enc = np.einsum("nk->k", Delta)
    return (np.einsum("nd,nk->dk", centred, Delta), db_enc, np.einsum("nk,nd->kd", Z, G),
            np.einsum("nd->d", G) - np.einsum("dk,k->d", W_enc, db_enc))


def topk_sae_grads_per_sample(X, W_enc, b_enc, W_dec, b_dec, k):
    grads = [np.zeros_like(W_enc), np.zeros_like(b_enc), np.zeros_like(W_dec), np.zeros_like(b_dec)]
    for x in X:
        a = (x - b_dec) @ W_enc + b_enc
        keep = np.zeros(len(a), dtype=bool)
        keep[np.argpartition(a, -k)[-k:]] = True
        z = np.where(keep & (a > 0), a, 0.0)
        g = 2 * (z @ W_dec + b_dec - x) / len(X)
        delta = (W_dec @ g) * (z > 0)
        grads[0] += np.outer(x - b_dec, delta)
        grads[1] += delta
        grads[2] += np.outer(z, g)
        grads[3] += g - W_enc @ delta
    return grads


@pytest.mark.parametrize("solution", [topk_sae_grads, topk_sae_grads_with_masks, topk_sae_grads_per_sample])
def test_topk_sae_grads_accepts_correct_answers(solution, capsys, monkeypatch):
    forbid_training(monkeypatch)
    accepts(check_topk_sae_grads, solution, capsys)


def with_mask(mask):
    """A TopK gradient whose mask on A is ``mask(A, Z, kept)``."""
    def grads(X, W_enc, b_enc, W_dec, b_dec, k):
        n = X.shape[0]
        centred = X - b_dec
        A = centred @ W_enc + b_enc
        kept = np.zeros(A.shape, dtype=bool)
        kept[np.arange(n)[:, None], np.argsort(A, axis=1)[:, -k:]] = True
        Z = np.where(kept, np.maximum(A, 0), 0.0)
        G = 2 / n * (Z @ W_dec + b_dec - X)
        Delta = (G @ W_dec.T) * mask(A, Z, kept)
        return [centred.T @ Delta, Delta.sum(axis=0), Z.T @ G, G.sum(axis=0) - W_enc @ Delta.sum(axis=0)]
    return grads


def changed(index, change):
    """The right gradient with array ``index`` replaced by change(right, X, W_enc, b_enc, W_dec, b_dec, k)."""
    def grads(X, W_enc, b_enc, W_dec, b_dec, k):
        right = topk_sae_grads(X, W_enc, b_enc, W_dec, b_dec, k)
        right[index] = change(right, X, W_enc, b_enc, W_dec, b_dec, k)
        return right
    return grads


def scaled(factor):
    return lambda *args: [factor * g for g in topk_sae_grads(*args)]


def smallest_k(X, W_enc, b_enc, W_dec, b_dec, k):
    return _with_selection(X, W_enc, b_enc, W_dec, b_dec, lambda A: np.argsort(A, axis=1)[:, :k])


def _with_selection(X, W_enc, b_enc, W_dec, b_dec, select):
    n = X.shape[0]
    centred = X - b_dec
    A = centred @ W_enc + b_enc
    Z = np.zeros_like(A)
    rows = np.arange(n)[:, None]
    chosen = select(A)
    Z[rows, chosen] = np.maximum(A[rows, chosen], 0)
    G = 2 / n * (Z @ W_dec + b_dec - X)
    Delta = (G @ W_dec.T) * (Z > 0)
    return [centred.T @ Delta, Delta.sum(axis=0), Z.T @ G, G.sum(axis=0) - W_enc @ Delta.sum(axis=0)]


def per_latent_selection(X, W_enc, b_enc, W_dec, b_dec, k):
    n = X.shape[0]
    centred = X - b_dec
    A = centred @ W_enc + b_enc
    keep = np.zeros(A.shape, dtype=bool)
    keep[np.argsort(A, axis=0)[-k:], np.arange(A.shape[1])] = True
    Z = np.where(keep, np.maximum(A, 0), 0.0)
    G = 2 / n * (Z @ W_dec + b_dec - X)
    Delta = (G @ W_dec.T) * (Z > 0)
    return [centred.T @ Delta, Delta.sum(axis=0), Z.T @ G, G.sum(axis=0) - W_enc @ Delta.sum(axis=0)]


def hard_coded_k(X, W_enc, b_enc, W_dec, b_dec, k):
    return topk_sae_grads(X, W_enc, b_enc, W_dec, b_dec, 2)


def central_differences(X, W_enc, b_enc, W_dec, b_dec, k, h=1e-6):
    params = [W_enc.copy(), b_enc.copy(), W_dec.copy(), b_dec.copy()]

    def loss():
        W_e, b_e, W_d, b_d = params
        A = (X - b_d) @ W_e + b_e
        Z = np.zeros_like(A)
        rows = np.arange(len(X))[:, None]
        kept = np.argsort(A, axis=1)[:, -k:]
        Z[rows, kept] = np.maximum(A[rows, kept], 0)
        return np.sum((Z @ W_d + b_d - X) ** 2) / len(X)

    grads = []
    for param in params:
        grad = np.zeros_like(param)
        for index in np.ndindex(param.shape):
            original = param[index]
            param[index] = original + h
            plus = loss()
            param[index] = original - h
            minus = loss()
            param[index] = original
            grad[index] = (plus - minus) / (2 * h)
        grads.append(grad)
    return grads


def aelib_loss_and_grads(X, W_enc, b_enc, W_dec, b_dec, k):
    sae = aelib.SparseAutoencoder(X.shape[1], W_enc.shape[1], k=k)
    for param, value in zip(sae.params, (W_enc, b_enc, W_dec, b_dec)):
        param[...] = value
    return sae.loss_and_grads(X)[1]


def aelib_top_k_relu(X, W_enc, b_enc, W_dec, b_dec, k):
    n = X.shape[0]
    centred = X - b_dec
    Z = aelib.sparse.top_k_relu(centred @ W_enc + b_enc, k)
    G = 2 / n * (Z @ W_dec + b_dec - X)
    Delta = (G @ W_dec.T) * (Z > 0)
    return [centred.T @ Delta, Delta.sum(axis=0), Z.T @ G, G.sum(axis=0) - W_enc @ Delta.sum(axis=0)]


@pytest.mark.parametrize("wrong, message", [
    (with_mask(lambda A, Z, kept: A > 0), "also to those TopK did not keep"),
    (with_mask(lambda A, Z, kept: kept), "kept entries whose pre-activation is negative"),
    (smallest_k, "keeps the k smallest pre-activations"),
    (per_latent_selection, r"each latent over the samples \(a column\)"),
    (hard_coded_k, "keeps 2 entries per sample, but the argument k is 3"),
    (changed(3, lambda right, X, W_enc, b_enc, W_dec, b_dec, k: right[3] + W_enc @ right[1]),
     "forgets that b_dec is also subtracted"),
    (changed(3, lambda right, X, W_enc, b_enc, W_dec, b_dec, k: right[3] + 2 * W_enc @ right[1]),
     "encoder path of b_dec with the wrong sign"),
    (changed(0, lambda right, X, W_enc, b_enc, W_dec, b_dec, k: right[0] + np.outer(b_dec, right[1])),
     "uses X instead of the centred X - b_dec"),
    (scaled(0.5), "misses the factor 2"),
    (lambda X, *rest: [g / X.shape[1] for g in topk_sae_grads(X, *rest)], r"divides by n \* d instead of n"),
    (scaled(-1.0), "has the wrong sign: G = 2"),
    (changed(2, lambda right, *args: right[2].T), r"dW_dec from topk_sae_grads is transposed"),
    (lambda *args: topk_sae_grads(*args)[::-1], "wrong order"),
    (lambda *args: topk_sae_grads(*args)[:3], "must return 4 arrays"),
    (changed(1, lambda right, *args: right[1] * 1.001), "db_enc from topk_sae_grads"),
    (central_differences, "finite differences|evaluates the encoder again and again"),
    (aelib_loss_and_grads, "calls aelib.sparse.SparseAutoencoder"),
    (aelib_top_k_relu, "calls aelib.sparse.top_k_relu, which is part of aelib"),
    (not_implemented, "not implemented yet"),
])
def test_topk_sae_grads_rejects_mistakes(wrong, message, monkeypatch):
    forbid_training(monkeypatch)
    with fails_with(message):
        check_topk_sae_grads(wrong)


def test_topk_problems_show_every_mistake():
    # Each problem has kept entries with negative pre-activations (so the ReLU matters after TopK)
    # and unkept entries with positive ones (so TopK matters after the ReLU), and k varies.
    ks, shows_relu = [], []
    for X, (W_enc, b_enc, W_dec, b_dec), k in _topk_problems():
        A = (X - b_dec) @ W_enc + b_enc
        kept = np.zeros(A.shape, dtype=bool)
        kept[np.arange(len(A))[:, None], np.argsort(A, axis=1)[:, -k:]] = True
        shows_relu.append(np.any(kept & (A < 0)))
        if k < A.shape[1]:
            assert np.any(~kept & (A > 0)), k
        ordered = np.sort(A, axis=1)
        if k < A.shape[1]:
            assert np.min(ordered[:, -k] - ordered[:, -k - 1]) > 1e-6, "no ties at the selection"
        ks.append((k, A.shape[1]))
    assert shows_relu[0] and sum(shows_relu) >= 3
    assert {k for k, _ in ks} >= {1, 3, 4} and any(k == n_latent for k, n_latent in ks)


def topk_sae_grads_entry_by_entry(X, W_enc, b_enc, W_dec, b_dec, k):
    # The pre-activations one sample and one latent at a time: X meets b_dec n * n_latent times,
    # which is one evaluation of the encoder per latent, not finite differences.
    n, n_latent = X.shape[0], W_enc.shape[1]
    A = np.zeros((n, n_latent))
    for i in range(n):
        for u in range(n_latent):
            A[i, u] = np.dot(X[i] - b_dec, W_enc[:, u]) + b_enc[u]
    Z = np.where(top_mask(A, k), np.maximum(A, 0), 0.0)
    G = 2 / n * (Z @ W_dec + b_dec - X)
    Delta = (G @ W_dec.T) * (Z > 0)
    return [(X - b_dec).T @ Delta, Delta.sum(axis=0), Z.T @ G, G.sum(axis=0) - W_enc @ Delta.sum(axis=0)]


def topk_sae_grads_relu_first_on_copies(X, W_enc, b_enc, W_dec, b_dec, k):
    # Plain copies of the inputs, the ReLU before the selection (the same codes), argpartition.
    X, W_enc, b_enc, W_dec, b_dec = (np.array(a, dtype=float) for a in (X, W_enc, b_enc, W_dec, b_dec))
    n = len(X)
    positive = np.maximum((X - b_dec) @ W_enc + b_enc, 0)
    top = np.argpartition(positive, -k, axis=1)[:, -k:]
    Z = np.zeros_like(positive)
    np.put_along_axis(Z, top, np.take_along_axis(positive, top, axis=1), axis=1)
    G = 2 * (Z @ W_dec + b_dec - X) / n
    Delta = (G @ W_dec.T) * (Z != 0)
    return [(X - b_dec).T @ Delta, Delta.sum(axis=0), Z.T @ G, (G - Delta @ W_enc.T).sum(axis=0)]


@pytest.mark.parametrize("solution", [topk_sae_grads_entry_by_entry, topk_sae_grads_relu_first_on_copies])
def test_topk_sae_grads_accepts_more_correct_answers(solution, capsys, monkeypatch):
    forbid_training(monkeypatch)
    accepts(check_topk_sae_grads, solution, capsys)


def topk_forward_variant(centre=True, encoder_bias=True, output_bias=True, select=None, unit_dictionary=False,
                         db_dec_paths=("output", "input")):
    """A TopK gradient with a mistake in its forward pass, and b_dec's gradient from ``db_dec_paths``."""
    def grads(X, W_enc, b_enc, W_dec, b_dec, k):
        n = X.shape[0]
        W = W_dec / np.linalg.norm(W_dec, axis=1, keepdims=True) if unit_dictionary else W_dec
        inputs = X - b_dec if centre else X
        A = inputs @ W_enc + (b_enc if encoder_bias else 0)
        Z = np.where(top_mask(A if select is None else select(A), k), np.maximum(A, 0), 0.0)
        G = 2 / n * (Z @ W + (b_dec if output_bias else 0) - X)
        Delta = (G @ W.T) * (Z > 0)
        paths = {"output": G.sum(axis=0), "input": -W_enc @ Delta.sum(axis=0)}
        return [inputs.T @ Delta, Delta.sum(axis=0), Z.T @ G, sum(paths[path] for path in db_dec_paths)]
    return grads


def projected_dictionary_gradient(*args):
    grads = topk_sae_grads(*args)
    W_dec = args[3]
    grads[2] = grads[2] - np.sum(grads[2] * W_dec, axis=1, keepdims=True) * W_dec
    return grads


def sae_loss(X, W_enc, b_enc, W_dec, b_dec, k, keep=None):
    """The TopK SAE's loss; with ``keep``, the selection is held at that mask (a quadratic in each weight)."""
    A = (X - b_dec) @ W_enc + b_enc
    real = A.real if np.iscomplexobj(A) else A
    mask = top_mask(real, k) & (real > 0) if keep is None else keep
    return np.sum((np.where(mask, A, 0) @ W_dec + b_dec - X) ** 2) / len(X)


def by_differences(h, which=(0, 1, 2, 3), stencil="central", frozen=False, copy=np.array, centred_once=False):
    """A TopK 'gradient' from differences of the loss: arrays ``which`` by the stencil, the others by the
    chain rule; on copies made by ``copy`` (np.array: plain arrays the check cannot follow); with the
    selection held at the unperturbed one if ``frozen``."""
    def grads(X, W_enc, b_enc, W_dec, b_dec, k):
        right = topk_sae_grads(X, W_enc, b_enc, W_dec, b_dec, k)
        X, *params = (copy(a) for a in (X, W_enc, b_enc, W_dec, b_dec))
        A = (X - params[3]) @ params[0] + params[1]
        keep = top_mask(A, k) & (A > 0) if frozen else None
        if centred_once:  # the complex step through X - b_dec computed once, b_dec moved as a separate shift
            X_centred = X - params[3]

            def loss(W_e, b_e, W_d, shift):
                return sae_loss(X_centred - shift + params[3], W_e, b_e, W_d, params[3] + shift, k)
            params, at = [params[0], params[1], params[2], np.zeros_like(params[3])], loss
        else:
            def at(*moved):
                return sae_loss(X, *moved, k, keep)
        result = list(right)
        for i in which:
            grad = np.zeros(params[i].shape)
            for index in np.ndindex(params[i].shape):
                def f(step):
                    moved = [p.astype(complex) if stencil == "complex" else p.copy() for p in params]
                    moved[i][index] += step
                    return at(*moved)
                if stencil == "complex":
                    grad[index] = f(1j * h).imag / h
                else:
                    grad[index] = (f(h) - f(-h)) / (2 * h)
            result[i] = grad
        return result
    return grads


def dictionary_gradient_from_pre_activations(X, W_enc, b_enc, W_dec, b_dec, k):
    grads = topk_sae_grads(X, W_enc, b_enc, W_dec, b_dec, k)
    A = (X - b_dec) @ W_enc + b_enc
    Z = np.where(top_mask(A, k), np.maximum(A, 0), 0.0)
    grads[2] = A.T @ (2 / len(X) * (Z @ W_dec + b_dec - X))
    return grads


def argpartition_at_k(X, W_enc, b_enc, W_dec, b_dec, k):
    # argpartition(-A, k) keeps the k largest only while k < the number of latents.
    return _with_selection(X, W_enc, b_enc, W_dec, b_dec, lambda A: np.argpartition(-A, k, axis=1)[:, :k])


@pytest.mark.parametrize("wrong, message", [
    (with_mask(lambda A, Z, kept: np.ones(A.shape)), "passes gradient to every latent, kept or not"),
    (with_mask(lambda A, Z, kept: Z >= 0), "passes gradient to every latent, kept or not"),
    (topk_forward_variant(select=np.abs), "largest in absolute value"),
    (topk_forward_variant(centre=False, db_dec_paths=("output",)), "pre-activations from X itself"),
    (topk_forward_variant(centre=False), "pre-activations from X itself"),
    (topk_forward_variant(encoder_bias=False), "leaves b_enc out"),
    (topk_forward_variant(output_bias=False, db_dec_paths=("input",)), "leaves b_dec out of the reconstruction"),
    (topk_forward_variant(unit_dictionary=True), "divides the dictionary's rows by their lengths"),
    (changed(3, lambda right, X, W_enc, *rest: -W_enc @ right[1]), "forgets that b_dec is also added at the output"),
    (scaled(7.0), "sums the squared errors over the samples"),  # the first problem has 7 samples
    (scaled(1 / 7), "divides by n twice"),
    (dictionary_gradient_from_pre_activations, "multiplies G by the pre-activations A"),
    (changed(1, lambda right, X, *rest: right[1] / len(X)), "averages the rows of Delta for db_enc"),
    (projected_dictionary_gradient, "as fit does before a step; .* plain gradient"),
    (argpartition_at_k, r"kth\(=5\) out of bounds .* k = 5 may be as large as the number of latents"),
    # Differences of the loss in every form: on the traced arrays, on plain copies, of W_dec alone
    # (where the loss is exactly quadratic) with a large step, with the selection frozen, Richardson,
    # the complex step (exact to rounding).
    (by_differences(1e-5, copy=np.copy), "evaluates the encoder again and again"),
    (by_differences(1e-5), "finite differences"),
    (by_differences(1.0, which=(2,)), "finite differences"),
    (by_differences(10.0, which=(2,)), "finite differences"),
    (by_differences(1.0, frozen=True), "finite differences"),
    (by_differences(100.0, which=(3,), frozen=True), "finite differences"),
    (by_differences(1e-30, stencil="complex"), "computes with complex numbers"),
    (by_differences(1e-30, stencil="complex", copy=np.copy), "computes with complex numbers"),
    (by_differences(1e-30, stencil="complex", centred_once=True), "computes with complex numbers"),
])
def test_topk_sae_grads_names_more_mistakes(wrong, message, monkeypatch):
    forbid_training(monkeypatch)
    with fails_with(message):
        check_topk_sae_grads(wrong)


@pytest.mark.parametrize("which", [(0,), (1,), (2,), (3,)])
@pytest.mark.parametrize("h", [1e-3, 1.0, 1e3, 1e5])
def test_no_step_lets_differences_of_the_loss_pass_for_the_topk_gradient(which, h, monkeypatch):
    # Even with the selection frozen, so that the loss is a quadratic in each weight, and one array
    # at a time: the outlier's loss drowns every difference in rounding.
    forbid_training(monkeypatch)
    with fails_with("finite differences"):
        check_topk_sae_grads(by_differences(h, which=which, frozen=True))


def test_finite_differences_evaluate_the_encoder_more_often_than_the_checks_allow():
    # One evaluation per weight at the least, more than twice what an answer may make (an answer that
    # computes A entry by entry, and dW_enc so too, makes two per latent).
    for params in [problem[1] for problem in _topk_problems() + _auxk_problems()]:
        assert sum(param.size for param in params) > 2 * _evaluations_allowed(params[0].shape[1])


def test_the_last_problems_have_an_outlier_whose_codes_are_exactly_zero():
    for X, (W_enc, b_enc, W_dec, b_dec), k in [_topk_problems()[-1], _auxk_problems()[-1][:3]]:
        centred = X - b_dec
        assert np.count_nonzero(centred[0]) == 1 and np.abs(centred[0]).max() == 1e5
        assert np.abs(centred[1:]).max() < 10
        A = centred @ W_enc + b_enc
        assert A[0].max() < -1e4, "every pre-activation of the outlier is far below zero"
        assert np.sum(centred[0] ** 2) / len(X) > 1e9, "its loss drowns any difference of two losses"


# Exercise 5.4: the AuxK gradient.

def auxk_grads(X, W_enc, b_enc, W_dec, b_dec, k, dead, k_aux):
    n = X.shape[0]
    X_centred = X - b_dec
    A = X_centred @ W_enc + b_enc
    rows = np.arange(n)[:, None]
    kept = np.argsort(A, axis=1)[:, -k:]
    Z = np.zeros_like(A)
    Z[rows, kept] = np.maximum(A[rows, kept], 0)
    E = X - (Z @ W_dec + b_dec)
    chosen = np.argsort(np.where(dead, A, -np.inf), axis=1)[:, -min(k_aux, int(dead.sum())):]
    Z_aux = np.zeros_like(A)
    Z_aux[rows, chosen] = np.maximum(A[rows, chosen], 0)
    G = 2 / n * (Z_aux @ W_dec - E)
    Delta = (G @ W_dec.T) * (Z_aux > 0)
    return [X_centred.T @ Delta, Delta.sum(axis=0), Z_aux.T @ G, -W_enc @ Delta.sum(axis=0)]


def auxk_grads_on_dead_columns(X, W_enc, b_enc, W_dec, b_dec, k, dead, k_aux):
    # Works on the dead latents' columns alone, then scatters the gradient back.
    n = X.shape[0]
    centred = X - b_dec
    A = centred @ W_enc + b_enc
    threshold = np.sort(A, axis=1)[:, -k][:, None]
    Z = np.where(A >= threshold, np.maximum(A, 0), 0.0)
    E = X - Z @ W_dec - b_dec
    index = np.flatnonzero(dead)
    A_dead = A[:, index]
    m = min(k_aux, len(index))
    cut = np.sort(A_dead, axis=1)[:, -m][:, None]
    Z_dead = np.where((A_dead >= cut) & (A_dead > 0), A_dead, 0.0)
    G = (Z_dead @ W_dec[index] - E) * (2.0 / n)
    delta_dead = (G @ W_dec[index].T) * (Z_dead > 0)
    dW_enc, db_enc, dW_dec = np.zeros_like(W_enc), np.zeros_like(b_enc), np.zeros_like(W_dec)
    dW_enc[:, index] = centred.T @ delta_dead
    db_enc[index] = delta_dead.sum(axis=0)
    dW_dec[index] = Z_dead.T @ G
    return dW_enc, db_enc, dW_dec, -W_enc[:, index] @ delta_dead.sum(axis=0)


@pytest.mark.parametrize("solution", [auxk_grads, auxk_grads_on_dead_columns])
def test_auxk_grads_accepts_correct_answers(solution, capsys, monkeypatch):
    forbid_training(monkeypatch)
    accepts(check_auxk_grads, solution, capsys)


def test_the_auxk_reference_matches_central_differences_with_the_residual_held(gradients):
    for X, params, k, dead, k_aux in _auxk_problems():
        expected, _ = auxk_reference(X, params, k, dead, k_aux)
        params = [param.copy() for param in params]
        W_enc, b_enc, W_dec, b_dec = params
        A = (X - b_dec) @ W_enc + b_enc
        Z = np.zeros_like(A)
        rows = np.arange(len(X))[:, None]
        top = np.argsort(A, axis=1)[:, -k:]
        Z[rows, top] = np.maximum(A[rows, top], 0)
        E = X - (Z @ W_dec + b_dec)
        for param, grad in zip(params, expected):
            gradients.assert_close(lambda: auxk_loss(X, params, k, dead, k_aux, E=E), param, grad, "AuxK")


def test_auxk_problems_show_every_mistake():
    cases = []
    for X, (W_enc, b_enc, W_dec, b_dec), k, dead, k_aux in _auxk_problems():
        A = (X - b_dec) @ W_enc + b_enc
        n_dead = int(dead.sum())
        chosen = np.zeros(A.shape, dtype=bool)
        chosen[np.arange(len(A))[:, None], np.argsort(np.where(dead, A, -np.inf), axis=1)[:, -min(k_aux, n_dead):]] = True
        assert np.any(chosen & (A < 0)), "some chosen dead entries are negative: the ReLU matters"
        assert np.any(chosen & (A > 0)), "some pass gradient"
        cases.append((k_aux, n_dead))
    assert any(k_aux > n_dead for k_aux, n_dead in cases) and any(k_aux < n_dead for k_aux, n_dead in cases)


def auxk_variant(select=None, output_bias=False, db_dec=None, uncentred=False, factor=1.0, through_residual=False):
    def grads(X, W_enc, b_enc, W_dec, b_dec, k, dead, k_aux):
        n = X.shape[0]
        centred = X - b_dec
        A = centred @ W_enc + b_enc
        rows = np.arange(n)[:, None]
        kept = np.argsort(A, axis=1)[:, -k:]
        Z = np.zeros_like(A)
        Z[rows, kept] = np.maximum(A[rows, kept], 0)
        E = X - (Z @ W_dec + b_dec)
        if select is None:
            chosen = np.argsort(np.where(dead, A, -np.inf), axis=1)[:, -min(k_aux, int(dead.sum())):]
            Z_aux = np.zeros_like(A)
            Z_aux[rows, chosen] = np.maximum(A[rows, chosen], 0)
        else:
            Z_aux = np.where(select(A, dead, k, k_aux), np.maximum(A, 0), 0.0)
        G = factor * 2 / n * (Z_aux @ W_dec + (b_dec if output_bias else 0) - E)
        Delta = (G @ W_dec.T) * (Z_aux > 0)
        result = [(X if uncentred else centred).T @ Delta, Delta.sum(axis=0), Z_aux.T @ G,
                  -W_enc @ Delta.sum(axis=0) + (G.sum(axis=0) if output_bias else 0)]
        if db_dec is not None:
            result[3] = db_dec(W_enc, Delta)
        if through_residual:
            delta_main = (G @ W_dec.T) * (Z > 0)
            extra = [centred.T @ delta_main, delta_main.sum(axis=0), Z.T @ G,
                     G.sum(axis=0) - W_enc @ delta_main.sum(axis=0)]
            result = [r + e for r, e in zip(result, extra)]
        return result
    return grads


def top_mask(A, count, allowed=None):
    values = A if allowed is None else np.where(allowed, A, -np.inf)
    mask = np.zeros(A.shape, dtype=bool)
    mask[np.arange(len(A))[:, None], np.argsort(values, axis=1)[:, -count:]] = True
    return mask


def auxk_lets_live_latents_in(X, W_enc, b_enc, W_dec, b_dec, k, dead, k_aux):
    # Forgets min(k_aux, number dead): with fewer dead latents than k_aux, live ones fill up.
    n = X.shape[0]
    centred = X - b_dec
    A = centred @ W_enc + b_enc
    rows = np.arange(n)[:, None]
    kept = np.argsort(A, axis=1)[:, -k:]
    Z = np.zeros_like(A)
    Z[rows, kept] = np.maximum(A[rows, kept], 0)
    E = X - (Z @ W_dec + b_dec)
    chosen = np.argsort(np.where(dead, A, -np.inf), axis=1)[:, -k_aux:]
    Z_aux = np.zeros_like(A)
    Z_aux[rows, chosen] = np.maximum(A[rows, chosen], 0)
    G = 2 / n * (Z_aux @ W_dec - E)
    Delta = (G @ W_dec.T) * (Z_aux > 0)
    return [centred.T @ Delta, Delta.sum(axis=0), Z_aux.T @ G, -W_enc @ Delta.sum(axis=0)]


def auxk_central_differences(X, W_enc, b_enc, W_dec, b_dec, k, dead, k_aux, h=1e-6):
    params = [W_enc.copy(), b_enc.copy(), W_dec.copy(), b_dec.copy()]
    E = X - topk_reconstruction(X, params, k)
    grads = []
    for param in params:
        grad = np.zeros_like(param)
        for index in np.ndindex(param.shape):
            original = param[index]
            values = []
            for step in (h, -h):
                param[index] = original + step
                A = (X - params[3]) @ params[0] + params[1]
                Z_aux = np.where(top_mask(A, min(k_aux, int(dead.sum())), dead), np.maximum(A, 0), 0.0)
                values.append(np.sum((Z_aux @ params[2] - E) ** 2) / len(X))
            param[index] = original
            grad[index] = (values[0] - values[1]) / (2 * h)
        grads.append(grad)
    return grads


def topk_reconstruction(X, params, k):
    W_enc, b_enc, W_dec, b_dec = params
    A = (X - b_dec) @ W_enc + b_enc
    return np.where(top_mask(A, k), np.maximum(A, 0), 0.0) @ W_dec + b_dec


@pytest.mark.parametrize("wrong, message", [
    (auxk_variant(select=lambda A, dead, k, k_aux: top_mask(A, k_aux)), "chooses among all latents"),
    (auxk_variant(select=lambda A, dead, k, k_aux: top_mask(A, min(k, int(dead.sum())), dead)),
     r"uses k \(the SAE's own number"),
    (auxk_variant(select=lambda A, dead, k, k_aux: np.broadcast_to(dead, A.shape)), "lets every dead latent"),
    (auxk_variant(select=lambda A, dead, k, k_aux: top_mask(-A, min(k_aux, int(dead.sum())), dead)),
     "k_aux smallest"),
    (auxk_variant(output_bias=True), "adds b_dec to the auxiliary reconstruction"),
    (auxk_variant(db_dec=lambda W_enc, Delta: np.zeros(W_enc.shape[0])), "passes no gradient to b_dec"),
    (auxk_variant(db_dec=lambda W_enc, Delta: W_enc @ Delta.sum(axis=0)), "b_dec with the wrong sign"),
    (auxk_variant(uncentred=True), "uses X instead of the centred X - b_dec"),
    (auxk_variant(factor=0.5), "misses the factor 2"),
    (auxk_variant(factor=-1.0), "has the wrong sign: G_aux"),
    (auxk_variant(through_residual=True), "treats E as a constant"),
    (auxk_lets_live_latents_in, "gives gradient to the dictionary rows of live latents"),
    (auxk_central_differences, "finite differences|evaluates the encoder again and again"),
    (lambda X, W_enc, b_enc, W_dec, b_dec, k, dead, k_aux: aelib.sparse.top_k_relu(X, k),
     "calls aelib.sparse.top_k_relu, which is part of aelib"),
    (not_implemented, "not implemented yet"),
])
def test_auxk_grads_rejects_mistakes(wrong, message, monkeypatch):
    forbid_training(monkeypatch)
    with fails_with(message):
        check_auxk_grads(wrong)


def test_auxk_grads_rejects_changing_dead_in_place():
    def in_place(X, W_enc, b_enc, W_dec, b_dec, k, dead, k_aux):
        dead &= True
        dead[0] = not dead[0]
        return auxk_grads(X, W_enc, b_enc, W_dec, b_dec, k, dead, k_aux)

    with fails_with("changed dead in place"):
        check_auxk_grads(in_place)


def auxk_grads_from_masked_codes(X, W_enc, b_enc, W_dec, b_dec, k, dead, k_aux):
    # The live latents' pre-activations multiplied by 0, not set to -inf: a live 0 may be chosen
    # over a negative dead entry, but both give a zero code. k_aux not capped at the number dead.
    n = X.shape[0]
    centred = X - b_dec
    A = centred @ W_enc + b_enc
    Z = np.maximum(A, 0) * top_mask(A, k)
    E = X - Z @ W_dec - b_dec
    dead_codes = np.maximum(A * dead, 0)
    Z_aux = dead_codes * top_mask(dead_codes, min(k_aux, A.shape[1]))
    G = 2 / n * (Z_aux @ W_dec - E)
    Delta = (G @ W_dec.T) * (Z_aux > 0)
    return [np.einsum("nd,nk->dk", centred, Delta), Delta.sum(axis=0), np.einsum("nk,nd->kd", Z_aux, G),
            -np.einsum("dk,nk->d", W_enc, Delta)]


def auxk_grads_relu_of_the_masked_array(X, W_enc, b_enc, W_dec, b_dec, k, dead, k_aux):
    # Forgets min(k_aux, number dead), but takes the codes from the masked array: -inf -> 0.
    n = X.shape[0]
    centred = X - b_dec
    A = centred @ W_enc + b_enc
    rows = np.arange(n)[:, None]
    Z = np.where(top_mask(A, k), np.maximum(A, 0), 0.0)
    E = X - (Z @ W_dec + b_dec)
    masked = np.where(dead, A, -np.inf)
    chosen = np.argsort(masked, axis=1)[:, -k_aux:]
    Z_aux = np.zeros_like(A)
    Z_aux[rows, chosen] = np.maximum(masked[rows, chosen], 0)
    G = 2 / n * (Z_aux @ W_dec - E)
    Delta = (G @ W_dec.T) * (Z_aux > 0)
    return [centred.T @ Delta, Delta.sum(axis=0), Z_aux.T @ G, -W_enc @ Delta.sum(axis=0)]


def auxk_grads_per_sample(X, W_enc, b_enc, W_dec, b_dec, k, dead, k_aux):
    n = X.shape[0]
    dead_latents = np.flatnonzero(dead)
    grads = [np.zeros_like(W_enc), np.zeros_like(b_enc), np.zeros_like(W_dec), np.zeros_like(b_dec)]
    for x in X:
        a = (x - b_dec) @ W_enc + b_enc
        z = np.zeros_like(a)
        top = np.argsort(-a)[:k]
        z[top] = np.maximum(a[top], 0)
        e = x - (z @ W_dec + b_dec)
        chosen = dead_latents[np.argsort(-a[dead_latents])][:k_aux]
        z_aux = np.zeros_like(a)
        z_aux[chosen] = np.maximum(a[chosen], 0)
        g = 2 / n * (z_aux @ W_dec - e)
        delta = (W_dec @ g) * (z_aux > 0)
        grads[0] += np.outer(x - b_dec, delta)
        grads[1] += delta
        grads[2] += np.outer(z_aux, g)
        grads[3] -= W_enc @ delta
    return grads


@pytest.mark.parametrize("solution", [auxk_grads_from_masked_codes, auxk_grads_relu_of_the_masked_array,
                                      auxk_grads_per_sample,
                                      lambda *args: auxk_grads(*args[:6], args[6].astype(int), args[7])])
def test_auxk_grads_accepts_more_correct_answers(solution, capsys, monkeypatch):
    forbid_training(monkeypatch)
    accepts(check_auxk_grads, solution, capsys)


def auxk_with(residual=None, delta_mask=None, centre=True, db_dec=None, dictionary_input=None,
              dead_from_batch=False, output_bias=False):
    """An AuxK gradient with one mistake: the residual E from ``residual(X, A, Z, W_dec, b_dec)``,
    Delta_aux masked by ``delta_mask(A, Z, Z_aux, chosen, dead)``, the pre-activations from X, b_dec's
    gradient ``db_dec(G, Delta, W_enc)``, dW_dec from ``dictionary_input(A, Z_aux, chosen)``, the dead
    latents those that do not fire in the batch, or b_dec in the auxiliary reconstruction."""
    def grads(X, W_enc, b_enc, W_dec, b_dec, k, dead, k_aux):
        n = X.shape[0]
        inputs = X - b_dec if centre else X
        A = inputs @ W_enc + b_enc
        Z = np.where(top_mask(A, k), np.maximum(A, 0), 0.0)
        E = X - (Z @ W_dec + b_dec) if residual is None else residual(X, A, Z, W_dec, b_dec)
        if dead_from_batch:
            dead = ~np.any(Z > 0, axis=0)
        chosen = top_mask(A, min(k_aux, int(dead.sum())), dead)
        Z_aux = np.where(chosen, np.maximum(A, 0), 0.0)
        G = 2 / n * (Z_aux @ W_dec + (b_dec if output_bias else 0) - E)
        mask = Z_aux > 0 if delta_mask is None else delta_mask(A, Z, Z_aux, chosen, dead)
        Delta = (G @ W_dec.T) * mask
        dW_dec = Z_aux.T @ G if dictionary_input is None else dictionary_input(A, Z_aux, chosen).T @ G
        return [inputs.T @ Delta, Delta.sum(axis=0), dW_dec,
                -W_enc @ Delta.sum(axis=0) if db_dec is None else db_dec(G, Delta, W_enc)]
    return grads


def auxk_scaled(factor):
    return lambda *args: [factor * g for g in auxk_grads(*args)]


def auxk_projected(*args):
    grads = auxk_grads(*args)
    W_dec = args[3]
    grads[2] = grads[2] - np.sum(grads[2] * W_dec, axis=1, keepdims=True) * W_dec
    return grads


def auxk_by_differences(h, stencil="central", frozen=False, hold_residual=True):
    """The AuxK 'gradient' from differences of L_aux on plain copies: central, or the complex step;
    the selections held at the unperturbed ones if ``frozen``; the residual held or recomputed."""
    def grads(X, W_enc, b_enc, W_dec, b_dec, k, dead, k_aux):
        X, *params = (np.array(a) for a in (X, W_enc, b_enc, W_dec, b_dec))
        reconstruction = topk_reconstruction(X, params, k)
        A0 = (X - params[3]) @ params[0] + params[1]
        keep = top_mask(A0, min(k_aux, int(dead.sum())), dead) & (A0 > 0)

        def loss(W_e, b_e, W_d, b_d):
            A = (X - b_d) @ W_e + b_e
            real = A.real if np.iscomplexobj(A) else A
            mask = keep if frozen else top_mask(real, min(k_aux, int(dead.sum())), dead) & (real > 0)
            E = X - (reconstruction if hold_residual else topk_reconstruction(X, [W_e, b_e, W_d, b_d], k))
            return np.sum((np.where(mask, A, 0) @ W_d - E) ** 2) / len(X)

        result = []
        for i, param in enumerate(params):
            grad = np.zeros(param.shape)
            for index in np.ndindex(param.shape):
                step = np.zeros(param.shape)
                step[index] = h
                if stencil == "complex":
                    grad[index] = loss(*[p + 1j * step if j == i else p for j, p in enumerate(params)]).imag / h
                else:
                    grad[index] = (loss(*[p + step if j == i else p for j, p in enumerate(params)])
                                   - loss(*[p - step if j == i else p for j, p in enumerate(params)])) / (2 * h)
            result.append(grad)
        return result
    return grads


@pytest.mark.parametrize("wrong, message", [
    (auxk_with(db_dec=lambda G, Delta, W_enc: G.sum(axis=0) - W_enc @ Delta.sum(axis=0)),
     r"adds G_aux.sum\(axis=0\), the output path of equation \(8\)"),
    (auxk_with(db_dec=lambda G, Delta, W_enc: G.sum(axis=0)), r"the output path of equation \(8\)"),
    (auxk_with(output_bias=True), "adds b_dec to the auxiliary reconstruction"),
    (auxk_with(residual=lambda X, A, Z, W_dec, b_dec: Z @ W_dec + b_dec - X), "takes the residual as X_hat - X"),
    (auxk_with(residual=lambda X, A, Z, W_dec, b_dec: X - Z @ W_dec), "leaves b_dec out of the SAE's reconstruction"),
    (auxk_with(residual=lambda X, A, Z, W_dec, b_dec: X - np.maximum(A, 0) @ W_dec - b_dec),
     "residual from ReLU codes without TopK"),
    (auxk_with(delta_mask=lambda A, Z, Z_aux, chosen, dead: Z > 0), r"masks Delta_aux with the SAE's own codes"),
    (auxk_with(delta_mask=lambda A, Z, Z_aux, chosen, dead: chosen), "chosen dead entries whose pre-activation is"),
    (auxk_with(delta_mask=lambda A, Z, Z_aux, chosen, dead: dead & (A > 0)), "to every dead latent with a positive"),
    (auxk_with(centre=False, db_dec=lambda G, Delta, W_enc: np.zeros(W_enc.shape[0])),
     "pre-activations from X itself"),
    (auxk_with(dictionary_input=lambda A, Z_aux, chosen: A * chosen), "multiplies G_aux by the pre-activations"),
    (auxk_with(dead_from_batch=True), "ignores the argument dead"),
    (auxk_projected, "as fit does before a step; .* plain gradient of L_aux"),
    (auxk_scaled(1 / 32), "multiplies by 1/32"),
    (auxk_scaled(8.0), "sums the squared errors over the samples"),  # the first problem has 8 samples
    (auxk_scaled(1 / 5), r"divides by n \* d instead of n"),  # and 5 numbers per sample
    (auxk_scaled(1 / 8), "divides by n twice"),
    (auxk_variant(select=lambda A, dead, k, k_aux: top_mask(A, k_aux) & dead),
     "takes the k_aux largest pre-activations of all latents, then the dead ones among them"),
    (auxk_with(db_dec=lambda G, Delta, W_enc: -W_enc @ Delta.sum(axis=0) * 1.001),
     r"db_dec from auxk_grads.*Hint: Start from G_aux = 2 \(E_hat - E\) / n with E held constant"),
    (auxk_by_differences(1e-5, hold_residual=False), "gives gradient to the dictionary rows of live latents.* held "
                                                     "constant"),
    (auxk_by_differences(1e-5), "finite differences"),
    (auxk_by_differences(1.0, frozen=True), "finite differences"),
    (auxk_by_differences(1e-30, stencil="complex"), "computes with complex numbers"),
])
def test_auxk_grads_names_more_mistakes(wrong, message, monkeypatch):
    forbid_training(monkeypatch)
    with fails_with(message):
        check_auxk_grads(wrong)
