"""A dead tracking server never loses a run: one warning, then everything goes to the local fallback folder."""

from __future__ import annotations

import json
import time

import pytest
import torch
from matplotlib.figure import Figure

from ecg_art.exceptions import EcgArtWarning
from ecg_art.tracking import Tracker


def _metrics(path):
    return [json.loads(line) for line in (path / "metrics.jsonl").read_text().splitlines()]


def test_dead_server_at_start(dead_uri, tmp_path):
    fig = Figure()
    fig.subplots().plot([0, 1])
    t0 = time.perf_counter()
    with pytest.warns(EcgArtWarning, match="127.0.0.1") as record:
        with Tracker("dead", run_name="pgd sweep", tracking_uri=dead_uri, fallback_dir=tmp_path) as run:
            run.log_params({"attack": {"name": "pgd", "eps": 0.02}})
            for step in range(3):
                run.log_metrics({"adv_accuracy": 0.5 - 0.1 * step}, step=step)
            run.log_dict({"k": 1}, "summary.json")
            run.log_figure(fig, "figs/curve.png")
            with run.child("fgsm") as kid:
                kid.log_metrics({"adv_accuracy": 0.3})
    elapsed = time.perf_counter() - t0
    assert len([w for w in record if issubclass(w.category, EcgArtWarning)]) == 1  # warned once, children included
    assert str(run.fallback_path) in str(record[0].message)
    assert elapsed < 15.0, f"a dead server must fail fast, took {elapsed:.1f} s"  # no long retry loops

    path = run.fallback_path
    assert path.parent == tmp_path and path.name.endswith("pgd_sweep")
    params = json.loads((path / "params.json").read_text())
    assert params["attack.name"] == "pgd" and params["attack.eps"] == "0.02" and "device" in params
    rows = _metrics(path)
    assert [(r["step"], r["value"]) for r in rows] == [(0, 0.5), (1, 0.4), (2, pytest.approx(0.3))]
    assert not any(r["synced"] for r in rows)
    assert json.loads((path / "artifacts" / "summary.json").read_text()) == {"k": 1}
    assert (path / "artifacts" / "figs" / "curve.png").stat().st_size > 0
    meta = json.loads((path / "run.json").read_text())
    assert meta["status"] == "FINISHED" and meta["tracking_uri"] == dead_uri and "store_error" in meta
    tags = json.loads((path / "tags.json").read_text())
    assert tags["env.packages.torch"] == torch.__version__
    kid_path = kid.fallback_path
    assert kid_path.parent == path / "children" and _metrics(kid_path)[0]["value"] == 0.3
    assert run.run_id is None and run.summary()["metrics"] == {"adv_accuracy": pytest.approx(0.3)}


def test_store_dies_mid_run(sqlite_uri, tmp_path, monkeypatch):
    """A store error mid-run (simulated on log_batch) keeps earlier results in MLflow, the rest locally."""
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    with Tracker("midrun", run_name="m", tracking_uri=sqlite_uri, fallback_dir=tmp_path) as run:
        run.log_metrics({"loss": 1.0}, step=0)

        def broken(*args, **kwargs):
            raise MlflowException("database is gone")

        monkeypatch.setattr(run._session.client, "log_batch", broken)
        with pytest.warns(EcgArtWarning, match="database is gone"):
            run.log_metrics({"loss": 0.5}, step=1)
        run.log_params({"late": 1})
        run.log_text("after", "late.txt")
    monkeypatch.undo()
    assert MlflowClient(sqlite_uri).get_run(run.run_id).data.metrics == {"loss": 1.0}
    rows = _metrics(run.fallback_path)
    assert [(r["step"], r["synced"]) for r in rows] == [(0, True), (1, False)]
    assert json.loads((run.fallback_path / "params.json").read_text())["late"] == "1"
    assert (run.fallback_path / "artifacts" / "late.txt").read_text() == "after"
    assert json.loads((run.fallback_path / "run.json").read_text())["run_id"] == run.run_id


def test_dead_server_model_saved_locally(dead_uri, tmp_path):
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 5)).eval()
    with pytest.warns(EcgArtWarning):
        with Tracker("dead", run_name="model", tracking_uri=dead_uri, fallback_dir=tmp_path) as run:
            where = run.log_model(model, input_example=torch.rand(2, 1, 16), serialization_format="pickle")
    assert where == str(run.fallback_path / "artifacts" / "model")
    assert (run.fallback_path / "artifacts" / "model" / "MLmodel").is_file()


def test_non_store_errors_are_not_swallowed(dead_uri, tmp_path):
    with pytest.warns(EcgArtWarning):
        with Tracker("dead", tracking_uri=dead_uri, fallback_dir=tmp_path) as run:
            with pytest.raises(TypeError):
                run.log_dict({"x": object()}, "x.json")
