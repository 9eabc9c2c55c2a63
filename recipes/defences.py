"""Defence recipes: standard adversarial training (ART's ``AdversarialTrainer`` with ART's PGD), NSR regularisation
and AT+NSR (our ART ``Trainer`` in ``attacks_custom``), trained and evaluated like the baseline.

``ecg-art run at|nsr|at-nsr --profile quick|full``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from recipes.common import Config as BaseConfig
from recipes.common import Recipe, run_model, training_pgd

__all__ = ["Config", "PROFILES", "make_trainer", "run", "AT_RECIPE", "NSR_RECIPE", "AT_NSR_RECIPE"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Config(BaseConfig):
    """Baseline config plus the defence's numbers (eps in the normalised beat unit)."""

    defence: str = "at"  # "at", "nsr" or "at-nsr"
    train_eps: float = 0.05  # adversarial-training budget (Linf)
    train_pgd_iter: int = 7
    train_eps_step: float | None = None  # default 2.5 * train_eps / train_pgd_iter (Madry et al.)
    at_ratio: float = 0.5  # share of every batch replaced by adversarial examples
    nsr_beta: float = 0.3  # reference value for MIT-BIH
    # The regulariser's noise level, in the beat unit: eps * ||dz_y/dx||_1 is the first-order logit change under an
    # Linf perturbation of size eps, so it is set to the attack budget (the reference's max_noise=1 is in its own
    # signal scale). Base loss: our class-weighted cross-entropy ("mse_margin" is the reference's).
    nsr_eps: float = 0.05
    nsr_delta: float = 0.01
    nsr_base_loss: str = "estimator"
    attacks: tuple[str, ...] = ("fgsm", "pgd", "sap")


def _profiles(defence: str) -> dict[str, Config]:
    name = defence
    return {
        "quick": Config(name=name, profile="quick", defence=defence, train_n=10000, val_n=2500,
                        eval_n=500, nb_epochs=6, patience=3),
        "full": Config(name=name, profile="full", defence=defence, train_n=None, val_n=None,
                       eval_n=5000, nb_epochs=40, patience=8),
    }


AT, NSR, AT_NSR = _profiles("at"), _profiles("nsr"), _profiles("at-nsr")
PROFILES = AT


def make_trainer(cfg: Config, classifier):
    """The ART trainer of ``cfg.defence`` around ``classifier``."""
    from art.defences.trainer import AdversarialTrainer

    from attacks_custom.nsr import NSRTrainer
    from ecg_art.exceptions import ConfigError

    pgd = training_pgd(classifier, eps=cfg.train_eps, max_iter=cfg.train_pgd_iter, eps_step=cfg.train_eps_step,
                       batch_size=cfg.batch_size)
    if cfg.defence == "at":
        return AdversarialTrainer(classifier, attacks=pgd, ratio=cfg.at_ratio)
    if cfg.defence in ("nsr", "at-nsr"):
        return NSRTrainer(classifier, beta=cfg.nsr_beta, eps=cfg.nsr_eps, delta=cfg.nsr_delta,
                          attack=pgd if cfg.defence == "at-nsr" else None, ratio=cfg.at_ratio,
                          base_loss=cfg.nsr_base_loss)
    raise ConfigError(f"unknown `defence` {cfg.defence!r}; known: at, nsr, at-nsr")


def run(cfg: Config, *, tracker=None) -> dict[str, Any]:
    """Train the defended model, evaluate it on the test split, log to MLflow, print and return its table row."""
    return run_model(cfg, make_trainer=make_trainer, tracker=tracker)


AT_RECIPE = Recipe("at", AT, run)
NSR_RECIPE = Recipe("nsr", NSR, run)
AT_NSR_RECIPE = Recipe("at-nsr", AT_NSR, run)

if __name__ == "__main__":
    run(AT["quick"])
