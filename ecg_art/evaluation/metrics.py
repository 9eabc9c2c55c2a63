"""Classification and perturbation metrics: accuracy, macro-F1, per-class sensitivity/PPV, SNR (dB), smoothness."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Mapping

import numpy as np
from sklearn.metrics import confusion_matrix, f1_score

from ecg_art.exceptions import ConfigError

__all__ = ["ClassificationMetrics", "classification_metrics", "snr_db", "smoothness", "linf", "worst_case_correct",
           "worst_case_curve"]

AAMI = ("N", "S", "V", "F", "Q")


@dataclass(frozen=True)
class ClassificationMetrics:
    """Accuracy, macro-F1 and per-class sensitivity (recall) / PPV (precision) of one prediction set.

    Per-class values are ``nan`` for a class with no true (sensitivity) or no predicted (PPV) beats; macro-F1 averages
    over the classes present in ``y_true`` only, so absent classes do not drag it to 0.
    """

    accuracy: float
    macro_f1: float
    n: int
    sensitivity: dict = field(default_factory=dict)
    ppv: dict = field(default_factory=dict)
    confusion: tuple = ()

    def to_dict(self) -> dict:
        return asdict(self)

    def flat(self, prefix: str = "") -> dict[str, float]:
        """Scalar metrics as a flat ``{name: float}`` dict (for MLflow), NaNs dropped."""
        out = {f"{prefix}accuracy": self.accuracy, f"{prefix}macro_f1": self.macro_f1}
        for name, d in (("sens", self.sensitivity), ("ppv", self.ppv)):
            for cls, v in d.items():
                if not np.isnan(v):
                    out[f"{prefix}{name}_{cls}"] = float(v)
        return out


def classification_metrics(y_true, y_pred, *, class_names: tuple[str, ...] = AAMI) -> ClassificationMetrics:
    """Metrics of integer predictions ``y_pred`` against integer labels ``y_true``.

    Examples
    --------
    >>> m = classification_metrics([0, 0, 1, 2], [0, 0, 1, 1])
    >>> round(m.accuracy, 2), m.sensitivity["V"]
    (0.75, 0.0)
    """
    y_true = np.asarray(y_true).ravel()
    y_pred = np.asarray(y_pred).ravel()
    if y_true.shape != y_pred.shape:
        raise ConfigError(f"`y_true` and `y_pred` differ in length: {y_true.shape[0]} vs {y_pred.shape[0]}")
    if y_true.size == 0:
        raise ConfigError("`y_true` is empty: no beats to score")
    k = len(class_names)
    labels = np.arange(k)
    cm = confusion_matrix(y_true, y_pred, labels=labels)
    with np.errstate(invalid="ignore", divide="ignore"):
        sens = np.diag(cm) / cm.sum(axis=1)
        ppv = np.diag(cm) / cm.sum(axis=0)
    present = np.unique(y_true)
    macro_f1 = f1_score(y_true, y_pred, labels=present, average="macro", zero_division=0)
    return ClassificationMetrics(
        accuracy=float((y_true == y_pred).mean()),
        macro_f1=float(macro_f1),
        n=int(y_true.size),
        sensitivity={c: float(v) for c, v in zip(class_names, sens)},
        ppv={c: float(v) for c, v in zip(class_names, ppv)},
        confusion=tuple(tuple(int(v) for v in row) for row in cm),
    )


def _flat(x) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    return x.reshape(x.shape[0], -1)


def snr_db(x, x_adv) -> float:
    """Mean over beats of ``10 log10(||x||^2 / ||x_adv - x||^2)``, in dB (``inf`` when nothing was perturbed).

    Examples
    --------
    >>> x = np.ones((2, 1, 4)); round(snr_db(x, x + 0.1), 1)
    20.0
    """
    x, d = _flat(x), _flat(x_adv) - _flat(x)
    p_sig = (x**2).sum(axis=1)
    p_noise = (d**2).sum(axis=1)
    with np.errstate(divide="ignore"):
        per_beat = 10.0 * np.log10(p_sig / p_noise)
    finite = per_beat[np.isfinite(per_beat)]
    return float(finite.mean()) if finite.size else float("inf")


def smoothness(x, x_adv) -> float:
    """Mean absolute second difference of the perturbation ``x_adv - x`` (lower is smoother), in beat units.

    Examples
    --------
    >>> t = np.linspace(0, 1, 64)[None, None]
    >>> smoothness(t * 0, 0.01 * t) < smoothness(t * 0, 0.01 * np.sign(np.sin(40 * t)))
    True
    """
    d = _flat(x_adv) - _flat(x)
    return float(np.abs(np.diff(d, n=2, axis=1)).mean())


def linf(x, x_adv) -> float:
    """Largest absolute perturbation over the batch."""
    return float(np.abs(_flat(x_adv) - _flat(x)).max())


def worst_case_correct(correct: Mapping[str, np.ndarray], *, clean: np.ndarray | None = None) -> np.ndarray:
    """Per-beat worst case over attacks: a beat is robust only if ``clean`` (if given) and every attack is correct.

    Parameters
    ----------
    correct : mapping of str to bool array
        ``{attack name: (n,) bool}``, True where the attacked beat is still classified correctly.
    clean : bool array, optional
        ``(n,)`` True where the clean beat is classified correctly.

    Examples
    --------
    >>> worst_case_correct({"fgsm": np.array([1, 1, 0], bool), "pgd": np.array([1, 0, 1], bool)}).tolist()
    [True, False, False]
    """
    arrays = [np.asarray(v, dtype=bool) for v in correct.values()]
    if clean is not None:
        arrays.append(np.asarray(clean, dtype=bool))
    if not arrays:
        raise ConfigError("`correct` must name at least one attack")
    shapes = {a.shape for a in arrays}
    if len(shapes) != 1 or len(next(iter(shapes))) != 1:
        raise ConfigError(f"`correct` arrays (and `clean`) must all have the same shape (n,), got {sorted(shapes)}")
    return np.logical_and.reduce(arrays)


def worst_case_curve(correct: Mapping[tuple[str, float], np.ndarray], *, clean: np.ndarray) -> dict[str, Any]:
    """Worst-case robust accuracy per eps over every attack run at that eps, with eps 0 as the clean accuracy.

    Parameters
    ----------
    correct : mapping of (attack, eps) to bool array
        ``(n,)`` True where the attacked beat is still classified correctly; every entry covers the same beats.
    clean : bool array
        ``(n,)`` True where the clean beat is classified correctly (a clean error counts as broken at every eps).

    Returns
    -------
    dict
        ``{"eps": [0.0, e1, ...], "worst": [clean acc, acc1, ...], "attacks": [[...] per eps], "n": n}``, eps
        ascending, the form of a paper-job row's ``curve``.

    Examples
    --------
    >>> ok = np.array([1, 1, 1, 0], bool)
    >>> worst_case_curve({("fgsm", 0.01): np.array([1, 1, 0, 0], bool), ("pgd", 0.01): np.array([1, 0, 1, 0], bool),
    ...                   ("pgd", 0.1): np.array([0, 0, 0, 0], bool)}, clean=ok)["worst"]
    [0.75, 0.25, 0.0]
    """
    clean = np.asarray(clean, dtype=bool)
    eps = sorted({float(e) for _, e in correct})
    worst, names = [float(clean.mean())], [[]]
    for e in eps:
        at_eps = {a: c for (a, ee), c in correct.items() if float(ee) == e}
        worst.append(float(worst_case_correct(at_eps, clean=clean).mean()))
        names.append(sorted(at_eps))
    return {"eps": [0.0, *eps], "worst": worst, "attacks": names, "n": int(clean.size)}
