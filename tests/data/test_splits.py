"""Intra- and inter-patient splits, stratified subsets and describe() on synthetic records."""

from __future__ import annotations

import numpy as np
import pytest

from ecg_art.data import (DS1_RECORDS, DS2_RECORDS, PACED_RECORDS, BeatConfig, describe, load_beats, make_split,
                          stratified_subset)
from ecg_art.exceptions import SplitError
from tests.data.conftest import SYNTH_DS1, SYNTH_DS2, SYNTH_LEADS

pytestmark = pytest.mark.filterwarnings("ignore::ecg_art.exceptions.EcgArtWarning")


@pytest.fixture(scope="module")
def ds(synth_master):
    return load_beats(synth_master.path, BeatConfig(records=tuple(SYNTH_LEADS)), use_cache=False)


def assert_partition(split, n):
    parts = [split.train, split.val, split.test]
    assert all(p.dtype == np.int64 and np.all(np.diff(p) > 0) for p in parts)
    assert not (set(split.train) & set(split.val) or set(split.train) & set(split.test) or set(split.val) &
                set(split.test))
    return sum(len(p) for p in parts)


def test_intra_split_partitions_and_stratifies(ds):
    split = make_split(ds, "intra", val_fraction=0.1, test_fraction=0.2, seed=0)
    assert assert_partition(split, len(ds)) == len(ds)
    assert len(split.test) == pytest.approx(0.2 * len(ds), abs=2)
    assert len(split.val) == pytest.approx(0.1 * len(ds), abs=2)
    for part in (split.train, split.test):  # every class in train and test
        assert set(np.unique(ds.y[part])) == set(range(5))
    assert split.scheme == "intra" and split.seed == 0


def test_split_reproducible_per_seed(ds):
    a, b = make_split(ds, "intra", seed=3), make_split(ds, "intra", seed=3)
    c = make_split(ds, "intra", seed=4)
    assert a.fingerprint() == b.fingerprint() and np.array_equal(a.test, b.test)
    assert a.fingerprint() != c.fingerprint()
    assert make_split(ds, "inter", seed=1).fingerprint() == make_split(ds, "inter", seed=1).fingerprint()


def test_inter_split_follows_de_chazal(ds):
    split = make_split(ds, "inter", val_fraction=0.2, seed=0)
    assert_partition(split, len(ds))
    train_side = set(ds.record[split.train]) | set(ds.record[split.val])
    assert train_side == set(SYNTH_DS1) and train_side <= set(DS1_RECORDS)
    assert set(ds.record[split.test]) == set(SYNTH_DS2) and set(ds.record[split.test]) <= set(DS2_RECORDS)
    assert not (set(PACED_RECORDS) & (train_side | set(ds.record[split.test])))  # 102 is in neither
    assert len(split.val) + len(split.train) == int(np.isin(ds.record, SYNTH_DS1).sum())
    assert len(split.val) == pytest.approx(0.2 * (len(split.val) + len(split.train)), abs=2)


def test_inter_val_by_record_is_patient_disjoint(ds):
    split = make_split(ds, "inter", val_fraction=0.3, seed=2, val_by_record=True)
    train_recs, val_recs = set(ds.record[split.train]), set(ds.record[split.val])
    assert val_recs and train_recs and not (train_recs & val_recs)
    assert train_recs | val_recs == set(SYNTH_DS1) and split.val_by_record
    other = make_split(ds, "inter", val_fraction=0.3, seed=2, val_by_record=True)
    assert other.fingerprint() == split.fingerprint()


def test_zero_val_fraction(ds):
    split = make_split(ds, "intra", val_fraction=0.0, seed=0)
    assert len(split.val) == 0 and len(split.train) + len(split.test) == len(ds)


@pytest.mark.parametrize("kwargs, match", [
    ({"scheme": "leave-one-out"}, "intra, inter"),
    ({"scheme": "intra", "val_fraction": 1.5}, "val_fraction"),
    ({"scheme": "intra", "test_fraction": -0.1}, "test_fraction"),
    ({"scheme": "intra", "val_fraction": 0.5, "test_fraction": 0.5}, "< 1"),
    ({"scheme": "intra", "val_by_record": True}, "val_by_record"),
    ({"scheme": "intra", "seed": "zero"}, "seed"),
])
def test_bad_split_arguments(ds, kwargs, match):
    with pytest.raises(SplitError, match=match):
        make_split(ds, **kwargs)


