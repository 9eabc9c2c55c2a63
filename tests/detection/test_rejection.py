"""Classifier + detector as one system: the clean-rejection threshold, accuracy with rejection, the per-beat worst
case of the classifier alone vs the system, and the detector recipe's per-eps summary."""

from __future__ import annotations

import numpy as np
import pytest

from ecg_art.detection import accuracy_with_rejection, rejection_threshold, system_worst_case
from ecg_art.exceptions import ConfigError
from recipes.detector import _with_rejection


@pytest.mark.parametrize("n, share, rejected", [(100, 0.05, 5), (99, 0.05, 4), (20, 0.0, 0), (10, 0.5, 5)])
def test_threshold_rejects_at_most_the_share_of_clean_beats(n, share, rejected):
    scores = np.random.default_rng(n).normal(size=n)
    t = rejection_threshold(scores, max_reject=share)
    assert int((scores >= t).sum()) == rejected


def test_ties_at_the_boundary_are_kept():
    scores = np.array([0.1, 0.5, 0.5, 0.5, 0.9])
    assert int((scores >= rejection_threshold(scores, max_reject=0.4)).sum()) == 1  # 2 allowed, 3 tied: keep them


@pytest.mark.parametrize("scores, share, needle", [([], 0.05, "non-empty"), ([0.1, np.nan], 0.05, "finite"),
                                                   ([0.1], 1.0, "max_reject"), ([0.1], -0.1, "max_reject")])
def test_bad_threshold_input_names_the_parameter(scores, share, needle):
    with pytest.raises(ConfigError, match=needle):
        rejection_threshold(np.array(scores), max_reject=share)


def test_system_counts_a_beat_if_every_attack_leaves_it_correct_or_rejected():
    correct = {"pgd": np.array([1, 0, 0, 1], bool), "adaptive": np.array([1, 1, 0, 0], bool)}
    scores = {"pgd": np.array([0.0, 0.9, 0.9, 0.0]), "adaptive": np.array([0.0, 0.0, 0.1, 0.2])}
    alone, system = system_worst_case(correct, scores, 0.5)
    assert alone == 0.25  # only beat 0 survives both attacks
    assert system == 0.5  # beat 1: pgd's example rejected, adaptive's classified right; beat 2: adaptive evades
    assert accuracy_with_rejection(correct["pgd"], scores["pgd"], 0.5) == 1.0
    with pytest.raises(ConfigError, match="same attacks"):
        system_worst_case(correct, {"pgd": scores["pgd"]}, 0.5)
    with pytest.raises(ConfigError, match="same length"):
        accuracy_with_rejection(np.ones(3, bool), np.ones(4), 0.5)


def test_recipe_summary_counts_clean_errors_and_reports_clean_rejection():
    system = {0.05: {"pgd": (np.array([1, 0, 1, 1], bool), np.array([0.0, 0.9, 0.0, 0.0]))},
              0.01: {"pgd": (np.array([1, 1, 1, 1], bool), np.array([0.0, 0.0, 0.0, 0.0]))}}
    clean_ok = np.array([1, 1, 1, 0], bool)
    clean_scores = np.array([0.0, 0.0, 0.0, 0.7])  # the clean error is rejected
    out = _with_rejection(system, clean_ok, clean_scores, 0.5)
    assert list(out) == ["0.01", "0.05"]
    assert out["0.05"] == {"classifier_worst": 0.5, "accuracy_with_rejection": 1.0, "clean_reject": 0.25}
    assert out["0.01"]["classifier_worst"] == 0.75 and out["0.01"]["accuracy_with_rejection"] == 1.0
