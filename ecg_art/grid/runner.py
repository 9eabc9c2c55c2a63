"""Run a grid: one MLflow parent run per grid (found again by the grid's hash on a re-run), one child run per cell,
finished cells skipped, a failed cell retried then reported, and the metrics as mean ± std over seeds."""

from __future__ import annotations

import dataclasses
import logging
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from ecg_art.exceptions import ConfigError, TrackingError
from ecg_art.grid.cells import Cell, expand_cells, grid_hash
from ecg_art.grid.executors import make_executor
from ecg_art.grid.spec import GridSpec

__all__ = ["CellTask", "CellOutcome", "GridReport", "run_grid", "run_cell", "warm_up", "WARM_MODULES", "TAG_HASH",
           "TAG_CELL", "TAG_ROLE"]

logger = logging.getLogger(__name__)

TAG_HASH, TAG_CELL, TAG_ROLE, TAG_ERROR = "ecg_art.grid.hash", "ecg_art.grid.cell", "ecg_art.grid.role", \
    "ecg_art.grid.error"


@dataclass(frozen=True)
class CellTask:
    """What a worker needs to run one attempt of a cell: the cell, where to log, and (tests) the function that
    replaces the recipe's ``run(cfg, *, tracker)``."""

    cell: Cell
    experiment: str
    tracking_uri: str
    parent_run_id: str
    grid_hash: str
    threads: int = 1
    attempt: int = 1
    run_fn: Callable | None = None


@dataclass
class CellOutcome:
    """What became of a cell: ``finished`` (this time), ``skipped`` (finished earlier), ``failed`` or ``pending``
    (not run: the grid was interrupted)."""

    key: str
    name: str
    status: str
    run_id: str | None = None
    seconds: float | None = None
    attempts: int = 0
    error: str | None = None
    traceback: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class GridReport:
    """The outcome of ``run_grid``: every cell once, the parent run, the summary table over seeds, wall time."""

    name: str
    grid_hash: str
    experiment: str
    tracking_uri: str
    parent_run_id: str
    executor: str
    cells: list[CellOutcome]
    seconds: float
    table: str = ""
    out_dir: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def count(self, status: str) -> int:
        return sum(c.status == status for c in self.cells)

    @property
    def failed(self) -> list[CellOutcome]:
        return [c for c in self.cells if c.status == "failed"]

    @property
    def ok(self) -> bool:
        return all(c.status in ("finished", "skipped") for c in self.cells)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "grid_hash": self.grid_hash, "experiment": self.experiment,
                "tracking_uri": self.tracking_uri, "parent_run_id": self.parent_run_id, "executor": self.executor,
                "seconds": self.seconds, "cells": [c.to_dict() for c in self.cells], **self.extra}


def run_cell(task: CellTask, *, ray_gpus: list[str] | None = None) -> dict[str, Any]:
    """One attempt of a cell, in whatever process runs it: a child run of the grid's parent run, in which the recipe's
    ``run(cfg, tracker=...)`` logs. ``ray_gpus`` (set under Ray): an ``"auto"`` device becomes ``cuda`` when Ray gave
    the cell a GPU and ``cpu`` otherwise. Raises what the recipe raises, or :class:`TrackingError` when the cell's run
    could not reach the tracking store (it was recorded locally instead)."""
    import torch

    from ecg_art.cli import RECIPES
    from ecg_art.tracking import Tracker

    t0 = time.perf_counter()
    torch.set_num_threads(task.threads)
    cell = task.cell
    cfg = cell.config
    if ray_gpus is not None and getattr(cfg, "device", None) == "auto":
        cfg = dataclasses.replace(cfg, device="cuda" if ray_gpus else "cpu")
    run = task.run_fn or RECIPES.get(cell.recipe).run
    tags = {TAG_HASH: task.grid_hash, TAG_CELL: cell.key, TAG_ROLE: "cell", "ecg_art.grid.attempt": task.attempt}
    with Tracker(task.experiment, run_name=cell.name, tracking_uri=task.tracking_uri,
                 parent_run_id=task.parent_run_id, tags=tags) as tracker:
        try:
            run(cfg, tracker=tracker)
        except Exception as exc:
            tracker.set_tags({TAG_ERROR: f"{type(exc).__name__}: {exc}"})
            raise
        seconds = time.perf_counter() - t0
        tracker.log_metrics({"cell_seconds": seconds})
    if tracker.offline:
        raise TrackingError(f"cell {cell.name!r}: the tracking store {task.tracking_uri} failed; the run was recorded "
                            f"locally in {tracker.fallback_path}")
    return {"run_id": tracker.run_id, "seconds": seconds}


