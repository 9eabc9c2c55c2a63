"""Figures of an evaluation (confusion matrix, adversarial beats, robustness curves, training curves), drawn on
``matplotlib.figure.Figure`` objects with the Agg canvas: no pyplot, no global state."""

from __future__ import annotations

import logging
import textwrap
from collections import defaultdict
from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ecg_art.evaluation.metrics import snr_db
from ecg_art.exceptions import ConfigError

__all__ = ["confusion_matrix_figure", "adversarial_beats_figure", "robustness_curve_figure", "training_curves_figure"]

logger = logging.getLogger(__name__)


def _figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def confusion_matrix_figure(confusion, class_names: Sequence[str], *, normalize: bool = True,
                            title: str | None = None) -> Figure:
    """Confusion matrix (rows: true class, columns: predicted), coloured by row share and annotated with counts.

    Parameters
    ----------
    confusion : array-like of int, shape (k, k)
        Counts, e.g. ``ClassificationMetrics.confusion``.
    class_names : sequence of str
        The ``k`` class names.
    normalize : bool
        Colour by the share of each true class (sensitivity on the diagonal) rather than by raw counts.
    title : str, optional
        Axes title.

    Examples
    --------
    >>> fig = confusion_matrix_figure([[50, 2], [3, 10]], ["N", "V"])
    >>> len(fig.axes)  # the matrix and its colour bar
    2
    """
    cm = np.asarray(confusion, dtype=np.float64)
    k = len(class_names)
    if cm.ndim != 2 or cm.shape != (k, k):
        raise ConfigError(f"`confusion` must be a {k}x{k} matrix for {k} class names, got shape {cm.shape}")
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.nan_to_num(cm / cm.sum(axis=1, keepdims=True))
    shown = share if normalize else cm
    fig = _figure(1.1 * k + 2.0, 1.0 * k + 1.2)
    ax = fig.subplots()
    im = ax.imshow(shown, cmap="Blues", vmin=0.0, vmax=1.0 if normalize else max(cm.max(), 1.0))
    fig.colorbar(im, ax=ax, label="share of true class" if normalize else "beats")
    for i in range(k):
        for j in range(k):
            light = shown[i, j] > 0.5 * (1.0 if normalize else max(cm.max(), 1.0))
            text = f"{int(cm[i, j])}\n{100 * share[i, j]:.1f}%" if normalize else f"{int(cm[i, j])}"
            ax.text(j, i, text, ha="center", va="center", fontsize=8, color="white" if light else "black")
    ax.set(xticks=range(k), yticks=range(k), xticklabels=class_names, yticklabels=class_names,
           xlabel="predicted class", ylabel="true class", title=title or "")
    return fig


def _beat(x, what: str) -> np.ndarray:
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim > 1 and int(np.prod(arr.shape[:-1])) == 1:
        arr = arr.reshape(-1)
    if arr.ndim != 1 or arr.size < 2:
        raise ConfigError(f"{what} must be one beat of shape (L,), (1, L) or (1, 1, L), got shape {np.shape(x)}")
    return arr


def adversarial_beats_figure(x_clean, adv: Mapping[str, np.ndarray], *, fs: float = 360.0,
                             title: str | None = None) -> Figure:
    """One clean beat against its adversarial versions (top row) and the perturbations (bottom row), one column per
    attack; each column title gives the L-inf size and SNR of its perturbation.

    Parameters
    ----------
    x_clean : array-like, shape (L,), (1, L) or (1, 1, L)
        The clean beat.
    adv : dict of str to array-like
        Attack name -> adversarial beat of the same shape.
    fs : float
        Sampling frequency in Hz (time axis in ms).
    title : str, optional
        Figure title.

    Examples
    --------
    >>> x = np.sin(np.linspace(0, 3, 256))
    >>> fig = adversarial_beats_figure(x, {"FGSM": x + 0.01, "PGD": x - 0.01})
    >>> len(fig.axes)
    4
    """
    clean = _beat(x_clean, "`x_clean`")
    if not isinstance(adv, Mapping) or not adv:
        raise ConfigError("`adv` must be a non-empty dict of attack name -> adversarial beat")
    if not fs > 0:
        raise ConfigError(f"`fs` must be positive, got {fs!r}")
    beats = {}
    for name, x_adv in adv.items():
        beats[name] = _beat(x_adv, f"adversarial beat {name!r}")
        if beats[name].shape != clean.shape:
            raise ConfigError(f"adversarial beat {name!r} has {beats[name].size} samples, the clean one {clean.size}")
    t_ms = np.arange(clean.size) * 1000.0 / fs
    n = len(beats)
    fig = _figure(3.2 * n + 0.6, 5.0)
    axes = fig.subplots(2, n, sharex=True, sharey="row", squeeze=False)
    for j, (name, x_adv) in enumerate(beats.items()):
        delta = x_adv - clean
        top, bottom = axes[0, j], axes[1, j]
        top.plot(t_ms, clean, color="0.45", lw=1.2, label="clean")
        top.plot(t_ms, x_adv, color="C3", lw=1.0, label="adversarial")
        top.set_title(f"{name}\nL∞={np.abs(delta).max():.3g}, SNR={snr_db(clean[None], x_adv[None]):.1f} dB",
                      fontsize=9)
        bottom.plot(t_ms, delta, color="C0", lw=1.0)
        bottom.axhline(0.0, color="0.7", lw=0.6)
        bottom.set_xlabel("time (ms)")
    axes[0, 0].set_ylabel("amplitude")
    axes[1, 0].set_ylabel("perturbation")
    axes[0, 0].legend(fontsize=8, loc="best")
    if title:
        fig.suptitle(title)
    return fig


