"""Compare logged runs: a table (run, model/defence params, device, chosen metrics) and a grouped bar plot with the
models' headline accuracies in one panel and the detector's AUCs in another."""

from __future__ import annotations

import logging
import math
import re
from typing import Any, Sequence

import numpy as np

from ecg_art.exceptions import ConfigError
from ecg_art.tracking.params import BOOKKEEPING

__all__ = ["compare_runs", "comparison_table", "comparison_figure", "headline_metrics", "seed_summary", "seed_table",
           "is_detector_metric", "metric_label", "DEFAULT_PARAMS", "HEADLINE", "DETECTOR_METRICS", "SEED_IGNORED"]

logger = logging.getLogger(__name__)

DEFAULT_PARAMS = ("name", "model", "defence", "profile", "split", "seed", "suite")
#: Per-eps headline metrics as the recipes log them (``<prefix>_eps<eps>``), in column order, with their labels.
#: ``adv_acc_autoattack`` is the standard AutoAttack (the attack "autoattack"); ``apgd-ce-dlr`` the APGD-CE + APGD-DLR
#: ensemble, which runs logged before the standard AutoAttack existed logged as ``autoattack``.
HEADLINE = (("adv_acc_pgd", "PGD-20"), ("adv_acc_sap", "SAP"), ("adv_acc_autoattack", "AutoAttack (standard)"),
            ("apgd-ce-dlr", "APGD-CE+DLR"), ("autoattack", "APGD-CE+DLR (old key)"), ("worst", "worst case"),
            ("acc_robust", "ACC_robust"), ("adaptive_acc", "adaptive worst (a)"),
            ("beat_only_acc", "adaptive worst (b)"))
#: The detector's summary AUCs (``recipes/detector.py``), drawn in a panel of their own.
DETECTOR_METRICS = (("detector_auc", "AUC"), ("detector_auc_seen", "AUC seen"),
                    ("detector_auc_unseen", "AUC unseen"), ("detector_auc_adaptive", "AUC adaptive"))
#: Params in which runs of one setting repeated over seeds differ: the seed, what it draws (the split's hash) and
#: bookkeeping that does not change what a run computes. Runs equal in every other param are one setting.
SEED_IGNORED = ("seed", "split_hash", "device_requested", "data_dir", *BOOKKEEPING)
_CLEAN = (("test_accuracy", "clean"),)
_FALLBACK = ("test_accuracy", "test_macro_f1", "clean_accuracy")
_FALLBACK_PREFIXES = ("worst_case_", "adv_acc_")
_PER_EPS = re.compile(r"^(%s)_eps(.+)$" % "|".join(re.escape(p) for p, _ in HEADLINE))


def is_detector_metric(key: str) -> bool:
    """Whether ``key`` is a detector metric (``detector_*`` / ``det_*``), drawn apart from the models' accuracies."""
    return key.startswith(("detector_", "det_"))


def metric_label(key: str) -> str:
    """A short legend label: ``"adv_acc_pgd_eps0.05"`` -> ``"PGD-20 @0.05"``; unknown keys are returned unchanged.

    Examples
    --------
    >>> metric_label("worst_eps0.05"), metric_label("test_accuracy"), metric_label("loss")
    ('worst case @0.05', 'clean', 'loss')
    """
    if (m := _PER_EPS.match(key)) is not None:
        return f"{dict(HEADLINE)[m.group(1)]} @{m.group(2)}"
    return dict((*_CLEAN, *DETECTOR_METRICS)).get(key, key)


def headline_metrics(present: Sequence[str]) -> list[str]:
    """The headline columns among the metric keys ``present``: clean accuracy, then per eps (ascending) PGD-20, SAP,
    the standard AutoAttack, APGD-CE+DLR, worst case, ACC_robust and the fusion's adaptive worst cases; the detector
    AUCs last.

    Examples
    --------
    >>> headline_metrics(["total_seconds", "worst_eps0.05", "test_accuracy", "adv_acc_pgd_eps0.05", "detector_auc"])
    ['test_accuracy', 'adv_acc_pgd_eps0.05', 'worst_eps0.05', 'detector_auc']
    """
    keys = set(present)
    eps = sorted({m.group(2) for k in keys if (m := _PER_EPS.match(k))}, key=float)
    chosen = [k for k, _ in _CLEAN if k in keys]
    chosen += [f"{p}_eps{e}" for e in eps for p, _ in HEADLINE if f"{p}_eps{e}" in keys]
    return chosen + [k for k, _ in DETECTOR_METRICS if k in keys]


def _default_metrics(runs: list[dict], limit: int) -> list[str]:
    present = sorted({k for r in runs for k in r["metrics"]})
    chosen = headline_metrics(present)
    if not [m for m in chosen if not is_detector_metric(m)]:  # not a recipe's experiment: accuracies by name
        chosen = [m for m in _FALLBACK if m in present]
        for prefix in _FALLBACK_PREFIXES:
            chosen += [m for m in present if m.startswith(prefix) and m not in chosen]
    models = [m for m in chosen if not is_detector_metric(m)][:limit]
    return models + [m for m in chosen if is_detector_metric(m)]


