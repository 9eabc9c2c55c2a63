import numpy as np
import pytest
import torch
from art.estimators.classification import PyTorchClassifier

from ecg_art.exceptions import CheckpointError, ConfigError
from ecg_art.training import class_weights_from_labels, fit_classifier


def _problem(n=240, length=32, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    t = np.linspace(0, 1, length)
    x = 0.5 + 0.3 * np.sin(2 * np.pi * (y[:, None] + 1) * t) + 0.05 * rng.normal(size=(n, length))
    return x[:, None, :].astype(np.float32), y.astype(np.int64)


def _classifier(seed=0, length=32):
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(length, 16), torch.nn.ReLU(),
                                torch.nn.Linear(16, 3))
    return PyTorchClassifier(model, loss=torch.nn.CrossEntropyLoss(), input_shape=(1, length), nb_classes=3,
                             optimizer=torch.optim.Adam(model.parameters(), lr=1e-2), clip_values=(0.0, 1.0))


def test_fit_selects_on_validation_and_learns(tmp_path):
    x, y = _problem()
    xv, yv = _problem(90, seed=1)
    clf = _classifier()
    hist = fit_classifier(clf, x, y, validation_data=(xv, yv), nb_epochs=6, batch_size=32, patience=3,
                          checkpoint_dir=tmp_path)
    assert hist.best_score == max(e["val_macro_f1"] for e in hist.epochs)
    acc = (clf.predict(xv).argmax(1) == yv).mean()
    assert acc > 0.8
    assert (tmp_path / "last.pt").is_file() and (tmp_path / "best.pt").is_file()


def test_resume_gives_the_same_weights_as_an_uninterrupted_run(tmp_path):
    x, y = _problem()
    xv, yv = _problem(90, seed=1)
    full = _classifier()
    fit_classifier(full, x, y, validation_data=(xv, yv), nb_epochs=4, batch_size=32, patience=10, seed=3)

    part = _classifier()
    fit_classifier(part, x, y, validation_data=(xv, yv), nb_epochs=2, batch_size=32, patience=10, seed=3,
                   checkpoint_dir=tmp_path)
    resumed = _classifier(seed=99)  # different init: everything must come from the checkpoint
    hist = fit_classifier(resumed, x, y, validation_data=(xv, yv), nb_epochs=4, batch_size=32, patience=10,
                          seed=3, checkpoint_dir=tmp_path, resume=True)
    assert hist.resumed_from == 2 and len(hist.epochs) == 4
    for a, b in zip(full.model.state_dict().values(), resumed.model.state_dict().values()):
        assert torch.equal(a, b)


def test_resume_from_a_checkpoint_of_another_model_is_refused(tmp_path):
    x, y = _problem()
    xv, yv = _problem(90, seed=1)
    fit_classifier(_classifier(), x, y, validation_data=(xv, yv), nb_epochs=1, batch_size=32, checkpoint_dir=tmp_path)
    x2, _ = _problem(length=16)
    with pytest.raises(CheckpointError, match="does not fit"):
        fit_classifier(_classifier(length=16), x2, y, validation_data=(x2[:10], y[:10]), nb_epochs=2,
                       batch_size=32, checkpoint_dir=tmp_path, resume=True)


@pytest.mark.parametrize("kw, name", [({"nb_epochs": 0}, "nb_epochs"), ({"batch_size": -1}, "batch_size"),
                                      ({"patience": 0}, "patience"), ({"resume": True}, "checkpoint_dir")])
def test_bad_parameters_are_named(kw, name):
    x, y = _problem(20)
    with pytest.raises(ConfigError, match=name):
        fit_classifier(_classifier(), x, y, validation_data=(x, y), **kw)


def test_class_weights_lift_rare_classes():
    w = class_weights_from_labels([0] * 90 + [1] * 9 + [2], nb_classes=4)
    assert w[2] > w[1] > w[0] > 0 and w[3] == 0
    assert np.isclose(w[:3].mean(), 1.0)


@pytest.mark.parametrize("with_trainer", [False, True])
def test_one_progress_bar_per_training_run(capsys, with_trainer):
    from art.attacks.evasion import FastGradientMethod
    from art.defences.trainer import AdversarialTrainer

    import art.defences.trainer.adversarial_trainer as art_trainer_module

    x, y = _problem(96)
    xv, yv = _problem(30, seed=1)
    clf = _classifier()
    trainer = AdversarialTrainer(clf, FastGradientMethod(clf, eps=0.05), ratio=0.5) if with_trainer else None
    bars_before = art_trainer_module.trange
    hist = fit_classifier(clf, x, y, validation_data=(xv, yv), nb_epochs=3, batch_size=32, patience=5,
                          trainer=trainer, verbose=True, desc="tiny at")
    err = capsys.readouterr().err
    assert len(hist.epochs) == 3 and "tiny at" in err and "3/3" in err and "macro-F1" in err
    assert "Adversarial training epochs" not in err and "Epochs" not in err  # ART's per-call bars stay off
    assert art_trainer_module.trange is bars_before  # and ART's module is left as it was


def test_no_bar_unless_verbose(capsys):
    x, y = _problem(64)
    fit_classifier(_classifier(), x, y, validation_data=_problem(20, seed=1), nb_epochs=2, batch_size=32)
    assert capsys.readouterr().err == ""
