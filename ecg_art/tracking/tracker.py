"""One MLflow run as a context manager that never loses a result: if the tracking store fails, it warns once and
records the rest of the run in a local folder."""

from __future__ import annotations

import logging
import time
import warnings
from pathlib import Path

import numpy as np

from ecg_art.exceptions import ConfigError, EcgArtError, EcgArtWarning, TrackingError
from ecg_art.tracking.environment import environment_info
from ecg_art.tracking.offline import OfflineRun, dump_text
from ecg_art.tracking.params import MAX_PARAM_LENGTH, check_key, flatten_params, to_metrics
from ecg_art.tracking.store import (MAX_TAG_LENGTH, Session, default_requirements, get_or_create_experiment,
                                    is_store_error, log_pytorch_model, mlflow_env, reopen_run, run_tags)
from ecg_art.tracking.uri import default_fallback_dir, resolve_tracking_uri

__all__ = ["Tracker"]

logger = logging.getLogger(__name__)


class Tracker:
    """Context manager around one MLflow run (made through ``MlflowClient``: no global active-run state).

    Parameters
    ----------
    experiment : str
        MLflow experiment name (created if missing; on sqlite stores its artifacts go next to the database).
    run_name : str, optional
        Run name (MLflow picks one if None).
    tracking_uri : str, optional
        Passed to :func:`resolve_tracking_uri` (flag > ``$MLFLOW_TRACKING_URI`` > the checkout's sqlite store).
    tags : dict, optional
        Extra run tags.
    parent_run_id : str, optional
        Makes this a nested run of that run (see also :meth:`child`).
    run_id : str, optional
        Reopen this existing run (its status goes back to ``RUNNING``; its params and tags are kept) instead of
        creating one: a job that is re-run logs into the run it started (``ecg-art grid``'s parent run).
    enabled : bool
        False: nothing goes to MLflow; everything is written under ``fallback_dir`` if given, else only kept in memory
        (:meth:`summary`).
    fallback_dir : str or Path, optional
        Base folder of local run folders ``<timestamp>-<run_name>/`` (default ``<repo>/results/offline-runs``).

    Notes
    -----
    Any error of the tracking store (unreachable server, refused write, broken database), at start or mid-run, switches
    the tracker and its children to a local folder (``fallback_path``: ``params.json``, ``metrics.jsonl``,
    ``tags.json``, ``run.json``, ``artifacts/``) for the rest of the run, with a single :class:`EcgArtWarning`.
    Bad arguments (invalid names, a param logged twice with different values) raise :class:`ConfigError`.

    Examples
    --------
    >>> import tempfile
    >>> uri = f"sqlite:///{tempfile.mkdtemp()}/mlflow.db"
    >>> with Tracker("demo", run_name="pgd", tracking_uri=uri) as run:  # doctest: +SKIP
    ...     run.log_params({"attack": {"name": "pgd", "eps": 0.02}})
    ...     run.log_metrics({"adv_accuracy": 0.41}, step=0)
    """

    def __init__(self, experiment: str, *, run_name: str | None = None, tracking_uri: str | None = None,
                 tags: dict | None = None, parent_run_id: str | None = None, enabled: bool = True,
                 fallback_dir: str | Path | None = None, run_id: str | None = None) -> None:
        if not isinstance(experiment, str) or not experiment.strip():
            raise ConfigError(f"`experiment` must be a non-empty string, got {experiment!r}")
        self.experiment = experiment.strip()
        self.run_name = run_name
        self.enabled = bool(enabled)
        self.tracking_uri = resolve_tracking_uri(tracking_uri) if self.enabled else None
        self._init_tags = {check_key(str(k), kind="tag"): str(v)[:MAX_TAG_LENGTH] for k, v in (tags or {}).items()}
        self._parent_run_id = parent_run_id
        self._reopen_id = run_id
        self._fallback_base = Path(fallback_dir) if fallback_dir is not None else None
        self._session: Session | None = None
        self._parent: Tracker | None = None
        self._run_id: str | None = None
        self._experiment_id: str | None = None
        self._offline: OfflineRun | None = None
        self._params: dict[str, str] = {}
        self._truncated: dict[str, str] = {}
        self._tags: dict[str, str] = {}
        self._metrics: list[dict] = []
        self._meta: dict = {}
        self._active = False

    @property
    def run_id(self) -> str | None:
        """MLflow run id (None when the run never reached the store)."""
        return self._run_id

    @property
    def experiment_id(self) -> str | None:
        """MLflow experiment id (None when the store was never reached)."""
        return self._experiment_id

    @property
    def fallback_path(self) -> Path | None:
        """The local run folder, once something was written there (store failure, or ``enabled=False``)."""
        return self._offline.path if self._offline is not None else None

    @property
    def offline(self) -> bool:
        """Whether this run now records locally (or nowhere) instead of in MLflow."""
        return not self._remote_ok()

    # ------------------------------------------------------------------ plumbing
    def _remote_ok(self) -> bool:
        s = self._session
        return s is not None and s.enabled and not s.failed and self._run_id is not None

    def _require_active(self) -> None:
        if not self._active:
            raise TrackingError("the Tracker is not running: use it as `with Tracker(...) as run:` or call start()")

    def _remote(self, fn, *args, **kwargs) -> bool:
        """Run ``fn`` against the store; on any store failure switch to the local folder. True if the store took it."""
        if not self._remote_ok():
            return False
        try:
            with mlflow_env(self.tracking_uri):
                fn(*args, **kwargs)
            return True
        except Exception as exc:
            if isinstance(exc, EcgArtError) or not is_store_error(exc):
                raise
            self._fail(exc)  # unreachable server, refused write, locked database, ...: keep the run going
            return False

    def _fail(self, exc: BaseException) -> None:
        s = self._session
        s.failed = True
        logger.debug("MLflow store %s failed", self.tracking_uri, exc_info=exc)
        path = self._ensure_offline()
        self._meta["store_error"] = f"{type(exc).__name__}: {str(exc)[:500]}"
        self._write_meta()
        if not s.warned:
            s.warned = True
            warnings.warn(
                f"MLflow tracking store {self.tracking_uri} failed ({type(exc).__name__}: {str(exc)[:200]}); the rest "
                f"of run {self.run_name!r} (and of its parent/children) is recorded locally in {path}",
                EcgArtWarning, stacklevel=4,
            )

    def _ensure_offline(self) -> Path:
        if self._offline is None:
            if self._parent is not None:
                base = self._parent._ensure_offline() / "children"
            else:
                base = self._fallback_base
            self._offline = OfflineRun(default_fallback_dir(self.run_name, base=base))
            logger.info("recording run %r locally in %s", self.run_name, self._offline.path)
            self._write_meta()
            self._offline.write_params(self._params)
            self._offline.write_tags(self._tags)
            self._offline.append_metrics(self._metrics)
        return self._offline.path

    def _local(self) -> OfflineRun | None:
        s = self._session
        if self._offline is None and (s.failed or (not s.enabled and self._fallback_base is not None)):
            self._ensure_offline()
        return self._offline

    def _write_meta(self) -> None:
        if self._offline is not None:
            self._offline.write_meta({"experiment": self.experiment, "run_name": self.run_name,
                                      "tracking_uri": self.tracking_uri, "run_id": self._run_id,
                                      "parent_run_id": self._parent_run_id, **self._meta})

    # ------------------------------------------------------------------ run life cycle
    def start(self) -> "Tracker":
        """Create the run (or its local folder) and log the environment as tags; ``__enter__`` calls this."""
        if self._active:
            raise TrackingError(f"run {self.run_name!r} is already started")
        self._active = True
        if self._session is None:
            self._session = Session(self.tracking_uri, self.enabled)
        s = self._session
        if s.env is None:
            s.env = environment_info()
        self._meta.update(status="RUNNING", start_time=time.time(), environment=s.env)
        tags = run_tags(s.env, self._init_tags, self._parent_run_id)
        self._tags.update(tags)
        if s.enabled and not s.failed:
            try:
                with mlflow_env(self.tracking_uri):
                    if self._experiment_id is None:
                        self._experiment_id = get_or_create_experiment(s.client, self.experiment, self.tracking_uri)
                    if self._reopen_id is not None:
                        run = reopen_run(s.client, self._reopen_id, self._experiment_id)
                        self._params.update(run.data.params)
                    else:
                        run = s.client.create_run(self._experiment_id, run_name=self.run_name, tags=tags)
                self._run_id, self.run_name = run.info.run_id, run.info.run_name
            except Exception as exc:
                if isinstance(exc, EcgArtError) or not is_store_error(exc):
                    raise
                self._fail(exc)  # store unreachable or broken at start: the whole run goes local
        if (local := self._local()) is not None:
            local.write_tags(self._tags)
        if "device" not in self._params:  # a reopened run keeps the device it was started on
            self.log_params({"device": s.env["device"]})
        return self

    def end(self, status: str = "FINISHED") -> None:
        """Mark the run ``FINISHED`` / ``FAILED`` / ``KILLED``; ``__exit__`` calls this."""
        if not self._active:
            return
        self._active = False
        self._meta.update(status=status, end_time=time.time())
        self._remote(lambda: self._session.client.set_terminated(self._run_id, status))
        self._write_meta()

    def __enter__(self) -> "Tracker":
        return self.start()

    def __exit__(self, exc_type, exc, tb) -> bool:
        status = "FINISHED" if exc_type is None else "KILLED" if issubclass(exc_type, KeyboardInterrupt) else "FAILED"
        self.end(status)
        return False

    def child(self, run_name: str, *, tags: dict | None = None) -> "Tracker":
        """A nested run of this one (same experiment, store and fallback state), used as a context manager."""
        self._require_active()
        kid = Tracker(self.experiment, run_name=run_name, tracking_uri=self.tracking_uri, tags=tags,
                      parent_run_id=self._run_id, enabled=self.enabled, fallback_dir=self._fallback_base)
        kid._session, kid._parent, kid._experiment_id = self._session, self, self._experiment_id
        return kid

    # ------------------------------------------------------------------ logging
    def log_params(self, params) -> None:
        """Log a (nested) dict or dataclass as flat dotted params; values over 500 chars are truncated (the full
        values go to the artifact ``params_full.json``)."""
        self._require_active()
        new = {}
        for key, value in flatten_params(params).items():
            check_key(key)
            if len(value) > MAX_PARAM_LENGTH:
                self._truncated[key] = value
                value = value[: MAX_PARAM_LENGTH - 3] + "..."
            old = self._params.get(key)
            if old is not None and old != value:
                raise ConfigError(f"param {key!r} was already logged as {old!r}; MLflow params cannot change "
                                  f"(got {value!r}): log it as a metric or under another name")
            if old is None:
                new[key] = value
        if not new:
            return
        if self._remote_ok():
            from mlflow.entities import Param

            items = [Param(k, v) for k, v in new.items()]
            for i in range(0, len(items), 100):  # MLflow's batch limit for params
                if not self._remote(self._session.client.log_batch, self._run_id, params=items[i: i + 100]):
                    break
        self._params.update(new)
        if (local := self._local()) is not None:
            local.write_params(self._params)
        if any(k in new for k in self._truncated):
            self.log_dict(self._truncated, "params_full.json")

    def log_metrics(self, metrics, step: int | None = None) -> None:
        """Log ``{name: number}`` at ``step`` (0 if None); NaNs are skipped (debug log)."""
        self._require_active()
        values = to_metrics(metrics)
        if not values:
            return
        stamp, step = int(time.time() * 1000), int(step or 0)
        synced = False
        if self._remote_ok():
            from mlflow.entities import Metric

            synced = self._remote(self._session.client.log_batch, self._run_id,
                                  metrics=[Metric(k, v, stamp, step) for k, v in values.items()])
        records = [dict(key=k, value=v, step=step, timestamp=stamp, synced=synced) for k, v in values.items()]
        opened = self._offline is not None
        self._metrics.extend(records)
        if (local := self._local()) is not None and opened:
            local.append_metrics(records)  # a folder opened just now was filled from self._metrics already

    def set_tags(self, tags: dict) -> None:
        """Set run tags (values stringified)."""
        self._require_active()
        new = {check_key(str(k), kind="tag"): str(v)[:MAX_TAG_LENGTH] for k, v in tags.items()}
        if self._remote_ok():
            from mlflow.entities import RunTag

            self._remote(self._session.client.log_batch, self._run_id, tags=[RunTag(k, v) for k, v in new.items()])
        self._tags.update(new)
        if (local := self._local()) is not None:
            local.write_tags(self._tags)

    def log_text(self, text: str, artifact_file: str) -> None:
        """Save ``text`` as the artifact ``artifact_file`` (a relative path such as ``"reports/summary.md"``)."""
        self._require_active()
        if not isinstance(text, str):
            raise ConfigError(f"`text` must be a str, got {type(text).__name__}")
        if not self._remote(lambda: self._session.client.log_text(self._run_id, text, artifact_file)):
            if (local := self._local()) is not None:
                local.log_text(text, artifact_file)

    def log_dict(self, obj, artifact_file: str) -> None:
        """Save ``obj`` as JSON (YAML for ``.yaml``/``.yml``); dataclasses and numpy values are converted."""
        self.log_text(dump_text(obj, artifact_file), artifact_file)

    def log_figure(self, fig, artifact_file: str) -> None:
        """Save a matplotlib figure as the artifact ``artifact_file`` (format from its extension)."""
        self._require_active()
        if not callable(getattr(fig, "savefig", None)):
            raise ConfigError(f"`fig` must be a matplotlib Figure, got {type(fig).__name__}")
        if not self._remote(lambda: self._session.client.log_figure(self._run_id, fig, artifact_file)):
            if (local := self._local()) is not None:
                local.log_figure(fig, artifact_file)

    def log_artifact(self, path: str | Path, artifact_path: str | None = None) -> None:
        """Copy a local file or folder into the run's artifacts (under ``artifact_path`` if given)."""
        self._require_active()
        path = Path(path)
        if not path.exists():
            raise ConfigError(f"`path` {str(path)!r} does not exist")

        def _log():
            client = self._session.client
            (client.log_artifacts if path.is_dir() else client.log_artifact)(self._run_id, str(path), artifact_path)

        if not self._remote(_log):
            if (local := self._local()) is not None:
                local.log_artifact(path, artifact_path)

    def log_model(self, model, *, name: str = "model", input_example, pip_requirements: list[str] | None = None,
                  serialization_format: str = "pt2"):
        """Log a torch model with ``mlflow.pytorch.log_model``; its signature is inferred from ``input_example``.

        ``input_example`` is a float array (or tensor) holding one small batch, e.g. shape ``(1, 1, L)``.
        ``pip_requirements`` defaults to the running torch/numpy versions (MLflow's own inference takes seconds).
        ``serialization_format`` is MLflow's: ``"pt2"`` (``torch.export``, safe to load, slower to save) or
        ``"pickle"``. Returns the model URI (``models:/...``), the local folder when recording offline, or None.
        """
        self._require_active()
        if hasattr(input_example, "detach"):
            input_example = input_example.detach().cpu().numpy()
        example = np.asarray(input_example)
        if example.ndim == 0 or example.dtype.kind != "f":
            raise ConfigError(f"`input_example` must be a float array holding one batch, got dtype {example.dtype} "
                              f"and shape {example.shape}")
        reqs = list(pip_requirements) if pip_requirements is not None else default_requirements()
        uri = []
        if self._remote(lambda: uri.append(log_pytorch_model(
                self._session, run_id=self._run_id, experiment_id=self._experiment_id, model=model, name=name,
                input_example=example, pip_requirements=reqs, serialization_format=serialization_format))):
            return uri[0]
        if (local := self._local()) is not None:
            return str(local.log_model(model, name=name, input_example=example, pip_requirements=reqs,
                                       serialization_format=serialization_format))
        return None

    def summary(self) -> dict:
        """Params, tags and the last value of each metric logged so far, whatever the store did."""
        last = {r["key"]: r["value"] for r in self._metrics}
        return {"run_id": self._run_id, "run_name": self.run_name, "params": dict(self._params), "metrics": last,
                "tags": dict(self._tags), "fallback_path": str(self.fallback_path) if self._offline else None}