def compare_runs(
    experiment: str | None = None,
    *,
    metrics: Sequence[str] | None = None,
    params: Sequence[str] | None = None,
    tracking_uri: str | None = None,
    filter_string: str = "",
    max_metrics: int = 16,
) -> tuple[list[dict[str, Any]], list[str], list[str]]:
    """Rows of the runs of ``experiment`` (newest first) with their params, device and ``metrics``.

    Parameters
    ----------
    experiment : str, optional
        MLflow experiment name; default: the most recently active one (:func:`latest_experiment`).
    metrics : sequence of str, optional
        Metric keys to show; default: :func:`headline_metrics` of the keys logged (the first ``max_metrics`` of the
        models' columns, then the detector AUCs), or, where no run logged one, ``test_accuracy``, ``test_macro_f1``,
        ``clean_accuracy`` and the ``adv_acc_*`` / ``worst_case_*`` metrics present.
    params : sequence of str, optional
        Param keys to show; default: those of :data:`DEFAULT_PARAMS` that some run has.
    tracking_uri : str, optional
        Resolved by :func:`ecg_art.tracking.resolve_tracking_uri`.
    filter_string : str
        MLflow search filter.
    max_metrics : int
        Cap on the default list of the models' metrics.

    Returns
    -------
    rows, params, metrics
        ``rows`` are dicts with ``run_name``, ``run_id``, ``status``, ``device``, the params (``""`` when absent) and
        the metrics (``nan`` when absent), for the runs that have at least one of ``metrics`` (a paper job's parent
        run has none); ``params``/``metrics`` are the column keys used.

    Examples
    --------
    >>> rows, params, metrics = compare_runs("ecg_art-paper", metrics=["test_accuracy"])  # doctest: +SKIP
    """
    from ecg_art.tracking import find_runs, latest_experiment

    if not isinstance(max_metrics, int) or max_metrics < 1:
        raise ConfigError(f"`max_metrics` must be a positive int, got {max_metrics!r}")
    if experiment is None:
        experiment = latest_experiment(tracking_uri=tracking_uri)
        logger.info("comparing the runs of experiment %r (the most recently active)", experiment)
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
        if metric_keys and not any(m in r["metrics"] for m in metric_keys):
            continue
        row: dict[str, Any] = {"run_name": r["run_name"] or r["run_id"][:8], "run_id": r["run_id"],
                               "status": r["status"],
                               "device": r["params"].get("device") or r["tags"].get("env.device", "")}
        row.update({p: r["params"].get(p, "") for p in param_keys})
        row.update({m: float(r["metrics"].get(m, math.nan)) for m in metric_keys})
        row["seed_value"] = r["params"].get("seed", "")
        row["seed_group"] = _seed_group(r["params"])
        rows.append(row)
    logger.debug("compared %d of %d runs of %s on %s", len(rows), len(runs), experiment, metric_keys)
    return rows, param_keys, metric_keys


def _seed_group(params: dict[str, str]) -> str:
    import hashlib
    import json

    kept = {k: v for k, v in params.items() if k not in SEED_IGNORED}
    return hashlib.sha256(json.dumps(kept, sort_keys=True).encode()).hexdigest()[:12]


def seed_summary(rows: Sequence[dict[str, Any]], *, params: Sequence[str], metrics: Sequence[str]
                 ) -> list[dict[str, Any]]:
    """Mean and sample standard deviation (``ddof=1``) over seeds of each metric, one row per setting: the FINISHED
    runs of ``rows`` (from :func:`compare_runs`) that are equal in every param but :data:`SEED_IGNORED`. A seed run
    twice counts once (its newest run).

    Returns rows with the ``params`` (``seed`` left out), ``seeds`` (``"0,1,2"``), ``n`` (runs) and, per metric, a
    tuple ``(mean, std, n)`` over the runs that logged it (``std`` is nan for one run).

    Examples
    --------
    >>> rows = [{"status": "FINISHED", "seed_group": "g", "seed_value": s, "model": "cnn", "acc": a}
    ...         for s, a in (("0", 0.90), ("1", 0.92), ("2", 0.94))]
    >>> out = seed_summary(rows, params=["model", "seed"], metrics=["acc"])
    >>> out[0]["seeds"], out[0]["n"], [round(v, 4) for v in out[0]["acc"][:2]]
    ('0,1,2', 3, [0.92, 0.02])
    """
    groups: dict[str, dict[str, dict[str, Any]]] = {}
    for r in rows:
        if r.get("status", "FINISHED") != "FINISHED":
            continue
        groups.setdefault(str(r.get("seed_group", "")), {}).setdefault(str(r.get("seed_value", "")), r)
    out = []
    for by_seed in groups.values():
        runs = list(by_seed.values())
        seeds = sorted(by_seed, key=lambda s: (0, int(s), s) if s.lstrip("-").isdigit() else (1, 0, s))
        row: dict[str, Any] = {p: runs[0].get(p, "") for p in params if p != "seed"}
        row.update(seeds=",".join(seeds), n=len(runs))
        for m in metrics:
            vals = np.array([float(r.get(m, math.nan)) for r in runs], dtype=float)
            vals = vals[np.isfinite(vals)]
            row[m] = (float(vals.mean()) if vals.size else math.nan,
                      float(vals.std(ddof=1)) if vals.size > 1 else math.nan, int(vals.size))
        out.append(row)
    return out


