"""A zoo model re-scored on its rebuilt test split (ECG_ART_DATA, else <repo>/../shared/data/mitdb) gives its card's
clean accuracy beat for beat; ``ecg-art benchmark zoo:<name>`` runs end to end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ecg_art import zoo
from ecg_art.cli import main
from tests.realdata import require_mitdb

pytestmark = pytest.mark.realdata


@pytest.fixture(scope="module")
def mitdb() -> Path:
    return require_mitdb()


def _check(name: str, mitdb: Path) -> None:
    got = zoo.rescore(name, data_dir=mitdb, device="cpu")
    card = zoo.load_card(name)
    assert got["hashes_match"], f"{name}: the rebuilt data or split differs from the card's"
    assert (got["clean_correct"], got["n_test"]) == (card.metrics["clean_correct"], card.metrics["n_test"])
    assert got["clean_accuracy"] == pytest.approx(card.metrics["clean_accuracy"], abs=1e-6) and got["matches"]


def test_at_nsr_intra_rescored_equals_its_card(mitdb):
    # one model keeps this test short; tools/publish_zoo.py re-scores every model the same way before writing its card
    _check("at-nsr-intra", mitdb)


def test_benchmark_a_zoo_model(mitdb, tmp_path, capsys):
    out = tmp_path / "bench"
    code = main(["benchmark", "zoo:at-nsr-intra", "--data-dir", str(mitdb), "--suite", "quick", "--n", "20",
                 "--eps", "0.05", "--no-track", "--output", str(out), "--device", "cpu"])
    assert code == 0
    record = json.loads((out / "benchmark.json").read_text())
    assert record["model"] == "zoo:at-nsr-intra" and record["split"] == "intra" and record["n"] == 20
    assert "zoo:at-nsr-intra: quick suite, n=20" in capsys.readouterr().out
