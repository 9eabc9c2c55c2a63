"""The detector recipe's configuration and its mixed adversarial training sets (no real data, no training)."""

from __future__ import annotations

import numpy as np
import pytest

from recipes import detector
from recipes.common import Recipe


def test_profiles_and_recipe_object():
    assert isinstance(detector.DETECTOR_RECIPE, Recipe)
    assert set(detector.PROFILES) == {"quick", "full"}
    for cfg in detector.PROFILES.values():
        assert cfg.name == "detector" and set(cfg.train_attacks) <= {"fgsm", "pgd", "sap"}
        assert set(cfg.adaptive_modes) <= set(detector.ADAPTIVE_MODES)
        assert {"orthogonal", "square"} <= set(cfg.adaptive_modes)  # the stronger attackers are always run
    quick, full = detector.PROFILES["quick"], detector.PROFILES["full"]
    assert quick.det_train_n <= full.det_train_n and quick.det_test_n <= full.det_test_n
    for cfg in (quick, full):  # at least one scored attack is unseen in training
        assert set(cfg.attacks) - set(cfg.train_attacks)


def test_mixed_sets_give_each_beat_one_attack(monkeypatch):
    class Shift:
        def __init__(self, eps):
            self.eps = eps

        def generate(self, x, y):
            return x + self.eps

    monkeypatch.setattr(detector, "_attack", lambda cfg, clf, attack, eps: Shift(eps))
    cfg = detector.PROFILES["quick"]
    x, y = np.zeros((60, 1, 8), np.float32), np.zeros(60, np.int64)
    mixed = detector._adversarial(cfg, None, x, y, mixed=True, seed=0)
    assert set(mixed) == {(a, float(e)) for a in cfg.train_attacks for e in cfg.eps}
    assert sum(len(v) for v in mixed.values()) == len(x)
    assert all(np.allclose(v, eps) for (_, eps), v in mixed.items())
    full = detector._adversarial(cfg, None, x, y, mixed=False, seed=0)
    assert set(full) == {(a, float(e)) for a in cfg.attacks for e in cfg.eps}
    assert all(len(v) == len(x) for v in full.values())


def test_bad_adaptive_modes_are_refused():
    import dataclasses

    from ecg_art.exceptions import ConfigError

    with pytest.raises(ConfigError, match="adaptive_modes"):
        detector.run(dataclasses.replace(detector.PROFILES["quick"], adaptive_modes=("best",)))
    with pytest.raises(ConfigError, match="detector_training"):
        detector.run(dataclasses.replace(detector.PROFILES["quick"], detector_training="both"))


def test_each_adaptive_mode_builds_its_attacker(classifier):
    from ecg_art.detection import (AdaptiveDetectorPGD, OrthogonalDetectorPGD, SystemSquareAttack,
                                   make_input_detector)

    det = make_input_detector(input_length=64, device="cpu")
    cfg = detector.PROFILES["quick"]
    expected = {"auc": AdaptiveDetectorPGD, "threshold": AdaptiveDetectorPGD, "orthogonal": OrthogonalDetectorPGD,
                "selective": OrthogonalDetectorPGD, "square": SystemSquareAttack}
    assert set(expected) == set(detector.ADAPTIVE_MODES)
    for mode, cls in expected.items():
        attack = detector._adaptive_attack(cfg, classifier, det, mode, 0.03, 0.5)
        assert type(attack) is cls and attack.eps == 0.03
        assert attack.detector_threshold == (0.5 if mode in ("threshold", "square") else None)
    assert detector._adaptive_attack(cfg, classifier, det, "selective", 0.03, 0.5).orthogonal is False
