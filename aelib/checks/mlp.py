"""Checks for the exercises of chapter 0, "A multilayer perceptron from scratch".

Each check runs the reader's function on every kind of input its exercise promises (several
shapes, extreme values, hyperparameters other than the defaults), compares the result with the
exact value, and names the usual mistakes: a transposed product, a sum over the wrong axis, tanh
applied twice, a missing bias correction, eps in the wrong place, a forgotten activation
derivative. The backward passes (Exercises 0.2 and 0.6) are held to rounding, and the check counts
the forward evaluations the answer makes, so that finite differences, however accurate, cannot
pass for a backward pass.
"""
import contextlib
import inspect
import itertools

import numpy as np

from ..gradcheck import numerical_gradient, relative_error
from ..losses import bce_with_logits, bce_with_logits_grad
from ..mlp import MLP
from .feedback import EXACT_RTOL, CheckFailed, as_numbers, expect_close, expect_exact, expect_float64, passed
from .guard import call
from .tracing import derived, plain_arrays

__all__ = ["check_tanh_grad", "check_dense_backward", "check_adam_step", "check_mlp_backward"]

# A backward pass needs no forward evaluation: the layer's output is given (Exercise 0.2) or in
# the cache (Exercise 0.6). Exercise 0.2 tolerates one or two, for an answer that recomputes the
# forward pass it was given; finite differences make two or more per weight, dozens here.
# Exercise 0.6's statement asks for the forward values to be taken from the cache: none there.
FORWARD_EVALUATIONS_ALLOWED = 2


def _result_list(result, name, count, names):
    """``result`` as a list of ``count`` items, or a message saying what came back instead."""
    if not isinstance(result, (tuple, list)) or len(result) != count:
        length = f" of length {len(result)}" if isinstance(result, (tuple, list)) else ""
        raise CheckFailed(f"{name} must return {count} arrays ({names}), got {type(result).__name__}{length}.")
    return list(result)


def _finite_difference_accuracy(actual, expected, scale, what):
    """Fail with a message naming finite differences when ``actual`` has an error of about the
    same absolute size in every entry, small against the largest entries (so finite differences
    could hide it there) but large against the entries of small scale, where a computation by
    the chain rule is as exact as anywhere else."""
    dtype = np.asarray(actual).dtype
    actual = as_numbers(actual)
    if actual is None or actual.shape != expected.shape or not expected.size or dtype.itemsize < 8:
        return  # a wrong shape or a float32 answer has its own message
    error = np.abs(actual - expected)
    if not np.all(np.isfinite(error)) or np.all(error <= EXACT_RTOL * scale):
        return
    largest = float(np.max(scale))
    smallest = float(np.min(scale[error > EXACT_RTOL * scale]))
    if largest > 0 and np.max(error) <= 1e-4 * largest and smallest <= 1e-3 * largest:
        digits = max(0, int(-np.log10(max(np.max(error) / largest, 1e-17))))
        raise CheckFailed(
            f"{what}: off by up to {np.max(error):.0e} in every entry. Next to its largest entries "
            f"that is little ({digits} digits agree), but its smallest entries, of size {smallest:.0e}, "
            "are far more exact when computed by the chain rule. An error of the same size "
            "everywhere is what finite differences give (it comes from the loss, not from the "
            "entry): derive the gradient and compute it with the backward pass.")


# ---------------------------------------------------------------------------------------------
# Exercise 0.1: tanh's derivative from its output.

# 1 - H**2 written in any of the usual ways ((1 - H) * (1 + H), 1 / cosh(arctanh(H))**2, a loop)
# is within 3e-16 of 1 - H * H for every H in [-1, 1]: the rounding of H * H, half a unit of 1.
# Finite differences of tanh at A = arctanh(H), even extrapolated twice, are off by 1e-14 or more
# somewhere, and so is a floor, a cut or a term added of that size.
TANH_ATOL = 1e-15

def _tanh_inputs():
    """(A, what) for every input: H = tanh(A) of shape (3, 4), (11,), () and (2, 3, 4), from
    A = 0 (H = 0) to |A| = 20, where H rounds to +-1 exactly and tanh' to 0, through 0.99 <= |H| < 1."""
    grid = np.linspace(-2.5, 2.5, 12).reshape(3, 4)
    edges = np.array([-20.0, -8.0, -3.0, -2.65, -0.5, 0.0, 0.5, 2.65, 3.0, 8.0, 20.0])
    point = np.array(0.7)
    values = np.concatenate([np.linspace(-20.0, 20.0, 17), [-0.0, 1e-9, 18.7, -5.0, 5.0, 12.0, -12.0]])
    wide = np.random.default_rng(1).permutation(values).reshape(2, 3, 4)
    return [(A, f"tanh_grad(H) for H = tanh(A) of shape {A.shape}, A from {A.min():g} to {A.max():g}")
            for A in (grid, edges, point, wide)]


_TANH_MISTAKES = [
    (lambda H: 1.0 - np.tanh(H) ** 2,
     "returned 1 - tanh(H)**2: H is already the output tanh(A), so applying tanh again computes "
     "the derivative at the wrong point. Write the derivative with H alone."),
    (lambda H: 1.0 - H, "returned 1 - H; the derivative of tanh is 1 - tanh(A)**2, so H must be squared."),
    (lambda H: (1.0 - H) ** 2, "returned (1 - H)**2; the derivative is 1 - H**2: square H alone."),
    (lambda H: H * (1.0 - H), "returned H * (1 - H), the sigmoid's derivative; tanh's is 1 - H**2."),
    (lambda H: -2.0 * H,
     "returned -2 * H, the derivative of 1 - H**2 with respect to H; tanh'(A) is 1 - H**2 itself."),
    (lambda H: H ** 2 - 1.0, "returned H**2 - 1, the derivative with the wrong sign: tanh' = 1 - H**2 > 0."),
    (lambda H: 1.0 + H ** 2,
     "returned 1 + H**2, a sign slip: tanh'(A) = 1 - tanh(A)**2 = 1 - H**2, at most 1 (at A = 0) and "
     "falling to 0 as |A| grows."),
    (lambda H: 1.0 - np.abs(H), "returned 1 - |H|; the derivative of tanh is 1 - tanh(A)**2: square H "
                                "instead of taking its absolute value."),
    (lambda H: np.ones_like(H), "returned 1 everywhere, the derivative of the identity; tanh's is 1 - H**2."),
]


