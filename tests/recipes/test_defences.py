"""The defence recipes' trainers: which ART trainer each defence builds, and the fast-training guard."""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from art.attacks.evasion import ProjectedGradientDescent
from art.defences.trainer import AdversarialTrainer, AdversarialTrainerTRADESPyTorch

from attacks_custom.fast_at import CatastrophicOverfittingGuard, FastGradientRS
from attacks_custom.mart import MARTTrainer
from attacks_custom.nsr import NSRTrainer
from ecg_art.exceptions import ConfigError
from recipes.defences import AT, AT_NSR, MART, NSR, TRADES, make_trainer
from tests.attacks_custom.conftest import TinyCNN, make_beats, make_classifier


@pytest.fixture()
def classifier():
    torch.manual_seed(0)
    return make_classifier(TinyCNN())


@pytest.fixture(scope="module")
def prep():
    x, y = make_beats(200, seed=3)
    return SimpleNamespace(x_val=x, y_val=y)


def inner(trainer):
    return trainer.trainer if isinstance(trainer, CatastrophicOverfittingGuard) else trainer


@pytest.mark.parametrize("profiles, kind", [(AT, AdversarialTrainer), (AT_NSR, NSRTrainer), (NSR, NSRTrainer),
                                            (TRADES, AdversarialTrainerTRADESPyTorch), (MART, MARTTrainer)])
@pytest.mark.parametrize("train_attack", ["pgd", "fgsm-rs", "n-fgsm"])
def test_each_defence_builds_its_trainer(classifier, prep, profiles, kind, train_attack):
    cfg = dataclasses.replace(profiles["quick"], train_attack=train_attack, guard_n=50)
    trainer = make_trainer(cfg, classifier, prep=prep)
    fast = train_attack != "pgd" and cfg.defence != "nsr"  # NSR alone trains on clean beats: nothing to guard
    assert isinstance(trainer, CatastrophicOverfittingGuard) == fast
    assert isinstance(inner(trainer), kind)
    if fast:
        assert len(trainer.y_val) == 50 and isinstance(trainer.attack, ProjectedGradientDescent)
        assert len(np.unique(trainer.y_val)) == 3  # stratified: every class of the validation beats
        attack = inner(trainer).attack if cfg.defence in ("at-nsr", "mart") else None
        if attack is not None:
            assert isinstance(attack, FastGradientRS) and attack.method == train_attack


def test_guard_can_be_switched_off(classifier, prep):
    cfg = dataclasses.replace(AT["quick"], train_attack="fgsm-rs", guard_n=0)
    assert isinstance(make_trainer(cfg, classifier, prep=prep), AdversarialTrainer)


@pytest.mark.parametrize("field, value", [("defence", "madry"), ("train_attack", "fgsm")])
def test_unknown_names_are_named(classifier, prep, field, value):
    with pytest.raises(ConfigError, match=f"`{field}`"):
        make_trainer(dataclasses.replace(AT["quick"], **{field: value}), classifier, prep=prep)


@pytest.mark.parametrize("defence", ["trades", "mart", "at-nsr"])
def test_fast_trainers_run_under_fit_classifier(prep, defence, capsys):
    """Each fast trainer, guarded, trains epoch by epoch under fit_classifier with no bar of ART's own."""
    from ecg_art.training import fit_classifier

    torch.manual_seed(0)
    clf = make_classifier(TinyCNN(), lr=1e-2)
    x, y = make_beats(300, seed=4)
    cfg = dataclasses.replace(AT["quick"], defence=defence, guard_n=60, batch_size=64)
    trainer = make_trainer(cfg, clf, prep=prep)
    history = fit_classifier(clf, x, y, validation_data=(prep.x_val, prep.y_val), nb_epochs=2, batch_size=64,
                             patience=3, trainer=trainer)
    assert len(history.epochs) == 2 and history.epochs[-1]["val_accuracy"] > 0.5
    assert len(trainer.history.robust_acc) == 2
    assert "TRADES - Epochs" not in capsys.readouterr().err


