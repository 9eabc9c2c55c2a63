"""Randomized smoothing through ART's estimator: known answers of constant and random classifiers, abstention,
certified accuracy, and bad input errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from art.exceptions import EstimatorError
from scipy.stats import norm

from ecg_art.certification import (ABSTAIN, Certificate, certified_accuracy, certified_accuracy_figure, certify,
                                   linf_ball_radius, smoothed_predict)
from ecg_art.estimators import make_classifier
from ecg_art.exceptions import ConfigError


class _Constant(torch.nn.Module):
    """Always class ``k``, whatever the input."""

    def __init__(self, k: int = 2) -> None:
        super().__init__()
        self.k = k
        self.w = torch.nn.Parameter(torch.zeros(1))

    def forward(self, x):
        out = torch.zeros(x.shape[0], 5) + 0 * self.w
        out[:, self.k] = 1.0
        return out


class _Coin(torch.nn.Module):
    """Class 0 or 1 by the sign of the first noisy sample: a fair coin under noise, so smoothing must abstain."""

    def __init__(self) -> None:
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(1))

    def forward(self, x):
        s = x[:, 0, 0] + 0 * self.w
        return torch.stack([s, -s, -9 + 0 * s, -9 + 0 * s, -9 + 0 * s], dim=1)


def _clf(model):
    return make_classifier(model, device="cpu")


X = np.full((3, 1, 256), 0.5, dtype=np.float32)


@pytest.mark.parametrize("sigma, n, alpha", [(0.25, 1000, 0.001), (0.5, 200, 0.01)])
def test_constant_classifier_certifies_up_to_its_bound(sigma, n, alpha):
    cert = certify(_clf(_Constant(2)), X, sigma=sigma, n0=20, n=n, alpha=alpha)
    # every one of the n samples votes for class 2: the one-sided Clopper-Pearson bound is alpha ** (1 / n)
    bound = sigma * norm.ppf(alpha ** (1.0 / n))
    assert cert.prediction.tolist() == [2, 2, 2]
    np.testing.assert_allclose(cert.radius, bound, rtol=1e-6)
    radii = [0.0, bound * 0.999, bound * 1.001]
    assert certified_accuracy(cert, np.array([2, 2, 2]), radii).tolist() == [1.0, 1.0, 0.0]
    assert certified_accuracy(cert, np.array([0, 2, 2]), radii)[0] == pytest.approx(2 / 3)


def test_fair_coin_abstains():
    clf = _clf(_Coin())
    x = np.zeros((4, 1, 256), dtype=np.float32)
    cert = certify(clf, x, sigma=0.5, n0=50, n=400, alpha=0.001)
    assert np.all(cert.prediction == ABSTAIN) and np.all(cert.radius == 0.0)
    assert certified_accuracy(cert, np.zeros(4, dtype=int), [0.0]).tolist() == [0.0]
    assert np.all(smoothed_predict(clf, x, sigma=0.5, n=400) == ABSTAIN)
    # far from the decision boundary the same model is certain
    far = np.full((2, 1, 256), 3.0, dtype=np.float32)
    assert smoothed_predict(clf, far, sigma=0.5, n=200).tolist() == [0, 0]


def test_certify_is_seeded_and_restores_numpy_rng():
    clf = _clf(_Coin())
    x = np.full((2, 1, 256), 0.3, dtype=np.float32)
    np.random.seed(7)
    expected_next = np.random.rand()
    np.random.seed(7)
    a = certify(clf, x, sigma=0.5, n0=20, n=200, seed=1)
    assert np.random.rand() == expected_next
    b = certify(clf, x, sigma=0.5, n0=20, n=200, seed=1)
    np.testing.assert_array_equal(a.radius, b.radius)


@pytest.mark.parametrize("kwargs, match", [
    ({"sigma": 0.0}, "sigma"), ({"sigma": -1.0}, "sigma"), ({"n": 0}, "`n`"), ({"n": 10.5}, "`n`"),
    ({"n0": 0}, "n0"), ({"alpha": 0.0}, "alpha"), ({"alpha": 0.7}, "alpha"), ({"batch_size": 0}, "batch_size"),
])
def test_bad_parameters_name_themselves(kwargs, match):
    args = {"sigma": 0.25, "n0": 10, "n": 100, **kwargs}
    with pytest.raises(ConfigError, match=match):
        certify(_clf(_Constant()), X, **args)


def test_bad_inputs():
    clf = _clf(_Constant())
    with pytest.raises(ConfigError):
        certify(clf, np.zeros((2, 1, 100), np.float32), sigma=0.25, n=10)
    with pytest.raises(ConfigError, match="empty"):
        certify(clf, np.zeros((0, 1, 256), np.float32), sigma=0.25, n=10)
    with pytest.raises(ConfigError):
        certify(clf, np.full((1, 1, 256), np.nan, np.float32), sigma=0.25, n=10)
    with pytest.raises(EstimatorError):
        certify(object(), X, sigma=0.25, n=10)
    cert = Certificate(np.array([0]), np.array([1.0]), 0.25, 10, 100, 0.001)
    with pytest.raises(ConfigError, match="`y`"):
        certified_accuracy(cert, np.array([0, 1]), [0.0])
    with pytest.raises(ConfigError, match="radii"):
        certified_accuracy(cert, np.array([0]), [-0.1])


def test_linf_radius_and_figure():
    assert linf_ball_radius(0.05, 256) == pytest.approx(0.8)
    fig = certified_accuracy_figure({"sigma 0.25": ([0.0, 0.5], [0.9, 0.5])}, marks={"eps 0.05": 0.8})
    assert len(fig.axes) == 1
    with pytest.raises(ConfigError):
        certified_accuracy_figure({})