def _tanh_mistake(actual, H, A, what):
    """A message for a recognised mistake, or None."""
    actual = as_numbers(actual)
    if actual is None or actual.shape != H.shape:
        return None
    expected = 1.0 - H * H
    with np.errstate(all="ignore"):
        for wrong, message in _TANH_MISTAKES:
            if np.allclose(actual, wrong(H)) and not np.allclose(wrong(H), expected):
                return f"{what}: tanh_grad {message}"
    bad = ~(np.abs(actual - expected) <= TANH_ATOL)
    if not bad.any():
        return None
    if np.all(np.isfinite(actual[~bad])) and not np.all(np.isfinite(actual[bad])):
        where = np.abs(H[bad & ~np.isfinite(actual)])
        if np.all(where == 1.0):
            return (f"{what}: tanh_grad returned NaN or inf where H = +-1 exactly (|A| >= 19, where "
                    "tanh(A) rounds to 1 in float64). tanh' is 0 there: 1 - H**2 gives it with no "
                    "detour through A = arctanh(H), which is infinite at +-1.")
    wrong_values = actual[bad]
    if np.all(wrong_values > expected[bad]) and np.ptp(wrong_values) == 0:
        floor = wrong_values[0]
        return (f"{what}: tanh_grad returned {floor:g} where tanh'(A) is smaller, near H = +-1 "
                f"(|A| >= {np.min(np.abs(A[bad])):g}). tanh' tends to 0 as |A| grows, and is 0 "
                "exactly where H rounds to +-1: return 1 - H**2 without a floor.")
    if np.all(wrong_values == 0) and np.all(expected[bad] > 0):
        cut = float(np.min(np.abs(H[bad])))
        index = np.argmin(np.where(bad, np.abs(H), np.inf))
        return (f"{what}: tanh_grad returned 0 where |H| >= {cut:.8g}, but tanh' is not 0 there "
                f"(1 - H**2 = {expected.flat[index]:.3g} at H = {H.flat[index]:.8g}); it is 0 only "
                "where H rounds to +-1. Return 1 - H**2 without a cut.")
    return None


def _expect_within_rounding(actual, H, what):
    """Fail, naming the likely detour, if ``actual`` is near 1 - H**2 but not within TANH_ATOL of it."""
    values, expected = as_numbers(actual), 1.0 - H * H
    if values is None or values.shape != H.shape:
        return  # expect_exact names the type or the shape
    error = np.abs(values - expected)
    if np.all(error <= TANH_ATOL):
        return
    expect_float64(actual, what)
    if np.all(np.isfinite(values)) and np.max(error) <= 1e-4:
        worst = np.unravel_index(np.argmax(error), error.shape)
        raise CheckFailed(
            f"{what}: tanh_grad is off by up to {np.max(error):.0e} (at H = {float(H[worst])!r}, where tanh' is "
            f"{expected[worst]:.3g}), but 1 - H**2 is exact to about 1e-16 for every H. An error of this "
            "size is the accuracy of finite differences (of tanh at A = arctanh(H), even extrapolated), or "
            "comes from a rounding, a floor or a small term added. Write the derivative with H alone.")


def check_tanh_grad(tanh_grad_fn):
    """Exercise 0.1: ``tanh_grad_fn(H)`` must return tanh'(A) = 1 - H**2, entry by entry, given only
    H = tanh(A), for H of any shape (0-D to 3-D here) and every value of A, from A = 0 to |A| = 20
    where H is +-1 in float64; float64 results within TANH_ATOL (1e-15) of 1 - H**2 in every
    entry, H left unchanged."""
    for A, what in _tanh_inputs():
        H = np.array(np.tanh(A))  # an array, also for the 0-D input (np.tanh gives a scalar)
        kind = "one number" if H.ndim == 0 else f"{H.ndim}-D"
        log, arrays = derived(H=H)
        actual = plain_arrays(call(tanh_grad_fn, arrays["H"], name="tanh_grad",
                                   on_error=f"The exercise promises H of any shape; this H has shape {H.shape} "
                                            f"({kind}). Entry-by-entry numpy operations (H**2, 1 - ...) work "
                                            "for every shape; a loop over rows does not."))
        if log.complex_operations():
            raise CheckFailed(
                f"{what}: tanh_grad computes with complex numbers made from H: that is the complex step, "
                "imag(tanh(A + i h)) / h, a way of measuring tanh' at A = arctanh(H) numerically. The "
                "exercise asks for the derivative itself: differentiate tanh, then write tanh' with H alone.")
        message = _tanh_mistake(actual, H, A, what)
        if message:
            raise CheckFailed(message)
        _expect_within_rounding(actual, H, what)
        values = as_numbers(actual)
        derive = ("Differentiate tanh a = sinh a / cosh a with the quotient rule, then write the result in "
                  "terms of H = tanh A.")
        expect_exact(actual, 1.0 - H * H, what, scale=1.0,
                     hint=derive if values is not None and values.shape == H.shape else
                     f"The result must have H's shape {H.shape}. {derive}")
    passed("tanh_grad(H) = 1 - H**2 for H of shapes (), (11,), (3, 4) and (2, 3, 4), "
           "from H = 0 to H = +-1.")


# ---------------------------------------------------------------------------------------------
# Exercise 0.2: the backward pass of one dense layer.

def _dense_inputs():
    """(H_in, W, Delta, what) for every input: a square layer first (where a transposed product
    keeps its shape and only its values tell), then shapes that all differ, one sample, entries
    of very different sizes (where finite differences lose the small ones), and entries so large
    that the layer's output overflows (where any evaluation of the layer gives inf or NaN)."""
    rng = np.random.default_rng(0)
    inputs = []
    for n_samples, fan_in, fan_out in [(4, 4, 4), (5, 3, 4), (1, 3, 2)]:
        inputs.append((rng.normal(size=(n_samples, fan_in)), rng.normal(size=(fan_in, fan_out)),
                       rng.normal(size=(n_samples, fan_out)), ""))
    H_in, W, Delta = rng.normal(size=(6, 3)), rng.normal(size=(3, 2)), rng.normal(size=(6, 2))
    H_in[:, 1] *= 1e-6
    W[1] *= 1e-6
    Delta[:, 0] *= 1e-6
    Delta[2] *= 1e-6
    inputs.append((H_in, W, Delta, ", some rows and columns a millionth of the others"))
    # Entries so large that the layer's output H_in @ W overflows float64, while every gradient is
    # of size 1: whatever evaluates the layer (finite differences with any step, the complex step,
    # on any copy of the inputs) gets inf or NaN; a backward pass never computes H_in @ W.
    H_in, W, Delta = 1e200 * rng.normal(size=(4, 3)), 1e200 * rng.normal(size=(3, 2)), 1e-200 * rng.normal(size=(4, 2))
    inputs.append((H_in, W, Delta, ", entries of 1e200 in H_in and W and 1e-200 in Delta, so that H_in @ W "
                                   "overflows"))
    return inputs


