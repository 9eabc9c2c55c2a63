"""BandpassFilter: filtering, ART integration, BPDA gradients and attacks running through it."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ecg_art.attacks import get_attack
from ecg_art.defences import BandpassFilter, apply_defence, bandpass_beats
from ecg_art.exceptions import ConfigError

FS = 360.0


def _beats(n: int = 4, length: int = 256, *, hf: float = 0.0, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(length) / FS
    base = 0.5 + 0.3 * np.sin(2 * np.pi * 3.0 * t)[None, :] * rng.uniform(0.5, 1.0, (n, 1))
    return (base + hf * np.sin(2 * np.pi * 100.0 * t)[None, :])[:, None, :].astype(np.float32)


def _band_power(x: np.ndarray, lo_hz: float, hi_hz: float) -> float:
    spec = np.abs(np.fft.rfft(x, axis=-1)) ** 2
    freqs = np.fft.rfftfreq(x.shape[-1], d=1 / FS)
    return float(spec[..., (freqs >= lo_hz) & (freqs <= hi_hz)].sum())


def test_removes_high_frequency_noise_and_keeps_the_band():
    clean, noisy = _beats(), _beats(hf=0.1)
    filtered, _ = BandpassFilter(device_type="cpu")(noisy)
    assert filtered.shape == noisy.shape and filtered.dtype == np.float32
    assert _band_power(filtered, 80, 120) < 0.01 * _band_power(noisy, 80, 120)
    # the 3 Hz content (and the mean) survives: filtered noisy beats are close to the clean ones
    assert float(np.abs(filtered - clean).max()) < 0.05


def test_keep_mean_restores_the_dc_level():
    x = _beats()
    assert np.allclose(bandpass_beats(x).mean(axis=-1), x.mean(axis=-1), atol=1e-3)
    assert np.abs(bandpass_beats(x, keep_mean=False).mean(axis=-1)).max() < 0.05


@pytest.mark.parametrize("kw", [{"low_hz": 50.0, "high_hz": 40.0}, {"high_hz": 200.0}, {"order": 0}, {"fs": -1.0}])
def test_bad_parameters_are_named(kw):
    with pytest.raises(ConfigError, match="`(low_hz|order|fs)`"):
        BandpassFilter(**kw)


def test_bpda_gradient_is_the_model_gradient_at_the_filtered_input(trained_classifier):
    clf, x, y = trained_classifier
    x_noisy = np.clip(x[:8] + 0.05 * np.sin(np.arange(x.shape[-1]) * 2.5)[None, None, :], 0, 1).astype(np.float32)
    bp = BandpassFilter(fs=FS, device_type="cpu")
    defended = apply_defence(clf, bp)
    grad = defended.loss_gradient(x_noisy, y[:8])
    expected = clf.loss_gradient(bp(x_noisy)[0], y[:8])  # identity Jacobian of the filter (straight-through)
    assert np.abs(grad).max() > 0
    np.testing.assert_allclose(grad, expected, rtol=1e-4, atol=1e-6)
    assert np.array_equal(bp.estimate_gradient(x_noisy, grad), grad)


def test_torch_forward_is_straight_through():
    bp = BandpassFilter(device_type="cpu")
    x = torch.from_numpy(_beats(hf=0.1)).requires_grad_(True)
    out, _ = bp.forward(x)
    out.sum().backward()
    assert torch.allclose(x.grad, torch.ones_like(x))
    assert not torch.allclose(out, x)


@pytest.mark.parametrize("attack", ["pgd", "fgsm", "ta-apgd", "sap"])
def test_attacks_run_through_the_filter_within_budget(trained_classifier, attack):
    clf, x, y = trained_classifier
    defended = apply_defence(clf, BandpassFilter(fs=FS, clip_values=(0.0, 1.0), device_type="cpu"))
    eps = 0.05
    kw = {"max_iter": 5} if attack == "pgd" else {"steps": 5} if attack == "ta-apgd" else {}
    x_adv = get_attack(attack, defended, eps=eps, **kw).generate(x, y)
    assert x_adv.shape == x.shape
    assert float(np.abs(x_adv - x).max()) <= eps + 1e-5
    assert x_adv.min() >= 0.0 and x_adv.max() <= 1.0
    clean_acc = float((np.argmax(defended.predict(x), 1) == y).mean())
    adv_acc = float((np.argmax(defended.predict(x_adv), 1) == y).mean())
    assert adv_acc <= clean_acc
