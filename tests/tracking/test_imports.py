"""Contract: only ``ecg_art.tracking`` imports mlflow, and only lazily (``import ecg_art.tracking`` stays light)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import ecg_art

PACKAGE = Path(ecg_art.__file__).resolve().parent


def _imports_mlflow(path: Path) -> bool:
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import) and any(a.name.split(".")[0] == "mlflow" for a in node.names):
            return True
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "mlflow":
            return True
    return False


def test_no_mlflow_outside_tracking():
    offenders = [str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py")
                 if "tracking" not in p.relative_to(PACKAGE).parts and _imports_mlflow(p)]
    assert offenders == []


def test_tracking_import_is_lazy():
    code = "import sys, ecg_art.tracking, ecg_art.evaluation; print('mlflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip() == "False"
