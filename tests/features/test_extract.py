"""Fast synthetic tests of the batched feature extractor (hard / soft / bpda modes)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ecg_art.exceptions import ConfigError
from ecg_art.features import (
    FEATURE_MODES,
    FEATURE_NAMES,
    FEATURE_UNITS,
    PIECEWISE_CONSTANT,
    FeatureExtractor,
    FeatureNormalizer,
    extract_features,
    feature_names,
)

RR = [FEATURE_NAMES.index(n) for n in ("rr_pre", "rr_post", "rr_ratio", "rr_local")]


def test_names_and_units():
    assert feature_names() == list(FEATURE_NAMES) and len(FEATURE_NAMES) == 12
    assert set(FEATURE_UNITS) == set(FEATURE_NAMES) and set(PIECEWISE_CONSTANT) <= set(FEATURE_NAMES)


def test_rr_matches_simulated_heart_rate(windows_by_hr):
    medians = {}
    for hr, (x, rr_pre, rr_post) in windows_by_hr.items():
        f = extract_features(x)
        assert f.shape == (len(x), 12) and f.dtype == np.float32
        np.testing.assert_allclose(f[:, 0], rr_pre, atol=0.02)
        np.testing.assert_allclose(f[:, 1], rr_post, atol=0.02)
        assert abs(np.median(f[:, 3]) - 60.0 / hr) < 0.05 * 60.0 / hr
        medians[hr] = np.median(f[:, RR[3]])
    assert medians[60] > medians[80] > medians[110]  # faster heart rate -> shorter RR
    assert np.all(np.abs(np.log(extract_features(windows_by_hr[80][0])[:, 2])) < 0.2)  # regular rhythm: ratio ~ 1


def test_soft_approximates_hard_and_bpda_equals_hard(windows):
    hard, soft, bpda = (extract_features(windows, mode=m) for m in FEATURE_MODES)
    np.testing.assert_array_equal(bpda, hard)
    np.testing.assert_allclose(soft[:, RR], hard[:, RR], atol=0.01)
    # seconds: within 4 samples at 360 Hz; amplitudes (normalised unit) within 0.02; amplitude ratio within 5 %
    atol = np.array([0.011] * 4 + [0.02] * 5 + [0.011, 0.02, 0.05])
    assert np.all(np.abs(soft - hard).max(0) <= atol)


def test_batch_and_single_beat_agree(windows):
    batch = extract_features(windows, batch_size=7)
    single = np.concatenate([extract_features(windows[i:i + 1]) for i in range(len(windows))])
    np.testing.assert_allclose(batch, single, rtol=1e-5, atol=1e-6)


def _grad(x: np.ndarray, mode: str, column: int) -> torch.Tensor | None:
    xt = torch.tensor(x[:4], requires_grad=True)
    f = FeatureExtractor(mode=mode)(xt)
    if not f.requires_grad:
        return None
    (g,) = torch.autograd.grad(f[:, column].sum(), xt, allow_unused=True)
    return g


def test_hard_rr_has_zero_gradient(windows):
    for name in PIECEWISE_CONSTANT:
        g = _grad(windows, "hard", FEATURE_NAMES.index(name))
        assert g is None or torch.count_nonzero(g) == 0, name
    assert torch.count_nonzero(_grad(windows, "hard", FEATURE_NAMES.index("r_amp"))) > 0  # piecewise linear


@pytest.mark.parametrize("mode", ["soft", "bpda"])
def test_soft_and_bpda_rr_have_gradients(windows, mode):
    for name in PIECEWISE_CONSTANT:
        g = _grad(windows, mode, FEATURE_NAMES.index(name))
        assert g is not None and torch.isfinite(g).all() and torch.count_nonzero(g) > 0, name


def test_bad_inputs_raise_config_error(windows):
    with pytest.raises(ConfigError, match="`x`"):
        extract_features(windows[:, 0])
    bad = windows.copy()
    bad[0, 0, 10] = np.nan
    with pytest.raises(ConfigError, match="NaN"):
        extract_features(bad)
    with pytest.raises(ConfigError, match="`mode`"):
        FeatureExtractor(mode="fuzzy")
    with pytest.raises(ConfigError, match="`r_index`"):
        extract_features(windows, r_index=40)
    with pytest.raises(ConfigError, match="`fs`"):
        FeatureExtractor(fs=-1.0)
    with pytest.raises(ConfigError, match="`batch_size`"):
        extract_features(windows, batch_size=0)


def test_input_not_mutated_and_tensor_input(windows):
    before = windows.copy()
    f_np = extract_features(windows)
    f_t = extract_features(torch.from_numpy(windows))
    np.testing.assert_array_equal(windows, before)
    np.testing.assert_array_equal(f_np, f_t)


def test_normalizer_standardises_and_clips(windows):
    f = extract_features(windows)
    norm = FeatureNormalizer(clip=3.0).fit(f)
    z = norm(torch.from_numpy(f)).numpy()
    constant = f.std(0) < 1e-6
    np.testing.assert_allclose(z.mean(0)[~constant], 0.0, atol=1e-4)
    np.testing.assert_allclose(z.std(0, ddof=1)[~constant], 1.0, atol=1e-3)
    assert np.abs(norm(torch.full((1, 12), 1e6)).numpy()).max() == 3.0
    assert {"mean", "std", "fitted"} <= set(norm.state_dict())
    with pytest.raises(ConfigError, match="`features`"):
        norm.fit(f[:, :5])
