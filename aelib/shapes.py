"""The shape of a black-and-white glyph: its connected parts of ink, its stray pixels, and whether
a generated glyph is well formed.

A decoder rounded at 0.5 can draw a picture far from every training glyph that is no glyph at
all: a speckle of fragments. ``is_well_formed`` is the test the VAE chapter counts new emojis
with, measured on the pixels alone:

- **no stray pixel**: every ink pixel touches another ink pixel, by a side or a corner (none of
  the 32 training emojis has a stray pixel);
- **one outline**: the largest connected part of the ink has at least ``min_outline`` pixels (the
  smallest among the training emojis, a face's circle, has 32);
- **not a blot**: at most ``max_ink`` ink pixels (the darkest training emoji, the heart, has 81).

Two ink pixels are connected when they touch by a side or a corner (the 8 neighbours of a
pixel), as the diagonal strokes of a drawn circle do. Plain numpy, no model knowledge.
"""
import numpy as np

from .data import EMOJI_SHAPE
from .validation import as_data_matrix

INK_THRESHOLD = 0.5  # a pixel is ink when its value is above this, as everywhere in the book


def _grids(X, shape, name="X"):
    """X as boolean ink grids (n_samples, rows, cols), after checking X and shape."""
    if (not isinstance(shape, (tuple, list)) or len(shape) != 2
            or not all(isinstance(size, (int, np.integer)) and size > 0 for size in shape)):
        raise ValueError(f"shape must be (rows, cols), two positive integers, got {shape!r}")
    rows, cols = shape
    X = as_data_matrix(X, name, rows * cols)
    return (X > INK_THRESHOLD).reshape(len(X), rows, cols)


def _neighbourhood_max(labels):
    # The largest label among each pixel and its 8 neighbours (0 outside the grid).
    padded = np.pad(labels, ((0, 0), (1, 1), (1, 1)))
    rows, cols = labels.shape[1:]
    return np.max([padded[:, 1 + dy:1 + dy + rows, 1 + dx:1 + dx + cols]
                   for dy in (-1, 0, 1) for dx in (-1, 0, 1)], axis=0)


def ink_parts(X, shape=EMOJI_SHAPE):
    """Label the connected parts of the ink of every glyph.

    X: (n_samples, rows * cols), ink where a value is above 0.5; shape: (rows, cols).
    Returns labels: int (n_samples, rows * cols), 0 on blank pixels and 1, 2, ... on the ink,
    one number per connected part (8 neighbours), numbered from the largest part down (parts of
    equal size in reading order of their first pixel).
    """
    ink = _grids(X, shape)
    n_samples, rows, cols = ink.shape
    # Every ink pixel starts with its own number and takes the largest number around it until
    # nothing changes: then each part carries the number of one of its pixels.
    labels = np.where(ink, np.arange(1, rows * cols + 1).reshape(rows, cols), 0)
    while True:
        spread = np.where(ink, _neighbourhood_max(labels), 0)
        if np.array_equal(spread, labels):
            break
        labels = spread
    labels = labels.reshape(n_samples, -1)
    numbered = np.zeros_like(labels)
    for sample, row in enumerate(labels):
        parts, first, sizes = np.unique(row[row > 0], return_index=True, return_counts=True)
        order = np.lexsort((first, -sizes))  # largest first, then reading order
        for number, part in enumerate(parts[order], start=1):
            numbered[sample, row == part] = number
    return numbered


def stray_pixels(X, shape=EMOJI_SHAPE):
    """Ink pixels that touch no other ink pixel (none of their 8 neighbours is ink).

    X: (n_samples, rows * cols); shape: (rows, cols). Returns a boolean (n_samples, rows * cols).
    """
    ink = _grids(X, shape)
    padded = np.pad(ink, ((0, 0), (1, 1), (1, 1))).astype(np.int64)
    rows, cols = ink.shape[1:]
    neighbours = sum(padded[:, 1 + dy:1 + dy + rows, 1 + dx:1 + dx + cols]
                     for dy in (-1, 0, 1) for dx in (-1, 0, 1) if (dy, dx) != (0, 0))
    return (ink & (neighbours == 0)).reshape(len(ink), -1)


def is_well_formed(X, shape=EMOJI_SHAPE, max_stray=0, min_outline=30, max_ink=100):
    """Whether each glyph is well formed: no more than ``max_stray`` stray pixels, a largest
    connected part (the outline) of at least ``min_outline`` pixels, and at most ``max_ink``
    ink pixels.

    X: (n_samples, rows * cols), ink where a value is above 0.5; shape: (rows, cols). The
    defaults fit the 12 x 12 emojis, every one of which passes (see the module's docstring).
    Returns a boolean (n_samples,).
    """
    for value, name in ((max_stray, "max_stray"), (min_outline, "min_outline"), (max_ink, "max_ink")):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
            raise ValueError(f"{name} must be an integer >= 0, got {value!r}")
    labels = ink_parts(X, shape)
    outline = (labels == 1).sum(axis=1)
    return ((stray_pixels(X, shape).sum(axis=1) <= max_stray) & (outline >= min_outline)
            & ((labels > 0).sum(axis=1) <= max_ink))
