"""Atomic, keyed ``.npz`` cache of prepared arrays: a foreign or corrupt file is reported and rebuilt, never trusted."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import warnings
from pathlib import Path

import numpy as np

from ecg_art.exceptions import EcgArtWarning

__all__ = ["cache_key", "save_arrays", "load_arrays"]

logger = logging.getLogger(__name__)

_KEY_FIELD = "__cache_key__"


def cache_key(payload: dict) -> str:
    """SHA-256 hex digest of a JSON-serialisable ``payload`` (keys sorted), used as cache file name and check."""
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def save_arrays(path: Path, arrays: dict[str, np.ndarray], *, key: str) -> bool:
    """Write ``arrays`` (no object dtypes) plus ``key`` to ``path`` atomically: temp file, fsync, ``os.replace``.

    Returns False (with a warning) instead of raising when the cache folder is not writable.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "a.npz"
    >>> save_arrays(p, {"x": np.arange(3)}, key="k1")
    True
    >>> load_arrays(p, key="k1", required=("x",))["x"]
    array([0, 1, 2])
    """
    for name, arr in arrays.items():
        if np.asarray(arr).dtype == object:
            raise TypeError(f"cache array {name!r} has dtype object; store strings as fixed-width unicode")
    tmp_name = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, **arrays, **{_KEY_FIELD: np.array(key)})
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp_name, path)
        tmp_name = None
        return True
    except OSError as exc:
        warnings.warn(f"could not write cache file {str(path)!r} ({exc}); continuing without cache",
                      EcgArtWarning, stacklevel=3)
        return False
    finally:
        if tmp_name is not None and os.path.exists(tmp_name):
            os.unlink(tmp_name)


def load_arrays(path: Path, *, key: str, required: tuple[str, ...]) -> dict[str, np.ndarray] | None:
    """Load a cache file written by :func:`save_arrays`; None when absent, or (with a warning) corrupt/foreign."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as npz:
            stored = str(npz[_KEY_FIELD]) if _KEY_FIELD in npz.files else None
            if stored != key:
                raise ValueError(f"its key {stored!r} is not the expected {key!r}")
            missing = [name for name in required if name not in npz.files]
            if missing:
                raise ValueError(f"it lacks arrays {missing}")
            return {name: npz[name] for name in npz.files if name != _KEY_FIELD}
    except Exception as exc:  # zip/pickle/format errors all mean "do not trust this file"
        warnings.warn(f"ignoring corrupt or foreign cache file {str(path)!r} ({type(exc).__name__}: {exc}); "
                      f"rebuilding it", EcgArtWarning, stacklevel=3)
        return None
