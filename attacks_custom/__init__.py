"""Custom ART subclasses: SAP (EvasionAttack) and NSR (Trainer)."""

from attacks_custom.nsr import NSRHistory, NSRTrainer, make_nsr_trainer, mse_margin_loss, nsr_regularizer
from attacks_custom.sap import SmoothAdversarialPerturbation, make_sap, sap_perturb
from attacks_custom.smoothing import gaussian_kernels, smooth

__all__ = [
    "NSRHistory",
    "NSRTrainer",
    "SmoothAdversarialPerturbation",
    "gaussian_kernels",
    "make_nsr_trainer",
    "make_sap",
    "mse_margin_loss",
    "nsr_regularizer",
    "sap_perturb",
    "smooth",
]
