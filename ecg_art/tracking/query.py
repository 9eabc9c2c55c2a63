"""Reading runs back from MLflow (for comparisons and reports)."""

from __future__ import annotations

import logging

from ecg_art.exceptions import ConfigError, TrackingError
from ecg_art.tracking.store import mlflow_env
from ecg_art.tracking.uri import resolve_tracking_uri

__all__ = ["find_runs", "latest_experiment", "delete_runs"]

logger = logging.getLogger(__name__)


def find_runs(experiment: str, *, tracking_uri: str | None = None, filter_string: str = "",
              max_results: int = 10_000, missing_ok: bool = False) -> list[dict]:
    """Runs of ``experiment`` (newest first) as plain dicts, through ``MlflowClient.search_runs``.

    Parameters
    ----------
    experiment : str
        Experiment name.
    tracking_uri : str, optional
        Resolved with :func:`resolve_tracking_uri`.
    filter_string : str
        MLflow search filter, e.g. ``"params.attack = 'pgd' and metrics.adv_accuracy < 0.5"``.
    max_results : int
        Upper bound on the number of runs returned.
    missing_ok : bool
        Return ``[]`` when the experiment does not exist (instead of raising :class:`TrackingError`).

    Returns
    -------
    list of dict
        Each with ``run_id``, ``run_name``, ``status``, ``start_time``, ``end_time`` (ms), ``parent_run_id``,
        ``params``, ``metrics`` (latest values) and ``tags``.

    Examples
    --------
    >>> runs = find_runs("robustness", filter_string="params.attack = 'pgd'")  # doctest: +SKIP
    >>> [r["metrics"]["adv_accuracy"] for r in runs]  # doctest: +SKIP
    [0.41]
    """
    if not isinstance(max_results, int) or max_results < 1:
        raise ConfigError(f"`max_results` must be a positive int, got {max_results!r}")
    uri = resolve_tracking_uri(tracking_uri)
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    out: list[dict] = []
    try:
        with mlflow_env(uri):
            exp = client.get_experiment_by_name(experiment)
            if exp is None and missing_ok:
                return []
            if exp is None:
                known = sorted(e.name for e in client.search_experiments())
                raise TrackingError(f"no experiment {experiment!r} in {uri}; known: {', '.join(known) or '(none)'}")
            token = None
            while len(out) < max_results:
                page = client.search_runs([exp.experiment_id], filter_string=filter_string,
                                          max_results=min(1000, max_results - len(out)),
                                          order_by=["attributes.start_time DESC"], page_token=token)
                out.extend(_as_dict(run) for run in page)
                token = page.token
                if not token:
                    break
    except TrackingError:
        raise
    except Exception as exc:
        raise TrackingError(f"could not search runs of experiment {experiment!r} in {uri}: {exc}") from exc
    return out


def delete_runs(run_ids, *, tracking_uri: str | None = None) -> int:
    """Mark the runs ``run_ids`` deleted (MLflow's soft delete: ``mlflow gc`` purges them, ``MlflowClient.restore_run``
    brings them back); returns how many were deleted. Runs already deleted or gone are skipped.

    Examples
    --------
    >>> delete_runs([], tracking_uri="sqlite:///mlruns/mlflow.db")
    0
    """
    ids = [str(r) for r in run_ids]
    if not ids:
        return 0
    uri = resolve_tracking_uri(tracking_uri)
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    client = MlflowClient(tracking_uri=uri)
    done = 0
    try:
        with mlflow_env(uri):
            for run_id in ids:
                try:
                    client.delete_run(run_id)
                    done += 1
                except MlflowException as exc:
                    if getattr(exc, "error_code", "") not in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
                        raise
                    logger.debug("run %s not deleted: %s", run_id, exc)
    except Exception as exc:
        raise TrackingError(f"could not delete runs {ids} in {uri}: {exc}") from exc
    return done


def latest_experiment(*, tracking_uri: str | None = None) -> str:
    """Name of the experiment of ``tracking_uri`` holding the most recently started run.

    Raises :class:`~ecg_art.exceptions.TrackingError` when the store holds no run.

    Examples
    --------
    >>> latest_experiment(tracking_uri="sqlite:///mlruns/mlflow.db")  # doctest: +SKIP
    'ecg_art-paper'
    """
    uri = resolve_tracking_uri(tracking_uri)
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    try:
        with mlflow_env(uri):
            experiments = {e.experiment_id: e.name for e in client.search_experiments()}
            runs = client.search_runs(list(experiments), max_results=1,
                                      order_by=["attributes.start_time DESC"]) if experiments else []
    except Exception as exc:
        raise TrackingError(f"could not list the experiments of {uri}: {exc}") from exc
    if not runs:
        raise TrackingError(f"no run in any experiment of {uri} (experiments: "
                            f"{', '.join(sorted(experiments.values())) or 'none'})")
    return experiments[runs[0].info.experiment_id]


def _as_dict(run) -> dict:
    tags = dict(run.data.tags)
    return {
        "run_id": run.info.run_id,
        "run_name": run.info.run_name,
        "status": run.info.status,
        "start_time": run.info.start_time,
        "end_time": run.info.end_time,
        "parent_run_id": tags.get("mlflow.parentRunId"),
        "params": dict(run.data.params),
        "metrics": dict(run.data.metrics),
        "tags": tags,
    }
