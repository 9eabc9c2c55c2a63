"""Robust accuracy vs eps: the per-eps worst case, the beat-only recipes' curve (main evaluation reused, other eps
attacked) and the fusion recipe's (hard and BPDA attacks), and the adversarial-beat figure a run saves."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from torch import nn

from ecg_art.estimators import make_classifier, predict_labels
from ecg_art.evaluation import worst_case_curve
from ecg_art.exceptions import ConfigError
from ecg_art.models.fusion import FusionNet
from recipes.common import Config, curve_subset, robustness_curve
from recipes.fusion import Config as FusionConfig
from recipes.fusion import _adversarial_beats, _curve, attack_suite
from tests.recipes.test_fusion_recipe import _Tracker, problem  # noqa: F401  (module fixture)


def test_worst_case_curve_starts_at_clean_and_needs_every_attack_to_fail():
    clean = np.array([1, 1, 1, 0], bool)
    curve = worst_case_curve({("fgsm", 0.01): np.array([1, 1, 0, 1], bool),
                              ("pgd", 0.01): np.array([1, 0, 1, 1], bool),
                              ("pgd", 0.05): np.array([0, 0, 1, 1], bool)}, clean=clean)
    assert curve["eps"] == [0.0, 0.01, 0.05] and curve["n"] == 4
    assert curve["worst"] == [0.75, 0.25, 0.25]  # beat 3 counts broken everywhere: its clean answer is wrong
    assert curve["attacks"] == [[], ["fgsm", "pgd"], ["pgd"]]


def test_worst_case_curve_refuses_mismatched_beats():
    with pytest.raises(ConfigError, match="same shape"):
        worst_case_curve({("fgsm", 0.01): np.ones(3, bool)}, clean=np.ones(4, bool))


@pytest.fixture(scope="module")
def linear_problem():
    """A 2-class problem a linear model solves with a margin: the mean level of a 64-sample window."""
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 40)
    x = (0.4 + 0.2 * y[:, None, None] + 0.03 * rng.standard_normal((40, 1, 64))).astype(np.float32)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 2))
    with torch.no_grad():
        model[1].weight.copy_(torch.stack([-torch.ones(64), torch.ones(64)]) / 64)
        model[1].bias.copy_(torch.tensor([0.5, -0.5]))
    return make_classifier(model.eval(), input_length=64, nb_classes=2, device="cpu"), x, y.astype(np.int64)


def test_beat_only_curve_reuses_the_main_eps_and_falls_with_eps(linear_problem):
    clf, x, y = linear_problem
    cfg = Config(eps=(0.05,), curve_eps=(0.01, 0.2), curve_n=30, pgd_iter=5, attack_batch_size=16)
    clean_ok = predict_labels(clf, x) == y
    main = {("fgsm", 0.05): x + 0.0, ("pgd", 0.05): x + 0.0,  # a fake main evaluation: nothing broken at 0.05
            ("autoattack", 0.05): 1 - x}  # the table-only attack (every beat broken) stays out of the curve
    tracker = _Tracker()
    curve = robustness_curve(cfg, clf, x, y, main, clean_ok, attacks=("fgsm", "pgd", "autoattack"), tracker=tracker)
    assert curve["eps"] == [0.0, 0.01, 0.05, 0.2] and curve["n"] == 30
    sub = curve_subset(cfg, len(y))
    assert len(sub) == 30 and list(sub) == sorted(sub) and sub[-1] > 29  # a seeded random subset, not the first 30
    assert curve["worst"][0] == pytest.approx(clean_ok[sub].mean())
    assert curve["worst"][2] == curve["worst"][0]  # the main evaluation's (untouched) examples were reused
    assert curve["worst"][3] < 0.5 <= curve["worst"][1]  # 0.2 moves the mean across the 0.1 margin, 0.01 cannot
    assert tracker.metrics["curve_worst_eps0.2"] == curve["worst"][3]
    assert robustness_curve(dataclasses.replace(cfg, curve_eps=()), clf, x, y, main, clean_ok,
                            attacks=("fgsm",)) is None
    with pytest.raises(ConfigError, match="curve_n"):
        robustness_curve(dataclasses.replace(cfg, curve_n=0), clf, x, y, main, clean_ok, attacks=("fgsm",))


def test_fusion_curve_covers_hard_and_bpda_attacks_and_saves_the_beat_figure(problem, tmp_path):  # noqa: F811
    x, y = problem[0][:6], problem[1][:6]
    torch.manual_seed(0)
    model = FusionNet()
    model.fit_feature_normalizer(x)
    clf = make_classifier(model.eval(), input_length=1024, nb_classes=5, device="cpu")
    cfg = FusionConfig(window=1024, r_offset=512, beat_unit=False, feature_set="window", pgd_iter=2,
                       attack_batch_size=8, attacks=("fgsm",), adaptive_attacks=("fgsm",), eps=(0.05,),
                       curve_eps=(0.1,), curve_n=4, output_dir=str(tmp_path))
    _, adv, correct = attack_suite(cfg, clf, x, y, attacks=("fgsm",), eps=(0.05,))
    clean_ok = predict_labels(clf, x) == y
    tracker = _Tracker()
    curve = _curve(cfg, clf, x, y, correct, clean_ok, tracker)
    assert curve["eps"] == [0.0, 0.05, 0.1] and curve["n"] == 4
    assert curve["attacks"][1] == ["bpda-fgsm", "fgsm"] and curve["attacks"][2] == ["bpda-fgsm", "fgsm"]
    assert curve["worst"][1] <= min(curve["worst"][0], correct["fgsm@0.05"][:4].mean())
    figs = []
    tracker.log_figure = lambda fig, name: figs.append((fig, name))
    _adversarial_beats(cfg, x, y, adv, tracker)
    (fig, name), = figs
    assert name == "adversarial_beats.png" and len(fig.axes) == 2  # one attack: beat on top, perturbation below
    assert len(fig.axes[0].get_lines()[0].get_xdata()) == 256  # the beat window, not the whole context
    saved = list(tmp_path.glob("fusion-*/adversarial_beats.png"))
    assert len(saved) == 1 and saved[0].read_bytes().startswith(b"\x89PNG")
