"""``compare_runs`` / ``ecg-art compare`` on a paper-like MLflow sqlite store: the latest experiment by default, the
headline metrics, runs without them left out, the detector's AUCs in a panel of their own."""

from __future__ import annotations

import math

import pytest

from ecg_art.cli import main
from ecg_art.evaluation import compare_runs, comparison_figure, comparison_table, headline_metrics
from ecg_art.tracking import latest_experiment
from ecg_art.evaluation.compare import metric_label
from ecg_art.exceptions import TrackingError

MODEL = {"test_accuracy": 0.96, "test_macro_f1": 0.8, "adv_acc_pgd_eps0.05": 0.7, "adv_acc_sap_eps0.05": 0.75,
         "adv_acc_fgsm_eps0.05": 0.8, "adv_acc_autoattack_eps0.05": 0.64, "apgd-ce-dlr_eps0.05": 0.65,
         "autoattack_eps0.05": 0.66, "worst_eps0.05": 0.6, "acc_robust_eps0.05": 0.8,
         "snr_db_pgd_eps0.05": 20.0, "stage_seconds": 12.0}
FUSION = {"test_accuracy": 0.97, "adv_acc_pgd_eps0.05": 0.9, "adv_acc_sap_eps0.05": 0.9,
          "adaptive_acc_eps0.05": 0.5, "beat_only_acc_eps0.05": 0.55, "adv_acc_bpda-pgd_eps0.05": 0.6}
DETECTOR = {"detector_auc": 0.95, "detector_auc_seen": 0.97, "detector_auc_unseen": 0.9,
            "detector_auc_adaptive": 0.6, "detector_tpr5": 0.8, "det_val_auc": 0.9, "stage_seconds": 5.0}


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """An older experiment, then a paper job: a parent run with model, fusion and detector children."""
    from ecg_art.tracking import Tracker

    uri = f"sqlite:///{tmp_path_factory.mktemp('mlflow') / 'mlflow.db'}"
    with Tracker("older", run_name="base", tracking_uri=uri) as run:
        run.log_metrics({"test_accuracy": 0.5})
    with Tracker("ecg_art-paper", run_name="paper-quick", tracking_uri=uri) as parent:
        parent.log_params({"name": "paper", "profile": "quick"})
        for stage, metrics in (("baseline", MODEL), ("at-nsr", {k: v + 0.01 for k, v in MODEL.items()}),
                               ("fusion", FUSION), ("detector", DETECTOR)):
            with parent.child(stage) as child:
                child.log_params({"name": stage, "profile": "quick"})
                child.log_metrics(metrics)
        parent.log_metrics({"total_seconds": 60.0})
    return uri


def test_latest_experiment_is_the_one_with_the_newest_run(store):
    assert latest_experiment(tracking_uri=store) == "ecg_art-paper"


def test_latest_experiment_of_an_empty_store(tmp_path):
    with pytest.raises(TrackingError, match="no run"):
        latest_experiment(tracking_uri=f"sqlite:///{tmp_path / 'empty.db'}")


def test_headline_metrics_order_and_labels():
    keys = headline_metrics([*MODEL, *FUSION, *DETECTOR, "worst_eps0.1", "total_seconds"])
    assert keys == ["test_accuracy", "adv_acc_pgd_eps0.05", "adv_acc_sap_eps0.05", "adv_acc_autoattack_eps0.05",
                    "apgd-ce-dlr_eps0.05", "autoattack_eps0.05", "worst_eps0.05", "acc_robust_eps0.05",
                    "adaptive_acc_eps0.05", "beat_only_acc_eps0.05",
                    "worst_eps0.1", "detector_auc", "detector_auc_seen", "detector_auc_unseen",
                    "detector_auc_adaptive"]
    assert [metric_label(k) for k in keys[:6]] == ["clean", "PGD-20 @0.05", "SAP @0.05", "AutoAttack (standard) @0.05",
                                                   "APGD-CE+DLR @0.05", "APGD-CE+DLR (old key) @0.05"]


def test_default_compare_picks_headline_metrics_and_drops_empty_runs(store):
    rows, params, metrics = compare_runs(tracking_uri=store)
    names = [r["run_name"] for r in rows]
    assert sorted(names) == ["at-nsr", "baseline", "detector", "fusion"]  # the parent run has none of the metrics
    assert metrics[:2] == ["test_accuracy", "adv_acc_pgd_eps0.05"] and "detector_auc_adaptive" in metrics
    assert not {"stage_seconds", "snr_db_pgd_eps0.05", "test_macro_f1", "detector_tpr5"} & set(metrics)
    by = {r["run_name"]: r for r in rows}
    assert by["fusion"]["adaptive_acc_eps0.05"] == pytest.approx(0.5) and math.isnan(by["fusion"]["worst_eps0.05"])
    assert params == ["name", "profile"]
    models = comparison_table(rows, params=params, metrics=[m for m in metrics if not m.startswith("detector")])
    assert "| detector |" not in models and "| baseline |" in models and "0.96" in models


def test_figure_has_a_detector_panel_without_empty_groups(store):
    rows, _, metrics = compare_runs("ecg_art-paper", tracking_uri=store)
    fig = comparison_figure(rows, metrics=metrics)
    models, detector = fig.axes
    assert [t.get_text() for t in models.get_xticklabels()] == [r["run_name"] for r in rows
                                                                 if r["run_name"] != "detector"]
    assert [t.get_text() for t in detector.get_xticklabels()] == ["detector"]
    labels = [t.get_text() for t in models.get_legend().get_texts()]
    assert labels[0] == "clean" and "adaptive worst (a) @0.05" in labels
    fig.canvas.draw()
    assert models.get_legend().get_window_extent().x0 >= models.get_window_extent().x1  # legend outside the axes
    assert [t.get_text() for t in detector.get_legend().get_texts()][0] == "AUC"


def test_cli_without_flags_uses_the_latest_experiment(store, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store)
    monkeypatch.chdir(tmp_path)
    assert main(["compare"]) == 0
    out = capsys.readouterr().out
    assert "experiment: ecg_art-paper" in out and "| fusion |" in out and "detector_auc" in out
    assert "paper-quick" not in out
    assert (tmp_path / "results" / "compare-ecg_art-paper.png").stat().st_size > 10_000


def test_cli_explicit_experiment_and_metric(store, tmp_path, capsys):
    plot = tmp_path / "p.png"
    assert main(["compare", "--experiment", "older", "--metric", "test_accuracy", "--tracking-uri", store,
                 "--plot", str(plot)]) == 0
    out = capsys.readouterr().out
    assert "experiment:" not in out and "| base |" in out and plot.stat().st_size > 0
