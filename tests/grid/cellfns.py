"""Stand-ins for a recipe's ``run(cfg, *, tracker)``, importable by Ray workers: they log what a recipe would (a few
params and metrics, derived from the seed and split) without training anything."""

from __future__ import annotations

import os
import time
from pathlib import Path

from ecg_art.grid import parse_grid


def fake_run(cfg, *, tracker):
    """Log the config's seed/split/name and metrics that depend on them; sleeps ``$GRID_TEST_SLEEP`` seconds."""
    time.sleep(float(os.environ.get("GRID_TEST_SLEEP", "0")))
    tracker.log_params({"name": cfg.name, "seed": cfg.seed, "split": cfg.split, "model": cfg.model})
    acc = 0.9 + 0.01 * cfg.seed + (0.05 if cfg.split == "intra" else 0.0)
    tracker.log_metrics({"test_accuracy": acc, "adv_acc_pgd_eps0.03": acc - 0.5})
    marker = os.environ.get("GRID_TEST_CALLS")
    if marker:  # one line per call: which cells ran
        with open(marker, "a") as f:
            f.write(f"{cfg.seed} {cfg.split}\n")
    return {"model": cfg.name, "clean": acc}


def flaky_run(cfg, *, tracker):
    """Fails the first attempt of the cell seed=1/inter (a marker file remembers it), then behaves as ``fake_run``."""
    marker = Path(os.environ["GRID_TEST_FLAKY"])
    if (cfg.seed, cfg.split) == (1, "inter") and not marker.exists():
        marker.write_text("failed once")
        raise RuntimeError("transient failure of seed 1 inter")
    return fake_run(cfg, tracker=tracker)


def broken_run(cfg, *, tracker):
    """Always fails on the cell seed=0/inter with a `ValueError` naming it."""
    if (cfg.seed, cfg.split) == (0, "inter"):
        raise ValueError("`split` inter of seed 0 is broken")
    return fake_run(cfg, tracker=tracker)


def interrupted_run(cfg, *, tracker):
    """Ctrl-C during the third cell to start (seed 1, intra in file order)."""
    if (cfg.seed, cfg.split) == (1, "intra"):
        raise KeyboardInterrupt
    return fake_run(cfg, tracker=tracker)


def tiny_spec(tmp_path, **grid):
    """4 cells of the baseline recipe: seeds 0, 1 x splits intra, inter (most tests replace the recipe's run)."""
    return parse_grid({"grid": {"name": "tiny", "output_dir": str(tmp_path / "results"), **grid},
                       "axes": {"recipe": ["baseline"], "seed": [0, 1], "split": ["intra", "inter"]},
                       "settings": {"nb_epochs": 1, "eval_n": 40, "attacks": ["fgsm"], "eps": [0.03],
                                    "log_model": False}})


def device_run(cfg, *, tracker):
    """Log the device the cell's config asks for."""
    tracker.log_params({"device_requested": cfg.device})
    return {}
