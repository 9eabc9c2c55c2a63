"""Noise stress test: accuracy and macro-F1 of trained models on test beats with real ECG noise (NSTDB baseline wander
``bw`` and muscle artifact ``ma``, test half of each record) and white Gaussian noise at SNR 24 ... -6 dB (NSTDB
definition), a table, a figure, MLflow metrics. Also the noise-augmentation hook of every recipe
(``--set noise_augment='["bw","ma"]'``: :func:`augmentation_trainer`).

``ecg-art run noise --profile quick`` (the newest quick checkpoints of baseline, at, nsr, at-nsr) or
``--set models='["baseline=results/.../best.pt"]'``.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ecg_art.exceptions import CheckpointError, ConfigError
from recipes.common import Config as BaseConfig
from recipes.common import config_params, format_table, prepare_data, results_dir, run_tracker, set_threads

__all__ = ["Config", "PROFILES", "run", "augmentation_trainer", "find_models"]

logger = logging.getLogger(__name__)

FIGURE_FILE = "noise_robustness.png"


@dataclass(frozen=True)
class Config(BaseConfig):
    """Base config (data, split, seed) plus the stress test's numbers; ``eval_n`` random test beats are scored."""

    name: str = "noise"
    # "LABEL=SPEC" or SPEC (NAME:CHECKPOINT.pt, a checkpoint path, an MLflow model URI); empty: the newest
    # `<output_dir>/<name>-<model_profile>-<split>-s<seed>-*/checkpoints-train/best.pt` of each of `model_names`
    models: tuple[str, ...] = ()
    model_names: tuple[str, ...] = ("baseline", "at", "nsr", "at-nsr")
    model_profile: str = "quick"
    kinds: tuple[str, ...] = ("bw", "ma", "gauss")
    snrs_db: tuple[float, ...] = (24.0, 18.0, 12.0, 6.0, 0.0, -6.0)
    renormalize: bool = True  # min-max scale noisy beats as the pipeline does a noisy recording


PROFILES: dict[str, Config] = {
    "quick": Config(profile="quick", eval_n=2000, model_profile="quick"),
    "full": Config(profile="full", eval_n=None, model_profile="full"),
}


def augmentation_trainer(cfg, classifier, trainer=None):
    """The hook :func:`recipes.common.run_model` calls when ``cfg.noise_augment`` names noise kinds: a
    :class:`~ecg_art.noise.NoiseAugmentationTrainer` over the *training* half of the records, around ``trainer``."""
    from ecg_art.noise import NoiseAugmentationTrainer, noise_source

    sources = [noise_source(k, part="train", noise_dir=cfg.noise_dir) for k in cfg.noise_augment]
    logger.info("training under noise %s at %s dB on %.0f %% of the beats", ", ".join(cfg.noise_augment),
                cfg.noise_augment_snr_db, 100 * cfg.noise_augment_p)
    return NoiseAugmentationTrainer(classifier, sources=sources, snr_range_db=tuple(cfg.noise_augment_snr_db),
                                    p=cfg.noise_augment_p, inner=trainer, r_offset=cfg.r_offset)


def _augmented(run_dir: Path) -> bool:
    """Whether the run in ``run_dir`` trained under noise (its results.json config names ``noise_augment``)."""
    import json

    try:
        return bool(json.loads((run_dir / "results.json").read_text())["config"].get("noise_augment"))
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return False


def find_models(cfg: Config) -> dict[str, str]:
    """``{label: model spec}`` of ``cfg.models``, or the newest checkpoint of each of ``cfg.model_names`` found on
    disk (and of its run trained under noise, labelled ``NAME+noise``, when there is one)."""
    if cfg.models:
        out = {}
        for item in cfg.models:
            label, sep, spec = str(item).partition("=")
            out[label if sep else Path(str(item)).parent.parent.name or str(item)] = spec if sep else str(item)
        return out
    out = {}
    for name in cfg.model_names:
        hits = sorted(Path(cfg.output_dir).glob(f"{name}-{cfg.model_profile}-{cfg.split}-s{cfg.seed}-*/"
                                                f"checkpoints-train/best.pt"), key=lambda p: p.stat().st_mtime)
        for path in hits:  # newest last: it wins; runs trained under noise are listed apart
            out[f"{name}+noise" if _augmented(path.parent.parent) else name] = str(path)
        if not hits:
            logger.warning("no %s checkpoint of model %r under %s: skipped", cfg.model_profile, name, cfg.output_dir)
    if not out:
        raise CheckpointError(f"no checkpoint of {', '.join(cfg.model_names)} ({cfg.model_profile} profile, "
                              f"{cfg.split} split, seed {cfg.seed}) under {cfg.output_dir!r}: run those recipes first "
                              "or pass --set models='[\"LABEL=PATH/best.pt\"]'")
    return out


