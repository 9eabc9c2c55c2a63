"""Baseline recipe: train the 1D-CNN, wrap it for ART, attack it with FGSM/PGD, log everything to MLflow.

``ecg-art run baseline --profile quick`` (a few minutes on 2 CPU cores) or ``--profile full``.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

from recipes.common import (Config, build_classifier, evaluate, format_table, prepare_data, results_dir,
                            set_threads, train)

__all__ = ["Config", "PROFILES", "run"]

logger = logging.getLogger(__name__)

PROFILES: dict[str, Config] = {
    "quick": Config(name="baseline", profile="quick"),
    "full": Config(name="baseline", profile="full", train_per_class=None, val_per_class=None, eval_n=5000,
                   nb_epochs=40, patience=8),
}


def result_rows(name: str, res: dict[str, Any], params: int) -> dict[str, Any]:
    """One table row: clean accuracy and macro-F1 on the test split, adversarial accuracy per (attack, eps)."""
    row: dict[str, Any] = {"model": name, "clean": res["clean"].accuracy, "macro_f1": res["clean"].macro_f1,
                           "params": params}
    for r in res["attacks"]:
        row[f"{r.attack}@{r.eps:g}"] = r.adv_accuracy
    return row


def run(cfg: Config) -> dict[str, Any]:
    """Train, evaluate and log the baseline; print and return the results table row."""
    from ecg_art.io import write_json
    from ecg_art.models import count_parameters
    from ecg_art.tracking import Tracker

    set_threads(cfg)
    prep = prepare_data(cfg)
    classifier = build_classifier(cfg, prep.y_train)
    params = count_parameters(classifier.model)
    with Tracker(cfg.experiment, run_name=f"{cfg.name}-{cfg.profile}", tracking_uri=cfg.tracking_uri) as tracker:
        tracker.log_params({**cfg.to_dict(), **prep.sizes(), "params": params,
                            "data_hash": prep.dataset.fingerprint(), "split_hash": prep.split.fingerprint()})
        train(cfg, classifier, prep, tracker)
        res = evaluate(cfg, classifier, prep, tracker)
        if cfg.log_model:
            tracker.log_model(classifier.model, name="model", input_example=prep.x_val[:2])
        row = result_rows(cfg.name, res, params)
        cols = ["model", "clean", "macro_f1", *[k for k in row if "@" in k], "params"]
        table = format_table([row], cols, percent=tuple(c for c in cols if c not in ("model", "params")))
        tracker.log_text(table, "table.md")
        write_json(results_dir(cfg) / "results.json", {"config": cfg.to_dict(), "row": row,
                                                       "attacks": [r.to_dict() for r in res["attacks"]],
                                                       "clean": res["clean"].to_dict(), "run_id": tracker.run_id})
    print(f"\n{cfg.name} ({cfg.profile}, {cfg.split} split; accuracies in %, eps in normalised beat units)\n{table}")
    return row


if __name__ == "__main__":
    run(dataclasses.replace(PROFILES["quick"]))
