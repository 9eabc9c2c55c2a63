"""Adversarial-example detection on ART's detector API: detector networks, the held-out protocol, metrics, adaptive
attacks on classifier + detector (summed-loss, orthogonal, gradient-free) and training against them, accuracy with
rejection of the two as one system, and figures."""

from ecg_art.detection.adaptive import AdaptiveDetectorPGD, adaptive_perturb
from ecg_art.detection.orthogonal import OrthogonalDetectorPGD, orthogonal_perturb
from ecg_art.detection.metrics import (
    DetectionResult,
    choose_threshold,
    detection_result,
    detection_scores,
    score_labels,
    tpr_at_fpr,
)
from ecg_art.detection.network import (
    DetectorCNN,
    DetectorMLP,
    make_activation_detector,
    make_detector_classifier,
    make_input_detector,
)
from ecg_art.detection.plots import roc_figure, score_histogram_figure
from ecg_art.detection.protocol import DetectionProtocol, row_fingerprints
from ecg_art.detection.rejection import accuracy_with_rejection, rejection_threshold, system_worst_case
from ecg_art.detection.square import SystemSquareAttack, system_loss, system_square_perturb
from ecg_art.detection.training import ADAPTIVE_TRAIN_ATTACKS, AdaptiveExamples

__all__ = [
    "ADAPTIVE_TRAIN_ATTACKS",
    "AdaptiveDetectorPGD",
    "AdaptiveExamples",
    "DetectionProtocol",
    "DetectionResult",
    "DetectorCNN",
    "DetectorMLP",
    "OrthogonalDetectorPGD",
    "SystemSquareAttack",
    "accuracy_with_rejection",
    "adaptive_perturb",
    "choose_threshold",
    "detection_result",
    "detection_scores",
    "make_activation_detector",
    "make_detector_classifier",
    "make_input_detector",
    "orthogonal_perturb",
    "roc_figure",
    "rejection_threshold",
    "row_fingerprints",
    "score_histogram_figure",
    "score_labels",
    "system_loss",
    "system_square_perturb",
    "system_worst_case",
    "tpr_at_fpr",
]
