"""Bad input at every public entry point: a clear ecg_art error naming the argument, record or file at fault."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from ecg_art.attacks import evaluate_attacks, get_attack
from ecg_art.cli import main
from ecg_art.data import BeatConfig, load_beats, make_split, stratified_subset
from ecg_art.estimators import check_beats, make_classifier, predict_labels
from ecg_art.exceptions import (AttackError, ChecksumError, ConfigError, DataNotFoundError, EcgArtError, RecordError,
                                RegistryError, SplitError)
from ecg_art.models import BaselineCNN, get_model
from ecg_art.training import fit_classifier
from tests.reliability.conftest import LENGTH, N_CLASSES, RECORDS, tiny_classifier, tiny_problem

pytestmark = pytest.mark.filterwarnings("ignore:dropped:ecg_art.exceptions.EcgArtWarning")


def _beats(n=6, seed=5):
    return tiny_problem(n, seed=seed)


def _with_nan(x, value=np.nan):
    x = x.copy()
    x[1, 0, 3] = value
    return x


BAD_BEATS = {  # name -> (x, y, expected message)
    "nan": (lambda x, y: (_with_nan(x), y), "NaN/inf"),
    "inf": (lambda x, y: (_with_nan(x, np.inf), y), "NaN/inf"),
    "-inf": (lambda x, y: (_with_nan(x, -np.inf), y), "NaN/inf"),
    "2-d": (lambda x, y: (x[:, 0, :], y), r"`x` must have shape \(n, 1, 32\)"),
    "wrong length": (lambda x, y: (np.concatenate([x, x], axis=2), y), r"`x` must have shape \(n, 1, 32\)"),
    "strings": (lambda x, y: (x.astype(str), y), "numeric"),
    "len(x) != len(y)": (lambda x, y: (x, y[:-1]), "one label per beat"),
    "label out of range": (lambda x, y: (x, np.where(np.arange(len(y)) == 0, N_CLASSES, y)), r"labels must be in"),
    "negative label": (lambda x, y: (x, np.where(np.arange(len(y)) == 0, -1, y)), r"labels must be in"),
    "fractional label": (lambda x, y: (x, y + 0.5), "integer class indices"),
}


@pytest.mark.parametrize("case", list(BAD_BEATS))
@pytest.mark.parametrize("attack", ["fgsm", "pgd", "ta-pgd", "sap"])
def test_attack_runner_refuses_bad_beats(clf, attack, case):
    make, match = BAD_BEATS[case]
    x, y = make(*_beats())
    runner = get_attack(attack, clf, eps=0.05, batch_size=4)
    with pytest.raises(AttackError, match=rf"attack '{attack}'.*{match}"):
        runner.generate(x, y)


@pytest.mark.parametrize("case", ["nan", "inf", "2-d", "wrong length"])
def test_attack_runner_checks_beats_even_at_eps_zero(clf, case):
    make, match = BAD_BEATS[case]
    x, y = make(*_beats())
    with pytest.raises(AttackError, match=match):
        get_attack("fgsm", clf, eps=0.0).generate(x, y)


@pytest.mark.parametrize("attack", ["fgsm", "pgd", "ta-pgd", "sap"])
@pytest.mark.parametrize("shift", [-0.5, 0.5])
def test_attack_runner_refuses_beats_outside_clip_values(clf, attack, shift):
    """ART would silently clip such beats and break the eps budget; torchattacks would clamp them."""
    x, y = _beats()
    with pytest.raises(AttackError, match=rf"attack '{attack}'.*outside the classifier's clip_values"):
        get_attack(attack, clf, eps=0.05).generate(x + shift, y)
    with pytest.raises(AttackError, match="clip_values"):
        evaluate_attacks(clf, x + shift, y, attacks=attack, eps=0.05)


@pytest.mark.parametrize("case", list(BAD_BEATS))
def test_evaluate_attacks_refuses_bad_beats(clf, case):
    make, match = BAD_BEATS[case]
    x, y = make(*_beats())
    with pytest.raises(ConfigError, match=match):
        evaluate_attacks(clf, x, y, attacks="fgsm", eps=0.05)


@pytest.mark.parametrize("case", list(BAD_BEATS))
def test_fit_classifier_refuses_bad_beats(case):
    make, match = BAD_BEATS[case]
    x, y = make(*_beats(40))
    xv, yv = _beats(12, seed=6)
    with pytest.raises(ConfigError, match=match):
        fit_classifier(tiny_classifier(), x, y, validation_data=(xv, yv), nb_epochs=1, batch_size=8)
    with pytest.raises(ConfigError, match=match.replace("`x`", "`validation_data\\[0\\]`")):
        fit_classifier(tiny_classifier(), xv, yv, validation_data=(x, y), nb_epochs=1, batch_size=8)


@pytest.mark.parametrize("case", ["nan", "inf", "2-d", "wrong length", "strings"])
def test_predict_labels_refuses_bad_beats(clf, case):
    make, match = BAD_BEATS[case]
    x, _ = make(*_beats())
    with pytest.raises(ConfigError, match=match):
        predict_labels(clf, x)


@pytest.mark.parametrize("eps", [-0.01, math.nan, math.inf, -math.inf, "0.1", None, True, False, [0.1], 1j])
def test_bad_eps_names_eps(clf, eps):
    with pytest.raises(ConfigError, match="`eps`"):
        get_attack("fgsm", clf, eps=eps)
    x, y = _beats()
    with pytest.raises(ConfigError, match="`eps`"):
        evaluate_attacks(clf, x, y, attacks=["fgsm"], eps=[0.01, eps])


@pytest.mark.parametrize("kwargs, match", [
    ({"attacks": None}, "`attacks`"), ({"attacks": []}, "`attacks`"), ({"eps": []}, "`eps`"),
    ({"batch_size": 0}, "`batch_size`"), ({"batch_size": True}, "`batch_size`"),
])
def test_evaluate_attacks_bad_arguments(clf, kwargs, match):
    x, y = _beats()
    with pytest.raises(ConfigError, match=match):
        evaluate_attacks(clf, x, y, **{"attacks": "fgsm", "eps": 0.05, **kwargs})
    with pytest.raises(ConfigError, match="empty"):
        evaluate_attacks(clf, x[:0], y[:0], attacks="fgsm", eps=0.05)


def test_unknown_names_list_the_known_ones(clf):
    with pytest.raises(RegistryError, match="unknown attack 'nope'.*fgsm.*pgd"):
        get_attack("nope", clf, eps=0.1)
    x, y = _beats()
    with pytest.raises(RegistryError, match="unknown attack 'nope'"):
        evaluate_attacks(clf, x, y, attacks=["fgsm", "nope"], eps=0.1)
    with pytest.raises(RegistryError, match="unknown model 'resnet9000'.*baseline_cnn"):
        get_model("resnet9000")


@pytest.mark.parametrize("kwargs, match", [
    ({"max_iter": 0}, "max_iter"), ({"max_iter": True}, "max_iter"), ({"eps_step": math.nan}, "eps_step"),
    ({"eps_step": math.inf}, "eps_step"), ({"num_random_init": -1}, "num_random_init"),
])
def test_bad_pgd_parameters(clf, kwargs, match):
    with pytest.raises(ConfigError, match=match):
        get_attack("pgd", clf, eps=0.05, **kwargs)


@pytest.mark.parametrize("kwargs, match", [({"eps": math.nan}, "`eps`"), ({"eps": math.inf}, "`eps`"),
                                           ({"eps": 0.1, "eps_step": math.nan}, "eps_step")])
def test_sap_direct_construction_refuses_non_finite_budgets(clf, kwargs, match):
    from attacks_custom.sap import SmoothAdversarialPerturbation

    with pytest.raises(ConfigError, match=match):
        SmoothAdversarialPerturbation(clf, **kwargs)


@pytest.mark.parametrize("kwargs, match", [
    ({"nb_classes": 3}, r"outputs shape \(2, 5\) but `nb_classes`=3"),
    ({"nb_classes": 7}, "`nb_classes`=7"),
    ({"nb_classes": 1}, "`nb_classes`"), ({"nb_classes": 5.0}, "`nb_classes`"),
    ({"input_length": True}, "`input_length`"), ({"input_length": 0}, "`input_length`"),
    ({"lr": True}, "`lr`"), ({"lr": math.nan}, "`lr`"), ({"lr": -1e-3}, "`lr`"),
    ({"clip_values": (0.0, math.nan)}, "`clip_values`"), ({"clip_values": (1.0, 0.0)}, "`clip_values`"),
    ({"clip_values": (0, 1, 2)}, "`clip_values`"), ({"clip_values": "01"}, "`clip_values`"),
    ({"class_weights": [1.0, 2.0]}, "`class_weights`"), ({"class_weights": [1, 1, 1, 1, math.nan]}, "`class_weights`"),
    ({"device": "tpu"}, "`device`"),
])
def test_make_classifier_bad_arguments(kwargs, match):
    model = BaselineCNN(input_length=64, channels=(4, 4), kernel_sizes=(3, 3), hidden=8)
    with pytest.raises(ConfigError, match=match):
        make_classifier(model, **{"input_length": 64, "device": "cpu", **kwargs})


@pytest.mark.parametrize("kwargs, match", [
    ({"nb_epochs": 0}, "`nb_epochs`"), ({"nb_epochs": True}, "`nb_epochs`"), ({"batch_size": 2.5}, "`batch_size`"),
    ({"patience": 0}, "`patience`"), ({"seed": None}, "`seed`"), ({"seed": 1.5}, "`seed`"),
    ({"validation_data": None}, "`validation_data`"), ({"validation_data": (np.zeros((0, 1, LENGTH)), [])}, "empty"),
    ({"resume": True}, "checkpoint_dir"),
])
def test_fit_classifier_bad_arguments(kwargs, match):
    x, y = _beats(24)
    with pytest.raises(ConfigError, match=match):
        fit_classifier(tiny_classifier(), x, y, **{"validation_data": (x, y), "nb_epochs": 1, **kwargs})


def test_check_beats_accepts_good_input_unchanged():
    x, y = _beats()
    x2, y2 = check_beats(x, y, classifier=tiny_classifier())
    assert x2 is x and np.array_equal(y2, y)
    onehot = np.eye(N_CLASSES)[y]
    assert check_beats(x, onehot, classifier=tiny_classifier())[1] is not None


# ----------------------------------------------------------------------------------------------- data entry points
@pytest.mark.parametrize("damage, error, match", [
    ("no_dir", DataNotFoundError, "does not exist"),
    ("empty_dir", DataNotFoundError, "no WFDB records"),
    ("missing_atr", DataNotFoundError, "101"),
    ("missing_dat", DataNotFoundError, "101"),
    ("truncated_dat", RecordError, r"101.*101\.dat.*truncated"),
    ("garbage_hea", RecordError, r"101.*101\.hea"),
    ("garbage_atr", RecordError, r"101.*101\.atr"),
    ("flipped_bytes", ChecksumError, r"101.*101\.dat.*SHA-256"),
])
def test_load_beats_names_the_bad_record_or_file(db, tmp_path, damage, error, match):
    path = db
    if damage == "no_dir":
        path = tmp_path / "nowhere"
    elif damage == "empty_dir":
        path = tmp_path / "empty"
        path.mkdir()
    elif damage.startswith("missing_"):
        (db / f"101.{damage.split('_')[1]}").unlink()
    elif damage == "truncated_dat":
        data = (db / "101.dat").read_bytes()
        (db / "101.dat").write_bytes(data[: len(data) // 2])
    elif damage == "garbage_hea":
        (db / "101.hea").write_text("101 two 3.6e2 nonsense\n")
    elif damage == "garbage_atr":
        (db / "101.atr").write_bytes(b"\xff\xfe garbage " * 7)
    elif damage == "flipped_bytes":
        with open(db / "101.dat", "r+b") as fh:
            fh.seek(500)
            fh.write(b"\x00" * 32)
    with pytest.raises(error, match=match):
        load_beats(path, BeatConfig(records=RECORDS), cache_dir=tmp_path / "cache",
                   verify=damage not in ("garbage_atr",))


def test_cli_maps_data_errors_to_exit_code_2(db, tmp_path, capsys):
    (db / "101.dat").write_bytes(b"short")
    assert main(["data", "info", "--data-dir", str(db), "--cache-dir", str(tmp_path / "c")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ecg-art: error:") and "Traceback" not in err


@pytest.mark.parametrize("call, match", [
    (lambda ds: make_split(ds, "cross"), "scheme"),
    (lambda ds: make_split(ds, val_fraction=1.0), "val_fraction"),
    (lambda ds: make_split(ds, test_fraction=-0.1), "test_fraction"),
    (lambda ds: make_split(ds, val_fraction=math.nan), "val_fraction"),
    (lambda ds: make_split(ds, val_fraction=0.6, test_fraction=0.5), r"val_fraction.*test_fraction"),
    (lambda ds: make_split(ds, seed=None), "seed"),
    (lambda ds: stratified_subset(np.arange(len(ds)), ds.y, 0, seed=0), "`n`"),
    (lambda ds: stratified_subset(np.arange(len(ds)), ds.y, 10, seed=None), "`seed`"),
    (lambda ds: stratified_subset(np.arange(len(ds) + 5), ds.y, 10, seed=0), "`indices`"),
    (lambda ds: stratified_subset(np.arange(len(ds)) - 1, ds.y, 10, seed=0), "`indices`"),
    (lambda ds: stratified_subset(np.arange(len(ds)) + 0.5, ds.y, 10, seed=0), "`indices`"),
    (lambda ds: stratified_subset(np.zeros(20, int), ds.y, 10, seed=0), "duplicates"),
    (lambda ds: stratified_subset(np.arange(len(ds)), ds.y, 10, seed=0, mode="balanced"), "`mode`"),
])
def test_split_entry_points_name_the_parameter(db, tmp_path, call, match):
    ds = load_beats(db, BeatConfig(records=RECORDS), cache_dir=tmp_path / "cache")
    with pytest.raises(SplitError, match=match):
        call(ds)


def test_every_error_is_an_ecg_art_error():
    """Callers (and the CLI) can catch EcgArtError for all of the above; ConfigError is also a ValueError."""
    for cls in (AttackError, ChecksumError, ConfigError, DataNotFoundError, RecordError, RegistryError, SplitError):
        assert issubclass(cls, EcgArtError)
    assert issubclass(ConfigError, ValueError) and issubclass(AttackError, ValueError)
    assert torch.is_tensor(torch.zeros(1))  # torch imported for the fixtures' models
