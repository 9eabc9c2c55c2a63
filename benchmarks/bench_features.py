"""Benchmark the feature layer: cold feature extraction for every MIT-BIH beat, the feature branch's cost in one
attack step (forward + backward of FusionNet vs its CNN branch alone) and in a prediction (forward without gradient,
per feature mode).

Usage: python benchmarks/bench_features.py [--threads 1] [--data-dir DIR] [--records 100,101] [--device cpu]
                                          [--feature-set rhythm|window]
Targets: all beats <= 120 s on 2 cores; FusionNet attack step <= 1.5x the CNN branch alone (batch 256; the
rhythm set reads a 12 s context, so its step is reported, not held to that ratio).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

BEAT_SYMBOLS = set("NLRejAaJSVEFQ/f")


def _extractor(feature_set: str, r_index: int, device: str):
    """A batched, no-grad ``x -> (n, 12)`` function of the chosen feature set."""
    import numpy as np
    import torch

    from ecg_art.features import extract_features
    from ecg_art.features.rhythm import RhythmBeatFeatures

    if feature_set == "window":
        return lambda x: extract_features(x, r_index=r_index, device=device)
    ext = RhythmBeatFeatures(r_index=r_index).to(device)

    def run(x: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return np.concatenate([ext(torch.as_tensor(x[i:i + 1024]).to(device)).cpu().numpy()
                                   for i in range(0, len(x), 1024)])
    return run


def bench_extraction(data_dir: Path, records: list[str], *, context: int, r_index: int, device: str,
                     feature_set: str = "rhythm") -> dict:
    import numpy as np
    import wfdb

    from ecg_art.features import context_windows

    extract_features = _extractor(feature_set, r_index, device)

    t0 = time.perf_counter()
    t_extract, n_beats = 0.0, 0
    for rec in records:
        sig = wfdb.rdrecord(str(data_dir / rec), channels=[0]).p_signal[:, 0]
        ann = wfdb.rdann(str(data_dir / rec), "atr")
        peaks = np.array([s for s, y in zip(ann.sample, ann.symbol) if y in BEAT_SYMBOLS])
        x, _ = context_windows(sig, peaks, window=context, r_index=r_index)
        t1 = time.perf_counter()
        f = extract_features(x)
        t_extract += time.perf_counter() - t1
        n_beats += len(f)
    total = time.perf_counter() - t0
    return {"records": len(records), "beats": n_beats, "total_s": round(total, 2),
            "extract_s": round(t_extract, 2), "beats_per_s_extract": round(n_beats / t_extract)}


def bench_attack_step(*, batch: int, repeats: int, device: str, feature_set: str = "rhythm", context: int = 4320,
                      r_index: int = 3600) -> dict:
    import torch

    from ecg_art.models.fusion import FusionNet

    torch.manual_seed(0)
    model = FusionNet(feature_set=feature_set, context_length=context, r_index=r_index).to(device).eval()
    x0 = torch.rand(batch, 1, model.context_length, device=device)
    y = torch.randint(0, model.n_classes, (batch,), device=device)
    loss_fn = torch.nn.CrossEntropyLoss()

    def step(grad: bool) -> None:
        if grad:
            x = x0.clone().requires_grad_(True)
            loss_fn(model(x), y).backward()
            _ = x.grad.sign()
        else:  # a prediction: no gradient of the input (bpda then skips its soft path)
            with torch.no_grad():
                model(x0)
        if device.startswith("cuda"):
            torch.cuda.synchronize()

    def timed(grad: bool) -> float:
        t = time.perf_counter()
        step(grad)
        return time.perf_counter() - t

    modes = ("hard", "soft", "bpda")
    settings = [("cnn_branch", "cnn", "hard", True)] + [(f"fusion_{m}", "fusion", m, True) for m in modes] + \
        [(f"predict_{m}", "fusion", m, False) for m in modes]
    times: dict[str, list[float]] = {name: [] for name, *_ in settings}
    for i in range(repeats + 3):  # interleaved rounds, so load from other processes hits every setting alike
        for name, output, mode, grad in settings:
            model.output, model.feature_mode = output, mode
            dt = timed(grad)
            if i >= 3:
                times[name].append(dt)
    out = {f"{name}_ms": statistics.median(v) * 1e3 for name, v in times.items()}
    for mode in modes:  # median over rounds of the per-round ratio
        out[f"ratio_{mode}"] = statistics.median(
            f / c for f, c in zip(times[f"fusion_{mode}"], times["cnn_branch"]))
    return {k: round(v, 2) for k, v in out.items()}


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int, default=1, help="torch intra-op threads (default 1)")
    p.add_argument("--data-dir", type=Path,
                   default=Path(os.environ.get("ECG_ART_DATA") or Path(__file__).resolve().parents[2] / "shared" / "data" / "mitdb"))
    p.add_argument("--records", default="", help="comma-separated record names (default: all 48)")
    p.add_argument("--feature-set", choices=("rhythm", "window"), default="rhythm")
    p.add_argument("--context", type=int, help="context length (default: 4320 rhythm, 1024 window)")
    p.add_argument("--r-index", type=int, help="R peak in the context (default: 3600 rhythm, 512 window)")
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--repeats", type=int, default=20)
    p.add_argument("--device", default="cpu")
    p.add_argument("--skip-extraction", action="store_true")
    p.add_argument("--out", type=Path, help="write the results as JSON here")
    args = p.parse_args(argv)
    rhythm = args.feature_set == "rhythm"
    args.context = args.context or (4320 if rhythm else 1024)
    args.r_index = args.r_index or (3600 if rhythm else 512)
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    import torch

    torch.set_num_threads(args.threads)
    records = [r for r in args.records.split(",") if r] or sorted(
        f.stem for f in args.data_dir.glob("*.hea"))
    res = {"threads": args.threads, "device": args.device, "torch": torch.__version__,
           "feature_set": args.feature_set, "context": args.context}
    if not args.skip_extraction:
        res["extraction"] = bench_extraction(args.data_dir, records, context=args.context, r_index=args.r_index,
                                             device=args.device, feature_set=args.feature_set)
        print("extraction:", res["extraction"], flush=True)
    res["attack_step"] = bench_attack_step(batch=args.batch, repeats=args.repeats, device=args.device,
                                           feature_set=args.feature_set, context=args.context, r_index=args.r_index)
    print(f"attack step (batch {args.batch}, fwd+bwd wrt input; predict_*: forward without gradient):",
          res["attack_step"], flush=True)
    if args.out:
        args.out.write_text(json.dumps(res, indent=2))
    return res


if __name__ == "__main__":
    main()