#: What a cell imports the first time it runs in a process (``torch._dynamo``: on the first optimiser step): ~5 s of
#: one core here, which :func:`warm_up` moves out of a Ray worker's first cell.
WARM_MODULES = ("torch", "torch._dynamo", "art", "torchattacks", "mlflow", "sklearn.metrics", "ecg_art.models",
                "ecg_art.evaluation", "ecg_art.tracking", "recipes.common")


def warm_up(recipes: tuple[str, ...] = (), *, ray_gpus: list[str] | None = None) -> dict[str, Any]:
    """Import :data:`WARM_MODULES` and the ``recipes``' modules in this process (a Ray worker, before its first cell);
    ``{"seconds": ..., "failed": {module: error}}``. Never raises: a cell that needs a module that could not be
    imported fails on its own, with its own error."""
    import importlib

    t0 = time.perf_counter()
    failed: dict[str, str] = {}
    for name in WARM_MODULES:
        try:
            importlib.import_module(name)
        except Exception as exc:  # an optional dependency missing here, or a broken install: the cell will say
            failed[name] = f"{type(exc).__name__}: {exc}"
    from ecg_art.cli import RECIPES

    for name in recipes:
        try:
            RECIPES.get(name)
        except Exception as exc:
            failed[f"recipe {name}"] = f"{type(exc).__name__}: {exc}"
    return {"seconds": time.perf_counter() - t0, "failed": failed}


def _children(spec: GridSpec, uri: str, parent_id: str, key: str | None = None) -> list[dict]:
    from ecg_art.tracking import find_runs

    flt = f"tags.`mlflow.parentRunId` = '{parent_id}'"
    if key is not None:
        flt += f" and tags.`{TAG_CELL}` = '{key}'"
    return find_runs(spec.experiment, tracking_uri=uri, filter_string=flt, missing_ok=True)


def _drop_attempts(spec: GridSpec, uri: str, parent_id: str, key: str, runs: list[dict] | None = None) -> None:
    """Delete the unfinished runs of cell ``key`` (an interrupted or failed attempt) before it runs again, so the
    parent run lists each cell once."""
    from ecg_art.tracking import delete_runs

    runs = _children(spec, uri, parent_id, key) if runs is None else runs
    stale = [r["run_id"] for r in runs if r["tags"].get(TAG_CELL) == key and r["status"] != "FINISHED"]
    if stale:
        logger.info("cell %s: deleting %d unfinished earlier attempt(s)", key, len(stale))
        delete_runs(stale, tracking_uri=uri)


def run_grid(spec: GridSpec, *, executor: str = "local", ray_address: str | None = None,
             max_parallel: int | None = None, tracking_uri: str | None = None, run_fn: Callable | None = None,
             out_dir: str | Path | None = None, verbose: bool = True, executor_obj=None) -> GridReport:
    """Run every cell of ``spec`` not finished yet, each in its own MLflow run under the grid's parent run.

    Parameters
    ----------
    spec : GridSpec
        From :func:`~ecg_art.grid.load_grid`.
    executor : {"local", "ray"}
        ``local``: one cell after the other in this process; ``ray``: one Ray task per cell.
    ray_address : str, optional
        An existing Ray cluster (default: Ray started in this process).
    max_parallel : int, optional
        Cells at a time (ray; default: the cluster's CPUs).
    tracking_uri : str, optional
        MLflow store (resolved by :func:`ecg_art.tracking.resolve_tracking_uri`); with Ray, an ``http://`` tracking
        server (``mlflow server``), since many cells writing to one SQLite file at once is MLflow's weak point.
    run_fn : callable, optional
        Replaces each recipe's ``run(cfg, *, tracker)`` (tests).
    out_dir : str or Path, optional
        Where ``cells.json`` and ``table.md`` go (default ``<output_dir>/grid-<name>-<hash>``).
    verbose : bool
        Progress bar (cells done / running / failed).
    executor_obj : optional
        An executor object used instead of ``executor`` (tests, benchmarks).

    Returns
    -------
    GridReport
        Every cell once (``finished``, ``skipped`` as finished earlier, ``failed`` with its error). The parent run is
        ``FINISHED`` when no cell failed, else ``FAILED``; on ``KeyboardInterrupt`` it is ``KILLED``, the finished
        cells are kept and a re-run of the same grid runs only the missing ones, in the same parent run.
    """
    from ecg_art.tracking import resolve_tracking_uri
    from ecg_art.tracking.uri import is_http_uri

    uri = resolve_tracking_uri(tracking_uri)
    exec_ = executor_obj if executor_obj is not None else make_executor(
        executor, address=ray_address, max_parallel=max_parallel, gpus_per_cell=spec.gpus_per_cell)
    if exec_.name == "ray" and not is_http_uri(uri):
        logger.warning("Ray cells writing at once to %s: a tracking server (`--mlflow-server`, or `mlflow server` and "
                       "--tracking-uri http://...) is the safe setup for concurrent writers", uri)
    cells = expand_cells(spec, tracking_uri=uri)
    t0 = time.perf_counter()
    with exec_:  # Ray's workers import what the cells need while this process sets the grid up
        if callable(getattr(exec_, "warm_up", None)):  # an executor object of one's own may have none
            exec_.warm_up(warm_up, tuple(dict.fromkeys(c.recipe for c in cells)))
        return _run_cells(spec, exec_, cells, uri, t0, run_fn=run_fn, out_dir=out_dir, verbose=verbose)


