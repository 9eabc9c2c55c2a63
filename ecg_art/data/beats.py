"""Cut MIT-BIH heartbeats into fixed windows around annotated R peaks (:func:`load_beats`), with a keyed cache."""

from __future__ import annotations

import json
import logging
import os
import warnings
from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from ecg_art.data.cache import cache_key, load_arrays, save_arrays
from ecg_art.data.constants import MITDB_FS, MITDB_RECORDS, check_records
from ecg_art.data.dataset import ARRAY_FIELDS, BeatDataset
from ecg_art.data.paths import HOW_TO_GET_DATA, RECORD_EXTENSIONS, missing_records, resolve_cache_dir
from ecg_art.data.records import (CHECKSUM_FILE, check_data_dir, read_beats, read_checksums, read_lead,
                                  verify_records)
from ecg_art.exceptions import ConfigError, DataError, DataNotFoundError, EcgArtWarning, RecordError

__all__ = ["BeatConfig", "load_beats", "MISSING_LEAD_POLICIES", "NORMALIZATIONS"]

logger = logging.getLogger(__name__)

MISSING_LEAD_POLICIES = ("fallback", "skip", "error")
NORMALIZATIONS = ("minmax", "zscore", "none")
CACHE_VERSION = 1
RR_LOCAL_BEATS = 10


@dataclass(frozen=True)
class BeatConfig:
    """How beats are cut from the records.

    Parameters
    ----------
    window : int
        Window length in samples at the target rate ``fs``.
    r_offset : int
        Samples before the R peak inside the window (the R peak sits at index ``r_offset``).
    fs : float
        Target sampling rate in Hz; the record is resampled (``scipy.signal.resample_poly``) when it differs from
        the native rate (360 Hz for MIT-BIH).
    lead : str
        Signal name to cut beats from (``"MLII"``: channel 0 in most records, channel 1 in record 114).
    missing_lead : {"fallback", "skip", "error"}
        Records without ``lead`` (102 and 104 have no MLII): use their first channel (V5) with a warning, drop them
        with a warning, or raise :class:`RecordError`.
    normalize : {"minmax", "zscore", "none"}
        Per-window scaling. ``"minmax"`` maps each window to ``[0, 1]``: that is the unit attack ``eps`` is expressed
        in. ``"zscore"`` gives zero mean and unit variance; ``"none"`` keeps millivolts. Flat windows map to 0.
    records : tuple of str, optional
        MIT-BIH record names to load; None loads all 48.
    norm_span : tuple of int, optional
        ``(start, stop)`` inside the window whose min-max (or mean/std) defines the scaling of the whole window: a
        long rhythm context scaled in the unit of its own beat window (``(r_offset - 90, r_offset + 166)``), so that
        an ``eps`` means the same amplitude as for the beat-only models. None: the whole window.
    clip : tuple of float, optional
        ``(lo, hi)`` the scaled windows are clipped to (the model's ``clip_values`` when ``norm_span`` lets the
        context leave ``[0, 1]``).

    Examples
    --------
    >>> BeatConfig(window=128, r_offset=45, records=("100", "101")).records
    ('100', '101')
    """

    window: int = 256
    r_offset: int = 90
    fs: float = 360
    lead: str = "MLII"
    missing_lead: str = "fallback"
    normalize: str = "minmax"
    records: tuple[str, ...] | None = None
    norm_span: tuple[int, int] | None = None
    clip: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        def bad(name: str, why: str):
            return ConfigError(f"BeatConfig `{name}` {why}, got {getattr(self, name)!r}")

        if isinstance(self.window, bool) or not isinstance(self.window, (int, np.integer)) or self.window < 2:
            raise bad("window", "must be an integer >= 2")
        if isinstance(self.r_offset, bool) or not isinstance(self.r_offset, (int, np.integer)) \
                or not 0 <= self.r_offset < self.window:
            raise bad("r_offset", f"must be an integer in [0, window={self.window})")
        if isinstance(self.fs, bool) or not isinstance(self.fs, (int, float, np.number)) \
                or not np.isfinite(self.fs) or self.fs <= 0:
            raise bad("fs", "must be a positive finite sampling rate in Hz")
        if not isinstance(self.lead, str) or not self.lead.strip():
            raise bad("lead", "must be a non-empty signal name such as 'MLII'")
        if self.missing_lead not in MISSING_LEAD_POLICIES:
            raise bad("missing_lead", f"must be one of {MISSING_LEAD_POLICIES}")
        if self.normalize not in NORMALIZATIONS:
            raise bad("normalize", f"must be one of {NORMALIZATIONS}")
        if self.norm_span is not None:
            span = tuple(int(v) for v in self.norm_span)
            if len(span) != 2 or not 0 <= span[0] < span[1] <= self.window:
                raise bad("norm_span", f"must be (start, stop) with 0 <= start < stop <= window={self.window}")
            object.__setattr__(self, "norm_span", span)
        if self.clip is not None:
            clip = tuple(float(v) for v in self.clip)
            if len(clip) != 2 or not clip[0] < clip[1]:
                raise bad("clip", "must be (lo, hi) with lo < hi")
            object.__setattr__(self, "clip", clip)
        if self.records is not None:
            recs = check_records(self.records, name="BeatConfig.records")
            object.__setattr__(self, "records", recs)

    @property
    def record_list(self) -> tuple[str, ...]:
        """The records to load (all 48 when ``records`` is None)."""
        return self.records if self.records is not None else MITDB_RECORDS

    def to_dict(self) -> dict:
        """JSON-friendly dict of every field (``records`` resolved to the actual list)."""
        d = asdict(self)
        for name in ("norm_span", "clip"):  # absent when unset: the cache keys of plain beat windows stay as they were
            if d[name] is None:
                del d[name]
        d["records"] = list(self.record_list)
        d["fs"] = float(self.fs)
        return d


