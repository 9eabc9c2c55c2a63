"""Compare logged runs: a table (run, model/defence params, device, chosen metrics) and a grouped bar plot."""

from __future__ import annotations

import logging
import math
from typing import Any, Sequence

import numpy as np

from ecg_art.exceptions import ConfigError

__all__ = ["compare_runs", "comparison_table", "comparison_figure", "DEFAULT_PARAMS"]

logger = logging.getLogger(__name__)

DEFAULT_PARAMS = ("name", "model", "defence", "profile", "split", "seed", "suite")
_PREFERRED = ("test_accuracy", "test_macro_f1", "clean_accuracy")
_PREFIXES = ("worst_case_", "adv_acc_")


def _default_metrics(runs: list[dict], limit: int) -> list[str]:
    present = sorted({k for r in runs for k in r["metrics"]})
    chosen = [m for m in _PREFERRED if m in present]
    for prefix in _PREFIXES:
        chosen += [m for m in present if m.startswith(prefix) and m not in chosen]
    return chosen[:limit]


def compare_runs(
    experiment: str,
    *,
    metrics: Sequence[str] | None = None,
    params: Sequence[str] | None = None,
    tracking_uri: str | None = None,
    filter_string: str = "",
    max_metrics: int = 8,
) -> tuple[list[dict[str, Any]], list[str], list[str]]:
    """Rows of the runs of ``experiment`` (newest first) with their params, device and ``metrics``.

    Parameters
    ----------
    experiment : str
        MLflow experiment name.
    metrics : sequence of str, optional
        Metric keys to show; default: ``test_accuracy``, ``test_macro_f1``, ``clean_accuracy`` and the
        ``adv_acc_*`` / ``worst_case_*`` metrics present (at most ``max_metrics``).
    params : sequence of str, optional
        Param keys to show; default: those of :data:`DEFAULT_PARAMS` that some run has.
    tracking_uri : str, optional
        Resolved by :func:`ecg_art.tracking.resolve_tracking_uri`.
    filter_string : str
        MLflow search filter.
    max_metrics : int
        Cap on the default metric list.

    Returns
    -------
    rows, params, metrics
        ``rows`` are dicts with ``run_name``, ``run_id``, ``status``, ``device``, the params (``""`` when absent) and
        the metrics (``nan`` when absent); ``params``/``metrics`` are the column keys used.

    Examples
    --------
    >>> rows, params, metrics = compare_runs("ecg_art", metrics=["test_accuracy"])  # doctest: +SKIP
    """
    from ecg_art.tracking import find_runs

    runs = find_runs(experiment, tracking_uri=tracking_uri, filter_string=filter_string)
    metric_keys = list(metrics) if metrics else _default_metrics(runs, max_metrics)
    if params is None:
        param_keys = [p for p in DEFAULT_PARAMS if any(p in r["params"] for r in runs)]
    else:
        param_keys = list(params)
    missing = [m for m in metric_keys if runs and not any(m in r["metrics"] for r in runs)]
    if missing:
        known = sorted({k for r in runs for k in r["metrics"]})
        raise ConfigError(f"no run of experiment {experiment!r} has metric(s) {missing}; known: {', '.join(known)}")
    rows = []
    for r in runs:
        row: dict[str, Any] = {"run_name": r["run_name"] or r["run_id"][:8], "run_id": r["run_id"],
                               "status": r["status"],
                               "device": r["params"].get("device") or r["tags"].get("env.device", "")}
        row.update({p: r["params"].get(p, "") for p in param_keys})
        row.update({m: float(r["metrics"].get(m, math.nan)) for m in metric_keys})
        rows.append(row)
    logger.debug("compared %d runs of %s on %s", len(rows), experiment, metric_keys)
    return rows, param_keys, metric_keys


def comparison_table(rows: Sequence[dict[str, Any]], *, params: Sequence[str], metrics: Sequence[str],
                     percent: bool = False) -> str:
    """A markdown table of ``rows`` (from :func:`compare_runs`): run, params, device, metrics.

    Examples
    --------
    >>> print(comparison_table([{"run_name": "a", "device": "cpu", "model": "cnn", "acc": 0.5}],
    ...                        params=["model"], metrics=["acc"]))
    | run | model | device | acc |
    |---|---|---|---|
    | a | cnn | cpu | 0.5 |
    """
    columns = ["run_name", *params, "device", *metrics]
    head = "| " + " | ".join(["run", *params, "device", *metrics]) + " |"

    def fmt(col: str, v: Any) -> str:
        if isinstance(v, float):
            if math.isnan(v):
                return "-"
            return f"{100 * v:.2f}" if percent and col in metrics else f"{v:.4g}"
        return str(v).replace("|", "\\|")

    body = ["| " + " | ".join(fmt(c, row.get(c, "")) for c in columns) + " |" for row in rows]
    return "\n".join([head, "|" + "---|" * len(columns), *body])


def comparison_figure(rows: Sequence[dict[str, Any]], *, metrics: Sequence[str], title: str | None = None):
    """Grouped bar plot: one group per run, one bar per metric (a ``matplotlib`` Figure; missing values are gaps).

    Examples
    --------
    >>> fig = comparison_figure([{"run_name": "a", "acc": 0.9}, {"run_name": "b", "acc": 0.7}], metrics=["acc"])
    >>> len(fig.axes)
    1
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    if not rows or not metrics:
        raise ConfigError("`rows` and `metrics` must be non-empty to draw a comparison")
    names = [str(r.get("run_name", i)) for i, r in enumerate(rows)]
    fig = Figure(figsize=(max(6.0, 1.2 * len(rows) + 2), 4.0), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    width = 0.8 / len(metrics)
    base = np.arange(len(rows))
    for i, m in enumerate(metrics):
        values = [float(r.get(m, math.nan)) for r in rows]
        ax.bar(base + (i - (len(metrics) - 1) / 2) * width, values, width, label=m)
    ax.set_xticks(base, names, rotation=30, ha="right", fontsize=8)
    ax.set(ylabel="value", title=title or "")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=7)
    return fig
