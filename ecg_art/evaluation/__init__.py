"""Evaluation: classification metrics, perturbation size/shape metrics, plots, the robustness benchmark and run
comparisons."""

from ecg_art.evaluation.benchmark import DEFAULT_EPS, benchmark
from ecg_art.evaluation.compare import (compare_runs, comparison_figure, comparison_table, headline_metrics,
                                        seed_summary, seed_table)
from ecg_art.evaluation.cw_linf import CarliniWagnerLinfPGD, cw_linf
from ecg_art.evaluation.metrics import (ClassificationMetrics, classification_metrics, linf, smoothness, snr_db,
                                        worst_case_correct, worst_case_curve)
from ecg_art.evaluation.model_spec import ModelSpec, load_model_spec, parse_model_spec
from ecg_art.evaluation.plots import (
    adversarial_beats_figure,
    confusion_matrix_figure,
    robustness_curve_figure,
    training_curves_figure,
)
from ecg_art.evaluation.record import AttackScore, BenchmarkRecord, SanityCheck, benchmark_figure
from ecg_art.evaluation.suites import SUITES, SuiteEntry, get_suite

__all__ = [
    "ClassificationMetrics",
    "classification_metrics",
    "linf",
    "smoothness",
    "snr_db",
    "worst_case_correct",
    "worst_case_curve",
    "confusion_matrix_figure",
    "adversarial_beats_figure",
    "robustness_curve_figure",
    "training_curves_figure",
    "AttackScore",
    "BenchmarkRecord",
    "CarliniWagnerLinfPGD",
    "DEFAULT_EPS",
    "SUITES",
    "SanityCheck",
    "SuiteEntry",
    "benchmark",
    "benchmark_figure",
    "compare_runs",
    "seed_summary",
    "seed_table",
    "comparison_figure",
    "comparison_table",
    "headline_metrics",
    "cw_linf",
    "get_suite",
    "ModelSpec",
    "load_model_spec",
    "parse_model_spec",
]
