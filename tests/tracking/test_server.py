"""End to end against a real ``mlflow server`` that is killed mid-run: the run finishes, the rest goes local."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request

import pytest

from ecg_art.exceptions import EcgArtWarning
from ecg_art.tracking import Tracker
from tests.tracking.conftest import free_port

START_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 20.0


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=2) as resp:
            return resp.status == 200
    except OSError:
        return False


def _stop(proc: subprocess.Popen, sig: int) -> None:
    """Signal the server's process group (it was started in its own session), then wait a bounded time."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=STOP_TIMEOUT_S)


@pytest.mark.slow
def test_server_killed_mid_run(tmp_path):
    from mlflow import MlflowClient

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    db = tmp_path / "server.db"
    log = open(tmp_path / "server.log", "wb")
    cmd = [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", f"sqlite:///{db}",
           "--artifacts-destination", str(tmp_path / "artifacts"), "--host", "127.0.0.1", "--port", str(port),
           "--workers", "1"]
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, cwd=tmp_path)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not _healthy(url):
            if proc.poll() is not None or time.monotonic() > deadline:
                log.flush()
                pytest.fail(f"mlflow server did not come up: {(tmp_path / 'server.log').read_text()[-2000:]}")
            time.sleep(0.5)

        with Tracker("server", run_name="killed", tracking_uri=url, fallback_dir=tmp_path / "offline") as run:
            run.log_params({"attack": "pgd"})
            for step in range(3):
                run.log_metrics({"loss": 1.0 / (step + 1)}, step=step)
            run.log_text("before", "before.txt")
            assert not run.offline
            _stop(proc, signal.SIGTERM)
            t0 = time.perf_counter()
            with pytest.warns(EcgArtWarning, match=f"127.0.0.1:{port}"):
                run.log_metrics({"loss": 0.25}, step=3)
            run.log_metrics({"loss": 0.2}, step=4)
            run.log_params({"late": True})
            run.log_text("after", "after.txt")
            assert time.perf_counter() - t0 < 30.0  # short retries against a dead server
        assert run.offline

        # the server's own database holds what was logged before the kill
        stored = MlflowClient(f"sqlite:///{db}").get_run(run.run_id)
        assert [m.step for m in MlflowClient(f"sqlite:///{db}").get_metric_history(run.run_id, "loss")] == [0, 1, 2]
        assert stored.data.params["attack"] == "pgd"
        assert any((tmp_path / "artifacts").rglob("before.txt"))

        rows = [json.loads(x) for x in (run.fallback_path / "metrics.jsonl").read_text().splitlines()]
        assert [(r["step"], r["synced"]) for r in rows] == [(0, True), (1, True), (2, True), (3, False), (4, False)]
        assert json.loads((run.fallback_path / "params.json").read_text())["late"] == "True"
        assert (run.fallback_path / "artifacts" / "after.txt").read_text() == "after"
        assert json.loads((run.fallback_path / "run.json").read_text())["status"] == "FINISHED"
    finally:
        _stop(proc, signal.SIGKILL)
        log.close()
