"""The adaptive attack on classifier + detector: ART contract (eps ball, clip values, shape, no mutation) and that it
evades the detector better than the non-adaptive PGD the detector was trained on."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from art.estimators.classification import PyTorchClassifier

from ecg_art.detection import AdaptiveDetectorPGD, adaptive_perturb
from ecg_art.exceptions import ConfigError

from .conftest import EPS


def fooled(classifier: PyTorchClassifier, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.argmax(classifier.predict(x), axis=1) != y


def test_contract_eps_clip_shape_no_mutation(classifier, pgd_protocol, splits):
    x, y = splits["test"]
    x = x[:64].copy()
    x[:, :, :5] = 0.0  # beats touching the clip bounds
    x[:, :, -5:] = 1.0
    before = x.copy()
    attack = AdaptiveDetectorPGD(classifier, detector=pgd_protocol.detector, eps=EPS, max_iter=5, random_init=True)
    x_adv = attack.generate(x, y[:64])
    np.testing.assert_array_equal(x, before)
    assert x_adv.shape == x.shape and x_adv.dtype == np.float32
    assert np.abs(x_adv - x).max() <= EPS + 1e-6
    assert x_adv.min() >= 0.0 and x_adv.max() <= 1.0
    assert np.abs(x_adv - x).max() > EPS / 2  # it does move the beats


def test_adaptive_attack_evades_the_detector_better(classifier, pgd_protocol, splits, pgd_sets):
    x, y = splits["test"]
    plain = pgd_protocol.score(x, pgd_sets["test"], attack="pgd", eps=EPS,
                               fooled=fooled(classifier, pgd_sets["test"], y))
    attack = AdaptiveDetectorPGD(classifier, detector=pgd_protocol.detector, eps=EPS, max_iter=20, lam=1.0,
                                 detector_threshold=pgd_protocol.threshold)
    x_ad = attack.generate(x, y)
    adaptive = pgd_protocol.score(x, x_ad, attack="adaptive-pgd", eps=EPS, fooled=fooled(classifier, x_ad, y))
    assert plain.auc > 0.8  # the non-adaptive attack is detected...
    assert adaptive.auc < plain.auc - 0.1 or adaptive.joint_success > plain.joint_success + 0.2  # ...the adaptive less
    assert adaptive.joint_success >= plain.joint_success


def test_lambda_zero_ignores_the_detector():
    torch.manual_seed(0)
    f = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 3))
    g1, g2 = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 2)), torch.nn.Sequential(
        torch.nn.Flatten(), torch.nn.Linear(16, 2))
    x, y = torch.rand(8, 1, 16), torch.randint(0, 3, (8,))
    kw = dict(eps=0.1, eps_step=0.02, max_iter=5, lam=0.0, clip_values=(0.0, 1.0))
    torch.testing.assert_close(adaptive_perturb(f, g1, x, y, **kw), adaptive_perturb(f, g2, x, y, **kw))


def test_bad_parameters(classifier, pgd_protocol):
    with pytest.raises(ConfigError, match="eps"):
        AdaptiveDetectorPGD(classifier, detector=pgd_protocol.detector, eps=-1.0)
    with pytest.raises(ConfigError, match="lam"):
        AdaptiveDetectorPGD(classifier, detector=pgd_protocol.detector, lam=float("nan"))
    with pytest.raises(ConfigError, match="2 classes"):
        AdaptiveDetectorPGD(classifier, detector=classifier)
