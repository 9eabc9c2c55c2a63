"""``ecg-art compare`` on runs that differ only in seed: their mean ± std over seeds is shown too."""

from __future__ import annotations

import pytest

from ecg_art.cli import main
from ecg_art.evaluation import compare_runs, seed_summary, seed_table


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """The baseline at seeds 0, 1, 2 (its split hash differs per seed), seed 2 run twice (the newer run counts),
    and AT at seed 0 only."""
    from ecg_art.tracking import Tracker

    uri = f"sqlite:///{tmp_path_factory.mktemp('mlflow') / 'mlflow.db'}"
    for name, seed, acc in (("baseline", 0, 0.90), ("baseline", 1, 0.92), ("baseline", 2, 0.50), ("baseline", 2, 0.94),
                            ("at", 0, 0.80)):
        with Tracker("seeds", run_name=f"{name}-s{seed}", tracking_uri=uri) as run:
            run.log_params({"name": name, "seed": seed, "split_hash": f"h{seed}", "nb_epochs": 3,
                            "output_dir": f"/tmp/{seed}"})
            run.log_metrics({"test_accuracy": acc, "adv_acc_pgd_eps0.05": acc - 0.5})
    return uri


def test_seed_summary_groups_runs_equal_but_for_the_seed(store):
    rows, params, metrics = compare_runs("seeds", tracking_uri=store)
    summary = {r["name"]: r for r in seed_summary(rows, params=params, metrics=metrics)}
    base = summary["baseline"]
    assert (base["seeds"], base["n"]) == ("0,1,2", 3)
    mean, std, n = base["test_accuracy"]
    assert (mean, std, n) == (pytest.approx(0.92), pytest.approx(0.02), 3)
    assert summary["at"]["n"] == 1 and summary["at"]["test_accuracy"][0] == pytest.approx(0.8)
    table = seed_table(list(summary.values()), params=params, metrics=metrics, percent=True)
    assert "| baseline | 0,1,2 | 92.00 ± 2.00 | 42.00 ± 2.00 |" in table and "80.00 (1 run)" in table


def test_compare_prints_mean_and_std_over_seeds(store, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["compare", "--experiment", "seeds", "--tracking-uri", store]) == 0
    out = capsys.readouterr().out
    assert "Mean ± std over seeds" in out and "0.9200 ± 0.0200" in out
