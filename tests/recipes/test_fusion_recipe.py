"""Pieces of the fusion recipe: worst-case combination, gradient-free 1D adapters, two-stage training, attack suite,
feature-shift summary (all on tiny synthetic problems; the real-data run is the recipe's quick profile)."""

from __future__ import annotations

import neurokit2 as nk
import numpy as np
import pytest
import torch
from torch import nn

from ecg_art.estimators import make_classifier, predict_labels
from ecg_art.exceptions import ConfigError
from ecg_art.features import (ClippedHopSkipJump, SquareAttack1D, Windows2D, context_windows, extract_features,
                              shift_summary, shift_table, shift_vs_eps_figure, square_shape, worst_case_correct)
from ecg_art.io import load_checkpoint
from ecg_art.models.fusion import FusionNet
from recipes.common import Prepared, results_dir
from recipes.fusion import FUSION_RECIPE, Config, attack_suite, train_two_stage


class _Tracker:
    """Records what the recipe logs (no MLflow)."""

    def __init__(self) -> None:
        self.metrics: dict[str, float] = {}

    def log_metrics(self, metrics, step=None) -> None:
        self.metrics.update(metrics)


def _windows(heart_rate: int, seed: int) -> np.ndarray:
    sig = nk.ecg_simulate(duration=40, sampling_rate=360, heart_rate=heart_rate, random_state=seed)
    peaks = np.asarray(nk.ecg_peaks(sig, sampling_rate=360)[1]["ECG_R_Peaks"])
    return context_windows(sig, peaks)[0]


@pytest.fixture(scope="module")
def problem():
    """Two classes told apart by rhythm only: 60 bpm (class 0) vs 110 bpm (class 1) simulated context windows."""
    slow, fast = _windows(60, 0), _windows(110, 1)
    x = np.concatenate([slow, fast]).astype(np.float32)
    y = np.concatenate([np.zeros(len(slow)), np.ones(len(fast))]).astype(np.int64)
    order = np.random.default_rng(0).permutation(len(y))
    return x[order], y[order]


@pytest.fixture(scope="module")
def tiny_classifier():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv1d(1, 4, 5, padding=2), nn.ReLU(), nn.AdaptiveAvgPool1d(8), nn.Flatten(),
                          nn.Linear(32, 3))
    return make_classifier(model.eval(), input_length=64, nb_classes=3, device="cpu")


def test_worst_case_counts_a_beat_robust_only_if_every_attack_and_clean_are_correct():
    a = np.array([1, 1, 1, 0, 1], bool)
    b = np.array([1, 0, 1, 1, 1], bool)
    clean = np.array([1, 1, 0, 1, 1], bool)
    assert worst_case_correct({"a": a, "b": b}).tolist() == [True, False, True, False, True]
    both = worst_case_correct({"a": a, "b": b}, clean=clean)
    assert both.tolist() == [True, False, False, False, True]
    assert both.mean() <= min(a.mean(), b.mean(), clean.mean())  # never above any single attack
    with pytest.raises(ConfigError, match="same shape"):
        worst_case_correct({"a": a, "b": b[:3]})
    with pytest.raises(ConfigError, match="at least one"):
        worst_case_correct({})


def test_square_shape_and_2d_view():
    assert square_shape(1024) == (32, 32) and square_shape(64) == (8, 8)
    with pytest.raises(ConfigError, match="length"):
        square_shape(13)  # prime: no H >= 2
    net = nn.Sequential(nn.Flatten(), nn.Linear(64, 2))
    x = torch.rand(3, 1, 64)
    assert torch.equal(Windows2D(net)(x.reshape(3, 1, 8, 8)), net(x))
    assert Windows2D(net)(x.double()).dtype == torch.float32


def test_square_attack_1d_contract(tiny_classifier):
    rng = np.random.default_rng(0)
    x = rng.random((12, 1, 64), dtype=np.float32)
    x[:, :, :4] = 0.0  # at the clip boundary
    y = predict_labels(tiny_classifier, x)
    x0 = x.copy()
    attack = SquareAttack1D(tiny_classifier, eps=0.1, max_iter=30, p_init=0.3, seed=0)
    x_adv = attack.generate(x, y)
    assert x_adv.shape == x.shape and x_adv.dtype == np.float32
    assert np.array_equal(x, x0)  # input not mutated
    assert np.abs(x_adv - x).max() <= 0.1 + 1e-6
    assert x_adv.min() >= 0.0 and x_adv.max() <= 1.0
    assert np.abs(x_adv - x).max() > 0  # it did search
    assert (predict_labels(tiny_classifier, x_adv) == y).mean() <= 1.0
    np.testing.assert_array_equal(x_adv, SquareAttack1D(tiny_classifier, eps=0.1, max_iter=30, p_init=0.3,
                                                        seed=0).generate(x, y))  # seeded
    with pytest.raises(ConfigError, match="image_shape"):
        SquareAttack1D(tiny_classifier, eps=0.1, image_shape=(3, 20))
    with pytest.raises(ConfigError, match="eps"):
        SquareAttack1D(tiny_classifier, eps=-1.0)