def seed_table(summary: Sequence[dict[str, Any]], *, params: Sequence[str], metrics: Sequence[str],
               percent: bool = False, labels: bool = False) -> str:
    """A markdown table of :func:`seed_summary`: params, seeds, then ``mean ± std`` per metric (``x100`` with
    ``percent``; metric columns named by :func:`metric_label` with ``labels``).

    Examples
    --------
    >>> print(seed_table([{"model": "cnn", "seeds": "0,1", "n": 2, "acc": (0.9, 0.01, 2)}], params=["model"],
    ...                  metrics=["acc"]))
    | model | seeds | acc (mean ± std) |
    |---|---|---|
    | cnn | 0,1 | 0.9000 ± 0.0100 |
    """
    params = [p for p in params if p != "seed"]
    scale, digits = (100.0, 2) if percent else (1.0, 4)

    def fmt(v) -> str:
        mean, std, n = v
        if math.isnan(mean):
            return "-"
        return f"{scale * mean:.{digits}f}" + (f" ± {scale * std:.{digits}f}" if n > 1 else " (1 run)")

    names = [metric_label(m) if labels else m for m in metrics]
    head = "| " + " | ".join([*params, "seeds", *[f"{m} (mean ± std)" for m in names]]) + " |"
    body = ["| " + " | ".join([*(str(r.get(p, "")).replace("|", "\\|") for p in params), r["seeds"],
                                *(fmt(r[m]) for m in metrics)]) + " |" for r in summary]
    return "\n".join([head, "|" + "---|" * (len(params) + 1 + len(metrics)), *body])


def _has_any(row: dict[str, Any], metrics: Sequence[str]) -> bool:
    return any(isinstance(v := row.get(m), (int, float)) and not math.isnan(v) for m in metrics)


def comparison_table(rows: Sequence[dict[str, Any]], *, params: Sequence[str], metrics: Sequence[str],
                     percent: bool = False) -> str:
    """A markdown table of ``rows`` (from :func:`compare_runs`): run, params, device, metrics; rows without any of
    ``metrics`` are left out.

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

    body = ["| " + " | ".join(fmt(c, row.get(c, "")) for c in columns) + " |" for row in rows
            if not metrics or _has_any(row, metrics)]
    return "\n".join([head, "|" + "---|" * len(columns), *body])


def _bars(ax, rows: list[dict[str, Any]], metrics: Sequence[str], title: str) -> None:
    width = 0.8 / len(metrics)
    base = np.arange(len(rows))
    values = np.array([[float(r.get(m, math.nan)) for m in metrics] for r in rows])
    for i, m in enumerate(metrics):
        ax.bar(base + (i - (len(metrics) - 1) / 2) * width, values[:, i], width, label=metric_label(m))
    ax.set_xticks(base, [str(r.get("run_name", i)) for i, r in enumerate(rows)], rotation=30, ha="right", fontsize=8)
    finite = values[np.isfinite(values)]
    if finite.size and finite.min() >= 0 and finite.max() <= 1:
        ax.set_ylim(0, 1.02)
    ax.set(ylabel="value", title=title)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)


def comparison_figure(rows: Sequence[dict[str, Any]], *, metrics: Sequence[str], title: str | None = None):
    """Grouped bars, one group per run and one bar per metric, legend outside the axes (a ``matplotlib`` Figure).

    Detector metrics (:func:`is_detector_metric`) get a panel of their own; in each panel a run with none of its
    metrics is left out, and a missing value is a gap.

    Examples
    --------
    >>> rows = [{"run_name": "a", "acc": 0.9}, {"run_name": "b", "acc": 0.7}, {"run_name": "d", "detector_auc": 0.8}]
    >>> len(comparison_figure(rows, metrics=["acc", "detector_auc"]).axes)
    2
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    if not rows or not metrics:
        raise ConfigError("`rows` and `metrics` must be non-empty to draw a comparison")
    panels = []
    for keys, name in (([m for m in metrics if not is_detector_metric(m)], "models"),
                       ([m for m in metrics if is_detector_metric(m)], "detector")):
        kept = [r for r in rows if _has_any(r, keys)] if keys else []
        if kept:
            panels.append((kept, keys, name))
    if not panels:
        raise ConfigError(f"no row has a value of any of `metrics` {list(metrics)}")
    groups = [len(p[0]) * (len(p[1]) + 1) for p in panels]
    fig = Figure(figsize=(min(24.0, max(6.0, 0.2 * sum(groups) + 3.0 * len(panels))), 4.2), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, len(panels), width_ratios=groups, squeeze=False)[0]
    for ax, (kept, keys, name) in zip(axes, panels):
        _bars(ax, kept, keys, name if len(panels) > 1 else "")
    if title:
        fig.suptitle(title)
    return fig
