"""Evaluation: classification metrics, perturbation size/shape metrics and plots."""

from ecg_art.evaluation.metrics import ClassificationMetrics, classification_metrics, linf, smoothness, snr_db

__all__ = ["ClassificationMetrics", "classification_metrics", "linf", "smoothness", "snr_db"]
