"""Rhythm features from detected R peaks, the 12-feature rhythm set, the fusion model's rhythm variant and the two
threat models (beat window only / whole context)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ecg_art.estimators import make_classifier
from ecg_art.exceptions import ConfigError
from ecg_art.features.rhythm import RHYTHM_FEATURE_NAMES, RhythmBeatFeatures, RhythmFeatures
from ecg_art.features.threat import BeatWindowOnly, evaluate_beat_window_only, rhythm_feature_attack
from ecg_art.models.cnn import BaselineCNN
from ecg_art.models.fusion import FusionNet
from tests.features.test_rpeaks import FS, synthetic_ecg

L, R = 4320, 3600  # 10 s before the beat, 2 s after


def context(rr_before: list[float], rr_after: float, *, seed: int = 0) -> torch.Tensor:
    """One context window whose centre beat sits at ``R``; ``rr_before`` are the RR intervals (s) before it, the
    nearest last."""
    peaks = [R]
    for rr in reversed(rr_before):
        peaks.insert(0, peaks[0] - int(round(rr * FS)))
    peaks.append(R + int(round(rr_after * FS)))
    peaks = [p for p in peaks if 0 <= p < L]
    return torch.as_tensor(synthetic_ecg(peaks, L, seed=seed)).view(1, 1, -1)


def test_regular_rhythm_gives_its_rr_and_unit_ratios():
    f = RhythmFeatures(fs=FS, r_index=R)(context([0.8] * 12, 0.8))[0]
    assert f[0] == pytest.approx(0.8, abs=0.012) and f[1] == pytest.approx(0.8, abs=0.012)
    assert f[2] == pytest.approx(0.8, abs=0.012)
    assert f[3] == pytest.approx(1.0, abs=0.03) and f[4] == pytest.approx(1.0, abs=0.03)


def test_a_premature_beat_is_early_relative_to_its_own_rhythm():
    """The relation the inter-patient literature relies on: short pre-RR, long post-RR relative to the local mean,
    whatever the patient's rate."""
    for rr in (0.6, 1.0):
        f = RhythmFeatures(fs=FS, r_index=R)(context([rr] * 9 + [0.6 * rr], 1.4 * rr))[0]
        assert f[3] < 0.75 and f[4] > 1.2, (rr, f)
        assert f[2] == pytest.approx((9 * rr + 0.6 * rr) / 10, abs=0.02)


def test_local_mean_uses_the_peaks_the_context_holds():
    f = RhythmFeatures(fs=FS, r_index=R, n_local=3)(context([1.0, 1.0, 0.5, 0.5], 0.5))[0]
    assert f[2] == pytest.approx((1.0 + 0.5 + 0.5) / 3, abs=0.02)


def test_bpda_forward_equals_hard_and_gives_gradients():
    x = torch.cat([context([0.7] * 13, 0.7, seed=s) for s in range(3)])
    hard = RhythmBeatFeatures(fs=FS, r_index=R, mode="hard")(x)
    ext = RhythmBeatFeatures(fs=FS, r_index=R, mode="bpda")
    xb = x.clone().requires_grad_(True)
    f = ext(xb)
    assert f.shape == (3, 12) and len(RHYTHM_FEATURE_NAMES) == 12
    assert torch.equal(f.detach(), hard)
    f[:, :5].sum().backward()
    assert float(xb.grad.abs().sum()) > 0


def test_bpda_without_a_gradient_skips_the_soft_path_and_returns_the_same_values(monkeypatch):
    """Predictions and training passes on fixed inputs take no gradient of x: "bpda" then returns the hard values its
    straight-through carries without computing the soft path (most of the detector's time), bit for bit."""
    x = torch.cat([context([0.7] * 13, 0.7, seed=s) for s in range(3)] + [context([1.0, 0.6] * 6, 0.9, seed=5)])
    x = x + 0.05 * torch.randn(x.shape, generator=torch.Generator().manual_seed(0))  # noise: near-ties in the scores
    ext = RhythmBeatFeatures(fs=FS, r_index=R, mode="bpda")
    xb = x.clone().requires_grad_(True)
    with_grad = ext(xb)
    assert with_grad.grad_fn is not None
    softmax = torch.softmax

    def no_soft_path(*args, **kwargs):
        raise AssertionError("the soft path ran without a gradient to take")

    monkeypatch.setattr(torch, "softmax", no_soft_path)
    plain = ext(x)
    with torch.no_grad():
        no_grad = ext(xb)
    monkeypatch.setattr(torch, "softmax", softmax)
    assert plain.grad_fn is None and no_grad.grad_fn is None
    assert torch.equal(plain, with_grad.detach()) and torch.equal(no_grad, with_grad.detach())
    peaks, pos = ext.rhythm.detector(x)
    g_peaks, g_pos = ext.rhythm.detector(xb)
    assert torch.equal(peaks, g_peaks.detach()) and torch.equal(pos, g_pos.detach())


