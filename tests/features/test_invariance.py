"""feature_shift / plot_feature_shift on synthetic windows."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.figure import Figure

from ecg_art.exceptions import ConfigError
from ecg_art.features import FEATURE_NAMES, feature_shift, plot_feature_shift


def test_identical_inputs_have_zero_shift(windows):
    shift = feature_shift(windows, windows.copy())
    assert set(shift) == set(FEATURE_NAMES) and all(v == 0.0 for v in shift.values())


def test_small_noise_moves_morphology_more_than_rr(windows):
    rng = np.random.default_rng(0)
    noisy = np.clip(windows + rng.uniform(-0.01, 0.01, windows.shape).astype(np.float32), 0, 1)
    shift = feature_shift(windows, noisy, scale="std")
    assert max(shift[n] for n in ("rr_pre", "rr_post", "rr_local")) < 0.5
    assert shift["r_amp"] > max(shift["rr_pre"], shift["rr_post"])
    with pytest.raises(ConfigError, match="`scale`"):
        feature_shift(windows, noisy, scale="mad")
    with pytest.raises(ConfigError, match="`x_adv`"):
        feature_shift(windows, noisy[:3])


def test_plot_returns_figure(windows):
    fig = plot_feature_shift(windows, windows * 0.99, title="scaled")
    assert isinstance(fig, Figure) and len(fig.axes) == 12
