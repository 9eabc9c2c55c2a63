"""Figures of the detector: ROC curves per attack and histograms of clean vs adversarial scores (Agg, no pyplot)."""

from __future__ import annotations

from typing import Mapping, Tuple

import numpy as np
from matplotlib import colormaps
from matplotlib.figure import Figure
from sklearn.metrics import roc_auc_score, roc_curve

from ecg_art.detection.metrics import score_labels

__all__ = ["roc_figure", "score_histogram_figure"]

Scores = Mapping[str, Tuple[np.ndarray, np.ndarray]]  # label -> (clean scores, adversarial scores)


def roc_figure(scores: Scores, *, title: str = "Detector ROC (test split)", fpr_mark: float = 0.05) -> Figure:
    """One ROC curve per entry of ``scores`` (``{label: (clean_scores, adversarial_scores)}``), AUC in the legend.

    Examples
    --------
    >>> fig = roc_figure({"pgd eps=0.05": (np.array([0.0, 0.2]), np.array([0.7, 1.0]))})
    >>> len(fig.axes)
    1
    """
    fig = Figure(figsize=(5.5, 5))
    ax = fig.add_subplot()
    if len(scores) > 10:  # the default cycle repeats after 10 colours
        ax.set_prop_cycle(color=colormaps["tab20"].colors)
    for label, (s0, s1) in scores.items():
        s, y = score_labels(s0, s1)
        f, t, _ = roc_curve(y, s)
        ax.plot(f, t, lw=1.3, label=f"{label} (AUC {roc_auc_score(y, s):.3f})")
    ax.plot([0, 1], [0, 1], color="grey", lw=0.8, ls=":")
    ax.axvline(fpr_mark, color="grey", lw=0.8, ls="--")
    ax.set(xlabel="false-positive rate (clean flagged)", ylabel="true-positive rate (adversarial flagged)",
           title=title, xlim=(0, 1), ylim=(0, 1.01))
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    return fig


def score_histogram_figure(scores: Scores, *, threshold: float | None = None, bins: int = 40,
                           ncols: int = 3) -> Figure:
    """Histograms of clean vs adversarial detector scores, one panel per entry of ``scores``; ``threshold`` is drawn.

    Examples
    --------
    >>> fig = score_histogram_figure({"fgsm": (np.zeros(5), np.ones(5))}, threshold=0.5)
    >>> len(fig.axes)
    1
    """
    n = max(len(scores), 1)
    ncols = min(ncols, n)
    nrows = int(np.ceil(n / ncols))
    fig = Figure(figsize=(4 * ncols, 3 * nrows))
    for i, (label, (s0, s1)) in enumerate(scores.items()):
        ax = fig.add_subplot(nrows, ncols, i + 1)
        s0, s1 = np.asarray(s0, float), np.asarray(s1, float)
        edges = np.histogram_bin_edges(np.concatenate([s0, s1]), bins=bins)
        ax.hist(s0, bins=edges, alpha=0.6, label="clean", color="tab:blue")
        ax.hist(s1, bins=edges, alpha=0.6, label="adversarial", color="tab:red")
        if threshold is not None:
            ax.axvline(threshold, color="k", lw=1, ls="--", label="threshold (val)")
        ax.set(title=label, xlabel="detector score (adversarial margin)", ylabel="beats")
        ax.legend(fontsize=7)
    fig.tight_layout()
    return fig
