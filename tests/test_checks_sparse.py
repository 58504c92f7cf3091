"""The exercise checks of chapter 5 accept correct answers written in different ways, reject the
plausible wrong ones with a message that names the mistake, refuse aelib's own solution, and say
"not implemented yet" for an untouched stub."""
import numpy as np
import pytest
from check_failures import accepts, fails_with, forbid_training, not_implemented

import aelib
from aelib.checks import check_auxk_grads, check_feature_recovery, check_topk_sae_grads
from aelib.checks.sparse import _auxk_problems, _topk_problems, auxk_loss, auxk_reference


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
