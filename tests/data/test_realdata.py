"""Checks against the real MIT-BIH database (ECG_ART_DATA, else <repo>/../shared/data/mitdb); skipped without it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ecg_art.data import (DS1_RECORDS, DS2_RECORDS, MITDB_LENGTH, MITDB_RECORDS, BeatConfig, count_annotations,
                          load_beats, make_split, verify_record)
from ecg_art.exceptions import EcgArtWarning
from tests.realdata import require_mitdb

pytestmark = pytest.mark.realdata

# Beat annotations per AAMI class, all 48 records (MIT-BIH directory; AAMI EC57 mapping).
ALL_COUNTS = {"N": 90631, "S": 2781, "V": 7236, "F": 803, "Q": 8043}
# de Chazal, O'Dwyer & Reilly (2004), IEEE TBME 51(7), Table: beats per class in DS1 and DS2.
DS1_PUBLISHED = {"N": 45866, "S": 944, "V": 3788, "F": 415, "Q": 8}
DS2_PUBLISHED = {"N": 44259, "S": 1837, "V": 3221, "F": 388, "Q": 7}
EDGE_LOSS_PER_RECORD = 2  # beats (first/last) a record may lose because their window runs past its edge


@pytest.fixture(scope="module")
def mitdb() -> Path:
    return require_mitdb()


@pytest.fixture(scope="module")
def beats(mitdb, tmp_path_factory):
    with pytest.warns(EcgArtWarning, match="102 .*104 .*no MLII"):
        return load_beats(mitdb, BeatConfig(), cache_dir=tmp_path_factory.mktemp("cache"))


def test_all_records_verify(mitdb):
    for rec in MITDB_RECORDS:
        info = verify_record(rec, mitdb, expected_length=MITDB_LENGTH)
        assert info.fs == 360 and len(info.sig_name) == 2
    assert verify_record("114", mitdb).sig_name == ("V5", "MLII")


def test_annotation_counts(mitdb):
    counts = count_annotations(mitdb)
    assert counts == ALL_COUNTS and sum(counts.values()) == 109494
    assert count_annotations(mitdb, DS1_RECORDS) == DS1_PUBLISHED
    assert count_annotations(mitdb, DS2_RECORDS) == DS2_PUBLISHED


def test_all_beats_loaded(beats):
    counts = beats.class_counts()
    for cls, n in ALL_COUNTS.items():
        assert 0 <= n - counts[cls] <= EDGE_LOSS_PER_RECORD * 48
    assert 0 < sum(ALL_COUNTS.values()) - len(beats) <= EDGE_LOSS_PER_RECORD * 48
    assert len(beats.records()) == 48 and beats.x.shape[1:] == (1, 256)
    assert set(beats.lead[np.isin(beats.record, ["102", "104"])]) == {"V5"}
    assert set(beats.lead[~np.isin(beats.record, ["102", "104"])]) == {"MLII"}
    assert 0.0 <= beats.x.min() and beats.x.max() <= 1.0


def test_de_chazal_split_sizes(beats):
    split = make_split(beats, "inter", val_fraction=0.1, seed=0)
    train_side = np.concatenate([split.train, split.val])
    tolerance = EDGE_LOSS_PER_RECORD * 22
    for idx, published in ((train_side, DS1_PUBLISHED), (split.test, DS2_PUBLISHED)):
        counts = np.bincount(beats.y[idx], minlength=5)
        for i, cls in enumerate(published):
            assert 0 <= published[cls] - counts[i] <= tolerance, (cls, counts[i], published[cls])
        assert 0 <= sum(published.values()) - len(idx) <= tolerance


def test_warm_cache_matches_cold(mitdb, beats, tmp_path_factory):
    cache = tmp_path_factory.mktemp("cache2")
    cfg = BeatConfig(records=("100", "114", "208"))
    cold = load_beats(mitdb, cfg, cache_dir=cache)
    warm = load_beats(mitdb, cfg, cache_dir=cache)
    assert cold.fingerprint() == warm.fingerprint() == beats.subset(np.isin(beats.record, cfg.records)).fingerprint()


def test_fast_header_parser_on_real_headers(mitdb):
    import wfdb

    from ecg_art.data import records as records_mod

    for rec in MITDB_RECORDS:
        fast = records_mod._parse_header((mitdb / f"{rec}.hea").read_text(encoding="latin-1"))
        ref = wfdb.rdheader(str(mitdb / rec))
        assert (fast.fs, fast.sig_len, list(fast.sig_name), list(fast.fmt)) == (ref.fs, ref.sig_len, ref.sig_name,
                                                                                  ref.fmt)
        assert list(fast.byte_offset) == [b or 0 for b in ref.byte_offset]
