"""Checks for the exercises of chapter 5, "Sparse autoencoders".

Exercise 5.1, ``feature_recovery``: compared with aelib's on dictionaries of several shapes whose
rows are not unit vectors and point both ways, with the usual mistakes named (no absolute value,
rows not normalised, the maximum over the wrong axis, a count or booleans instead of cosines).

Exercise 5.2, the TopK SAE's backward pass, and Exercise 5.4, the gradient of the AuxK loss: the
answer must equal the chain rule's result to rounding (``expect_exact``), on problems where every
mistake shows (kept entries with negative pre-activations, non-zero decoder biases, several k),
must evaluate the encoder only a few times (a backward pass needs one forward pass), and may not
call aelib at all. The mistakes that the checks recognise are named.
"""
import numpy as np

from ..recovery import feature_recovery
from ..sparse import SparseAutoencoder
from .feedback import CheckFailed, as_numbers, call, expect_close, expect_exact, passed, traced
from .mlp import _finite_difference_accuracy, _result_list

__all__ = ["check_feature_recovery", "check_topk_sae_grads", "check_auxk_grads"]

GRADIENT_NAMES = ("dW_enc", "db_enc", "dW_dec", "db_dec")
# A forward pass combines X with b_dec (centring) or with W_enc once, or once per sample when it
# loops over the samples; a backward pass may centre X once more. Finite differences combine
# them at least twice per weight, and the problems have more weights than samples.
def _evaluations_allowed(n_samples):
    return 2 * n_samples + 2


# ---------------------------------------------------------------------------------------------
# Exercise 5.1: feature recovery.

def _recovery_problems():
    rng = np.random.default_rng(51)
    problems = []
    for n_true, n_latent, d in ((6, 9, 4), (5, 3, 7), (8, 8, 3)):
        true = rng.normal(size=(n_true, d)) * rng.uniform(0.2, 5.0, size=(n_true, 1))
        dictionary = rng.normal(size=(n_latent, d)) * rng.uniform(0.1, 3.0, size=(n_latent, 1))
        # Some true directions are in the dictionary, pointing the other way and scaled.
        for i in range(min(2, n_latent)):
            dictionary[i] = -2.5 * true[i]
        problems.append((true, dictionary))
    return problems


def _unit(M):
    return M / np.linalg.norm(M, axis=1, keepdims=True)


def _recovery_mistake(actual, true, dictionary):
    """The name of a recognised mistake in a feature_recovery answer, or None."""
    candidates = {
        "no absolute value": (_unit(true) @ _unit(dictionary).T).max(axis=1),
        "true rows not normalised": np.abs(true @ _unit(dictionary).T).max(axis=1),
        "dictionary rows not normalised": np.abs(_unit(true) @ dictionary.T).max(axis=1),
        "no rows normalised": np.abs(true @ dictionary.T).max(axis=1),
        "squared": ((_unit(true) @ _unit(dictionary).T) ** 2).max(axis=1),
        "mean": np.abs(_unit(true) @ _unit(dictionary).T).mean(axis=1),
        "argmax": np.abs(_unit(true) @ _unit(dictionary).T).argmax(axis=1).astype(float),
        "columns normalised": np.abs((true / np.linalg.norm(true, axis=0)) @
                                     (dictionary / np.linalg.norm(dictionary, axis=0)).T).max(axis=1),
    }
    for name, candidate in candidates.items():
        if actual.shape == candidate.shape and np.allclose(actual, candidate, rtol=1e-9, atol=1e-12):
            return name
    return None


RECOVERY_MESSAGES = {
    "no absolute value": "takes the largest cosine, not the largest |cos|: a direction and its negative "
                         "are the same feature (an SAE's code can only scale a row by a positive amount, "
                         "but the true direction's sign is arbitrary). Take np.abs before the maximum.",
    "true rows not normalised": "does not divide the true directions by their lengths, so it returns dot "
                                "products, not cosines. Normalise the rows of both arrays.",
    "dictionary rows not normalised": "does not divide the dictionary's rows by their lengths, so it returns "
                                      "dot products, not cosines. Normalise the rows of both arrays.",
    "no rows normalised": "returns dot products, not cosines: divide every row of both arrays by its "
                          "length (np.linalg.norm(..., axis=1, keepdims=True)) first.",
    "squared": "returns squared cosines; the measure is |cos| itself.",
    "mean": "returns the mean |cos| over the dictionary; the measure is the largest: is any row close?",
    "argmax": "returns the index of the best row (argmax); the measure is the |cos| itself (max).",
    "columns normalised": "normalises the columns; each direction is a row, so divide each row by its "
                          "length (axis=1).",
}


