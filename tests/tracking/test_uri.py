"""Tracking-URI resolution order (argument > env > checkout default) and the folders that go with it."""

from __future__ import annotations

import pytest

from ecg_art.exceptions import ConfigError
from ecg_art.tracking import resolve_tracking_uri, uri as uri_mod
from ecg_art.tracking.uri import artifact_location, default_fallback_dir


def test_argument_beats_env(monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5999")
    assert resolve_tracking_uri("sqlite:////tmp/a/mlflow.db") == "sqlite:////tmp/a/mlflow.db"


def test_env_beats_default(monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", " http://127.0.0.1:5999 ")
    assert resolve_tracking_uri() == "http://127.0.0.1:5999"
    assert resolve_tracking_uri("") == "http://127.0.0.1:5999"  # an empty CLI flag counts as unset


def test_default_is_sqlite_in_checkout_mlruns(monkeypatch, tmp_path):
    monkeypatch.setattr(uri_mod, "repo_root", lambda: tmp_path)
    uri = resolve_tracking_uri()
    assert uri == f"sqlite:///{tmp_path.resolve() / 'mlruns' / 'mlflow.db'}"
    assert (tmp_path / "mlruns").is_dir()
    assert artifact_location(uri, "exp") == (tmp_path.resolve() / "mlruns" / "artifacts" / "exp").as_uri()


def test_default_outside_checkout_uses_cwd(monkeypatch, tmp_path):
    monkeypatch.setattr(uri_mod, "repo_root", lambda: None)
    monkeypatch.chdir(tmp_path)
    assert resolve_tracking_uri() == f"sqlite:///{tmp_path.resolve() / 'mlruns' / 'mlflow.db'}"


def test_real_checkout_is_found():
    root = uri_mod.repo_root()
    assert root is not None and (root / "setup.cfg").is_file() and (root / "ecg_art").is_dir()


@pytest.mark.parametrize("bad", ["file:./mlruns", "./mlruns", "/tmp/mlruns"])
def test_file_store_refused_unless_allowed(monkeypatch, bad):
    monkeypatch.delenv("MLFLOW_ALLOW_FILE_STORE", raising=False)
    with pytest.raises(ConfigError, match="MLFLOW_ALLOW_FILE_STORE"):
        resolve_tracking_uri(bad)
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    assert resolve_tracking_uri(bad) == bad


def test_non_string_uri_rejected():
    with pytest.raises(ConfigError, match="tracking_uri"):
        resolve_tracking_uri(5000)


def test_artifact_location_only_for_sqlite_files():
    assert artifact_location("http://127.0.0.1:5000", "e") is None
    assert artifact_location("sqlite:///:memory:", "e") is None
    assert artifact_location("sqlite:////tmp/x/mlflow.db", "a b/c").endswith("/tmp/x/artifacts/a_b_c")


def test_fallback_dir_is_fresh(tmp_path):
    first = default_fallback_dir("pgd sweep", base=tmp_path)
    first.mkdir()
    second = default_fallback_dir("pgd sweep", base=tmp_path)
    assert first.name.endswith("pgd_sweep") and second != first and second.parent == tmp_path
