"""Noise mixing at an SNR of the NSTDB definition, checked against hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest

from ecg_art.exceptions import ConfigError
from ecg_art.noise import add_noise, minmax, noise_rms, nst_gain, nst_snr_db, qrs_amplitude


def _beat(amplitude: float = 1.0, length: int = 256, r: int = 90) -> np.ndarray:
    x = np.zeros((1, 1, length))
    x[0, 0, r] = amplitude  # QRS peak-to-peak = amplitude
    return x


def test_snr_against_hand_computed_value():
    # A_pp = 2, noise = +-1 square wave (RMS 1) at 0 dB: S = 2**2 / 8 = 0.5, so the noise RMS must be sqrt(0.5)
    x = _beat(2.0)
    noise = np.tile([1.0, -1.0], 128).reshape(1, 1, 256)
    noisy = add_noise(x, noise, snr_db=0.0, noise_rms_value=1.0)
    added = (noisy - x.astype(np.float32))[0, 0]
    assert np.sqrt(np.mean(added ** 2)) == pytest.approx(np.sqrt(0.5), rel=1e-5)
    # 20 dB more SNR is 10 times less noise amplitude
    quieter = add_noise(x, noise, snr_db=20.0, noise_rms_value=1.0) - x.astype(np.float32)
    assert np.abs(quieter).max() == pytest.approx(np.abs(added).max() / 10, rel=1e-5)


def test_nst_gain_is_the_wfdb_formula():
    # nst.c: nsr = 10**(-snr/20) * sqrt(2)/4; gain = nsr * asig / anoise
    assert float(nst_gain(12.0, signal_pp=1.5, noise_rms_value=0.2)) == pytest.approx(
        10 ** (-12 / 20) * np.sqrt(2) / 4 * 1.5 / 0.2)
    assert float(nst_snr_db(1.5, 1.5 * 10 ** (-12 / 20) * np.sqrt(2) / 4)) == pytest.approx(12.0)


@pytest.mark.parametrize("snr", [24.0, 6.0, -6.0])
def test_own_rms_gives_exact_snr_per_beat(snr):
    rng = np.random.default_rng(0)
    x = rng.random((5, 1, 256))
    noise = rng.standard_normal((5, 1, 256))
    noisy = add_noise(x, noise, snr_db=snr, noise_rms_value=None)
    added = (noisy - x)[:, 0]
    measured = nst_snr_db(qrs_amplitude(x), added.std(axis=1))
    np.testing.assert_allclose(measured, snr, atol=1e-4)


def test_renormalize_keeps_snr_and_unit_range():
    rng = np.random.default_rng(1)
    x = minmax(rng.random((4, 1, 256)))
    noise = rng.standard_normal((4, 1, 256))
    raw = add_noise(x, noise, snr_db=6.0, noise_rms_value=None)
    scaled = add_noise(x, noise, snr_db=6.0, noise_rms_value=None, renormalize=True)
    assert scaled.min() >= 0 and scaled.max() <= 1 + 1e-6
    np.testing.assert_allclose(scaled, minmax(raw), atol=1e-6)


def test_input_not_mutated_and_shape_dtype():
    x = _beat()
    before = x.copy()
    out = add_noise(x, np.ones_like(x) * np.linspace(-1, 1, 256), snr_db=6.0)
    assert out.shape == x.shape and out.dtype == np.float32
    np.testing.assert_array_equal(x, before)


def test_qrs_amplitude_window_is_50_ms():
    x = np.zeros((1, 256))
    x[0, 90 + 18] = 1.0  # inside +-18 samples at 360 Hz
    x[0, 90 - 19] = -5.0  # outside
    assert qrs_amplitude(x).tolist() == [1.0]


def test_noise_rms_is_baseline_corrected_trimmed_mean():
    t = np.arange(360 * 20)
    sig = 100.0 + np.where(t % 2, 1.0, -1.0)  # offset removed, RMS 1 in every window
    assert noise_rms(sig) == pytest.approx(1.0)
    sig[:360] *= 50  # one loud window out of 20 is trimmed away (5 %)
    assert noise_rms(sig) == pytest.approx(1.0)


@pytest.mark.parametrize("kwargs, match", [
    ({"snr_db": float("nan")}, "snr_db"),
    ({"snr_db": 6.0, "noise_rms_value": 0.0}, "noise_rms_value"),
])
def test_bad_parameters_name_themselves(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        add_noise(_beat(), np.ones((1, 1, 256)), **kwargs)


def test_bad_shapes():
    with pytest.raises(ConfigError, match="noise"):
        add_noise(_beat(), np.ones((2, 1, 256)), snr_db=6.0)
    with pytest.raises(ConfigError, match="`x`"):
        add_noise(np.ones(256), np.ones(256), snr_db=6.0)
    with pytest.raises(ConfigError, match="constant"):
        add_noise(_beat(), np.ones((1, 1, 256)), snr_db=6.0, noise_rms_value=None)
    with pytest.raises(ConfigError, match="NaN"):
        add_noise(_beat() * np.nan, np.ones((1, 1, 256)), snr_db=6.0)


def test_context_noise_is_scaled_against_the_beat_and_rescaled_with_its_window():
    # a 1,024-sample context in the unit of its beat window [412, 668): QRS of A_pp 1 at sample 502
    ctx = np.zeros((1, 1, 1024))
    ctx[0, 0, 502] = 1.0
    ctx[0, 0, 100] = 3.0  # a tall earlier beat: outside the beat window, it stays above 1 after rescaling
    noise = np.tile([1.0, -1.0], 512).reshape(1, 1, 1024)  # RMS 1 over the whole context
    raw = add_noise(ctx, noise, snr_db=6.0, noise_rms_value=1.0, r_offset=502)
    # hand-computed gain: 10^(-6/20) sqrt(2)/4 * A_pp / 1, on every sample of the context
    gain = 10 ** (-6 / 20) * np.sqrt(2) / 4
    assert np.allclose(raw - ctx.astype(np.float32), gain * noise, atol=1e-6)
    out = add_noise(ctx, noise, snr_db=6.0, noise_rms_value=1.0, r_offset=502, renormalize=True,
                    norm_span=(412, 668), clip=(-4.0, 2.0))
    beat = out[0, 0, 412:668]
    assert beat.min() == pytest.approx(0.0, abs=1e-6) and beat.max() == pytest.approx(1.0, abs=1e-6)
    lo, hi = raw[0, 0, 412:668].min(), raw[0, 0, 412:668].max()
    assert out[0, 0, 100] == pytest.approx(min((raw[0, 0, 100] - lo) / (hi - lo), 2.0), rel=1e-5)
    assert out[0, 0, 100] == 2.0  # clipped as the data pipeline clips contexts
    assert np.allclose(minmax(raw, span=(412, 668))[0, 0, :100], ((raw - lo) / (hi - lo))[0, 0, :100], atol=1e-6)


@pytest.mark.parametrize("kwargs, match", [({"norm_span": (600, 300)}, "norm_span"),
                                           ({"norm_span": (0, 2000)}, "norm_span"),
                                           ({"clip": (1.0, 0.0)}, "clip")])
def test_bad_context_scaling_names_itself(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        add_noise(_beat(length=1024), np.ones((1, 1, 1024)), snr_db=0.0, r_offset=502, renormalize=True, **kwargs)