def check_feature_recovery(feature_recovery_fn):
    """Exercise 5.1: ``feature_recovery_fn(true_directions, dictionary)`` -> (n_true,) largest |cos|.

    true_directions: (n_true, d), dictionary: (n_latent, d), rows of any length and sign.
    """
    for true, dictionary in _recovery_problems():
        setting = f"true_directions {true.shape}, dictionary {dictionary.shape}"
        result = call(feature_recovery_fn, true.copy(), dictionary.copy(), name="feature_recovery",
                      on_error=f"true_directions is {true.shape} and dictionary {dictionary.shape}: "
                               f"the cosines of every pair form a {(true.shape[0], dictionary.shape[0])} "
                               "matrix, true @ dictionary.T after normalising the rows.")
        actual = as_numbers(result)
        expected = feature_recovery(true, dictionary)
        if actual is not None and actual.shape == (dictionary.shape[0],) and dictionary.shape[0] != true.shape[0]:
            raise CheckFailed(
                f"feature_recovery returned one value per dictionary row, shape {actual.shape}, for {setting}; "
                f"it must return one per true direction, shape {expected.shape}: the maximum over the "
                "dictionary's rows (axis=1 of the (n_true, n_latent) matrix of cosines).")
        if actual is not None and actual.ndim == 0:
            raise CheckFailed(
                f"feature_recovery returned a single number ({float(actual):.4g}) for {setting}; it must "
                f"return one |cos| per true direction, shape {expected.shape} (count the found ones "
                "afterwards, e.g. np.sum(recovery > 0.9)).")
        if isinstance(result, np.ndarray) and result.dtype == bool:
            raise CheckFailed(
                f"feature_recovery returned booleans for {setting}; it must return the largest |cos| "
                "itself, and leave the threshold (0.9, 0.99) to the caller.")
        if actual is not None and actual.shape == expected.shape and not np.allclose(actual, expected):
            mistake = _recovery_mistake(actual, true, dictionary)
            if mistake:
                raise CheckFailed(f"feature_recovery, for {setting}, {RECOVERY_MESSAGES[mistake]}")
        expect_close(result, expected, f"feature_recovery for {setting}", rtol=1e-9, atol=1e-12,
                     hint="Normalise the rows of both arrays, take the absolute value of the matrix "
                          "of cosines, then its maximum over the dictionary's rows.")
    passed("feature_recovery gives the largest |cos| of each true direction, whatever the lengths "
           "and signs of the rows.")


# ---------------------------------------------------------------------------------------------
# Exercise 5.2: the TopK SAE's backward pass.

def _topk_problems():
    """(X, params, k) for SAEs of several sizes, with decoder biases and weights off their
    starting values, and encoder biases pushed down so that some kept entries are negative."""
    problems = []
    for seed, (n, d, n_latent, k) in enumerate([(7, 5, 12, 3), (9, 4, 6, 1), (6, 3, 5, 5), (8, 6, 16, 4)]):
        rng = np.random.default_rng(520 + seed)
        sae = SparseAutoencoder(d, n_latent, k=k, seed=seed)
        W_enc, b_enc, W_dec, b_dec = (param.copy() for param in sae.params)
        W_enc += rng.normal(0.0, 0.3, W_enc.shape)
        W_dec += rng.normal(0.0, 0.3, W_dec.shape)
        b_enc = rng.normal(-0.6, 0.5, b_enc.shape)
        b_dec = rng.normal(0.0, 1.0, b_dec.shape)
        X = rng.normal(0.0, 1.0, (n, d)) + b_dec
        problems.append((X, [W_enc, b_enc, W_dec, b_dec], k))
    return problems


def _top_k_mask(A, k, largest=True):
    order = np.argsort(-A if largest else A, axis=1, kind="stable")[:, :k]
    mask = np.zeros(A.shape, dtype=bool)
    mask[np.arange(A.shape[0])[:, None], order] = True
    return mask


