"""Defence recipes: standard adversarial training (ART's ``AdversarialTrainer`` with ART's PGD), NSR regularisation
and AT+NSR (our ART ``Trainer`` in ``attacks_custom``), trained and evaluated like the baseline.

``ecg-art run at|nsr|at-nsr --profile quick|full``.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from typing import Any

from recipes.common import Config as BaseConfig
from recipes.common import Recipe, build_classifier, prepare_data, results_dir, run_model, set_threads, training_pgd

__all__ = ["Config", "PROFILES", "DEFENCES", "make_trainer", "run", "AT_RECIPE", "NSR_RECIPE", "AT_NSR_RECIPE",
           "TRADES_RECIPE", "MART_RECIPE", "FAST_AT_RECIPE", "AT_NSR_WIDE_RECIPE"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Config(BaseConfig):
    """Baseline config plus the defence's numbers (eps in the normalised beat unit)."""

    defence: str = "at"  # "at", "nsr", "at-nsr", "trades" or "mart"
    train_eps: float = 0.05  # adversarial-training budget (Linf)
    train_pgd_iter: int = 7
    train_eps_step: float | None = None  # default 2.5 * train_eps / train_pgd_iter (Madry et al.)
    # "pgd": ART's PGD-`train_pgd_iter`; "fgsm-rs" / "n-fgsm": fast adversarial training (one gradient per beat,
    # attacks_custom.FastGradientRS), guarded against catastrophic overfitting
    train_attack: str = "pgd"
    fast_step: float | None = None  # the fast attack's step in multiples of train_eps (None: its paper's, 1.25 / 1)
    fast_noise: float | None = None  # its random start's half-width in multiples of train_eps (None: its paper's)
    # the guard: PGD-`guard_pgd_iter` at train_eps on `guard_n` validation beats after every epoch; a fall of robust
    # accuracy by more than `guard_max_drop` below its best rolls the epoch back and stops training (0: no guard)
    guard_n: int = 500
    guard_pgd_iter: int = 10
    guard_max_drop: float = 0.1
    at_ratio: float = 0.5  # share of every batch replaced by adversarial examples
    # clean epochs before the defence when it starts untrained (no init_from), selected on validation like the
    # baseline: a standalone quick run then follows the paper job's baseline -> defence path in one command
    warmup_epochs: int = 0
    nsr_beta: float = 0.3  # reference value for MIT-BIH
    # The regulariser's noise level, in the beat unit: eps * ||dz_y/dx||_1 is the first-order logit change under an
    # Linf perturbation of size eps, so it is set to the attack budget (the reference's max_noise=1 is in its own
    # signal scale). Base loss: our class-weighted cross-entropy ("mse_margin" is the reference's).
    nsr_eps: float = 0.05
    nsr_delta: float = 0.01
    nsr_base_loss: str = "estimator"
    trades_beta: float = 6.0  # TRADES (Zhang et al. 2019): weight of KL(clean || adversarial); paper 1-6
    mart_beta: float = 6.0  # MART (Wang et al. 2020): weight of the misclassification-aware KL; paper 5-6
    attacks: tuple[str, ...] = ("fgsm", "pgd", "sap")


# Fast adversarial training over every training beat: FGSM with a random start, step = eps (Wong et al.'s 1.25 eps
# overfitted catastrophically here: FGSM 93 % / PGD-20 28 % / standard AutoAttack 7 % at eps 0.05), every beat of a
# batch attacked, guarded against catastrophic overfitting.
FAST = {"train_attack": "fgsm-rs", "fast_step": 1.0, "at_ratio": 1.0, "train_n": None, "val_n": None}


