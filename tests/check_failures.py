"""Helpers shared by the tests of the exercise checks.

``fails_with(pattern)``: the block must raise the checks' ``CheckFailed``, whose message, read as
one line, matches ``pattern``, and whose every line fits nbgrader's feedback width.
``accepts(check, solution, capsys)``: the check passes ``solution`` and prints its success line.
``not_implemented``: an untouched stub, as the student edition has it.
``forbid_training(monkeypatch)``: training any model fails, for a check that must not train one.
"""
import contextlib
import re

import pytest

from aelib.checks.feedback import WIDTH, CheckFailed


@contextlib.contextmanager
def fails_with(pattern):
    with pytest.raises(CheckFailed) as info:
        yield info
    text = str(info.value)
    message = " ".join(text.split())
    assert re.search(pattern, message), f"{pattern!r} not found in:\n{text}"
    too_long = [line for line in text.split("\n") if len(line) > WIDTH]
    assert not too_long, f"lines longer than {WIDTH} characters: {too_long}"


def accepts(check, solution, capsys):
    check(solution)
    assert capsys.readouterr().out.startswith("Correct:")


def not_implemented(*args, **kwargs):
    raise NotImplementedError()


def forbid_training(monkeypatch):
    """Make training any model fail, for a check that must not train one: a check runs while a
    student waits, and inside nbgrader's autograde for every submission."""
    import aelib

    def no_training(*args, **kwargs):
        raise AssertionError("the check trained a model")

    for module in (aelib.training, aelib.autoencoder, aelib.vae):
        monkeypatch.setattr(module, "run_epochs", no_training)
