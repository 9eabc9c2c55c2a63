"""The prepared-array cache of load_beats: keyed, atomic, warm path used, corrupt or foreign files rebuilt."""

from __future__ import annotations

import numpy as np
import pytest

from ecg_art.data import BeatConfig, load_beats
from ecg_art.data import beats as beats_mod
from ecg_art.data.cache import load_arrays, save_arrays
from ecg_art.exceptions import EcgArtWarning
from tests.data.conftest import bump_mtime

pytestmark = pytest.mark.filterwarnings("ignore:dropped:ecg_art.exceptions.EcgArtWarning")
CFG = BeatConfig(records=("100", "101"))


def cache_files(cache_dir):
    return sorted((cache_dir / "prepared").glob("*"))


def forbid_reading(monkeypatch):
    def boom(*args, **kwargs):
        raise AssertionError("the record was read although the cache is warm")

    monkeypatch.setattr(beats_mod, "read_lead", boom)


def test_cold_then_warm_uses_cache(synth, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    cold = load_beats(synth.path, CFG, cache_dir=cache)
    files = cache_files(cache)
    assert len(files) == 1 and files[0].suffix == ".npz"
    forbid_reading(monkeypatch)
    warm = load_beats(synth.path, CFG, cache_dir=cache)
    assert warm.fingerprint() == cold.fingerprint()
    for name in ("record", "symbol", "lead", "rr_prev", "rr_local", "sample"):
        np.testing.assert_array_equal(getattr(warm, name), getattr(cold, name))
    assert warm.config == CFG and warm.r_index == cold.r_index and warm.fs == cold.fs
    with np.load(files[0], allow_pickle=False) as npz:  # strings stored as fixed-width unicode, no pickles
        assert npz["record"].dtype.kind == "U"


def test_env_cache_dir_is_default(synth, tmp_path, monkeypatch):
    monkeypatch.setenv("ECG_ART_CACHE", str(tmp_path / "envcache"))
    load_beats(synth.path, CFG)
    assert len(cache_files(tmp_path / "envcache")) == 1


def test_key_covers_config_records_and_sources(synth, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    base = load_beats(synth.path, CFG, cache_dir=cache)
    load_beats(synth.path, BeatConfig(records=("100", "101"), window=200, r_offset=80), cache_dir=cache)
    load_beats(synth.path, BeatConfig(records=("100", "101"), normalize="zscore"), cache_dir=cache)
    load_beats(synth.path, BeatConfig(records=("100",)), cache_dir=cache)
    assert len(cache_files(cache)) == 4
    calls = []
    real = beats_mod.read_lead
    monkeypatch.setattr(beats_mod, "read_lead", lambda *a: calls.append(a[0]) or real(*a))
    # verified against SHA256SUMS, a file is known by its digest: new modification times (a copied data folder) keep
    # the cache; a changed content fails the verification instead (test_records)
    bump_mtime(synth.path / "101.atr")
    bump_mtime(synth.path / "SHA256SUMS")
    again = load_beats(synth.path, CFG, cache_dir=cache)
    assert calls == [] and again.fingerprint() == base.fingerprint() and len(cache_files(cache)) == 4
    # unverified, by size + modification time: a changed source file is not served from the old cache entry
    load_beats(synth.path, CFG, cache_dir=cache, verify=False)
    assert sorted(calls) == ["100", "101"] and len(cache_files(cache)) == 5
    bump_mtime(synth.path / "101.atr")
    calls.clear()
    unverified = load_beats(synth.path, CFG, cache_dir=cache, verify=False)
    assert sorted(calls) == ["100", "101"] and unverified.fingerprint() == base.fingerprint()
    assert len(cache_files(cache)) == 6


@pytest.mark.parametrize("damage", ["garbage", "truncated", "foreign"])
def test_corrupt_or_foreign_cache_is_rebuilt(synth, tmp_path, damage):
    cache = tmp_path / "cache"
    good = load_beats(synth.path, CFG, cache_dir=cache)
    (path,) = cache_files(cache)
    if damage == "garbage":
        path.write_bytes(b"not a zip file at all")
    elif damage == "truncated":
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    else:
        np.savez(path, x=np.zeros((2, 1, 256), np.float32), __cache_key__=np.array("someone else's"))
    with pytest.warns(EcgArtWarning, match="corrupt or foreign cache"):
        rebuilt = load_beats(synth.path, CFG, cache_dir=cache)
    assert rebuilt.fingerprint() == good.fingerprint()
    assert load_arrays(path, key=_key_of(path), required=("x",)) is not None


def _key_of(path):
    with np.load(path, allow_pickle=False) as npz:
        return str(npz["__cache_key__"])


def test_pickled_cache_is_refused(synth, tmp_path):
    cache = tmp_path / "cache"
    load_beats(synth.path, CFG, cache_dir=cache)
    (path,) = cache_files(cache)
    key = _key_of(path)
    with open(path, "wb") as fh:
        np.savez(fh, x=np.array([object()], dtype=object), __cache_key__=np.array(key))
    with pytest.warns(EcgArtWarning, match="corrupt or foreign"):
        assert load_arrays(path, key=key, required=("x",)) is None


def test_atomic_write_keeps_old_file_and_leaves_no_temp(tmp_path, monkeypatch):
    path = tmp_path / "prepared" / "a.npz"
    assert save_arrays(path, {"x": np.arange(4)}, key="k")

    def failing_savez(fh, **arrays):
        fh.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", failing_savez)
    with pytest.warns(EcgArtWarning, match="disk full"):
        assert not save_arrays(path, {"x": np.arange(9)}, key="k")
    monkeypatch.undo()
    assert [p.name for p in path.parent.iterdir()] == ["a.npz"]
    np.testing.assert_array_equal(load_arrays(path, key="k", required=("x",))["x"], np.arange(4))


def test_object_arrays_refused():
    with pytest.raises(TypeError, match="object"):
        save_arrays(None, {"s": np.array(["a", None], dtype=object)}, key="k")


def test_unwritable_cache_warns_and_still_loads(synth, tmp_path):
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where the cache folder should be")
    with pytest.warns(EcgArtWarning, match="could not write cache"):
        ds = load_beats(synth.path, CFG, cache_dir=blocker)
    assert len(ds) > 0


def test_use_cache_false_writes_nothing(synth, tmp_path):
    load_beats(synth.path, CFG, cache_dir=tmp_path / "cache", use_cache=False)
    assert not (tmp_path / "cache").exists()


def test_warm_path_repeats_the_cold_warnings(synth, tmp_path):
    cfg = BeatConfig(records=("100", "102"))
    for _ in range(2):  # cold, then warm from the cache
        with pytest.warns(EcgArtWarning) as record:
            load_beats(synth.path, cfg, cache_dir=tmp_path / "cache")
        messages = " | ".join(str(w.message) for w in record)
        assert "102 (V5/V2) have no MLII" in messages and "record edge (record: count 100: 1, 102: 1)" in messages
    assert len(cache_files(tmp_path / "cache")) == 1


def test_cache_with_bad_metadata_is_rebuilt(synth, tmp_path):
    cache = tmp_path / "cache"
    good = load_beats(synth.path, CFG, cache_dir=cache)
    (path,) = cache_files(cache)
    with np.load(path, allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files if k != "__cache_key__"}
        key = str(npz["__cache_key__"])
    arrays["meta"] = np.array("{}")
    save_arrays(path, arrays, key=key)
    with pytest.warns(EcgArtWarning, match="inconsistent cache"):
        assert load_beats(synth.path, CFG, cache_dir=cache).fingerprint() == good.fingerprint()
    assert load_beats(synth.path, CFG, cache_dir=cache).fingerprint() == good.fingerprint()
