"""Wall time of a grid with the local executor (one cell after another) vs Ray with N workers, and Ray's overhead per
cell (the same cell as a Ray task vs a plain call).

Run: ``OMP_NUM_THREADS=1 python benchmarks/bench_grid.py`` (``--grid grids/small.toml --workers 2`` by default; needs
the MIT-BIH data the grid's recipes load: ``ECG_ART_DATA``).

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
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")


def _fresh(cell, out: Path):
    return dataclasses.replace(cell, config=dataclasses.replace(cell.config, output_dir=str(out)))


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
            print(f"{name}: {runs[name]:.1f} s wall for {len(cell_s)} cells (sum of cell times {sum(cell_s):.1f} s)")
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
    print(f"\ngrid {args.grid}: local {runs['local']:.1f} s, Ray with {args.workers} workers {runs['ray']:.1f} s, "
          f"ratio {figures['ratio']:.2f} (target <= 0.6)")
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
