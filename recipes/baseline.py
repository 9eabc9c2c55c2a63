"""Baseline recipe: train the 1D-CNN, wrap it for ART, attack it with FGSM/PGD, log everything to MLflow.

``ecg-art run baseline --profile quick`` (a few minutes on 2 CPU cores) or ``--profile full``.
"""

from __future__ import annotations

from typing import Any

from recipes.common import Config, run_model

__all__ = ["Config", "PROFILES", "run"]

PROFILES: dict[str, Config] = {
    # every training beat, 4 epochs: a few minutes on 2 CPU cores
    "quick": Config(name="baseline", profile="quick", train_n=None, val_n=None, nb_epochs=4, patience=2),
    "full": Config(name="baseline", profile="full", train_n=None, val_n=None, eval_n=5000,
                   nb_epochs=40, patience=8),
}


def run(cfg: Config, *, tracker=None) -> dict[str, Any]:
    """Train, evaluate and log the baseline (in ``tracker``'s run if given); print and return its table row."""
    return run_model(cfg, tracker=tracker)


if __name__ == "__main__":
    run(PROFILES["quick"])
