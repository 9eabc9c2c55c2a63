"""environment_info: keys, package versions, git state and device."""

from __future__ import annotations

from pathlib import Path

from ecg_art.tracking import environment, environment_info


def test_keys_and_values():
    info = environment_info()
    assert {"python", "platform", "packages", "git_commit", "git_dirty", "device", "cuda", "torch_threads"} <= set(info)
    for dist in ("torch", "numpy", "adversarial-robustness-toolbox", "torchattacks", "mlflow", "wfdb", "neurokit2",
                 "scikit-learn"):
        assert info["packages"][dist] != "not installed"
    assert info["device"] == "cpu" or info["cuda"] != "none"
    assert isinstance(info["torch_threads"], int) and info["torch_threads"] >= 1


def test_git_commit_of_checkout():
    info = environment_info()
    if info["git_commit"] != "unknown":
        assert len(info["git_commit"]) == 40 and isinstance(info["git_dirty"], bool)


def test_unknown_outside_git(monkeypatch, tmp_path: Path):
    monkeypatch.setattr(environment, "repo_root", lambda: tmp_path)
    info = environment_info()
    assert info["git_commit"] == "unknown" and info["git_dirty"] == "unknown"
