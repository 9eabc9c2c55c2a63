"""run_grid with the local executor and stand-in cell functions on a SQLite store: one child run per cell under one
parent, finished cells skipped on a re-run, a failed cell retried once then reported, Ctrl-C then re-run."""

from __future__ import annotations

import dataclasses
import json

import pytest

from ecg_art.cli import main
from ecg_art.grid import expand_cells, run_grid
from ecg_art.tracking import find_runs
from tests.grid import cellfns
from tests.grid.cellfns import tiny_spec


def _children(spec, uri, parent_id):
    return find_runs(spec.experiment, tracking_uri=uri, filter_string=f"tags.`mlflow.parentRunId` = '{parent_id}'")


def _calls(path):
    return path.read_text().splitlines() if path.exists() else []


def test_every_cell_is_one_child_run_and_a_rerun_skips_them(tmp_path, uri, monkeypatch):
    calls = tmp_path / "calls.txt"
    monkeypatch.setenv("GRID_TEST_CALLS", str(calls))
    spec = tiny_spec(tmp_path, name="all")
    report = run_grid(spec, tracking_uri=uri, run_fn=cellfns.fake_run, verbose=False)
    assert report.ok and report.count("finished") == 4 and len(_calls(calls)) == 4
    kids = _children(spec, uri, report.parent_run_id)
    assert sorted(r["tags"]["ecg_art.grid.cell"] for r in kids) == sorted(c.key for c in expand_cells(spec))
    assert all(r["status"] == "FINISHED" and "cell_seconds" in r["metrics"] for r in kids)
    by_name = {r["run_name"]: r for r in kids}
    assert by_name["baseline seed=1 split=intra"]["metrics"]["test_accuracy"] == pytest.approx(0.96)
    # mean ± std over seeds, per split (accuracies in %): intra 95, 96 -> 95.50 ± 0.71
    assert "| intra |" in report.table and "95.50 ± 0.71" in report.table and "| 0,1 |" in report.table
    saved = json.loads((tmp_path / "results" / f"grid-all-{report.grid_hash}" / "cells.json").read_text())
    assert [c["status"] for c in saved["cells"]] == ["finished"] * 4

    # the same grid run with other bookkeeping (results folder, retries): same cells, same parent, nothing runs
    moved = dataclasses.replace(spec, output_dir=str(tmp_path / "elsewhere"), retries=0)
    again = run_grid(moved, tracking_uri=uri, run_fn=cellfns.fake_run, verbose=False)
    assert again.parent_run_id == report.parent_run_id and again.count("skipped") == 4
    assert len(_calls(calls)) == 4 and len(_children(spec, uri, report.parent_run_id)) == 4
    parents = find_runs(spec.experiment, tracking_uri=uri, filter_string="tags.`ecg_art.grid.role` = 'parent'")
    assert len(parents) == 1 and parents[0]["status"] == "FINISHED"


def test_a_failed_cell_is_retried_once_and_listed_once(tmp_path, uri, monkeypatch):
    monkeypatch.setenv("GRID_TEST_FLAKY", str(tmp_path / "flaky-marker"))
    spec = tiny_spec(tmp_path, name="flaky")
    report = run_grid(spec, tracking_uri=uri, run_fn=cellfns.flaky_run, verbose=False)
    assert report.ok
    flaky = next(c for c in report.cells if c.name == "baseline seed=1 split=inter")
    assert flaky.attempts == 2 and flaky.status == "finished" and flaky.error is None
    kids = _children(spec, uri, report.parent_run_id)  # the failed attempt's run was deleted: each cell once
    assert len(kids) == 4 and all(r["status"] == "FINISHED" for r in kids)


def test_a_cell_failing_twice_is_reported_with_its_error(tmp_path, uri, capsys):
    spec = tiny_spec(tmp_path, name="broken")
    report = run_grid(spec, tracking_uri=uri, run_fn=cellfns.broken_run, verbose=False)
    assert not report.ok and report.count("finished") == 3
    [bad] = report.failed
    assert bad.name == "baseline seed=0 split=inter" and bad.attempts == 2
    assert bad.error.startswith("ValueError: `split` inter of seed 0 is broken") and "broken_run" in bad.traceback
    kids = {r["run_name"]: r for r in _children(spec, uri, report.parent_run_id)}
    assert len(kids) == 4 and kids[bad.name]["status"] == "FAILED"
    assert "is broken" in kids[bad.name]["tags"]["ecg_art.grid.error"]
    parent = find_runs(spec.experiment, tracking_uri=uri, filter_string="tags.`ecg_art.grid.role` = 'parent'")[0]
    assert parent["status"] == "FAILED" and parent["metrics"]["cells_failed"] == 1
    # a re-run runs only the failed cell (which fails again), in the same parent, still listed once
    again = run_grid(spec, tracking_uri=uri, run_fn=cellfns.broken_run, verbose=False)
    assert again.count("skipped") == 3 and [c.name for c in again.failed] == [bad.name]
    assert len(_children(spec, uri, report.parent_run_id)) == 4


