"""Tests of fast adversarial training: FGSM-RS / N-FGSM (FastGradientRS) and the catastrophic-overfitting guard."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from art.attacks.evasion import ProjectedGradientDescent
from art.defences.trainer import AdversarialTrainer
from art.defences.trainer.trainer import Trainer

from attacks_custom.fast_at import CatastrophicOverfittingGuard, FastGradientRS, fast_gradient_perturb
from ecg_art.exceptions import ConfigError
from tests.attacks_custom.conftest import TinyCNN, make_classifier

EPS = 0.05


def fresh_classifier(seed: int = 0, lr: float = 3e-3):
    torch.manual_seed(seed)
    return make_classifier(TinyCNN(), lr=lr)


def accuracy(clf, x, y) -> float:
    return float((clf.predict(x).argmax(1) == y).mean())


@pytest.mark.parametrize("method, bound", [("fgsm-rs", EPS), ("n-fgsm", 3 * EPS)])
def test_contract(trained_classifier, beats, method, bound):
    """Shape and dtype kept, input not mutated, inside the method's Linf bound and the clip values, accuracy falls."""
    _, (x, y) = beats
    x_before = x.copy()
    torch.manual_seed(0)
    x_adv = FastGradientRS(trained_classifier, eps=EPS, method=method, batch_size=64).generate(x, y)
    assert x_adv.shape == x.shape and x_adv.dtype == np.float32
    np.testing.assert_array_equal(x, x_before)
    assert np.abs(x_adv - x).max() <= bound + 1e-6 and np.abs(x_adv - x).max() > EPS / 2
    assert x_adv.min() >= 0.0 and x_adv.max() <= 1.0
    assert accuracy(trained_classifier, x_adv, y) <= accuracy(trained_classifier, x, y)


def test_perturb_projects_only_for_fgsm_rs():
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(32, 2))
    x, y = torch.full((8, 1, 32), 0.5), torch.zeros(8, dtype=torch.long)
    kw = {"loss_fn": torch.nn.functional.cross_entropy, "clip_values": (0.0, 1.0), "eps": EPS}
    projected = fast_gradient_perturb(net, x, y, step=1.25 * EPS, noise=EPS, project=True, **kw)
    free = fast_gradient_perturb(net, x, y, step=EPS, noise=2 * EPS, project=False, **kw)
    assert (projected - x).abs().max() <= EPS + 1e-6
    assert (free - x).abs().max() > EPS and (free - x).abs().max() <= 3 * EPS + 1e-6


def test_method_settings_and_overrides(trained_classifier):
    assert FastGradientRS(trained_classifier, eps=0.04).settings == pytest.approx((0.05, 0.04, True))
    assert FastGradientRS(trained_classifier, eps=0.04, method="n-fgsm").settings == pytest.approx((0.04, 0.08, False))
    assert FastGradientRS(trained_classifier, eps=0.04, step=0.01, noise=0.0).settings == (0.01, 0.0, True)


def test_fast_adversarial_training_learns_and_resists(beats):
    """ART's AdversarialTrainer with FGSM-RS: the loss falls, and the model resists PGD better than clean training."""
    (x, y), (xv, yv) = beats
    robust, eps = {}, 0.15  # the budget where this toy problem's clean model breaks (PGD-10: 8 % left)
    for name in ("clean", "fgsm-rs"):
        clf = fresh_classifier(seed=1)
        loss_before = float(np.mean(clf.compute_loss(xv, yv)))
        if name == "clean":
            clf.fit(x, y, batch_size=64, nb_epochs=12, verbose=False)
        else:
            trainer = AdversarialTrainer(clf, attacks=FastGradientRS(clf, eps=eps, batch_size=64), ratio=1.0)
            trainer.fit(x, y, batch_size=64, nb_epochs=12)
        assert float(np.mean(clf.compute_loss(xv, yv))) < 0.5 * loss_before
        assert accuracy(clf, xv, yv) > 0.8
        pgd = ProjectedGradientDescent(clf, eps=eps, eps_step=eps / 4, max_iter=10, verbose=False)
        robust[name] = accuracy(clf, pgd.generate(xv, y=yv), yv)
    assert robust["fgsm-rs"] > robust["clean"] + 0.5