def _normalize(w: np.ndarray, how: str, span: tuple[int, int] | None = None) -> np.ndarray:
    ref = w if span is None else w[:, span[0]:span[1]]
    if how == "minmax":
        lo, hi = ref.min(axis=1, keepdims=True), ref.max(axis=1, keepdims=True)
        rng = hi - lo
        return np.divide(w - lo, rng, out=np.zeros_like(w), where=rng > 0)
    if how == "zscore":
        mu, sd = ref.mean(axis=1, keepdims=True), ref.std(axis=1, keepdims=True)
        return np.divide(w - mu, sd, out=np.zeros_like(w), where=sd > 0)
    return w


def _rr_features(samples: np.ndarray, fs: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n = len(samples)
    rr = np.diff(samples.astype(np.float64)) / fs
    nan = np.array([np.nan])
    rr_prev = np.concatenate([nan, rr])[:n]
    rr_next = np.concatenate([rr, nan])[:n]
    csum = np.concatenate([[0.0], np.cumsum(rr)])
    k = np.arange(n)
    lo = np.maximum(k - RR_LOCAL_BEATS, 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        rr_local = (csum[k] - csum[lo]) / (k - lo)
    rr_local[0:1] = np.nan
    return rr_prev, rr_next, rr_local


def _extract(record: str, path: Path, cfg: BeatConfig, native_fs: float, channel: int, lead: str):
    """Windows and metadata of one record; returns (arrays dict, beats lost at edges, beats lost to NaNs)."""
    sig = read_lead(record, path, channel)
    samples, symbols, labels = read_beats(record, path)
    rr_prev, rr_next, rr_local = _rr_features(samples, native_fs)
    pos = samples
    if not np.isclose(cfg.fs, native_fs):
        from scipy.signal import resample_poly

        ratio = Fraction(float(cfg.fs) / native_fs).limit_denominator(1000)
        sig = resample_poly(sig, ratio.numerator, ratio.denominator)
        pos = np.round(samples * (float(cfg.fs) / native_fs)).astype(np.int64)
    start = pos - cfg.r_offset
    inside = (start >= 0) & (start + cfg.window <= len(sig))
    windows = sig[start[inside, None] + np.arange(cfg.window)]
    finite = np.isfinite(windows).all(axis=1)
    keep = np.flatnonzero(inside)[finite]
    x = _normalize(windows[finite], cfg.normalize, cfg.norm_span).astype(np.float32)[:, None, :]
    if cfg.clip is not None:
        np.clip(x, cfg.clip[0], cfg.clip[1], out=x)
    n = len(keep)
    arrays = {"x": x, "y": labels[keep], "record": np.full(n, record), "sample": pos[keep],
              "symbol": symbols[keep], "lead": np.full(n, lead), "rr_prev": rr_prev[keep],
              "rr_next": rr_next[keep], "rr_local": rr_local[keep]}
    return arrays, int((~inside).sum()), int((~finite).sum())


def _choose_leads(infos, cfg: BeatConfig) -> list[tuple[str, int, str]]:
    """(record, channel, lead name) per record, applying ``cfg.missing_lead`` to records without ``cfg.lead``."""
    chosen, lacking = [], []
    for info in infos:
        if cfg.lead in info.sig_name:
            chosen.append((info.name, info.sig_name.index(cfg.lead), cfg.lead))
            continue
        lacking.append(f"{info.name} ({'/'.join(info.sig_name)})")
        if cfg.missing_lead == "fallback":
            chosen.append((info.name, 0, info.sig_name[0]))
    if lacking and cfg.missing_lead == "error":
        raise RecordError(f"records {', '.join(lacking)} have no {cfg.lead} lead; pass "
                          f"BeatConfig(missing_lead='fallback') or 'skip', or leave them out of `records`")
    if lacking:
        action = "using their first channel" if cfg.missing_lead == "fallback" else "skipping them"
        warnings.warn(f"records {', '.join(lacking)} have no {cfg.lead} lead; {action} "
                      f"(missing_lead={cfg.missing_lead!r})", EcgArtWarning, stacklevel=3)
    if not chosen:
        raise DataError(f"no record left to load: none of {[i.name for i in infos]} has lead {cfg.lead!r}")
    return chosen


def _source_stats(path: Path, records: tuple[str, ...], *, verified: bool) -> dict[str, list]:
    """How the cache key identifies each source file: by its SHA-256 in SHA256SUMS where ``verified`` (the files were
    just checked against it, so a copy of the data folder, with new modification times, keeps its caches), else by
    size and modification time."""
    sums = read_checksums(path) if verified else {}
    names = [f"{r}{ext}" for r in records for ext in RECORD_EXTENSIONS] + [CHECKSUM_FILE]
    stats: dict[str, list] = {}
    for name in names:
        if name in sums:
            stats[name] = ["sha256", sums[name]]
        elif (path / name).is_file() and not (name == CHECKSUM_FILE and sums):  # the listed digests stand for it
            st = (path / name).stat()
            stats[name] = [st.st_size, st.st_mtime_ns]
    return stats


def load_beats(data_dir: str | os.PathLike | None = None, config: BeatConfig = BeatConfig(), *,
               cache_dir: str | os.PathLike | None = None, use_cache: bool = True, verify: bool = True,
               verbose: bool = False) -> BeatDataset:
    """Load MIT-BIH beats as a :class:`BeatDataset`, from the prepared-array cache when it is still valid.

    Parameters
    ----------
    data_dir : path, optional
        MIT-BIH folder (``--data-dir``, else ``$ECG_ART_DATA``, else ``<cache>/mitdb``).
    config : BeatConfig
        Window, rate, lead, normalisation and records.
    cache_dir : path, optional
        Cache root (else ``$ECG_ART_CACHE``, else ``~/.cache/ecg_art``); arrays go to ``<cache>/prepared/``, keyed
        by the config, the record list and the source files (their SHA256SUMS digests when ``verify``, else sizes
        and mtimes).
    use_cache : bool
        Read and write the prepared-array cache.
    verify : bool
        Check the files' SHA-256 (``SHA256SUMS``) and the 360 Hz MIT-BIH rate; presence, header and truncation
        checks always run.
    verbose : bool
        Show a progress bar over records.

    Raises
    ------
    DataNotFoundError, RecordError, ChecksumError, ConfigError
        Naming the folder, record, file or parameter at fault. Beats whose window runs past a record edge or holds
        NaN samples are dropped with an :class:`EcgArtWarning` naming the records and counts.

    Examples
    --------
    >>> ds = load_beats("/data/mitdb", BeatConfig(records=("100", "101")))  # doctest: +SKIP
    >>> ds.x.shape[1:], ds.x.min() >= 0, ds.x.max() <= 1  # doctest: +SKIP
    ((1, 256), True, True)
    """
    if not isinstance(config, BeatConfig):
        raise ConfigError(f"`config` must be a BeatConfig, got {type(config).__name__}")
    path = check_data_dir(data_dir)
    records = config.record_list
    missing = missing_records(path, records)
    if missing:
        raise DataNotFoundError(f"records {', '.join(missing)} lack .hea/.dat/.atr files in {str(path)!r}; "
                                f"{HOW_TO_GET_DATA}")
    cache_root = resolve_cache_dir(cache_dir)
    infos = verify_records(records, path, expected_fs=MITDB_FS if verify else None, checksums=verify,
                           memo_file=cache_root / "sha256-verified.json" if use_cache else None)
    key = cache_key({"version": CACHE_VERSION, "config": config.to_dict(), "data_dir": str(path.resolve()),
                     "files": _source_stats(path, records, verified=verify)})
    chosen = _choose_leads(infos, config)  # warns (or raises) about missing leads on warm and cold paths alike
    cache_file = cache_root / "prepared" / f"beats-{key[:24]}.npz"
    cached = load_arrays(cache_file, key=key, required=ARRAY_FIELDS + ("meta",)) if use_cache else None
    if cached is not None:
        try:
            meta = json.loads(str(cached.pop("meta")))
            ds = BeatDataset(**cached, r_index=int(meta["r_index"]), fs=float(meta["fs"]), config=config)
            _warn_dropped(meta["dropped_edge"], meta["dropped_nan"])
            logger.info("loaded %d beats from cache %s", len(ds), cache_file)
            return ds
        except (KeyError, TypeError, ValueError) as exc:
            warnings.warn(f"ignoring inconsistent cache file {str(cache_file)!r} ({type(exc).__name__}: {exc}); "
                          f"rebuilding it", EcgArtWarning, stacklevel=2)
    from tqdm.auto import tqdm

    parts, edge, nans = [], {}, {}
    for record, channel, lead in tqdm(chosen, desc="records", disable=not verbose):
        native_fs = next(i.fs for i in infos if i.name == record)
        arrays, edge[record], nans[record] = _extract(record, path, config, native_fs, channel, lead)
        parts.append(arrays)
    edge, nans = {r: n for r, n in edge.items() if n}, {r: n for r, n in nans.items() if n}
    _warn_dropped(edge, nans)
    arrays = {name: np.concatenate([p[name] for p in parts]) for name in ARRAY_FIELDS}
    if len(arrays["y"]) == 0:
        raise DataError(f"no beats left in records {', '.join(records)} of {str(path)!r} after windowing")
    ds = BeatDataset(**arrays, r_index=int(config.r_offset), fs=float(config.fs), config=config)
    if use_cache:
        meta = json.dumps({"r_index": ds.r_index, "fs": ds.fs, "config": config.to_dict(), "dropped_edge": edge,
                           "dropped_nan": nans})
        stored = {name: getattr(ds, name) for name in ARRAY_FIELDS}
        if save_arrays(cache_file, {**stored, "meta": np.array(meta)}, key=key):
            logger.info("cached %d beats in %s", len(ds), cache_file)
    return ds


def _warn_dropped(edge: dict[str, int], nans: dict[str, int]) -> None:
    """One EcgArtWarning per cause, naming each record and how many of its beats were dropped."""
    for counts, why in ((edge, "whose window runs past a record edge"), (nans, "whose window holds NaN samples")):
        if counts:
            detail = ", ".join(f"{r}: {n}" for r, n in counts.items())
            warnings.warn(f"dropped {sum(counts.values())} beats {why} (record: count {detail})", EcgArtWarning,
                          stacklevel=3)
