"""Wall time of a grid with the local executor (one cell after another) vs Ray with N workers, and Ray's overhead per
cell (the same cell as a Ray task vs a plain call).

Run: ``OMP_NUM_THREADS=1 python benchmarks/bench_grid.py`` (``--grid grids/small.toml --workers 2`` by default; needs
the MIT-BIH data the grid's recipes load: ``ECG_ART_DATA``).

Two measurements of each executor, in this order: the **command** a user runs (``ecg-art grid GRID --executor
local|ray``, a fresh process each, wall time from start to exit: the local process imports torch, ART, MLflow, ... for
its cells, the Ray driver does not, its workers do) and **in-process** (``run_grid`` called here, after this process
has imported everything: the local executor's cells pay no import at all, Ray's workers still do).

Fair comparison: every cell runs with one torch thread in both executors (the grid's ``threads = 1``, and
``OMP_NUM_THREADS=1``), writes to the same kind of store (one local ``mlflow server`` over SQLite, started here for
both), trains from scratch (fresh results folders: no checkpoint is reused) and reads the prepared-data caches, which
are built before either is timed (else the executor that runs first pays for building them). The Ray time includes
starting and stopping Ray in this process and the workers' imports; the local time includes nothing of the kind (this
process has imported everything before the clock starts).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")


def _fresh(cell, out: Path):
    return dataclasses.replace(cell, config=dataclasses.replace(cell.config, output_dir=str(out)))


def _command(grid: str, executor: str, workers: int, uri: str, work: Path) -> float:
    """Wall seconds of ``ecg-art grid GRID --executor EXECUTOR`` into a fresh experiment and results folder."""
    exe = Path(sys.executable).with_name("ecg-art")
    cmd = [str(exe) if exe.exists() else (shutil.which("ecg-art") or "ecg-art"), "grid", grid, "--executor", executor,
           "--tracking-uri", uri, "--experiment", f"bench-cmd-{executor}-{time.time():.0f}",
           "--output-dir", str(work / f"cmd-results-{executor}")]
    if executor == "ray":
        cmd += ["--max-parallel", str(workers)]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    seconds = time.perf_counter() - t0
    if proc.returncode:
        raise SystemExit(f"{' '.join(cmd)} exited {proc.returncode}:\n{proc.stderr[-4000:]}")
    return seconds


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--grid", default="grids/small.toml")
    p.add_argument("--workers", type=int, default=2, help="Ray workers (cells at a time)")
    p.add_argument("--workdir", help="stores and results (default: a temporary folder)")
    p.add_argument("--output", help="write the figures as JSON here")
    args = p.parse_args()

    import torch

    from ecg_art.grid import CellTask, MlflowServer, RayExecutor, expand_cells, load_grid, run_cell, run_grid
    from ecg_art.tracking import Tracker
    from recipes.common import prepare_data

    torch.set_num_threads(1)
    work = Path(args.workdir or tempfile.mkdtemp(prefix="bench_grid-"))
    spec = load_grid(args.grid)
    for cell in expand_cells(spec):  # build (or read) every cell's prepared-data cache before the clocks start
        prepare_data(cell.config)
    load0 = os.getloadavg()
    figures: dict = {"grid": args.grid, "workers": args.workers, "cpus": os.cpu_count(), "load_before": load0}
    with MlflowServer(f"sqlite:///{work / 'mlflow.db'}", work / "artifacts") as server:
        cmds = {}
        for executor in ("local", "ray"):
            cmds[executor] = _command(args.grid, executor, args.workers, server.url, work)
            print(f"command, {executor}: {cmds[executor]:.1f} s wall (`ecg-art grid {args.grid} --executor "
                  f"{executor}`)", flush=True)
        figures.update(command_local_s=cmds["local"], command_ray_s=cmds["ray"],
                       command_ratio=cmds["ray"] / cmds["local"])
        runs = {}
        for name, executor in (("local", "local"), ("ray", "ray")):
            s = dataclasses.replace(spec, experiment=f"bench-{name}-{int(time.time())}",
                                    output_dir=str(work / f"results-{name}"))
            t0 = time.perf_counter()
            report = run_grid(s, executor=executor, max_parallel=args.workers if executor == "ray" else None,
                              tracking_uri=server.url, verbose=True)
            runs[name] = time.perf_counter() - t0
            if not report.ok:
                raise SystemExit(f"{name}: cells failed: {[c.name for c in report.failed]}")
            cell_s = [c.seconds for c in report.cells]
            figures[f"{name}_cells"] = len(cell_s)
            figures[f"{name}_cell_seconds_sum"] = sum(cell_s)
            print(f"in-process, {name}: {runs[name]:.1f} s wall for {len(cell_s)} cells (sum of cell times "
                  f"{sum(cell_s):.1f} s)")
        figures.update(local_s=runs["local"], ray_s=runs["ray"], ratio=runs["ray"] / runs["local"])

        # Ray's overhead per cell: the grid's first cell as a plain call here, then as a Ray task on a cold worker
        # (process start + imports) and on the warm one; each time in a fresh results folder (trained from scratch)
        cell = expand_cells(spec, tracking_uri=server.url)[0]
        with Tracker("bench-overhead", run_name="overhead", tracking_uri=server.url) as parent:
            def task(tag: str) -> CellTask:
                return CellTask(_fresh(cell, work / f"overhead-{tag}"), "bench-overhead", server.url, parent.run_id,
                                "overhead", threads=1)

            t0 = time.perf_counter()
            plain_inner = run_cell(task("plain"))["seconds"]
            plain = time.perf_counter() - t0
            t0 = time.perf_counter()
            with RayExecutor(max_parallel=1, num_cpus=1) as ray_exec:
                ray_init = time.perf_counter() - t0
                trips = []
                for tag in ("ray-cold", "ray-warm"):
                    t1 = time.perf_counter()
                    [(_, value, err)] = ray_exec.wait([ray_exec.submit(run_cell, task(tag))])
                    if err is not None:
                        raise SystemExit(f"overhead cell failed: {err}")
                    trips.append((time.perf_counter() - t1, value["seconds"]))
        figures.update(cell=cell.name, plain_s=plain, plain_inner_s=plain_inner, ray_init_s=ray_init,
                       ray_cold_s=trips[0][0], ray_cold_inner_s=trips[0][1], ray_warm_s=trips[1][0],
                       ray_warm_inner_s=trips[1][1], overhead_warm_s=trips[1][0] - plain,
                       overhead_cold_s=trips[0][0] - plain, overhead_warm_dispatch_s=trips[1][0] - trips[1][1])
    figures["load_after"] = os.getloadavg()
    print(f"\ngrid {args.grid}, the command: local {cmds['local']:.1f} s, Ray with {args.workers} workers "
          f"{cmds['ray']:.1f} s, ratio {figures['command_ratio']:.2f} (target <= 0.6)")
    print(f"grid {args.grid}, in-process (this process's imports not counted): local {runs['local']:.1f} s, Ray with "
          f"{args.workers} workers {runs['ray']:.1f} s, ratio {figures['ratio']:.2f}")
    print(f"cell {cell.name!r}: plain call {plain:.1f} s; Ray task {trips[1][0]:.1f} s on a warm worker "
          f"(overhead {figures['overhead_warm_s']:+.2f} s; round trip minus the cell's own time "
          f"{figures['overhead_warm_dispatch_s']:.2f} s; target <= 2 s), {trips[0][0]:.1f} s on a cold worker "
          f"(overhead {figures['overhead_cold_s']:+.2f} s: worker start and imports, once per worker); "
          f"ray.init {ray_init:.1f} s")
    print(f"load average before {load0[0]:.2f}, after {figures['load_after'][0]:.2f} on {os.cpu_count()} CPUs")
    if args.output:
        Path(args.output).write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
