"""FusionNet: one context-window input, feature modes, two-stage freezing, ART wrapping."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ecg_art.exceptions import ConfigError
from ecg_art.models.cnn import count_parameters
from ecg_art.models.fusion import FusionNet


@pytest.fixture()
def model(windows):
    torch.manual_seed(0)
    net = FusionNet()
    net.fit_feature_normalizer(windows)
    return net.eval()


def test_forward_shape_and_parameter_count(model, windows):
    out = model(torch.from_numpy(windows))
    assert out.shape == (len(windows), 5) and torch.isfinite(out).all()
    assert 45_000 <= count_parameters(model) <= 65_000
    model.output = "cnn"
    assert model(torch.from_numpy(windows[:3])).shape == (3, 5)
    with pytest.raises(ConfigError, match="FusionNet expects"):
        model(torch.zeros(2, 1, 256))
    with pytest.raises(ConfigError, match="`output`"):
        model.output = "both"


@pytest.mark.parametrize("mode", ["soft", "bpda"])
def test_gradient_reaches_input_through_features(model, windows, mode):
    model.feature_mode = mode
    assert model.extractor.mode == mode
    x = torch.tensor(windows[:4], requires_grad=True)
    model(x).logsumexp(-1).sum().backward()
    g = x.grad
    assert torch.isfinite(g).all()
    lo, hi = model.crop
    outside = torch.cat([g[..., :lo], g[..., hi:]], -1)
    assert torch.count_nonzero(outside) > 0  # only the feature branch sees samples outside the CNN crop


def test_bpda_forward_equals_hard(model, windows):
    x = torch.from_numpy(windows)
    with torch.no_grad():
        hard = model(x)
        model.feature_mode = "bpda"
        bpda = model(x)
    torch.testing.assert_close(bpda, hard)


def test_freeze_and_unfreeze_branches(model, windows):
    model.freeze("cnn").train()
    assert not any(p.requires_grad for p in model.cnn.parameters())
    assert all(p.requires_grad for p in model.head.parameters())
    bn = next(m for m in model.cnn.modules() if isinstance(m, torch.nn.BatchNorm1d))
    assert not bn.training  # frozen BatchNorm keeps its running statistics
    before = bn.running_mean.clone()
    model(torch.from_numpy(windows))
    torch.testing.assert_close(bn.running_mean, before)
    model.unfreeze()
    assert all(p.requires_grad for p in model.parameters()) and bn.training
    with pytest.raises(ConfigError, match="`branch`"):
        model.freeze("lstm")


def test_bad_construction():
    with pytest.raises(ConfigError, match="crop"):
        FusionNet(context_length=200)
    with pytest.raises(ConfigError, match="`mode`"):
        FusionNet(feature_mode="approx")


def test_wraps_as_art_classifier_and_fgsm_runs(model, windows):
    from art.attacks.evasion import FastGradientMethod
    from art.estimators.classification import PyTorchClassifier

    model.feature_mode = "bpda"
    clf = PyTorchClassifier(model=model, loss=torch.nn.CrossEntropyLoss(), input_shape=(1, 1024), nb_classes=5,
                            clip_values=(0.0, 1.0), device_type="cpu")
    x = windows[:8]
    x_adv = FastGradientMethod(clf, eps=0.02).generate(x)
    assert x_adv.shape == x.shape and x_adv.dtype == np.float32
    assert np.abs(x_adv - x).max() <= 0.02 + 1e-6 and x_adv.min() >= 0.0 and x_adv.max() <= 1.0
