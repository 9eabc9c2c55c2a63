"""Local mirror of one run (``run.json``, ``params.json``, ``tags.json``, ``metrics.jsonl``, ``artifacts/``): where
:class:`~ecg_art.tracking.Tracker` writes when MLflow is disabled or its store fails."""

from __future__ import annotations

import dataclasses
import enum
import json
import logging
import os
import posixpath
import shutil
from pathlib import Path, PurePosixPath

import numpy as np

from ecg_art.exceptions import ConfigError

__all__ = ["OfflineRun", "to_jsonable", "dump_text"]

logger = logging.getLogger(__name__)


def to_jsonable(obj):
    """``json.dumps`` ``default=`` hook: dataclasses, ``to_dict()`` objects, numpy values, paths and enums."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return dataclasses.asdict(obj)
    if callable(getattr(obj, "to_dict", None)):
        return obj.to_dict()
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, (Path, PurePosixPath)):
        return str(obj)
    if isinstance(obj, enum.Enum):
        return obj.value
    if isinstance(obj, (set, frozenset)):
        return sorted(obj, key=str)
    raise TypeError(f"object of type {type(obj).__name__} is not JSON serialisable")


def dump_text(obj, artifact_file: str) -> str:
    """Serialise ``obj`` as YAML when ``artifact_file`` ends in .yaml/.yml, else as indented JSON (like MLflow)."""
    if PurePosixPath(artifact_file).suffix.lower() in (".yaml", ".yml"):
        import yaml

        return yaml.safe_dump(json.loads(json.dumps(obj, default=to_jsonable)), sort_keys=False)
    return json.dumps(obj, indent=2, default=to_jsonable, allow_nan=True)


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


class OfflineRun:
    """One run's folder of plain files; every method writes at once, so a crash loses at most the current call.

    Parameters
    ----------
    path : pathlib.Path
        The run folder (created with ``artifacts/``).

    Examples
    --------
    >>> import tempfile
    >>> run = OfflineRun(Path(tempfile.mkdtemp()) / "r")
    >>> run.write_params({"lr": "0.001"}); json.loads((run.path / "params.json").read_text())
    {'lr': '0.001'}
    """

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.artifacts = self.path / "artifacts"
        self.artifacts.mkdir(parents=True, exist_ok=True)

    def write_meta(self, meta: dict) -> None:
        _atomic_write(self.path / "run.json", json.dumps(meta, indent=2, default=to_jsonable))

    def write_params(self, params: dict[str, str]) -> None:
        _atomic_write(self.path / "params.json", json.dumps(params, indent=2, sort_keys=True))

    def write_tags(self, tags: dict[str, str]) -> None:
        _atomic_write(self.path / "tags.json", json.dumps(tags, indent=2, sort_keys=True))

    def append_metrics(self, records: list[dict]) -> None:
        if records:
            with open(self.path / "metrics.jsonl", "a", encoding="utf-8") as fh:
                fh.writelines(json.dumps(r, allow_nan=True) + "\n" for r in records)

    def artifact_path(self, artifact_file: str) -> Path:
        """Local path of ``artifact_file`` (a relative POSIX path inside ``artifacts/``), parents created."""
        norm = posixpath.normpath(str(artifact_file))
        if not artifact_file or norm.startswith(("/", "..")) or norm == ".":
            raise ConfigError(f"`artifact_file` must be a relative path inside the run, got {artifact_file!r}")
        path = self.artifacts / norm
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def log_text(self, text: str, artifact_file: str) -> Path:
        path = self.artifact_path(artifact_file)
        path.write_text(text, encoding="utf-8")
        return path

    def log_figure(self, fig, artifact_file: str) -> Path:
        path = self.artifact_path(artifact_file)
        fig.savefig(path)
        return path

    def log_artifact(self, local_path: Path, artifact_path: str | None = None) -> Path:
        dest_dir = self.artifact_path(posixpath.join(artifact_path, "x")).parent if artifact_path else self.artifacts
        dest = dest_dir / local_path.name
        if local_path.is_dir():
            shutil.copytree(local_path, dest, dirs_exist_ok=True)
        else:
            shutil.copy2(local_path, dest)
        return dest

    def log_model(self, model, *, name: str, input_example: np.ndarray, pip_requirements: list[str],
                  serialization_format: str) -> Path:
        """Save ``model`` as an MLflow pyfunc folder ``artifacts/<name>``; a bare ``state_dict.pt`` if that fails."""
        path = self.artifact_path(name)
        try:
            import mlflow.pytorch

            if path.exists():
                shutil.rmtree(path)
            mlflow.pytorch.save_model(model, str(path), input_example=input_example, pip_requirements=pip_requirements,
                                      serialization_format=serialization_format)
        except Exception as exc:  # the offline copy must survive a broken MLflow install too
            import torch

            logger.warning("mlflow.pytorch.save_model failed (%s); saving only the state_dict in %s", exc, path)
            path.mkdir(parents=True, exist_ok=True)
            torch.save(model.state_dict(), path / "state_dict.pt")
        return path