def test_too_short_a_context_is_refused():
    with pytest.raises(ConfigError, match="r_index"):
        RhythmFeatures(fs=FS, r_index=10)(torch.zeros(1, 1, 400))
    with pytest.raises(ConfigError, match="morph"):
        RhythmBeatFeatures(fs=FS, r_index=100)(torch.zeros(1, 1, 4320))


@pytest.fixture(scope="module")
def rhythm_model():
    torch.manual_seed(0)
    model = FusionNet(feature_set="rhythm", context_length=L, r_index=R).eval()
    x = torch.cat([context([0.6 + 0.05 * s] * 14, 0.7, seed=s) for s in range(6)])
    lo = x[..., R - 90:R + 166].amin(-1, keepdim=True)
    hi = x[..., R - 90:R + 166].amax(-1, keepdim=True)
    x = ((x - lo) / (hi - lo)).numpy()  # the beat unit: the crop spans exactly [0, 1]
    model.fit_feature_normalizer(x)
    return model, x


def test_cnn_branch_starts_from_a_baseline_state(rhythm_model):
    model, x = rhythm_model
    base = BaselineCNN().eval()
    model.load_cnn_branch(base.state_dict())
    model.output = "cnn"
    try:
        xt = torch.as_tensor(x)
        torch.testing.assert_close(model(xt), base(xt[..., R - 90:R + 166]))
    finally:
        model.output = "fusion"
    with pytest.raises(ConfigError, match="does not fit"):
        model.load_cnn_branch({"features.0.weight": torch.zeros(1)})
    with pytest.raises(ConfigError, match="feature_set"):
        FusionNet(feature_set="nope")


def test_beat_window_only_pastes_the_window_and_aligns_subsets(rhythm_model):
    model, x = rhythm_model
    xt = torch.as_tensor(x)
    wrapped = BeatWindowOnly(model)
    with pytest.raises(ConfigError, match="not set"):
        wrapped(xt[..., R - 90:R + 166])
    wrapped.context = xt
    window = xt[..., R - 90:R + 166] + 0.01
    full = xt.clone()
    full[..., R - 90:R + 166] = window
    torch.testing.assert_close(wrapped(window), model(full))
    torch.testing.assert_close(wrapped(window[[1, 4]]), model(full[[1, 4]]))  # a subset, matched in order
    with pytest.raises(ConfigError, match="out of order"):
        wrapped(window[[4, 1]])
    with pytest.raises(ConfigError, match="contexts"):
        wrapped(torch.cat([window, window]))


def test_threat_model_b_leaves_the_context_alone(rhythm_model):
    """A model that reads only the context outside the beat window cannot be attacked under (b)."""
    model, x = rhythm_model

    class OutsideOnly(torch.nn.Module):
        crop = model.crop

        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.ones(1))

        def forward(self, z):
            s = z[..., : self.crop[0]].mean((1, 2)) * self.w
            return torch.stack([s, -s, -s, -s, -s], dim=1)

    y = np.zeros(len(x), dtype=np.int64)
    correct = evaluate_beat_window_only(OutsideOnly(), x, y, attacks=["fgsm", "pgd"], eps=[0.05],
                                        attack_kwargs={"pgd": {"max_iter": 3}}, chunk=4, device="cpu")
    assert set(correct) == {("fgsm", 0.05), ("pgd", 0.05)}
    assert all(v.shape == (len(x),) and v.all() for v in correct.values())
    with pytest.raises(ConfigError, match="unit of their beat window"):
        evaluate_beat_window_only(OutsideOnly(), x * 3 - 1, y, attacks=["fgsm"], eps=[0.05], device="cpu")


def test_feature_attack_stays_in_the_ball_and_restores_the_mode(rhythm_model):
    model, x = rhythm_model
    x_adv = rhythm_feature_attack(model.extractor, x, eps=0.03, steps=2, clip_values=(-4.0, 5.0), batch_size=4)
    assert x_adv.shape == x.shape and np.abs(x_adv - x).max() <= 0.03 + 1e-6
    assert model.extractor.mode == "hard"
    with pytest.raises(ConfigError, match="eps"):
        rhythm_feature_attack(model.extractor, x, eps=0.0)


def test_rhythm_model_wraps_as_an_art_classifier_with_wide_clip_values(rhythm_model):
    model, x = rhythm_model
    clf = make_classifier(model, input_length=L, clip_values=(-4.0, 5.0), device="cpu")
    assert clf.predict(x).shape == (len(x), 5)