def _run_cells(spec: GridSpec, exec_, cells: list[Cell], uri: str, t0: float, *, run_fn: Callable | None,
               out_dir: str | Path | None, verbose: bool) -> GridReport:
    from tqdm.auto import tqdm

    from ecg_art.tracking import Tracker, find_runs

    ghash = grid_hash(spec, cells)
    out = Path(out_dir) if out_dir is not None else Path(spec.output_dir) / f"grid-{spec.name}-{ghash}"
    earlier = find_runs(spec.experiment, tracking_uri=uri, missing_ok=True,
                        filter_string=f"tags.`{TAG_HASH}` = '{ghash}' and tags.`{TAG_ROLE}` = 'parent'")
    outcomes = {c.key: CellOutcome(c.key, c.name, "pending") for c in cells}
    parent = Tracker(spec.experiment, run_name=f"grid-{spec.name}", tracking_uri=uri,
                     tags={TAG_HASH: ghash, TAG_ROLE: "parent", "ecg_art.grid.name": spec.name},
                     run_id=earlier[0]["run_id"] if earlier else None)
    with parent:
        if parent.offline:
            raise TrackingError(f"the grid needs a reachable tracking store to record its cells; {uri} failed")
        pid = parent.run_id
        logger.info("grid %s (%s): %d cells, parent run %s%s", spec.name, ghash, len(cells), pid,
                    " (reopened)" if earlier else "")
        # what the hash covers as params (a re-run's are equal); how this invocation runs as tags (they may change)
        grid = spec.to_dict()
        parent.log_params({"grid": {k: grid[k] for k in ("name", "profile", "axes", "settings", "recipe_settings")},
                           "grid_hash": ghash, "n_cells": len(cells)})
        parent.set_tags({f"ecg_art.grid.{k}": grid[k] for k in ("threads", "retries", "resume", "gpus_per_cell",
                                                                "output_dir")} | {"ecg_art.grid.executor": exec_.name})
        children = _children(spec, uri, pid)
        done = {r["tags"].get(TAG_CELL): r for r in children if r["status"] == "FINISHED"}
        todo: deque[tuple[Cell, int]] = deque()
        for c in cells:
            if c.key in done:
                outcomes[c.key] = CellOutcome(c.key, c.name, "skipped", run_id=done[c.key]["run_id"],
                                              seconds=done[c.key]["metrics"].get("cell_seconds"))
            else:
                todo.append((c, 1))
        bar = tqdm(total=len(cells), initial=len(cells) - len(todo), desc=f"grid {spec.name}", unit="cell",
                   disable=not verbose, dynamic_ncols=True)
        inflight: dict[Any, tuple[Cell, int]] = {}

        def show() -> None:
            ok = sum(o.status in ("finished", "skipped") for o in outcomes.values())
            failed = sum(o.status == "failed" for o in outcomes.values())
            bar.set_postfix_str(f"done {ok} running {len(inflight)} failed {failed}")

        try:
            show()
            while todo or inflight:
                while todo and len(inflight) < exec_.slots:
                    cell, attempt = todo.popleft()
                    _drop_attempts(spec, uri, pid, cell.key, children if attempt == 1 else None)
                    task = CellTask(cell, spec.experiment, uri, pid, ghash, threads=spec.threads, attempt=attempt,
                                    run_fn=run_fn)
                    inflight[exec_.submit(run_cell, task)] = (cell, attempt)
                show()
                for handle, value, error in exec_.wait(list(inflight)):
                    cell, attempt = inflight.pop(handle)
                    o = outcomes[cell.key]
                    o.attempts = attempt
                    if error is None:
                        o.status, o.run_id, o.seconds = "finished", value["run_id"], value["seconds"]
                        o.error = o.traceback = None
                        bar.update(1)
                    elif attempt <= spec.retries:
                        logger.warning("cell %r failed (attempt %d: %s); retrying", cell.name, attempt, error)
                        o.error = str(error)
                        todo.append((cell, attempt + 1))
                    else:
                        logger.error("cell %r failed after %d attempt(s): %s", cell.name, attempt, error)
                        o.status, o.error, o.traceback = "failed", str(error), error.traceback
                        bar.update(1)
                show()
        except KeyboardInterrupt:
            bar.close()
            finished = sum(o.status in ("finished", "skipped") for o in outcomes.values())
            logger.warning("grid %s interrupted: %d of %d cells finished are kept; the same command runs the rest",
                           spec.name, finished, len(cells))
            _write(out, outcomes, parent, None)
            raise
        bar.close()
        report = GridReport(spec.name, ghash, spec.experiment, uri, pid, exec_.name, list(outcomes.values()),
                            time.perf_counter() - t0, out_dir=str(out))
        report.table = summary_table(spec, uri, pid)
        _write(out, outcomes, parent, report)
        parent.log_metrics({"cells_total": len(cells), "cells_finished": report.count("finished"),
                            "cells_skipped": report.count("skipped"), "cells_failed": report.count("failed"),
                            "grid_seconds": report.seconds})
        if not report.ok:
            parent.end("FAILED")
    return report


