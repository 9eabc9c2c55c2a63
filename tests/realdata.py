"""Where the real-data tests find the shared databases: the folder an environment variable names, else
``<repo>/../shared/data/<name>``; a test without them skips, saying what to set."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def shared_data(env: str, name: str, probe: str) -> Path | None:
    """The folder ``$env`` names, else ``../shared/data/<name>``, whichever holds the file ``probe``; None if neither."""
    candidates = [Path(os.environ[env])] if os.environ.get(env) else []
    candidates.append(SHARED_DATA / name)
    return next((p for p in candidates if (p / probe).is_file()), None)


def require_shared_data(env: str, name: str, probe: str, what: str) -> Path:
    """:func:`shared_data`, or skip the test naming ``what`` is missing and how to provide it."""
    path = shared_data(env, name, probe)
    if path is None:
        pytest.skip(f"{what} not found (set {env} or provide ../shared/data/{name})")
    return path


def mitdb_dir() -> Path | None:
    """The real MIT-BIH folder (``ECG_ART_DATA``, else ``../shared/data/mitdb``), or None."""
    return shared_data("ECG_ART_DATA", "mitdb", "100.hea")


def require_mitdb() -> Path:
    """The real MIT-BIH folder, or skip."""
    return require_shared_data("ECG_ART_DATA", "mitdb", "100.hea", "real MIT-BIH")
