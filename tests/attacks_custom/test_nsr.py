"""Tests of the NSR regulariser and of NSRTrainer (alone, with LR schedulers, and with adversarial examples)."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch
from art.attacks.evasion import FastGradientMethod

from attacks_custom import NSRTrainer, make_nsr_trainer, mse_margin_loss, nsr_regularizer
from ecg_art.exceptions import ConfigError
from tests.attacks_custom.conftest import TinyCNN, make_classifier


def fresh_classifier(seed: int = 0, lr: float = 3e-3):
    torch.manual_seed(seed)
    return make_classifier(TinyCNN(), lr=lr)


def test_regulariser_matches_hand_computation_on_linear_model():
    w = np.array([[1.0, -2.0, 0.5], [0.0, 1.0, -1.0]])
    b = np.array([0.1, -0.2])
    x = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.2, 0.1, 0.3], [-1.0, 0.0, 2.0]])
    y = np.array([0, 1, 1, 1])
    z = x @ w.T + b
    eps, delta = 0.5, 0.01
    correct = z.argmax(1) == y
    expected = np.mean([np.log1p(eps * np.abs(w[y[i]]).sum() / (abs(z[i, y[i]]) + delta))
                        for i in np.flatnonzero(correct)])
    lin = torch.nn.Linear(3, 2).double()
    with torch.no_grad():
        lin.weight.copy_(torch.tensor(w))
        lin.bias.copy_(torch.tensor(b))
    x_t = torch.tensor(x, requires_grad=True)
    reg, n = nsr_regularizer(lin(x_t), x_t, torch.tensor(y), eps=eps, delta=delta)
    assert n == int(correct.sum()) and 0 < n < len(y)
    assert reg.item() == pytest.approx(expected, rel=1e-12)
    reg.backward()  # double backprop reaches the weights
    assert lin.weight.grad is not None and float(lin.weight.grad.abs().sum()) > 0


def test_regulariser_is_zero_without_correct_samples():
    lin = torch.nn.Linear(3, 2)
    x = torch.randn(4, 3, requires_grad=True)
    logits = lin(x)
    reg, n = nsr_regularizer(logits, x, 1 - logits.argmax(1), eps=1.0, delta=0.01)
    assert n == 0 and reg.item() == 0.0 and reg.requires_grad


def test_mse_margin_loss_hand_value():
    logits = torch.tensor([[1.2, 0.5, 0.0], [0.0, 0.1, 0.9]])
    y = torch.tensor([0, 1])
    # mse: (0.04 + 0.25 + 0) + (0 + 0.81 + 0.81), mean 0.955; margin on sample 0: 1-1.2+0.5=0.3, 1-1.2+0=-0.2 -> 0.3
    assert float(mse_margin_loss(logits, y, margin=1.0)) == pytest.approx(0.955 + 0.3)


def test_fit_reduces_loss_with_one_hot_labels(beats):
    (x, y), (xv, yv) = beats
    trainer = NSRTrainer(fresh_classifier(lr=1e-2), beta=0.3)
    history = trainer.fit(x, np.eye(3)[y], validation_data=(xv, yv), nb_epochs=8, batch_size=64, seed=0)
    assert len(history.loss) == 8 and history.loss[-1] < 0.5 * history.loss[0]
    assert history.val_acc[-1] > 0.9 and all(r >= 0 for r in history.reg)
    assert trainer.get_classifier() is trainer.classifier


def test_step_lr_and_reduce_on_plateau(beats):
    (x, y), (xv, yv) = beats
    clf = fresh_classifier()
    sched = torch.optim.lr_scheduler.StepLR(clf.optimizer, step_size=1, gamma=0.5)
    history = NSRTrainer(clf, beta=0.1).fit(x[:256], y[:256], nb_epochs=3, batch_size=64, scheduler=sched, seed=0)
    assert history.lr == pytest.approx([3e-3, 1.5e-3, 7.5e-4])
    assert clf.optimizer.param_groups[0]["lr"] == pytest.approx(3.75e-4)
    clf = fresh_classifier()
    plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(clf.optimizer, patience=0, factor=0.1, threshold=10.0)
    history = NSRTrainer(clf, beta=0.1).fit(x[:256], y[:256], validation_data=(xv, yv), nb_epochs=2,
                                            batch_size=64, scheduler=plateau, seed=0)
    assert not math.isnan(history.val_loss[0])
    assert clf.optimizer.param_groups[0]["lr"] < 3e-3  # threshold=10 makes every epoch "no improvement"


def test_adversarial_training_with_art_fgm(beats):
    (x, y), (xv, yv) = beats
    clf = fresh_classifier()
    fgm = FastGradientMethod(clf, eps=0.05)
    calls = []
    original = fgm.generate
    fgm.generate = lambda x_, y=None, **kw: calls.append(len(x_)) or original(x_, y=y, **kw)
    history = make_nsr_trainer(clf, beta=0.3, attack=fgm, ratio=0.5).fit(x[:256], y[:256], nb_epochs=2,
                                                                        batch_size=64, seed=0)
    assert calls == [32] * 8 and len(history.acc) == 2 and np.isfinite(history.loss).all()


def test_on_epoch_end_stops_training(beats):
    (x, y), _ = beats
    seen = []
    history = NSRTrainer(fresh_classifier(), beta=0.0).fit(
        x[:128], y[:128], nb_epochs=5, batch_size=64, on_epoch_end=lambda e, m: seen.append(m) or e == 1)
    assert len(history.loss) == 2 and set(seen[0]) >= {"loss", "reg", "acc", "val_acc", "lr"}


def test_estimator_base_loss_trains(beats):
    (x, y), (xv, yv) = beats
    trainer = NSRTrainer(fresh_classifier(lr=1e-2), beta=0.3, eps=0.05, base_loss="estimator")
    history = trainer.fit(x, y, validation_data=(xv, yv), nb_epochs=8, batch_size=64, seed=0)
    assert history.loss[-1] < 0.5 * history.loss[0] and history.val_acc[-1] > 0.9


def mean_input_gradient_l1(clf, x, y) -> float:
    model = clf.model.eval()
    x_t = torch.from_numpy(x).requires_grad_(True)
    z = model(x_t)
    grad = torch.autograd.grad(z.gather(1, torch.from_numpy(y)[:, None]).sum(), x_t)[0]
    return float(grad.abs().sum(dim=(1, 2)).mean())


@pytest.mark.parametrize("base_loss, eps, factor", [("mse_margin", 1.0, 1.0), ("estimator", 0.05, 0.8)])
def test_nsr_shrinks_input_gradients(beats, base_loss, eps, factor):
    """Fine-tune one pre-trained model with and without NSR (seeded): NSR gives smaller input gradients."""
    (x, y), (xv, yv) = beats
    clf = fresh_classifier(seed=3, lr=1e-2)
    NSRTrainer(clf, beta=0.0, base_loss=base_loss).fit(x, y, nb_epochs=8, batch_size=64, seed=0)
    state = copy.deepcopy(clf.model.state_dict())
    norms = {}
    for beta in (0.0, 1.0):
        model = TinyCNN()
        model.load_state_dict(state)
        tuned = make_classifier(model, lr=3e-3)
        NSRTrainer(tuned, beta=beta, eps=eps, base_loss=base_loss).fit(x, y, nb_epochs=4, batch_size=64, seed=0)
        assert (tuned.predict(xv).argmax(1) == yv).mean() > 0.9
        norms[beta] = mean_input_gradient_l1(tuned, xv, yv)
    assert norms[1.0] < factor * norms[0.0]


@pytest.mark.parametrize("kwargs, name", [({"beta": -1.0}, "beta"), ({"eps": -0.1}, "eps"), ({"delta": 0.0}, "delta"),
                                          ({"ratio": 0.0}, "ratio"), ({"attack": "fgm"}, "attack"),
                                          ({"base_loss": "hinge"}, "base_loss")])
def test_bad_parameters_are_named(kwargs, name):
    with pytest.raises(ConfigError, match=f"`{name}`"):
        NSRTrainer(fresh_classifier(), **kwargs)


def test_bad_fit_arguments_are_named(beats):
    (x, y), _ = beats
    trainer = NSRTrainer(fresh_classifier())
    with pytest.raises(ConfigError, match="`scheduler`"):
        trainer.fit(x[:10], y[:10], nb_epochs=1, scheduler="cosine")
    with pytest.raises(ConfigError, match="`nb_epochs`"):
        trainer.fit(x[:10], y[:10], nb_epochs=0)
    with pytest.raises(ConfigError, match="unknown fit arguments"):
        trainer.fit(x[:10], y[:10], nb_epochs=1, shuffle=True)
