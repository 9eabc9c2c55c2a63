"""Custom ART subclasses: SAP (EvasionAttack), NSR and MART (Trainers), fast adversarial training (FGSM-RS / N-FGSM
attack and a catastrophic-overfitting guard)."""

from attacks_custom.fast_at import (
    FAST_METHODS,
    CatastrophicOverfittingGuard,
    FastGradientRS,
    GuardHistory,
    fast_gradient_perturb,
)
from attacks_custom.mart import MARTTrainer, mart_loss
from attacks_custom.nsr import NSRHistory, NSRTrainer, make_nsr_trainer, mse_margin_loss, nsr_regularizer
from attacks_custom.sap import SmoothAdversarialPerturbation, make_sap, sap_perturb
from attacks_custom.smoothing import gaussian_kernels, smooth

__all__ = [
    "FAST_METHODS",
    "CatastrophicOverfittingGuard",
    "FastGradientRS",
    "GuardHistory",
    "MARTTrainer",
    "NSRHistory",
    "NSRTrainer",
    "SmoothAdversarialPerturbation",
    "fast_gradient_perturb",
    "gaussian_kernels",
    "make_nsr_trainer",
    "make_sap",
    "mart_loss",
    "mse_margin_loss",
    "nsr_regularizer",
    "sap_perturb",
    "smooth",
]
