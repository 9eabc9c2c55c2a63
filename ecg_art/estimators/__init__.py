"""Estimators: wrap beat models as ART ``PyTorchClassifier`` objects (lean gradients), label helpers."""

from ecg_art.estimators.checks import check_beats
from ecg_art.estimators.classifier import EcgClassifier, make_classifier, predict_labels, resolve_device, to_one_hot
from ecg_art.estimators.torch_ops import labels_to_tensor, preprocess, torch_forward

__all__ = ["check_beats", "EcgClassifier", "labels_to_tensor", "make_classifier", "predict_labels", "preprocess",
           "resolve_device", "to_one_hot", "torch_forward"]

