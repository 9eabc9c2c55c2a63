"""Feature invariance under attack: per-feature shift between clean and adversarial windows, and its plot."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from ecg_art.exceptions import ConfigError
from ecg_art.features.config import FEATURE_NAMES, FEATURE_UNITS
from ecg_art.features.extract import extract_features

__all__ = ["feature_shift", "plot_feature_shift"]


def _features(x, fs: float, r_index: int, names=FEATURE_NAMES) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    if x.ndim == 2 and x.shape[1] == len(names):
        return x  # already features
    if tuple(names) != FEATURE_NAMES:
        raise ConfigError("features other than FEATURE_NAMES must be passed as (n, n_features) arrays")
    return extract_features(x, fs=fs, r_index=r_index, mode="hard")


def feature_shift(x_clean, x_adv, *, fs: float = 360.0, r_index: int = 512,
                  scale: str = "iqr", names: tuple[str, ...] = FEATURE_NAMES) -> dict[str, float]:
    """Median relative change of each feature: ``median|f_adv - f_clean| / scale(f_clean)``.

    Features are re-extracted (hard mode, the deployed extractor) from both batches of context windows; arrays of
    shape ``(n, 12)`` are taken as features already. ``scale`` is ``"iqr"`` (interquartile range of the clean
    feature) or ``"std"``. A value near 0 means the feature is invariant to the attack.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> f = rng.normal(size=(100, 12))
    >>> round(feature_shift(f, f + 0.0)["rr_pre"], 3)
    0.0
    """
    if scale not in ("iqr", "std"):
        raise ConfigError(f"`scale` must be 'iqr' or 'std', got {scale!r}")
    fc, fa = _features(x_clean, fs, r_index, names), _features(x_adv, fs, r_index, names)
    if fc.shape != fa.shape:
        raise ConfigError(f"`x_adv` must match `x_clean` in shape, got {fa.shape} vs {fc.shape}")
    if scale == "iqr":
        q75, q25 = np.percentile(fc, [75, 25], axis=0)
        s = q75 - q25
    else:
        s = fc.std(axis=0)
    s = np.where(s > 0, s, np.finfo(np.float32).eps)
    rel = np.median(np.abs(fa - fc), axis=0) / s
    return {name: float(v) for name, v in zip(names, rel)}


def plot_feature_shift(x_clean, x_adv, *, fs: float = 360.0, r_index: int = 512, bins: int = 40,
                       title: str = "", names: tuple[str, ...] = FEATURE_NAMES) -> Figure:
    """Figure with one panel per feature: clean vs adversarial histograms, annotated with the relative shift.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> f = rng.normal(size=(50, 12))
    >>> len(plot_feature_shift(f, f + 0.1).axes)
    12
    """
    fc, fa = _features(x_clean, fs, r_index, names), _features(x_adv, fs, r_index, names)
    shift = feature_shift(fc, fa, names=names)
    fig = Figure(figsize=(12, 8), constrained_layout=True)
    axes = fig.subplots(3, 4)
    for j, (ax, name) in enumerate(zip(axes.ravel(), names)):
        both = np.concatenate([fc[:, j], fa[:, j]])
        lo, hi = np.percentile(both, [1, 99])
        edges = np.linspace(lo, hi if hi > lo else lo + 1e-6, bins + 1)
        ax.hist(fc[:, j], bins=edges, alpha=0.5, label="clean", histtype="stepfilled")
        ax.hist(fa[:, j], bins=edges, alpha=0.5, label="adversarial", histtype="stepfilled")
        ax.set_title(f"{name} [{FEATURE_UNITS.get(name, '1')}]  shift={shift[name]:.2f}", fontsize=9)
    axes[0, 0].legend(fontsize=8)
    if title:
        fig.suptitle(title)
    return fig