def test_square_attack_finds_adversarials_on_a_fragile_model():
    """A model that flips on a tiny change of one input sample: the random search must find it within eps."""
    class Fragile(nn.Module):
        def __init__(self):
            super().__init__()
            self.scale = nn.Parameter(torch.tensor(100.0))

        def forward(self, x):
            s = x.reshape(len(x), -1).mean(1, keepdim=True) - 0.5
            return torch.cat([-self.scale * s, self.scale * s], dim=1)

    clf = make_classifier(Fragile(), input_length=64, nb_classes=2, device="cpu")
    x = np.full((6, 1, 64), 0.49, dtype=np.float32)
    y = predict_labels(clf, x)
    x_adv = SquareAttack1D(clf, eps=0.05, max_iter=20, seed=0).generate(x, y)
    assert (predict_labels(clf, x_adv) != y).all() and np.abs(x_adv - x).max() <= 0.05 + 1e-6


def test_clipped_hop_skip_jump_stays_in_the_ball(tiny_classifier):
    x = np.random.default_rng(1).random((3, 1, 64), dtype=np.float32)
    x_adv = ClippedHopSkipJump(tiny_classifier, eps=0.02, max_iter=2, max_eval=20, init_eval=5,
                               init_size=20).generate(x)
    assert x_adv.shape == x.shape and np.abs(x_adv - x).max() <= 0.02 + 1e-6
    assert x_adv.min() >= 0.0 and x_adv.max() <= 1.0


def test_two_stage_training_fits_the_normaliser_on_training_features_only(problem, tmp_path):
    x, y = problem
    n_tr, n_va = 48, 24
    prep = Prepared(None, None, x[:n_tr], y[:n_tr], x[n_tr:n_tr + n_va], y[n_tr:n_tr + n_va], x[-16:], y[-16:],
                    np.arange(16))
    cfg = Config(output_dir=str(tmp_path), nb_epochs=2, patience=1, stage2_epochs=2, stage2_patience=1,
                 batch_size=16, device="cpu", train_n=None, val_n=None, class_weight_power=0.0)
    torch.manual_seed(0)
    model = FusionNet()
    clf = make_classifier(model, input_length=1024, nb_classes=5, device="cpu")
    tracker = _Tracker()
    out = train_two_stage(cfg, clf, prep, tracker)
    assert out["n_normalizer"] == n_tr
    f_train = extract_features(prep.x_train)
    np.testing.assert_allclose(model.normalizer.mean.numpy(), f_train.mean(0), rtol=1e-4, atol=1e-5)
    f_val = extract_features(prep.x_val)
    assert not np.allclose(model.normalizer.mean.numpy(), f_val.mean(0), rtol=1e-3)
    # stage 2 left the CNN branch exactly as stage 1 selected it (frozen), and trained the rest
    stage1 = load_checkpoint(results_dir(cfg) / "checkpoints-stage1" / "best.pt")["model"]
    final = model.state_dict()
    assert all(torch.equal(stage1[k], final[k].cpu()) for k in final if k.startswith(("cnn.", "cnn_out.")))
    assert any(not torch.equal(stage1[k], final[k].cpu()) for k in final if k.startswith(("head.", "feature_mlp.")))
    assert model.output == "fusion" and model.feature_mode == "hard"
    assert {"stage1_best_epoch", "stage2_best_epoch", "stage2_best_val_macro_f1"} <= set(tracker.metrics)


def test_two_stage_training_with_adversarial_training_runs(problem, tmp_path):
    x, y = problem
    prep = Prepared(None, None, x[:32], y[:32], x[32:48], y[32:48], x[-8:], y[-8:], np.arange(8))
    cfg = Config(output_dir=str(tmp_path), nb_epochs=1, stage2_epochs=1, batch_size=16, device="cpu",
                 adv_train=True, train_pgd_iter=1)
    torch.manual_seed(0)
    clf = make_classifier(FusionNet(), input_length=1024, nb_classes=5, device="cpu")
    out = train_two_stage(cfg, clf, prep, _Tracker())
    assert out["stage2"].best_epoch == 0 and clf.model.feature_mode == "hard"