def _dense_mistake(dW, db, dH_in, H_in, W, Delta):
    """A message for a recognised mistake in (dW, db, dH_in), or None."""
    n_samples, fan_in = H_in.shape
    fan_out = W.shape[1]
    dW, db, dH_in = (as_numbers(value) for value in (dW, db, dH_in))

    def same(actual, expected):
        return actual is not None and actual.shape == np.shape(expected) and np.allclose(actual, expected)

    right_dW, right_db, right_dH_in = H_in.T @ Delta, Delta.sum(axis=0), Delta @ W.T
    rights = {"dW": right_dW, "db": right_db, "dH_in": right_dH_in}
    returned = dict(zip(rights, (dW, db, dH_in)))
    if not all(same(returned[name], rights[name]) for name in rights):
        for order in itertools.permutations(rights):
            if order != tuple(rights) and all(same(returned[got], rights[name]) for got, name in zip(rights, order)):
                return (f"the gradients come back in the order ({', '.join(order)}); return them as "
                        "(dW, db, dH_in).")
    if db is not None and not same(db, right_db):
        if db.shape == (n_samples,) and (n_samples != fan_out or same(db, Delta.sum(axis=1))):
            shape = f"has shape {db.shape}" if n_samples != fan_out else "is Delta.sum(axis=1)"
            return (f"db {shape}, one entry per sample; the bias gradient has one entry per output "
                    f"unit, ({fan_out},). Sum Delta over the samples (the rows): axis=0.")
        if db.shape == () and np.isclose(db, Delta.sum()):
            return (f"db is a single number, the sum of all of Delta; it needs one entry per output "
                    f"unit, ({fan_out},). Sum Delta over the samples (the rows) only: axis=0.")
        if same(db, Delta.mean(axis=0)) and n_samples > 1:
            return ("db is the mean of Delta's rows; it must be their sum. Every sample adds its own "
                    "term to dL/db, and the 1/N of a mean loss is already inside Delta.")
        if same(db, -right_db):
            return "db has the wrong sign: dL/db is Delta.sum(axis=0) itself."
    if dW is not None and not same(dW, right_dW):
        if dW.shape == (fan_out, fan_in) and same(dW.T, right_dW):
            return (f"dW is transposed: it must have W's shape ({fan_in}, {fan_out}) and be "
                    "H_in.T @ Delta, not Delta.T @ H_in.")
        if same(dW, right_dW / n_samples) and n_samples > 1:
            return ("dW is H_in.T @ Delta divided by the number of samples; it must not be divided: "
                    "the 1/N of a mean loss is already inside Delta.")
        if same(dW, -right_dW):
            return "dW has the wrong sign: dL/dW is H_in.T @ Delta itself."
    if dH_in is not None and not same(dH_in, right_dH_in):
        if fan_in == fan_out and same(dH_in, Delta @ W):
            return (f"dH_in is Delta @ W; W must be transposed: Delta @ W.T. Here W is square "
                    f"({fan_in}, {fan_out}), so both products have H_in's shape, but only Delta @ W.T "
                    "sends each output's gradient back along the weight that carried it.")
        if dH_in.shape == (fan_in, n_samples) and same(dH_in.T, right_dH_in):
            return (f"dH_in is transposed: it must have H_in's shape ({n_samples}, {fan_in}): "
                    "Delta @ W.T.")
        if same(dH_in, -right_dH_in):
            return "dH_in has the wrong sign: dL/dH_in is Delta @ W.T itself."
    return None


def _expect_no_forward_evaluations(name, log, data, weights, gradients, where, evaluates, instead,
                                   allowed=FORWARD_EVALUATIONS_ALLOWED, again=None):
    """Fail if the answer combined ``data`` with ``weights`` (or values computed from each alone,
    such as W + E) more than ``allowed`` times, as finite differences do (once or twice per
    weight), or computed with complex numbers made from its inputs (the complex step). ``again``:
    what to say of a few evaluations (up to FORWARD_EVALUATIONS_ALLOWED) beyond ``allowed``."""
    meetings = log.meetings(data, weights)
    evaluations = max(meetings, log.derived_meetings(data, weights, gradients))
    if evaluations > allowed:
        operations = f"{evaluations} operation{'s' if evaluations > 1 else ''}"
        counted = f" (counting values computed from them, such as {weights} + E)" if evaluations > meetings else ""
        if again and evaluations <= FORWARD_EVALUATIONS_ALLOWED:
            raise CheckFailed(f"{name} combined {data} with {weights} in {operations}, for {where}{counted}: "
                              f"{again}. {instead}")
        how = "again and again, as finite differences do" if evaluations > 10 else f"{evaluations} times"
        raise CheckFailed(f"{name} combined {data} with {weights} in {operations}, for "
                          f"{where}{counted}: {evaluates} {how}. {instead}")
    if log.complex_operations():
        raise CheckFailed(
            f"{name} computes with complex numbers made from its inputs, for {where}: that is the complex "
            "step, imag(L(W + i h E)) / h, which measures the change of the loss by evaluating the network "
            f"once per weight. It is as exact as a backward pass, but it is not one. {instead}")


def check_dense_backward(dense_backward_fn):
    """Exercise 0.2: ``dense_backward_fn(H_in, W, Delta)`` must return (dW, db, dH_in) for A = H_in W + b.

    H_in: (n, d_in), W: (d_in, d_out), Delta = dL/dA: (n, d_out), float64, entries of any size.
    The gradients must equal the chain rule's to rounding, and be computed without evaluating the
    layer: no operation may combine H_in (or a value computed from it alone) with W (or a value
    computed from it alone, such as W + E) more than twice, none may use complex numbers, and a
    layer whose output H_in @ W overflows must still get finite gradients.
    """
    for H_in, W, Delta, sizes in _dense_inputs():
        shapes = f"H_in {H_in.shape}, W {W.shape}, Delta {Delta.shape}{sizes}"
        log, arrays = derived(H_in=H_in, W=W, Delta=Delta)
        with np.errstate(all="ignore"):
            overflows = not np.all(np.isfinite(H_in @ W))
        # Where the layer's output overflows, numpy's warnings about it would only repeat what the
        # check explains.
        with np.errstate(over="ignore", invalid="ignore") if overflows else contextlib.nullcontext():
            result = call(dense_backward_fn, arrays["H_in"], arrays["W"], arrays["Delta"], name="dense_backward",
                          on_error=f"H_in is {H_in.shape}, W {W.shape} and Delta {Delta.shape}; dW must have "
                                   f"W's shape {W.shape}, db ({W.shape[1]},) and dH_in H_in's shape "
                                   f"{H_in.shape}. In a product P @ Q the columns of P must match the rows "
                                   f"of Q: transpose the operand that does not fit (W.T has shape {W.T.shape}).")
        result = plain_arrays(result)
        _expect_no_forward_evaluations("dense_backward", log, "H_in", "W", ("Delta",), shapes,
                                       "it evaluates the layer H_in @ W",
                                       "A backward pass needs no evaluation of the layer: dW, db and dH_in "
                                       "are products of Delta with H_in and with W.")
        dW, db, dH_in = _result_list(result, "dense_backward", 3, "dW, db, dH_in")
        finite = [as_numbers(value) is None or np.all(np.isfinite(as_numbers(value))) for value in (dW, db, dH_in)]
        if overflows and not all(finite):
            names = ", ".join(name for name, ok in zip(("dW", "db", "dH_in"), finite) if not ok)
            raise CheckFailed(
                f"For {shapes}: {names} {'contains' if ', ' not in names else 'contain'} inf or NaN, although "
                "every gradient is finite here (dW and dH_in of size about 1). Only the layer's output "
                "H_in @ W is too large for float64, so "
                "your function evaluates the layer, as finite differences (or the complex step) do, "
                "whatever the step. A backward pass never computes H_in @ W: dW = H_in.T @ Delta and "
                "dH_in = Delta @ W.T.")
        message = _dense_mistake(dW, db, dH_in, H_in, W, Delta)
        if message:
            raise CheckFailed(f"For {shapes}: {message}")
        absolute_H, absolute_W, absolute_Delta = np.abs(H_in), np.abs(W), np.abs(Delta)
        for name, actual, expected, scale, hint in [
                ("dW", dW, H_in.T @ Delta, absolute_H.T @ absolute_Delta,
                 f"dW must have W's shape {W.shape}: the product H_in.T @ Delta."),
                ("db", db, Delta.sum(axis=0), absolute_Delta.sum(axis=0),
                 "db is the column sums of Delta, Delta.sum(axis=0)."),
                ("dH_in", dH_in, Delta @ W.T, absolute_Delta @ absolute_W.T,
                 f"dH_in must have H_in's shape {H_in.shape}: the product Delta @ W.T.")]:
            what = f"{name} for {shapes}"
            _finite_difference_accuracy(actual, expected, scale, what)
            expect_exact(actual, expected, what, scale, hint=hint)
    passed("dW, db and dH_in are exact for five layers (square, all sizes different, one sample, "
           "gradients from 1e-13 to 1, an output too large for float64), and computed without evaluating "
           "the layer.")


