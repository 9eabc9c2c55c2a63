"""Validation of beat batches and labels at the public entry points (predict, attack, evaluate, fit)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ecg_art.exceptions import ConfigError

__all__ = ["check_beats"]


def check_beats(
    x: Any,
    y: Any = None,
    *,
    classifier: Any = None,
    name: str = "x",
    y_name: str = "y",
    error: type[Exception] = ConfigError,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Check a beat batch ``x`` (and labels ``y``) before it reaches a model; raise ``error`` naming the argument.

    ``x`` must be a non-empty-shaped numeric array ``(n, *input_shape)`` (``classifier.input_shape`` when a classifier
    is given, else at least 2-D) holding only finite values. ``y``, when given, must hold one label per beat: integer
    class indices ``(n,)`` in ``[0, classifier.nb_classes)``, or one-hot / probability rows ``(n, nb_classes)``.

    Parameters
    ----------
    x : array-like
        Beats, e.g. ``(n, 1, L)``.
    y : array-like, optional
        Labels of ``x``.
    classifier : object, optional
        Anything with ``input_shape`` and ``nb_classes`` (an ART classifier).
    name, y_name : str
        Argument names used in messages.
    error : type
        Exception class raised (``ConfigError`` by default; attacks pass ``AttackError``).

    Returns
    -------
    (numpy.ndarray, numpy.ndarray or None)
        ``x`` as an array (not copied when it already is one) and ``y`` as an array (or None).

    Examples
    --------
    >>> x, y = check_beats(np.zeros((2, 1, 8), np.float32), [0, 1])
    >>> y.tolist()
    [0, 1]
    >>> check_beats(np.full((1, 1, 8), np.nan))
    Traceback (most recent call last):
    ...
    ecg_art.exceptions.ConfigError: `x` holds 8 NaN/inf values (first in beat 0); beats must be finite
    """
    x = np.asarray(x)
    if x.dtype.kind not in "fiub":
        raise error(f"`{name}` must be a numeric array of beats, got dtype {x.dtype}")
    shape = tuple(int(s) for s in getattr(classifier, "input_shape", ()) or ())
    if shape and x.shape[1:] != shape:
        raise error(f"`{name}` must have shape (n, {', '.join(map(str, shape))}) to fit the classifier's input_shape, "
                    f"got {x.shape}")
    if x.ndim < 2:
        raise error(f"`{name}` must be a batch of beats (n, 1, L), got shape {x.shape}")
    if x.dtype.kind == "f":
        bad = ~np.isfinite(x)
        if bad.any():
            first = int(np.flatnonzero(bad.reshape(len(x), -1).any(axis=1))[0])
            raise error(f"`{name}` holds {int(bad.sum())} NaN/inf values (first in beat {first}); beats must be finite")
    if y is None:
        return x, None
    y = np.asarray(y)
    nb_classes = getattr(classifier, "nb_classes", None)
    if y.ndim not in (1, 2) or len(y) != len(x):
        raise error(f"`{y_name}` must hold one label per beat of `{name}`: expected {len(x)} labels, got shape "
                    f"{y.shape}")
    if y.dtype.kind not in "fiub" or (y.size and not np.all(np.isfinite(y))):
        raise error(f"`{y_name}` must hold finite numeric labels, got dtype {y.dtype}")
    if y.ndim == 2:
        if nb_classes is not None and y.shape[1] != nb_classes:
            raise error(f"`{y_name}` one-hot rows must have {nb_classes} columns, got shape {y.shape}")
        return x, y
    if y.size and not np.all(np.equal(np.mod(y, 1), 0)):
        raise error(f"`{y_name}` must hold integer class indices, got values such as {y[np.mod(y, 1) != 0][0]!r}")
    if y.size and (y.min() < 0 or (nb_classes is not None and y.max() >= nb_classes)):
        limit = f"[0, {nb_classes})" if nb_classes is not None else ">= 0"
        raise error(f"`{y_name}` labels must be in {limit}, got range [{y.min()}, {y.max()}]")
    return x, y
