"""Shared fixtures of the tracking tests: a sqlite store in a temporary folder and a port nobody listens on."""

from __future__ import annotations

import socket

import pytest


@pytest.fixture(scope="module")
def sqlite_uri(tmp_path_factory) -> str:
    """One sqlite store per test module (creating MLflow's tables takes ~2 s)."""
    return f"sqlite:///{tmp_path_factory.mktemp('mlflow') / 'mlflow.db'}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def dead_uri() -> str:
    """An http tracking URI on 127.0.0.1 where nothing listens."""
    return f"http://127.0.0.1:{free_port()}"


@pytest.fixture(autouse=True)
def _isolated(monkeypatch, tmp_path):
    """No user tracking URI, and a scratch working directory: MLflow calls that fall back to its own default store
    (``sqlite:///mlflow.db`` in the cwd) must not litter the checkout."""
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.chdir(tmp_path)
