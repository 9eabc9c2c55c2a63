"""features stage of ecg_art: 12 physiological features re-extracted from the (possibly attacked) context window."""

from ecg_art.features.analysis import (
    MORPHOLOGY_FEATURES,
    RR_FEATURES,
    shift_summary,
    shift_table,
    shift_vs_eps_figure,
)
from ecg_art.evaluation.metrics import worst_case_correct  # re-exported: the fusion recipe's adaptive worst case
from ecg_art.features.blackbox import ClippedHopSkipJump, SquareAttack1D, Windows2D, square_shape
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
    "ClippedHopSkipJump",
    "MORPHOLOGY_FEATURES",
    "RR_FEATURES",
    "SquareAttack1D",
    "Windows2D",
    "shift_summary",
    "shift_table",
    "shift_vs_eps_figure",
    "square_shape",
    "worst_case_correct",
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
