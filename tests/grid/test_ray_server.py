"""End to end on Ray (2 workers, started in-process) against a real ``mlflow server`` on 127.0.0.1: every cell's run,
params, metrics and artifacts are in the server (checked through ``MlflowClient``); a grid interrupted with Ctrl-C
(SIGINT to the driver) and run again finishes only the missing cells, each listed once. Synthetic WFDB records, no
real data."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest

from ecg_art.grid import MlflowServer, expand_cells, run_grid
from ecg_art.tracking import find_runs
from tests.grid.cellfns import tiny_spec

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def synth_mitdb(tmp_path_factory) -> Path:
    """All 48 MIT-BIH record names as 20 s synthetic records (the recipes load the whole database)."""
    from ecg_art.data import MITDB_RECORDS
    from tests.data.conftest import write_record, write_sha256sums

    path = tmp_path_factory.mktemp("synth_mitdb48")
    for i, name in enumerate(MITDB_RECORDS):
        write_record(path, name, sig_name=("V1", "MLII") if name == "114" else ("MLII", "V1"), seed=i, seconds=20)
    write_sha256sums(path)
    return path


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    base = tmp_path_factory.mktemp("server")
    with MlflowServer(f"sqlite:///{base / 'mlflow.db'}", base / "artifacts") as srv:
        yield srv


def test_ray_grid_with_two_workers_loses_nothing(tmp_path, synth_mitdb, server, monkeypatch):
    from mlflow import MlflowClient

    monkeypatch.setenv("ECG_ART_DATA", str(synth_mitdb))
    spec = tiny_spec(tmp_path, name="ray")
    report = run_grid(spec, executor="ray", max_parallel=2, tracking_uri=server.url, verbose=False)
    assert report.executor == "ray" and report.ok and report.count("finished") == 4, report.failed

    client = MlflowClient(tracking_uri=server.url)
    exp = client.get_experiment_by_name(spec.experiment)
    runs = client.search_runs([exp.experiment_id], f"tags.`mlflow.parentRunId` = '{report.parent_run_id}'")
    cells = {c.key: c for c in expand_cells(spec)}
    assert sorted(r.data.tags["ecg_art.grid.cell"] for r in runs) == sorted(cells)
    for run in runs:
        cell = cells[run.data.tags["ecg_art.grid.cell"]]
        assert run.info.status == "FINISHED" and run.info.run_name == cell.name
        p, m = run.data.params, run.data.metrics
        assert (p["name"], p["seed"], p["split"], p["nb_epochs"], p["eps"]) == \
            ("baseline", str(cell.config.seed), cell.config.split, "1", "[0.03]")
        assert p["device"] == "cpu"
        for key in ("test_accuracy", "adv_acc_fgsm_eps0.03", "worst_eps0.03", "train_best_val_macro_f1",
                    "cell_seconds"):
            assert 0 <= m[key] <= (1 if key != "cell_seconds" else 600), key
        assert {"results.json", "table.md"} <= {a.path for a in client.list_artifacts(run.info.run_id)}
    # two workers: some cells ran at the same time
    spans = sorted((r.info.start_time, r.info.end_time) for r in runs)
    assert any(b[0] < a[1] for a, b in zip(spans, spans[1:]))
    assert "| intra |" in report.table and "± " in report.table


def test_ray_grid_interrupted_then_rerun_finishes_only_the_missing_cells(tmp_path, server, monkeypatch):
    monkeypatch.chdir(ROOT)  # Ray workers import the stand-in cell function from tests.grid.cellfns
    calls = tmp_path / "calls.txt"
    monkeypatch.setenv("GRID_TEST_CALLS", str(calls))
    monkeypatch.setenv("GRID_TEST_SLEEP", "3")
    spec = tiny_spec(tmp_path, name="ctrlc-ray")
    from tests.grid.cellfns import fake_run

    def ctrl_c_after_two_cells():
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            done = find_runs(spec.experiment, tracking_uri=server.url, missing_ok=True,
                             filter_string="tags.`ecg_art.grid.role` = 'cell' and attributes.status = 'FINISHED'")
            if len(done) >= 2:
                os.kill(os.getpid(), signal.SIGINT)
                return
            time.sleep(0.3)

    watcher = threading.Thread(target=ctrl_c_after_two_cells, daemon=True)
    watcher.start()
    with pytest.raises(KeyboardInterrupt):
        run_grid(spec, executor="ray", max_parallel=2, tracking_uri=server.url, run_fn=fake_run, verbose=False)
    watcher.join(5)
    [parent] = find_runs(spec.experiment, tracking_uri=server.url,
                         filter_string="tags.`ecg_art.grid.role` = 'parent'")
    assert parent["status"] == "KILLED"
    kids = find_runs(spec.experiment, tracking_uri=server.url,
                     filter_string=f"tags.`mlflow.parentRunId` = '{parent['run_id']}'")
    finished_before = {r["tags"]["ecg_art.grid.cell"] for r in kids if r["status"] == "FINISHED"}
    assert 2 <= len(finished_before) < 4

    monkeypatch.setenv("GRID_TEST_SLEEP", "0")
    n_calls = len(calls.read_text().splitlines())
    report = run_grid(spec, executor="local", tracking_uri=server.url, run_fn=fake_run, verbose=False)
    assert report.ok and report.parent_run_id == parent["run_id"]
    assert report.count("skipped") == len(finished_before) and report.count("finished") == 4 - len(finished_before)
    assert len(calls.read_text().splitlines()) - n_calls == 4 - len(finished_before)
    kids = find_runs(spec.experiment, tracking_uri=server.url,
                     filter_string=f"tags.`mlflow.parentRunId` = '{parent['run_id']}'")
    assert len(kids) == 4 and {r["status"] for r in kids} == {"FINISHED"}
    assert {r["tags"]["ecg_art.grid.cell"] for r in kids} == {c.key for c in expand_cells(spec)}


def test_in_process_ray_workers_run_at_normal_priority_with_the_drivers_environment(monkeypatch, tmp_path):
    """Ray's default nice 15 let every tick of the tracking server or the driver preempt the cells; the Ray instance
    the executor starts runs them at the driver's priority, and its workers see the driver's variables (no runtime
    environment needed)."""
    from ecg_art.grid import RayExecutor
    from ecg_art.grid.executors import worker_info

    monkeypatch.setenv("ECG_ART_CACHE", str(tmp_path))
    with RayExecutor(max_parallel=1, num_cpus=1) as ex:
        [(_, info, err)] = ex.wait([ex.submit(worker_info, None)])
    assert err is None, err
    assert info["pid"] != os.getpid() and info["nice"] == os.nice(0) and info["env"]["ECG_ART_CACHE"] == str(tmp_path)
    assert info["gpus"] == []


def test_a_warm_up_leaves_the_worker_that_runs_the_cells_with_their_modules_imported():
    from ecg_art.grid import RayExecutor
    from ecg_art.grid.executors import worker_info
    from ecg_art.grid.runner import WARM_MODULES, warm_up

    with RayExecutor(max_parallel=1, num_cpus=1) as ex:
        ex.warm_up(warm_up, ("baseline",))
        [(_, info, err)] = ex.wait([ex.submit(worker_info, None)])  # queued behind the warm-up, on its worker
    assert err is None, err
    assert info["imported"] == list(WARM_MODULES)


def _session_cmdlines(sid: int) -> list[str]:
    """Command lines of the processes in session ``sid`` (Linux /proc)."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[3]) == sid:
                out.append((stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace"))
        except (OSError, IndexError, ValueError):  # the process ended meanwhile
            continue
    return out


def test_the_grids_tracking_server_runs_without_mlflows_job_runner(server):
    """MLflow's server-side jobs (8 more processes, 24 s of CPU at start) are off: a grid needs tracking only."""
    procs = _session_cmdlines(server._proc.pid)
    assert any("mlflow" in c for c in procs), procs
    assert not any("huey" in c or "job_runner" in c for c in procs), procs
