"""benchmark(): record structure, worst case, sanity flags; model specs; compare on a sqlite store; CLI error paths."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from ecg_art.cli import main
from ecg_art.evaluation import (BenchmarkRecord, SuiteEntry, benchmark, benchmark_figure, compare_runs,
                                comparison_figure, comparison_table, get_suite, load_model_spec, parse_model_spec)
from ecg_art.evaluation.record import AttackScore, sanity_checks
from ecg_art.exceptions import CheckpointError, ConfigError, RegistryError
from ecg_art.io import save_checkpoint
from ecg_art.models import BaselineCNN
from tests.attacks.conftest import trained_classifier  # noqa: F401  (fixture)

EPS = (0.02, 0.1)


@pytest.fixture(scope="module")
def record(trained_classifier):  # noqa: F811
    clf, x, y = trained_classifier
    return benchmark(clf, x, y, suite="quick", eps=EPS, n=30, seed=0, model="tiny", split="synthetic",
                     unbounded_iter=10)


def test_record_structure_and_json(record, tmp_path):
    assert isinstance(record, BenchmarkRecord) and record.threat_model == "Linf" and record.n == 30
    assert record.eps == EPS and [a.label for a in record.attacks] == ["fgsm", "pgd-20", "apgd-ce", "sap"]
    assert all(len(a.robust_accuracy) == len(EPS) and all(0 <= v <= 1 for v in a.robust_accuracy)
               for a in record.attacks)
    assert {"python", "torch", "adversarial-robustness-toolbox", "torchattacks"} <= set(record.versions)
    back = json.loads(record.save(tmp_path / "r.json").read_text())
    assert back["clean_accuracy"] == pytest.approx(record.clean_accuracy)
    assert back["attacks"][1]["robust_accuracy"] == list(record.attacks[1].robust_accuracy)
    assert "worst case" in record.table() and len(benchmark_figure(record).axes) == 1


def test_worst_case_is_at_most_every_attack_and_clean(record):
    for i, w in enumerate(record.worst_case):
        assert w <= min(a.robust_accuracy[i] for a in record.attacks) + 1e-12
        assert w <= record.clean_accuracy
    assert record.worst_case[-1] <= record.worst_case[0]
    assert record.attacks[1].robust_accuracy[-1] < record.clean_accuracy  # PGD at eps=0.1 hurts the tiny model


def test_sanity_checks_are_computed(record):
    names = {c.name for c in record.sanity}
    assert {"monotone_in_eps/pgd-20", "pgd-20<=fgsm", "worst_case<=each", "unbounded_attack"} <= names
    unbounded = next(c for c in record.sanity if c.name == "unbounded_attack")
    assert unbounded.passed and record.unbounded_accuracy <= 0.05


def test_sanity_flags_a_non_monotone_attack_and_masked_gradients():
    weak = AttackScore("fgsm", "fgsm", {}, (0.01, 0.1), (0.5, 0.5), 0.0)
    odd = AttackScore("pgd-20", "pgd", {}, (0.01, 0.1), (0.4, 0.9), 0.0)
    checks = {c.name: c for c in sanity_checks((weak, odd), (0.4, 0.5), eps=(0.01, 0.1), clean_accuracy=0.95,
                                               unbounded_accuracy=0.6, tolerance=0.02, unbounded_max_accuracy=0.05)}
    assert not checks["monotone_in_eps/pgd-20"].passed and checks["monotone_in_eps/fgsm"].passed
    assert not checks["pgd-20<=fgsm"].passed and "0.900 > 0.500" in checks["pgd-20<=fgsm"].detail
    assert not checks["unbounded_attack"].passed and "masked" in checks["unbounded_attack"].detail


def test_min_norm_entries_are_projected_and_failures_skipped(trained_classifier):  # noqa: F811
    clf, x, y = trained_classifier

    def broken(classifier, *, eps, batch_size, **kw):
        from ecg_art.exceptions import AttackError

        raise AttackError("cannot run here")

    suite = [SuiteEntry("deepfool", "ta-deepfool", {"steps": 10}, min_norm=True), SuiteEntry("broken", broken)]
    rec = benchmark(clf, x, y, suite=suite, eps=(0.001, 0.2), n=None, unbounded_iter=0)
    assert rec.skipped == {"broken": "cannot run here"} and math.isnan(rec.unbounded_accuracy)
    acc = rec.attacks[0].robust_accuracy
    assert acc[0] >= acc[1] and acc[0] >= rec.clean_accuracy - 0.1  # a 0.001 ball keeps almost nothing of DeepFool


@pytest.mark.parametrize("kw, match", [({"eps": [0.0]}, "`eps`"), ({"suite": "huge"}, "unknown `suite`"),
                                       ({"n": 0}, "`n`")])
def test_bad_arguments(trained_classifier, kw, match):  # noqa: F811
    clf, x, y = trained_classifier
    with pytest.raises(ConfigError, match=match):
        benchmark(clf, x, y, **{"suite": "quick", "eps": EPS, **kw})


def test_suites():
    assert [e.label for e in get_suite("standard")] == ["fgsm", "pgd-20", "pgd-100", "apgd-ce", "apgd-dlr",
                                                        "cw-linf", "deepfool", "square", "sap", "autoattack"]
    autoattack = get_suite("standard")[-1]
    assert autoattack.attack == "autoattack" and not autoattack.kwargs  # the standard settings, nothing weakened


def test_sanity_flags_an_autoattack_above_its_components():
    apgd = AttackScore("apgd-ce", "ta-apgd", {"steps": 100}, (0.01, 0.1), (0.6, 0.3), 0.0)
    square = AttackScore("square", "ta-square", {"n_queries": 1000}, (0.01, 0.1), (0.7, 0.5), 0.0)
    dlr = AttackScore("apgd-dlr", "ta-apgd-dlr", {}, (0.01, 0.1), (0.1, 0.1), 0.0)  # no component of AutoAttack
    fine = AttackScore("autoattack", "autoattack", {}, (0.01, 0.1), (0.55, 0.3), 0.0)
    broken = AttackScore("autoattack", "autoattack", {}, (0.01, 0.1), (0.55, 0.4), 0.0)  # above APGD-CE at 0.1

    def check(aa):
        got = sanity_checks((apgd, square, dlr, aa), (0.1, 0.1), eps=(0.01, 0.1), clean_accuracy=0.9,
                            unbounded_accuracy=0.0, tolerance=0.02, unbounded_max_accuracy=0.05)
        return {c.name: c for c in got}["autoattack<=components"]

    assert check(fine).passed and "apgd-ce, square" in check(fine).detail
    assert not check(broken).passed and check(broken).detail == "eps=0.1: 0.400 > apgd-ce 0.300"
    alone = sanity_checks((fine,), (0.55, 0.3), eps=(0.01, 0.1), clean_accuracy=0.9, unbounded_accuracy=float("nan"),
                          tolerance=0.02, unbounded_max_accuracy=0.05)
    assert "autoattack<=components" not in {c.name for c in alone}  # nothing to compare with


# --- model specifications -------------------------------------------------------------------------------------------

def test_model_spec_forms(tmp_path):
    path = save_checkpoint(tmp_path / "m.pt", {"model": BaselineCNN(input_length=64, hidden=8).state_dict(),
                                               "model_kwargs": {"hidden": 8}})
    assert parse_model_spec("runs:/abc/model").kind == "mlflow"
    assert parse_model_spec(str(path)).model_name is None
    model, spec = load_model_spec(f"baseline_cnn:{path}", input_length=64)
    assert spec.model_name == "baseline_cnn" and spec.model_kwargs == {"hidden": 8, "input_length": 64}
    model2, _ = load_model_spec(str(path), input_length=64)  # no name stored: baseline_cnn assumed
    assert all(np.array_equal(a.detach(), b.detach()) for a, b in zip(model.parameters(), model2.parameters()))
    with pytest.raises(CheckpointError, match="does not fit"):
        load_model_spec(str(path), model_kwargs={"hidden": 16})


@pytest.mark.parametrize("spec, error, match", [
    ("baseline_cnn", ConfigError, "needs weights"),
    ("no_such_model:x.pt", RegistryError, "no_such_model"),
    ("no_such_model", RegistryError, "unknown model 'no_such_model'"),
    ("missing/best.pt", CheckpointError, "missing/best.pt"),
])
def test_bad_model_specs(spec, error, match):
    with pytest.raises(error, match=match):
        parse_model_spec(spec)


@pytest.mark.slow
def test_mlflow_model_uri_round_trip(tmp_path):
    import torch

    from ecg_art.estimators import make_classifier
    from ecg_art.tracking import Tracker

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    model = BaselineCNN(input_length=64, hidden=8).eval()
    with Tracker("models", run_name="m", tracking_uri=uri) as run:
        run.log_model(model, name="model", input_example=np.zeros((2, 1, 64), np.float32))
        run_id = run.run_id
    loaded, spec = load_model_spec(f"runs:/{run_id}/model", tracking_uri=uri)
    x = np.random.default_rng(0).random((7, 1, 64), dtype=np.float32)
    clf = make_classifier(loaded, input_length=64, device="cpu")  # train()/eval() work on the exported graph
    np.testing.assert_allclose(clf.predict(x), model(torch.from_numpy(x)).detach().numpy(), atol=1e-5)
    assert spec.kind == "mlflow" and np.abs(clf.loss_gradient(x, np.zeros(7, dtype=np.int64))).max() > 0


# --- CLI: argument parsing and error paths (exit code 2, the bad name in the message) --------------------------------

@pytest.mark.parametrize("argv, needle", [
    (["benchmark", "no_such_model:x.pt"], "no_such_model"),
    (["benchmark", "baseline_cnn"], "needs weights"),
    (["benchmark", "m.pt", "--suite", "nope"], "nope"),
    (["benchmark", "m.pt", "--eps", "0.1,abc"], "--eps"),
    (["benchmark", "m.pt", "--defence", "art.defences.preprocessor.NoSuch"], "art.defences.preprocessor.NoSuch"),
    (["benchmark", "m.pt", "--defence", "ecg_art.defences.BandpassFilter", "--defence-kwargs", "[1]"],
     "--defence-kwargs"),
    (["benchmark", "m.pt", "--defence", "art.defences.trainer.AdversarialTrainerTRADESPyTorch"], "trainer"),
    (["benchmark", "m.pt", "--data-dir", "nowhere-dir"], "nowhere-dir"),
])
def test_cli_benchmark_errors(tmp_path, monkeypatch, capsys, argv, needle):
    monkeypatch.chdir(tmp_path)
    save_checkpoint(tmp_path / "m.pt", {"model": BaselineCNN().state_dict()})
    assert main(argv + ["--no-track"]) == 2
    assert needle in capsys.readouterr().err


# --- compare ----------------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def store(tmp_path_factory):
    from ecg_art.tracking import Tracker

    uri = f"sqlite:///{tmp_path_factory.mktemp('mlflow') / 'mlflow.db'}"
    for name, model, acc in (("base", "baseline_cnn", 0.9), ("at", "baseline_cnn", 0.8)):
        with Tracker("cmp", run_name=name, tracking_uri=uri) as run:
            run.log_params({"name": name, "model": model})
            run.log_metrics({"test_accuracy": acc, "adv_acc_pgd_eps0.05": acc / 3})
    return uri


def test_compare_runs_table_and_figure(store):
    rows, params, metrics = compare_runs("cmp", tracking_uri=store)
    assert [r["run_name"] for r in rows] == ["at", "base"] and params == ["name", "model"]
    assert metrics == ["test_accuracy", "adv_acc_pgd_eps0.05"] and rows[1]["test_accuracy"] == pytest.approx(0.9)
    assert rows[0]["device"] == "cpu" or rows[0]["device"]
    table = comparison_table(rows, params=params, metrics=metrics, percent=True)
    assert "| base | base | baseline_cnn |" in table and "90.00" in table
    assert len(comparison_figure(rows, metrics=metrics).axes) == 1
    with pytest.raises(ConfigError, match="no_such_metric"):
        compare_runs("cmp", tracking_uri=store, metrics=["no_such_metric"])


def test_cli_compare_writes_table_and_plot(store, tmp_path, capsys):
    out = tmp_path / "cmp.md"
    assert main(["compare", "--experiment", "cmp", "--metric", "test_accuracy", "--tracking-uri", store,
                 "--output", str(out)]) == 0
    assert "test_accuracy" in out.read_text() and (tmp_path / "cmp.png").stat().st_size > 0
    assert "| at |" in capsys.readouterr().out
    assert main(["compare", "--experiment", "nope", "--tracking-uri", store]) == 2
    assert "nope" in capsys.readouterr().err