def _field(item, name: str):
    value = item.get(name) if isinstance(item, Mapping) else getattr(item, name, None)
    if value is None:
        raise ConfigError(f"every result needs `{name}`; got {item!r}")
    return value


def robustness_curve_figure(results, *, title: str | None = None) -> Figure:
    """Adversarial accuracy against eps, one line per attack (a dashed line marks clean accuracy when known).

    Parameters
    ----------
    results : sequence of dict or objects
        Each with ``attack``, ``eps`` and ``adv_accuracy`` (e.g. ``AttackResult`` objects or their ``to_dict()``);
        an optional ``clean_accuracy`` is drawn as a horizontal reference.
    title : str, optional
        Axes title.

    Examples
    --------
    >>> rows = [{"attack": "fgsm", "eps": e, "adv_accuracy": 1 - 5 * e} for e in (0.01, 0.05, 0.1)]
    >>> len(robustness_curve_figure(rows).axes)
    1
    """
    results = list(results)
    if not results:
        raise ConfigError("`results` is empty: nothing to plot")
    curves: dict[str, list[tuple[float, float]]] = defaultdict(list)
    clean = []
    for item in results:
        curves[str(_field(item, "attack"))].append((float(_field(item, "eps")), float(_field(item, "adv_accuracy"))))
        c = item.get("clean_accuracy") if isinstance(item, Mapping) else getattr(item, "clean_accuracy", None)
        if c is not None:
            clean.append(float(c))
    fig = _figure(6.0, 4.0)
    ax = fig.subplots()
    for name, points in curves.items():
        eps, acc = zip(*sorted(points))
        ax.plot(eps, acc, marker="o", ms=4, label=name)
    if clean:
        ax.axhline(float(np.mean(clean)), color="0.4", ls="--", lw=1.0, label="clean")
    ax.set(xlabel="eps (normalised beat units)", ylabel="adversarial accuracy", ylim=(-0.02, 1.02))
    if title:  # long checkpoint paths: wrap instead of running off the figure
        ax.set_title(textwrap.fill(title, width=70), fontsize="medium")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return fig


def training_curves_figure(history) -> Figure:
    """Training curves: losses on one axes, every other per-epoch series (accuracy, F1, lr...) on a second one.

    Parameters
    ----------
    history : dict of str to list of float
        Series per epoch, e.g. ``{"train_loss": [...], "val_loss": [...], "val_accuracy": [...]}``; objects with
        ``to_dict()`` (``TrainHistory``) are accepted and their non-list fields ignored.

    Examples
    --------
    >>> fig = training_curves_figure({"train_loss": [1.0, 0.5], "val_loss": [1.1, 0.7], "val_accuracy": [0.6, 0.8]})
    >>> len(fig.axes)
    2
    """
    if callable(getattr(history, "to_dict", None)):
        history = history.to_dict()
    if not isinstance(history, Mapping):
        raise ConfigError(f"`history` must be a dict of series, got {type(history).__name__}")
    series = {k: np.asarray(v, dtype=np.float64) for k, v in history.items()
              if isinstance(v, (list, tuple, np.ndarray)) and len(v) and np.ndim(v) == 1}
    if not series:
        raise ConfigError(f"`history` holds no per-epoch series; keys: {sorted(history)}")
    groups = [g for g in ({k: v for k, v in series.items() if "loss" in k.lower()},
                          {k: v for k, v in series.items() if "loss" not in k.lower()}) if g]
    fig = _figure(5.0 * len(groups) + 0.5, 3.8)
    axes = fig.subplots(1, len(groups), squeeze=False)[0]
    for ax, group in zip(axes, groups):
        for name, values in group.items():
            ax.plot(np.arange(1, values.size + 1), values, marker="o", ms=3, label=name)
        ax.set(xlabel="epoch", ylabel="loss" if any("loss" in k.lower() for k in group) else "value")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    return fig
