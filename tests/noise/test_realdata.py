"""The real NSTDB noise records (ECG_ART_NOISE_DATA, else <repo>/../shared/data/nstdb); skipped without them."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from ecg_art.data import read_noise_record
from ecg_art.noise import noise_source

pytestmark = pytest.mark.realdata


@pytest.fixture(scope="module")
def nstdb_real() -> Path:
    env = os.environ.get("ECG_ART_NOISE_DATA")
    candidates = [Path(env)] if env else []
    candidates.append(Path(__file__).resolve().parents[2].parent / "shared" / "data" / "nstdb")
    path = next((p for p in candidates if (p / "bw.hea").is_file()), None)
    if path is None:
        pytest.skip("NSTDB noise records not found (set ECG_ART_NOISE_DATA or provide ../shared/data/nstdb)")
    return path


@pytest.mark.parametrize("record", ["bw", "ma"])
def test_records_verify_and_read(nstdb_real, record):
    assert (nstdb_real / "SHA256SUMS").is_file()
    sig = read_noise_record(record, nstdb_real)  # checksums verified
    assert sig.shape == (2, 650000) and np.all(np.isfinite(sig))


def test_halves_are_calibrated(nstdb_real):
    for kind in ("bw", "ma"):
        train, test = (noise_source(kind, part=p, noise_dir=nstdb_real) for p in ("train", "test"))
        assert train.offset == 0 and test.offset == 325000
        assert all(0.01 < r < 1.0 for r in train.calibration_rms + test.calibration_rms)  # tens of microvolts