def _sae_gradients(X, params, keep):
    """The gradient of (1/n) sum ||Z W_dec + b_dec - X||^2 with Z = relu(A) on the entries ``keep``,
    and the scales of its terms (for expect_exact). Used for the reference and for the mistakes."""
    W_enc, b_enc, W_dec, b_dec = params
    n = X.shape[0]
    centred = X - b_dec
    A = centred @ W_enc + b_enc
    Z = np.where(keep, np.maximum(A, 0.0), 0.0)
    G = 2.0 / n * (Z @ W_dec + b_dec - X)
    delta = (G @ W_dec.T) * (Z > 0)
    grads = [centred.T @ delta, delta.sum(axis=0), Z.T @ G, G.sum(axis=0) - W_enc @ delta.sum(axis=0)]
    absolute_delta = np.abs(G) @ np.abs(W_dec.T) * (Z > 0)
    scales = [np.abs(centred).T @ absolute_delta, absolute_delta.sum(axis=0), np.abs(Z).T @ np.abs(G),
              np.abs(G).sum(axis=0) + np.abs(W_enc) @ absolute_delta.sum(axis=0)]
    return grads, scales, A, Z, G, delta


def _topk_mistakes(X, params, k):
    """{message: gradients} of the recognised wrong answers of Exercise 5.2."""
    W_enc, b_enc, W_dec, b_dec = params
    A = (X - b_dec) @ W_enc + b_enc
    kept = _top_k_mask(A, k)
    right, _, _, Z, G, delta = _sae_gradients(X, params, kept)
    n = X.shape[0]
    mistakes = {}
    # Masks: the ReLU's alone, the selection's alone, the smallest k, a selection per latent.
    relu_only = (G @ W_dec.T) * (A > 0)
    kept_only = (G @ W_dec.T) * kept
    for message, wrong_delta in [
            ("passes gradient to every entry with a positive pre-activation, also to those TopK did not "
             "keep: the entries that TopK sets to zero are constant and pass none. Multiply by the mask of "
             "the kept, positive entries (Z > 0).", relu_only),
            ("passes gradient through kept entries whose pre-activation is negative; the ReLU after TopK "
             "makes them zero, so they pass none. The mask is Z > 0: kept and positive.", kept_only)]:
        mistakes[message] = [(X - b_dec).T @ wrong_delta, wrong_delta.sum(axis=0), right[2],
                             G.sum(axis=0) - W_enc @ wrong_delta.sum(axis=0)]
    for message, keep in [
            ("keeps the k smallest pre-activations of each sample; TopK keeps the k largest.",
             _top_k_mask(A, k, largest=False)),
            ("selects the k largest entries of each latent over the samples (a column); TopK selects "
             "the k largest latents of each sample (a row, axis=1).", _top_k_mask(A.T, k).T
             if k <= A.shape[0] else np.ones(A.shape, dtype=bool))]:
        mistakes[message] = _sae_gradients(X, params, keep)[0]
    for other in range(1, A.shape[1] + 1):
        if other != k:
            mistakes[f"keeps {other} entries per sample, but the argument k is {k}: use k, not a fixed "
                     "number."] = _sae_gradients(X, params, _top_k_mask(A, other))[0]
    mistakes["forgets that b_dec is also subtracted at the encoder's input: its gradient has two "
             "terms, G.sum(axis=0) from the output and -W_enc @ Delta.sum(axis=0) from the input."] = \
        right[:3] + [G.sum(axis=0)]
    mistakes["adds the encoder path of b_dec with the wrong sign: x - b_dec is differentiated with "
             "respect to b_dec to -1, so the term is -W_enc @ Delta.sum(axis=0)."] = \
        right[:3] + [G.sum(axis=0) + W_enc @ delta.sum(axis=0)]
    mistakes["uses X instead of the centred X - b_dec in dW_enc: the encoder's input is X - b_dec."] = \
        [X.T @ delta] + right[1:]
    mistakes["misses the factor 2 of the squared error: G = 2 (X_hat - X) / n."] = [g / 2 for g in right]
    mistakes["divides by n * d instead of n: the loss is the squared error summed over the d numbers of "
             "a sample and averaged over the n samples, so G = 2 (X_hat - X) / n."] = \
        [g / X.shape[1] for g in right]
    mistakes["has the wrong sign: G = 2 (X_hat - X) / n, reconstruction minus target."] = [-g for g in right]
    return mistakes


def _same(actual, expected):
    actual = as_numbers(actual)
    return actual is not None and actual.shape == expected.shape and np.allclose(actual, expected, rtol=1e-9,
                                                                                  atol=1e-12)


