"""Figures of the study's report drawn from the paper job's table rows (no pyplot state)."""

from __future__ import annotations

import math
import re
from typing import Any, Sequence

from ecg_art.exceptions import ConfigError

__all__ = ["tradeoff_figure", "tradeoff_points", "eps_curve_figure"]

_WORST = re.compile(r"^(worst|adaptive)@(.+)$")


def _number(v: Any) -> float | None:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) else None


def tradeoff_points(rows: Sequence[dict[str, Any]], *, eps: float | None = None
                    ) -> tuple[list[tuple[str, float, float]], float]:
    """``(model, clean, worst)`` per row that has both, and the eps used (fractions, as in the rows).

    ``worst`` is ``worst@eps``, or for the fusion rows the smaller of ``worst@eps`` and ``adaptive@eps`` (whichever
    exists when only one does). ``eps`` defaults to the largest one with a ``worst@`` / ``adaptive@`` column.

    Examples
    --------
    >>> tradeoff_points([{"model": "at", "clean": 0.9, "worst@0.05": 0.6},
    ...                  {"model": "fusion", "clean": 0.95, "worst@0.05": 0.7, "adaptive@0.05": 0.5}])
    ([('at', 0.9, 0.6), ('fusion', 0.95, 0.5)], 0.05)
    """
    if eps is None:
        found = {float(m.group(2)) for r in rows for k in r if (m := _WORST.match(str(k)))}
        if not found:
            raise ConfigError("no row of `rows` has a `worst@<eps>` or `adaptive@<eps>` value")
        eps = max(found)
    elif not isinstance(eps, (int, float)) or eps <= 0:
        raise ConfigError(f"`eps` must be a positive number, got {eps!r}")
    points = []
    for r in rows:
        clean = _number(r.get("clean"))
        worst = [w for k in (f"worst@{eps:g}", f"adaptive@{eps:g}") if (w := _number(r.get(k))) is not None]
        if clean is not None and worst:
            points.append((str(r.get("model", "?")), clean, min(worst)))
    return points, float(eps)


def tradeoff_figure(rows: Sequence[dict[str, Any]], *, eps: float | None = None, title: str | None = None):
    """Clean accuracy against worst-case robust accuracy, one labelled point per model (a ``matplotlib`` Figure).

    Parameters
    ----------
    rows : sequence of dict
        The paper job's rows (``table.json``): ``model``, ``clean``, ``worst@<eps>`` and, for the fusion models,
        ``adaptive@<eps>`` (fractions); rows without ``clean`` or a worst case (the detector) are left out.
    eps : float, optional
        L-inf budget in normalised beat units (default: the largest present; see :func:`tradeoff_points`).
    title : str, optional
        Axes title.

    Examples
    --------
    >>> fig = tradeoff_figure([{"model": "baseline", "clean": 0.97, "worst@0.05": 0.2},
    ...                        {"model": "at-nsr", "clean": 0.95, "worst@0.05": 0.8}])
    >>> [t.get_text() for t in fig.axes[0].texts]
    ['baseline', 'at-nsr']
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    points, eps = tradeoff_points(rows, eps=eps)
    if not points:
        raise ConfigError(f"no row of `rows` has both `clean` and a worst case at eps {eps:g}")
    fig = Figure(figsize=(6.0, 4.5), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    xs, ys = [100 * p[1] for p in points], [100 * p[2] for p in points]
    ax.scatter(xs, ys, s=40, zorder=3)
    for (name, _, _), x, y in zip(points, xs, ys):
        ax.annotate(name, (x, y), xytext=(4, 4), textcoords="offset points", fontsize=8)
    pad = max(1.5, 0.15 * (max(xs) - min(xs)))
    ax.set(xlim=(max(0.0, min(xs) - pad), min(101.0, max(xs) + pad)), ylim=(-2, 102), xlabel="clean accuracy (%)",
           ylabel=f"worst-case robust accuracy @{eps:g} (%)", title=title or f"Clean vs worst case, L-inf eps {eps:g}")
    ax.grid(alpha=0.3)
    return fig


def eps_curve_figure(rows: Sequence[dict[str, Any]], *, title: str | None = None):
    """Worst-case robust accuracy against eps, one line per model (a ``matplotlib`` Figure), from each row's ``curve``
    (``{"eps": [...], "worst": [...], "n": n}``, as the paper job's stages write it; eps 0 is clean accuracy).

    Examples
    --------
    >>> fig = eps_curve_figure([{"model": "at", "curve": {"eps": [0, 0.05, 0.1], "worst": [0.95, 0.8, 0.5], "n": 9}}])
    >>> [line.get_label() for line in fig.axes[0].get_lines()]
    ['at (n=9)']
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    curves = [(str(r.get("model", "?")), r["curve"]) for r in rows if isinstance(r.get("curve"), dict)]
    if not curves:
        raise ConfigError("no row of `rows` has a `curve` (run the paper job with `curve_eps`)")
    fig = Figure(figsize=(6.5, 4.5), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    for name, c in curves:
        eps, worst = c.get("eps"), c.get("worst")
        if not isinstance(eps, list) or not isinstance(worst, list) or len(eps) != len(worst) or not eps:
            raise ConfigError(f"row {name!r}: `curve` needs equal-length `eps` and `worst` lists, got {c!r}")
        ax.plot(eps, [100 * w for w in worst], marker="o", ms=4, label=f"{name} (n={c.get('n', '?')})")
    ax.set(xlabel="L-inf eps (normalised beat units)", ylabel="worst-case robust accuracy (%)", ylim=(-2, 102),
           title=title or "Robust accuracy vs eps (worst case over attacks)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5))
    return fig
