"""data stage of ecg_art: MIT-BIH records (fetch, verify), NSTDB noise records, AAMI beat windows with a keyed cache,
and splits."""

from ecg_art.data.beats import BeatConfig, load_beats
from ecg_art.data.constants import (
    AAMI_CLASSES,
    AAMI_SYMBOLS,
    DS1_RECORDS,
    DS2_RECORDS,
    MITDB_FS,
    MITDB_LENGTH,
    MITDB_RECORDS,
    PACED_RECORDS,
    SYMBOL_TO_CLASS,
)
from ecg_art.data.dataset import BeatDataset
from ecg_art.data.describe import describe
from ecg_art.data.nstdb import NSTDB_RECORDS, read_noise_record, resolve_noise_dir
from ecg_art.data.paths import fetch_mitdb, resolve_cache_dir, resolve_data_dir
from ecg_art.data.records import RecordInfo, count_annotations, verify_record
from ecg_art.data.splits import SUBSET_MODES, Split, make_split, stratified_subset, transfer_split

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
    "resolve_data_dir",
    "resolve_cache_dir",
    "fetch_mitdb",
    "verify_record",
    "RecordInfo",
    "count_annotations",
    "BeatConfig",
    "BeatDataset",
    "load_beats",
    "Split",
    "make_split",
    "stratified_subset",
    "SUBSET_MODES",
    "transfer_split",
    "describe",
    "NSTDB_RECORDS",
    "read_noise_record",
    "resolve_noise_dir",
]