def _check_gradients(name, result, expected, scales, mistakes, setting, evaluations, allowed, live_rows=None):
    """Shared by Exercises 5.2 and 5.4: count, shapes, named mistakes, finite differences, exactness."""
    if evaluations > allowed:
        how = "again and again, as finite differences do" if evaluations > 4 * allowed else f"{evaluations} times"
        raise CheckFailed(
            f"{name} combined X with the encoder's weights or b_dec in {evaluations} operations, for "
            f"{setting}: it evaluates the encoder {how}. A backward pass needs one forward pass, then "
            "products of the errors G and Delta with the arrays it already has.")
    result = _result_list(result, name, 4, ", ".join(GRADIENT_NAMES))
    shapes = [np.shape(array) for array in result]
    expected_shapes = [grad.shape for grad in expected]
    if shapes != expected_shapes and sorted(shapes) == sorted(expected_shapes):
        raise CheckFailed(f"{name} returned arrays of the right shapes in the wrong order {shapes}; "
                          f"return them in the order of the parameters: {', '.join(GRADIENT_NAMES)}.")
    for index, (array, grad) in enumerate(zip(result, expected)):
        if np.shape(array) == grad.shape[::-1] and len(grad.shape) == 2 and grad.shape[0] != grad.shape[1]:
            raise CheckFailed(f"{GRADIENT_NAMES[index]} from {name} is transposed, shape {np.shape(array)}, "
                              f"for {setting}; a gradient has its parameter's shape, {grad.shape}.")
    if not all(_same(a, e) for a, e in zip(result, expected)):
        for message, wrong in mistakes.items():
            if all(_same(a, w) for a, w in zip(result, wrong)):
                raise CheckFailed(f"{name}, for {setting}, {message}")
        if live_rows is not None:
            dW_dec = as_numbers(result[2])
            if dW_dec is not None and dW_dec.shape == expected[2].shape and np.any(
                    np.abs(dW_dec[live_rows]) > 1e-12 * (1.0 + np.abs(expected[2]).max())):
                raise CheckFailed(
                    f"{name}, for {setting}, gives gradient to the dictionary rows of live latents; only "
                    "the dead latents take part in the auxiliary codes (when fewer are dead than k_aux, "
                    "all of the dead ones and no others), so every other row of dW_dec is zero.")
    for index in (2, 3, 0, 1):
        what = f"{GRADIENT_NAMES[index]} from {name}, for {setting}"
        _finite_difference_accuracy(result[index], expected[index], scales[index], what)
        expect_exact(result[index], expected[index], what, scales[index],
                     hint="Follow equations (7) and (8) of the chapter, starting from G = 2 (X_hat - X) / n.")


def check_topk_sae_grads(topk_sae_grads_fn):
    """Exercise 5.2: ``topk_sae_grads_fn(X, W_enc, b_enc, W_dec, b_dec, k)`` ->
    [dW_enc, db_enc, dW_dec, db_dec], the gradient of (1/n) sum_i ||x_hat_i - x_i||^2 of a TopK SAE."""
    for X, params, k in _topk_problems():
        W_enc, b_enc, W_dec, b_dec = params
        n_latent = W_enc.shape[1]
        setting = f"X {X.shape}, {n_latent} latents, k = {k}"
        kept = _top_k_mask((X - b_dec) @ W_enc + b_enc, k)
        expected, scales, A, _, _, _ = _sae_gradients(X, params, kept)
        log, arrays = traced(X=X, W_enc=W_enc, b_enc=b_enc, W_dec=W_dec, b_dec=b_dec)
        result = call(topk_sae_grads_fn, arrays["X"], arrays["W_enc"], arrays["b_enc"], arrays["W_dec"],
                      arrays["b_dec"], k, name="topk_sae_grads",
                      on_error=f"X is {X.shape}, W_enc {W_enc.shape}, b_enc {b_enc.shape}, W_dec {W_dec.shape}, "
                               f"b_dec {b_dec.shape}; A and Z are ({X.shape[0]}, {n_latent}). Each gradient "
                               "has its parameter's shape.")
        evaluations = log.meetings("X", "b_dec") + log.meetings("X", "W_enc")
        _check_gradients("topk_sae_grads", result, expected, scales, _topk_mistakes(X, params, k), setting,
                         evaluations, _evaluations_allowed(len(X)))
    passed("the TopK SAE's gradient is exact for four SAEs (k from 1 to all latents, kept entries "
           "that are negative), with one forward pass.")


# ---------------------------------------------------------------------------------------------
# Exercise 5.4: the gradient of the AuxK loss.