# ---------------------------------------------------------------------------------------------
# Exercise 0.5: one step of Adam.

ADAM_MISTAKES = {
    "no bias correction": "is Adam without bias correction. Divide m by (1 - beta1**t) and v by "
                          "(1 - beta2**t) before the update: both moments start at zero and are "
                          "biased towards it in the first steps.",
    "t - 1": "corrects the bias with beta**(t - 1): t counts the steps from 1, and step t divides "
             "by 1 - beta**t (for t = 1, 1 - beta, never 0).",
    "t + 1": "corrects the bias with beta**(t + 1): t counts the steps from 1, and step t divides "
             "by 1 - beta**t.",
    "(1 - beta)**t": "corrects the bias with (1 - beta)**t; the correction divides by 1 - beta**t, "
                     "one minus beta to the power t.",
    "m only": "corrects the bias of m but not of v: divide v by (1 - beta2**t) too.",
    "v only": "corrects the bias of v but not of m: divide m by (1 - beta1**t) too.",
    "eps inside the root": "puts eps inside the square root, sqrt(v_hat + eps); the step divides "
                           "by sqrt(v_hat) + eps, with eps added after the root.",
    "eps squared inside the root": "divides by sqrt(v_hat + eps**2); the step divides by "
                                   "sqrt(v_hat) + eps, with eps added after the root.",
    "no eps": "ignores eps: the step divides by sqrt(v_hat) + eps, and eps keeps it finite where "
              "the gradient has always been 0.",
    "eps = 1e-8": "uses eps = 1e-8 instead of its argument eps: use the value passed in.",
    "eps not corrected": "folds the bias corrections into the step size, lr * sqrt(1 - beta2**t) / "
                         "(1 - beta1**t), but leaves eps as it is, which divides by sqrt(v_hat) + "
                         "eps / sqrt(1 - beta2**t). Divide by sqrt(v_hat) + eps, as the chapter's "
                         "equations do.",
    "beta1 = 0.9": "uses beta1 = 0.9 instead of its argument beta1: use the value passed in, in "
                   "the update of m and in its bias correction.",
    "beta2 = 0.999": "uses beta2 = 0.999 instead of its argument beta2: use the value passed in, "
                     "in the update of v and in its bias correction.",
    "lr = 0.001": "uses lr = 0.001 instead of its argument lr: use the value passed in.",
    "grad not squared": "updates v with grad instead of grad**2: v is the running average of the "
                        "squared gradient, (1 - beta2) * grad**2.",
    "no square root": "divides by v_hat + eps; the step divides by sqrt(v_hat) + eps, the root of "
                      "the squared gradient's average.",
    "uphill": "moves theta uphill: the step is theta - lr * m_hat / (sqrt(v_hat) + eps), against "
              "the gradient.",
    "old moments returned": "returns the moments it was given; return the updated m and v, which "
                            "the next step needs.",
    "step with the old moments": "takes the step with the moments it was given: update m and v "
                                 "with this step's gradient first, then correct them and step.",
    "moments swapped": "returns (theta, v, m); return (theta, m, v), in the order of the arguments.",
    "corrected moments returned": "returns the bias-corrected m_hat and v_hat; return m and v "
                                  "themselves (the next step corrects them again with its own t).",
    "no 1 - beta1": "updates m with beta1 * m + grad; the gradient's weight is (1 - beta1): "
                    "m = beta1 * m + (1 - beta1) * grad.",
    "no 1 - beta2": "updates v with beta2 * v + grad**2; the squared gradient's weight is "
                    "(1 - beta2): v = beta2 * v + (1 - beta2) * grad**2.",
    "betas swapped": "swaps beta1 and beta2: m uses beta1, v uses beta2.",
}


def _adam(theta, grad, m, v, t, lr, beta1, beta2, eps, mistake=None):
    """Step t of Adam, as in the chapter (and aelib.optim.Adam), or with one of ADAM_MISTAKES."""
    beta1 = 0.9 if mistake == "beta1 = 0.9" else beta1
    beta2 = 0.999 if mistake == "beta2 = 0.999" else beta2
    if mistake == "betas swapped":
        beta1, beta2 = beta2, beta1
    lr = 1e-3 if mistake == "lr = 0.001" else lr
    eps = 1e-8 if mistake == "eps = 1e-8" else eps
    m_new = beta1 * m + (1.0 if mistake == "no 1 - beta1" else 1.0 - beta1) * grad
    squared = grad if mistake == "grad not squared" else grad * grad
    v_new = beta2 * v + (1.0 if mistake == "no 1 - beta2" else 1.0 - beta2) * squared
    power = {"t - 1": t - 1, "t + 1": t + 1}.get(mistake, t)
    m_step, v_step = (m, v) if mistake == "step with the old moments" else (m_new, v_new)
    if mistake == "(1 - beta)**t":
        correction1, correction2 = (1.0 - beta1) ** t, (1.0 - beta2) ** t
    else:
        correction1, correction2 = 1.0 - beta1 ** power, 1.0 - beta2 ** power
    m_hat = m_step if mistake in ("no bias correction", "v only") else m_step / correction1
    v_hat = v_step if mistake in ("no bias correction", "m only") else v_step / correction2
    denominator = {"eps inside the root": lambda: np.sqrt(v_hat + eps),
                   "eps squared inside the root": lambda: np.sqrt(v_hat + eps ** 2),
                   "no eps": lambda: np.sqrt(v_hat),
                   "eps not corrected": lambda: np.sqrt(v_hat) + eps / np.sqrt(correction2),
                   "no square root": lambda: v_hat + eps}.get(mistake, lambda: np.sqrt(v_hat) + eps)()
    step = lr * m_hat / denominator
    theta_new = theta + step if mistake == "uphill" else theta - step
    if mistake == "old moments returned":
        return theta_new, m, v
    if mistake == "corrected moments returned":
        return theta_new, m_hat, v_hat
    if mistake == "moments swapped":
        return theta_new, v_new, m_new
    return theta_new, m_new, v_new


