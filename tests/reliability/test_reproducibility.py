"""Reproducibility on CPU: the same config and seed give identical weights and metrics run to run, and an MLflow run
records what is needed to reproduce it (config, data and split hashes, git commit, package versions, device)."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from ecg_art.attacks import evaluate_attacks
from ecg_art.estimators import make_classifier
from ecg_art.models import BaselineCNN
from ecg_art.training import fit_classifier, seed_everything
from tests.reliability.conftest import LENGTH, N_CLASSES, tiny_problem
from tests.realdata import require_mitdb

# the user's cache (captured before the autouse fixture points ECG_ART_CACHE at tmp_path): the real-data test reuses
# prepared beats instead of re-reading 48 records twice
USER_CACHE = os.environ.get("ECG_ART_CACHE") or str(Path("~/.cache/ecg_art").expanduser())


def _train_and_attack(tmp_path: Path, tag: str) -> tuple[dict, list, list]:
    """BaselineCNN (batch norm and dropout: RNG-dependent) trained with checkpoints, then FGSM/PGD with random init."""
    x, y = tiny_problem(300)
    xv, yv = tiny_problem(90, seed=1)
    torch.manual_seed(7)
    model = BaselineCNN(n_classes=N_CLASSES, input_length=LENGTH, channels=(4, 8), kernel_sizes=(5, 3), hidden=8,
                        dropout=0.3)
    clf = make_classifier(model, input_length=LENGTH, nb_classes=N_CLASSES, lr=5e-3, device="cpu")
    hist = fit_classifier(clf, x, y, validation_data=(xv, yv), nb_epochs=3, batch_size=32, seed=11,
                          checkpoint_dir=tmp_path / tag)
    seed_everything(5)
    rows = evaluate_attacks(clf, xv[:30], yv[:30], attacks=["fgsm", "pgd"], eps=[0.0, 0.05],
                            attack_kwargs={"pgd": {"max_iter": 3, "num_random_init": 1}})
    epochs = [{k: v for k, v in e.items() if k != "train_seconds"} for e in hist.epochs]
    scores = [{k: v for k, v in r.to_dict().items() if k != "seconds"} for r in rows]
    return clf.model.state_dict(), epochs, scores


def test_same_seed_same_weights_and_metrics(tmp_path):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        first = _train_and_attack(tmp_path, "a")
        second = _train_and_attack(tmp_path, "b")
    finally:
        torch.set_num_threads(threads)
    for name, tensor in first[0].items():
        assert torch.equal(tensor, second[0][name]), name
    assert first[1] == second[1] and len(first[1]) == 3
    assert first[2] == second[2] and len(first[2]) == 4
    # and the run was not trivially constant: PGD with a random start did change something
    assert any(r["linf"] > 0 for r in first[2])


@pytest.mark.realdata
@pytest.mark.slow
def test_baseline_quick_profile_twice_gives_identical_rows(tmp_path):
    data_dir = require_mitdb()
    from recipes.baseline import PROFILES, run
    from ecg_art.tracking import find_runs

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    rows = []
    for i in range(2):
        cfg = dataclasses.replace(
            PROFILES["quick"], data_dir=str(data_dir), cache_dir=USER_CACHE, train_n=3000, val_n=1000, eval_n=200,
            nb_epochs=2, attacks=("fgsm", "pgd"), eps=(0.05,), log_model=False, output_dir=str(tmp_path / f"out{i}"),
            tracking_uri=uri, threads=1, device="cpu", experiment="reliability")
        rows.append(run(cfg))
    assert rows[0] == rows[1]
    assert {"clean", "macro_f1", "fgsm@0.05", "pgd@0.05"} <= set(rows[0])
    assert 0.0 < rows[0]["clean"] <= 1.0  # 2 epochs on 3000 class-balanced beats: accuracy is not the point

    runs = find_runs("reliability", tracking_uri=uri)
    assert len(runs) == 2 and all(r["status"] == "FINISHED" for r in runs)
    a, b = runs
    for key in ("seed", "split", "train_n", "nb_epochs", "eps", "attacks", "model", "window", "data_hash",
                "split_hash", "n_train", "n_test", "params"):
        assert key in a["params"], key
        assert a["params"][key] == b["params"][key], key
    assert len(a["params"]["data_hash"]) == 16 and len(a["params"]["split_hash"]) == 16
    tags = a["tags"]
    assert tags.get("env.git_commit") not in (None, "", "unknown")
    assert tags.get("mlflow.source.git.commit") == tags["env.git_commit"]
    assert tags.get("env.device") == "cpu"
    for package in ("torch", "numpy", "adversarial-robustness-toolbox", "torchattacks", "ecg_art"):
        assert any(k.startswith("env.packages") and package in k for k in tags), package
    timing = {k for k in a["metrics"] if "seconds" in k}
    same = {k: v for k, v in a["metrics"].items() if k not in timing}
    assert same == {k: v for k, v in b["metrics"].items() if k not in timing}
    assert np.isfinite(list(same.values())).all()
