"""Adversarial-example detection on ART's detector API: detector networks, the held-out protocol, metrics, the
adaptive attack on classifier + detector, and figures."""

from ecg_art.detection.adaptive import AdaptiveDetectorPGD, adaptive_perturb
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

__all__ = [
    "AdaptiveDetectorPGD",
    "DetectionProtocol",
    "DetectionResult",
    "DetectorCNN",
    "DetectorMLP",
    "adaptive_perturb",
    "choose_threshold",
    "detection_result",
    "detection_scores",
    "make_activation_detector",
    "make_detector_classifier",
    "make_input_detector",
    "roc_figure",
    "row_fingerprints",
    "score_histogram_figure",
    "score_labels",
    "tpr_at_fpr",
]
