"""Validate and time the R-peak detector as QRS detectors are validated: sensitivity (Se) and positive predictivity
(+P) against the MIT-BIH reference beat annotations (150 ms), all 48 records, ventricular flutter excluded; clean and
under the attack aimed at the detector (:func:`ecg_art.features.rpeak_validation.attack_detector`) at each eps of
``--eps`` (beat unit: eps x the record's median 256-sample beat range, in mV).

Usage: python benchmarks/bench_rpeaks.py [--threads 1] [--data-dir DIR] [--records 100,119] [--eps 0.01,0.03,0.05]
                                         [--steps 20] [--per-record]
Target: clean Se and +P >= 99.5 % (Pan & Tompkins 1985 report 99.3 %).
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--data-dir", type=Path,
                   default=Path(os.environ.get("ECG_ART_DATA") or Path(__file__).resolve().parents[2] / "shared" / "data" / "mitdb"))
    p.add_argument("--records", default="", help="comma-separated record names (default: all 48)")
    p.add_argument("--eps", default="0.01,0.03,0.05", help="attack budgets in the beat unit ('' for clean only)")
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--per-record", action="store_true", help="also print each record's misses and false detections")
    args = p.parse_args(argv)
    import torch

    from ecg_art.features.rpeak_validation import validate_rpeaks
    from ecg_art.features.rpeaks import PeakScores

    torch.set_num_threads(args.threads)
    records = [r for r in args.records.split(",") if r] or None
    out = {}
    print("| eps (beat unit) | Se % | +P % | TP | FN | FP | seconds |\n|---|---|---|---|---|---|---|")
    for eps in [0.0] + [float(e) for e in args.eps.split(",") if e]:
        t0 = time.perf_counter()
        res = validate_rpeaks(args.data_dir, records, eps=eps, steps=args.steps)
        s = sum((r.scores for r in res), PeakScores(0, 0, 0))
        dt = time.perf_counter() - t0
        out[eps] = {**s.to_dict(), "seconds": dt, "records": len(res)}
        print(f"| {eps:g} | {100 * s.sensitivity:.2f} | {100 * s.ppv:.2f} | {s.tp} | {s.fn} | {s.fp} | {dt:.1f} |",
              flush=True)
        if args.per_record:
            worst = sorted(res, key=lambda r: -(r.scores.fn + r.scores.fp))[:8]
            print("   worst records (record: FN/FP):",
                  ", ".join(f"{r.record}: {r.scores.fn}/{r.scores.fp}" for r in worst))
    return out


if __name__ == "__main__":
    main()
