"""Figure of a noise stress test: accuracy and macro-F1 against SNR, one line per (model, noise kind)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ecg_art.exceptions import ConfigError

__all__ = ["noise_robustness_figure"]

_STYLE = {"bw": "-", "ma": "--", "gauss": "-."}


def _get(item, name: str):
    return item.get(name) if isinstance(item, Mapping) else getattr(item, name)


def noise_robustness_figure(results: Mapping[str, Sequence], *, title: str | None = None) -> Figure:
    """Accuracy (left) and macro-F1 (right) against SNR in dB (NSTDB definition), one line per model and noise kind;
    each model's clean score is a dotted horizontal line (bw solid, ma dashed, Gaussian dash-dotted).

    Parameters
    ----------
    results : mapping
        ``{model name: [NoiseResult or its to_dict(), ...]}`` as :func:`ecg_art.noise.noise_robustness` returns.

    Examples
    --------
    >>> rows = [{"kind": "clean", "snr_db": float("inf"), "accuracy": .9, "macro_f1": .8},
    ...         {"kind": "bw", "snr_db": 6.0, "accuracy": .7, "macro_f1": .6}]
    >>> len(noise_robustness_figure({"baseline": rows}).axes)
    2
    """
    if not results or not any(results.values()):
        raise ConfigError("`results` is empty: nothing to plot")
    fig = Figure(figsize=(12.5, 4.2), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, 2)
    for m, (model, rows) in enumerate(results.items()):
        color = f"C{m % 10}"
        curves: dict[str, list] = defaultdict(list)
        for row in rows:
            curves[str(_get(row, "kind"))].append(row)
        for ax, metric in zip(axes, ("accuracy", "macro_f1")):
            for kind, pts in curves.items():
                if kind == "clean":
                    ax.axhline(float(_get(pts[0], metric)), color=color, ls=":", lw=1.0, alpha=0.7)
                    continue
                pts = sorted(pts, key=lambda r: float(_get(r, "snr_db")))
                ax.plot([float(_get(r, "snr_db")) for r in pts], [float(_get(r, metric)) for r in pts],
                        color=color, ls=_STYLE.get(kind, "-."), marker="o", ms=3, label=f"{model} {kind}")
    for ax, metric in zip(axes, ("accuracy", "macro-F1")):
        ax.set(xlabel="SNR (dB, NSTDB definition)", ylabel=metric, ylim=(-0.02, 1.02))
        ax.grid(alpha=0.3)
    axes[1].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0))  # beside the axes, not on the lines
    if title:
        fig.suptitle(title, fontsize="medium")
    return fig
