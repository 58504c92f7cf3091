"""Saving and loading models as ``.npz`` files: a format version, the architecture, the weights.

Files are read with ``allow_pickle=False``, so loading never executes code from the file;
the architecture is stored as JSON text.

Weights are stored in the model's own dtype (float64, or float32 for a model built with
``dtype="float32"``, which the configuration records), so a load gives back the very same bits.
Files written before models had a dtype hold float64 weights and no dtype in their
configuration, and load as float64 models.

A save is atomic: the whole model is first written to a temporary file in the target's folder,
which then replaces the target in one step (``os.replace``). A save that fails, whatever the
reason (a configuration that is not JSON, non-finite weights, a full disk), leaves an existing
file at the target exactly as it was.
"""
import contextlib
import functools
import inspect
import json
import numbers
import os
import tempfile
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
# Deflate, the zip format's compression, expands its data by at most about 1032 times: an entry
# that claims more is forged, and reading it would allocate memory the file cannot fill.
MAX_EXPANSION = 1032


def check_path(path, name="path"):
    """Return ``path`` if it names a file (str or path-like), else raise TypeError.

    An int would be taken by ``open`` as a file descriptor (1 is standard output), and a file
    object cannot be replaced atomically, so both are refused.
    """
    if isinstance(path, (str, os.PathLike)) and not isinstance(os.fspath(path), bytes):
        return path
    raise TypeError(f"{name} must be a file path (a str or pathlib.Path), got {path!r} ({type(path).__name__})")


def plain_json(value, where="config"):
    """``value`` with numpy scalars made Python numbers and tuples made lists, ready for ``json``.

    Raises TypeError naming the entry (e.g. ``config['seed']``) that JSON cannot hold.
    """
    if value is None:
        return None
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        if not np.isfinite(value):
            raise ValueError(f"{where} must be a finite number to be saved, got {value!r}")
        return float(value)
    if isinstance(value, dict):
        return {str(key): plain_json(item, f"{where}[{key!r}]") for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain_json(item, f"{where}[{i}]") for i, item in enumerate(value)]
    raise TypeError(f"{where} cannot be saved as JSON: got {value!r} ({type(value).__name__})")


def save_model(path, kind, config, params):
    """Write ``params`` (list of arrays) and ``config`` (JSON-able dict) for a model of ``kind``.

    Everything is checked and serialized before ``path`` is touched: non-finite weights raise
    ValueError (such a file could never be loaded), and the file is replaced atomically.
    Each array keeps its floating-point dtype (float32 or float64); anything else is stored as float64.
    """
    path = check_path(path)
    config_text = json.dumps(plain_json(config), allow_nan=False)
    arrays = {}
    for i, param in enumerate(params):
        array = np.asarray(param)
        if array.dtype not in (np.float32, np.float64):
            array = array.astype(np.float64)
        if not np.isfinite(array).all():
            raise ValueError(f"refusing to save to {path}: weight array {i} (shape {array.shape}) contains "
                             f"NaN or infinite values; the model diverged, and a file holding them could "
                             f"not be loaded")
        arrays[f"param_{i}"] = array
    folder = os.path.dirname(os.path.abspath(path))
    descriptor, temporary = tempfile.mkstemp(dir=folder, prefix=f".{os.path.basename(path)}.", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "wb") as file:
            np.savez(file, format_version=np.array(FORMAT_VERSION), kind=np.array(kind),
                     config=np.array(config_text), n_params=np.array(len(arrays)), **arrays)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temporary, _file_mode(path))
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


def _file_mode(path):
    # mkstemp creates files readable by their owner only; give the saved file the permissions of
    # the file it replaces, or those of a newly created file.
    try:
        return os.stat(path).st_mode & 0o777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def load_model(path, kind, param_shapes=None):
    """Read a file written by ``save_model``. Returns (config, params) or raises ValueError naming the file.

    param_shapes: a function config -> the list of weight shapes its architecture has (raising
    ValueError for an invalid config). The arrays' headers are compared with them before any
    array is read, so a file whose configuration claims a huge architecture, or whose array
    headers claim more data than the file holds, is refused without allocating that memory.
    """
    path = check_path(path)
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
        headers = [_entry_header(path, archive, f"param_{i}") for i in range(n_params)]
        if param_shapes is not None:
            try:
                expected = [tuple(shape) for shape in param_shapes(config)]
            except (TypeError, ValueError) as error:
                raise ValueError(f"{path}: invalid architecture {config!r}: {error}") from None
            found = [shape for shape, _ in headers]
            if found != expected:
                if len(found) != len(expected):
                    what = f"holds {len(found)} weight arrays, the architecture needs {len(expected)}"
                else:
                    i = next(i for i, (a, b) in enumerate(zip(found, expected)) if a != b)
                    what = f"weight array {i} has shape {found[i]}, the architecture needs {expected[i]}"
                raise ValueError(
                    f"{path}: {what}; its configuration describes "
                    f"{sum(int(np.prod(shape, dtype=object)) for shape in expected):,} weights, the file holds "
                    f"{sum(int(np.prod(shape, dtype=object)) for shape in found):,} (a corrupted or altered file, "
                    "refused before building the model)")
        params = []
        for i in range(n_params):
            array = _read_entry(path, archive, f"param_{i}")
            if array.dtype.kind not in "biuf":
                raise ValueError(f"{path}: weight array {i} holds {array.dtype} values, not numbers")
            params.append(array)
    return config, params