def test_inter_needs_ds1_and_ds2(ds):
    with pytest.raises(SplitError, match="DS1 and DS2"):
        make_split(ds.subset(np.isin(ds.record, SYNTH_DS2)), "inter")


def test_stratified_subset_keeps_rare_classes(ds):
    pool = np.arange(len(ds))
    sub = stratified_subset(pool, ds.y, 60, seed=0)
    counts = np.bincount(ds.y[sub], minlength=5)
    assert len(sub) == 60 and np.all(counts > 0) and np.all(np.diff(sub) > 0)
    assert counts.max() - counts.min() <= 2 or counts.min() == np.bincount(ds.y).min()
    assert np.array_equal(sub, stratified_subset(pool, ds.y, 60, seed=0))
    assert not np.array_equal(sub, stratified_subset(pool, ds.y, 60, seed=1))
    assert np.array_equal(stratified_subset(pool[:10], ds.y, 100, seed=0), pool[:10])
    y = np.array([0] * 90 + [1] * 8 + [2] * 2)
    assert np.bincount(y[stratified_subset(np.arange(100), y, 20, seed=0)]).tolist() == [10, 8, 2]
    with pytest.raises(SplitError, match="n"):
        stratified_subset(pool, ds.y, 3, seed=0)


def test_proportional_subset_keeps_the_class_mix_and_every_class():
    y = np.repeat(np.arange(5), [7000, 220, 560, 60, 640])  # an MIT-BIH-like mix (N S V F Q)
    pool = np.random.default_rng(0).permutation(len(y))[:8000]
    sub = stratified_subset(pool, y, 1000, seed=3, mode="proportional")
    counts, mix = np.bincount(y[sub], minlength=5), np.bincount(y[pool], minlength=5) / len(pool)
    assert len(sub) == 1000 and len(np.unique(sub)) == 1000 and np.isin(sub, pool).all() and np.all(counts > 0)
    assert np.abs(counts - 1000 * mix).max() <= 5  # one beat of each class first, the rest in proportion
    assert np.array_equal(sub, stratified_subset(pool, y, 1000, seed=3, mode="proportional"))
    # a class of one beat is kept, and n = the number of classes takes one of each
    y2 = np.array([0] * 50 + [1])
    assert np.bincount(y2[stratified_subset(np.arange(51), y2, 2, seed=0, mode="proportional")]).tolist() == [1, 1]


def test_describe(ds):
    split = make_split(ds, "inter", seed=0)
    info = describe(ds, split)
    assert info["n_beats"] == len(ds) and info["records"] == sorted(SYNTH_LEADS)
    assert info["classes"] == ds.class_counts() and info["leads"]["V5"] == int((ds.record == "102").sum())
    parts = info["splits"]
    assert parts["test"]["records"] == sorted(SYNTH_DS2)
    assert sum(p["n_beats"] for p in parts.values()) == len(ds) - int((ds.record == "102").sum())
    assert info["split"]["fingerprint"] == split.fingerprint() and "splits" not in describe(ds)


def test_transfer_split_keeps_every_beat_in_its_part_across_windowings(synth_master):
    """A long-context dataset holds fewer beats (record edges): carried over, each beat keeps the part it has in the
    beat-window dataset, so a model started from the beat-only weights is never tested on their training beats."""
    from ecg_art.data import BeatConfig, load_beats, make_split, transfer_split
    from ecg_art.exceptions import SplitError

    recs = tuple(synth_master.records)
    beats = load_beats(synth_master.path, BeatConfig(records=recs), use_cache=False)
    longer = load_beats(synth_master.path, BeatConfig(window=1500, r_offset=900, records=recs), use_cache=False)
    assert len(longer) < len(beats)
    split = make_split(beats, "intra", seed=0)
    moved = transfer_split(split, beats, longer)

    def keys(ds, idx):
        return set(zip(ds.record[idx].tolist(), ds.sample[idx].tolist()))

    for part in ("train", "val", "test"):
        assert keys(longer, getattr(moved, part)) <= keys(beats, getattr(split, part)), part
    assert sum(moved.sizes().values()) == len(longer)
    assert not keys(longer, moved.test) & keys(beats, split.train)
    with pytest.raises(SplitError, match="not in the source"):
        transfer_split(make_split(longer, "intra", seed=0), longer, beats)
