"""Certified robustness by randomized smoothing (Cohen et al. 2019): train the beat CNN under Gaussian noise of each
``sigma`` (beat unit; optionally fine-tuning a checkpoint), certify test beats with ART's smoothing estimator
(Clopper-Pearson bound), report certified accuracy against L2 radius, at 0.25 and at 0.8 (the L2 ball that holds the
Linf eps-0.05 ball: 0.05 x sqrt(256)), log to MLflow and draw the curve.

``ecg-art run certify --profile quick`` (sigma 0.25, n = 1,000 samples on 300 beats) or ``--profile full``
(sigma 0.12 / 0.25 / 0.5, n = 10,000 on 500 beats; 40 epochs from scratch per sigma is a GPU job: on a CPU fine-tune
the full baseline, ``--set init_from=ecg_art/zoo/files/baseline-intra.pt --set nb_epochs=6``, 16 CPU-min in all).
``results.json`` is rewritten as each sigma ends (``"complete": false`` until the last).
"""

from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from ecg_art.exceptions import ConfigError
from recipes.common import Config as BaseConfig
from recipes.common import (build_classifier, config_params, format_table, prepare_data, results_dir, run_tracker,
                            set_threads, train)

__all__ = ["Config", "PROFILES", "run", "summary_table"]

logger = logging.getLogger(__name__)

FIGURE_FILE = "certified_accuracy.png"


@dataclass(frozen=True)
class Config(BaseConfig):
    """Base config (data, model, training) plus the smoothing's numbers; ``eval_n`` random test beats are certified
    (clean metrics of the base model use the whole test split)."""

    name: str = "certify"
    sigmas: tuple[float, ...] = (0.25,)  # smoothing noise (beat unit); one base model trained per sigma
    n0: int = 100  # selection samples of CERTIFY
    n_samples: int = 1000  # estimation samples of CERTIFY
    alpha: float = 0.001  # failure probability of each certificate
    certify_batch_size: int = 1000
    radii: tuple[float, ...] = tuple(np.round(np.arange(0.0, 2.01, 0.05), 2).tolist())
    report_radii: tuple[float, ...] = (0.25, 0.8)  # 0.8 = eps 0.05 x sqrt(256): holds the Linf eps-0.05 ball
    attacks: tuple[str, ...] = ()


PROFILES: dict[str, Config] = {
    # every training beat, 4 epochs (as the baseline's quick profile); --set init_from=<best.pt> fine-tunes
    "quick": Config(profile="quick", train_n=None, val_n=2500, eval_n=300, nb_epochs=4, patience=2,
                    sigmas=(0.25,), n_samples=1000),
    "full": Config(profile="full", train_n=None, val_n=None, eval_n=500, nb_epochs=40, patience=8,
                   sigmas=(0.12, 0.25, 0.5), n_samples=10000),
}


