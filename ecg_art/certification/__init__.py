"""certification stage of ecg_art: certified L2 robustness of beat classifiers by randomized smoothing (ART's
estimator, Cohen et al. 2019), certified accuracy against radius, and its figure."""

from ecg_art.certification.plots import certified_accuracy_figure
from ecg_art.certification.smoothing import (
    ABSTAIN,
    Certificate,
    certified_accuracy,
    certify,
    linf_ball_radius,
    smoothed_classifier,
    smoothed_predict,
)

__all__ = [
    "ABSTAIN",
    "Certificate",
    "certify",
    "certified_accuracy",
    "certified_accuracy_figure",
    "linf_ball_radius",
    "smoothed_classifier",
    "smoothed_predict",
]
