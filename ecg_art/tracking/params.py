"""Turning configs and results into MLflow-safe params (flat dotted keys, strings <= 500 chars) and metrics."""

from __future__ import annotations

import dataclasses
import enum
import json
import logging
import math
import posixpath
import re
from collections.abc import Mapping
from pathlib import PurePath

from ecg_art.exceptions import ConfigError

__all__ = ["flatten_params", "check_key", "to_metrics", "MAX_PARAM_LENGTH", "BOOKKEEPING"]

logger = logging.getLogger(__name__)

#: Config fields of a run that do not change what it computes (where it runs, where it logs, whether it resumes): left
#: out of the recipes' results-folder hash, of a grid cell's key, and of what makes runs one setting in `compare`.
BOOKKEEPING = ("resume", "tracking_uri", "experiment", "threads", "device", "output_dir", "log_model", "cache_dir")

MAX_PARAM_LENGTH = 500  # MLflow < 2.x servers cap param values at 500 chars; newer ones at 6000
MAX_KEY_LENGTH = 250
_KEY_RE = re.compile(r"^[/\w.\- :]+$")


def check_key(key: str, *, kind: str = "param") -> str:
    """Return ``key`` if MLflow accepts it as a param/metric/tag name, else raise :class:`ConfigError`."""
    if not isinstance(key, str) or not _KEY_RE.match(key) or len(key) > MAX_KEY_LENGTH:
        raise ConfigError(
            f"{kind} name {key!r} is invalid: use 1 to {MAX_KEY_LENGTH} letters, digits, '_', '-', '.', ' ', ':', '/'"
        )
    norm = posixpath.normpath(key)
    if kind != "tag" and (norm != key or norm == "." or norm.startswith(("..", "/"))):
        raise ConfigError(f"{kind} name {key!r} is invalid: as a path it must not resolve elsewhere ({norm!r})")
    return key


def _leaf(value) -> str:
    if isinstance(value, enum.Enum):
        value = value.value
    if isinstance(value, PurePath):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, (list, tuple, set, frozenset)):
        try:
            return json.dumps(list(value) if not isinstance(value, (set, frozenset)) else sorted(value, key=str))
        except (TypeError, ValueError):
            return str(value)
    return str(value)


def _children(obj):
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}
    if isinstance(obj, Mapping):
        return obj
    return None


def flatten_params(params, *, prefix: str = "") -> dict[str, str]:
    """Flatten nested dicts / dataclasses to ``{"a.b.c": "value"}`` with every value stringified.

    Examples
    --------
    >>> from dataclasses import dataclass
    >>> @dataclass
    ... class Attack:
    ...     name: str = "pgd"
    ...     eps: float = 0.02
    >>> flatten_params({"attack": Attack(), "seeds": [0, 1], "lr": 1e-3})
    {'attack.name': 'pgd', 'attack.eps': '0.02', 'seeds': '[0, 1]', 'lr': '0.001'}
    """
    children = _children(params)
    if children is None:
        raise ConfigError(f"`params` must be a dict or a dataclass instance, got {type(params).__name__}")
    out: dict[str, str] = {}
    for key, value in children.items():
        name = f"{prefix}{key}"
        nested = _children(value)
        if nested is not None and len(nested):
            out.update(flatten_params(value, prefix=f"{name}."))
        else:
            out[name] = "{}" if nested is not None else _leaf(value)
    return out


def to_metrics(metrics) -> dict[str, float]:
    """Validate ``metrics`` (a mapping of names to numbers) as ``{name: float}``; NaNs are dropped with a debug log."""
    if not isinstance(metrics, Mapping):
        raise ConfigError(f"`metrics` must be a mapping of names to numbers, got {type(metrics).__name__}")
    out = {}
    for key, value in metrics.items():
        check_key(key, kind="metric")
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"metric {key!r} must be a number, got {type(value).__name__} {value!r}") from None
        if math.isnan(number):
            logger.debug("metric %r is NaN: not logged", key)
            continue
        out[key] = number
    return out
