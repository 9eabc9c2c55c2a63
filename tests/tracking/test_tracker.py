"""Tracker against a real sqlite store: everything logged is read back through MlflowClient."""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass

import numpy as np
import pytest
import torch
from matplotlib.figure import Figure
from mlflow import MlflowClient

from ecg_art.exceptions import ConfigError, TrackingError
from ecg_art.tracking import Tracker, find_runs


@dataclass(frozen=True)
class AttackCfg:
    name: str = "pgd"
    eps: float = 0.02


def _artifacts(client: MlflowClient, run_id: str, path: str | None = None) -> set[str]:
    out = set()
    for f in client.list_artifacts(run_id, path):
        out |= _artifacts(client, run_id, f.path) if f.is_dir else {f.path}
    return out


@pytest.fixture(scope="module")
def logged_run(sqlite_uri, tmp_path_factory):
    """One run with params, metrics, tags, artifacts, a figure and a child run."""
    src = tmp_path_factory.mktemp("src") / "notes.txt"
    src.write_text("hello")
    fig = Figure()
    fig.subplots().plot([0, 1], [1, 0])
    with Tracker("roundtrip", run_name="parent", tracking_uri=sqlite_uri, tags={"stage": "test"}) as run:
        run.log_params({"attack": AttackCfg(), "seed": 0, "long": "x" * 700})
        run.log_params({"seed": 0})  # same value again: fine
        for step in range(3):
            run.log_metrics({"loss": 1.0 / (step + 1), "skipped": float("nan")}, step=step)
        run.set_tags({"note": 42})
        run.log_dict({"eps": [0.01, 0.02], "acc": np.float32(0.5)}, "results/summary.json")
        run.log_text("# report", "report.md")
        run.log_figure(fig, "figures/curve.png")
        run.log_artifact(src, "inputs")
        with run.child("fgsm") as kid:
            kid.log_metrics({"adv_accuracy": 0.4})
        assert run.fallback_path is None and not run.offline
    return run, kid


def test_params_metrics_tags(logged_run, sqlite_uri):
    run, _ = logged_run
    data = MlflowClient(sqlite_uri).get_run(run.run_id).data
    assert data.params["attack.name"] == "pgd" and data.params["attack.eps"] == "0.02"
    assert data.params["device"] == "cpu" or torch.cuda.is_available()
    assert len(data.params["long"]) == 500 and data.params["long"].endswith("...")
    assert data.metrics["loss"] == pytest.approx(1 / 3) and "skipped" not in data.metrics
    history = MlflowClient(sqlite_uri).get_metric_history(run.run_id, "loss")
    assert [m.step for m in history] == [0, 1, 2]
    assert data.tags["stage"] == "test" and data.tags["note"] == "42"
    assert data.tags["env.packages.torch"] == torch.__version__ and "env.git_commit" in data.tags


def test_artifacts(logged_run, sqlite_uri, tmp_path):
    run, _ = logged_run
    client = MlflowClient(sqlite_uri)
    assert {"results/summary.json", "report.md", "figures/curve.png", "inputs/notes.txt",
            "params_full.json"} <= _artifacts(client, run.run_id)
    local = client.download_artifacts(run.run_id, "results/summary.json", str(tmp_path))
    assert json.loads(open(local).read()) == {"eps": [0.01, 0.02], "acc": 0.5}
    full = json.loads(open(client.download_artifacts(run.run_id, "params_full.json", str(tmp_path))).read())
    assert full == {"long": "x" * 700}
    # sqlite stores keep artifacts next to the database, not in the current directory
    assert client.get_run(run.run_id).info.artifact_uri.startswith(sqlite_uri.replace("sqlite:///", "file://")[:-9])