def summary_table(spec: GridSpec, uri: str, parent_id: str) -> str:
    """The headline metrics of the grid's finished cells as mean ± std over seeds (:func:`~ecg_art.evaluation.compare.
    seed_summary`), one row per setting; ``""`` when no cell logged a headline metric."""
    from ecg_art.evaluation.compare import DEFAULT_PARAMS, compare_runs, seed_summary, seed_table

    axes = [k for k in dict(spec.axes) if k not in ("recipe", "seed")]
    try:
        rows, params, metrics = compare_runs(spec.experiment, tracking_uri=uri,
                                             params=[p for p in dict.fromkeys(["name", *axes, *DEFAULT_PARAMS])],
                                             filter_string=f"tags.`mlflow.parentRunId` = '{parent_id}'")
    except ConfigError as exc:
        logger.info("no summary table: %s", exc)
        return ""
    if not rows or not metrics:
        return ""
    shown = [p for p in params if p != "seed" and any(r.get(p, "") != "" for r in rows)]
    summary = seed_summary(rows, params=shown, metrics=metrics)
    summary.sort(key=lambda r: tuple(str(r.get(p, "")) for p in shown))
    return seed_table(summary, params=shown, metrics=metrics, percent=True, labels=True)


def _write(out: Path, outcomes: dict[str, CellOutcome], parent, report: GridReport | None) -> None:
    """``cells.json`` (every cell once, with its status and error) and ``table.md``, in ``out`` and in the parent."""
    from ecg_art.io import write_json

    out.mkdir(parents=True, exist_ok=True)
    payload = report.to_dict() if report is not None else {"interrupted": True}
    payload["cells"] = [o.to_dict() for o in outcomes.values()]
    write_json(out / "cells.json", payload)
    parent.log_dict(payload, "cells.json")
    if report is not None and report.table:
        text = (f"Grid {report.name} ({report.grid_hash}): mean ± std over seeds (sample std), accuracies in %\n\n"
                f"{report.table}\n")
        (out / "table.md").write_text(text)
        parent.log_text(text, "table.md")
    failed = [o for o in outcomes.values() if o.status == "failed"]
    if failed:
        parent.log_text("\n\n".join(f"## {o.name} ({o.key})\n{o.error}\n\n{o.traceback or ''}" for o in failed),
                        "failed_cells.md")
