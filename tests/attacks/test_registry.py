"""Attack registry: names, eps/batch validation, eps = 0, plug-in registration."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ecg_art.attacks import AttackRunner, get_attack, list_attacks, register_attack
from ecg_art.exceptions import AttackError, ConfigError, RegistryError

BUILTIN = ["fgsm", "pgd", "pgd-100", "ta-fgsm", "ta-pgd", "ta-apgd", "ta-apgd-dlr", "ta-cw-l2", "ta-deepfool",
           "ta-square", "autoattack", "ta-autoattack"]


def test_builtin_attacks_registered():
    assert set(BUILTIN) <= set(list_attacks())
    assert "ta-cw" not in list_attacks()  # torchattacks' CW is L2: registered honestly as ta-cw-l2 only


def test_unknown_attack_lists_known(trained_classifier):
    with pytest.raises(RegistryError, match="fgsm"):
        get_attack("no-such-attack", trained_classifier[0], eps=0.1)


@pytest.mark.parametrize("eps", [-0.1, math.nan, math.inf, "0.1", None, True])
def test_bad_eps_names_eps(eps, trained_classifier):
    with pytest.raises(ConfigError, match="`eps`"):
        get_attack("fgsm", trained_classifier[0], eps=eps)


@pytest.mark.parametrize("batch_size", [0, -3, 2.5])
def test_bad_batch_size(batch_size, trained_classifier):
    with pytest.raises(ConfigError, match="batch_size"):
        get_attack("pgd", trained_classifier[0], eps=0.1, batch_size=batch_size)


@pytest.mark.parametrize("name", ["fgsm", "pgd", "ta-pgd", "ta-autoattack"])
def test_eps_zero_returns_input_unchanged(name, trained_classifier):
    clf, x, y = trained_classifier
    x_adv = get_attack(name, clf, eps=0, batch_size=8).generate(x[:5], y[:5])
    assert np.array_equal(x_adv, x[:5]) and x_adv is not x


def test_pgd_defaults_and_kwargs(trained_classifier):
    clf = trained_classifier[0]
    art_pgd = get_attack("pgd", clf, eps=0.08).attack
    assert art_pgd.max_iter == 20 and art_pgd.eps_step == pytest.approx(0.02) and art_pgd.batch_size == 256
    assert get_attack("pgd-100", clf, eps=0.08).attack.max_iter == 100
    assert get_attack("pgd", clf, eps=0.08, num_random_init=2, batch_size=32).attack.num_random_init == 2
    with pytest.raises(ConfigError, match="max_iter"):
        get_attack("pgd", clf, eps=0.08, max_iter=0)


def test_plugin_registration_and_runner_checks(trained_classifier):
    clf, x, y = trained_classifier

    class Shift:
        def __init__(self, eps):
            self.eps = eps

        def generate(self, x, y=None):
            x[...] += 0.0  # mutating its own input must not reach the caller
            return np.clip(x + self.eps, 0, 1)

    register_attack("test-shift", lambda classifier, *, eps, batch_size, **kw: Shift(eps), overwrite=True)
    runner = get_attack("TEST-SHIFT", clf, eps=0.01)
    assert isinstance(runner, AttackRunner) and runner.name == "test-shift"
    x_adv = runner.generate(x, y)
    assert np.abs(x_adv - x).max() == pytest.approx(0.01, abs=1e-6)
    with pytest.raises(AttackError, match="labels"):
        runner.generate(x, y[:3])

    register_attack("test-bad", lambda classifier, *, eps, batch_size, **kw: object(), overwrite=True)
    with pytest.raises(AttackError, match="generate"):
        get_attack("test-bad", clf, eps=0.01)
