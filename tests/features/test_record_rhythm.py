"""RR ratios to the recording's mean RR: the extra input value, the 15-feature set, the fusion model and its
threat model (the value is attacked like the context), and the mean RR of synthetic WFDB records."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ecg_art.exceptions import ConfigError
from ecg_art.features.record_rhythm import (RECORD_RHYTHM_FEATURE_NAMES, RecordRhythmFeatures, append_record_rr,
                                            record_mean_rr)
from ecg_art.features.rhythm import RhythmBeatFeatures
from ecg_art.models.fusion import FusionNet
from tests.features.test_rhythm import FS, R, context


def _with_mean(x: torch.Tensor, mean_rr: float) -> torch.Tensor:
    return torch.cat([x, torch.full((*x.shape[:-1], 1), mean_rr)], dim=-1)


def test_ratios_to_the_record_mean_find_a_beat_premature_for_its_patient_not_its_neighbours():
    """A run of beats at 0.7 s in a recording whose mean RR is 1.0 s (pauses elsewhere, like MIT-BIH 232): the local
    ratios say regular, the record ratios say early."""
    x = context([0.7] * 13, 0.7)
    f = RecordRhythmFeatures(fs=FS, r_index=R)(_with_mean(x, 1.0))[0]
    base = RhythmBeatFeatures(fs=FS, r_index=R)(x)[0]
    assert len(f) == len(RECORD_RHYTHM_FEATURE_NAMES) == 15
    torch.testing.assert_close(f[:12], base)  # the tail never reaches the 12 context features
    assert f[3] == pytest.approx(1.0, abs=0.03)  # pre-RR / local mean: regular
    assert f[12] == pytest.approx(0.7, abs=0.02) and f[14] == pytest.approx(0.7, abs=0.02)  # / record mean: early
    assert RecordRhythmFeatures(fs=FS, r_index=R)(_with_mean(x, 0.7))[0, 12] == pytest.approx(1.0, abs=0.03)


def test_the_record_mean_gets_gradients_in_bpda_mode():
    x = _with_mean(context([0.8] * 13, 0.8), 0.9).requires_grad_(True)
    f = RecordRhythmFeatures(fs=FS, r_index=R, mode="bpda")(x)
    (grad,) = torch.autograd.grad(f[0, 12:].sum(), x)
    assert grad[0, 0, -1] < 0  # a larger record mean makes every ratio smaller: the attacker can use it
    with pytest.raises(ConfigError, match="tail"):
        RecordRhythmFeatures(tail=0)


def test_fusion_model_reads_the_extra_sample_and_its_cnn_crop_is_unchanged():
    torch.manual_seed(0)
    model = FusionNet(feature_set="rhythm-record", context_length=4321, r_index=R).eval()
    x = torch.cat([_with_mean(context([0.6 + 0.05 * s] * 14, 0.7, seed=s), 0.8 + 0.1 * s) for s in range(4)])
    model.fit_feature_normalizer(x.numpy())
    assert model(x).shape == (4, 5) and model.feature_names == RECORD_RHYTHM_FEATURE_NAMES
    model.output = "cnn"
    changed = x.clone()
    changed[..., -1] += 0.3
    torch.testing.assert_close(model(x), model(changed))  # the CNN branch never sees the record mean
    model.output = "fusion"
    assert not torch.allclose(model(x), model(changed))
    with pytest.raises(ConfigError, match="4321"):
        model(x[..., :-1])


def test_append_record_rr_and_its_errors():
    x = np.zeros((3, 1, 5), np.float32)
    out = append_record_rr(x, np.array(["a", "b", "a"]), {"a": 0.75, "b": 1.25}, tail=2)
    assert out.shape == (3, 1, 7) and out.dtype == np.float32 and np.array_equal(out[:, 0, :5], x[:, 0])
    assert out[:, 0, 5:].tolist() == [[0.75, 0.75], [1.25, 1.25], [0.75, 0.75]]
    with pytest.raises(ConfigError, match="no mean RR for records b"):
        append_record_rr(x, np.array(["a", "b", "a"]), {"a": 0.75})
    with pytest.raises(ConfigError, match="one record name per window"):
        append_record_rr(x, np.array(["a"]), {"a": 0.75})


def test_record_mean_rr_of_synthetic_records(tmp_path):
    import neurokit2 as nk
    import wfdb

    for name, hr in (("100", 60), ("101", 90)):
        sig = nk.ecg_simulate(duration=60, sampling_rate=FS, heart_rate=hr, noise=0.01, random_state=0)
        wfdb.wrsamp(name, fs=FS, units=["mV", "mV"], sig_name=["V1", "MLII"], p_signal=np.stack([0 * sig, sig], 1),
                    fmt=["212", "212"], write_dir=str(tmp_path))
    out = record_mean_rr(["101", "100", "100"], tmp_path)
    assert list(out) == ["100", "101"]
    assert out["100"] == pytest.approx(1.0, rel=0.03) and out["101"] == pytest.approx(60 / 90, rel=0.03)
    with pytest.raises(ConfigError, match="fewer than two R peaks"):  # the flat channel, chosen by name
        record_mean_rr(["100"], tmp_path, leads={"100": "V1"})
