"""Shared fixtures: a tiny BaselineCNN trained for a few seconds on a synthetic, separable beat problem."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ecg_art.estimators import make_classifier, predict_labels
from ecg_art.models import BaselineCNN

N_CLASSES = 5
LENGTH = 128


def synthetic_beats(n: int, *, seed: int, length: int = LENGTH, noise: float = 0.05):
    """Beats in [0, 1]: a Gaussian bump whose width depends on the class, at a jittered centre, plus noise."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % N_CLASSES
    t = np.arange(length)[None, :]
    centres = length / 2 + rng.normal(0, length / 20, n)
    widths = (0.01 + 0.02 * y) * length
    x = np.exp(-0.5 * ((t - centres[:, None]) / widths[:, None]) ** 2) + rng.normal(0, noise, (n, length))
    x = (x - x.min(axis=1, keepdims=True)) / np.ptp(x, axis=1, keepdims=True)
    return x[:, None, :].astype(np.float32), y.astype(np.int64)


@pytest.fixture(scope="session")
def trained_classifier():
    """``(classifier, x_test, y_test)``: tiny CNN fitted on 256 synthetic beats, tested on 40 held-out beats."""
    torch.manual_seed(0)
    model = BaselineCNN(n_classes=N_CLASSES, input_length=LENGTH, channels=(8, 16, 16), kernel_sizes=(7, 5, 5), hidden=16,
                        dropout=0.0)
    clf = make_classifier(model, input_length=LENGTH, nb_classes=N_CLASSES, lr=1e-2, device="cpu")
    x_train, y_train = synthetic_beats(256, seed=1)
    clf.fit(x_train, y_train, batch_size=32, nb_epochs=15)
    x_test, y_test = synthetic_beats(40, seed=2)
    acc = float((predict_labels(clf, x_test) == y_test).mean())
    assert acc >= 0.9, f"fixture model did not learn the synthetic problem (accuracy {acc:.2f})"
    return clf, x_test, y_test
