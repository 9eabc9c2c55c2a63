"""The real NSTDB noise records (ECG_ART_NOISE_DATA, else <repo>/../shared/data/nstdb); skipped without them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ecg_art.data import read_noise_record
from ecg_art.noise import noise_source
from tests.realdata import require_shared_data

pytestmark = pytest.mark.realdata


@pytest.fixture(scope="module")
def nstdb_real() -> Path:
    return require_shared_data("ECG_ART_NOISE_DATA", "nstdb", "bw.hea", "NSTDB noise records")


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