def test_child_run_and_find_runs(logged_run, sqlite_uri):
    run, kid = logged_run
    runs = {r["run_name"]: r for r in find_runs("roundtrip", tracking_uri=sqlite_uri)}
    assert runs["fgsm"]["parent_run_id"] == run.run_id
    assert runs["fgsm"]["metrics"] == {"adv_accuracy": 0.4}
    assert runs["parent"]["status"] == "FINISHED" and runs["parent"]["params"]["seed"] == "0"
    assert kid.experiment_id == run.experiment_id
    only = find_runs("roundtrip", tracking_uri=sqlite_uri, filter_string="params.seed = '0'")
    assert [r["run_name"] for r in only] == ["parent"]
    with pytest.raises(TrackingError, match="roundtrip"):
        find_runs("no-such-experiment", tracking_uri=sqlite_uri)


def test_log_model_roundtrip(sqlite_uri, monkeypatch):
    import mlflow.pytorch

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv1d(1, 2, 5), torch.nn.Flatten(), torch.nn.Linear(2 * 28, 5)).eval()
    x = torch.rand(2, 1, 32)
    with Tracker("roundtrip", run_name="model", tracking_uri=sqlite_uri) as run:
        uri = run.log_model(model, input_example=x, serialization_format="pickle")
    assert uri.startswith("models:/")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", sqlite_uri)  # models:/ URIs resolve through MLflow's global store
    info = mlflow.models.get_model_info(uri)
    spec = info.signature.inputs.to_dict()[0]["tensor-spec"]
    assert tuple(spec["shape"]) == (-1, 1, 32) and spec["dtype"] == "float32"
    loaded = mlflow.pytorch.load_model(uri)
    with torch.no_grad():
        assert torch.allclose(loaded(x), model(x))
    assert run.run_id in {m.source_run_id for m in MlflowClient(sqlite_uri).search_logged_models([run.experiment_id])}


def test_failed_block_marks_run_failed(sqlite_uri):
    with pytest.raises(RuntimeError):
        with Tracker("roundtrip", run_name="boom", tracking_uri=sqlite_uri) as run:
            raise RuntimeError("boom")
    assert MlflowClient(sqlite_uri).get_run(run.run_id).info.status == "FAILED"


def test_argument_errors_raise_and_do_not_go_offline(sqlite_uri):
    with Tracker("roundtrip", run_name="bad-args", tracking_uri=sqlite_uri) as run:
        run.log_params({"lr": 0.1})
        with pytest.raises(ConfigError, match="'lr'"):
            run.log_params({"lr": 0.2})
        with pytest.raises(ConfigError, match="'acc'"):
            run.log_metrics({"acc": "high"})
        with pytest.raises(ConfigError, match="fig"):
            run.log_figure("not a figure", "f.png")
        with pytest.raises(ConfigError):
            run.log_text("x", "../outside.txt") if run.offline else run.log_artifact("/no/such/file")
        with pytest.raises(TypeError):
            run.log_dict({"x": object()}, "x.json")
        assert not run.offline and run.fallback_path is None
    with pytest.raises(TrackingError, match="not running"):
        run.log_metrics({"a": 1.0})


def test_disabled_tracker_writes_only_local_files(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning when disabled on purpose
        with Tracker("off", run_name="dry", enabled=False, fallback_dir=tmp_path) as run:
            run.log_params({"a": 1})
            run.log_metrics({"m": 0.5}, step=2)
            run.log_dict({"k": 1}, "k.json")
    assert run.run_id is None and run.tracking_uri is None
    assert json.loads((run.fallback_path / "params.json").read_text()) == {"a": "1", "device": run.summary()["params"][
        "device"]}
    assert json.loads((run.fallback_path / "metrics.jsonl").read_text())["value"] == 0.5
    assert json.loads((run.fallback_path / "run.json").read_text())["status"] == "FINISHED"
    with Tracker("off", enabled=False) as quiet:
        quiet.log_metrics({"m": 1.0})
    assert quiet.fallback_path is None and quiet.summary()["metrics"] == {"m": 1.0}
