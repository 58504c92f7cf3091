"""Saving and loading models as ``.npz`` files: a format version, the architecture, the weights.

Files are read with ``allow_pickle=False``, so loading never executes code from the file;
the architecture is stored as JSON text.
"""
import json
import zipfile

import numpy as np

FORMAT_VERSION = 1


def save_model(path, kind, config, params):
    """Write ``params`` (list of arrays) and ``config`` (JSON-able dict) for a model of ``kind``."""
    arrays = {f"param_{i}": param for i, param in enumerate(params)}
    with open(path, "wb") as file:
        np.savez(file, format_version=np.array(FORMAT_VERSION), kind=np.array(kind),
                 config=np.array(json.dumps(config)), n_params=np.array(len(params)), **arrays)


def load_model(path, kind):
    """Read a file written by ``save_model``. Returns (config, params) or raises ValueError naming the file."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            version = int(archive["format_version"])
            if version != FORMAT_VERSION:
                raise ValueError(f"{path}: format version {version} is not supported (expected {FORMAT_VERSION})")
            stored_kind = str(archive["kind"])
            if stored_kind != kind:
                raise ValueError(f"{path}: holds a {stored_kind}, not a {kind}")
            config = json.loads(str(archive["config"]))
            params = [np.array(archive[f"param_{i}"], dtype=np.float64) for i in range(int(archive["n_params"]))]
    except FileNotFoundError:
        raise
    except (zipfile.BadZipFile, EOFError, OSError) as error:
        raise ValueError(f"{path}: not a readable model file (truncated or corrupted?): {error}") from None
    except KeyError as error:
        raise ValueError(f"{path}: not a model file of this library, entry {error} is missing") from None
    except (TypeError, json.JSONDecodeError) as error:
        raise ValueError(f"{path}: corrupted model description: {error}") from None
    return config, params


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
