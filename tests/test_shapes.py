"""The shape of a glyph: connected parts of ink, stray pixels and the well-formedness test that
chapter 3 counts new emojis with."""
import numpy as np
import pytest

import aelib
from aelib.shapes import ink_parts, is_well_formed, stray_pixels


def glyph(*rows):
    """One glyph, drawn with '#' for ink and '.' for blank, as a row of a data matrix."""
    return np.array([[1.0 if c == "#" else 0.0 for c in "".join(rows)]])


RING_WITH_EYES = glyph(
    ".####.",
    "#....#",
    "#.#..#",
    "#....#",
    ".####.",
)


def test_parts_touch_by_sides_and_corners_and_are_numbered_from_the_largest():
    diagonal_and_dot = glyph(
        "#...",
        ".#.#",
        "..#.",
        "....",
    )
    labels = ink_parts(diagonal_and_dot, shape=(4, 4)).reshape(4, 4)
    # The corner-touching staircase is one part of four pixels; nothing else.
    assert set(labels[labels > 0]) == {1} and (labels == 1).sum() == 4
    labels = ink_parts(RING_WITH_EYES, shape=(5, 6)).reshape(5, 6)
    assert (labels == 1).sum() == 14 and labels[2, 2] == 2 and labels.max() == 2


def test_parts_of_equal_size_are_numbered_in_reading_order():
    two_bars = glyph(
        "#..#",
        "#..#",
        "....",
    )
    labels = ink_parts(two_bars, shape=(3, 4)).reshape(3, 4)
    assert labels[0, 0] == 1 and labels[0, 3] == 2


def test_stray_pixels_are_ink_pixels_with_no_ink_around():
    assert stray_pixels(RING_WITH_EYES, shape=(5, 6)).reshape(5, 6)[2, 2]
    assert stray_pixels(RING_WITH_EYES, shape=(5, 6)).sum() == 1
    assert not stray_pixels(np.zeros((1, 144))).any()


def test_every_training_emoji_is_well_formed():
    E, names = aelib.load_emojis()
    assert is_well_formed(E).all()
    # The thresholds are measured on the emojis: the smallest outline and the darkest emoji.
    outlines = (ink_parts(E) == 1).sum(axis=1)
    assert outlines.min() == 32 and E.sum(axis=1).max() == 81 and not stray_pixels(E).any()


def test_speckles_fragments_and_blots_are_not_well_formed():
    E, names = aelib.load_emojis()
    smile = E[names.index("smile")].copy().reshape(12, 12)
    speckled = smile.copy()
    speckled[6, 6] = 1.0  # one stray pixel in the middle of the face
    assert smile[5:8, 5:8].sum() == 0
    note = E[names.index("note")].reshape(12, 12)
    broken = note.copy()
    broken[:, 5:8] = 0.0  # the note cut into fragments
    blot = np.ones((12, 12))
    result = is_well_formed(np.stack([smile, speckled, broken, blot]).reshape(4, 144))
    assert result.tolist() == [True, False, False, False]
    assert is_well_formed(speckled.reshape(1, 144), max_stray=1)[0]


def test_grey_pixels_count_as_ink_above_one_half():
    ring = RING_WITH_EYES.copy() * 0.8
    ring[0, 1] = 0.5  # exactly one half is blank, as everywhere in the book
    assert (ink_parts(ring, shape=(5, 6)) > 0).sum() == 14
    assert stray_pixels(ring, shape=(5, 6)).sum() == 1


@pytest.mark.parametrize("call, message", [
    (lambda: ink_parts(np.zeros((1, 35))), "35"),
    (lambda: ink_parts(np.zeros((1, 35)), shape=(7,)), "shape must be \\(rows, cols\\)"),
    (lambda: ink_parts(np.zeros((1, 35)), shape=(7, 5.0)), "two positive integers"),
    (lambda: stray_pixels(np.zeros(144)), "2-D"),
    (lambda: is_well_formed(np.zeros((1, 144)), max_stray=-1), "max_stray must be an integer >= 0"),
    (lambda: is_well_formed(np.zeros((1, 144)), min_outline=2.5), "min_outline"),
])
def test_bad_arguments_are_named(call, message):
    with pytest.raises(ValueError, match=message):
        call()
