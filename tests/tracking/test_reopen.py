"""Reopening a run (``Tracker(run_id=...)``: a re-run job logs into the run it started) and deleting runs."""

from __future__ import annotations

import pytest

from ecg_art.exceptions import TrackingError
from ecg_art.tracking import Tracker, delete_runs, find_runs


def test_a_reopened_run_keeps_its_params_and_takes_new_logs(sqlite_uri):
    with pytest.raises(KeyboardInterrupt):
        with Tracker("reopen", run_name="job", tracking_uri=sqlite_uri, tags={"k": "v"}) as run:
            run.log_params({"grid": "small"})
            run.log_metrics({"done": 1})
            raise KeyboardInterrupt
    [before] = find_runs("reopen", tracking_uri=sqlite_uri)
    assert before["status"] == "KILLED"
    with Tracker("reopen", tracking_uri=sqlite_uri, run_id=run.run_id) as again:
        assert again.run_id == run.run_id and again.run_name == "job"
        assert find_runs("reopen", tracking_uri=sqlite_uri)[0]["status"] == "RUNNING"
        again.log_params({"grid": "small"})  # the same value again is fine
        again.log_metrics({"done": 2})
    [after] = find_runs("reopen", tracking_uri=sqlite_uri)
    assert after["status"] == "FINISHED" and after["metrics"]["done"] == 2 and after["tags"]["k"] == "v"
    assert after["params"]["grid"] == "small" and "device" in after["params"]


def test_reopening_an_unknown_or_deleted_run_is_an_error(sqlite_uri):
    with pytest.raises(TrackingError, match="no such run"):
        Tracker("reopen2", tracking_uri=sqlite_uri, run_id="0" * 32).start()
    with Tracker("reopen2", run_name="gone", tracking_uri=sqlite_uri) as run:
        pass
    assert delete_runs([run.run_id], tracking_uri=sqlite_uri) == 1
    assert find_runs("reopen2", tracking_uri=sqlite_uri) == []
    with pytest.raises(TrackingError, match="not an active run"):
        Tracker("reopen2", tracking_uri=sqlite_uri, run_id=run.run_id).start()


def test_find_runs_of_a_missing_experiment(sqlite_uri):
    assert find_runs("never-made", tracking_uri=sqlite_uri, missing_ok=True) == []
    with pytest.raises(TrackingError, match="no experiment"):
        find_runs("never-made", tracking_uri=sqlite_uri)