def _auxk_problems():
    """(X, params, k, dead, k_aux): TopK SAEs with some latents marked dead; in one problem fewer
    latents are dead than k_aux, and in all some of the dead latents' selected entries are negative."""
    problems = []
    for seed, (n, d, n_latent, k, n_dead, k_aux) in enumerate(
            [(8, 5, 12, 2, 5, 3), (7, 4, 9, 3, 2, 4), (10, 6, 14, 2, 7, 1), (6, 3, 8, 1, 4, 4)]):
        rng = np.random.default_rng(540 + seed)
        sae = SparseAutoencoder(d, n_latent, k=k, seed=seed)
        W_enc, b_enc, W_dec, b_dec = (param.copy() for param in sae.params)
        W_enc += rng.normal(0.0, 0.3, W_enc.shape)
        W_dec += rng.normal(0.0, 0.3, W_dec.shape)
        b_enc = rng.normal(-0.5, 0.5, b_enc.shape)
        b_dec = rng.normal(0.0, 1.0, b_dec.shape)
        X = rng.normal(0.0, 1.0, (n, d)) + b_dec
        dead = np.zeros(n_latent, dtype=bool)
        dead[rng.choice(n_latent, n_dead, replace=False)] = True
        problems.append((X, [W_enc, b_enc, W_dec, b_dec], k, dead, k_aux))
    return problems


def _auxk_parts(X, params, k, dead, k_aux):
    """Everything the AuxK gradient is made of: the main reconstruction, the residual E, the
    auxiliary codes and the mask of the dead latents' top k_aux entries."""
    W_enc, b_enc, W_dec, b_dec = params
    A = (X - b_dec) @ W_enc + b_enc
    Z = np.where(_top_k_mask(A, k), np.maximum(A, 0.0), 0.0)
    E = X - (Z @ W_dec + b_dec)
    chosen = _top_k_mask(np.where(dead, A, -np.inf), min(k_aux, int(dead.sum())))
    return A, E, chosen


def _aux_gradients(X, params, E, keep, output_bias=False):
    """Gradient of (1/n) sum ||Z_aux W_dec (+ b_dec) - E||^2 with Z_aux = relu(A) on ``keep``."""
    W_enc, b_enc, W_dec, b_dec = params
    n = X.shape[0]
    centred = X - b_dec
    A = centred @ W_enc + b_enc
    Z_aux = np.where(keep, np.maximum(A, 0.0), 0.0)
    E_hat = Z_aux @ W_dec + (b_dec if output_bias else 0.0)
    G = 2.0 / n * (E_hat - E)
    delta = (G @ W_dec.T) * (Z_aux > 0)
    grads = [centred.T @ delta, delta.sum(axis=0), Z_aux.T @ G, -W_enc @ delta.sum(axis=0)]
    if output_bias:
        grads[3] = grads[3] + G.sum(axis=0)
    absolute_delta = np.abs(G) @ np.abs(W_dec.T) * (Z_aux > 0)
    scales = [np.abs(centred).T @ absolute_delta, absolute_delta.sum(axis=0), np.abs(Z_aux).T @ np.abs(G),
              np.abs(W_enc) @ absolute_delta.sum(axis=0) + (np.abs(G).sum(axis=0) if output_bias else 0.0)]
    return grads, scales, G, delta


def auxk_reference(X, params, k, dead, k_aux):
    """The AuxK gradient (the check's own reference) and the scales of its terms."""
    A, E, chosen = _auxk_parts(X, params, k, dead, k_aux)
    grads, scales, _, _ = _aux_gradients(X, params, E, chosen)
    return grads, scales


def auxk_loss(X, params, k, dead, k_aux, E=None):
    """The AuxK loss; with ``E`` given, the residual is held at E (as the gradient treats it)."""
    W_enc, b_enc, W_dec, b_dec = params
    A, E_now, chosen = _auxk_parts(X, params, k, dead, k_aux)
    E = E_now if E is None else E
    Z_aux = np.where(chosen, np.maximum(A, 0.0), 0.0)
    return float(np.sum((Z_aux @ W_dec - E) ** 2) / X.shape[0])