def _adam_scales(theta, grad, m, v, t, lr, beta1, beta2, eps):
    """The size of the terms behind each entry of the new (theta, m, v), for the rounding allowed."""
    m_new, v_new = beta1 * np.abs(m) + (1 - beta1) * np.abs(grad), beta2 * v + (1 - beta2) * grad * grad
    step = lr * m_new / (1 - beta1 ** t) / (np.sqrt(v_new / (1 - beta2 ** t)) + eps)
    return np.abs(theta) + step, m_new, v_new


def _adam_settings():
    """(hyperparameters, theta, gradients, m, v, first t): sequences of steps from t = 1 and late
    steps from a given state, on arrays of shape (2, 3), (4,), (2, 2, 3), (2, 2), () and (3,).

    ``hyperparameters`` is None for a call that leaves beta1, beta2 and eps at their defaults.
    """
    rng = np.random.default_rng(0)
    settings = []
    # Hyperparameters other than the defaults, so that ignoring an argument shows.
    theta = rng.normal(size=(2, 3))
    settings.append(((0.1, 0.8, 0.95, 1e-8), theta, [rng.normal(size=theta.shape) for _ in range(5)], None, None, 1))
    # eps = 0.1 against gradients of about 0.1, one of them always 0: where eps sits matters.
    theta = rng.normal(size=4)
    gradients = [0.1 * rng.normal(size=4) * np.array([1.0, 1.0, 1.0, 0.0]) for _ in range(3)]
    settings.append(((0.01, 0.5, 0.9, 0.1), theta, gradients, None, None, 1))
    # eps = 1e-3 against gradients of about 1e-3, on a 3-D array.
    theta = rng.normal(size=(2, 2, 3))
    settings.append(((0.5, 0.95, 0.99, 1e-3), theta, [1e-3 * rng.normal(size=theta.shape) for _ in range(4)],
                     None, None, 1))
    # Gradients far smaller than eps = 1e-8 (down to 1e-15), where sqrt(v_hat) is smaller still:
    # a floor under v_hat or sqrt(v_hat), or a larger eps, changes the step.
    theta = rng.normal(size=(2, 2))
    scales = np.array([[1e-6, 1e-9], [1e-12, 1e-15]])
    settings.append(((0.01, 0.9, 0.999, 1e-8), theta, [scales * rng.normal(size=(2, 2)) for _ in range(3)],
                     None, None, 1))
    # The defaults of the signature, on a single number.
    settings.append((None, np.array(0.3), [np.array(value) for value in (0.5, -0.2, 0.1)], None, None, 1))
    # Late steps from a given state: step 20, where beta1**t still matters, and step 1000, where
    # beta2**t does.
    for t in (20, 1000):
        settings.append(((0.05, 0.9, 0.999, 1e-6), rng.normal(size=3), [rng.normal(size=3)],
                         0.3 * rng.normal(size=3), 0.5 * rng.random(3) + 0.01, t))
    return settings


def _matches(actual, reference):
    """Whether the arrays ``actual`` (None for what is not numbers) equal ``reference``'s, NaN for NaN."""
    return all(a is not None and a.shape == np.shape(r) and np.allclose(a, r, rtol=1e-9, atol=1e-300, equal_nan=True)
               for a, r in zip(actual, reference))


def _adam_diagnosis(steps, first_wrong):
    """The message for the mistake behind a wrong answer, or None.

    steps: (arguments, the answer's arrays, the expected arrays) of every step tried. A mistake of
    ADAM_MISTAKES that gives the answer at every step is named; failing that, the only one that
    gives it at the first wrong step (at eps = 1e-8, ignoring eps and adding eps**2 inside the root
    agree to 16 digits: the other steps tell them apart); failing that, another step number.
    """
    arguments, actual, expected = steps[first_wrong]
    with np.errstate(all="ignore"):
        here = [mistake for mistake in ADAM_MISTAKES
                if _matches(actual, _adam(*arguments, mistake=mistake))
                and not _matches(expected, _adam(*arguments, mistake=mistake))]
        everywhere = [mistake for mistake in here
                      if all(_matches(answer, _adam(*step, mistake=mistake)) for step, answer, _ in steps)]
        if everywhere or len(here) == 1:
            return ADAM_MISTAKES[(everywhere or here)[0]]
        theta, grad, m, v, t, *hyperparameters = arguments
        for other_t in range(1, 100):
            wrong = _adam(theta, grad, m, v, other_t, *hyperparameters)
            if other_t != t and _matches(actual, wrong) and not _matches(expected, wrong):
                return (f"takes step number {other_t} instead of its argument t = {t}: count the "
                        "steps with the t passed in, not with a counter of your own.")
    return None


def _defaults(function):
    """{'beta1': ..., 'beta2': ..., 'eps': ...} as the signature of ``function`` has them, where it
    has parameters of those names."""
    try:
        parameters = inspect.signature(function).parameters
    except (TypeError, ValueError):
        return {}
    return {name: parameters[name].default for name in ("beta1", "beta2", "eps")
            if name in parameters and parameters[name].default is not inspect.Parameter.empty}


