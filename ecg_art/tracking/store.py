"""Thin helpers over ``MlflowClient`` used by the tracker: short HTTP settings, experiments, run tags, torch models."""

from __future__ import annotations

import contextlib
import getpass
import logging
import os
import sys

import numpy as np

from ecg_art.exceptions import TrackingError
from ecg_art.tracking.params import flatten_params
from ecg_art.tracking.uri import artifact_location, is_http_uri

__all__ = ["HTTP_ENV", "mlflow_env", "is_store_error", "Session", "get_or_create_experiment", "reopen_run",
           "run_tags", "log_pytorch_model"]

logger = logging.getLogger(__name__)

# Used for tracking servers unless the user set them: a dead server then fails in well under a second, not minutes.
HTTP_ENV = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "1",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "10",
}
MAX_TAG_LENGTH = 5000


@contextlib.contextmanager
def mlflow_env(uri: str | None, extra: dict[str, str] | None = None):
    """Set :data:`HTTP_ENV` (http URIs, where unset) and ``extra`` environment variables for one call, then restore."""
    wanted = {k: v for k, v in HTTP_ENV.items() if k not in os.environ} if is_http_uri(uri) else {}
    wanted.update(extra or {})
    saved = {k: os.environ.get(k) for k in wanted}
    os.environ.update(wanted)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def is_store_error(exc: BaseException) -> bool:
    """Whether ``exc`` comes from the tracking store or the network (MLflow, HTTP, database, I/O errors), as opposed
    to a bug in the caller's arguments (``TypeError``, a model torch cannot export, ...)."""
    from mlflow.exceptions import MlflowException

    kinds: list[type] = [MlflowException, OSError]  # requests' errors and socket timeouts are OSErrors
    try:
        import sqlalchemy.exc

        kinds.append(sqlalchemy.exc.SQLAlchemyError)
    except ImportError:  # pragma: no cover - sqlalchemy comes with mlflow
        pass
    try:
        import urllib3.exceptions

        kinds.append(urllib3.exceptions.HTTPError)
    except ImportError:  # pragma: no cover
        pass
    return isinstance(exc, tuple(kinds))


class Session:
    """State shared by a tracker and its children: URI, client, environment info, and whether the store failed."""

    def __init__(self, uri: str | None, enabled: bool) -> None:
        self.uri, self.enabled = uri, enabled
        self.failed = False
        self.warned = False
        self.env: dict | None = None
        self._client = None

    @property
    def client(self):
        if self._client is None:
            from mlflow import MlflowClient

            self._client = MlflowClient(tracking_uri=self.uri)
        return self._client


def get_or_create_experiment(client, name: str, uri: str) -> str:
    """Id of experiment ``name``, created (with a sqlite store's artifact root next to its database) if missing."""
    from mlflow.exceptions import MlflowException

    exp = client.get_experiment_by_name(name)
    if exp is None:
        try:
            return client.create_experiment(name, artifact_location=artifact_location(uri, name))
        except MlflowException:  # created meanwhile by another process?
            exp = client.get_experiment_by_name(name)
            if exp is None:
                raise
    if exp.lifecycle_stage == "deleted":
        raise TrackingError(
            f"experiment {name!r} is deleted in {uri}; restore it (`mlflow experiments restore`) or use another name"
        )
    return exp.experiment_id


def reopen_run(client, run_id: str, experiment_id: str):
    """Run ``run_id`` of experiment ``experiment_id``, set back to ``RUNNING``; :class:`TrackingError` if it does not
    exist there or is deleted."""
    from mlflow.exceptions import MlflowException

    try:
        run = client.get_run(run_id)
    except MlflowException as exc:
        if getattr(exc, "error_code", "") != "RESOURCE_DOES_NOT_EXIST":
            raise
        raise TrackingError(f"`run_id` {run_id!r}: no such run") from None
    if run.info.experiment_id != experiment_id or run.info.lifecycle_stage == "deleted":
        raise TrackingError(f"`run_id` {run_id!r} is not an active run of experiment {experiment_id!r}")
    client.update_run(run_id, status="RUNNING")
    return client.get_run(run_id)


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no user name in some containers
        return "unknown"


def run_tags(env: dict, extra: dict[str, str], parent_run_id: str | None) -> dict[str, str]:
    """Tags of a new run: ``env.*`` (environment info), MLflow's user/source/git/parent tags, then ``extra``."""
    tags = {k: v[:MAX_TAG_LENGTH] for k, v in flatten_params(env, prefix="env.").items()}
    tags["mlflow.user"] = _user()
    tags["mlflow.source.name"] = os.path.basename(sys.argv[0] or "") or "python"
    if env.get("git_commit") not in (None, "unknown"):
        tags["mlflow.source.git.commit"] = env["git_commit"]
    tags.update(extra)
    if parent_run_id:
        tags["mlflow.parentRunId"] = parent_run_id
    return tags


def default_requirements() -> list[str]:
    """Pinned torch/numpy requirements of a logged model (skips MLflow's slow requirement inference)."""
    import torch

    return [f"torch=={torch.__version__.split('+')[0]}", f"numpy=={np.__version__}"]


def log_pytorch_model(session: Session, *, run_id: str, experiment_id: str | None, model, name: str,
                      input_example: np.ndarray, pip_requirements: list[str], serialization_format: str) -> str:
    """``mlflow.pytorch.log_model`` into run ``run_id`` of ``session``'s store, without touching global MLflow state.

    Returns the model URI.
    """
    import mlflow.pytorch
    from mlflow.tracking._tracking_service.utils import _use_tracking_uri

    # log_model reads the tracking URI and experiment from MLflow's globals: point them at this run for the call only.
    extra = {"MLFLOW_EXPERIMENT_ID": str(experiment_id)} if experiment_id else {}
    with mlflow_env(session.uri, extra), _use_tracking_uri(session.uri):
        info = mlflow.pytorch.log_model(model, name=name, input_example=input_example, run_id=run_id,
                                        pip_requirements=pip_requirements, serialization_format=serialization_format)
    return info.model_uri
