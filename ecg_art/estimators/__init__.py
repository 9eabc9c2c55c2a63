"""Estimators: wrap beat models as ART ``PyTorchClassifier`` objects (lean gradients), label helpers."""

from ecg_art.estimators.checks import check_beats
from ecg_art.estimators.classifier import EcgClassifier, make_classifier, predict_labels, resolve_device, to_one_hot

__all__ = ["check_beats", "EcgClassifier", "make_classifier", "predict_labels", "resolve_device", "to_one_hot"]

