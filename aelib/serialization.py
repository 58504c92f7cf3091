"""Saving and loading models as ``.npz`` files: a format version, the architecture, the weights.

Files are read with ``allow_pickle=False``, so loading never executes code from the file;
the architecture is stored as JSON text.
"""
import json
import zipfile
import zlib

import numpy as np

FORMAT_VERSION = 1
# The entries every model file holds, besides its weight arrays param_0, param_1, ...
MODEL_ENTRIES = ("format_version", "kind", "config", "n_params")
# An .npz file is a zip archive, which starts with the header of its first entry.
ZIP_SIGNATURE = b"PK\x03\x04"
# What reading a damaged or foreign archive can raise: ValueError includes a bad .npy header
# and an object array (never unpickled); zipfile raises RuntimeError for an encrypted entry and
# NotImplementedError for an unknown compression.
READ_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, RuntimeError,
               NotImplementedError)


def save_model(path, kind, config, params):
    """Write ``params`` (list of arrays) and ``config`` (JSON-able dict) for a model of ``kind``."""
    arrays = {f"param_{i}": param for i, param in enumerate(params)}
    with open(path, "wb") as file:
        np.savez(file, format_version=np.array(FORMAT_VERSION), kind=np.array(kind),
                 config=np.array(json.dumps(config)), n_params=np.array(len(params)), **arrays)


def load_model(path, kind):
    """Read a file written by ``save_model``. Returns (config, params) or raises ValueError naming the file."""
    with open(path, "rb") as file:
        signature = file.read(len(ZIP_SIGNATURE))
    # Checked before numpy sees the file: np.load would try to unpickle anything that is
    # neither a zip archive nor a .npy array.
    if signature != ZIP_SIGNATURE:
        found = "an empty file" if not signature else f"a file starting with {signature!r}"
        raise ValueError(f"{path}: not a model file: expected a .npz (zip) archive, found {found}")
    try:
        archive = np.load(path, allow_pickle=False)
    except READ_ERRORS as error:
        raise ValueError(f"{path}: not a readable model file (truncated or corrupted?): {error}") from None
    with archive:
        missing = [key for key in MODEL_ENTRIES if key not in archive.files]
        if missing:
            raise ValueError(f"{path}: not a model file of this library, entries {missing} are missing")
        version = _read_entry(path, archive, "format_version")
        stored_kind = _read_entry(path, archive, "kind")
        config_text = _read_entry(path, archive, "config")
        n_params = _read_entry(path, archive, "n_params")
        try:
            version, stored_kind, n_params = int(version), str(stored_kind), int(n_params)
            config = json.loads(str(config_text))
        except (TypeError, ValueError) as error:
            raise ValueError(f"{path}: corrupted model description: {error}") from None
        if version != FORMAT_VERSION:
            raise ValueError(f"{path}: format version {version} is not supported (expected {FORMAT_VERSION})")
        if stored_kind != kind:
            raise ValueError(f"{path}: holds a model of kind {stored_kind!r}, not {kind!r}")
        if not isinstance(config, dict):
            raise ValueError(f"{path}: corrupted model description: expected a JSON object, got {config!r}")
        params = []
        for i in range(n_params):
            array = _read_entry(path, archive, f"param_{i}")
            if array.dtype.kind not in "biuf":
                raise ValueError(f"{path}: weight array {i} holds {array.dtype} values, not numbers")
            params.append(array.astype(np.float64))
    return config, params


def _read_entry(path, archive, key):
    # One array of an open archive, with errors that name the file and the entry.
    try:
        return archive[key]
    except KeyError:
        raise ValueError(f"{path}: not a model file of this library, entry {key!r} is missing") from None
    except READ_ERRORS as error:
        raise ValueError(f"{path}: entry {key!r} is unreadable (corrupted, or holding Python objects, "
                         f"which are never unpickled): {error}") from None


def copy_params(path, params, stored):
    """Copy ``stored`` arrays into the model's live ``params``, checking count and shapes."""
    if len(stored) != len(params):
        raise ValueError(f"{path}: holds {len(stored)} weight arrays, the architecture needs {len(params)}")
    for i, (param, array) in enumerate(zip(params, stored)):
        if array.shape != param.shape:
            raise ValueError(f"{path}: weight array {i} has shape {array.shape}, the architecture needs {param.shape}")
        if not np.isfinite(array).all():
            raise ValueError(f"{path}: weight array {i} contains NaN or infinite values")
        param[...] = array