def _profiles(defence: str, *, name: str | None = None, fast_quick: bool = False, fast_full: bool = False,
              quick: dict[str, Any] | None = None) -> dict[str, Config]:
    """The recipe's quick and full profiles; ``quick`` overrides settings of the quick one."""
    name = name or defence
    # fast quick profiles: the quick baseline's 4 clean epochs, then fast adversarial training (AT+NSR: 1 epoch, whose
    # gradient penalty costs about 3 of AT's; README, fast adversarial training)
    base = ({**FAST, "warmup_epochs": 4, "nb_epochs": 1 if defence == "at-nsr" else 3, "patience": 3} if fast_quick
            else {"train_n": 10000, "val_n": 2500, "nb_epochs": 6, "patience": 3})
    return {
        "quick": Config(name=name, profile="quick", defence=defence, eval_n=500, **{**base, **(quick or {})}),
        "full": Config(name=name, profile="full", defence=defence, eval_n=5000, nb_epochs=40, patience=8,
                       **({**FAST} if fast_full else {"train_n": None, "val_n": None})),
    }


DEFENCES = ("at", "nsr", "at-nsr", "trades", "mart")
# AT trains at 1.1 x the table's eps in the quick profile: at 0.05 its three epochs masked gradients (PGD-20 75.5 /
# standard AutoAttack 62.5 % on the paper job's 200 beats); at 0.055 96.3 % clean / 86.0 / 79.5, S sensitivity 40 %
# (at 0.0625: 95.3 / 87.0 / 85.0 and no S beat found; README, the quick AT's training budget)
AT = _profiles("at", fast_quick=True, quick={"train_eps": 0.055})
NSR, AT_NSR = _profiles("nsr"), _profiles("at-nsr", fast_quick=True)
TRADES, MART = _profiles("trades", fast_quick=True), _profiles("mart", fast_quick=True)
FAST_AT = _profiles("at", name="fast-at", fast_quick=True, fast_full=True)  # fast AT in the full profile too
# the "beyond" row: AT+NSR on the wider CNN (ecg_art.models.cnn.WIDE, ~4x the parameters), from its own clean warm-up
AT_NSR_WIDE = {k: dataclasses.replace(v, model="baseline_cnn_wide")
               for k, v in _profiles("at-nsr", name="at-nsr-wide", fast_quick=True).items()}
PROFILES = AT


def training_attack(cfg: Config, classifier):
    """The attack that makes the training examples: ART's PGD or a fast single-step attack (``cfg.train_attack``)."""
    from attacks_custom.fast_at import FAST_METHODS, FastGradientRS
    from ecg_art.exceptions import ConfigError

    if cfg.train_attack == "pgd":
        return training_pgd(classifier, eps=cfg.train_eps, max_iter=cfg.train_pgd_iter,
                            eps_step=cfg.train_eps_step, batch_size=cfg.batch_size)
    if cfg.train_attack in FAST_METHODS:
        step = None if cfg.fast_step is None else cfg.fast_step * cfg.train_eps
        noise = None if cfg.fast_noise is None else cfg.fast_noise * cfg.train_eps
        return FastGradientRS(classifier, eps=cfg.train_eps, method=cfg.train_attack, step=step, noise=noise,
                              batch_size=cfg.batch_size)
    raise ConfigError(f"unknown `train_attack` {cfg.train_attack!r}; known: pgd, {', '.join(FAST_METHODS)}")


def guard(cfg: Config, trainer, prep):
    """``trainer`` inside a :class:`CatastrophicOverfittingGuard` on ``cfg.guard_n`` validation beats (as it is
    without validation data or with ``guard_n=0``)."""
    import numpy as np

    from attacks_custom.fast_at import CatastrophicOverfittingGuard
    from ecg_art.data import stratified_subset

    if not cfg.guard_n or prep is None:
        return trainer
    # stratified (equal per-class cap): a model collapsed onto the majority class N must not look robust
    pick = stratified_subset(np.arange(len(prep.y_val)), prep.y_val, cfg.guard_n, seed=cfg.seed + 7)
    pgd = training_pgd(trainer.get_classifier(), eps=cfg.train_eps, max_iter=cfg.guard_pgd_iter, eps_step=None,
                       batch_size=cfg.batch_size)
    return CatastrophicOverfittingGuard(trainer, x_val=prep.x_val[pick], y_val=prep.y_val[pick], attack=pgd,
                                        max_drop=cfg.guard_max_drop)


