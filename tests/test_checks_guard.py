"""Running the reader's function: every call from it into aelib refused unless the check allows
it, however reached (renamed, through numpy, from a thread, lazily), inputs changed in place and
numpy's global generator named, and nothing left behind."""
import numpy as np
import pytest

import aelib
from aelib.checks.feedback import CheckFailed
from aelib.checks.guard import call, library_file


def test_every_call_into_aelib_is_refused_and_named_however_it_is_reached():
    h = np.array([0.5])
    from aelib.activations import tanh_grad as renamed
    routes = [lambda h: aelib.activations.tanh_grad(h), lambda h: renamed(h),
              lambda h: np.apply_along_axis(aelib.activations.tanh_grad, 0, h),
              lambda h: aelib.activations.get("tanh")[1](np.tanh(h))]
    for route in routes:
        with pytest.raises(CheckFailed, match="calls aelib.activations"):
            call(route, h, name="tanh_grad")
    # The function itself, handed to the check as the answer, is the student's call too.
    with pytest.raises(CheckFailed, match="calls aelib.activations.tanh_grad"):
        call(aelib.activations.tanh_grad, h, name="tanh_grad")
    # A refused call is reported even when the answer catches what follows it.
    with pytest.raises(CheckFailed, match="calls aelib.activations.tanh_grad"):
        call(lambda h: aelib.activations.tanh_grad(h) * 0 + 2 * h, h, name="tanh_grad")


def test_a_call_handed_to_a_thread_is_refused_too():
    import threading
    from concurrent.futures import ThreadPoolExecutor

    h = np.array([0.5])

    def in_a_thread(h):
        with ThreadPoolExecutor(1) as pool:
            return pool.submit(aelib.activations.tanh_grad, h).result()

    before = threading.gettrace()
    with pytest.raises(CheckFailed, match="calls aelib.activations.tanh_grad"):
        call(in_a_thread, h, name="tanh_grad")
    assert threading.gettrace() is before
    with ThreadPoolExecutor(1) as pool:  # outside a check, threads call aelib freely
        assert pool.submit(aelib.activations.tanh_grad, h).result() == pytest.approx([0.75])


def test_a_call_into_aelib_from_a_thread_the_answer_starts_is_refused_too():
    import concurrent.futures
    import threading

    def in_a_thread_pool(h):
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            return pool.submit(aelib.activations.tanh_grad, h).result()

    def in_a_thread(h):
        result = []
        thread = threading.Thread(target=lambda: result.append(aelib.activations.tanh_grad(h)))
        thread.start()
        thread.join()
        return result[0]

    before = threading.gettrace()
    for route in (in_a_thread_pool, in_a_thread):
        with pytest.raises(CheckFailed, match="calls aelib.activations.tanh_grad"):
            call(route, np.array([0.5]), name="tanh_grad")
    assert threading.gettrace() is before
    assert call(lambda h: in_a_thread(h) * 0 + 2 * h, np.array([0.5]), allowed=(aelib.activations.tanh_grad,)) == 1.0


def test_what_a_check_allows_works_with_everything_it_calls_inside():
    X = np.random.default_rng(0).random((3, 35))
    model = aelib.Autoencoder([35, 4, 2], seed=0)

    def train(X):
        model.fit(X, epochs=2, lr=1e-3)
        return model.reconstruct(X)

    assert call(train, X, allowed=(aelib.Autoencoder,)).shape == (3, 35)
    with pytest.raises(CheckFailed, match=r"(?s)calls aelib.autoencoder.Autoencoder.fit, .* allows only aelib.mlp.MLP"):
        call(train, X, allowed=(aelib.MLP,))


def test_aelib_works_again_after_a_check_and_the_guard_leaves_no_trace():
    import sys
    h = np.array([0.5])
    before = sys.gettrace()
    with pytest.raises(CheckFailed, match="raised ZeroDivisionError"):
        call(lambda h: 1 / 0, h, name="tanh_grad")
    assert sys.gettrace() is before
    assert np.allclose(aelib.activations.tanh_grad(h), [0.75])
    assert call(lambda h: 2 * h, h) == pytest.approx([1.0])