def test_ctrl_c_keeps_finished_cells_and_the_rerun_runs_only_the_missing_ones(tmp_path, uri, monkeypatch):
    calls = tmp_path / "calls.txt"
    monkeypatch.setenv("GRID_TEST_CALLS", str(calls))
    spec = tiny_spec(tmp_path, name="ctrlc")
    with pytest.raises(KeyboardInterrupt):
        run_grid(spec, tracking_uri=uri, run_fn=cellfns.interrupted_run, verbose=False)
    assert _calls(calls) == ["0 intra", "0 inter"]
    [parent] = find_runs(spec.experiment, tracking_uri=uri, filter_string="tags.`ecg_art.grid.role` = 'parent'")
    assert parent["status"] == "KILLED"
    statuses = sorted(r["status"] for r in _children(spec, uri, parent["run_id"]))
    assert statuses == ["FINISHED", "FINISHED", "KILLED"]

    report = run_grid(spec, tracking_uri=uri, run_fn=cellfns.fake_run, verbose=False)
    assert report.parent_run_id == parent["run_id"] and report.ok
    assert (report.count("skipped"), report.count("finished")) == (2, 2)
    assert _calls(calls)[2:] == ["1 intra", "1 inter"]
    kids = _children(spec, uri, parent["run_id"])
    assert len(kids) == 4 and len({r["tags"]["ecg_art.grid.cell"] for r in kids}) == 4
    assert all(r["status"] == "FINISHED" for r in kids)


def test_cli_refuses_a_bad_grid_naming_the_key(tmp_path, capsys):
    (tmp_path / "g.toml").write_text('[axes]\nrecipe = ["baseline"]\n[settings]\nnb_epoch = 1\n')
    assert main(["grid", str(tmp_path / "g.toml")]) == 2
    assert "`settings.nb_epoch` is not a config field" in capsys.readouterr().err
    assert main(["grid", str(tmp_path / "g.toml"), "--seeds", "0,x"]) == 2


def test_cli_experiment_and_output_dir_replace_the_grid_files(tmp_path, monkeypatch, capsys):
    import ecg_art.grid

    (tmp_path / "g.toml").write_text('[grid]\nexperiment = "from-file"\n[axes]\nrecipe = ["baseline"]\n')
    seen = []

    def fake_run_grid(spec, **kwargs):
        seen.append(spec)
        raise KeyboardInterrupt  # stop before anything runs; the command reports it and exits 130

    monkeypatch.setattr(ecg_art.grid, "run_grid", fake_run_grid)
    uri = f"sqlite:///{tmp_path / 'm.db'}"
    assert main(["grid", str(tmp_path / "g.toml"), "--tracking-uri", uri]) == 130
    assert main(["grid", str(tmp_path / "g.toml"), "--tracking-uri", uri, "--experiment", "other",
                 "--output-dir", str(tmp_path / "out")]) == 130
    assert [(s.experiment, s.output_dir) for s in seen] == [("from-file", "results"), ("other", str(tmp_path / "out"))]
    assert main(["grid", str(tmp_path / "g.toml"), "--experiment", " "]) == 2
    assert "`--experiment` must not be empty" in capsys.readouterr().err


def test_an_executor_object_without_warm_up_runs_the_grid(tmp_path, uri):
    from ecg_art.grid import LocalExecutor

    class Plain:  # what run_grid needs of an executor: name, slots, a context manager, submit and wait
        name, slots = "plain", 1

        def __init__(self):
            self._inner = LocalExecutor()

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self._inner.close()

        def submit(self, fn, arg):
            return self._inner.submit(fn, arg)

        def wait(self, handles):
            return self._inner.wait(handles)

    report = run_grid(tiny_spec(tmp_path, name="plain"), tracking_uri=uri, run_fn=cellfns.fake_run, verbose=False,
                      executor_obj=Plain())
    assert report.ok and report.executor == "plain" and report.count("finished") == len(report.cells) == 4


def test_warm_up_imports_what_cells_need_and_names_what_failed(monkeypatch):
    import sys

    from ecg_art.grid import runner

    monkeypatch.setattr(runner, "WARM_MODULES", ("json", "ecg_art_no_such_module"))
    out = runner.warm_up(("baseline", "no-such-recipe"), ray_gpus=None)
    assert "json" in sys.modules and "recipes.baseline" in sys.modules
    assert set(out["failed"]) == {"ecg_art_no_such_module", "recipe no-such-recipe"}
    assert "ModuleNotFoundError" in out["failed"]["ecg_art_no_such_module"] and out["seconds"] >= 0


@pytest.mark.parametrize("ray_gpus, device", [(None, "auto"), ([], "cpu"), (["0"], "cuda")])
def test_a_cell_runs_on_the_gpu_ray_gave_it(tmp_path, uri, ray_gpus, device):
    from ecg_art.grid import CellTask, run_cell
    from ecg_art.tracking import Tracker

    cell = expand_cells(tiny_spec(tmp_path, name="gpu"))[0]
    with Tracker("gpu", tracking_uri=uri) as parent:
        out = run_cell(CellTask(cell, "gpu", uri, parent.run_id, "h", run_fn=cellfns.device_run), ray_gpus=ray_gpus)
    [run] = find_runs("gpu", tracking_uri=uri, filter_string=f"attributes.run_id = '{out['run_id']}'")
    assert run["params"]["device_requested"] == device


def test_executor_options_are_checked():
    from ecg_art.exceptions import ConfigError
    from ecg_art.grid import RayExecutor, make_executor

    with pytest.raises(ConfigError, match="unknown `executor` 'dask'"):
        make_executor("dask")
    with pytest.raises(ConfigError, match="`ray_address`"):
        make_executor("local", address="auto")
    with pytest.raises(ConfigError, match="`max_parallel`"):
        RayExecutor(max_parallel=0)
    with pytest.raises(ConfigError, match="`gpus_per_cell`"):
        RayExecutor(gpus_per_cell=-1)