def _noisy(x: np.ndarray, sigma: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (x + rng.normal(0.0, sigma, size=x.shape)).astype(np.float32)


def summary_table(result: dict[str, Any]) -> str:
    """The paper job's certification section from this recipe's ``results.json``: per sigma, the base model's clean
    accuracy, the smoothed accuracy, certified accuracy at the reported radii and the largest certifiable radius."""
    rows = list(result["rows"].values())
    radii = [c for c in (rows[0] if rows else {}) if c.startswith("cert@") and "_" not in c and c != "cert@0"]
    cols = ["sigma", "base_clean_accuracy", "smoothed_accuracy", "abstain", *radii, "max_radius"]
    cfg = result.get("config", {})
    return (f"Randomized smoothing ({result.get('n_beats')} test beats, n = {cfg.get('n_samples')}, alpha = "
            f"{cfg.get('alpha')}; accuracies in %, L2 radii in the beat unit, 0.8 holds the Linf eps-0.05 ball):\n" +
            format_table(rows, cols, percent=tuple(c for c in cols[1:] if c != "max_radius")))


def _write_results(out, cfg: Config, rows: dict, curves: dict, n_beats: int, run_id, *, done: bool) -> None:
    """``results.json``: the rows and curves of the sigmas certified so far (``"complete"``: all of them)."""
    from ecg_art.io import write_json

    write_json(out / "results.json", {"config": cfg.to_dict(), "rows": {str(k): v for k, v in rows.items()},
                                      "curves": {k: {"radius": list(v[0]), "certified_accuracy": v[1]}
                                                 for k, v in curves.items()},
                                      "n_beats": int(n_beats), "run_id": run_id, "complete": done})


def run(cfg: Config, *, tracker=None) -> dict[str, Any]:
    """Per sigma: train the base model under noise (validation on noisy beats), certify ``eval_n`` test beats, log
    certified accuracy per radius; print and return ``{sigma: row}``."""
    from scipy.stats import norm

    from ecg_art.certification import certified_accuracy, certified_accuracy_figure, certify, linf_ball_radius
    from ecg_art.data import AAMI_CLASSES
    from ecg_art.estimators import predict_labels
    from ecg_art.evaluation import classification_metrics
    from ecg_art.noise import GaussianAugmentationTrainer

    if not cfg.sigmas or any(s <= 0 for s in cfg.sigmas):
        raise ConfigError(f"`sigmas` must be positive noise levels, got {cfg.sigmas!r}")
    set_threads(cfg)
    prep = prepare_data(cfg)
    x_eval, y_eval = prep.x_test[prep.eval_idx], prep.y_test[prep.eval_idx]
    radii = tuple(sorted(set(cfg.radii) | set(cfg.report_radii)))
    linf = linf_ball_radius(0.05, cfg.window)
    rows, curves, out = {}, {}, results_dir(cfg)
    with run_tracker(cfg, tracker) as tracker:
        tracker.log_params({**config_params(cfg), **prep.sizes(), "data_hash": prep.dataset.fingerprint(),
                            "split_hash": prep.split.fingerprint()})
        for sigma in cfg.sigmas:
            tag = f"sigma{sigma:g}"
            noisy_val = dataclasses.replace(prep, x_val=_noisy(prep.x_val, sigma, cfg.seed + 3))
            classifier = build_classifier(cfg, prep.y_train)
            t0 = time.perf_counter()
            train(cfg, classifier, noisy_val, tracker, trainer=GaussianAugmentationTrainer(classifier, sigma=sigma),
                  stage=f"train-{tag}")
            t_train = time.perf_counter() - t0
            clean = classification_metrics(prep.y_test, predict_labels(classifier, prep.x_test))
            t0 = time.perf_counter()
            cert = certify(classifier, x_eval, sigma=sigma, n0=cfg.n0, n=cfg.n_samples, alpha=cfg.alpha,
                           batch_size=cfg.certify_batch_size, seed=cfg.seed, verbose=True)
            t_cert = time.perf_counter() - t0
            acc = certified_accuracy(cert, y_eval, radii)
            curves[f"sigma {sigma:g}"] = (radii, acc.tolist())
            row = {"sigma": sigma, "base_clean_accuracy": clean.accuracy, "base_clean_macro_f1": clean.macro_f1,
                   "smoothed_accuracy": float(np.mean(cert.prediction == y_eval)),
                   "abstain": float(np.mean(cert.prediction < 0)), "median_radius": float(np.median(cert.radius)),
                   # the largest radius n samples can certify (all votes for one class): sigma Phi^-1(alpha^(1/n))
                   "max_radius": float(sigma * norm.ppf(cfg.alpha ** (1.0 / cfg.n_samples))),
                   **{f"cert@{r:g}": float(a) for r, a in zip(radii, acc) if r in cfg.report_radii or r == 0.0},
                   "train_seconds": t_train, "certify_seconds": t_cert,
                   "seconds_per_beat": t_cert / len(y_eval)}
            for c in np.unique(y_eval):  # the test split is mostly N: per-class figures keep a constant model honest
                sel = y_eval == c
                for r in cfg.report_radii:
                    row[f"cert@{r:g}_{AAMI_CLASSES[int(c)]}"] = float(np.mean((cert.prediction[sel] == c) &
                                                                              (cert.radius[sel] >= r)))
            rows[sigma] = row
            tracker.log_metrics({f"{tag}_{k.replace('@', '_r')}": v for k, v in row.items() if k != "sigma"})
            for r, a in zip(radii, acc):
                tracker.log_metrics({f"{tag}_certified_accuracy": float(a)}, step=int(round(r * 100)))
            np.savez(out / f"certificates-{tag}.npz", prediction=cert.prediction, radius=cert.radius, y=y_eval,
                     test_index=prep.eval_idx)
            # a long run that stops keeps the sigmas it certified
            _write_results(out, cfg, rows, curves, len(y_eval), tracker.run_id, done=False)
        marks = {(f"Linf eps 0.05 (L2 {r:g})" if r == linf else f"L2 {r:g}"): r for r in cfg.report_radii}
        fig = certified_accuracy_figure(curves, marks=marks,
                                        title=f"randomized smoothing, {cfg.split} split, {len(y_eval)} test beats, "
                                              f"n={cfg.n_samples}")
        fig.savefig(out / FIGURE_FILE, dpi=100)
        tracker.log_figure(fig, FIGURE_FILE)
        cols = ["sigma", "base_clean_accuracy", "smoothed_accuracy", "abstain", "cert@0",
                *[f"cert@{r:g}" for r in cfg.report_radii], "max_radius", "train_seconds", "certify_seconds"]
        table = format_table(list(rows.values()), cols,
                             percent=tuple(c for c in cols[1:] if "seconds" not in c and c != "max_radius"))
        tracker.log_text(table, "table.md")
        _write_results(out, cfg, rows, curves, len(y_eval), tracker.run_id, done=True)
    print(f"\nrandomized smoothing ({cfg.profile}, {cfg.split} split, {len(y_eval)} test beats, n0={cfg.n0}, "
          f"n={cfg.n_samples}, alpha={cfg.alpha:g}; accuracies in %, radii L2 in the beat unit, 0.8 holds the Linf "
          f"eps-0.05 ball)\n{table}\n(figure: {out / FIGURE_FILE})")
    return rows


if __name__ == "__main__":
    run(PROFILES["quick"])
