"""The shipped zoo: valid cards, checkpoints that load into their models, clear errors, ``list zoo``, ``zoo:`` specs."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
import torch

from ecg_art import zoo
from ecg_art.cli import main
from ecg_art.evaluation import load_model_spec, parse_model_spec
from ecg_art.exceptions import CheckpointError, ConfigError, RegistryError
from ecg_art.models import count_parameters

NAMES = zoo.list_models()
README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_full_profile_models_are_shipped():
    assert {"baseline-intra", "at-nsr-intra", "baseline-inter", "at-nsr-inter"} <= set(NAMES)
    for name in NAMES:
        size = (zoo.ZOO_DIR / f"{name}.pt").stat().st_size
        assert size < 500_000, f"{name}: checkpoint of {size} bytes"


@pytest.mark.parametrize("name", NAMES)
def test_card_is_valid_and_consistent(name):
    card = zoo.load_card(name)
    assert card.name == name and card.checkpoint == f"{name}.pt"
    m, s = card.metrics, card.split
    assert m["clean_correct"] / m["n_test"] == pytest.approx(m["clean_accuracy"], abs=1e-12)
    assert m["row"]["clean"] == pytest.approx(m["clean_accuracy"], abs=1e-12)
    assert s["n_test"] == m["n_test"] and s["scheme"] in ("intra", "inter") and name.endswith(s["scheme"])
    assert re.fullmatch(r"[0-9a-f]{16}", card.data["data_hash"]) and re.fullmatch(r"[0-9a-f]{16}", s["split_hash"])
    assert re.fullmatch(r"[0-9a-f]{40}", card.training["commit"]) and card.training["commit_note"]
    assert card.training["command"].startswith("ecg-art run ") and card.training["profile"] == "full"
    assert card.data["beat_config"]["window"] == card.model_kwargs.get("input_length",
                                                                       card.model_kwargs.get("context_length"))
    assert zoo.ModelCard.from_dict(json.loads(json.dumps(card.to_dict()))) == card  # round trip


@pytest.mark.parametrize("name", NAMES)
def test_checkpoint_loads_into_its_model(name):
    card = zoo.load_card(name)
    model = zoo.load_model(name)
    assert not model.training and count_parameters(model) == card.metrics["row"]["params"]
    length = int(card.data["beat_config"]["window"])
    x = torch.rand(2, 1, length, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert model(x).shape == (2, 5)


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(RegistryError, match=r"unknown zoo model 'at-nsr-intar'; known: .*at-nsr-intra"):
        zoo.load_card("at-nsr-intar")
    with pytest.raises(RegistryError, match="unknown zoo model"):
        zoo.load_model("../baseline-intra")
    assert zoo.load_card("ZOO:At-NSR-Intra").name == "at-nsr-intra"


@pytest.fixture
def shelf(tmp_path) -> Path:
    for name in ("baseline-intra",):
        for ext in ("json", "pt"):
            shutil.copy(zoo.ZOO_DIR / f"{name}.{ext}", tmp_path / f"{name}.{ext}")
    return tmp_path


def test_a_changed_checkpoint_is_refused(shelf):
    path = shelf / "baseline-intra.pt"
    raw = bytearray(path.read_bytes())
    raw[-100] ^= 0xFF
    path.write_bytes(bytes(raw))
    with pytest.raises(CheckpointError, match="does not match the card's SHA-256"):
        zoo.load_model("baseline-intra", directory=shelf)
    path.unlink()
    with pytest.raises(CheckpointError, match="is missing"):
        zoo.load_model("baseline-intra", directory=shelf)


@pytest.mark.parametrize("edit, match", [
    (lambda c: c.pop("sha256"), "lacks `sha256`"),
    (lambda c: c["split"].pop("split_hash"), "`split` lacks `split_hash`"),
    (lambda c: c.update(format="other/1"), "has `format` 'other/1'"),
    (lambda c: c["metrics"].update(clean_correct=1), "is not clean_correct / n_test"),
    (lambda c: c.update(clip_values=[1, 0]), "`clip_values` must be"),
    (lambda c: c.update(name="other"), "names the model 'other'"),
])
def test_a_malformed_card_names_the_field(shelf, edit, match):
    path = shelf / "baseline-intra.json"
    card = json.loads(path.read_text())
    edit(card)
    path.write_text(json.dumps(card))
    with pytest.raises(ConfigError, match=match):
        zoo.load_card("baseline-intra", directory=shelf)


def test_list_zoo(capsys):
    assert main(["list", "zoo"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    note = [line for line in lines if line.startswith("* ")]  # the footnote of re-scored worst cases, when any
    lines = [line for line in lines if not line.startswith("* ")]
    assert [line.split()[0] for line in lines] == NAMES
    at_nsr = next(line for line in lines if line.startswith("at-nsr-intra "))
    card = zoo.load_card("at-nsr-intra")
    assert f"clean {100 * card.metrics['clean_accuracy']:6.2f} %" in at_nsr and "intra" in at_nsr
    rescored = {n for n in NAMES if "rescored" in zoo.load_card(n).extra}
    assert {line.split()[0] for line in lines if " %*" in line} == rescored
    assert len(note) == (1 if rescored else 0)


def test_zoo_model_spec():
    spec = parse_model_spec("zoo:at-nsr-intra")
    assert (spec.kind, spec.source, spec.model_name, spec.describe()) == ("zoo", "at-nsr-intra", "baseline_cnn",
                                                                          "zoo:at-nsr-intra")
    model, parsed = load_model_spec(spec)
    assert parsed is spec and type(model).__name__ == "BaselineCNN"
    with pytest.raises(RegistryError, match="unknown zoo model 'zoo:nope'; known: "):
        parse_model_spec("zoo:nope")
    with pytest.raises(ConfigError, match="takes its model and kwargs from its card"):
        parse_model_spec("zoo:at-nsr-intra", model_kwargs={"input_length": 64})


def test_benchmark_refuses_another_split_before_loading_data(capsys, tmp_path):
    code = main(["benchmark", "zoo:at-nsr-intra", "--split", "inter", "--data-dir", str(tmp_path / "none"),
                 "--no-track"])
    assert code == 2
    assert "trained on the 'intra' split" in capsys.readouterr().err


def test_fusion_classifier_predicts_as_deployed_with_bpda_gradients():
    if "fusion-intra" not in NAMES:
        pytest.skip("no fusion model shipped")
    clf = zoo.make_zoo_classifier("fusion-intra", device="cpu")
    assert clf.model.feature_mode == "bpda" and tuple(float(v) for v in clf.clip_values) == (-4.0, 5.0)
    assert clf.input_shape == (1, 4320)


def _readme_zoo_rows() -> dict[str, list[str]]:
    text = README.read_text()
    section = text.split("\n## Model zoo\n", 1)[1].split("\n## ", 1)[0]
    rows = [line.strip("|").split("|") for line in section.splitlines() if line.startswith("| `")]
    return {cells[0].strip().strip("`"): [c.strip() for c in cells[1:]] for cells in rows}


def test_readme_table_is_the_cards():
    rows = _readme_zoo_rows()
    assert sorted(rows) == NAMES
    for name, cells in rows.items():
        card = zoo.load_card(name)
        row = card.metrics["row"]
        want = [card.model, card.split["scheme"], f"{100 * card.metrics['clean_accuracy']:.2f}",
                f"{card.metrics['clean_correct']:,} / {card.metrics['n_test']:,}",
                f"{100 * row['pgd@0.05']:.2f}", f"{100 * row['sap@0.05']:.2f}", f"{100 * row['worst@0.05']:.2f}",
                f"{100 * row['acc_robust@0.05']:.2f}"]
        rescored = card.extra.get("rescored", {}).get("derived", {})
        want.append(f"{100 * rescored['worst@0.05']:.2f}" if "worst@0.05" in rescored else "")
        assert cells[:len(want)] == want, name


def test_a_rescoring_is_recorded_in_the_card_and_listed(tmp_path):
    """``record_rescore`` adds the ``rescored`` block and keeps the run's metrics; the summary then reports the
    re-scored worst case, marked; malformed results are refused with the card's name."""
    card = json.loads((zoo.ZOO_DIR / "at-nsr-inter.json").read_text())
    card.pop("rescored", None)
    (tmp_path / "at-nsr-inter.json").write_text(json.dumps(card))
    before = zoo.load_card("at-nsr-inter", directory=tmp_path)
    assert "%*" not in before.summary()
    result = {"derived": {"worst@0.05": 0.8, "acc_robust@0.05": 0.9}, "attacks": {"autoattack@0.05": 0.81},
              "n": 2000, "command": "python benchmarks/rescore_row.py zoo:at-nsr-inter"}
    zoo.record_rescore("at-nsr-inter", result, directory=tmp_path)
    after = zoo.load_card("at-nsr-inter", directory=tmp_path)
    assert after.metrics == before.metrics and after.extra["rescored"] == result
    assert "worst case @0.05  80.00 %*" in after.summary()
    for bad, match in (({k: v for k, v in result.items() if k != "n"}, "lacks `n`"),
                       ({**result, "derived": {"acc_robust@0.05": 0.9}}, "no `worst@<eps>`")):
        with pytest.raises(ConfigError, match=f"zoo model 'at-nsr-inter'.*{match}"):
            zoo.record_rescore("at-nsr-inter", bad, directory=tmp_path)