def make_trainer(cfg: Config, classifier, *, prep=None):
    """The ART trainer of ``cfg.defence`` around ``classifier``; fast adversarial training is guarded against
    catastrophic overfitting on ``prep``'s validation beats."""
    from art.defences.trainer import AdversarialTrainer, AdversarialTrainerTRADESPyTorch

    from attacks_custom.mart import MARTTrainer
    from attacks_custom.nsr import NSRTrainer
    from ecg_art.exceptions import ConfigError

    if cfg.defence not in DEFENCES:
        raise ConfigError(f"unknown `defence` {cfg.defence!r}; known: {', '.join(DEFENCES)}")
    attack = training_attack(cfg, classifier) if cfg.defence != "nsr" else None
    if cfg.defence == "at":
        trainer = AdversarialTrainer(classifier, attacks=attack, ratio=cfg.at_ratio)
    elif cfg.defence == "trades":  # ART's own: its inner attack ascends the estimator's loss, not the paper's KL
        trainer = AdversarialTrainerTRADESPyTorch(classifier, attack, cfg.trades_beta)
    elif cfg.defence == "mart":
        trainer = MARTTrainer(classifier, attack=attack, beta=cfg.mart_beta)
    else:
        trainer = NSRTrainer(classifier, beta=cfg.nsr_beta, eps=cfg.nsr_eps, delta=cfg.nsr_delta, attack=attack,
                             ratio=cfg.at_ratio, base_loss=cfg.nsr_base_loss)
    return guard(cfg, trainer, prep) if cfg.train_attack != "pgd" and attack is not None else trainer


def warm_start(cfg: Config) -> str | None:
    """Train ``cfg.warmup_epochs`` clean epochs when ``cfg`` has no ``init_from``; return the selected weights'
    checkpoint (``checkpoints-warmup/best.pt`` in the run's results folder, best validation macro-F1), else None."""
    from torch.optim.lr_scheduler import ReduceLROnPlateau

    from ecg_art.training import fit_classifier

    if not cfg.warmup_epochs or cfg.init_from:
        return None
    set_threads(cfg)
    prep = prepare_data(cfg)
    classifier = build_classifier(cfg, prep.y_train)
    ckpt = results_dir(cfg) / "checkpoints-warmup"
    scheduler = ReduceLROnPlateau(classifier.optimizer, mode="max", factor=cfg.lr_factor, patience=cfg.lr_patience)
    fit_classifier(classifier, prep.x_train, prep.y_train, validation_data=(prep.x_val, prep.y_val),
                   nb_epochs=cfg.warmup_epochs, batch_size=cfg.batch_size, patience=cfg.patience, seed=cfg.seed,
                   scheduler=scheduler, checkpoint_dir=ckpt, resume=cfg.resume, verbose=True,
                   desc=f"{cfg.name} warm-up (clean)")
    return str(ckpt / "best.pt")


def run(cfg: Config, *, tracker=None) -> dict[str, Any]:
    """Train the defended model (after a clean warm-up, see :func:`warm_start`), evaluate it on the test split, log
    to MLflow, print and return its table row. The results folder is the same with or without the warm-up (the
    paper job finds each stage's checkpoint by its config)."""
    warm = warm_start(cfg)

    def trainer(cfg: Config, classifier, *, prep=None):
        if warm is not None:  # the defence starts from the warm-up's selected weights, with a fresh optimizer
            from ecg_art.io import load_checkpoint

            classifier.model.load_state_dict(load_checkpoint(warm)["model"])
            logger.info("starting %s from the warm-up weights %s", cfg.name, warm)
        return make_trainer(cfg, classifier, prep=prep)

    return run_model(cfg, make_trainer=trainer, tracker=tracker)


AT_RECIPE = Recipe("at", AT, run)
NSR_RECIPE = Recipe("nsr", NSR, run)
AT_NSR_RECIPE = Recipe("at-nsr", AT_NSR, run)
TRADES_RECIPE = Recipe("trades", TRADES, run)
MART_RECIPE = Recipe("mart", MART, run)
FAST_AT_RECIPE = Recipe("fast-at", FAST_AT, run)
AT_NSR_WIDE_RECIPE = Recipe("at-nsr-wide", AT_NSR_WIDE, run)

if __name__ == "__main__":
    run(AT["quick"])
