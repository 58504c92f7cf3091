"""The datasets load as documented, and a malformed glyph file is refused with a message that
names the file, the glyph and the line."""
import itertools

import numpy as np
import pytest

import aelib
from aelib.data import load_glyphs

ALPHABET = list("abcdefghijklmnñopqrstuvwxyz")

# A valid file in the format of data/font5x7.txt, with glyphs of 3 rows of 2 pixels.
# Line numbers matter to the tests below: "label: a" is line 3, "label: b" is line 8.
VALID = """\
; a tiny test font
;
label: a
##
.#
#.

label: b
#.
##
.#
"""


def write(tmp_path, text, name="glyphs.txt"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_font_shape_values_and_labels():
    X, labels = aelib.load_font()
    assert X.dtype == np.float64
    assert X.shape == (27, 35)
    assert set(np.unique(X)) == {0.0, 1.0}
    assert labels == ALPHABET  # Spanish alphabetical order: ñ after n
    assert all(isinstance(label, str) and len(label) == 1 for label in labels)


def test_font_glyphs_are_distinct_and_inked():
    X, labels = aelib.load_font()
    assert np.unique(X, axis=0).shape[0] == len(labels)
    assert (X.sum(axis=1) > 0).all()


def test_font_digits_are_ten_new_glyphs_of_the_font_grid():
    X, labels = aelib.load_font_digits()
    assert X.dtype == np.float64 and X.shape == (10, 35)
    assert set(np.unique(X)) == {0.0, 1.0}
    assert labels == list("0123456789")
    assert np.unique(X, axis=0).shape[0] == 10 and (X.sum(axis=1) > 0).all()
    letters, _ = aelib.load_font()
    # Unseen: no digit is a copy of a letter; only the 1 comes close (2 pixels from the l).
    closest = (X[:, None, :] != letters[None, :, :]).sum(axis=2).min(axis=1)
    assert closest[1] == 2 and np.delete(closest, 1).min() >= 5


def test_emojis_shape_values_and_names():
    E, names = aelib.load_emojis()
    assert E.dtype == np.float64
    assert E.shape[0] >= 24 and E.shape[1] == 144
    assert set(np.unique(E)) == {0.0, 1.0}
    assert len(names) == E.shape[0] == len(set(names))
    assert all(isinstance(name, str) and name for name in names)


def test_emojis_are_distinct_by_at_least_six_pixels():
    # The data file promises it; interpolation chapters rely on neighbours being told apart.
    E, names = aelib.load_emojis()
    for (i, a), (j, b) in itertools.combinations(enumerate(E), 2):
        assert np.sum(a != b) >= 6, f"{names[i]!r} and {names[j]!r} differ in only {np.sum(a != b)} pixels"


def test_loaders_accept_a_path_or_a_string(tmp_path):
    path = write(tmp_path, VALID)
    for where in (path, str(path)):
        X, labels = load_glyphs(where, (3, 2))
        assert labels == ["a", "b"]
        np.testing.assert_array_equal(X, [[1, 1, 0, 1, 1, 0], [1, 0, 1, 1, 0, 1]])
        assert X.dtype == np.float64


def test_load_font_reads_a_given_file(tmp_path):
    lines = ["label: x"] + [".#.#."] * 7
    X, labels = aelib.load_font(write(tmp_path, "\n".join(lines)))
    assert labels == ["x"] and X.shape == (1, 35)


def assert_names(error, path, glyph, line):
    message = str(error.value)
    assert str(path) in message, f"the message should name the file: {message}"
    assert repr(glyph) in message, f"the message should name the glyph {glyph!r}: {message}"
    assert f"line {line}" in message, f"the message should name line {line}: {message}"


@pytest.mark.parametrize("old, new, glyph, line, what", [
    pytest.param("label: b\n#.\n", "label: b\n#..\n", "b", 9, "3 pixels", id="row-too-long"),
    pytest.param("label: b\n#.\n", "label: b\n#\n", "b", 9, "1 pixels", id="row-too-short"),
    pytest.param("label: a\n##\n.#\n", "label: a\n##\n.o\n", "a", 5, "'o'", id="unknown-character"),
    pytest.param("label: b\n", "label: a\n", "a", 8, "duplicate", id="duplicate-label"),
    pytest.param("#.\n\nlabel: b", "#.\n#.\n\nlabel: b", "a", 7, "more than 3 rows", id="too-many-rows"),
])
def test_malformed_file_names_file_glyph_and_line(tmp_path, old, new, glyph, line, what):
    assert old in VALID
    path = write(tmp_path, VALID.replace(old, new, 1))
    with pytest.raises(ValueError) as error:
        load_glyphs(path, (3, 2))
    assert_names(error, path, glyph, line)
    assert what in str(error.value)


@pytest.mark.parametrize("text, glyph, line", [
    pytest.param(VALID.replace("#.\n\nlabel: b", "label: b", 1), "a", 3, id="too-few-rows-mid-file"),
    pytest.param(VALID.rstrip("\n").rsplit("\n", 1)[0] + "\n", "b", 8, id="too-few-rows-at-end"),
])
def test_too_few_rows_names_file_glyph_and_line(tmp_path, text, glyph, line):
    path = write(tmp_path, text)
    with pytest.raises(ValueError, match="2 rows, expected 3") as error:
        load_glyphs(path, (3, 2))
    assert_names(error, path, glyph, line)


def test_malformed_font_file_is_refused_by_load_font(tmp_path):
    # The real loaders go through the same checks: a font glyph with a 4-pixel row.
    rows = [".#.#."] * 7
    rows[3] = ".#.#"
    path = write(tmp_path, "label: x\n" + "\n".join(rows) + "\n")
    with pytest.raises(ValueError) as error:
        aelib.load_font(path)
    assert_names(error, path, "x", 5)


@pytest.mark.parametrize("text, expected", [
    ("; only comments\n\n", "no glyphs"),
    ("##\nlabel: a\n##\n.#\n#.\n", "before any 'label:'"),
    ("label:\n##\n.#\n#.\n", "empty label"),
])
def test_other_malformed_files_name_the_file(tmp_path, text, expected):
    path = write(tmp_path, text)
    with pytest.raises(ValueError, match=expected) as error:
        load_glyphs(path, (3, 2))
    assert str(path) in str(error.value)
