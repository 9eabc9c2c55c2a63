"""Data folder resolution, download fallback, record verification and annotation counting on synthetic records."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ecg_art.data import (MITDB_RECORDS, count_annotations, fetch_mitdb, resolve_cache_dir, resolve_data_dir,
                          verify_record)
from ecg_art.data import records as records_mod
from ecg_art.exceptions import ChecksumError, ConfigError, DataNotFoundError, EcgArtError, RecordError
from tests.data.conftest import FS, SECONDS, SYMBOL_CYCLE, bump_mtime, write_record, write_sha256sums


def test_resolve_data_dir_precedence(tmp_path, monkeypatch):
    monkeypatch.setenv("ECG_ART_DATA", str(tmp_path / "env"))
    monkeypatch.setenv("ECG_ART_CACHE", str(tmp_path / "cache"))
    assert resolve_data_dir(tmp_path / "flag") == tmp_path / "flag"
    assert resolve_data_dir() == tmp_path / "env"
    monkeypatch.delenv("ECG_ART_DATA")
    assert resolve_data_dir() == tmp_path / "cache" / "mitdb"
    monkeypatch.delenv("ECG_ART_CACHE")
    assert resolve_data_dir() == Path("~/.cache/ecg_art/mitdb").expanduser()
    assert resolve_cache_dir(tmp_path / "c") == tmp_path / "c"


def test_fetch_offline_says_how_to_use_local_copy(tmp_path, monkeypatch):
    import wfdb

    def offline(*args, **kwargs):
        raise ConnectionError("no route to host")

    monkeypatch.setattr(wfdb, "dl_database", offline)
    with pytest.raises(DataNotFoundError, match="--data-dir") as err:
        fetch_mitdb(tmp_path / "mitdb")
    assert "ECG_ART_DATA" in str(err.value) and "ConnectionError" in str(err.value)


def test_fetch_downloads_into_data_dir_and_skips_when_complete(tmp_path, monkeypatch):
    import wfdb

    calls = []

    def fake_download(db, dl_dir, **kwargs):
        calls.append((db, dl_dir))
        for rec in MITDB_RECORDS:
            for ext in (".hea", ".dat", ".atr"):
                (Path(dl_dir) / f"{rec}{ext}").write_bytes(b"x")

    monkeypatch.setattr(wfdb, "dl_database", fake_download)
    monkeypatch.setenv("ECG_ART_DATA", str(tmp_path / "envdata"))
    assert fetch_mitdb() == tmp_path / "envdata"
    assert calls == [("mitdb", str(tmp_path / "envdata"))]
    fetch_mitdb()  # complete now: no second download
    assert len(calls) == 1


def test_fetch_incomplete_download_is_an_error(tmp_path, monkeypatch):
    import wfdb

    monkeypatch.setattr(wfdb, "dl_database", lambda db, dl_dir, **kw: None)
    with pytest.raises(DataNotFoundError, match="incomplete"):
        fetch_mitdb(tmp_path / "mitdb")


def test_missing_or_empty_data_dir(tmp_path, monkeypatch):
    monkeypatch.delenv("ECG_ART_DATA", raising=False)
    with pytest.raises(DataNotFoundError, match="ecg-art data fetch") as err:
        count_annotations(tmp_path / "nowhere")
    assert "ECG_ART_DATA" in str(err.value)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataNotFoundError, match="no WFDB records"):
        count_annotations(tmp_path / "empty")


def test_verify_good_record(synth_master):
    info = verify_record("114", synth_master.path)
    assert info.fs == FS and info.sig_len == FS * SECONDS
    assert info.sig_name == ("V1", "MLII") and info.fmt == ("212", "212")


@pytest.mark.parametrize("ext", [".hea", ".dat", ".atr"])
def test_missing_file_named(synth, ext):
    (synth.path / f"100{ext}").unlink()
    with pytest.raises(DataNotFoundError, match=f"100\\{ext}"):
        verify_record("100", synth.path)


def test_truncated_dat_flagged(synth):
    dat = synth.path / "101.dat"
    dat.write_bytes(dat.read_bytes()[:-300])
    with pytest.raises(RecordError, match="truncated") as err:
        verify_record("101", synth.path)
    assert "101.dat" in str(err.value)


def test_corrupt_header_wrapped(synth):
    (synth.path / "103.hea").write_text("this is not a header\n\x00\x01")
    with pytest.raises(RecordError, match="103.hea") as err:
        verify_record("103", synth.path, checksums=False)
    assert isinstance(err.value, EcgArtError)


def test_corrupt_annotations_wrapped(synth):
    (synth.path / "105.atr").write_bytes(np.random.default_rng(0).bytes(300))
    with pytest.raises(RecordError, match="105.atr"):
        count_annotations(synth.path, ["105"])


def test_checksum_mismatch_names_file(synth):
    dat = synth.path / "106.dat"
    data = bytearray(dat.read_bytes())
    data[100] ^= 0xFF  # same size, different content
    dat.write_bytes(bytes(data))
    bump_mtime(dat)
    with pytest.raises(ChecksumError, match="106.dat"):
        verify_record("106", synth.path)
    assert verify_record("106", synth.path, checksums=False).name == "106"


def test_malformed_checksum_file(synth):
    (synth.path / "SHA256SUMS").write_text("nothex 100.hea\n")
    with pytest.raises(ChecksumError, match="SHA256SUMS"):
        verify_record("100", synth.path)


def test_checksums_hashed_once_per_process(synth, monkeypatch):
    verify_record("108", synth.path)
    calls = []
    real = records_mod.hashlib.sha256
    monkeypatch.setattr(records_mod.hashlib, "sha256", lambda *a: calls.append(a) or real(*a))
    verify_record("108", synth.path)
    assert calls == []


def test_wrong_fs_and_length(tmp_path):
    write_record(tmp_path, "100", fs=250, seconds=10)
    with pytest.raises(RecordError, match="250"):
        verify_record("100", tmp_path)
    assert verify_record("100", tmp_path, expected_fs=None).fs == 250
    with pytest.raises(RecordError, match="650000"):
        verify_record("100", tmp_path, expected_fs=None, expected_length=650000)


def test_count_annotations_matches_written_beats(synth_master):
    names = ["100", "114", "102"]
    counts = count_annotations(synth_master.path, names)
    symbols = [s for n in names for s in synth_master.records[n].symbols]
    expected = {"N": symbols.count("N"), "S": symbols.count("A"), "V": symbols.count("V"),
                "F": symbols.count("F"), "Q": symbols.count("/")}
    assert counts == expected and sum(counts.values()) == len(symbols)
    assert set(SYMBOL_CYCLE) <= set(symbols)  # every class, '+' and '~' excluded


def test_count_annotations_unknown_record(synth_master):
    with pytest.raises(ConfigError, match="999"):
        count_annotations(synth_master.path, ["999"])


def test_checksum_file_is_optional(synth):
    (synth.path / "SHA256SUMS").unlink()
    assert verify_record("100", synth.path).name == "100"
    write_sha256sums(synth.path)
    assert verify_record("100", synth.path).name == "100"


def test_fast_header_parser_agrees_with_wfdb(synth_master):
    import wfdb

    for name in ("100", "114", "102"):
        fast = records_mod._parse_header((synth_master.path / f"{name}.hea").read_text())
        ref = wfdb.rdheader(str(synth_master.path / name))
        assert (fast.n_sig, fast.fs, fast.sig_len) == (ref.n_sig, ref.fs, ref.sig_len)
        assert list(fast.sig_name) == ref.sig_name and list(fast.fmt) == ref.fmt
        assert list(fast.file_name) == ref.file_name
    assert records_mod._parse_header("x 2 360\n") is None  # unusual: wfdb decides
