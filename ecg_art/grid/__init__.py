"""Grids of experiments (recipes x seeds x splits x eps x ...): a declarative TOML file, one MLflow run per cell under
one parent run, run one cell after another here or as Ray tasks (``ecg-art grid``), with mean ± std over seeds."""

from ecg_art.grid.cells import Cell, config_key, expand_cells, grid_hash
from ecg_art.grid.executors import EXECUTORS, CellError, LocalExecutor, RayExecutor, make_executor
from ecg_art.grid.runner import CellOutcome, CellTask, GridReport, run_cell, run_grid, summary_table
from ecg_art.grid.server import MlflowServer, free_port, server_for
from ecg_art.grid.spec import GridSpec, load_grid, parse_grid

__all__ = ["GridSpec", "load_grid", "parse_grid", "Cell", "expand_cells", "config_key", "grid_hash", "CellTask",
           "CellOutcome", "GridReport", "run_grid", "run_cell", "summary_table", "CellError", "LocalExecutor",
           "RayExecutor", "make_executor", "EXECUTORS", "MlflowServer", "server_for", "free_port"]
