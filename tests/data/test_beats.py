"""Beat windows, normalisation, leads, RR metadata and dropped-beat warnings of load_beats on synthetic records."""

from __future__ import annotations

import numpy as np
import pytest

from ecg_art.data import AAMI_CLASSES, BeatConfig, BeatDataset, load_beats
from ecg_art.exceptions import ConfigError, DataError, DataNotFoundError, EcgArtWarning, RecordError
from tests.data.conftest import EDGE_BEAT, FS, SYNTH_LEADS, write_record

pytestmark = pytest.mark.filterwarnings("ignore::ecg_art.exceptions.EcgArtWarning")
ALL = tuple(SYNTH_LEADS)


def load(db, **cfg):
    return load_beats(db.path, BeatConfig(**{"records": ALL, **cfg}), use_cache=False)


def raw_channel(db, record, channel):
    import wfdb

    return wfdb.rdrecord(str(db.path / record), channels=[channel]).p_signal[:, 0]


def test_shapes_dtypes_and_metadata(synth_master):
    ds = load(synth_master)
    n = len(ds)
    assert ds.x.shape == (n, 1, 256) and ds.x.dtype == np.float32
    assert ds.y.dtype == np.int64 and ds.sample.dtype == np.int64
    assert ds.rr_prev.dtype == ds.rr_next.dtype == ds.rr_local.dtype == np.float32
    assert ds.record.dtype.kind == ds.symbol.dtype.kind == ds.lead.dtype.kind == "U"
    assert ds.r_index == 90 and ds.fs == FS and ds.config.records == ALL
    assert set(ds.records()) == set(ALL)
    # every annotated beat is there except the one per record placed next to the start
    written = sum(len(r.samples) for r in synth_master.records.values())
    assert n == written - len(ALL)
    assert EDGE_BEAT not in ds.sample
    for rec in ALL:
        kept = ds.sample[ds.record == rec]
        np.testing.assert_array_equal(kept, synth_master.records[rec].samples[1:])
        np.testing.assert_array_equal(ds.symbol[ds.record == rec], synth_master.records[rec].symbols[1:])
    assert ds.class_counts() == {c: int((ds.y == i).sum()) for i, c in enumerate(AAMI_CLASSES)}
    assert all(v > 0 for v in ds.class_counts().values())


def test_minmax_windows_in_unit_range(synth_master):
    ds = load(synth_master)
    assert ds.x.min() >= 0.0 and ds.x.max() <= 1.0
    np.testing.assert_allclose(ds.x.min(axis=-1), 0.0, atol=1e-6)
    np.testing.assert_allclose(ds.x.max(axis=-1), 1.0, atol=1e-6)


