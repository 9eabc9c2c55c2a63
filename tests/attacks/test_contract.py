"""Contract of every registered attack on a small trained CNN: shape, dtype, no mutation, budget, domain, damage."""

from __future__ import annotations

import numpy as np
import pytest

from ecg_art.attacks import get_attack, list_attacks
from ecg_art.estimators import predict_labels

EPS = 0.1
# Few iterations keep the suite fast; attacks not listed (e.g. plug-ins) run with their defaults.
FAST_KWARGS = {
    "pgd": {"max_iter": 5},
    "pgd-100": {"max_iter": 10},
    "ta-pgd": {"steps": 5},
    "ta-apgd": {"steps": 5},
    "ta-apgd-dlr": {"steps": 5},
    "ta-cw-l2": {"steps": 20, "c": 5.0, "lr": 0.05},
    "ta-deepfool": {"steps": 10},
    "ta-square": {"n_queries": 100},
    "autoattack": {"steps": 10, "n_queries": 100},  # standard: 100 steps, 5,000 queries (see test_autoattack.py)
    "ta-autoattack": {"steps": 10, "n_queries": 100},
}


@pytest.fixture(scope="module")
def small_set(trained_classifier):
    clf, x, y = trained_classifier
    return clf, x[:20].copy(), y[:20].copy()


@pytest.mark.parametrize("name", list_attacks())
def test_attack_contract(name, small_set):
    clf, x, y = small_set
    x_before = x.copy()
    runner = get_attack(name, clf, eps=EPS, batch_size=8, **FAST_KWARGS.get(name, {}))
    x_adv = runner.generate(x, y)

    assert x_adv.shape == x.shape and x_adv.dtype == x.dtype
    assert np.array_equal(x, x_before), "the attack mutated its input"
    assert np.all(np.isfinite(x_adv))
    lo, hi = clf.clip_values
    assert x_adv.min() >= lo - 1e-6 and x_adv.max() <= hi + 1e-6
    if runner.bounded:
        assert np.abs(x_adv - x).max() <= EPS + 1e-6
    # else: minimum-norm attack (C&W-L2, DeepFool) — eps is not an L-inf bound, only domain and damage are checked
    clean_acc = float((predict_labels(clf, x) == y).mean())
    adv_acc = float((predict_labels(clf, x_adv) == y).mean())
    assert adv_acc <= clean_acc


@pytest.mark.parametrize("name", [n for n in list_attacks() if n in ("fgsm", "pgd", "ta-pgd", "ta-apgd")])
def test_gradient_attacks_do_damage(name, small_set):
    clf, x, y = small_set
    x_adv = get_attack(name, clf, eps=EPS, batch_size=8, **FAST_KWARGS.get(name, {})).generate(x, y)
    assert (predict_labels(clf, x_adv) == y).mean() < (predict_labels(clf, x) == y).mean()


@pytest.mark.parametrize("name", ["fgsm", "pgd", "ta-pgd", "ta-square"])
def test_float64_input_keeps_dtype(name, small_set):
    clf, x, y = small_set
    x64 = x[:4].astype(np.float64)
    x_adv = get_attack(name, clf, eps=EPS, batch_size=8, **FAST_KWARGS.get(name, {})).generate(x64, y[:4])
    assert x_adv.dtype == np.float64 and x_adv.shape == x64.shape
