"""``fails_with(pattern)``: the block must raise the checks' ``CheckFailed``, whose message,
read as one line, matches ``pattern``, and whose every line fits nbgrader's feedback width."""
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
