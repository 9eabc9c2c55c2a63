"""Shared fixtures of the reliability tests: a tiny synthetic beat problem, a tiny classifier, a 2-record database."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch

from tests.data.conftest import write_record, write_sha256sums

LENGTH = 32
N_CLASSES = 3
RECORDS = ("100", "101")


def tiny_problem(n: int = 240, *, seed: int = 0, length: int = LENGTH):
    """Separable beats in [0, 1]: a sine whose frequency is the class, plus noise. Returns ``(x, y)``."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, N_CLASSES, n)
    t = np.linspace(0, 1, length)
    x = 0.5 + 0.3 * np.sin(2 * np.pi * (y[:, None] + 1) * t) + 0.05 * rng.normal(size=(n, length))
    return np.clip(x, 0, 1)[:, None, :].astype(np.float32), y.astype(np.int64)


def tiny_classifier(seed: int = 0, *, length: int = LENGTH, lr: float = 1e-2):
    """An EcgClassifier around a 2-layer MLP (fast, deterministic on CPU)."""
    from ecg_art.estimators import make_classifier

    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(length, 16), torch.nn.ReLU(),
                                torch.nn.Linear(16, N_CLASSES))
    return make_classifier(model, input_length=length, nb_classes=N_CLASSES, lr=lr, device="cpu")


@pytest.fixture(scope="module")
def clf():
    """A tiny classifier trained for a few epochs on :func:`tiny_problem`, with held-out beats."""
    classifier = tiny_classifier()
    x, y = tiny_problem()
    classifier.fit(x, y, batch_size=32, nb_epochs=10)
    return classifier


@pytest.fixture(scope="session")
def db_master(tmp_path_factory):
    """A read-only synthetic MIT-BIH folder with records 100 and 101 and a SHA256SUMS file."""
    path = tmp_path_factory.mktemp("rel_mitdb")
    for i, name in enumerate(RECORDS):
        write_record(path, name, seed=i, seconds=12)
    write_sha256sums(path)
    return path


@pytest.fixture
def db(db_master, tmp_path):
    """A private copy of :func:`db_master` that a test may damage."""
    path = tmp_path / "mitdb"
    shutil.copytree(db_master, path)
    return path


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path, monkeypatch):
    """Keep every test's caches inside its tmp_path (never ~/.cache)."""
    monkeypatch.setenv("ECG_ART_CACHE", str(tmp_path / "cache_home"))
