"""Fixtures of the report tests: rows shaped like the paper job's (models, a fusion model, the detector) and a paper
output folder holding the ``table.md`` / ``table.json`` and an adversarial-beat figure, as ``recipes.paper.run``
writes them."""

from __future__ import annotations

import json

import pytest
from matplotlib.figure import Figure

from recipes.paper import tables

NAN = float("nan")


@pytest.fixture
def paper_rows() -> list[dict]:
    sens = {"N": 0.991, "S": 0.712, "V": 0.934, "F": 0.615, "Q": NAN}
    ppv = {"N": 0.985, "S": 0.803, "V": 0.9, "F": 0.5, "Q": 0.0}
    return [
        {"model": "baseline", "clean": 0.9712, "macro_f1": 0.8811, "params": 52163, "pgd@0.05": 0.1234,
         "sap@0.05": 0.2345, "autoattack@0.05": 0.0712, "worst@0.05": 0.0521, "acc_robust@0.05": 0.3011,
         "sens": sens, "ppv": ppv, "curve": {"eps": [0.0, 0.01, 0.05, 0.1], "worst": [0.97, 0.6, 0.06, 0.0], "n": 100}},
        {"model": "at-nsr", "clean": 0.9655, "macro_f1": 0.8512, "params": 52163, "pgd@0.05": 0.8801,
         "sap@0.05": 0.8702, "autoattack@0.05": 0.8633, "worst@0.05": 0.8604, "acc_robust@0.05": 0.9123,
         "sens": {**sens, "S": 0.68}, "ppv": ppv,
         "curve": {"eps": [0.0, 0.01, 0.05, 0.1], "worst": [0.96, 0.93, 0.86, 0.51], "n": 100}},
        {"model": "fusion <ctx>", "clean": 0.9688, "macro_f1": 0.8433, "params": 60021, "pgd@0.05": 0.9102,
         "sap@0.05": 0.9051, "worst@0.05": 0.8911, "adaptive@0.05": 0.5522, "beat_only@0.05": 0.6133,
         "sens": {**sens, "Q": 0.25}, "ppv": ppv},
        {"model": "detector", "detector_auc": 0.9531, "detector_auc_adaptive": 0.6044, "detector_tpr5": 0.8123},
    ]


@pytest.fixture
def paper_dir(tmp_path, paper_rows):
    out = tmp_path / "paper-quick-intra-s0"
    out.mkdir()
    (out / "table.md").write_text(tables(paper_rows, (0.05,)) + "\n")
    fig = Figure(figsize=(2, 1))
    fig.subplots().plot([0, 1], [1, 0])
    fig.savefig(out / "adversarial_beats-at-nsr.png")  # as the paper job copies each stage's figure
    (out / "table.json").write_text(json.dumps({"rows": paper_rows, "missing": [], "seconds": 754.2,
                                                "config": {"profile": "quick", "split": "intra", "seed": 0}}))
    return out
