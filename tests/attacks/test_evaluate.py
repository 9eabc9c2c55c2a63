"""evaluate_attacks: one call over attacks x budgets, metric sanity, returned adversarial beats."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from ecg_art.attacks import AttackResult, evaluate_attacks
from ecg_art.exceptions import ConfigError


def test_grid_of_attacks_and_budgets(trained_classifier):
    clf, x, y = trained_classifier
    results, adv = evaluate_attacks(clf, x, y, attacks=["fgsm", "pgd"], eps=[0.0, 0.05, 0.15], batch_size=16,
                                    attack_kwargs={"pgd": {"max_iter": 5}}, return_adv=True)
    assert [(r.attack, r.eps) for r in results] == [(a, e) for a in ("fgsm", "pgd") for e in (0.0, 0.05, 0.15)]
    assert set(adv) == {(r.attack, r.eps) for r in results}
    for r in results:
        assert isinstance(r, AttackResult) and r.n == len(y) and r.seconds >= 0
        assert r.adv_accuracy <= r.clean_accuracy
        assert r.linf <= r.eps + 1e-6
    zero = [r for r in results if r.eps == 0.0]
    assert all(r.adv_accuracy == r.clean_accuracy and r.linf == 0.0 and math.isinf(r.snr_db) for r in zero)
    assert all(np.array_equal(adv[(r.attack, 0.0)], x) for r in zero)
    pgd = {r.eps: r for r in results if r.attack == "pgd"}
    assert pgd[0.15].adv_accuracy < pgd[0.0].adv_accuracy
    assert pgd[0.15].snr_db < pgd[0.05].snr_db  # bigger budget, noisier beats


def test_result_is_frozen_and_serialisable(trained_classifier):
    clf, x, y = trained_classifier
    (r,) = evaluate_attacks(clf, x[:8], y[:8], attacks="fgsm", eps=0.05)
    d = r.to_dict()
    assert set(d) == {"attack", "eps", "n", "clean_accuracy", "adv_accuracy", "macro_f1", "snr_db", "linf",
                      "smoothness", "seconds"}
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.eps = 1.0  # type: ignore[misc]


@pytest.mark.parametrize(
    "kwargs,match",
    [({"attacks": []}, "attacks"), ({"eps": -1.0}, "eps"), ({"attack_kwargs": {"pgd": {}}}, "attack_kwargs")],
)
def test_bad_arguments(trained_classifier, kwargs, match):
    clf, x, y = trained_classifier
    with pytest.raises(ConfigError, match=match):
        evaluate_attacks(clf, x, y, **{"attacks": ["fgsm"], "eps": 0.1, **kwargs})
