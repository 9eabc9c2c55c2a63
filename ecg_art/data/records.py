"""Verified access to WFDB records: file presence, header sanity, truncation, SHA-256 checksums, beat annotations."""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ecg_art.data.constants import AAMI_CLASSES, MITDB_FS, MITDB_RECORDS, SYMBOL_TO_CLASS, check_records
from ecg_art.data.paths import HOW_TO_GET_DATA, RECORD_EXTENSIONS, resolve_data_dir
from ecg_art.exceptions import ChecksumError, DataNotFoundError, RecordError

__all__ = ["RecordInfo", "check_data_dir", "verify_record", "verify_records", "read_checksums", "read_lead",
           "read_beats", "count_annotations"]

logger = logging.getLogger(__name__)

CHECKSUM_FILE = "SHA256SUMS"
# bytes per sample of the WFDB storage formats (212 packs two 12-bit samples in 3 bytes)
_BYTES_PER_SAMPLE = {"8": 1, "16": 2, "61": 2, "80": 1, "160": 2, "24": 3, "32": 4, "212": 1.5, "310": 4 / 3,
                     "311": 4 / 3}
_hash_memo: dict[tuple[str, int, int], str] = {}  # (path, size, mtime_ns) -> sha256, one hash per file per process
_sums_memo: dict[tuple[str, int, int], dict[str, str]] = {}


@dataclass(frozen=True)
class RecordInfo:
    """What the header of a verified record says: name, sampling rate, length, signal names, storage formats."""

    name: str
    fs: float
    sig_len: int
    sig_name: tuple[str, ...]
    fmt: tuple[str, ...]


def check_data_dir(data_dir: str | os.PathLike | None = None) -> Path:
    """Resolve the data folder and make sure it exists and holds WFDB headers, else raise DataNotFoundError."""
    path = resolve_data_dir(data_dir)
    if not path.is_dir():
        raise DataNotFoundError(f"MIT-BIH data folder {str(path)!r} does not exist; {HOW_TO_GET_DATA}")
    if not any(path.glob("*.hea")):
        raise DataNotFoundError(f"MIT-BIH data folder {str(path)!r} holds no WFDB records (*.hea); {HOW_TO_GET_DATA}")
    return path


def _file_key(path: Path) -> tuple[str, int, int]:
    st = path.stat()
    return str(path.resolve()), st.st_size, st.st_mtime_ns


def _sha256(path: Path) -> str:
    key = _file_key(path)
    if key not in _hash_memo:
        h = hashlib.sha256()
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
        _hash_memo[key] = h.hexdigest()
    return _hash_memo[key]


def _load_hash_memo(path: Path) -> None:
    """Seed the per-process hash memo from a JSON file written by :func:`_save_hash_memo` (ignored if unreadable)."""
    try:
        entries = json.loads(Path(path).read_text())
        _hash_memo.update({(p, int(size), int(mtime)): str(digest) for p, size, mtime, digest in entries})
    except (OSError, ValueError, TypeError):
        return


