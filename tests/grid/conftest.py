"""Fixtures of the grid tests: a private SQLite store, working directory and cache."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _isolated(monkeypatch, tmp_path):
    """No user tracking URI, a scratch working directory, caches inside tmp_path."""
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.setenv("ECG_ART_CACHE", str(tmp_path / "cache_home"))
    monkeypatch.chdir(tmp_path)


@pytest.fixture(scope="module")
def uri(tmp_path_factory) -> str:
    """One SQLite store per test module (creating MLflow's tables takes seconds); tests use grids of their own names."""
    return f"sqlite:///{tmp_path_factory.mktemp('mlflow') / 'mlflow.db'}"

