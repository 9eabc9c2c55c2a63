"""The :class:`BeatDataset` container: beat windows, AAMI labels and per-beat metadata (record, lead, RR)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

from ecg_art.data.constants import AAMI_CLASSES
from ecg_art.exceptions import ConfigError

__all__ = ["BeatDataset", "ARRAY_FIELDS"]

#: Per-beat array fields of a BeatDataset, in storage order.
ARRAY_FIELDS = ("x", "y", "record", "sample", "symbol", "lead", "rr_prev", "rr_next", "rr_local")
_DTYPES = {"x": np.float32, "y": np.int64, "sample": np.int64, "rr_prev": np.float32, "rr_next": np.float32,
           "rr_local": np.float32, "record": str, "symbol": str, "lead": str}


@dataclass(eq=False)
class BeatDataset:
    """Heartbeat windows with AAMI labels and metadata, one row per beat.

    Attributes
    ----------
    x : float32 ndarray, shape (n, 1, window)
        Beat windows (normalised per :attr:`BeatConfig.normalize`; ``[0, 1]`` for the default ``"minmax"``).
    y : int64 ndarray, shape (n,)
        AAMI class indices into ``AAMI_CLASSES``.
    record, symbol, lead : str ndarrays, shape (n,)
        Source record, original annotation symbol, and the lead the window was cut from.
    sample : int64 ndarray, shape (n,)
        R-peak sample index at the target sampling rate ``fs``.
    rr_prev, rr_next : float32 ndarrays, shape (n,)
        Seconds to the previous / next annotated beat of the record (NaN at the record start / end).
    rr_local : float32 ndarray, shape (n,)
        Mean of the previous up-to-10 RR intervals in seconds (NaN for a record's first beat).
    r_index : int
        Position of the R peak inside each window (``BeatConfig.r_offset``).
    fs : float
        Sampling rate of the windows in Hz.
    config : BeatConfig or None
        The configuration that produced the dataset.

    Examples
    --------
    >>> ds = load_beats("/data/mitdb", BeatConfig(records=("100",)))  # doctest: +SKIP
    >>> ds.x.shape, ds.class_counts()["N"]  # doctest: +SKIP
    ((2272, 1, 256), 2238)
    """

    x: np.ndarray
    y: np.ndarray
    record: np.ndarray
    sample: np.ndarray
    symbol: np.ndarray
    lead: np.ndarray
    rr_prev: np.ndarray
    rr_next: np.ndarray
    rr_local: np.ndarray
    r_index: int
    fs: float
    config: Any = field(default=None)

    def __post_init__(self) -> None:
        for name in ARRAY_FIELDS:
            setattr(self, name, np.asarray(getattr(self, name), dtype=_DTYPES[name]))
        n = len(self.y)
        if self.x.ndim != 3 or self.x.shape[1] != 1:
            raise ConfigError(f"BeatDataset `x` must have shape (n, 1, window), got {self.x.shape}")
        bad = {name: len(getattr(self, name)) for name in ARRAY_FIELDS if len(getattr(self, name)) != n}
        if bad:
            raise ConfigError(f"BeatDataset arrays must all have length len(y)={n}; got {bad}")
        if n and (self.y.min() < 0 or self.y.max() >= len(AAMI_CLASSES)):
            raise ConfigError(f"BeatDataset `y` must hold AAMI class indices in [0, {len(AAMI_CLASSES)}), got range "
                              f"[{self.y.min()}, {self.y.max()}]")
        if not np.isfinite(self.x).all():
            raise ConfigError("BeatDataset `x` holds NaN/inf samples")

    def __len__(self) -> int:
        return int(len(self.y))

    def subset(self, idx) -> "BeatDataset":
        """A new dataset holding the beats at ``idx`` (integer indices or a boolean mask), arrays copied."""
        idx = np.asarray(idx)
        if idx.dtype != bool:
            idx = idx.astype(np.int64, copy=False)
        parts = {name: getattr(self, name)[idx] for name in ARRAY_FIELDS}
        kept = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in ARRAY_FIELDS}
        return BeatDataset(**parts, **kept)

    def class_counts(self) -> dict[str, int]:
        """Number of beats per AAMI class, every class listed (zero if absent)."""
        counts = np.bincount(self.y, minlength=len(AAMI_CLASSES))
        return {c: int(n) for c, n in zip(AAMI_CLASSES, counts)}

    def records(self) -> list[str]:
        """Sorted names of the records present."""
        return sorted(set(self.record.tolist()))

    def fingerprint(self) -> str:
        """Short SHA-256 (16 hex digits) of the windows, labels, records and sample positions (MLflow data hash)."""
        h = hashlib.sha256()
        for name in ("x", "y", "sample"):
            arr = np.ascontiguousarray(getattr(self, name))
            h.update(f"{name}{arr.dtype.str}{arr.shape}".encode())
            h.update(arr.tobytes())
        h.update("\0".join(self.record.tolist()).encode())
        h.update(f"{self.r_index}|{self.fs}".encode())
        return h.hexdigest()[:16]
