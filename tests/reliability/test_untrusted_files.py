"""Untrusted files: a tampered or foreign beat cache is rebuilt and a pickled checkpoint refused, no code executed."""

from __future__ import annotations

import io
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from ecg_art.data import BeatConfig, load_beats
from ecg_art.exceptions import CheckpointError, ChecksumError, EcgArtWarning
from ecg_art.io import CHECKPOINT_FORMAT, load_checkpoint
from ecg_art.training import fit_classifier
from tests.reliability.conftest import RECORDS, tiny_classifier, tiny_problem

pytestmark = pytest.mark.filterwarnings("ignore:dropped:ecg_art.exceptions.EcgArtWarning")
CFG = BeatConfig(records=RECORDS)


def _pwn(path: str) -> None:
    """What a malicious pickle would run: here it only leaves a marker file behind."""
    Path(path).write_text("code from a pickle ran")


class Payload:
    """Unpickling this object calls :func:`_pwn` (the classic ``__reduce__`` code-execution gadget)."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (_pwn, (self.marker,))


def _cache_file(cache: Path) -> Path:
    (path,) = sorted((cache / "prepared").glob("beats-*.npz"))
    return path


def _arrays_and_key(path: Path) -> tuple[dict[str, np.ndarray], str]:
    with np.load(path, allow_pickle=False) as npz:
        return {k: npz[k] for k in npz.files if k != "__cache_key__"}, str(npz["__cache_key__"])


def _write_npz(path: Path, arrays: dict) -> None:
    with open(path, "wb") as fh:
        np.savez(fh, **arrays)


def _tamper(path: Path, how: str, marker: Path) -> None:
    arrays, key = _arrays_and_key(path)
    evil = np.empty(1, dtype=object)
    evil[0] = Payload(marker)
    if how == "object_array":  # the right key, and a pickled object array where the beats should be
        _write_npz(path, {**arrays, "x": evil, "__cache_key__": np.array(key)})
    elif how == "object_meta":
        _write_npz(path, {**arrays, "meta": evil, "__cache_key__": np.array(key)})
    elif how == "raw_pickle":  # not an npz at all: a pickle stream named .npz
        path.write_bytes(pickle.dumps({"x": Payload(marker), "__cache_key__": key}))
    elif how == "wrong_keys":  # the right key, but arrays renamed
        _write_npz(path, {**{f"{k}_": v for k, v in arrays.items()}, "__cache_key__": np.array(key)})
    elif how == "bad_shapes":
        _write_npz(path, {**arrays, "x": arrays["x"][:, 0, :], "__cache_key__": np.array(key)})
    elif how == "bad_lengths":
        _write_npz(path, {**arrays, "y": arrays["y"][:-1], "__cache_key__": np.array(key)})
    elif how == "bad_labels":
        _write_npz(path, {**arrays, "y": arrays["y"] + 7, "__cache_key__": np.array(key)})
    elif how == "nan_beats":
        x = arrays["x"].copy()
        x[0, 0, :5] = np.nan
        _write_npz(path, {**arrays, "x": x, "__cache_key__": np.array(key)})
    elif how == "foreign_key":
        _write_npz(path, {**arrays, "__cache_key__": np.array("0" * 64)})
    elif how == "truncated":
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 3])
    else:  # pragma: no cover
        raise AssertionError(how)


@pytest.mark.parametrize("how", ["object_array", "object_meta", "raw_pickle", "wrong_keys", "bad_shapes",
                                 "bad_lengths", "bad_labels", "nan_beats", "foreign_key", "truncated"])
def test_tampered_cache_is_rebuilt_without_running_code(db, tmp_path, how):
    cache, marker = tmp_path / "cache", tmp_path / "pwned"
    good = load_beats(db, CFG, cache_dir=cache)
    path = _cache_file(cache)
    _tamper(path, how, marker)
    with pytest.warns(EcgArtWarning, match=r"(corrupt or foreign|inconsistent) cache file"):
        rebuilt = load_beats(db, CFG, cache_dir=cache)
    assert not marker.exists(), "a pickle inside the cache file was executed"
    assert rebuilt.fingerprint() == good.fingerprint()
    np.testing.assert_array_equal(rebuilt.symbol, good.symbol)
    # the file was replaced by a clean one: plain arrays only, loadable without pickle, served warm next time
    arrays, _ = _arrays_and_key(_cache_file(cache))
    assert all(a.dtype != object for a in arrays.values())
    assert load_beats(db, CFG, cache_dir=cache).fingerprint() == good.fingerprint()


def test_payload_is_live(tmp_path):
    """Control: the payload used above does run code when unpickled unsafely, so its absence above means something."""
    marker = tmp_path / "pwned"
    pickle.loads(pickle.dumps(Payload(marker)))
    assert marker.read_text() == "code from a pickle ran"


def test_garbage_checksum_memo_is_ignored_and_files_still_verified(db, tmp_path):
    """The persisted SHA-256 memo in the cache folder is a hint: garbage in it is ignored, hashes are recomputed."""
    cache = tmp_path / "cache"
    load_beats(db, CFG, cache_dir=cache)
    memo = cache / "sha256-verified.json"
    assert memo.is_file()
    memo.write_text("{not json")
    with open(db / "101.dat", "r+b") as fh:  # same size, different bytes: only the checksum can tell
        fh.seek(1000)
        fh.write(bytes(b ^ 0xFF for b in fh.read(16)))
    from ecg_art.data import records

    records._hash_memo.clear()  # a new process: nothing remembered in memory
    with pytest.raises(ChecksumError, match="101.dat"):
        load_beats(db, CFG, cache_dir=cache)


def test_checkpoint_with_pickled_code_is_refused_on_resume(tmp_path):
    marker = tmp_path / "pwned"
    ckpt = tmp_path / "ckpt"
    ckpt.mkdir()
    torch.save({"format": CHECKPOINT_FORMAT, "epoch": 0, "model": Payload(marker)}, ckpt / "last.pt")
    x, y = tiny_problem()
    with pytest.raises(CheckpointError, match="cannot be loaded safely"):
        fit_classifier(tiny_classifier(), x, y, validation_data=(x[:30], y[:30]), nb_epochs=2, batch_size=32,
                       checkpoint_dir=ckpt, resume=True)
    assert not marker.exists()


@pytest.mark.parametrize("payload", [{"epoch": 0}, {"epoch": 0, "model": {}, "optimizer": {}, "history": 3},
                                     {"epoch": "x", "model": None}])
def test_checkpoint_with_the_right_tag_but_wrong_content_is_refused(tmp_path, payload):
    ckpt = tmp_path / "ckpt"
    ckpt.mkdir()
    torch.save({"format": CHECKPOINT_FORMAT, **payload}, ckpt / "last.pt")
    x, y = tiny_problem()
    with pytest.raises(CheckpointError, match="last.pt"):
        fit_classifier(tiny_classifier(), x, y, validation_data=(x[:30], y[:30]), nb_epochs=2, batch_size=32,
                       checkpoint_dir=ckpt, resume=True)


def test_checkpoint_truncated_is_refused(tmp_path):
    buf = io.BytesIO()
    torch.save({"format": CHECKPOINT_FORMAT, "model": {"w": torch.ones(1000)}}, buf)
    path = tmp_path / "c.pt"
    path.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    with pytest.raises(CheckpointError, match="c.pt"):
        load_checkpoint(path)