def _rows(results: dict[str, list[dict]], metric: str) -> list[dict[str, Any]]:
    rows = []
    for label, res in results.items():
        row: dict[str, Any] = {"model": label}
        for r in res:
            row["clean" if r["kind"] == "clean" else f"{r['kind']}@{r['snr_db']:g}"] = r[metric]
        rows.append(row)
    return rows


def run(cfg: Config, *, tracker=None) -> dict[str, Any]:
    """Score every model on clean and noisy test beats, log to MLflow, write results.json and the figure, print the
    table; return ``{label: [NoiseResult dicts]}``."""
    import numpy as np

    from ecg_art.estimators import make_classifier
    from ecg_art.evaluation.model_spec import load_model_spec
    from ecg_art.io import write_json
    from ecg_art.noise import noise_robustness, noise_robustness_figure, noise_source

    set_threads(cfg)
    if not cfg.kinds or not cfg.snrs_db:
        raise ConfigError("`kinds` and `snrs_db` must be non-empty")
    models = find_models(cfg)
    prep = prepare_data(cfg)
    x, y = prep.x_test[prep.eval_idx], prep.y_test[prep.eval_idx]
    sources = {k: noise_source(k, part="test", noise_dir=cfg.noise_dir) for k in cfg.kinds}
    results: dict[str, list[dict]] = {}
    t0 = time.perf_counter()
    with run_tracker(cfg, tracker) as tracker:
        tracker.log_params({**{k: v for k, v in config_params(cfg).items() if k != "models"}, "n_beats": len(y),
                            "models": ", ".join(f"{k}={v}" for k, v in models.items())})
        for label, spec in models.items():
            model, _ = load_model_spec(spec, input_length=cfg.window)
            clf = make_classifier(model, input_length=cfg.window, device=cfg.device)
            res = noise_robustness(clf, x, y, kinds=cfg.kinds, snrs_db=cfg.snrs_db, seed=cfg.seed,
                                   r_offset=cfg.r_offset, renormalize=cfg.renormalize, sources=sources)
            results[label] = [r.to_dict() for r in res]
            key = re.sub(r"[^\w\-. :/]", "_", label)  # MLflow's metric-name alphabet ("baseline+noise")
            tracker.log_metrics({f"{key}_{r.kind}" + ("" if r.kind == "clean" else f"_snr{r.snr_db:g}") + f"_{m}":
                                 getattr(r, m) for r in res for m in ("accuracy", "macro_f1")})
        seconds = time.perf_counter() - t0
        cols = ["model", "clean", *[f"{k}@{s:g}" for k in cfg.kinds for s in cfg.snrs_db]]
        tables = {m: format_table(_rows(results, m), cols, percent=tuple(cols[1:])) for m in ("accuracy", "macro_f1")}
        table = "\n\n".join(f"{m}\n{t}" for m, t in tables.items())
        fig = noise_robustness_figure(results, title=f"noise stress test ({cfg.split}, {len(y)} test beats)")
        out = results_dir(cfg)
        fig.savefig(out / FIGURE_FILE, dpi=100)
        tracker.log_figure(fig, FIGURE_FILE)
        tracker.log_text(table, "table.md")
        tracker.log_metrics({"noise_seconds": seconds})
        write_json(out / "results.json", {"config": cfg.to_dict(), "models": models, "results": results,
                                          "n_beats": int(len(y)), "class_counts": np.bincount(y, minlength=5),
                                          "seconds": seconds, "run_id": tracker.run_id})
    print(f"\nnoise stress test ({cfg.profile}, {cfg.split} split, {len(y)} test beats; scores in %, SNR in dB of "
          f"the NSTDB definition; {seconds:.0f} s)\n{table}\n(figure: {out / FIGURE_FILE})")
    return results


if __name__ == "__main__":
    run(PROFILES["quick"])
