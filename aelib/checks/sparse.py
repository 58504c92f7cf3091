"""Checks for the exercises of chapter 5, "Sparse autoencoders".

Exercise 5.1, ``feature_recovery``: compared with aelib's on dictionaries of several shapes whose
rows are not unit vectors and point both ways, with the usual mistakes named (no absolute value,
rows not normalised, the maximum over the wrong axis, a count or booleans instead of cosines).

Exercise 5.2, the TopK SAE's backward pass, and Exercise 5.4, the gradient of the AuxK loss: the
answer must equal the chain rule's result to rounding (``expect_exact``), on problems where every
mistake shows (kept entries with negative pre-activations, non-zero decoder biases, several k, an
outlier 100,000 times the others' size, beside which every difference of two losses loses ten
digits), must evaluate the encoder only a few times (a backward pass needs one forward pass),
must not compute with complex numbers (the complex step), and may not call aelib at all. The
mistakes that the checks recognise are named.
"""
import numpy as np

from ..recovery import feature_recovery
from ..sparse import SparseAutoencoder
from .feedback import CheckFailed, as_numbers, expect_close, expect_exact, passed
from .guard import call
from .tracing import traced
from .mlp import _finite_difference_accuracy, _result_list

__all__ = ["check_feature_recovery", "check_topk_sae_grads", "check_auxk_grads"]

GRADIENT_NAMES = ("dW_enc", "db_enc", "dW_dec", "db_dec")


# Encoder evaluations are counted as shares of X (Trace.evaluations): an operation on the whole batch
# counts 1, one on a single row 1/n. A forward pass combines X with b_dec (centring) or with W_enc
# once, vectorised or one sample at a time, or once per latent when it computes A entry by entry;
# a backward pass may centre X again, as often. Finite differences evaluate the encoder at least
# once per weight (central differences twice), and every problem has more than twice as many
# weights as this allows.
def _evaluations_allowed(n_latent):
    return 2 * n_latent + 4


# The last problem of Exercises 5.2 and 5.4 has one sample with one number 100,000 times larger
# than the others (real activations have such outliers, in a few units), on which every
# pre-activation is far below zero. Its loss is then about 1e10 while most gradient entries,
# those of b_dec's other coordinates included, are of order 1, so any difference of two values
# of the loss (central differences of any step, Richardson's extrapolation) loses about ten
# digits to rounding there, even where the loss is exactly quadratic in the weight (W_dec, or
# any weight once the selection is held fixed), and on plain copies that the traced arrays cannot
# follow. (The complex step subtracts nothing: Trace.watching sees it.) A backward pass loses
# nothing: the outlier's codes, and its residual outside the one coordinate, are exactly zero.
OUTLIER_SIZE = 1e5


def _with_outlier(rng, X, W_enc, b_dec):
    """X with its first row moved to b_dec + OUTLIER_SIZE e_j (one coordinate j, either sign),
    and W_enc with row j set so that the outlier's pre-activations are all below -10,000."""
    j, sign = rng.integers(X.shape[1]), rng.choice([-1.0, 1.0])
    W_enc = W_enc.copy()
    W_enc[j] = -sign * rng.uniform(0.2, 0.5, W_enc.shape[1])
    X = X.copy()
    X[0] = b_dec
    X[0, j] += sign * OUTLIER_SIZE
    return X, W_enc


