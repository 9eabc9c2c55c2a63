"""Synthetic context windows (neurokit2.ecg_simulate, seeded, fs=360) shared by the feature tests."""

from __future__ import annotations

import neurokit2 as nk
import numpy as np
import pytest

from ecg_art.features import context_windows

FS = 360


def simulate_windows(heart_rate: int, *, seed: int = 0, duration: int = 20):
    """Normalised 1024-sample context windows of a simulated ECG, their R peaks and the true previous RR (s)."""
    sig = nk.ecg_simulate(duration=duration, sampling_rate=FS, heart_rate=heart_rate, random_state=seed)
    peaks = np.asarray(nk.ecg_peaks(sig, sampling_rate=FS)[1]["ECG_R_Peaks"])
    x, kept = context_windows(sig, peaks)
    kept_inner = kept[(kept > 0) & (kept < len(peaks) - 1)]
    x = x[np.isin(kept, kept_inner)]
    rr_pre = (peaks[kept_inner] - peaks[kept_inner - 1]) / FS
    rr_post = (peaks[kept_inner + 1] - peaks[kept_inner]) / FS
    return x, rr_pre, rr_post


@pytest.fixture(scope="session")
def windows_by_hr():
    return {hr: simulate_windows(hr) for hr in (60, 80, 110)}


@pytest.fixture(scope="session")
def windows(windows_by_hr):
    return windows_by_hr[80][0]