def check_adam_step(adam_step_fn):
    """Exercise 0.5: ``adam_step_fn(theta, grad, m, v, t, lr, beta1=0.9, beta2=0.999, eps=1e-8)``
    -> (theta, m, v), for arrays of any shape, any step t >= 1 and any hyperparameters.

    Each step is compared, to rounding, with Adam's equations (those of aelib.optim.Adam) applied
    to the same inputs: sequences of steps from t = 1 with several lr, beta1, beta2 and eps (1e-8,
    1e-3, 0.1), gradients from 1e-6 down to 1e-15 (far below eps), the defaults of the signature,
    and single late steps (t = 20, 1000).
    """
    defaults = {"beta1": 0.9, "beta2": 0.999, "eps": 1e-8}
    wrong_defaults = {name: value for name, value in _defaults(adam_step_fn).items() if value != defaults[name]}
    if wrong_defaults:
        name, value = next(iter(wrong_defaults.items()))
        raise CheckFailed(f"adam_step's default {name} is {value!r}; the exercise's signature has "
                          f"{name}={defaults[name]!r} (beta1=0.9, beta2=0.999, eps=1e-8).")
    # Every step runs before any is judged, so that a mistake is named from all of them.
    steps, results, places = [], [], []
    for hyperparameters, theta, gradients, m, v, first_t in _adam_settings():
        m = np.zeros_like(theta) if m is None else m
        v = np.zeros_like(theta) if v is None else v
        for t, grad in enumerate(gradients, start=first_t):
            lr, beta1, beta2, eps = hyperparameters or (0.2, 0.9, 0.999, 1e-8)
            given = [np.copy(value) for value in (theta, grad, m, v)]
            if hyperparameters:
                result = call(adam_step_fn, *given, t, lr, beta1, beta2, eps, name="adam_step", may_change=(0, 2, 3),
                              on_error="The exercise's signature is adam_step(theta, grad, m, v, t, lr, beta1=0.9, "
                                       "beta2=0.999, eps=1e-8): the check passes all nine arguments in this order.")
                setting = f"t={t}, lr={lr}, beta1={beta1}, beta2={beta2}, eps={eps:g}"
            else:
                result = call(adam_step_fn, *given, t, lr, name="adam_step", may_change=(0, 2, 3),
                              on_error="The exercise's signature is adam_step(theta, grad, m, v, t, lr, "
                                       "beta1=0.9, beta2=0.999, eps=1e-8).")
                setting = f"t={t}, lr={lr}, beta1, beta2 and eps left at their defaults"
            result = _result_list(result, "adam_step", 3, "theta, m, v")
            arguments = (theta, grad, m, v, t, lr, beta1, beta2, eps)
            expected = _adam(*arguments)
            steps.append((arguments, [as_numbers(value) for value in result], expected))
            results.append(result)
            tiny = max(np.max(np.abs(gradient)) for gradient in gradients) < 1e-5
            places.append(f"adam_step({setting}) on theta of shape {theta.shape}"
                          + (" with gradients from 1e-6 down to 1e-15 (most far below eps)" if tiny else ""))
            theta, m, v = expected  # the next step starts from the right state

    for index, ((arguments, actual, expected), result, where) in enumerate(zip(steps, results, places)):
        scales = _adam_scales(*arguments)
        if all(a is not None and a.shape == e.shape and np.all(np.abs(a - e) <= 1e-12 * s)
               for a, e, s in zip(actual, expected, scales)):
            continue
        mistake = _adam_diagnosis(steps, index)
        if mistake:
            raise CheckFailed(f"{where} {mistake}")
        for name, answer, answer_array, reference, scale in zip(("theta", "m", "v"), result, actual, expected, scales):
            what = f"{where}: the new {name}"
            if answer_array is not None and answer_array.shape == reference.shape:
                if not np.all(np.isfinite(answer_array)):
                    raise CheckFailed(
                        f"{what} contains NaN or inf. Every division must stay finite: the bias "
                        "corrections divide by 1 - beta**t (t counts from 1), and eps keeps the "
                        "step finite where v is 0.")
                # Entries within rounding of their terms pass; the others are shown.
                close = np.abs(answer_array - reference) <= 1e-12 * scale
                dtype = np.asarray(answer).dtype if np.asarray(answer).dtype.kind == "f" else np.float64
                answer = np.where(close, reference, answer_array).astype(dtype)
            tiny = "far below eps" in where
            expect_close(answer, reference, what, rtol=1e-12, atol=0.0,
                         hint="Update m and v first, correct their bias with t, then take the step "
                              "theta - lr * m_hat / (sqrt(v_hat) + eps). Return the new (theta, m, v)."
                              + (" Where sqrt(v_hat) is far below eps, eps sets the step: a floor under v_hat "
                                 "or under its root, or an eps of your own, changes it." if tiny else ""))
    passed("adam_step follows Adam's equations for every step tried: lr, beta1, beta2 and eps "
           "(1e-8 to 0.1) of several values and the defaults, gradients down to 1e-15, t from 1 to 1000, "
           "arrays 0-D to 3-D.")


# ---------------------------------------------------------------------------------------------
# Exercise 0.6: the whole backward pass of a network with two tanh hidden layers.

GRADIENT_NAMES = ["dW1", "db1", "dW2", "db2", "dW3", "db3"]
# Central differences with the step chapter 0 recommends, on the truncation side of the error
# valley: their relative error to the exact gradient is below 4e-7 here, far from the errors
# of order 1e-2 to 1 that a mistake makes. The check shows them beside a wrong gradient.
FD_STEP, FD_TOLERANCE = 1e-3, 1e-6


def _forward(X, params):
    W1, b1, W2, b2, W3, b3 = params
    A1 = X @ W1 + b1
    H1 = np.tanh(A1)
    A2 = H1 @ W2 + b2
    H2 = np.tanh(A2)
    return {"X": X, "A1": A1, "H1": H1, "A2": A2, "H2": H2}, H2 @ W3 + b3


def _mlp_problems():
    """The networks the check runs the answer on, as dicts with params, cache, Delta3, what, and
    for the first the MLP and targets whose loss the central differences take.

    Every width of the first differs, so that a transposed product changes a shape; the second is
    square, so that only the values tell; the third has one sample; in the fourth some inputs,
    weights and output gradients are a millionth of the others, so that the gradients span many
    orders of magnitude and finite differences, whose error is the same in every entry, lose the
    small ones; in the fifth the output weights are so large that the logits overflow float64
    (the gradients stay finite). The biases are moved away from zero, so that no
    unit sits at tanh's special point 0.
    """
    rng = np.random.default_rng(6)
    problems = []
    net = MLP([4, 5, 3, 2], ["tanh", "tanh", "sigmoid"], seed=rng)
    for b in net.params[1::2]:
        b[...] = rng.normal(0.0, 0.5, b.shape)
    X = rng.normal(size=(6, 4))
    Y = (rng.random((6, 2)) < 0.5).astype(np.float64)
    params = [param.copy() for param in net.params]
    cache, A3 = _forward(X, params)
    problems.append(dict(params=params, cache=cache, Delta3=bce_with_logits_grad(A3, Y), net=net, Y=Y,
                         what="the [4, 5, 3, 2] network, 6 samples"))
    for sizes, n_samples, what in [([3, 3, 3, 3], 3, "the square [3, 3, 3, 3] network, 3 samples"),
                                   ([2, 4, 3, 1], 1, "the [2, 4, 3, 1] network, one sample"),
                                   ([4, 5, 3, 2], 6, "the [4, 5, 3, 2] network, 6 samples, gradients "
                                                     "from 1e-13 to 1")]:
        params = []
        for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
            params += [rng.normal(0.0, 1.0 / np.sqrt(fan_in), (fan_in, fan_out)), rng.normal(0.0, 0.5, fan_out)]
        X = rng.normal(size=(n_samples, sizes[0]))
        Delta3 = rng.normal(size=(n_samples, sizes[-1])) / n_samples
        if n_samples == 6:
            X[:, 1] *= 1e-6
            params[2][3] *= 1e-6  # hidden unit 4 of layer 1 barely reaches layer 2
            params[4][1] *= 1e-6  # hidden unit 2 of layer 2 barely reaches the output
            Delta3[:, 0] *= 1e-6
        cache, _ = _forward(X, params)
        problems.append(dict(params=params, cache=cache, Delta3=Delta3, what=what))
    # Output weights near the largest float64, so that the logits H2 @ W3 + b3 overflow, while
    # Delta3 is small enough that every gradient stays finite (those of layers 1 and 2 of size
    # 1 to 100, those of layer 3 about 1e-306): whatever evaluates the
    # network (finite differences with any step, the complex step, on any copy of the inputs)
    # gets inf or NaN; a backward pass never computes the logits.
    params = [rng.normal(0.0, 0.5, (3, 4)), rng.normal(0.0, 0.5, 4), rng.normal(0.0, 0.3, (4, 3)),
              np.full(3, 2.0), 1.5e308 * rng.uniform(0.8, 1.0, (3, 2)), rng.normal(0.0, 0.5, 2)]
    X = rng.normal(size=(4, 3))
    cache, _ = _forward(X, params[:4] + [np.zeros((3, 2)), np.zeros(2)])  # the logits themselves overflow
    problems.append(dict(params=params, cache=cache, Delta3=1e-306 * rng.normal(size=(4, 2)), overflows=True,
                         what="the [3, 4, 3, 2] network, 4 samples, whose logits overflow float64"))
    return problems