def test_zscore_and_none(synth_master):
    z = load(synth_master, normalize="zscore")
    np.testing.assert_allclose(z.x.mean(axis=-1), 0.0, atol=1e-4)
    np.testing.assert_allclose(z.x.std(axis=-1), 1.0, atol=1e-3)
    raw = load(synth_master, normalize="none", records=("100",))
    sig = raw_channel(synth_master, "100", 0)
    for i in (0, len(raw) // 2, len(raw) - 1):
        start = raw.sample[i] - raw.r_index
        np.testing.assert_allclose(raw.x[i, 0], sig[start:start + 256], rtol=1e-6)
        assert raw.x[i, 0, raw.r_index] == pytest.approx(sig[raw.sample[i]], rel=1e-6)


def test_mlii_found_on_second_channel_of_114(synth_master):
    ds = load(synth_master, normalize="none", records=("114",))
    assert set(ds.lead) == {"MLII"}
    sig = raw_channel(synth_master, "114", 1)
    start = ds.sample[3] - ds.r_index
    np.testing.assert_allclose(ds.x[3, 0], sig[start:start + 256], rtol=1e-6)


def test_missing_lead_policies(synth_master):
    with pytest.warns(EcgArtWarning, match="102.*first channel"):
        ds = load(synth_master, records=("100", "102"))
    assert set(ds.lead[ds.record == "102"]) == {"V5"} and set(ds.lead[ds.record == "100"]) == {"MLII"}
    with pytest.warns(EcgArtWarning, match="102.*skipping"):
        ds = load(synth_master, records=("100", "102"), missing_lead="skip")
    assert set(ds.records()) == {"100"}
    with pytest.raises(RecordError, match="102"):
        load(synth_master, records=("100", "102"), missing_lead="error")
    with pytest.raises(DataError, match="MLII"):
        load(synth_master, records=("102",), missing_lead="skip")


def test_rr_features(synth_master):
    ds = load(synth_master, records=("101",))
    s = synth_master.records["101"].samples  # includes the dropped edge beat, which still counts for RR
    rr = np.diff(s) / FS
    np.testing.assert_allclose(ds.rr_prev, rr, rtol=1e-6)
    np.testing.assert_allclose(ds.rr_next[:-1], rr[1:], rtol=1e-6)
    assert np.isnan(ds.rr_next[-1])
    k = 12  # beat index 13 in the record: mean of its 10 previous intervals
    np.testing.assert_allclose(ds.rr_local[k], rr[k - 9:k + 1].mean(), rtol=1e-5)
    np.testing.assert_allclose(ds.rr_local[0], rr[0], rtol=1e-6)  # only one previous interval
    first = load(synth_master, records=("101",), r_offset=10, window=64)  # the edge beat is kept now
    assert np.isnan(first.rr_prev[0]) and np.isnan(first.rr_local[0]) and first.sample[0] == EDGE_BEAT


def test_edge_drop_warning_names_records_and_counts(synth_master):
    with pytest.warns(EcgArtWarning, match=r"record edge.*100: 1, 103: 1"):
        load(synth_master, records=("100", "103"))


def test_nan_beats_dropped_with_warning(tmp_path):
    rec = write_record(tmp_path, "100", seed=3)
    target = rec.samples[5]
    write_record(tmp_path, "100", seed=3, nan_span=(target - 2, target + 2))
    with pytest.warns(EcgArtWarning, match=r"NaN samples.*100: \d"):
        ds = load_beats(tmp_path, BeatConfig(records=("100",)), use_cache=False)
    assert target not in ds.sample and np.isfinite(ds.x).all()
    assert len(ds) < len(rec.samples) - 1


def test_resampling_to_target_fs(synth_master):
    native = load(synth_master, records=("105",))
    half = load(synth_master, records=("105",), fs=180, window=128, r_offset=45)
    assert half.fs == 180 and half.x.shape[1:] == (1, 128)
    np.testing.assert_array_equal(half.sample, np.round(native.sample / 2).astype(np.int64))
    assert np.median(np.argmax(half.x[:, 0], axis=1)) == pytest.approx(45, abs=2)  # R peak stays at r_offset


def test_fs_check_under_verify(tmp_path):
    write_record(tmp_path, "100", fs=250, seconds=12)
    with pytest.raises(RecordError, match="sampling rate"):
        load_beats(tmp_path, BeatConfig(records=("100",)), use_cache=False)
    ds = load_beats(tmp_path, BeatConfig(records=("100",)), use_cache=False, verify=False)
    assert ds.fs == 360 and len(ds) > 5


def test_no_beats_left_is_an_error(synth_master):
    with pytest.raises(DataError, match="no beats"):
        load(synth_master, records=("100",), window=FS * 30)


def test_missing_record_files(synth_master, tmp_path):
    with pytest.raises(DataNotFoundError, match="200"):
        load(synth_master, records=("100", "200"))
    with pytest.raises(DataNotFoundError, match="ecg-art data fetch.*ECG_ART_DATA"):
        load_beats(tmp_path / "nope", BeatConfig(records=("100",)))


@pytest.mark.parametrize("field, value", [
    ("window", 1), ("window", 12.5), ("r_offset", 256), ("r_offset", -1), ("fs", 0), ("fs", float("nan")),
    ("lead", ""), ("missing_lead", "guess"), ("normalize", "l2"), ("records", "100"), ("records", ("100", "999")),
    ("records", ()), ("records", ("100", "100")),
])
def test_config_validation_names_field(field, value):
    with pytest.raises(ConfigError, match=field):
        BeatConfig(**{field: value})


def test_config_accepts_int_record_names():
    assert BeatConfig(records=(100, 101)).records == ("100", "101")
    with pytest.raises(ConfigError, match="config"):
        load_beats(None, config={"window": 256})


def test_subset_counts_and_fingerprint(synth_master):
    ds = load(synth_master)
    sub = ds.subset(np.flatnonzero(ds.y == 2))
    assert isinstance(sub, BeatDataset) and len(sub) == ds.class_counts()["V"]
    assert sub.class_counts()["V"] == len(sub) and sub.class_counts()["N"] == 0
    assert sub.r_index == ds.r_index and sub.config is ds.config
    assert ds.fingerprint() == load(synth_master).fingerprint()
    assert ds.fingerprint() != sub.fingerprint() and len(ds.fingerprint()) == 16
    changed = ds.subset(np.arange(len(ds)))
    changed.x[0, 0, 0] += 0.5
    assert changed.fingerprint() != ds.fingerprint()
    with pytest.raises(ConfigError, match="length"):
        BeatDataset(x=ds.x, y=ds.y[:-1], record=ds.record, sample=ds.sample, symbol=ds.symbol, lead=ds.lead,
                    rr_prev=ds.rr_prev, rr_next=ds.rr_next, rr_local=ds.rr_local, r_index=90, fs=360.0)


def test_norm_span_scales_a_long_context_in_the_unit_of_its_beat_window(synth_master):
    ds = load(synth_master, window=1024, r_offset=600, norm_span=(510, 766), clip=(-4.0, 5.0), records=("100",))
    crop = ds.x[:, 0, 510:766]
    np.testing.assert_allclose(crop.min(1), 0.0, atol=1e-6)
    np.testing.assert_allclose(crop.max(1), 1.0, atol=1e-6)
    assert ds.x.min() >= -4.0 and ds.x.max() <= 5.0 and (ds.x.min() < 0 or ds.x.max() > 1)
    # unset, the new fields stay out of the cache key: plain beat windows keep their cache files
    assert "norm_span" not in BeatConfig().to_dict() and "clip" not in BeatConfig().to_dict()
    with pytest.raises(ConfigError, match="norm_span"):
        BeatConfig(window=256, norm_span=(200, 300))
    with pytest.raises(ConfigError, match="clip"):
        BeatConfig(clip=(1.0, 0.0))
