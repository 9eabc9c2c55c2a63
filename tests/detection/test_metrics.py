"""Detection metrics: AUC / TPR@5%FPR / accuracy sanity, threshold choice, scores from ART detectors, figures."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from matplotlib.figure import Figure

from ecg_art.detection import (
    DetectionResult,
    choose_threshold,
    detection_result,
    detection_scores,
    make_input_detector,
    roc_figure,
    score_histogram_figure,
    tpr_at_fpr,
)
from ecg_art.exceptions import ConfigError


def test_perfect_scores_give_auc_one():
    rng = np.random.default_rng(0)
    clean, adv = rng.uniform(-2, -1, 50), rng.uniform(1, 2, 70)
    thr = choose_threshold(clean, adv)
    r = detection_result(clean, adv, attack="pgd", eps=0.05, threshold=thr)
    assert (r.auc, r.tpr_at_5fpr, r.accuracy) == (1.0, 1.0, 1.0)
    assert (r.n_clean, r.n_adv) == (50, 70)
    assert -1.0 < thr < 1.0


def test_inverted_and_random_scores():
    rng = np.random.default_rng(1)
    inv = detection_result(np.ones(20), np.zeros(20), attack="a", eps=0.1, threshold=0.5)
    assert inv.auc == 0.0 and inv.accuracy == 0.0
    rnd = detection_result(rng.normal(size=4000), rng.normal(size=4000), attack="a", eps=0.1, threshold=0.0)
    assert abs(rnd.auc - 0.5) < 0.03
    assert abs(rnd.tpr_at_5fpr - 0.05) < 0.02  # a random detector's TPR equals its FPR


def test_tpr_at_fpr_and_threshold_methods():
    y = np.array([0] * 100 + [1] * 100)
    s = np.concatenate([np.arange(100), np.arange(100) + 50]).astype(float)  # half the positives above every negative
    assert tpr_at_fpr(y, s, fpr=0.0) == pytest.approx(0.5, abs=0.011)
    assert tpr_at_fpr(y, s, fpr=0.05) == pytest.approx(0.55, abs=0.011)
    thr = choose_threshold(s[:100], s[100:], method="fpr", fpr=0.05)
    assert np.mean(s[:100] >= thr) <= 0.05
    with pytest.raises(ConfigError, match="method"):
        choose_threshold(s[:100], s[100:], method="best")


def test_result_is_frozen_dict_of_numbers_and_joint_success():
    r = detection_result(np.zeros(4), np.array([0.0, 0.0, 1.0, 1.0]), attack="sap", eps=0.01, threshold=0.5,
                         fooled=np.array([True, False, True, False]))
    assert r.joint_success == 0.25  # only beat 0 is both misclassified and not flagged
    d = r.to_dict()
    assert set(d) >= {"attack", "eps", "auc", "tpr_at_5fpr", "accuracy", "n_clean", "n_adv", "joint_success"}
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.auc = 0.0  # type: ignore[misc]
    assert math.isnan(detection_result(np.zeros(2), np.ones(2), attack="a", eps=0, threshold=0.5).joint_success)
    with pytest.raises(ConfigError, match="fooled"):
        detection_result(np.zeros(2), np.ones(2), attack="a", eps=0, threshold=0.5, fooled=np.ones(3, bool))
    with pytest.raises(ConfigError, match="clean and adversarial"):
        detection_result(np.zeros(0), np.ones(2), attack="a", eps=0, threshold=0.5)


def test_auc_fooled_counts_only_misclassified_beats():
    # the attacker lowered the score of the two beats it failed to misclassify: AUC suffers, auc_fooled does not
    s_clean, s_adv = np.array([0.0, 0.1, 0.2, 0.3]), np.array([-1.0, -1.0, 1.0, 1.0])
    r = detection_result(s_clean, s_adv, attack="a", eps=0.05, threshold=0.5,
                         fooled=np.array([False, False, True, True]))
    assert r.auc == 0.5 and r.auc_fooled == 1.0
    none = detection_result(s_clean, s_adv, attack="a", eps=0.05, threshold=0.5, fooled=np.zeros(4, bool))
    assert math.isnan(none.auc_fooled)


def test_detection_scores_is_the_adversarial_margin():
    det = make_input_detector(input_length=32, device="cpu")
    x = np.random.default_rng(0).uniform(0, 1, (5, 1, 32)).astype(np.float32)
    pred = det.detect(x)[0]["predictions"]
    np.testing.assert_allclose(detection_scores(det, x), pred[:, 1] - pred[:, 0], rtol=1e-6)
    assert detection_scores(det, x[:0]).shape == (0,)
    assert isinstance(DetectionResult, type)


def test_figures():
    rng = np.random.default_rng(0)
    scores = {f"attack {i}": (rng.normal(size=30), rng.normal(1, size=30)) for i in range(4)}
    roc = roc_figure(scores)
    assert isinstance(roc, Figure) and len(roc.axes[0].lines) == 4 + 2
    hist = score_histogram_figure(scores, threshold=0.5)
    assert isinstance(hist, Figure) and len(hist.axes) == 4
