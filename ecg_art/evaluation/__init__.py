"""Evaluation: classification metrics, perturbation size/shape metrics and plots."""

from ecg_art.evaluation.metrics import ClassificationMetrics, classification_metrics, linf, smoothness, snr_db
from ecg_art.evaluation.plots import (
    adversarial_beats_figure,
    confusion_matrix_figure,
    robustness_curve_figure,
    training_curves_figure,
)

__all__ = [
    "ClassificationMetrics",
    "classification_metrics",
    "linf",
    "smoothness",
    "snr_db",
    "confusion_matrix_figure",
    "adversarial_beats_figure",
    "robustness_curve_figure",
    "training_curves_figure",
]
