"""Synthetic WFDB records (neurokit2 signals, wfdb fmt 212, .atr beat annotations, SHA256SUMS) for data tests."""

from __future__ import annotations

import hashlib
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

FS = 360
SECONDS = 24
EDGE_BEAT = 40  # an extra 'N' this close to the start: its default window (r_offset 90) runs past the edge
SYMBOL_CYCLE = ("N", "N", "A", "N", "V", "N", "F", "N", "/", "N")
# record name -> signal names (114 has MLII second, 102 has no MLII, like the real database)
SYNTH_LEADS = {
    "100": ("MLII", "V1"), "103": ("MLII", "V1"), "105": ("MLII", "V1"),  # DS2
    "101": ("MLII", "V1"), "106": ("MLII", "V1"), "108": ("MLII", "V1"), "114": ("V1", "MLII"),  # DS1
    "102": ("V5", "V2"),  # paced
}
SYNTH_DS1 = ("101", "106", "108", "114")
SYNTH_DS2 = ("100", "103", "105")


@dataclass
class SynthRecord:
    samples: np.ndarray
    symbols: list[str]
    signal: np.ndarray  # (n, 2) physical signal as written (before 12-bit quantisation)


def write_record(directory: Path, name: str, *, sig_name=("MLII", "V1"), fs: int = FS, seconds: int = SECONDS,
                 seed: int = 0, nan_span: tuple[int, int] | None = None) -> SynthRecord:
    """Write ``name.hea/.dat/.atr`` into ``directory``: neurokit2 ECG on two channels, beats of several classes."""
    import neurokit2 as nk
    import wfdb

    ecg = nk.ecg_simulate(duration=seconds, sampling_rate=fs, heart_rate=70 + 3 * seed, noise=0.01,
                          random_state=seed, method="simple")
    other = nk.ecg_simulate(duration=seconds, sampling_rate=fs, heart_rate=70 + 3 * seed, noise=0.01,
                            random_state=seed + 100, method="simple")
    main = list(sig_name).index("MLII") if "MLII" in sig_name else 0  # the channel the beats are seen on
    sig = np.stack([ecg if ch == main else -0.5 * other for ch in range(2)], axis=1)
    if nan_span is not None:
        sig[nan_span[0]:nan_span[1], :] = np.nan
    _, info = nk.ecg_peaks(ecg, sampling_rate=fs)
    peaks = np.asarray(info["ECG_R_Peaks"], dtype=np.int64)
    peaks = np.concatenate([[EDGE_BEAT], peaks[peaks > EDGE_BEAT + 60]])
    symbols = [SYMBOL_CYCLE[i % len(SYMBOL_CYCLE)] for i in range(len(peaks))]
    wfdb.wrsamp(name, fs=fs, units=["mV", "mV"], sig_name=list(sig_name), p_signal=sig, fmt=["212", "212"],
                write_dir=str(directory))
    # non-beat annotations: a rhythm label at the start and a noise marker between two beats
    mid = (peaks[3] + peaks[4]) // 2
    ann_samples = np.concatenate([[1], peaks, [mid]])
    ann_symbols = ["+"] + symbols + ["~"]
    aux = ["(N"] + [""] * len(peaks) + [""]
    order = np.argsort(ann_samples, kind="stable")
    wfdb.wrann(name, "atr", ann_samples[order], symbol=[ann_symbols[i] for i in order],
               aux_note=[aux[i] for i in order], write_dir=str(directory))
    return SynthRecord(samples=peaks, symbols=symbols, signal=sig)


def write_sha256sums(directory: Path) -> None:
    """Write a two-space ``sha256sum``-format SHA256SUMS for every record file in ``directory``."""
    lines = []
    for f in sorted(directory.iterdir()):
        if f.suffix in (".hea", ".dat", ".atr"):
            lines.append(f"{hashlib.sha256(f.read_bytes()).hexdigest()}  {f.name}")
    (directory / "SHA256SUMS").write_text("\n".join(lines) + "\n")


@dataclass
class SynthDB:
    path: Path
    records: dict[str, SynthRecord]


@pytest.fixture(scope="session")
def synth_master(tmp_path_factory) -> SynthDB:
    """A read-only synthetic database of 8 records (see SYNTH_LEADS), built once per session."""
    path = tmp_path_factory.mktemp("synth_mitdb")
    records = {name: write_record(path, name, sig_name=leads, seed=i) for i, (name, leads) in
               enumerate(SYNTH_LEADS.items())}
    write_sha256sums(path)
    return SynthDB(path=path, records=records)


@pytest.fixture
def synth(synth_master, tmp_path) -> SynthDB:
    """A private copy of the synthetic database that a test may damage."""
    path = tmp_path / "mitdb"
    shutil.copytree(synth_master.path, path)
    return SynthDB(path=path, records=synth_master.records)


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path, monkeypatch):
    """Keep every test's caches inside its tmp_path (never ~/.cache)."""
    monkeypatch.setenv("ECG_ART_CACHE", str(tmp_path / "cache_home"))


def bump_mtime(path: Path, seconds: float = 5.0) -> None:
    """Move a file's mtime forward so size+mtime keyed caches see the change whatever the clock granularity."""
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + int(seconds * 1e9)))
