"""Fixtures for the SAP / NSR tests: a tiny 1D CNN and a synthetic, separable three-class beat problem."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from art.estimators.classification import PyTorchClassifier
from torch import nn

LENGTH, N_CLASSES = 128, 3


class TinyCNN(nn.Module):
    """~1.5K-parameter 1D CNN taking (n, 1, L) or (n, L) beats."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv1d(1, 8, 7, padding=3), nn.ReLU(), nn.MaxPool1d(4),
            nn.Conv1d(8, 8, 5, padding=2), nn.ReLU(), nn.AdaptiveAvgPool1d(4),
        )
        self.head = nn.Linear(32, N_CLASSES)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.reshape(x.shape[0], 1, -1)
        return self.head(self.features(x).flatten(1))


def make_beats(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Beats in [0, 1]: a Gaussian bump whose position encodes the class, plus noise."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, N_CLASSES, n)
    t = np.arange(LENGTH)
    centres = 32 + 32 * y + rng.normal(0, 2, n)
    x = 0.3 + 0.5 * np.exp(-((t[None] - centres[:, None]) ** 2) / (2 * 6.0**2)) + rng.normal(0, 0.03, (n, LENGTH))
    return np.clip(x, 0, 1).astype(np.float32)[:, None, :], y.astype(np.int64)


def make_classifier(model: nn.Module, lr: float = 3e-3) -> PyTorchClassifier:
    return PyTorchClassifier(
        model=model, loss=nn.CrossEntropyLoss(), optimizer=torch.optim.Adam(model.parameters(), lr=lr),
        input_shape=(1, LENGTH), nb_classes=N_CLASSES, clip_values=(0.0, 1.0), device_type="cpu",
    )


@pytest.fixture(scope="session")
def beats():
    return make_beats(600, seed=0), make_beats(200, seed=1)


@pytest.fixture(scope="session")
def trained_classifier(beats):
    torch.manual_seed(0)
    (x, y), _ = beats
    clf = make_classifier(TinyCNN())
    clf.fit(x, y, batch_size=64, nb_epochs=15, verbose=False)
    return clf
