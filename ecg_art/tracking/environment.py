"""What a run ran on: Python, platform, package versions, git commit of the checkout and the torch device."""

from __future__ import annotations

import logging
import platform
import subprocess
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from ecg_art.tracking.uri import repo_root

__all__ = ["environment_info", "PACKAGES"]

logger = logging.getLogger(__name__)

PACKAGES = (
    "ecg_art",
    "torch",
    "numpy",
    "adversarial-robustness-toolbox",
    "torchattacks",
    "mlflow",
    "wfdb",
    "neurokit2",
    "scikit-learn",
)
UNKNOWN = "unknown"


def _version(dist: str) -> str:
    try:
        return version(dist)
    except PackageNotFoundError:
        return "not installed"


def _git(root: Path, *args: str, timeout_s: float) -> str | None:
    try:
        out = subprocess.run(
            ["git", "-C", str(root), *args], capture_output=True, text=True, timeout=timeout_s, check=True
        )
    except (OSError, subprocess.SubprocessError) as exc:
        logger.debug("git %s failed in %s: %s", " ".join(args), root, exc)
        return None
    return out.stdout.strip()


def _git_info(root: Path | None, *, timeout_s: float) -> dict:
    if root is None or not (root / ".git").exists():
        return {"git_commit": UNKNOWN, "git_dirty": UNKNOWN}
    commit = _git(root, "rev-parse", "HEAD", timeout_s=timeout_s)
    if not commit:
        return {"git_commit": UNKNOWN, "git_dirty": UNKNOWN}
    status = _git(root, "status", "--porcelain", "--untracked-files=no", timeout_s=timeout_s)
    return {"git_commit": commit, "git_dirty": UNKNOWN if status is None else bool(status)}


def _device_info() -> dict:
    import torch

    cuda = torch.cuda.is_available()
    return {
        "device": torch.cuda.get_device_name(torch.cuda.current_device()) if cuda else "cpu",
        "cuda": torch.version.cuda or "none",
        "torch_threads": torch.get_num_threads(),
    }


def environment_info(*, git_timeout_s: float = 5.0) -> dict:
    """Describe the software and hardware of this process, for run tags and result files.

    Returns
    -------
    dict
        ``python``, ``platform``, ``packages`` (distribution name -> version, ``"not installed"`` if absent),
        ``git_commit`` / ``git_dirty`` of the checkout (``"unknown"`` outside a git checkout), ``device`` (``"cpu"`` or
        the CUDA device name), ``cuda`` (CUDA version torch was built with, ``"none"`` on CPU builds),
        ``torch_threads``.

    Examples
    --------
    >>> info = environment_info()
    >>> sorted(info)[:3], "torch" in info["packages"]
    (['cuda', 'device', 'git_commit'], True)
    """
    info = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "packages": {name: _version(name) for name in PACKAGES},
    }
    info.update(_git_info(repo_root(), timeout_s=git_timeout_s))
    info.update(_device_info())
    return info
