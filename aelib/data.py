"""The datasets: a 5x7 pixel alphabet (and its digits), 12x12 pixel emojis and 8x8 handwritten
digits, stored as readable text.

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

from .validation import as_shape

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
    path = _as_path(path)
    n_rows, n_cols = as_shape(shape)
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


def _as_path(path):
    """A file path given as str or os.PathLike, or a file inside an installed package."""
    if isinstance(path, (str, os.PathLike)):
        return Path(path)
    if not isinstance(path, Traversable):
        raise TypeError(f"path must be a file path (a str or pathlib.Path), got {path!r} ({type(path).__name__})")
    return path


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


def load_font_digits(path=None):
    """The ten digits 0-9 in the style of the 5x7 font, glyphs that a model trained on the letters
    never sees. Returns X: float64 (10, 35) and labels: "0" to "9"."""
    return load_glyphs(dataset_path("font5x7_digits.txt") if path is None else path, FONT_SHAPE)


def load_emojis(path=None):
    """The hand-drawn emojis. Returns E: float64 (n_emojis, 144) and names: list of str."""
    return load_glyphs(dataset_path("emojis12x12.txt") if path is None else path, EMOJI_SHAPE)


# The handwritten digits: 8x8 grey levels 0..16, stored as blocks of "label: d" and 8 rows of 8
# numbers (see data/digits8x8.txt).
DIGIT_SHAPE = (8, 8)
DIGIT_LEVELS = 16


def load_digits(path=None):
    """The 1,797 handwritten digits of the UCI set (Alpaydin and Kaynak, CC BY 4.0), in file order.

    Returns X: float64 (n_digits, 64), grey level / 16 in [0, 1], rows of 8 pixels top to bottom,
    and y: int (n_digits,) labels 0-9. A malformed file raises ``ValueError`` naming the file and line.
    """
    path = _as_path(dataset_path("digits8x8.txt") if path is None else path)
    n_rows, n_cols = DIGIT_SHAPE
    images, labels, rows = [], [], []
    label_line = 0

    def finish():
        if labels and len(rows) != n_rows:
            raise ValueError(f"{path}: digit at line {label_line} has {len(rows)} rows, expected {n_rows}")
        if labels:
            images.append(rows)

    for number, line in enumerate(_read_text(path).splitlines(), start=1):
        text = line.strip()
        if not text or text.startswith(";"):
            continue
        if text.startswith("label:"):
            finish()
            label = text[len("label:"):].strip()
            if label not in tuple("0123456789"):
                raise ValueError(f"{path}: line {number}: label must be one digit 0-9, got {label!r}")
            labels.append(int(label))
            rows, label_line = [], number
            continue
        if not labels:
            raise ValueError(f"{path}: line {number}: pixel row before any 'label:' line")
        if len(rows) == n_rows:
            raise ValueError(f"{path}: line {number}: digit at line {label_line} has more than {n_rows} rows")
        fields = text.split()
        if len(fields) != n_cols or not all(field.isascii() and field.isdigit() and int(field) <= DIGIT_LEVELS for field in fields):
            raise ValueError(f"{path}: line {number}: a row must be {n_cols} grey levels 0-{DIGIT_LEVELS} "
                             f"separated by spaces, got {text!r}")
        rows.append([int(field) for field in fields])
    finish()
    if not images:
        raise ValueError(f"{path}: no digits found")
    X = np.array(images, dtype=np.float64).reshape(len(images), n_rows * n_cols) / DIGIT_LEVELS
    return X, np.array(labels, dtype=np.int64)