def _save_hash_memo(path: Path) -> None:
    """Persist the hash memo (path, size, mtime_ns, sha256) atomically, so later processes skip re-hashing."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        with os.fdopen(fd, "w") as fh:
            json.dump([[*key, digest] for key, digest in _hash_memo.items()], fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        logger.debug("could not persist checksum memo %s: %s", path, exc)


def read_checksums(data_dir: Path) -> dict[str, str]:
    """Parse ``data_dir/SHA256SUMS`` (``sha256sum`` format) into ``{file name: hex digest}``; empty if absent."""
    path = Path(data_dir) / CHECKSUM_FILE
    if not path.is_file():
        return {}
    key = _file_key(path)
    if key not in _sums_memo:
        sums: dict[str, str] = {}
        for lineno, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            parts = line.strip().split(maxsplit=1)
            if not parts or line.lstrip().startswith("#"):
                continue
            if len(parts) != 2 or len(parts[0]) != 64:
                raise ChecksumError(f"{str(path)!r} line {lineno} is not '<sha256>  <file>': {line.strip()!r}")
            sums[parts[1].lstrip("*").strip()] = parts[0].lower()
        _sums_memo[key] = sums
    return _sums_memo[key]


@dataclass(frozen=True)
class _Header:
    n_sig: int
    fs: float
    sig_len: int
    file_name: tuple[str, ...]
    fmt: tuple[str, ...]
    byte_offset: tuple[int, ...]
    sig_name: tuple[str, ...]


_FMT = re.compile(r"^(\d+)(?:x\d+)?(?::\d+)?(?:\+(\d+))?$")


def _parse_header(text: str) -> _Header | None:
    """Parse a single-segment WFDB header without importing wfdb (fast warm path); None if anything is unusual."""
    lines = [ln.split() for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    if not lines or len(lines[0]) < 4 or "/" in lines[0][0]:
        return None
    n_sig, fs, sig_len = int(lines[0][1]), float(re.split(r"[/(]", lines[0][2])[0]), int(lines[0][3])
    sigs = lines[1:1 + n_sig]
    if len(sigs) != n_sig or any(len(f) < 9 or not _FMT.match(f[1]) for f in sigs):
        return None
    fmts = [_FMT.match(f[1]) for f in sigs]
    return _Header(n_sig=n_sig, fs=fs, sig_len=sig_len, file_name=tuple(f[0] for f in sigs),
                   fmt=tuple(m.group(1) for m in fmts), byte_offset=tuple(int(m.group(2) or 0) for m in fmts),
                   sig_name=tuple(" ".join(f[8:]) for f in sigs))


def _read_header(data_dir: Path, record: str):
    hea = data_dir / f"{record}.hea"
    try:
        parsed = _parse_header(hea.read_text(encoding="latin-1"))
    except (ValueError, IndexError, OSError):
        parsed = None
    if parsed is not None:
        return parsed
    import wfdb  # unusual header: let wfdb decide, and wrap its errors

    try:
        hdr = wfdb.rdheader(str(data_dir / record))
        return _Header(n_sig=int(hdr.n_sig or 0), fs=float(hdr.fs or 0), sig_len=int(hdr.sig_len or 0),
                       file_name=tuple(hdr.file_name or ()), fmt=tuple(str(f) for f in hdr.fmt or ()),
                       byte_offset=tuple(int(b or 0) for b in (hdr.byte_offset or [0] * int(hdr.n_sig or 0))),
                       sig_name=tuple(str(s) for s in hdr.sig_name or ()))
    except Exception as exc:
        raise RecordError(f"record {record!r}: header {str(hea)!r} is unreadable ({type(exc).__name__}: {exc})") \
            from exc


def verify_record(record: str, data_dir: str | os.PathLike | None = None, *, expected_fs: float | None = MITDB_FS,
                  expected_length: int | None = None, checksums: bool = True,
                  extensions: tuple[str, ...] = RECORD_EXTENSIONS) -> RecordInfo:
    """Check one record's files: present, header readable, ``.dat`` as long as the header says, checksums match.

    Parameters
    ----------
    record : str
        Record name, e.g. ``"100"``.
    data_dir : path, optional
        Folder of the records; resolved with :func:`resolve_data_dir`.
    expected_fs : float or None
        Sampling rate the header must declare (MIT-BIH: 360 Hz); None accepts any.
    expected_length : int or None
        Samples the header must declare (MIT-BIH: 650000); None trusts the header (synthetic records).
    checksums : bool
        Check the files listed in ``SHA256SUMS`` when that file exists (hashed once per process).
    extensions : tuple of str
        Files the record must have (MIT-BIH: ``.hea``, ``.dat``, ``.atr``; NSTDB noise records have no ``.atr``).

    Returns
    -------
    RecordInfo

    Raises
    ------
    DataNotFoundError, RecordError, ChecksumError
        Naming the record and the file at fault.

    Examples
    --------
    >>> verify_record("100", "/data/mitdb").sig_name  # doctest: +SKIP
    ('MLII', 'V5')
    """
    path = resolve_data_dir(data_dir)
    missing = [f"{record}{ext}" for ext in extensions if not (path / f"{record}{ext}").is_file()]
    if missing:
        raise DataNotFoundError(f"record {record!r}: missing {', '.join(missing)} in {str(path)!r}; {HOW_TO_GET_DATA}")
    hdr = _read_header(path, record)
    if not hdr.n_sig or not hdr.sig_len or not hdr.fs:
        raise RecordError(f"record {record!r}: header declares no signal samples (n_sig={hdr.n_sig}, "
                          f"sig_len={hdr.sig_len}, fs={hdr.fs})")
    if expected_fs is not None and not math.isclose(float(hdr.fs), float(expected_fs)):
        raise RecordError(f"record {record!r}: sampling rate is {hdr.fs} Hz, expected {expected_fs} Hz")
    if expected_length is not None and hdr.sig_len != expected_length:
        raise RecordError(f"record {record!r}: {hdr.sig_len} samples, expected {expected_length}")
    # every signal file must hold sig_len samples of each signal stored in it
    for fname in dict.fromkeys(hdr.file_name):
        chans = [i for i, f in enumerate(hdr.file_name) if f == fname]
        fmt = str(hdr.fmt[chans[0]])
        fpath = path / fname
        if not fpath.is_file():
            raise DataNotFoundError(f"record {record!r}: signal file {str(fpath)!r} is missing; {HOW_TO_GET_DATA}")
        if fmt in _BYTES_PER_SAMPLE:
            offset = hdr.byte_offset[chans[0]]
            need = offset + math.ceil(hdr.sig_len * len(chans) * _BYTES_PER_SAMPLE[fmt])
            have = fpath.stat().st_size
            if have < need:
                raise RecordError(f"record {record!r}: {str(fpath)!r} is truncated ({have} bytes, the header "
                                  f"needs {need} for {hdr.sig_len} samples x {len(chans)} signals, fmt {fmt})")
    if checksums:
        sums = read_checksums(path)
        for ext in extensions:
            fname = f"{record}{ext}"
            if fname in sums and _sha256(path / fname) != sums[fname]:
                raise ChecksumError(f"record {record!r}: {str(path / fname)!r} does not match its SHA-256 "
                                    f"in {CHECKSUM_FILE} (corrupt or modified file)")
    return RecordInfo(name=record, fs=float(hdr.fs), sig_len=int(hdr.sig_len),
                      sig_name=tuple(str(s) for s in hdr.sig_name), fmt=tuple(str(f) for f in hdr.fmt))


def verify_records(records, data_dir: Path, *, expected_fs: float | None, checksums: bool,
                   memo_file: Path | None = None) -> list[RecordInfo]:
    """:func:`verify_record` over ``records``; ``memo_file`` persists verified hashes keyed by path, size, mtime."""
    if checksums and memo_file is not None:
        _load_hash_memo(memo_file)
    known = len(_hash_memo)
    infos = [verify_record(r, data_dir, expected_fs=expected_fs, checksums=checksums) for r in records]
    if memo_file is not None and len(_hash_memo) > known:
        _save_hash_memo(memo_file)
    return infos


def read_lead(record: str, data_dir: Path, channel: int) -> np.ndarray:
    """Read one channel of a record in physical units (mV) as float64 ``(sig_len,)``; NaN marks invalid samples."""
    import wfdb

    try:
        rec = wfdb.rdrecord(str(Path(data_dir) / record), channels=[int(channel)])
    except Exception as exc:
        raise RecordError(f"record {record!r}: signal file in {str(data_dir)!r} is unreadable or corrupt "
                          f"({type(exc).__name__}: {exc})") from exc
    sig = np.asarray(rec.p_signal, dtype=np.float64)
    if sig.ndim != 2 or sig.shape[1] != 1:
        raise RecordError(f"record {record!r}: expected one channel, got signal of shape {sig.shape}")
    return sig[:, 0]


def read_beats(record: str, data_dir: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Beat annotations of ``record.atr``: ``(sample int64, symbol str, AAMI label int64)``; non-beats skipped."""
    import wfdb

    try:
        ann = wfdb.rdann(str(Path(data_dir) / record), "atr")
    except Exception as exc:
        raise RecordError(f"record {record!r}: annotation file {str(Path(data_dir) / (record + '.atr'))!r} is "
                          f"unreadable or corrupt ({type(exc).__name__}: {exc})") from exc
    if any(not isinstance(sym, str) for sym in ann.symbol) or (len(ann.sample) and np.min(ann.sample) < 0):
        raise RecordError(f"record {record!r}: annotation file {str(Path(data_dir) / (record + '.atr'))!r} is "
                          f"corrupt (unknown annotation codes or negative sample positions)")
    symbols = np.asarray(ann.symbol, dtype=str)
    samples = np.asarray(ann.sample, dtype=np.int64)
    keep = np.isin(symbols, list(SYMBOL_TO_CLASS))
    labels = np.array([SYMBOL_TO_CLASS[s] for s in symbols[keep]], dtype=np.int64)
    return samples[keep], symbols[keep], labels


def count_annotations(data_dir: str | os.PathLike | None = None, records: tuple[str, ...] | list[str] | None = None,
                      ) -> dict[str, int]:
    """Count beat annotations per AAMI class straight from the ``.atr`` files (no windowing, nothing dropped).

    Examples
    --------
    >>> count_annotations("/data/mitdb")  # doctest: +SKIP
    {'N': 90631, 'S': 2781, 'V': 7236, 'F': 803, 'Q': 8043}
    """
    path = check_data_dir(data_dir)
    counts = np.zeros(len(AAMI_CLASSES), dtype=np.int64)
    for rec in check_records(records) if records is not None else MITDB_RECORDS:
        if not (path / f"{rec}.atr").is_file():
            raise DataNotFoundError(f"record {rec!r}: missing {rec}.atr in {str(path)!r}; {HOW_TO_GET_DATA}")
        counts += np.bincount(read_beats(rec, path)[2], minlength=len(AAMI_CLASSES))
    return {c: int(n) for c, n in zip(AAMI_CLASSES, counts)}
