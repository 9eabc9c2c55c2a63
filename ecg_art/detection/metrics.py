"""Detection metrics (scikit-learn): detector scores, AUC-ROC, TPR at a fixed FPR, threshold choice, results."""

from __future__ import annotations

import dataclasses
import logging
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.metrics import roc_auc_score, roc_curve

from ecg_art.exceptions import ConfigError

__all__ = ["DetectionResult", "detection_scores", "tpr_at_fpr", "choose_threshold", "detection_result",
           "score_labels"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DetectionResult:
    """Detection of one attack at one eps on one split: clean beats (negatives) vs adversarial beats (positives).

    ``accuracy`` is measured at ``threshold``, chosen beforehand on the validation split; ``joint_success`` (adaptive
    attacks) is the share of adversarial beats that are misclassified *and* not flagged at that threshold;
    ``auc_fooled`` is the AUC of the clean beats vs only those adversarial beats that are misclassified (an attacker
    who lowers the detector's score of beats it fails to misclassify lowers ``auc`` but breaks nothing).

    Examples
    --------
    >>> r = detection_result(np.array([0.0, 0.1]), np.array([0.9, 1.0]), attack="pgd", eps=0.05, threshold=0.5)
    >>> r.auc, r.tpr_at_5fpr, r.accuracy
    (1.0, 1.0, 1.0)
    """

    attack: str
    eps: float
    auc: float
    tpr_at_5fpr: float
    accuracy: float
    threshold: float
    n_clean: int
    n_adv: int
    split: str = "test"
    joint_success: float = math.nan
    auc_fooled: float = math.nan

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def detection_scores(detector, x: np.ndarray, *, batch_size: int = 256) -> np.ndarray:
    """One float per beat, larger = more adversarial, from any ART ``EvasionDetector``.

    The score is ``p[:, 1] - p[:, 0]`` of the detector's ``report["predictions"]`` (the "adversarial" logit margin for
    a logit detector, ``2 p - 1`` for a probability one; both are monotone in the detector's belief), or the
    predictions themselves when they have one column. Detectors without predictions in their report fall back to the
    boolean ``is_adversarial`` flags (a ROC curve with a single operating point).

    Examples
    --------
    >>> from art.defences.detector.evasion import BinaryInputDetector
    >>> from ecg_art.detection import make_detector_classifier
    >>> det = BinaryInputDetector(make_detector_classifier(input_length=64, device="cpu"))
    >>> detection_scores(det, np.zeros((3, 1, 64), dtype=np.float32)).shape
    (3,)
    """
    x = np.asarray(x, dtype=np.float32)
    if len(x) == 0:
        return np.zeros(0, dtype=np.float64)
    report, is_adv = detector.detect(x, batch_size=batch_size)
    pred = None if not isinstance(report, dict) else report.get("predictions")
    if pred is None:
        logger.debug("%s reports no predictions; using its boolean flags as scores", type(detector).__name__)
        return np.asarray(is_adv, dtype=np.float64).ravel()
    pred = np.asarray(pred, dtype=np.float64)
    if pred.ndim == 2 and pred.shape[1] >= 2:
        return pred[:, 1] - pred[:, 0]
    return pred.reshape(len(x))


def score_labels(scores_clean: np.ndarray, scores_adv: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Concatenated scores and labels (clean = 0, adversarial = 1)."""
    s0, s1 = np.asarray(scores_clean, dtype=np.float64).ravel(), np.asarray(scores_adv, dtype=np.float64).ravel()
    if len(s0) == 0 or len(s1) == 0:
        raise ConfigError(f"need clean and adversarial scores, got {len(s0)} clean and {len(s1)} adversarial")
    if not (np.all(np.isfinite(s0)) and np.all(np.isfinite(s1))):
        raise ConfigError("detector scores must be finite")
    return np.concatenate([s0, s1]), np.concatenate([np.zeros(len(s0), np.int64), np.ones(len(s1), np.int64)])


def tpr_at_fpr(y_true: np.ndarray, scores: np.ndarray, *, fpr: float = 0.05) -> float:
    """The largest true-positive rate of a threshold whose false-positive rate is at most ``fpr``.

    Examples
    --------
    >>> tpr_at_fpr(np.array([0, 0, 1, 1]), np.array([0.1, 0.4, 0.35, 0.8]), fpr=0.05)
    0.5
    """
    if not 0.0 <= fpr <= 1.0:
        raise ConfigError(f"`fpr` must be in [0, 1], got {fpr!r}")
    f, t, _ = roc_curve(y_true, scores, drop_intermediate=False)
    return float(t[f <= fpr + 1e-12].max())


def choose_threshold(scores_clean: np.ndarray, scores_adv: np.ndarray, *, method: str = "youden",
                     fpr: float = 0.05) -> float:
    """A decision threshold on detector scores (flag a beat when ``score >= threshold``); use on validation scores.

    ``method="youden"`` maximises ``TPR - FPR`` (balanced accuracy); ``method="fpr"`` takes the lowest threshold
    whose false-positive rate is at most ``fpr``. The threshold is placed midway between that score and the next lower
    one, which classifies the given scores the same way with a margin on both sides.

    Examples
    --------
    >>> choose_threshold(np.array([0.0, 0.2]), np.array([0.8, 1.0]))
    0.5
    """
    scores, y = score_labels(scores_clean, scores_adv)
    f, t, thr = roc_curve(y, scores, drop_intermediate=False)
    if method == "youden":
        i = int(np.argmax(t - f))
    elif method == "fpr":
        if not 0.0 <= fpr <= 1.0:
            raise ConfigError(f"`fpr` must be in [0, 1], got {fpr!r}")
        i = int(np.flatnonzero(f <= fpr + 1e-12).max())
    else:
        raise ConfigError(f"`method` must be 'youden' or 'fpr', got {method!r}")
    top = float(min(thr[i], np.max(scores) + 1.0))  # roc_curve's first threshold is +inf
    below = scores[scores < top]
    return (top + float(below.max())) / 2.0 if len(below) else top  # midway to the next score: same split, margin


def detection_result(scores_clean: np.ndarray, scores_adv: np.ndarray, *, attack: str, eps: float,
                     threshold: float, split: str = "test", fooled: np.ndarray | None = None) -> DetectionResult:
    """:class:`DetectionResult` of clean vs adversarial scores; ``fooled`` (bool per adversarial beat: the classifier
    is wrong on it) adds the joint success rate ``mean(fooled & (score < threshold))`` and ``auc_fooled`` (NaN when no
    beat is misclassified).

    Examples
    --------
    >>> r = detection_result(np.zeros(4), np.ones(4), attack="fgsm", eps=0.01, threshold=0.5,
    ...                      fooled=np.array([True, True, False, False]))
    >>> r.auc, r.joint_success, r.auc_fooled
    (1.0, 0.0, 1.0)
    """
    scores, y = score_labels(scores_clean, scores_adv)
    flagged = scores >= threshold
    joint = auc_fooled = math.nan
    if fooled is not None:
        fooled = np.asarray(fooled, dtype=bool).ravel()
        if fooled.shape != (int(y.sum()),):
            raise ConfigError(f"`fooled` must have one entry per adversarial beat ({int(y.sum())}), "
                              f"got shape {fooled.shape}")
        joint = float(np.mean(fooled & ~flagged[y == 1]))
        if fooled.any():
            s0, s1 = scores[y == 0], scores[y == 1][fooled]
            auc_fooled = float(roc_auc_score(np.r_[np.zeros(len(s0)), np.ones(len(s1))], np.r_[s0, s1]))
    return DetectionResult(
        attack=str(attack), eps=float(eps), auc=float(roc_auc_score(y, scores)),
        tpr_at_5fpr=tpr_at_fpr(y, scores, fpr=0.05), accuracy=float(np.mean(flagged == (y == 1))),
        threshold=float(threshold), n_clean=int((y == 0).sum()), n_adv=int(y.sum()), split=str(split),
        joint_success=joint, auc_fooled=auc_fooled,
    )
