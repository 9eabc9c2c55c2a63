"""features stage of ecg_art: 12 physiological features re-extracted from the (possibly attacked) context window."""

from ecg_art.features.config import (
    FEATURE_MODES,
    FEATURE_NAMES,
    FEATURE_UNITS,
    PIECEWISE_CONSTANT,
    FeatureConfig,
    feature_names,
)
from ecg_art.features.extract import FeatureExtractor, check_windows, extract_features
from ecg_art.features.invariance import feature_shift, plot_feature_shift
from ecg_art.features.normalize import FeatureNormalizer
from ecg_art.features.reference import context_windows, reference_features

__all__ = [
    "FEATURE_MODES",
    "FEATURE_NAMES",
    "FEATURE_UNITS",
    "PIECEWISE_CONSTANT",
    "FeatureConfig",
    "FeatureExtractor",
    "FeatureNormalizer",
    "check_windows",
    "context_windows",
    "extract_features",
    "feature_names",
    "feature_shift",
    "plot_feature_shift",
    "reference_features",
]
