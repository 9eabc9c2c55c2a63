"""The standard AutoAttack through the 1D adapter: its four components with the standard settings, the contract on a
small 5-class model (one that never predicts a class too), and robust accuracy at most each component's."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torchattacks
from torch import nn

from ecg_art.attacks import get_attack
from ecg_art.attacks.registry import ATTACKS
from ecg_art.estimators import make_classifier, predict_labels
from ecg_art.exceptions import ConfigError
from tests.attacks.conftest import LENGTH, N_CLASSES

EPS = 0.02  # the tiny model keeps some beats here, so the later components have work to do
FAST = {"steps": 5, "n_queries": 100}  # the standard settings are 100 steps and 5,000 queries (checked below)


@pytest.fixture(scope="module")
def small_set(trained_classifier):
    clf, x, y = trained_classifier
    return clf, x[:20].copy(), y[:20].copy()


def _accuracy(clf, x, y) -> float:
    return float((predict_labels(clf, x) == y).mean())


def test_standard_components_and_settings(small_set):
    clf = small_set[0]
    runner = get_attack("autoattack", clf, eps=0.05)
    multi = runner.attack.attack
    assert isinstance(multi, torchattacks.MultiAttack)
    apgd, apgdt, fab, square = multi.attacks
    assert [type(a) for a in multi.attacks] == [torchattacks.APGD, torchattacks.APGDT, torchattacks.FAB,
                                                 torchattacks.Square]
    assert apgd.loss == "ce" and apgd.steps == apgdt.steps == fab.steps == 100
    assert apgdt.n_target_classes == fab.n_target_classes == N_CLASSES - 1 and fab.multi_targeted
    assert square.n_queries == 5000 and square.p_init == 0.8 and square.loss == "margin"
    assert all(a.n_restarts == 1 and a.norm == "Linf" for a in multi.attacks)
    assert all(a.eps == pytest.approx(0.05) for a in multi.attacks)  # clip_values (0, 1): beat unit == [0, 1]
    assert ATTACKS.get("ta-autoattack") is ATTACKS.get("autoattack") and runner.bounded


def test_contract_and_at_most_each_component(small_set):
    clf, x, y = small_set
    x_before = x.copy()
    x_adv = get_attack("autoattack", clf, eps=EPS, batch_size=20, **FAST).generate(x, y)
    assert x_adv.shape == x.shape and x_adv.dtype == x.dtype and np.array_equal(x, x_before)
    assert np.abs(x_adv - x).max() <= EPS + 1e-6 and x_adv.min() >= 0.0 and x_adv.max() <= 1.0
    aa = _accuracy(clf, x_adv, y)
    apgd = _accuracy(clf, get_attack("ta-apgd", clf, eps=EPS, batch_size=20, steps=FAST["steps"]).generate(x, y), y)
    square = _accuracy(clf, get_attack("ta-square", clf, eps=EPS, batch_size=20,
                                       n_queries=FAST["n_queries"]).generate(x, y), y)
    assert aa <= apgd <= _accuracy(clf, x, y)  # AutoAttack starts with this very APGD-CE (same seed and batches)
    assert aa <= square


class _NeverPredicts(nn.Module):
    """``net`` with the logit of class ``never`` pushed far down: the class is never predicted."""

    def __init__(self, net: nn.Module, never: int) -> None:
        super().__init__()
        self.net = net
        self.register_buffer("shift", -30.0 * torch.eye(N_CLASSES)[never])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x) + self.shift


def test_a_model_that_never_predicts_a_class(small_set):
    clf, x, y = small_set
    model = _NeverPredicts(clf.model, never=N_CLASSES - 1).eval()
    odd = make_classifier(model, input_length=LENGTH, nb_classes=N_CLASSES, device="cpu")
    assert (predict_labels(odd, x) != N_CLASSES - 1).all()
    x_adv = get_attack("autoattack", odd, eps=EPS, batch_size=20, **FAST).generate(x, y)
    assert np.all(np.isfinite(x_adv)) and np.abs(x_adv - x).max() <= EPS + 1e-6
    apgd = get_attack("ta-apgd", odd, eps=EPS, batch_size=20, steps=FAST["steps"]).generate(x, y)
    assert _accuracy(odd, x_adv, y) <= _accuracy(odd, apgd, y) < _accuracy(odd, x, y)


def test_refuses_fewer_than_four_classes_and_bad_settings(small_set):
    clf = small_set[0]
    three = make_classifier(nn.Sequential(nn.Flatten(), nn.Linear(LENGTH, 3)), input_length=LENGTH, nb_classes=3,
                            device="cpu")
    with pytest.raises(ConfigError, match="nb_classes"):
        get_attack("autoattack", three, eps=0.05)
    with pytest.raises(ConfigError, match="`steps`"):
        get_attack("autoattack", clf, eps=0.05, steps=0)
    with pytest.raises(ConfigError, match="`n_queries`"):
        get_attack("autoattack", clf, eps=0.05, n_queries=2.5)