def _auxk_mistakes(X, params, k, dead, k_aux):
    W_enc, b_enc, W_dec, b_dec = params
    A, E, chosen = _auxk_parts(X, params, k, dead, k_aux)
    right, _, G, delta = _aux_gradients(X, params, E, chosen)
    mistakes = {}
    n_dead = int(dead.sum())
    for message, keep in [
            ("chooses among all latents; the auxiliary codes come from the dead latents only: set the "
             "live latents' pre-activations to -inf before taking the top k_aux.",
             _top_k_mask(A, min(k_aux, A.shape[1]))),
            ("uses k (the SAE's own number of kept latents) for the auxiliary codes; they keep k_aux.",
             _top_k_mask(np.where(dead, A, -np.inf), min(k, n_dead))),
            ("lets every dead latent with a positive pre-activation take part; only the k_aux largest "
             "of each sample do.", dead[None, :] & np.ones(A.shape, dtype=bool)),
            ("keeps the k_aux smallest pre-activations of the dead latents; AuxK keeps the largest.",
             _top_k_mask(np.where(dead, -A, -np.inf), min(k_aux, n_dead)))]:
        if not np.array_equal(keep, chosen):
            mistakes[message] = _aux_gradients(X, params, E, keep)[0]
    mistakes["adds b_dec to the auxiliary reconstruction; it is Z_aux @ W_dec alone (the residual "
             "E already has the bias taken out)."] = _aux_gradients(X, params, E, chosen, output_bias=True)[0]
    mistakes["passes no gradient to b_dec; the auxiliary codes are computed from X - b_dec, so b_dec "
             "gets -W_enc @ Delta_aux.sum(axis=0)."] = right[:3] + [np.zeros_like(right[3])]
    mistakes["adds the encoder path of b_dec with the wrong sign: it is -W_enc @ Delta_aux.sum(axis=0)."] = \
        right[:3] + [-right[3]]
    mistakes["uses X instead of the centred X - b_dec in dW_enc: the encoder's input is X - b_dec."] = \
        [X.T @ delta] + right[1:]
    mistakes["misses the factor 2 of the squared error: G_aux = 2 (E_hat - E) / n."] = [g / 2 for g in right]
    mistakes["has the wrong sign: G_aux = 2 (E_hat - E) / n, the auxiliary reconstruction minus the "
             "residual."] = [-g for g in right]
    # The gradient let through the residual E = X - X_hat, which AuxK holds constant: dL/dX_hat is
    # +G_aux, carried back through the SAE's own decoder, TopK codes and encoder.
    Z = np.where(_top_k_mask(A, k), np.maximum(A, 0.0), 0.0)
    delta_main = (G @ W_dec.T) * (Z > 0)
    extra = [(X - b_dec).T @ delta_main, delta_main.sum(axis=0), Z.T @ G,
             G.sum(axis=0) - W_enc @ delta_main.sum(axis=0)]
    mistakes["lets the gradient flow into the residual E = X - X_hat through the SAE's own codes; AuxK "
             "treats E as a constant (the gradient is stopped there), so only the dead latents' "
             "path carries gradient."] = [r + e for r, e in zip(right, extra)]
    return mistakes


def check_auxk_grads(auxk_grads_fn):
    """Exercise 5.4: ``auxk_grads_fn(X, W_enc, b_enc, W_dec, b_dec, k, dead, k_aux)`` ->
    [dW_enc, db_enc, dW_dec, db_dec], the gradient of the AuxK loss with the residual held constant."""
    for X, params, k, dead, k_aux in _auxk_problems():
        W_enc, b_enc, W_dec, b_dec = params
        setting = (f"X {X.shape}, {W_enc.shape[1]} latents of which {int(dead.sum())} dead, k = {k}, "
                   f"k_aux = {k_aux}")
        expected, scales = auxk_reference(X, params, k, dead, k_aux)
        log, arrays = traced(X=X, W_enc=W_enc, b_enc=b_enc, W_dec=W_dec, b_dec=b_dec)
        result = call(auxk_grads_fn, arrays["X"], arrays["W_enc"], arrays["b_enc"], arrays["W_dec"],
                      arrays["b_dec"], k, dead.copy(), k_aux, name="auxk_grads",
                      on_error=f"X is {X.shape}, W_enc {W_enc.shape}, W_dec {W_dec.shape}, dead {dead.shape} "
                               "booleans; each gradient has its parameter's shape.")
        evaluations = log.meetings("X", "b_dec") + log.meetings("X", "W_enc")
        _check_gradients("auxk_grads", result, expected, scales, _auxk_mistakes(X, params, k, dead, k_aux),
                         setting, evaluations, _evaluations_allowed(len(X)), live_rows=~dead)
    passed("the AuxK gradient is exact for four SAEs (k_aux above and below the number of dead "
           "latents), with the residual held constant and one forward pass.")
