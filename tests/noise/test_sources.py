"""The NSTDB reader on synthetic WFDB noise records, and the train/test parts of the noise sources."""

from __future__ import annotations

import numpy as np
import pytest

from ecg_art.data import read_noise_record, resolve_noise_dir
from ecg_art.exceptions import ChecksumError, ConfigError, DataNotFoundError, RecordError
from ecg_art.noise import noise_source
from tests.noise.conftest import FS, SECONDS, write_noise_record


def test_reader_returns_channels_in_mv(tmp_path):
    written = write_noise_record(tmp_path, "bw", seed=1)
    sig = read_noise_record("bw", tmp_path)
    assert sig.shape == (2, FS * SECONDS)
    np.testing.assert_allclose(sig, written.T, atol=2e-3)  # 12-bit fmt 212 quantisation


def test_reader_missing_folder_and_files_say_how_to_get_them(tmp_path):
    with pytest.raises(DataNotFoundError, match="does not exist.*nstdb"):
        read_noise_record("bw", tmp_path / "absent")
    with pytest.raises(DataNotFoundError, match=r"missing bw.hea, bw.dat.*ECG_ART_NOISE_DATA"):
        read_noise_record("bw", tmp_path)


def test_reader_checks_checksums_and_truncation(nstdb):
    dat = nstdb / "ma.dat"
    data = dat.read_bytes()
    dat.write_bytes(data[:-1] + bytes([data[-1] ^ 0xFF]))
    with pytest.raises(ChecksumError, match="ma"):
        read_noise_record("ma", nstdb)
    read_noise_record("ma", nstdb, checksums=False)
    dat.write_bytes(data[: len(data) // 2])
    with pytest.raises(RecordError, match="truncated"):
        read_noise_record("ma", nstdb, checksums=False)


def test_reader_refuses_another_sampling_rate(tmp_path):
    write_noise_record(tmp_path, "bw", fs=250, seconds=5)
    with pytest.raises(RecordError, match="sampling rate"):
        read_noise_record("bw", tmp_path)


def test_reader_bad_record_name(nstdb):
    with pytest.raises(ConfigError, match="record"):
        read_noise_record("../bw", nstdb)


def test_resolve_noise_dir_order(tmp_path, monkeypatch):
    monkeypatch.delenv("ECG_ART_NOISE_DATA", raising=False)
    (tmp_path / "nstdb").mkdir()
    assert resolve_noise_dir(None, data_dir=tmp_path / "mitdb") == tmp_path / "nstdb"
    monkeypatch.setenv("ECG_ART_NOISE_DATA", str(tmp_path / "env"))
    assert resolve_noise_dir(None, data_dir=tmp_path / "mitdb") == tmp_path / "env"
    assert resolve_noise_dir(tmp_path / "flag") == tmp_path / "flag"


def test_train_and_test_segments_are_disjoint(nstdb):
    train = noise_source("bw", part="train", noise_dir=nstdb)
    test = noise_source("bw", part="test", noise_dir=nstdb)
    rng = np.random.default_rng(0)
    a, b = train.draw(500, 256, rng), test.draw(500, 256, rng)
    train_samples = set((a.start[:, None] + np.arange(256)).ravel().tolist())
    test_samples = set((b.start[:, None] + np.arange(256)).ravel().tolist())
    assert not train_samples & test_samples
    assert (a.start + 256).max() <= test.offset <= b.start.min()
    assert train.signal.shape[1] + test.signal.shape[1] == FS * SECONDS


def test_segments_are_in_calibration_rms_units(nstdb):
    from ecg_art.noise import noise_rms

    src = noise_source("ma", part="test", noise_dir=nstdb)
    assert all(noise_rms(ch) == pytest.approx(1.0) for ch in src.signal)
    raw = read_noise_record("ma", nstdb)[:, src.offset:]
    np.testing.assert_allclose(src.signal * np.asarray(src.calibration_rms)[:, None], raw)


def test_draw_segments_match_the_record(nstdb):
    src = noise_source("bw", part="test", noise_dir=nstdb)
    d = src.draw(3, 100, np.random.default_rng(3))
    raw = read_noise_record("bw", nstdb)
    for seg, ch, start in zip(d.segments, d.channel, d.start):
        np.testing.assert_allclose(seg * src.calibration_rms[ch], raw[ch, start:start + 100])


def test_gaussian_source_and_bad_arguments(nstdb):
    g = noise_source("gauss", part="train")
    assert g.draw(4, 256, np.random.default_rng(0)).segments.shape == (4, 256)
    with pytest.raises(ConfigError, match="kind"):
        noise_source("em", part="test", noise_dir=nstdb)
    with pytest.raises(ConfigError, match="part"):
        noise_source("bw", part="val", noise_dir=nstdb)
    with pytest.raises(ConfigError, match="split"):
        noise_source("bw", part="test", noise_dir=nstdb, split=1.0)
    with pytest.raises(ConfigError, match="length"):
        g.draw(2, 1, np.random.default_rng(0))


@pytest.mark.parametrize("kind", ["bw", "gauss"])
def test_chunked_draws_put_together_are_one_draw(nstdb, kind):
    src = noise_source(kind, part="test", noise_dir=nstdb)
    whole = src.draw(7, 300, np.random.default_rng(5))
    parts = list(src.iter_draw(7, 300, np.random.default_rng(5), chunk_size=3))
    assert [len(p.segments) for p in parts] == [3, 3, 1]
    assert np.array_equal(np.concatenate([p.segments for p in parts]), whole.segments)
    assert np.array_equal(np.concatenate([p.start for p in parts]), whole.start)
    with pytest.raises(ConfigError, match="chunk_size"):
        next(src.iter_draw(7, 300, np.random.default_rng(5), chunk_size=0))
