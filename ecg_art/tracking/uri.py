"""Where runs go: tracking-URI resolution (flag > ``MLFLOW_TRACKING_URI`` > the checkout's sqlite store) and the
local folders (artifact roots, offline fallback) that go with it."""

from __future__ import annotations

import logging
import os
import re
import time
from pathlib import Path
from urllib.parse import urlparse

from ecg_art.exceptions import ConfigError

__all__ = ["resolve_tracking_uri", "repo_root", "artifact_location", "default_fallback_dir", "is_http_uri"]

logger = logging.getLogger(__name__)

ENV_TRACKING_URI = "MLFLOW_TRACKING_URI"
ENV_ALLOW_FILE_STORE = "MLFLOW_ALLOW_FILE_STORE"


def repo_root() -> Path | None:
    """The project checkout holding the ``ecg_art`` package (``setup.cfg`` next to ``mlruns/`` or ``.git``), else None.

    Examples
    --------
    >>> root = repo_root()
    >>> root is None or (root / "setup.cfg").is_file()
    True
    """
    import ecg_art

    root = Path(ecg_art.__file__).resolve().parent.parent
    if (root / "setup.cfg").is_file() and ((root / "mlruns").is_dir() or (root / ".git").exists()):
        return root
    return None


def _base_dir() -> Path:
    root = repo_root()
    return root if root is not None else Path.cwd()


def _is_file_store(uri: str) -> bool:
    scheme = urlparse(uri).scheme.lower()
    return scheme == "file" or scheme == "" or (len(scheme) == 1 and os.name == "nt")


def _file_store_allowed() -> bool:
    return os.environ.get(ENV_ALLOW_FILE_STORE, "").strip().lower() in ("true", "1")


def is_http_uri(uri: str | None) -> bool:
    """Whether ``uri`` points at a tracking server (``http://`` or ``https://``)."""
    return bool(uri) and urlparse(uri).scheme.lower() in ("http", "https")


def resolve_tracking_uri(uri: str | None = None) -> str:
    """The MLflow tracking URI to use: ``uri`` (a CLI flag), else ``$MLFLOW_TRACKING_URI``, else the checkout's store.

    The default is ``sqlite:///<repo>/mlruns/mlflow.db`` (``<repo>`` is the checkout holding ``setup.cfg``; ``./mlruns``
    under the current directory when ecg_art is not installed from a checkout); its folder is created. Any scheme MLflow
    knows is passed through (``sqlite:///...``, ``http://host:port``, ...); a plain file store (``file:...`` or a bare
    path) is refused unless ``MLFLOW_ALLOW_FILE_STORE=true``, as MLflow 3 itself refuses it.

    Examples
    --------
    >>> resolve_tracking_uri("http://127.0.0.1:5000")
    'http://127.0.0.1:5000'
    >>> resolve_tracking_uri().startswith("sqlite:///") or bool(os.environ.get("MLFLOW_TRACKING_URI"))
    True
    """
    for candidate, source in ((uri, "`tracking_uri`"), (os.environ.get(ENV_TRACKING_URI), ENV_TRACKING_URI)):
        if candidate is not None and not isinstance(candidate, str):
            raise ConfigError(f"{source} must be a string, got {type(candidate).__name__}")
        if candidate and candidate.strip():
            candidate = candidate.strip()
            if _is_file_store(candidate) and not _file_store_allowed():
                raise ConfigError(
                    f"{source} {candidate!r} is a plain file store, which MLflow 3 refuses unless "
                    f"{ENV_ALLOW_FILE_STORE}=true; use e.g. 'sqlite:///PATH/mlflow.db' instead"
                )
            return candidate
    mlruns = _base_dir() / "mlruns"
    mlruns.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{mlruns.resolve() / 'mlflow.db'}"


def _safe_name(name: str) -> str:
    return re.sub(r"[^\w.-]+", "_", name).strip("._") or "run"


def artifact_location(uri: str, experiment: str) -> str | None:
    """Artifact root for a new experiment: ``<db folder>/artifacts/<experiment>`` for sqlite stores, else None.

    MLflow would otherwise put a sqlite store's artifacts under ``./mlruns`` of whatever the current directory is.

    Examples
    --------
    >>> artifact_location("sqlite:////tmp/x/mlflow.db", "my exp")
    'file:///tmp/x/artifacts/my_exp'
    >>> artifact_location("http://127.0.0.1:5000", "e") is None
    True
    """
    parsed = urlparse(uri)
    if parsed.scheme.lower() != "sqlite":
        return None
    db = uri[len("sqlite:///"):] if uri.lower().startswith("sqlite:///") else ""
    if not db or db.startswith(":memory:"):
        return None
    return (Path(db).resolve().parent / "artifacts" / _safe_name(experiment)).as_uri()


def default_fallback_dir(run_name: str | None, *, base: Path | str | None = None) -> Path:
    """A fresh ``<base>/<timestamp>-<run_name>`` folder path (``<repo>/results/offline-runs`` by default), not created.

    Examples
    --------
    >>> default_fallback_dir("fgsm sweep", base="/tmp/off").name.endswith("-fgsm_sweep")
    True
    """
    root = Path(base) if base is not None else _base_dir() / "results" / "offline-runs"
    stem = f"{time.strftime('%Y%m%d-%H%M%S')}-{_safe_name(run_name or 'run')}"
    path, k = root / stem, 1
    while path.exists():
        path, k = root / f"{stem}-{k}", k + 1
    return path
