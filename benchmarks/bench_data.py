"""Benchmark: cold (empty cache) and warm preparation time of all 48 MIT-BIH records with load_beats.

Usage: ``python benchmarks/bench_data.py --data-dir /path/to/mitdb`` (targets: cold <= 60 s, warm <= 2 s).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import warnings

os.environ.setdefault("OMP_NUM_THREADS", "1")


def _warm_in_fresh_process(data_dir: str, cache_dir: str) -> float:
    """Seconds for import + load_beats in a new interpreter (what `ecg-art` pays on a warm start)."""
    code = (
        "import time, warnings; t = time.perf_counter(); warnings.simplefilter('ignore');"
        "from ecg_art.data import load_beats;"
        f"ds = load_beats({data_dir!r}, cache_dir={cache_dir!r}); print(time.perf_counter() - t, len(ds))"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout.split()
    return float(out[0])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=None, help="MIT-BIH folder (else ECG_ART_DATA, else the cache folder)")
    parser.add_argument("--repeats", type=int, default=3, help="warm loads to time (best is reported)")
    args = parser.parse_args(argv)
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:
        pass
    from ecg_art.data import load_beats, resolve_data_dir

    data_dir = str(resolve_data_dir(args.data_dir))
    warnings.simplefilter("ignore")
    with tempfile.TemporaryDirectory(prefix="ecg_art_bench_") as cache_dir:
        t0 = time.perf_counter()
        ds = load_beats(data_dir, cache_dir=cache_dir)
        cold = time.perf_counter() - t0
        warm = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            load_beats(data_dir, cache_dir=cache_dir)
            warm.append(time.perf_counter() - t0)
        fresh = _warm_in_fresh_process(data_dir, cache_dir)
    print(f"records: {len(ds.records())}  beats: {len(ds)}  classes: {ds.class_counts()}")
    print(f"cold  (empty cache, verify + read + window + write): {cold:7.2f} s   target <= 60 s")
    print(f"warm  (same process, best of {args.repeats}):              {min(warm):7.2f} s   target <= 2 s")
    print(f"warm  (fresh process, imports + checksums + load):  {fresh:7.2f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