def test_an_argument_changed_in_place_is_named_unless_the_check_lets_it_change():
    cache = {"X": np.ones((2, 2)), "H1": np.ones((2, 3))}

    def scale_in_place(cache, W):
        cache["H1"] *= 2
        W += 1
        return 0

    with pytest.raises(CheckFailed, match=r"changed cache\['H1'\] in place"):
        call(scale_in_place, cache, np.zeros(2), name="backward")
    with pytest.raises(CheckFailed, match=r"changed W in place"):
        call(scale_in_place, {"X": np.ones(1), "H1": np.ones(1)}, np.zeros(2), name="step", may_change=(0,))
    assert call(scale_in_place, {"H1": np.ones(1)}, np.zeros(2), may_change=(0, 1)) == 0


def test_numpys_global_random_generator_is_refused_and_left_as_it_was():
    before = np.random.get_state()[1].copy()
    for route in (lambda n: np.random.rand(n), lambda n: (np.random.seed(0), np.random.rand(n))[1]):
        with pytest.raises(CheckFailed, match="numpy's global random generator"):
            call(route, 3, name="noise")
        assert np.array_equal(np.random.get_state()[1], before)


def test_a_lazy_answer_runs_under_the_guard():
    def batches(n):
        yield from (aelib.evaluation.train_test_split for _ in range(n))
        yield aelib.activations.tanh_grad(np.zeros(1))

    with pytest.raises(CheckFailed, match="calls aelib.activations.tanh_grad"):
        call(batches, 2, name="minibatches")
    assert call(lambda n: (i for i in range(n)), 3) == [0, 1, 2]


def test_a_check_may_name_a_refused_call_in_its_own_words():
    def uses_a_global_model(X):
        return aelib.activations.tanh_grad(X)

    def own_words(called):
        return f"called {called}: use the model passed in" if called.endswith("tanh_grad") else None

    with pytest.raises(CheckFailed, match="called aelib.activations.tanh_grad: use the model passed in"):
        call(uses_a_global_model, np.zeros(2), on_refused=own_words)
    with pytest.raises(CheckFailed, match="calls aelib.activations.relu, which is part of aelib"):
        call(lambda X: aelib.activations.relu(X), np.zeros(2), on_refused=own_words)


def test_packages_of_another_environment_are_library_code_not_the_students():
    # A grading environment may reach its third-party packages through a .pth file pointing at
    # another environment's site-packages: numpy's frames there are still numpy's.
    assert library_file("/srv/shared-env/lib/python3.11/site-packages/numpy/_core/_ufunc_config.py")
    assert library_file("/usr/lib/python3/dist-packages/numpy/__init__.py")
    assert not library_file("/tmp/ipykernel_123/4567.py")
    assert not library_file("/home/student/site_packages_notes/answer.py")


def test_packages_reached_through_a_symbolic_link_are_library_code(tmp_path):
    import os
    real = tmp_path / "env" / "lib" / "site-packages" / "numpy"
    real.mkdir(parents=True)
    (real / "core.py").write_text("")
    (tmp_path / "shared").mkdir()
    os.symlink(real, tmp_path / "shared" / "numpy")
    assert library_file(str(tmp_path / "shared" / "numpy" / "core.py"))


def test_a_hint_can_depend_on_the_error_raised():
    def hint(error):
        return "asked for too many" if "too many" in str(error) else "the shapes"

    def too_many(k):
        raise ValueError(f"too many: {k}")

    with pytest.raises(CheckFailed, match=r"(?s)too_many\(k=3\) raised ValueError: too many: 3.*asked for too many"):
        call(too_many, 3, on_error=hint)
    with pytest.raises(CheckFailed, match=r"(?s)shapes do not fit.*the shapes"):
        call(lambda k: np.ones(2) @ np.ones(k), 3, on_error=hint)