class Scrambler(Trainer):
    """A trainer that leaves the model alone, except on its `collapse_on`-th call, when it wrecks the weights."""

    def __init__(self, classifier, collapse_on: int) -> None:
        super().__init__(classifier)
        self.calls, self.collapse_on = 0, collapse_on

    def fit(self, x, y, **kwargs) -> None:
        if self.calls == self.collapse_on:
            with torch.no_grad():
                for p in self._classifier.model.parameters():
                    p.zero_()
        self.calls += 1


def test_guard_rolls_back_a_collapse_and_stops(trained_classifier, beats):
    (x, y), (xv, yv) = beats
    clf = make_classifier(copy.deepcopy(trained_classifier.model))
    pgd = ProjectedGradientDescent(clf, eps=0.02, eps_step=0.005, max_iter=5, verbose=False)
    inner = Scrambler(clf, collapse_on=1)
    guard = CatastrophicOverfittingGuard(inner, x_val=xv[:100], y_val=yv[:100], attack=pgd, max_drop=0.2)
    guard.fit(x, y)
    good = copy.deepcopy(clf.model.state_dict())
    assert guard.history.robust_acc[0] > 0.5 and not guard.stopped
    guard.fit(x, y)  # the scrambler zeroes every weight: a constant model, robust accuracy ~ one class's share
    assert guard.stopped and guard.history.collapsed_at == 1
    assert all(torch.equal(v, good[k]) for k, v in clf.model.state_dict().items())  # rolled back
    guard.fit(x, y)
    assert inner.calls == 2 and len(guard.history.robust_acc) == 2  # stopped: no further training


def test_guard_lets_a_healthy_run_through(trained_classifier, beats):
    (x, y), (xv, yv) = beats
    clf = make_classifier(copy.deepcopy(trained_classifier.model))
    pgd = ProjectedGradientDescent(clf, eps=0.02, eps_step=0.005, max_iter=5, verbose=False)
    guard = CatastrophicOverfittingGuard(Scrambler(clf, collapse_on=-1), x_val=xv[:100], y_val=yv[:100], attack=pgd)
    for _ in range(3):
        guard.fit(x, y)
    assert not guard.stopped and guard.history.collapsed_at is None and len(guard.history.robust_acc) == 3


@pytest.mark.parametrize("kwargs, name", [({"method": "pgd"}, "method"), ({"eps": 0.0}, "eps"),
                                          ({"step": -0.1}, "step"), ({"noise": "big"}, "noise"),
                                          ({"batch_size": 0}, "batch_size")])
def test_attack_bad_parameters_are_named(kwargs, name):
    with pytest.raises(ConfigError, match=f"`{name}`"):
        FastGradientRS(fresh_classifier(), **kwargs)


def test_guard_bad_parameters_are_named(beats):
    _, (xv, yv) = beats
    clf = fresh_classifier()
    pgd = ProjectedGradientDescent(clf, eps=EPS, verbose=False)
    inner = Scrambler(clf, collapse_on=-1)
    with pytest.raises(ConfigError, match="`trainer`"):
        CatastrophicOverfittingGuard("trainer", x_val=xv, y_val=yv, attack=pgd)
    with pytest.raises(ConfigError, match="`attack`"):
        CatastrophicOverfittingGuard(inner, x_val=xv, y_val=yv, attack="pgd")
    with pytest.raises(ConfigError, match="`max_drop`"):
        CatastrophicOverfittingGuard(inner, x_val=xv, y_val=yv, attack=pgd, max_drop=0.0)
    with pytest.raises(ConfigError, match="`x_val`"):
        CatastrophicOverfittingGuard(inner, x_val=xv, y_val=yv[:3], attack=pgd)