def _entry_header(path, archive, key):
    # The (shape, dtype) an array entry declares, read from its .npy header alone, after checking
    # that the entry holds the bytes they need (numpy would allocate them before reading any).
    name = f"{key}.npy"
    try:
        info = archive.zip.getinfo(name)
        with archive.zip.open(name) as file:
            version = np.lib.format.read_magic(file)
            if version == (1, 0):
                shape, _, dtype = np.lib.format.read_array_header_1_0(file)
            elif version == (2, 0):
                shape, _, dtype = np.lib.format.read_array_header_2_0(file)
            else:
                raise ValueError(f"unsupported .npy format version {version}")
    except KeyError:
        raise ValueError(f"{path}: not a model file of this library, entry {key!r} is missing") from None
    except READ_ERRORS as error:
        raise ValueError(f"{path}: entry {key!r} is unreadable (truncated or corrupted?): {error}") from None
    needed = int(np.prod(shape, dtype=object)) * dtype.itemsize
    if needed > info.file_size or info.file_size > MAX_EXPANSION * max(info.compress_size, 1) \
            or info.compress_size > os.path.getsize(path):
        raise ValueError(f"{path}: entry {key!r} declares an array of shape {shape} ({needed:,} bytes), "
                         f"more than the file holds: a corrupted or altered file")
    return shape, dtype


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
    """Copy ``stored`` arrays into the model's live ``params``, checking count, shapes and dtypes.

    A floating-point array must have its parameter's dtype exactly (a float64 array in a file that
    declares a float32 model would be rounded silently); integers are taken as they are.
    """
    if len(stored) != len(params):
        raise ValueError(f"{path}: holds {len(stored)} weight arrays, the architecture needs {len(params)}")
    for i, (param, array) in enumerate(zip(params, stored)):
        if array.shape != param.shape:
            raise ValueError(f"{path}: weight array {i} has shape {array.shape}, the architecture needs {param.shape}")
        if array.dtype.kind == "f" and array.dtype != param.dtype:
            raise ValueError(f"{path}: weight array {i} holds {array.dtype} values, the model's dtype is {param.dtype}")
        if not np.isfinite(array).all():
            raise ValueError(f"{path}: weight array {i} contains NaN or infinite values")
        param[...] = array


class class_only_method:
    """A classmethod that refuses to be called on an instance, e.g. ``load``, which makes a new model.

    ``model.load(path)`` would return a new model and leave ``model`` as it was, untrained: a
    mistake that shows only much later. Called on an instance, it raises TypeError showing the call.
    """

    def __init__(self, function):
        self.function = function
        functools.update_wrapper(self, function)

    def __get__(self, instance, owner):
        if instance is None:
            return self.function.__get__(owner, type(owner))
        name, cls = self.function.__name__, type(instance).__name__

        @functools.wraps(self.function)
        def refuse(*args, **kwargs):
            raise TypeError(
                f"{name} is called on the class and returns a new model: model = {cls}.{name}(path). "
                f"Called on a model it would leave that model unchanged (its weights are not replaced).")
        return refuse


class SavedModel:
    """``save`` and ``load`` for the models of aelib.

    A model has ``config`` (its constructor's arguments, enough to rebuild it, as a JSON-able
    dict) and ``params`` (its live weight arrays, in a fixed order), and its class a classmethod
    ``_parameter_shapes(config)``: the shapes of ``params`` for that configuration (raising
    ValueError or TypeError for an invalid one), which ``load`` compares with the file before
    building anything.
    """

    def save(self, path):
        """Write architecture and weights to ``path`` (.npz), atomically.

        path: a str or pathlib.Path. The file is replaced in one step once the whole model is
        serialized, so a failed save leaves an existing file intact. Weights that are NaN or
        infinite are refused (ValueError): such a model diverged and could not be loaded back.
        """
        save_model(path, type(self).__name__, self.config, self.params)

    @class_only_method
    def load(cls, path):
        """Read a model written by ``save``: ``model = Autoencoder.load(path)`` (or ``VAE.load``, ...).

        Returns a new model; raises ValueError naming the file if it is not one (or if its
        configuration does not match its weights, checked before the model is built), and
        TypeError when called on a model instead of the class.
        """
        config, stored = load_model(path, cls.__name__, cls._parameter_shapes)
        try:
            model = cls(**config)
        except (TypeError, ValueError) as error:
            raise ValueError(f"{path}: invalid architecture {config!r}: {error}") from None
        copy_params(path, model.params, stored)
        model._loaded()
        return model

    def _loaded(self):
        # Called on a model that load has just filled with its saved weights.
        pass


def bound_config(cls, config):
    """Raise ValueError unless ``config`` holds arguments that ``cls``'s constructor takes."""
    try:
        inspect.signature(cls).bind(**config)
    except TypeError as error:
        raise ValueError(f"{cls.__name__} takes no such arguments: {error}") from None
    return config
