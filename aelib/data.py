"""The datasets: a 5x7 pixel alphabet and 12x12 pixel emojis, stored as readable text.

A glyph file looks like this (see ``data/font5x7.txt``)::

    ; comment
    label: a
    .....
    .###.
    ...

Each glyph becomes one row of a data matrix: its pixels read top to bottom, left to right,
``#`` as 1.0 and ``.`` as 0.0.
"""
import os
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

import numpy as np

# The files of data/ in the repository, installed inside the package as ``aelib.datasets``
# (pyproject.toml maps the folder), so a pip-installed aelib finds them from any folder.
DATASETS = "aelib.datasets"
FONT_SHAPE = (7, 5)
EMOJI_SHAPE = (12, 12)
PIXEL_VALUES = {"#": 1.0, ".": 0.0}


def load_glyphs(path, shape):
    """Read a glyph file. Returns X: float64 (n_glyphs, rows * cols) of 0/1 and labels: list of str.

    shape: (rows, cols) every glyph must have. The file must be UTF-8 (a byte-order mark is
    accepted). A malformed file raises ``ValueError`` naming the file, the glyph and the line.
    """
    if isinstance(path, (str, os.PathLike)):
        path = Path(path)
    elif not isinstance(path, Traversable):  # a file inside an installed package
        raise TypeError(f"path must be a file path (a str or pathlib.Path), got {path!r} ({type(path).__name__})")
    n_rows, n_cols = shape
    glyphs, labels = [], []
    label_lines = {}  # label -> the line that started its glyph
    label, rows, label_line = None, [], 0

    def finish():
        if label is None:
            return
        if len(rows) != n_rows:
            raise ValueError(f"{path}: glyph {label!r} (line {label_line}) has {len(rows)} rows, expected {n_rows}")
        glyphs.append([PIXEL_VALUES[ch] for row in rows for ch in row])
        labels.append(label)

    lines = _read_text(path).splitlines()
    for number, line in enumerate(lines, start=1):
        text = line.strip()
        if not text or text.startswith(";"):
            continue
        if text.startswith("label:"):
            finish()
            label, rows, label_line = text[len("label:"):].strip(), [], number
            if not label:
                raise ValueError(f"{path}: line {number}: empty label")
            if label in label_lines:
                raise ValueError(f"{path}: glyph {label!r}, line {number}: duplicate label "
                                 f"(already used at line {label_lines[label]}); labels must be unique")
            label_lines[label] = number
            continue
        where = f"{path}: glyph {label!r}, line {number}"
        if label is None:
            raise ValueError(f"{path}: line {number}: pixel row before any 'label:' line")
        unknown = sorted(set(text) - set(PIXEL_VALUES))
        if unknown:
            raise ValueError(f"{where}: unknown character(s) {''.join(unknown)!r}; use '#' for ink and '.' for blank")
        if len(text) != n_cols:
            raise ValueError(f"{where}: row {text!r} has {len(text)} pixels, expected {n_cols}")
        if len(rows) == n_rows:
            raise ValueError(f"{where}: more than {n_rows} rows")
        rows.append(text)
    finish()
    if not glyphs:
        raise ValueError(f"{path}: no glyphs found")
    return np.array(glyphs, dtype=np.float64), labels


def _read_text(path):
    # Glyph files are UTF-8 (labels such as ñ are not ASCII); a byte-order mark, which some
    # editors write at the start, is accepted. Anything else gets an error naming the file.
    data = path.read_bytes()
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ValueError(f"{path}: the file is encoded as UTF-16; save it as UTF-8")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[:error.start].count(b"\n") + 1
        raise ValueError(f"{path}: line {line}: byte {data[error.start]:#04x} is not UTF-8 (a Latin-1 or "
                         "Windows-1252 file?); save the file as UTF-8") from None


def dataset_path(name):
    """The path of one of the book's dataset files, wherever aelib is installed."""
    return resources.files(DATASETS).joinpath(name)


def load_font(path=None):
    """The 27 letters a-z and ñ. Returns X: float64 (27, 35) and labels: 27 one-character strings."""
    return load_glyphs(dataset_path("font5x7.txt") if path is None else path, FONT_SHAPE)


def load_emojis(path=None):
    """The hand-drawn emojis. Returns E: float64 (n_emojis, 144) and names: list of str."""
    return load_glyphs(dataset_path("emojis12x12.txt") if path is None else path, EMOJI_SHAPE)