def _backward(cache, params, Delta3):
    """The exact gradients, and the size of the terms behind each of their entries."""
    W1, b1, W2, b2, W3, b3 = params
    X, H1, H2 = cache["X"], cache["H1"], cache["H2"]
    Delta2 = (Delta3 @ W3.T) * (1.0 - H2 ** 2)
    Delta1 = (Delta2 @ W2.T) * (1.0 - H1 ** 2)
    gradients = [X.T @ Delta1, Delta1.sum(axis=0), H1.T @ Delta2, Delta2.sum(axis=0), H2.T @ Delta3, Delta3.sum(axis=0)]
    # |1 - H**2| <= 1, and it may be computed in another way (from A, or as (1 - H) * (1 + H)),
    # with an error of a few units of rounding: the scale of Delta2 is that of Delta3 @ W3.T.
    scale3 = np.abs(Delta3)
    scale2 = scale3 @ np.abs(W3).T
    scale1 = scale2 @ np.abs(W2).T
    scales = [np.abs(X).T @ scale1, scale1.sum(axis=0), np.abs(H1).T @ scale2, scale2.sum(axis=0),
              np.abs(H2).T @ scale3, scale3.sum(axis=0)]
    return gradients, {1: Delta1, 2: Delta2, 3: Delta3}, scales


def _central_differences(net, X, Y):
    def loss():
        net.forward(X)
        return bce_with_logits(net.last_preactivation, Y)
    return [numerical_gradient(loss, param, FD_STEP) for param in net.params]


def _relative_errors(result, numerical):
    # "wrong shape" instead of a number where an array cannot be compared with its differences.
    errors = []
    for name, array, reference in zip(GRADIENT_NAMES, result, numerical):
        array = as_numbers(array)
        if array is None:
            errors.append(f"{name} not an array")
        elif array.shape != reference.shape:
            errors.append(f"{name} wrong shape")
        else:
            error = relative_error(reference, array)
            errors.append(f"{name} {'below 1e-6' if error < 1e-6 else f'{error:.0e}'}")
    return ", ".join(errors)


def _shape(array):
    # None for what is not an array of numbers.
    array = as_numbers(array)
    return None if array is None else array.shape


def _close(array, expected):
    array = as_numbers(array)
    if array is None or array.shape != expected.shape:
        return False
    return np.allclose(array, expected, rtol=1e-6, atol=1e-10)


def _likely_deltas(layer, cache, params, deltas):
    """The usual wrong versions of Delta{layer}, computed from the right Delta{layer + 1}.

    Yields (wrong Delta, what was done). Layer 3's Delta is given, so it has none.
    """
    if layer == 3:
        return
    W_above = params[2 * layer]
    A, H = cache[f"A{layer}"], cache[f"H{layer}"]
    dH = deltas[layer + 1] @ W_above.T
    yield dH, (f"forgot the derivative of tanh: Delta{layer} must be "
               f"(Delta{layer + 1} @ W{layer + 1}.T) * (1 - H{layer}**2), not the product alone")
    yield dH * (1.0 - A ** 2), (
        f"used the pre-activation A{layer} in 1 - H**2; that formula takes the "
        f"post-activation, H{layer} = tanh(A{layer}): use 1 - H{layer}**2")
    yield dH * (1.0 - np.tanh(H) ** 2), (
        f"took tanh of the post-activation H{layer}: tanh'(A{layer}) = 1 - tanh(A{layer})**2 "
        f"= 1 - H{layer}**2, so H{layer} is already the tanh")
    yield dH * H * (1.0 - H), (
        f"used the sigmoid's derivative H * (1 - H) for layer {layer}, whose activation is tanh: "
        f"use 1 - H{layer}**2")
    yield dH * (1.0 - H), f"multiplied by 1 - H{layer}; tanh's derivative is 1 - H{layer}**2"
    if W_above.shape[0] == W_above.shape[1]:
        yield (deltas[layer + 1] @ W_above) * (1.0 - H ** 2), (
            f"multiplied Delta{layer + 1} by W{layer + 1}, not by its transpose: "
            f"Delta{layer + 1} @ W{layer + 1}.T")


def _diagnose(index, array, cache, params, deltas, expected):
    """A message naming the mistake behind a wrong gradient, or None if it is not recognised."""
    layer = index // 2 + 1
    name = GRADIENT_NAMES[index]
    H_in = cache["X"] if layer == 1 else cache[f"H{layer - 1}"]
    input_name = "X" if layer == 1 else f"H{layer - 1}"
    delta = deltas[layer]
    n_samples = delta.shape[0]
    shape = _shape(array)
    if index % 2 == 0:  # a weight gradient
        fan_in, fan_out = expected.shape
        if (shape == (fan_out, fan_in) and _close(np.transpose(as_numbers(array)), expected)
                and not _close(array, expected)):
            return (f"{name} is transposed: it has shape {shape} and must be {input_name}.T @ Delta{layer}, "
                    f"with W{layer}'s shape {expected.shape}.")
        if layer > 1 and _close(array, cache[f"A{layer - 1}"].T @ delta):
            return (f"{name} used the pre-activation A{layer - 1} as the layer's input; the input of layer "
                    f"{layer} is the post-activation H{layer - 1} = tanh(A{layer - 1}): {input_name}.T @ Delta{layer}.")
        if n_samples > 1 and _close(array, expected / n_samples):
            return (f"{name} is divided by the number of samples; it must not be: the 1/N of the mean loss "
                    "is already inside Delta3.")
        if _close(array, -expected):
            return f"{name} has the wrong sign: it is {input_name}.T @ Delta{layer} itself."
        for wrong, what in _likely_deltas(layer, cache, params, deltas):
            if _close(array, H_in.T @ wrong):
                return f"{name} is wrong: you {what}."
        return None
    # a bias gradient
    if shape == (n_samples,) and (n_samples != expected.shape[0] or _close(array, delta.sum(axis=1))):
        described = f"has shape {shape}" if n_samples != expected.shape[0] else f"is Delta{layer}.sum(axis=1)"
        return (f"{name} {described}, one entry per sample; it needs one per unit, "
                f"{expected.shape}. Sum Delta{layer} over the samples (the rows): axis=0.")
    if n_samples > 1 and _close(array, delta.mean(axis=0)):
        return (f"{name} is the mean of Delta{layer}'s rows; it must be their sum. Every sample adds its "
                "own term, and the 1/N of the mean loss is already inside Delta3.")
    if _close(array, -expected):
        return f"{name} has the wrong sign: it is Delta{layer}.sum(axis=0) itself."
    for wrong, what in _likely_deltas(layer, cache, params, deltas):
        if _close(array, wrong.sum(axis=0)):
            return f"{name} is wrong: you {what}."
    return None


