"""Figure of randomized-smoothing certificates: certified accuracy against L2 radius, one line per sigma."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ecg_art.exceptions import ConfigError

__all__ = ["certified_accuracy_figure"]


def certified_accuracy_figure(curves: Mapping[str, tuple[Sequence[float], Sequence[float]]], *,
                              marks: Mapping[str, float] | None = None, title: str | None = None) -> Figure:
    """Certified accuracy (y) against L2 radius in the beat unit (x).

    Parameters
    ----------
    curves : mapping
        ``{label: (radii, certified accuracies)}``, e.g. one per smoothing sigma.
    marks : mapping, optional
        ``{label: radius}`` drawn as vertical lines (e.g. ``{"Linf eps 0.05": 0.8}``).

    Examples
    --------
    >>> fig = certified_accuracy_figure({"sigma 0.25": ([0, 0.5, 1], [0.9, 0.6, 0.2])}, marks={"eps 0.05": 0.8})
    >>> len(fig.axes)
    1
    """
    if not curves:
        raise ConfigError("`curves` is empty: nothing to plot")
    fig = Figure(figsize=(6.0, 4.0), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    for label, (radii, acc) in curves.items():
        if len(radii) != len(acc) or not len(radii):
            raise ConfigError(f"curve {label!r}: radii and accuracies must be equally long and non-empty")
        ax.plot(list(radii), list(acc), label=label)
    for k, (label, r) in enumerate((marks or {}).items()):
        ax.axvline(float(r), color="0.4", ls=("--", ":", "-.")[k % 3], lw=1.0, label=label)
    ax.set(xlabel="L2 radius (normalised beat units)", ylabel="certified accuracy", ylim=(-0.02, 1.02))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title, fontsize="medium")
    return fig
