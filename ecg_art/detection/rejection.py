"""Classifier + detector as one system: the rejection threshold set on clean validation beats, and accuracy with
rejection on attacked beats (a beat counts when it is classified correctly or rejected)."""

from __future__ import annotations

from typing import Mapping

import numpy as np

from ecg_art.exceptions import ConfigError

__all__ = ["rejection_threshold", "accuracy_with_rejection", "system_worst_case"]


def rejection_threshold(scores_clean: np.ndarray, *, max_reject: float = 0.05) -> float:
    """The lowest threshold (reject a beat when ``score >= threshold``) that rejects at most ``max_reject`` of the clean
    beats ``scores_clean`` (use validation beats; ties at the boundary are kept, never rejected).

    Examples
    --------
    >>> s = np.arange(100, dtype=float)  # scores 0..99
    >>> t = rejection_threshold(s, max_reject=0.05)
    >>> int((s >= t).sum()), 94 < t <= 95
    (5, True)
    """
    s = np.sort(np.asarray(scores_clean, dtype=np.float64).ravel())[::-1]
    if s.size == 0 or not np.isfinite(s).all():
        raise ConfigError("`scores_clean` must be a non-empty array of finite scores")
    if not 0.0 <= max_reject < 1.0:
        raise ConfigError(f"`max_reject` must be in [0, 1), got {max_reject!r}")
    k = int(np.floor(max_reject * s.size + 1e-9))  # at most k clean beats rejected: those scoring above s[k]
    return float(np.nextafter(s[k], np.inf))


def accuracy_with_rejection(correct: np.ndarray, scores: np.ndarray, threshold: float) -> float:
    """Share of beats classified correctly or rejected (``score >= threshold``).

    Examples
    --------
    >>> accuracy_with_rejection(np.array([True, False, False]), np.array([0.1, 0.9, 0.2]), 0.5)
    0.6666666666666666
    """
    correct, scores = np.asarray(correct, dtype=bool), np.asarray(scores, dtype=np.float64)
    if correct.shape != scores.shape or correct.ndim != 1:
        raise ConfigError(f"`correct` and `scores` must be 1D of the same length, got {correct.shape} and "
                          f"{scores.shape}")
    return float((correct | (scores >= threshold)).mean())


def system_worst_case(correct: Mapping[str, np.ndarray], scores: Mapping[str, np.ndarray], threshold: float
                      ) -> tuple[float, float]:
    """Per-beat worst case over attacks of (classifier, system): a beat is robust for the classifier alone when every
    attack leaves it correctly classified, for the system when every attack leaves it correct or rejected.

    Examples
    --------
    >>> ok = {"a": np.array([True, False, False]), "b": np.array([True, True, False])}
    >>> sc = {"a": np.array([0.0, 0.9, 0.0]), "b": np.array([0.0, 0.0, 0.9])}
    >>> system_worst_case(ok, sc, 0.5)
    (0.3333333333333333, 0.6666666666666666)
    """
    if not correct or set(correct) != set(scores):
        raise ConfigError(f"`correct` and `scores` must name the same attacks, got {sorted(correct)} and "
                          f"{sorted(scores)}")
    alone = np.logical_and.reduce([np.asarray(correct[k], dtype=bool) for k in correct])
    system = np.logical_and.reduce([np.asarray(correct[k], dtype=bool) | (np.asarray(scores[k]) >= threshold)
                                    for k in correct])
    return float(alone.mean()), float(system.mean())
