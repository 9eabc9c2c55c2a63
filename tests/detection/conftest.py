"""Fixtures for the detector tests: a tiny synthetic 3-class beat problem, a stock ART classifier trained on it, and
PGD adversarial sets (ART's ``ProjectedGradientDescent``) of disjoint train / val / test beats."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from art.attacks.evasion import ProjectedGradientDescent
from art.estimators.classification import PyTorchClassifier
from torch import nn

LENGTH, N_CLASSES, EPS = 64, 3, 0.05


class TinyCNN(nn.Module):
    """~1K-parameter 1D CNN on (n, 1, L) beats."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(nn.Conv1d(1, 8, 7, padding=3), nn.ReLU(), nn.MaxPool1d(4),
                                      nn.Conv1d(8, 8, 5, padding=2), nn.ReLU(), nn.AdaptiveAvgPool1d(4))
        self.head = nn.Linear(32, N_CLASSES)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x).flatten(1))


def make_beats(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Smooth beats in [0, 1]: a Gaussian bump whose position encodes the class, plus low-frequency wander."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, N_CLASSES, n)
    t = np.arange(LENGTH)
    centres = 16 + 16 * y + rng.normal(0, 1.5, n)
    wander = 0.05 * np.sin(2 * np.pi * (t[None] / LENGTH * rng.uniform(0.5, 1.5, (n, 1)) + rng.uniform(0, 1, (n, 1))))
    x = 0.3 + rng.uniform(0.1, 0.2, (n, 1)) * np.exp(-((t[None] - centres[:, None]) ** 2) / (2 * 4.0**2)) + wander
    return np.clip(x, 0, 1).astype(np.float32)[:, None, :], y.astype(np.int64)


@pytest.fixture(scope="package")
def splits():
    """Disjoint (x, y) of train / val / test."""
    return {"train": make_beats(400, 0), "val": make_beats(200, 1), "test": make_beats(200, 2)}


@pytest.fixture(scope="package")
def classifier(splits):
    torch.manual_seed(0)
    model = TinyCNN()
    clf = PyTorchClassifier(model=model, loss=nn.CrossEntropyLoss(), input_shape=(1, LENGTH), nb_classes=N_CLASSES,
                            optimizer=torch.optim.Adam(model.parameters(), lr=3e-3), clip_values=(0.0, 1.0),
                            device_type="cpu")
    x, y = splits["train"]
    clf.fit(x, y, batch_size=64, nb_epochs=15)
    clf.model.eval()
    return clf


@pytest.fixture(scope="package")
def pgd_sets(splits, classifier):
    """``{split: x_adv}``: ART PGD (eps=EPS, 10 steps) on each split's beats with their true labels."""
    pgd = ProjectedGradientDescent(classifier, norm="inf", eps=EPS, eps_step=EPS / 4, max_iter=10, batch_size=200,
                                   verbose=False)
    return {name: pgd.generate(x, y=np.eye(N_CLASSES)[y]).astype(np.float32) for name, (x, y) in splits.items()}


@pytest.fixture(scope="package")
def pgd_protocol(splits, pgd_sets):
    """A detector trained on the PGD sets (threshold from validation): what the adaptive attacks are aimed at."""
    from ecg_art.detection import DetectionProtocol, make_input_detector

    proto = DetectionProtocol(make_input_detector(input_length=LENGTH, device="cpu"))
    proto.fit(splits["train"][0], pgd_sets["train"], val_clean=splits["val"][0], val_adv=pgd_sets["val"],
              nb_epochs=6, batch_size=64, seed=0)
    return proto
