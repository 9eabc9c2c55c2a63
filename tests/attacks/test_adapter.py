"""TorchattacksAdapter: 1D <-> image view, affine clip-value mapping, refusal of out-of-domain beats."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torchattacks

from ecg_art.attacks import TorchattacksAdapter, get_attack
from ecg_art.estimators import make_classifier, predict_labels
from ecg_art.exceptions import AttackError


@pytest.fixture(scope="module")
def wide_classifier(trained_classifier):
    """The trained fixture model behind a classifier whose clip_values are (-1, 2) instead of (0, 1)."""
    clf, x, y = trained_classifier
    wide = make_classifier(clf.model, input_length=x.shape[-1], clip_values=(-1.0, 2.0), device="cpu")
    return wide, x, y


@pytest.mark.parametrize("name", ["ta-fgsm", "ta-pgd"])
def test_refuses_out_of_domain_beats(name, trained_classifier):
    clf, x, y = trained_classifier
    bad = x[:4].copy()
    bad[0, 0, 3] = 1.5
    with pytest.raises(AttackError, match=rf"{name}.*1\.5.*clip_values"):
        get_attack(name, clf, eps=0.05, steps=2).generate(bad, y[:4]) if name == "ta-pgd" else \
            get_attack(name, clf, eps=0.05).generate(bad, y[:4])
    bad[0, 0, 3] = np.nan
    with pytest.raises(AttackError, match="NaN"):
        get_attack(name, clf, eps=0.05).generate(bad, y[:4])


def test_needs_clip_values(trained_classifier):
    clf, x, _ = trained_classifier
    free = make_classifier(clf.model, input_length=x.shape[-1], clip_values=None, device="cpu")
    with pytest.raises(AttackError, match="clip_values"):
        get_attack("ta-fgsm", free, eps=0.05)


@pytest.mark.parametrize("which", ["unit", "wide"])
def test_ta_fgsm_matches_art_fgsm(which, trained_classifier, wide_classifier):
    """The same one-step attack through torchattacks (mapped to [0, 1]) and through ART gives the same beats."""
    clf, x, y = trained_classifier if which == "unit" else wide_classifier
    x = x[:16] * 0.9 + 0.05  # keep some room inside [0, 1] so clipping differs between the two domains
    ta = get_attack("ta-fgsm", clf, eps=0.05).generate(x, y[:16])
    art = get_attack("fgsm", clf, eps=0.05).generate(x, y[:16])
    np.testing.assert_allclose(ta, art, atol=1e-5)


def test_wide_clip_values_scale_the_budget(wide_classifier):
    clf, x, y = wide_classifier
    adapter = get_attack("ta-pgd", clf, eps=0.3, steps=5).attack
    assert isinstance(adapter, TorchattacksAdapter)
    assert adapter.eps_unit == pytest.approx(0.1)  # 0.3 beat units over a span of 3
    x_adv = adapter.generate(x[:16], y[:16])
    assert np.abs(x_adv - x[:16]).max() == pytest.approx(0.3, abs=1e-5)  # uses the full budget in beat units
    assert x_adv.min() >= -1.0 and x_adv.max() <= 2.0
    assert (predict_labels(clf, x_adv) == y[:16]).mean() < (predict_labels(clf, x[:16]) == y[:16]).mean()


def test_image_view_is_the_same_model(wide_classifier):
    clf, x, _ = wide_classifier
    adapter = get_attack("ta-fgsm", clf, eps=0.1).attack
    z = torch.from_numpy((x[:5] + 1.0) / 3.0).unsqueeze(2)  # (N, 1, 1, L) in [0, 1]
    with torch.no_grad():
        logits = adapter.image_model(z).numpy()
    np.testing.assert_allclose(logits, clf.predict(x[:5]), rtol=1e-4, atol=1e-5)


def test_budget_violation_is_an_error(trained_classifier):
    clf, x, y = trained_classifier

    class Overshoot(torchattacks.attack.Attack):
        def __init__(self, model):
            super().__init__("Overshoot", model)

        def forward(self, images, labels):
            return (images + 0.5).clamp(0, 1)

    adapter = TorchattacksAdapter(clf, lambda m, e: Overshoot(m), eps=0.05, name="overshoot")
    with pytest.raises(AttackError, match="overshoot.*budget"):
        adapter.generate(x[:4], y[:4])


@pytest.mark.parametrize("training", [False, True])
def test_model_mode_and_batchnorm_stats_survive_the_attack(training, trained_classifier):
    clf, x, y = trained_classifier
    model = clf.model
    stats = {k: v.clone() for k, v in model.state_dict().items()}
    model.train(training)
    try:
        get_attack("ta-pgd", clf, eps=0.05, steps=2).generate(x[:8], y[:8])
        assert all(m.training == training for m in model.modules())
    finally:
        model.eval()
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in stats.items())