_LAYER_INPUTS = [("X", "W1"), ("H1", "W2"), ("H2", "W3")]


class _Cache(dict):
    # A dict, named briefly in a message that shows the arguments of a failed call.
    def __repr__(self):
        return f"<dict of {', '.join(self)}>"


class _Params(list):
    # A list, named by the names of its arrays in a message that shows the arguments of a failed call.
    def __init__(self, arrays, names=("W1", "b1", "W2", "b2", "W3", "b3")):
        super().__init__(arrays)
        self.names = tuple(names)

    def __repr__(self):
        return f"<list of {', '.join(self.names)}>"


def _run_mlp_backward(mlp_backward_fn, problem):
    """Call the answer on derived copies of the problem's arrays; fail if it evaluates a layer, on
    them or on values computed from them, or takes the complex step."""
    names = ["W1", "b1", "W2", "b2", "W3", "b3"]
    log, arrays = derived(**problem["cache"], **dict(zip(names, problem["params"])), Delta3=problem["Delta3"])
    cache = _Cache((key, arrays[key]) for key in problem["cache"])
    params = _Params(arrays[name] for name in names)
    shapes = ", ".join(f"{name} {params[i].shape}" for i, name in enumerate(names) if i % 2 == 0)
    # Where the logits overflow, numpy's warnings about it would only repeat what the check explains.
    with np.errstate(over="ignore", invalid="ignore") if problem.get("overflows") else contextlib.nullcontext():
        result = call(mlp_backward_fn, cache, params, arrays["Delta3"], name="mlp_backward",
                      on_error=f"For {problem['what']}: X is {problem['cache']['X'].shape}, {shapes}, Delta3 "
                               f"{problem['Delta3'].shape}. Each dW has its W's shape, each Delta{{l}} the "
                               "shape of A{l}, (n, d_l); going down a layer multiplies by the transpose of "
                               "the weights above: Delta2 = (Delta3 @ W3.T) * (1 - H2**2).")
    for layer, (input_name, weight_name) in enumerate(_LAYER_INPUTS, start=1):
        again = (f"it evaluates layer {layer} ({input_name} @ {weight_name}) again instead of reading "
                 f"cache['A{layer}'] and cache['H{layer}']" if layer < 3 else
                 f"it evaluates layer 3 ({input_name} @ {weight_name}), the logits, which a backward pass "
                 "never needs: it starts from Delta3")
        _expect_no_forward_evaluations(
            "mlp_backward", log, input_name, weight_name, ("Delta3",), problem["what"],
            f"it evaluates layer {layer} ({input_name} @ {weight_name})",
            "A backward pass takes the forward values from the cache and needs no further evaluation of any layer.",
            allowed=0, again=again)
    result = plain_arrays(result)
    return result


def _expect_finite_despite_overflow(result, what):
    not_finite = [name for name, array in zip(GRADIENT_NAMES, result)
                  if as_numbers(array) is not None and not np.all(np.isfinite(as_numbers(array)))]
    if not_finite:
        raise CheckFailed(
            f"For {what}: {', '.join(not_finite)} {'contains' if len(not_finite) == 1 else 'contain'} inf "
            "or NaN, although every gradient is a finite number here. Only the logits H2 @ W3 + b3 are too "
            "large for float64, so your function evaluates the network, as finite differences (or the "
            "complex step) do, whatever the step. A backward pass never computes the logits: it starts "
            "from Delta3 and takes H1 and H2 from the cache.")


def check_mlp_backward(mlp_backward_fn):
    """Exercise 0.6: ``mlp_backward_fn(cache, params, Delta3)`` -> [dW1, db1, dW2, db2, dW3, db3].

    For a network X -> tanh -> tanh -> A3 with params [W1, b1, W2, b2, W3, b3], the forward cache
    {"X", "A1", "H1", "A2", "H2"} and Delta3 = dL/dA3. Five networks: widths that all differ,
    square, one sample, gradients that span 13 orders of magnitude, and logits too large for
    float64 (which any evaluation of the network meets as inf). Each gradient must equal
    the chain rule's to rounding, from the last layer down, without evaluating any layer again;
    the usual mistakes are named, and for the first network a wrong gradient is shown beside its
    relative error to central differences of the loss (float64, h = 1e-3).
    """
    for problem in _mlp_problems():
        cache, params, Delta3 = problem["cache"], problem["params"], problem["Delta3"]
        expected, deltas, scales = _backward(cache, params, Delta3)
        result = _run_mlp_backward(mlp_backward_fn, problem)
        result = _result_list(result, "mlp_backward", 6, "[dW1, db1, dW2, db2, dW3, db3]")
        if problem.get("overflows"):
            _expect_finite_despite_overflow(result, problem["what"])
        shapes = [_shape(array) for array in result]
        expected_shapes = [grad.shape for grad in expected]
        if None not in shapes and shapes != expected_shapes and sorted(shapes) == sorted(expected_shapes):
            raise CheckFailed(f"mlp_backward returned arrays of the right shapes in the wrong order {shapes}; "
                              "return them in the order of params: [dW1, db1, dW2, db2, dW3, db3].")
        # From the last layer down: the first wrong gradient shows where the mistake is, since a
        # wrong Delta spoils every gradient below it.
        for index in (4, 5, 2, 3, 0, 1):
            name = GRADIENT_NAMES[index]
            what = f"{name} for {problem['what']}"
            if not _close(result[index], expected[index]):
                message = _diagnose(index, result[index], cache, params, deltas, expected[index])
                if message:
                    raise CheckFailed(f"For {problem['what']}: {message}")
                layer = index // 2 + 1
                where = ("it needs only H2 and Delta3" if layer == 3 else
                         f"look at Delta{layer} = (Delta{layer + 1} @ W{layer + 1}.T) * (1 - H{layer}**2)")
                if "net" in problem:
                    numerical = _central_differences(problem["net"], cache["X"], problem["Y"])
                    what += f" (relative errors to central differences: {_relative_errors(result, numerical)})"
                # Reported with the tolerance the gradient is held to, as expect_exact reports it.
                expect_close(result[index], expected[index], what, rtol=EXACT_RTOL, atol=0.0,
                             hint=f"{name} is the first wrong gradient counted from the output: {where}.")
            _finite_difference_accuracy(result[index], expected[index], scales[index], what)
            expect_exact(result[index], expected[index], what, scales[index],
                         hint=f"{name} must be exact: compute it from the cache by the chain rule.")
    passed("all six gradients are exact for five networks (widths all different, square, one sample, "
           "gradients from 1e-13 to 1, logits too large for float64), computed without evaluating any layer "
           "again.")