def test_warm_start_trains_clean_epochs_first(monkeypatch, tmp_path, prep):
    """Without init_from, warm_start trains warmup_epochs clean epochs and returns their selected weights; with one
    (the paper job's fine-tuning) or warmup_epochs=0 it does nothing."""
    import recipes.defences as defences
    from ecg_art.io import load_checkpoint

    x, y = make_beats(200, seed=5)
    data = SimpleNamespace(x_train=x, y_train=y, x_val=prep.x_val, y_val=prep.y_val)
    monkeypatch.setattr(defences, "prepare_data", lambda cfg: data)
    monkeypatch.setattr(defences, "build_classifier", lambda cfg, y_train: make_classifier(TinyCNN()))
    monkeypatch.setattr(defences, "results_dir", lambda cfg: tmp_path)
    cfg = dataclasses.replace(AT["quick"], warmup_epochs=2, batch_size=64, threads=None)
    path = defences.warm_start(cfg)
    assert path == str(tmp_path / "checkpoints-warmup" / "best.pt")
    assert set(load_checkpoint(path)["model"]) == set(TinyCNN().state_dict())
    assert defences.warm_start(dataclasses.replace(cfg, init_from=path)) is None
    assert defences.warm_start(dataclasses.replace(cfg, warmup_epochs=0)) is None


def test_paper_quick_defences_fine_tune_with_fast_training():
    """The paper job's quick AT / AT+NSR fine-tune the baseline with FGSM-RS over every training beat (3 / 1 epochs);
    trades, mart and fast-at are stages it can switch on, fine-tuned the same way."""
    from ecg_art.cli import RECIPES
    from recipes.paper import PROFILES, _stage_config

    quick = PROFILES["quick"]
    for stage, epochs in (("at", 3), ("at-nsr", 1), ("trades", 3), ("mart", 3), ("fast-at", 3)):
        scfg = _stage_config(quick, RECIPES.get(stage), stage, "baseline/best.pt")
        assert (scfg.train_attack, scfg.train_n, scfg.init_from, scfg.nb_epochs) == ("fgsm-rs", None,
                                                                                      "baseline/best.pt", epochs)
    nsr = _stage_config(quick, RECIPES.get("nsr"), "nsr", "baseline/best.pt")
    assert nsr.train_n == 10000 and nsr.init_from == "baseline/best.pt"
    # AT alone trains at 1.1 x the table's eps in the quick profile (the others and the full profile at the eps)
    budgets = {s: _stage_config(quick, RECIPES.get(s), s, "b.pt").train_eps for s in ("at", "at-nsr", "fast-at")}
    assert budgets == {"at": 0.055, "at-nsr": 0.05, "fast-at": 0.05}
    assert _stage_config(PROFILES["full"], RECIPES.get("at"), "at", "b.pt").train_eps == 0.05
    # NSR alone regularises harder in the quick job than AT+NSR's NSR term (and than the standalone recipe)
    nsr_alone = (nsr.nsr_beta, nsr.nsr_eps)
    at_nsr = _stage_config(quick, RECIPES.get("at-nsr"), "at-nsr", "b.pt")
    assert nsr_alone == (3.0, 0.2) and (at_nsr.nsr_beta, at_nsr.nsr_eps) == (0.3, 0.05)
    assert (RECIPES.get("nsr").PROFILES["quick"].nsr_beta, RECIPES.get("nsr").PROFILES["quick"].nsr_eps) == (0.3, 0.05)


@pytest.mark.parametrize("method, fast_noise, expected", [("fgsm-rs", None, 0.05), ("n-fgsm", None, 0.1),
                                                          ("n-fgsm", 1.0, 0.05), ("fgsm-rs", 0.5, 0.025)])
def test_fast_noise_scales_the_random_start(classifier, method, fast_noise, expected):
    """``fast_noise`` sets the uniform start's half-width in multiples of train_eps; None keeps the method's own."""
    from recipes.defences import training_attack

    cfg = dataclasses.replace(AT["quick"], train_eps=0.05, train_attack=method, fast_noise=fast_noise)
    attack = training_attack(cfg, classifier)
    assert attack.settings[1] == pytest.approx(expected)
