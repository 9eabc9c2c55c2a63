"""Where the MIT-BIH files and ecg_art's caches live, and how to download the database into place."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from ecg_art.data.constants import MITDB_RECORDS
from ecg_art.exceptions import DataNotFoundError

__all__ = ["DATA_ENV", "CACHE_ENV", "resolve_data_dir", "resolve_cache_dir", "fetch_mitdb", "missing_records"]

logger = logging.getLogger(__name__)

DATA_ENV = "ECG_ART_DATA"
CACHE_ENV = "ECG_ART_CACHE"
RECORD_EXTENSIONS = (".hea", ".dat", ".atr")
HOW_TO_GET_DATA = (
    "run `ecg-art data fetch` to download MIT-BIH, or point at a local copy with --data-dir or "
    f"the {DATA_ENV} environment variable"
)


def resolve_cache_dir(cache_dir: str | os.PathLike | None = None) -> Path:
    """Return ecg_art's cache folder: ``cache_dir``, else ``$ECG_ART_CACHE``, else ``~/.cache/ecg_art``.

    Examples
    --------
    >>> resolve_cache_dir("/tmp/ecg_cache")
    PosixPath('/tmp/ecg_cache')
    """
    if cache_dir is not None and str(cache_dir) != "":
        return Path(cache_dir).expanduser()
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env).expanduser()
    return Path("~/.cache/ecg_art").expanduser()


def resolve_data_dir(data_dir: str | os.PathLike | None = None) -> Path:
    """Return the MIT-BIH folder: ``data_dir`` (CLI flag), else ``$ECG_ART_DATA``, else ``<cache>/mitdb``.

    The folder is not required to exist; loaders raise :class:`DataNotFoundError` when it does not.

    Examples
    --------
    >>> resolve_data_dir("/data/mitdb")
    PosixPath('/data/mitdb')
    """
    if data_dir is not None and str(data_dir) != "":
        return Path(data_dir).expanduser()
    env = os.environ.get(DATA_ENV)
    if env:
        return Path(env).expanduser()
    return resolve_cache_dir() / "mitdb"


def missing_records(data_dir: Path, records: tuple[str, ...] | list[str]) -> list[str]:
    """Names of ``records`` lacking one of their ``.hea``/``.dat``/``.atr`` files in ``data_dir``."""
    return [r for r in records if not all((data_dir / f"{r}{ext}").is_file() for ext in RECORD_EXTENSIONS)]


def fetch_mitdb(data_dir: str | os.PathLike | None = None) -> Path:
    """Download the MIT-BIH Arrhythmia Database from PhysioNet into the data folder (no-op when complete).

    Parameters
    ----------
    data_dir : path, optional
        Target folder; resolved with :func:`resolve_data_dir`.

    Returns
    -------
    Path
        The folder holding the 48 records.

    Raises
    ------
    DataNotFoundError
        When the download fails (e.g. offline); the message says how to use a local copy instead.

    Examples
    --------
    >>> path = fetch_mitdb("~/data/mitdb")  # doctest: +SKIP
    """
    path = resolve_data_dir(data_dir)
    if path.is_dir() and not missing_records(path, MITDB_RECORDS):
        logger.info("MIT-BIH already complete in %s", path)
        return path
    try:
        path.mkdir(parents=True, exist_ok=True)
        import wfdb

        logger.info("downloading MIT-BIH (mitdb) from PhysioNet into %s", path)
        wfdb.dl_database("mitdb", dl_dir=str(path))
    except Exception as exc:  # network, permissions, PhysioNet errors: all mean "no data here"
        raise DataNotFoundError(
            f"could not download MIT-BIH into {str(path)!r} ({type(exc).__name__}: {exc}). If you are offline, "
            f"copy the database (records 100.hea/.dat/.atr ... 234) to a folder and pass it with --data-dir "
            f"or set {DATA_ENV}=/path/to/mitdb"
        ) from exc
    missing = missing_records(path, MITDB_RECORDS)
    if missing:
        raise DataNotFoundError(
            f"download into {str(path)!r} is incomplete: records {', '.join(missing)} lack files; retry "
            f"`ecg-art data fetch` or set {DATA_ENV} to a complete local copy"
        )
    return path