def test_two_stage_training_with_trades_runs(problem, tmp_path):
    from art.defences.trainer import AdversarialTrainerTRADESPyTorch

    from recipes.common import config_hash
    from recipes.fusion import _make_trainer

    x, y = problem
    prep = Prepared(None, None, x[:32], y[:32], x[32:48], y[32:48], x[-8:], y[-8:], np.arange(8))
    cfg = Config(output_dir=str(tmp_path), nb_epochs=1, stage2_epochs=1, batch_size=16, device="cpu",
                 adv_train=True, train_pgd_iter=1, adv_method="trades", trades_beta=1.0)
    torch.manual_seed(0)
    clf = make_classifier(FusionNet(), input_length=1024, nb_classes=5, device="cpu")
    assert isinstance(_make_trainer(cfg, clf), AdversarialTrainerTRADESPyTorch)
    out = train_two_stage(cfg, clf, prep, _Tracker())
    assert out["stage2"].best_epoch == 0 and clf.model.feature_mode == "hard"
    with pytest.raises(ConfigError, match="adv_method"):
        _make_trainer(Config(adv_method="mart"), clf)
    # the option is in the results folder's hash only when set: a run at its default keeps its earlier folder
    import dataclasses
    import hashlib
    import json

    from recipes.common import BOOKKEEPING, LATER_DEFAULTS, NOISE_AUGMENT_FIELDS

    base = Config(output_dir=str(tmp_path))
    before = {k: v for k, v in dataclasses.asdict(base).items()
              if k not in (*BOOKKEEPING, *NOISE_AUGMENT_FIELDS, *LATER_DEFAULTS)}
    assert config_hash(base) == hashlib.sha256(json.dumps(before, sort_keys=True, default=str).encode()).hexdigest()[:8]
    assert config_hash(base) != config_hash(Config(output_dir=str(tmp_path), adv_method="trades"))
    assert config_hash(base) != config_hash(Config(output_dir=str(tmp_path), trades_beta=1.0))
    assert config_hash(base) != config_hash(Config(output_dir=str(tmp_path), train_subset="proportional"))


def test_attack_suite_scores_bpda_with_the_hard_model(problem):
    x, y = problem[0][:8], problem[1][:8]
    torch.manual_seed(0)
    model = FusionNet()
    model.fit_feature_normalizer(x)
    clf = make_classifier(model.eval(), input_length=1024, nb_classes=5, device="cpu")
    cfg = Config(pgd_iter=2, attack_batch_size=8)
    rows, adv, correct = attack_suite(cfg, clf, x, y, attacks=("fgsm", "pgd"), eps=(0.01, 0.05), mode="bpda",
                                      prefix="bpda-")
    assert set(rows) == {"bpda-fgsm@0.01", "bpda-fgsm@0.05", "bpda-pgd@0.01", "bpda-pgd@0.05"}
    assert model.feature_mode == "hard"  # restored
    for key, ok in correct.items():
        assert ok.shape == (8,) and rows[key]["adv_accuracy"] == pytest.approx(ok.mean())
        assert np.abs(adv[key] - x).max() <= float(key.split("@")[1]) + 1e-6


def test_shift_summary_separates_rr_from_morphology(problem):
    x = problem[0][:20]
    noise = np.random.default_rng(0).normal(0, 1, x.shape).astype(np.float32)
    smooth = np.stack([np.convolve(n[0], np.ones(15) / 15, mode="same") for n in noise])[:, None]
    x_adv = np.clip(x + 0.03 * np.sign(smooth), 0, 1).astype(np.float32)
    s = shift_summary(x, {"toy@0.03": x_adv, "same@0.03": x})
    assert s["same@0.03"]["rr_shift"] == 0 and s["same@0.03"]["morph_shift"] == 0
    assert s["toy@0.03"]["morph_shift"] > 0
    assert 0 <= s["toy@0.03"]["rr_changed"] <= 1
    assert shift_table(s).count("\n") == 12 + 2 + 1
    assert len(shift_vs_eps_figure(s).axes) == 2


def test_recipe_profiles():
    from recipes.fusion import FUSION_CLEAN_RECIPE

    quick, full = FUSION_RECIPE.PROFILES["quick"], FUSION_RECIPE.PROFILES["full"]
    assert quick.window == 4320 and quick.r_offset == 3600 and quick.feature_set == "rhythm" and quick.beat_unit
    assert quick.adv_train and not quick.freeze_cnn and quick.train_feature_mode == "bpda"  # the defence
    assert 0.05 in quick.eps and set(quick.attacks) == {"fgsm", "pgd", "sap"} and quick.pgd_iter == 20
    assert full.eval_n > quick.eval_n and full.blackbox_n > quick.blackbox_n
    clean = FUSION_CLEAN_RECIPE.PROFILES["quick"]
    assert clean.name == "fusion-clean" and not clean.adv_train and clean.freeze_cnn
    assert {f: getattr(clean, f) for f in ("window", "feature_set", "eval_n")} == \
        {f: getattr(quick, f) for f in ("window", "feature_set", "eval_n")}  # the same model and evaluation
