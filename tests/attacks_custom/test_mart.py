"""Tests of the MART objective and trainer."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from attacks_custom.fast_at import FastGradientRS
from attacks_custom.mart import MARTTrainer, mart_loss
from ecg_art.exceptions import ConfigError
from tests.attacks_custom.conftest import TinyCNN, make_classifier


def fresh_classifier(seed: int = 0, lr: float = 3e-3):
    torch.manual_seed(seed)
    return make_classifier(TinyCNN(), lr=lr)


def test_mart_loss_hand_value():
    z, z_adv, y = torch.tensor([[1.0, 0.0, -1.0]]), torch.tensor([[0.2, 0.5, 0.0]]), torch.tensor([0])
    p, q = F.softmax(z, 1)[0], F.softmax(z_adv, 1)[0]
    expected = -torch.log(q[0]) - torch.log(1 - q[1]) + 6.0 * (p * (p / q).log()).sum() * (1 - p[0])
    assert float(mart_loss(z, z_adv, y, beta=6.0)) == pytest.approx(float(expected), rel=1e-5)
    # no perturbation, confident and right: only the boosted CE of a clean, correct beat is left
    assert float(mart_loss(z, z, y, beta=6.0)) == pytest.approx(float(-torch.log(p[0]) - torch.log(1 - p[1])), rel=1e-5)


def test_fit_reduces_loss_and_learns(beats):
    (x, y), (xv, yv) = beats
    clf = fresh_classifier(lr=1e-2)
    trainer = MARTTrainer(clf, attack=FastGradientRS(clf, eps=0.05, batch_size=64), beta=6.0)
    np.random.seed(0)
    trainer.fit(x, y, nb_epochs=6, batch_size=64)
    assert len(trainer.loss_history) == 6 and trainer.loss_history[-1] < 0.5 * trainer.loss_history[0]
    assert (clf.predict(xv).argmax(1) == yv).mean() > 0.9 and not clf.model.training


@pytest.mark.parametrize("kwargs, name", [({"beta": -1.0}, "beta"), ({"attack": "pgd"}, "attack")])
def test_bad_parameters_are_named(kwargs, name):
    clf = fresh_classifier()
    with pytest.raises(ConfigError, match=f"`{name}`"):
        MARTTrainer(clf, **{"attack": FastGradientRS(clf), **kwargs})


def test_bad_fit_arguments_are_named(beats):
    (x, y), _ = beats
    clf = fresh_classifier()
    trainer = MARTTrainer(clf, attack=FastGradientRS(clf))
    with pytest.raises(ConfigError, match="`nb_epochs`"):
        trainer.fit(x[:10], y[:10], nb_epochs=0)
    with pytest.raises(ConfigError, match="unknown fit arguments"):
        trainer.fit(x[:10], y[:10], scheduler="cosine")
