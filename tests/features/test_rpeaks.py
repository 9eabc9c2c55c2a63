"""The R-peak detector: synthetic records with known peaks, its robustness by construction, the modes, scoring, and
its validation on the real MIT-BIH records (realdata)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ecg_art.exceptions import ConfigError
from ecg_art.features.rpeak_validation import attack_detector, validate_rpeaks, vf_intervals
from ecg_art.features.rpeaks import PeakScores, RPeakConfig, RPeakDetector, detect_rpeaks, match_peaks
from tests.realdata import mitdb_dir

FS = 360
TOL = int(0.15 * FS)


def synthetic_ecg(peaks, n: int, *, amp: float = 1.0, seed: int = 0) -> np.ndarray:
    """QRS (10 ms Gaussian), P and T waves (a quarter of the QRS), baseline wander and a little noise at ``peaks``."""
    t = np.arange(n, dtype=np.float64)
    sig = 0.1 * amp * np.sin(2 * np.pi * 0.3 * t / FS)
    for p in peaks:
        sig += amp * np.exp(-0.5 * ((t - p) / (0.01 * FS)) ** 2)
        sig += 0.25 * amp * np.exp(-0.5 * ((t - p - 0.25 * FS) / (0.04 * FS)) ** 2)
        sig += 0.1 * amp * np.exp(-0.5 * ((t - p + 0.18 * FS) / (0.02 * FS)) ** 2)
    return (sig + np.random.default_rng(seed).normal(0, 0.01 * amp, n)).astype(np.float32)


def irregular_peaks(seconds: float, *, seed: int = 0) -> np.ndarray:
    """R peaks with RR drawn in 0.45-1.6 s (every 7th beat premature at 60 % of the previous RR)."""
    rng = np.random.default_rng(seed)
    out, t, k = [], 0.5 * FS, 0
    while t < (seconds - 0.5) * FS:
        out.append(int(t))
        rr = rng.uniform(0.45, 1.6)
        k += 1
        t += (0.6 if k % 7 == 0 else 1.0) * rr * FS
    return np.asarray(out)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_detect_rpeaks_finds_every_known_peak_and_nothing_else(seed):
    peaks = irregular_peaks(120, seed=seed)
    sig = synthetic_ecg(peaks, 120 * FS, seed=seed)
    found = detect_rpeaks(sig, fs=FS)
    s = match_peaks(found, peaks, tolerance=TOL)
    assert s.fn == 0 and s.fp == 0, s
    # positions: within a few samples of the true peak (averaged to 90 Hz: one grid step is 4 samples)
    nearest = np.abs(found[:, None] - peaks[None]).min(1)
    assert np.median(nearest) <= 4


def test_detector_is_scale_and_offset_invariant():
    peaks = irregular_peaks(30, seed=3)
    sig = synthetic_ecg(peaks, 30 * FS)
    a = detect_rpeaks(sig, fs=FS)
    b = detect_rpeaks(3.7 * sig - 1.2, fs=FS)
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("eps", [0.01, 0.05])
def test_sign_noise_of_eps_neither_creates_nor_erases_a_qrs(eps):
    """Random sign patterns (the FGSM shape) and a worst-case in-band square wave at eps x the QRS amplitude."""
    peaks = irregular_peaks(60, seed=4)
    sig = synthetic_ecg(peaks, 60 * FS)
    rng = np.random.default_rng(0)
    t = np.arange(sig.size)
    for pattern in (np.sign(rng.normal(size=sig.size)), np.sign(np.sin(2 * np.pi * 10 * t / FS))):
        s = match_peaks(detect_rpeaks(sig + eps * pattern.astype(np.float32), fs=FS), peaks, tolerance=TOL)
        assert s.fn == 0 and s.fp == 0, (eps, s)


def test_attack_on_the_detector_stays_in_the_ball_and_is_stronger_than_noise():
    peaks = irregular_peaks(24, seed=5)
    x = torch.as_tensor(synthetic_ecg(peaks, 24 * FS)).view(1, 1, -1)
    adv = attack_detector(x, eps=0.05, steps=5)
    assert adv.shape == x.shape and float((adv - x).abs().max()) <= 0.05 + 1e-6
    with pytest.raises(ConfigError, match="steps"):
        attack_detector(x, eps=0.05, steps=0)


def test_modes_bpda_forward_is_hard_and_soft_has_gradients():
    peaks = irregular_peaks(12, seed=6)
    x = torch.as_tensor(synthetic_ecg(peaks, 12 * FS)).view(1, 1, -1).repeat(2, 1, 1)
    hard = RPeakDetector(fs=FS, mode="hard")
    bpda = RPeakDetector(fs=FS, mode="bpda")
    h_peaks, h_pos = hard(x)
    xb = x.clone().requires_grad_(True)
    b_peaks, b_pos = bpda(xb)
    assert torch.equal(h_peaks, b_peaks.detach()) and torch.equal(h_pos, b_pos.detach())
    (b_peaks.sum() + (b_pos * h_peaks).sum()).backward()
    assert xb.grad is not None and float(xb.grad.abs().sum()) > 0
    with pytest.raises(ConfigError, match="mode"):
        RPeakDetector(mode="nope")
    with pytest.raises(ConfigError, match="shape"):
        hard(x[0])


def test_config_validation_names_the_parameter():
    with pytest.raises(ConfigError, match="threshold"):
        RPeakConfig(threshold=1.5)
    with pytest.raises(ConfigError, match="band_hz"):
        RPeakConfig(band_hz=(15.0, 5.0))
    with pytest.raises(ConfigError, match="ref_rank"):
        RPeakConfig(ref_rank=0)
    with pytest.raises(ConfigError, match="signal"):
        detect_rpeaks(np.array([np.nan, 1.0]))


def test_match_peaks_is_one_to_one_within_tolerance():
    s = match_peaks([100, 104, 300, 900], [102, 305, 600], tolerance=10)
    assert (s.tp, s.fp, s.fn) == (2, 2, 1)
    assert s.sensitivity == pytest.approx(2 / 3) and s.ppv == pytest.approx(0.5)
    assert (s + PeakScores(1, 0, 0)).tp == 3
    with pytest.raises(ConfigError, match="tolerance"):
        match_peaks([1], [1], tolerance=-1)


def test_vf_intervals_pair_the_episode_brackets():
    assert vf_intervals(["N", "[", "!", "]", "N", "[", "]"], [1, 10, 12, 20, 30, 40, 50]) == [(10, 20), (40, 50)]


DATA = mitdb_dir()


@pytest.mark.realdata
@pytest.mark.skipif(DATA is None, reason="MIT-BIH data directory not found")
def test_rpeaks_on_all_48_records_meet_the_qrs_detector_bar():
    """Sensitivity and positive predictivity >= 99.5 % against the reference annotations (150 ms), all 48 records,
    ventricular flutter excluded (measured 99.73 % / 99.91 %; Pan & Tompkins report 99.3 %)."""
    res = validate_rpeaks(DATA)
    total = sum((r.scores for r in res), PeakScores(0, 0, 0))
    assert len(res) == 48 and total.tp > 109_000
    assert total.sensitivity >= 0.995 and total.ppv >= 0.995, total.to_dict()


@pytest.mark.realdata
@pytest.mark.skipif(DATA is None, reason="MIT-BIH data directory not found")
def test_rpeak_attack_on_real_records_is_reported_and_bounded():
    clean = validate_rpeaks(DATA, ["100", "119"])
    attacked = validate_rpeaks(DATA, ["100", "119"], eps=0.05, steps=5)
    assert all(r.eps_mv > 0 for r in attacked) and all(r.eps_mv == 0 for r in clean)
    c = sum((r.scores for r in clean), PeakScores(0, 0, 0))
    a = sum((r.scores for r in attacked), PeakScores(0, 0, 0))
    assert a.fn + a.fp >= c.fn + c.fp  # an attack never helps the detector
