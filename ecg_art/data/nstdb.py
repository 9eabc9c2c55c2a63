"""The MIT-BIH Noise Stress Test Database's noise records (``bw`` baseline wander, ``ma`` muscle artifact): where they
live, and a verified reader (files present, header sane, ``.dat`` not truncated, ``SHA256SUMS`` matched)."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np

from ecg_art.data.constants import MITDB_FS
from ecg_art.data.paths import DATA_ENV, resolve_cache_dir
from ecg_art.data.records import verify_record
from ecg_art.exceptions import ConfigError, DataNotFoundError, RecordError

__all__ = ["NSTDB_ENV", "NSTDB_RECORDS", "NSTDB_FS", "resolve_noise_dir", "read_noise_record"]

logger = logging.getLogger(__name__)

NSTDB_ENV = "ECG_ART_NOISE_DATA"
NSTDB_RECORDS = ("bw", "ma")  # "em" (electrode motion) is not used: it holds ECG as well as noise
NSTDB_FS = MITDB_FS  # 360 Hz, as MIT-BIH
NOISE_EXTENSIONS = (".hea", ".dat")
HOW_TO_GET_NOISE = (
    "download the noise records of the MIT-BIH Noise Stress Test Database (PhysioNet `nstdb`: bw.hea/bw.dat, "
    "ma.hea/ma.dat, e.g. `python -c \"import wfdb; wfdb.dl_database('nstdb', 'nstdb', records=['bw', 'ma'])\"`) "
    f"and point at the folder with `noise_dir` or the {NSTDB_ENV} environment variable"
)


def resolve_noise_dir(noise_dir: str | os.PathLike | None = None, *, data_dir: str | os.PathLike | None = None
                      ) -> Path:
    """Return the NSTDB folder: ``noise_dir``, else ``$ECG_ART_NOISE_DATA``, else ``nstdb`` beside the MIT-BIH folder
    (``data_dir`` or ``$ECG_ART_DATA``) when it exists, else ``<cache>/nstdb``.

    Examples
    --------
    >>> resolve_noise_dir("/data/nstdb")
    PosixPath('/data/nstdb')
    >>> resolve_noise_dir(None, data_dir="/nonexistent/mitdb").name
    'nstdb'
    """
    if noise_dir is not None and str(noise_dir) != "":
        return Path(noise_dir).expanduser()
    env = os.environ.get(NSTDB_ENV)
    if env:
        return Path(env).expanduser()
    mitdb = data_dir if data_dir is not None and str(data_dir) != "" else os.environ.get(DATA_ENV)
    if mitdb:
        beside = Path(mitdb).expanduser().parent / "nstdb"
        if beside.is_dir():
            return beside
    return resolve_cache_dir() / "nstdb"


def read_noise_record(record: str, noise_dir: str | os.PathLike | None = None, *, checksums: bool = True,
                      expected_fs: float | None = NSTDB_FS) -> np.ndarray:
    """Read a verified noise record in physical units (mV): float64 ``(n_channels, n_samples)``.

    Parameters
    ----------
    record : str
        ``"bw"`` or ``"ma"`` (any WFDB record name is accepted, e.g. a synthetic one in a test).
    noise_dir : path, optional
        Folder of the records, resolved with :func:`resolve_noise_dir`.
    checksums : bool
        Check the files listed in the folder's ``SHA256SUMS`` (when present).
    expected_fs : float or None
        Sampling rate the header must declare (NSTDB: 360 Hz, that of MIT-BIH); None accepts any.

    Raises
    ------
    DataNotFoundError
        The folder or a file of the record is missing; the message says how to get the records.
    RecordError, ChecksumError
        Truncated, corrupt or modified files, a wrong sampling rate, or NaN samples; the message names the record.

    Examples
    --------
    >>> read_noise_record("bw", "/data/nstdb").shape  # doctest: +SKIP
    (2, 650000)
    """
    if not isinstance(record, str) or not record.strip() or "/" in record:
        raise ConfigError(f"`record` must be a noise record name such as 'bw' or 'ma', got {record!r}")
    path = resolve_noise_dir(noise_dir)
    if not path.is_dir():
        raise DataNotFoundError(f"noise data folder {str(path)!r} does not exist; {HOW_TO_GET_NOISE}")
    missing = [f"{record}{ext}" for ext in NOISE_EXTENSIONS if not (path / f"{record}{ext}").is_file()]
    if missing:
        raise DataNotFoundError(f"noise record {record!r}: missing {', '.join(missing)} in {str(path)!r}; "
                                f"{HOW_TO_GET_NOISE}")
    verify_record(record, path, expected_fs=expected_fs, checksums=checksums, extensions=NOISE_EXTENSIONS)
    import wfdb

    try:
        rec = wfdb.rdrecord(str(path / record), physical=True)
    except Exception as exc:
        raise RecordError(f"noise record {record!r}: signal file in {str(path)!r} is unreadable or corrupt "
                          f"({type(exc).__name__}: {exc})") from exc
    sig = np.asarray(rec.p_signal, dtype=np.float64).T
    if sig.ndim != 2 or sig.shape[1] < 2:
        raise RecordError(f"noise record {record!r}: expected (samples, channels), got shape {sig.shape[::-1]}")
    if not np.all(np.isfinite(sig)):
        raise RecordError(f"noise record {record!r}: {int(np.sum(~np.isfinite(sig)))} invalid (NaN) samples")
    logger.debug("read noise record %s: %d channels x %d samples from %s", record, *sig.shape, path)
    return sig
