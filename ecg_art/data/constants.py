"""MIT-BIH Arrhythmia Database constants: record lists, the de Chazal DS1/DS2 split and the AAMI EC57 classes."""

from __future__ import annotations

__all__ = [
    "AAMI_CLASSES",
    "AAMI_SYMBOLS",
    "SYMBOL_TO_CLASS",
    "MITDB_RECORDS",
    "PACED_RECORDS",
    "DS1_RECORDS",
    "DS2_RECORDS",
    "MITDB_FS",
    "MITDB_LENGTH",
    "MITDB_N_SIG",
    "check_records",
]

#: The five AAMI EC57 heartbeat classes; labels are int64 indices into this tuple.
AAMI_CLASSES: tuple[str, ...] = ("N", "S", "V", "F", "Q")

#: Annotation symbols (WFDB ``.atr``) grouped by AAMI class; any other symbol is a non-beat annotation.
AAMI_SYMBOLS: dict[str, tuple[str, ...]] = {
    "N": ("N", "L", "R", "e", "j"),
    "S": ("A", "a", "J", "S"),
    "V": ("V", "E"),
    "F": ("F",),
    "Q": ("/", "f", "Q"),
}

#: Annotation symbol -> AAMI class index.
SYMBOL_TO_CLASS: dict[str, int] = {
    sym: AAMI_CLASSES.index(cls) for cls, syms in AAMI_SYMBOLS.items() for sym in syms
}

#: The 48 half-hour records of the MIT-BIH Arrhythmia Database.
MITDB_RECORDS: tuple[str, ...] = tuple(
    str(r)
    for r in (
        100, 101, 102, 103, 104, 105, 106, 107, 108, 109, 111, 112, 113, 114, 115, 116, 117, 118, 119, 121, 122,
        123, 124, 200, 201, 202, 203, 205, 207, 208, 209, 210, 212, 213, 214, 215, 217, 219, 220, 221, 222, 223,
        228, 230, 231, 232, 233, 234,
    )
)

#: Records of patients with a pacemaker; AAMI EC57 excludes them from DS1 and DS2.
PACED_RECORDS: tuple[str, ...] = ("102", "104", "107", "217")

#: de Chazal et al. (2004) inter-patient training set.
DS1_RECORDS: tuple[str, ...] = (
    "101", "106", "108", "109", "112", "114", "115", "116", "118", "119", "122", "124",
    "201", "203", "205", "207", "208", "209", "215", "220", "223", "230",
)

#: de Chazal et al. (2004) inter-patient test set.
DS2_RECORDS: tuple[str, ...] = (
    "100", "103", "105", "111", "113", "117", "121", "123", "200", "202", "210",
    "212", "213", "214", "219", "221", "222", "228", "231", "232", "233", "234",
)

#: Native sampling rate (Hz), samples per record and signals per record of MIT-BIH.
MITDB_FS: int = 360
MITDB_LENGTH: int = 650_000
MITDB_N_SIG: int = 2


def check_records(records, *, name: str = "records") -> tuple[str, ...]:
    """Validate MIT-BIH record names (ints accepted) and return them as a tuple of str; ConfigError names the bad ones.

    Examples
    --------
    >>> check_records([100, "101"])
    ('100', '101')
    """
    from ecg_art.exceptions import ConfigError

    if isinstance(records, (str, int)) or not hasattr(records, "__iter__"):
        raise ConfigError(f"`{name}` must be a sequence of record names such as ('100', '101'), got {records!r}")
    recs = tuple(str(r).strip() for r in records)
    unknown = [r for r in recs if r not in MITDB_RECORDS]
    if unknown:
        raise ConfigError(f"`{name}` has unknown MIT-BIH records {unknown}; known: {', '.join(MITDB_RECORDS)}")
    if not recs or len(set(recs)) != len(recs):
        raise ConfigError(f"`{name}` must be a non-empty sequence without duplicates, got {list(recs)}")
    return recs