def _batch(X):
    """'X (n, d)', with a word on the outlier when there is one."""
    sizes = np.linalg.norm(X, axis=1)
    if sizes.max() > 1000 * np.median(sizes):
        return f"X {X.shape} (one sample with a number 100,000 times the others' size)"
    return f"X {X.shape}"


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
    cosines = _unit(true) @ _unit(dictionary).T
    best = np.abs(cosines).max(axis=1)

    def rows_by(norm):
        return lambda M: M / np.linalg.norm(M, ord=norm, axis=1, keepdims=True)

    candidates = [
        ("no absolute value", cosines.max(axis=1)),
        ("true rows not normalised", np.abs(true @ _unit(dictionary).T).max(axis=1)),
        ("dictionary rows not normalised", np.abs(_unit(true) @ dictionary.T).max(axis=1)),
        ("no rows normalised", np.abs(true @ dictionary.T).max(axis=1)),
        ("squared", (cosines ** 2).max(axis=1)),
        ("mean", np.abs(cosines).mean(axis=1)),
        ("smallest", np.abs(cosines).min(axis=1)),
        ("argmax", np.abs(cosines).argmax(axis=1).astype(float)),
        ("distance", (1.0 - np.abs(cosines)).min(axis=1)),
        ("columns normalised", np.abs((true / np.linalg.norm(true, axis=0)) @
                                      (dictionary / np.linalg.norm(dictionary, axis=0)).T).max(axis=1)),
        ("whole arrays normalised", np.abs((true / np.linalg.norm(true)) @
                                           (dictionary / np.linalg.norm(dictionary)).T).max(axis=1)),
        ("squared lengths", np.abs((true / np.sum(true ** 2, axis=1, keepdims=True)) @
                                   (dictionary / np.sum(dictionary ** 2, axis=1, keepdims=True)).T).max(axis=1)),
        ("other lengths", np.abs(rows_by(1)(true) @ rows_by(1)(dictionary).T).max(axis=1)),
        ("other lengths", np.abs(rows_by(np.inf)(true) @ rows_by(np.inf)(dictionary).T).max(axis=1)),
        ("best row by dot product",
         np.abs(cosines[np.arange(len(true)), np.abs(true @ dictionary.T).argmax(axis=1)])),
        ("absolute entries", (_unit(np.abs(true)) @ _unit(np.abs(dictionary)).T).max(axis=1)),
        ("sorted", np.sort(best)[::-1]),
        ("sorted", np.sort(best)),
    ]
    for name, candidate in candidates:
        if actual.shape == candidate.shape and np.allclose(actual, candidate, rtol=1e-9, atol=1e-12):
            return name
    if actual.shape == best.shape and np.allclose(actual, best, rtol=1e-6, atol=0) and np.all(
            actual <= best * (1 + 1e-12)):
        return "a hair below"
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
    "smallest": "returns the smallest |cos| over the dictionary; the measure is the largest: is any row "
                "close?",
    "argmax": "returns the index of the best row (argmax); the measure is the |cos| itself (max).",
    "distance": "returns the cosine distance 1 - |cos| of the nearest row; the measure is the largest "
                "|cos| itself (1 for a direction found exactly).",
    "columns normalised": "normalises the columns; each direction is a row, so divide each row by its "
                          "length (axis=1).",
    "whole arrays normalised": "divides each array by the length of the whole array (np.linalg.norm "
                               "without axis); divide each row by its own length: np.linalg.norm(..., "
                               "axis=1, keepdims=True).",
    "squared lengths": "divides the rows by their squared lengths (the sum of squares without the square "
                       "root); a cosine divides by the lengths themselves, np.linalg.norm(..., axis=1).",
    "best row by dot product": "picks each true direction's best row by the dot product and then gives "
                               "its cosine; pick by |cos| itself: a long row has a large dot product "
                               "without pointing the same way.",
    "absolute entries": "takes the absolute value of the entries before the cosine; a direction and its "
                        "negative are the same feature, but flipping the signs of some entries gives "
                        "another direction. Take np.abs of the cosines instead.",
    "other lengths": "measures the rows' lengths with another norm (the sum or the largest of the "
                     "|entries|); a cosine divides by the Euclidean lengths, np.linalg.norm(..., axis=1).",
    "sorted": "returns the values sorted; return them in the order of the true directions, one per row "
              "of true_directions (sort them afterwards to draw a figure).",
    "a hair below": "is a hair below the exact |cos| (by up to 1e-6 of it), as when a small number is "
                    "added to the lengths to keep them from zero; no row here is zero: divide by the "
                    "lengths themselves.",
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
        if actual is not None and actual.shape == expected.shape and not np.allclose(
                actual, expected, rtol=1e-9, atol=1e-12):
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
    starting values (the dictionary's rows not of unit length), and encoder biases pushed down so
    that some kept entries are negative; the last with an outlier (OUTLIER_SIZE)."""
    problems = []
    for seed, (n, d, n_latent, k) in enumerate([(7, 5, 12, 3), (9, 4, 6, 1), (6, 3, 5, 5), (8, 6, 16, 4),
                                                (6, 4, 10, 2)]):
        rng = np.random.default_rng(520 + seed)
        sae = SparseAutoencoder(d, n_latent, k=k, seed=seed)
        W_enc, b_enc, W_dec, b_dec = (param.copy() for param in sae.params)
        W_enc += rng.normal(0.0, 0.3, W_enc.shape)
        W_dec += rng.normal(0.0, 0.3, W_dec.shape)
        b_enc = rng.normal(-0.6, 0.5, b_enc.shape)
        b_dec = rng.normal(0.0, 1.0, b_dec.shape)
        X = rng.normal(0.0, 1.0, (n, d)) + b_dec
        if seed == 4:
            X, W_enc = _with_outlier(rng, X, W_enc, b_dec)
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


def _variant_gradients(X, params, k, centre=True, encoder_bias=True, output_bias=True, select=None,
                       W_dec_forward=None):
    """The gradients a TopK answer computes with a mistake in its forward pass: X not centred,
    b_enc or the output's b_dec left out, another selection, another dictionary. Returns
    (grads with both paths of b_dec, db_dec of the output path only, db_dec of the input path only)."""
    W_enc, b_enc, W_dec, b_dec = params
    W = W_dec if W_dec_forward is None else W_dec_forward
    n = X.shape[0]
    inputs = X - b_dec if centre else X
    A = inputs @ W_enc + (b_enc if encoder_bias else 0.0)
    keep = _top_k_mask(A, k) if select is None else select(A)
    Z = np.where(keep, np.maximum(A, 0.0), 0.0)
    G = 2.0 / n * (Z @ W + (b_dec if output_bias else 0.0) - X)
    delta = (G @ W.T) * (Z > 0)
    output, encoder = G.sum(axis=0), -W_enc @ delta.sum(axis=0)
    grads = [inputs.T @ delta, delta.sum(axis=0), Z.T @ G]
    return grads + [output + encoder], grads + [output], grads + [encoder]


def _topk_mistakes(X, params, k):
    """[(message, gradients)] of the recognised wrong answers of Exercise 5.2."""
    W_enc, b_enc, W_dec, b_dec = params
    A = (X - b_dec) @ W_enc + b_enc
    kept = _top_k_mask(A, k)
    right, _, _, Z, G, delta = _sae_gradients(X, params, kept)
    n = X.shape[0]
    mistakes = []
    # Masks: the ReLU's alone, the selection's alone, none at all.
    for message, wrong_mask in [
            ("passes gradient to every entry with a positive pre-activation, also to those TopK did not "
             "keep: the entries that TopK sets to zero are constant and pass none. Multiply by the mask of "
             "the kept, positive entries (Z > 0).", A > 0),
            ("passes gradient through kept entries whose pre-activation is negative; the ReLU after TopK "
             "makes them zero, so they pass none. The mask is Z > 0: kept and positive.", kept),
            ("passes gradient to every latent, kept or not, positive or not (no mask, or a mask such as "
             "Z >= 0 that is true everywhere); only the entries that TopK keeps and the ReLU leaves "
             "positive pass it. Multiply G @ W_dec.T by (Z > 0).", np.ones(A.shape, dtype=bool))]:
        wrong_delta = (G @ W_dec.T) * wrong_mask
        mistakes.append((message, [(X - b_dec).T @ wrong_delta, wrong_delta.sum(axis=0), right[2],
                                   G.sum(axis=0) - W_enc @ wrong_delta.sum(axis=0)]))
    # Selections: the smallest k, per latent, by absolute value, another number than k.
    for message, keep in [
            ("keeps the k smallest pre-activations of each sample; TopK keeps the k largest.",
             _top_k_mask(A, k, largest=False)),
            ("selects the k largest entries of each latent over the samples (a column); TopK selects "
             "the k largest latents of each sample (a row, axis=1).", _top_k_mask(A.T, k).T
             if k <= A.shape[0] else np.ones(A.shape, dtype=bool)),
            ("keeps the k entries of each sample that are largest in absolute value; TopK keeps the k "
             "largest values (a pre-activation far below zero is not kept).", _top_k_mask(np.abs(A), k))]:
        if not np.array_equal(keep, kept):
            mistakes.append((message, _sae_gradients(X, params, keep)[0]))
    for other in range(1, A.shape[1] + 1):
        if other != k:
            mistakes.append((f"keeps {other} entries per sample, but the argument k is {k}: use k, not a "
                             "fixed number.", _sae_gradients(X, params, _top_k_mask(A, other))[0]))
    # The forward pass: X not centred, b_enc or the output's b_dec left out, the dictionary's rows
    # divided by their lengths (each with both paths of b_dec, or either).
    unit = _unit(W_dec)
    for message, variants in [
            ("computes the pre-activations from X itself; the encoder's input is X - b_dec (equation (5)): "
             "A = (X - b_dec) @ W_enc + b_enc, and dW_enc = (X - b_dec).T @ Delta.",
             _variant_gradients(X, params, k, centre=False)),
            ("leaves b_enc out of the pre-activations: A = (X - b_dec) @ W_enc + b_enc.",
             _variant_gradients(X, params, k, encoder_bias=False)),
            ("leaves b_dec out of the reconstruction: X_hat = Z @ W_dec + b_dec.",
             _variant_gradients(X, params, k, output_bias=False)),
            ("divides the dictionary's rows by their lengths; use W_dec as it is given (its rows need not "
             "have unit length here: fit rescales them after each step, outside the loss).",
             _variant_gradients(X, params, k, W_dec_forward=unit))]:
        mistakes += [(message, wrong) for wrong in variants]
    # The backward pass, one array at a time.
    output, encoder = G.sum(axis=0), W_enc @ delta.sum(axis=0)
    mistakes += [
        ("forgets that b_dec is also subtracted at the encoder's input: its gradient has two terms, "
         "G.sum(axis=0) from the output and -W_enc @ Delta.sum(axis=0) from the input.", right[:3] + [output]),
        ("forgets that b_dec is also added at the output: its gradient has two terms, G.sum(axis=0) from "
         "the output and -W_enc @ Delta.sum(axis=0) from the input.", right[:3] + [-encoder]),
        ("adds the encoder path of b_dec with the wrong sign: x - b_dec is differentiated with respect to "
         "b_dec to -1, so the term is -W_enc @ Delta.sum(axis=0).", right[:3] + [output + encoder]),
        ("uses X instead of the centred X - b_dec in dW_enc: the encoder's input is X - b_dec.",
         [X.T @ delta] + right[1:])]
    for wrong_dW_dec in ((A * kept).T @ G, A.T @ G):
        mistakes.append(("multiplies G by the pre-activations A in dW_dec; the decoder's input is the codes: "
                         "dW_dec = Z.T @ G.", right[:2] + [wrong_dW_dec] + right[3:]))
    mistakes.append(("averages the rows of Delta for db_enc; it is their sum (the 1/n is in G already).",
                     right[:1] + [delta.mean(axis=0)] + right[2:]))
    mistakes += _projected_and_scaled(right, W_dec, n, X.shape[1], "G", "X_hat - X", "the loss")
    mistakes.append(("has the wrong sign: G = 2 (X_hat - X) / n, reconstruction minus target.",
                     [-g for g in right]))
    return mistakes


def _projected_and_scaled(right, W_dec, n, d, G, residual, loss):
    """[(message, gradients)] of the mistakes Exercises 5.2 and 5.4 share: dW_dec projected as fit
    projects it, and a wrong factor of G = 2 (residual) / n."""
    mistakes = []
    for rows in (W_dec, _unit(W_dec)):
        projected = right[2] - np.sum(right[2] * rows, axis=1, keepdims=True) * rows
        mistakes.append(("removes from each row of dW_dec its component along the row, as fit does before "
                         f"a step; the exercise asks for the plain gradient of {loss}.",
                         right[:2] + [projected] + right[3:]))
    factor = f"{G} = 2 ({residual}) / n"
    return mistakes + [
        (f"misses the factor 2 of the squared error: {factor}.", [g / 2 for g in right]),
        ("sums the squared errors over the samples instead of averaging them: "
         f"{loss} is divided by n, so {factor}.", [g * n for g in right]),
        (f"divides by n * d instead of n: {loss} sums the squared error over the d numbers of a sample "
         f"and averages it over the n samples, so {factor}.", [g / d for g in right]),
        (f"divides by n twice: {factor} has the 1/n already, and the gradients are sums over the "
         f"samples of products with {G}.", [g / n for g in right])]


def _same(actual, expected):
    actual = as_numbers(actual)
    return actual is not None and actual.shape == expected.shape and np.allclose(actual, expected, rtol=1e-9,
                                                                                  atol=1e-12)


def _check_gradients(name, result, expected, scales, mistakes, setting, evaluations, allowed, complex_seen,
                     hint, live_rows=None):
    """Shared by Exercises 5.2 and 5.4: complex numbers, count, shapes, named mistakes, finite
    differences, exactness."""
    if complex_seen:
        raise CheckFailed(
            f"{name} computes with complex numbers, for {setting}: that is the complex-step derivative, "
            "Im L(w + ih) / h, which evaluates the loss once per weight. A backward pass needs real "
            "numbers only: derive the gradient and compute it by the chain rule.")
    if evaluations > allowed:
        how = "again and again, as finite differences do" if evaluations > 4 * allowed else \
            f"{evaluations:.0f} times"
        raise CheckFailed(
            f"{name} combined X with the encoder's weights or b_dec as often as {evaluations:.0f} "
            f"evaluations of the encoder on the whole batch, for {setting}: it evaluates the encoder {how}. "
            "A backward pass needs one forward pass, then products of the errors G and Delta with the "
            "arrays it already has.")
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
        for message, wrong in mistakes:
            if all(_same(a, w) for a, w in zip(result, wrong)):
                raise CheckFailed(f"{name}, for {setting}, {message}")
        if live_rows is not None:
            dW_dec = as_numbers(result[2])
            if dW_dec is not None and dW_dec.shape == expected[2].shape and np.any(
                    np.abs(dW_dec[live_rows]) > 1e-12 * (1.0 + np.abs(expected[2]).max())):
                raise CheckFailed(
                    f"{name}, for {setting}, gives gradient to the dictionary rows of live latents; only "
                    "the dead latents take part in the auxiliary codes (when fewer are dead than k_aux, "
                    "all of the dead ones and no others), and the residual E = X - X_hat, through which "
                    "the live latents act, is held constant; so every other row of dW_dec is zero.")
    for index in (2, 3, 0, 1):
        what = f"{GRADIENT_NAMES[index]} from {name}, for {setting}"
        _finite_difference_accuracy(result[index], expected[index], scales[index], what)
        expect_exact(result[index], expected[index], what, scales[index], hint=hint)


def check_topk_sae_grads(topk_sae_grads_fn):
    """Exercise 5.2: ``topk_sae_grads_fn(X, W_enc, b_enc, W_dec, b_dec, k)`` ->
    [dW_enc, db_enc, dW_dec, db_dec], the gradient of (1/n) sum_i ||x_hat_i - x_i||^2 of a TopK SAE."""
    for X, params, k in _topk_problems():
        W_enc, b_enc, W_dec, b_dec = params
        n_latent = W_enc.shape[1]
        setting = f"{_batch(X)}, {n_latent} latents, k = {k}"
        kept = _top_k_mask((X - b_dec) @ W_enc + b_enc, k)
        expected, scales, A, _, _, _ = _sae_gradients(X, params, kept)
        log, arrays = traced(X=X, W_enc=W_enc, b_enc=b_enc, W_dec=W_dec, b_dec=b_dec)
        with log.watching():
            result = call(topk_sae_grads_fn, arrays["X"], arrays["W_enc"], arrays["b_enc"], arrays["W_dec"],
                          arrays["b_dec"], k, name="topk_sae_grads",
                          on_error=f"X is {X.shape}, W_enc {W_enc.shape}, b_enc {b_enc.shape}, W_dec "
                                   f"{W_dec.shape}, b_dec {b_dec.shape}; A and Z are ({X.shape[0]}, {n_latent}), "
                                   f"and k = {k} may be as large as the number of latents. Each gradient "
                                   "has its parameter's shape.")
        evaluations = log.evaluations("X", "b_dec", by="X") + log.evaluations("X", "W_enc", by="X")
        _check_gradients("topk_sae_grads", result, expected, scales, _topk_mistakes(X, params, k), setting,
                         evaluations, _evaluations_allowed(n_latent), log.complex_values_seen,
                         hint="Follow equations (7) and (8) of the chapter with lambda = 0, starting from "
                              "G = 2 (X_hat - X) / n.")
    passed("the TopK SAE's gradient is exact for five SAEs (k from 1 to all latents, kept entries "
           "that are negative, an outlier 100,000 times the others' size), with one forward pass.")


# ---------------------------------------------------------------------------------------------
# Exercise 5.4: the gradient of the AuxK loss.

def _auxk_problems():
    """(X, params, k, dead, k_aux): TopK SAEs with some latents marked dead; in one problem fewer
    latents are dead than k_aux, in all some of the dead latents' selected entries are negative,
    and the last has an outlier (OUTLIER_SIZE)."""
    problems = []
    for seed, (n, d, n_latent, k, n_dead, k_aux) in enumerate(
            [(8, 5, 12, 2, 5, 3), (7, 4, 9, 3, 2, 4), (10, 6, 14, 2, 7, 1), (6, 3, 8, 1, 4, 4),
             (7, 4, 10, 2, 4, 2)]):
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
        if seed == 4:
            X, W_enc = _with_outlier(rng, X, W_enc, b_dec)
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


def _aux_gradients(X, params, E, keep, output_bias=False, mask=None):
    """Gradient of (1/n) sum ||Z_aux W_dec (+ b_dec) - E||^2 with Z_aux = relu(A) on ``keep``
    (Delta_aux masked by ``mask`` instead of Z_aux > 0, for a mistake)."""
    W_enc, b_enc, W_dec, b_dec = params
    n = X.shape[0]
    centred = X - b_dec
    A = centred @ W_enc + b_enc
    Z_aux = np.where(keep, np.maximum(A, 0.0), 0.0)
    E_hat = Z_aux @ W_dec + (b_dec if output_bias else 0.0)
    G = 2.0 / n * (E_hat - E)
    delta = (G @ W_dec.T) * (Z_aux > 0 if mask is None else mask)
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
    """[(message, gradients)] of the recognised wrong answers of Exercise 5.4."""
    W_enc, b_enc, W_dec, b_dec = params
    A, E, chosen = _auxk_parts(X, params, k, dead, k_aux)
    right, _, G, delta = _aux_gradients(X, params, E, chosen)
    n, d = X.shape
    n_dead = int(dead.sum())
    mistakes = []
    # The auxiliary codes: chosen among all latents, k of them, all dead ones, the smallest.
    for message, keep in [
            ("chooses among all latents; the auxiliary codes come from the dead latents only: set the "
             "live latents' pre-activations to -inf before taking the top k_aux.",
             _top_k_mask(A, min(k_aux, A.shape[1]))),
            ("uses k (the SAE's own number of kept latents) for the auxiliary codes; they keep k_aux.",
             _top_k_mask(np.where(dead, A, -np.inf), min(k, n_dead))),
            ("lets every dead latent with a positive pre-activation take part; only the k_aux largest "
             "of each sample do.", dead[None, :] & np.ones(A.shape, dtype=bool)),
            ("keeps the k_aux smallest pre-activations of the dead latents; AuxK keeps the largest.",
             _top_k_mask(np.where(dead, -A, -np.inf), min(k_aux, n_dead))),
            ("takes the k_aux largest pre-activations of all latents, then the dead ones among them; take "
             "the k_aux largest among the dead latents (set the live ones' to -inf first).",
             _top_k_mask(A, min(k_aux, A.shape[1])) & dead)]:
        if not np.array_equal(keep, chosen):
            mistakes.append((message, _aux_gradients(X, params, E, keep)[0]))
    # Which latents are dead: the argument, not the latents that happen not to fire in this batch.
    Z = np.where(_top_k_mask(A, k), np.maximum(A, 0.0), 0.0)
    silent = ~np.any(Z > 0, axis=0)
    if silent.any() and not np.array_equal(silent, dead):
        keep = _top_k_mask(np.where(silent, A, -np.inf), min(k_aux, int(silent.sum())))
        mistakes.append(("ignores the argument dead and takes the latents that do not fire in this batch; "
                         "the dead latents are given (they are measured over many batches, not one).",
                         _aux_gradients(X, params, E, keep)[0]))
    # The masks of Delta_aux: the SAE's own codes, the chosen entries also when negative, every
    # dead latent with a positive pre-activation.
    for message, wrong_mask in [
            ("masks Delta_aux with the SAE's own codes (Z > 0); the auxiliary loss reaches the "
             "pre-activations through the auxiliary codes: multiply by (Z_aux > 0).", Z > 0),
            ("passes gradient through chosen dead entries whose pre-activation is negative; the ReLU "
             "makes them zero, so they pass none: the mask is Z_aux > 0.", chosen),
            ("passes gradient to every dead latent with a positive pre-activation; only the k_aux "
             "chosen ones of each sample pass it: the mask is Z_aux > 0.", dead & (A > 0))]:
        mistakes.append((message, _aux_gradients(X, params, E, chosen, mask=wrong_mask)[0]))
    # The residual: the wrong sign, without b_dec, from ReLU codes without TopK.
    for message, wrong_E in [
            ("takes the residual as X_hat - X; it is E = X - X_hat, what the SAE leaves over.", -E),
            ("leaves b_dec out of the SAE's reconstruction in the residual: E = X - (Z @ W_dec + b_dec).",
             E + b_dec),
            ("computes the residual from ReLU codes without TopK; X_hat is the TopK SAE's own "
             "reconstruction, with its k largest pre-activations per sample.",
             X - (np.maximum(A, 0.0) @ W_dec + b_dec))]:
        mistakes.append((message, _aux_gradients(X, params, wrong_E, chosen)[0]))
    # The auxiliary reconstruction with b_dec, with or without its output path in db_dec.
    with_bias, _, _, delta_bias = _aux_gradients(X, params, E, chosen, output_bias=True)
    bias_message = ("adds b_dec to the auxiliary reconstruction; it is Z_aux @ W_dec alone (the residual "
                    "E already has the bias taken out).")
    mistakes += [(bias_message, with_bias), (bias_message, with_bias[:3] + [-W_enc @ delta_bias.sum(axis=0)])]
    # b_dec's gradient: none, the wrong sign, the output path of equation (8) added or alone.
    output = G.sum(axis=0)
    eight = ("adds G_aux.sum(axis=0), the output path of equation (8); but the auxiliary reconstruction "
             "has no b_dec and E is held constant, so b_dec's one path is the encoder's input: "
             "-W_enc @ Delta_aux.sum(axis=0).")
    mistakes += [
        ("passes no gradient to b_dec; the auxiliary codes are computed from X - b_dec, so b_dec gets "
         "-W_enc @ Delta_aux.sum(axis=0).", right[:3] + [np.zeros_like(right[3])]),
        ("adds the encoder path of b_dec with the wrong sign: it is -W_enc @ Delta_aux.sum(axis=0).",
         right[:3] + [-right[3]]),
        (eight, right[:3] + [right[3] + output]),
        (eight, right[:3] + [output]),
        ("uses X instead of the centred X - b_dec in dW_enc: the encoder's input is X - b_dec.",
         [X.T @ delta] + right[1:])]
    # The encoder's input X itself, in the forward pass too (b_dec's gradient then none or the right form).
    uncentred = A + b_dec @ W_enc
    Z_plain = np.where(_top_k_mask(uncentred, k), np.maximum(uncentred, 0.0), 0.0)
    keep_plain = _top_k_mask(np.where(dead, uncentred, -np.inf), min(k_aux, n_dead))
    Z_aux_plain = np.where(keep_plain, np.maximum(uncentred, 0.0), 0.0)
    G_plain = 2.0 / n * (Z_aux_plain @ W_dec - (X - Z_plain @ W_dec - b_dec))
    delta_plain = (G_plain @ W_dec.T) * (Z_aux_plain > 0)
    plain = [X.T @ delta_plain, delta_plain.sum(axis=0), Z_aux_plain.T @ G_plain]
    for db_dec in (np.zeros(d), -W_enc @ delta_plain.sum(axis=0)):
        mistakes.append(("computes the pre-activations from X itself; the encoder's input is X - b_dec "
                         "(equation (5)): A = (X - b_dec) @ W_enc + b_enc.", plain + [db_dec]))
    # dW_dec: from the pre-activations, projected as fit does.
    for wrong_dW_dec in ((A * chosen).T @ G, A.T @ G):
        mistakes.append(("multiplies G_aux by the pre-activations A in dW_dec; the auxiliary decoder's "
                         "input is the auxiliary codes: dW_dec = Z_aux.T @ G_aux.",
                         right[:2] + [wrong_dW_dec] + right[3:]))
    mistakes += _projected_and_scaled(right, W_dec, n, d, "G_aux", "E_hat - E", "L_aux")
    mistakes += [
        ("multiplies by 1/32, the weight of L_aux in the SAE's total loss; the exercise asks for the "
         "gradient of L_aux itself.", [g / 32 for g in right]),
        ("has the wrong sign: G_aux = 2 (E_hat - E) / n, the auxiliary reconstruction minus the "
         "residual.", [-g for g in right])]
    # The gradient let through the residual E = X - X_hat, which AuxK holds constant: dL/dX_hat is
    # +G_aux, carried back through the SAE's own decoder, TopK codes and encoder.
    delta_main = (G @ W_dec.T) * (Z > 0)
    extra = [(X - b_dec).T @ delta_main, delta_main.sum(axis=0), Z.T @ G,
             G.sum(axis=0) - W_enc @ delta_main.sum(axis=0)]
    mistakes.append(("lets the gradient flow into the residual E = X - X_hat through the SAE's own codes; "
                     "AuxK treats E as a constant (the gradient is stopped there), so only the dead "
                     "latents' path carries gradient.", [r + e for r, e in zip(right, extra)]))
    return mistakes


def check_auxk_grads(auxk_grads_fn):
    """Exercise 5.4: ``auxk_grads_fn(X, W_enc, b_enc, W_dec, b_dec, k, dead, k_aux)`` ->
    [dW_enc, db_enc, dW_dec, db_dec], the gradient of the AuxK loss with the residual held constant."""
    for X, params, k, dead, k_aux in _auxk_problems():
        W_enc, b_enc, W_dec, b_dec = params
        setting = (f"{_batch(X)}, {W_enc.shape[1]} latents of which {int(dead.sum())} dead, k = {k}, "
                   f"k_aux = {k_aux}")
        expected, scales = auxk_reference(X, params, k, dead, k_aux)
        log, arrays = traced(X=X, W_enc=W_enc, b_enc=b_enc, W_dec=W_dec, b_dec=b_dec)
        with log.watching():
            result = call(auxk_grads_fn, arrays["X"], arrays["W_enc"], arrays["b_enc"], arrays["W_dec"],
                          arrays["b_dec"], k, dead.copy(), k_aux, name="auxk_grads",
                          on_error=f"X is {X.shape}, W_enc {W_enc.shape}, W_dec {W_dec.shape}, dead "
                                   f"{dead.shape} booleans; each gradient has its parameter's shape.")
        evaluations = log.evaluations("X", "b_dec", by="X") + log.evaluations("X", "W_enc", by="X")
        _check_gradients("auxk_grads", result, expected, scales, _auxk_mistakes(X, params, k, dead, k_aux),
                         setting, evaluations, _evaluations_allowed(W_enc.shape[1]), log.complex_values_seen,
                         hint="Start from G_aux = 2 (E_hat - E) / n with E held constant; through the "
                              "auxiliary codes (mask Z_aux > 0) as in (7); b_dec has one path, the "
                              "encoder's input.",
                         live_rows=~dead)
    passed("the AuxK gradient is exact for five SAEs (k_aux above and below the number of dead "
           "latents, an outlier 100,000 times the others' size), with the residual held constant and "
           "one forward pass.")
