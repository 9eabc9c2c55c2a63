"""Small synthetic NSTDB-like noise records (two channels, fmt 212, wfdb.wrsamp) with a SHA256SUMS, for noise tests."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

FS = 360
SECONDS = 40


def write_noise_record(directory: Path, name: str, *, seconds: int = SECONDS, seed: int = 0,
                       fs: int = FS) -> np.ndarray:
    """Write ``name.hea/.dat`` (no annotations, as NSTDB's noise records): slow wander plus white noise per channel."""
    import wfdb

    rng = np.random.default_rng(seed)
    t = np.arange(seconds * fs) / fs
    sig = np.stack([0.3 * np.sin(2 * np.pi * 0.3 * t + ch) + 0.05 * rng.standard_normal(t.size) for ch in range(2)],
                   axis=1)
    wfdb.wrsamp(name, fs=fs, units=["mV", "mV"], sig_name=["noise1", "noise2"], p_signal=sig, fmt=["212", "212"],
                write_dir=str(directory))
    return sig


def write_sums(directory: Path) -> None:
    lines = [f"{hashlib.sha256(f.read_bytes()).hexdigest()}  {f.name}" for f in sorted(directory.iterdir())
             if f.suffix in (".hea", ".dat")]
    (directory / "SHA256SUMS").write_text("\n".join(lines) + "\n")


@pytest.fixture
def nstdb(tmp_path: Path) -> Path:
    """A folder holding synthetic ``bw`` and ``ma`` records and their checksums."""
    write_noise_record(tmp_path, "bw", seed=1)
    write_noise_record(tmp_path, "ma", seed=2)
    write_sums(tmp_path)
    return tmp_path
