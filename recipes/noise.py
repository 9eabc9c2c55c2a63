"""Noise stress test: accuracy and macro-F1 of trained models on test beats with real ECG noise (NSTDB baseline wander
``bw`` and muscle artifact ``ma``, test half of each record) and white Gaussian noise at SNR 24 ... -6 dB (NSTDB
definition), a table, a figure, MLflow metrics. Also the noise-augmentation hook of every recipe
(``--set noise_augment='["bw","ma"]'``: :func:`augmentation_trainer`).

``ecg-art run noise --profile quick`` (the newest quick checkpoints of every model of the paper table: baseline, at,
nsr, at-nsr, fusion, fusion-clean) or ``--set models='["baseline=results/.../best.pt", "fusion=zoo:fusion-intra"]'``.
The fusion models read a 12 s context: the noise covers the whole context, at the SNR of the beat's QRS amplitude,
and the noisy context is scaled with its beat window's min-max map, as the beats are (:func:`fusion_data`).
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
from recipes.common import (BEAT_R_OFFSET, BEAT_WINDOW, config_params, format_table, prepare_data, results_dir,
                            run_tracker, set_threads)

__all__ = ["Config", "PROFILES", "run", "augmentation_trainer", "find_models", "load_scored_model", "fusion_data",
           "summary_table"]

logger = logging.getLogger(__name__)

FIGURE_FILE = "noise_robustness.png"


@dataclass(frozen=True)
class Config(BaseConfig):
    """Base config (data, split, seed) plus the stress test's numbers; ``eval_n`` random test beats are scored."""

    name: str = "noise"
    # "LABEL=SPEC" or SPEC (NAME:CHECKPOINT.pt, e.g. fusion:PATH, a checkpoint path, zoo:NAME, an MLflow model URI);
    # empty: the newest `<output_dir>/<name>-<model_profile>-<split>-s<seed>-*/checkpoints-train/best.pt` of each of
    # `model_names` (checkpoints-stage2 for the fusion models)
    models: tuple[str, ...] = ()
    model_names: tuple[str, ...] = ("baseline", "at", "nsr", "at-nsr", "fusion", "fusion-clean")
    model_profile: str = "quick"
    kinds: tuple[str, ...] = ("bw", "ma", "gauss")
    snrs_db: tuple[float, ...] = (24.0, 18.0, 12.0, 6.0, 0.0, -6.0)
    renormalize: bool = True  # min-max scale noisy beats as the pipeline does a noisy recording
    chunk_size: int = 2048  # windows mixed with noise at once (a 12 s context is 17 times a beat)


PROFILES: dict[str, Config] = {
    "quick": Config(profile="quick", eval_n=2000, model_profile="quick"),
    "full": Config(profile="full", eval_n=None, model_profile="full"),
}


def augmentation_trainer(cfg, classifier, trainer=None):
    """The hook the training recipes call when ``cfg.noise_augment`` names noise kinds: a
    :class:`~ecg_art.noise.NoiseAugmentationTrainer` over the *training* half of the records, around ``trainer``
    (:func:`recipes.common.run_model`; the fusion recipe's stages, whose 12 s contexts get noise over their whole
    length, rescaled with the beat window's min-max map as the data pipeline does)."""
    from ecg_art.noise import NoiseAugmentationTrainer, noise_source

    # a context model (recipes.fusion.Config): noise over the whole context, rescaled as the data pipeline does
    scaling = context_scaling(cfg, cfg.feature_set, "`noise_augment`") if hasattr(cfg, "context_clip") else {}
    sources = [noise_source(k, part="train", noise_dir=cfg.noise_dir) for k in cfg.noise_augment]
    logger.info("training under noise %s at %s dB on %.0f %% of the beats", ", ".join(cfg.noise_augment),
                cfg.noise_augment_snr_db, 100 * cfg.noise_augment_p)
    return NoiseAugmentationTrainer(classifier, sources=sources, snr_range_db=tuple(cfg.noise_augment_snr_db),
                                    p=cfg.noise_augment_p, inner=trainer, r_offset=cfg.r_offset, **scaling)


def context_scaling(fcfg, feature_set: str, what: str) -> dict[str, Any]:
    """Keyword arguments of :func:`ecg_art.noise.add_noise` for the 12 s contexts of the fusion config ``fcfg``: each
    noisy context scaled with its beat window's min-max map and clipped, as the data pipeline scales it (``{}`` without
    ``beat_unit``). ``feature_set="rhythm-record"`` is refused (``what`` names the caller in the error): its input ends
    with the recording's mean RR, which noise on the context would corrupt."""
    if feature_set == "rhythm-record":
        raise ConfigError(f"{what} with feature_set='rhythm-record': its input ends with the recording's mean RR, "
                          "which noise on the context would corrupt; 'rhythm' and 'window' fusion models only")
    if not fcfg.beat_unit:
        return {}
    start = fcfg.r_offset - BEAT_R_OFFSET
    return {"norm_span": (start, start + BEAT_WINDOW), "clip": tuple(fcfg.context_clip)}


def _augmented(run_dir: Path) -> bool:
    """Whether the run in ``run_dir`` trained under noise (its results.json config names ``noise_augment``)."""
    import json

    try:
        return bool(json.loads((run_dir / "results.json").read_text())["config"].get("noise_augment"))
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return False


#: Recipes whose model reads a context window (FusionNet), and the checkpoint of their selected weights.
CONTEXT_RECIPES = ("fusion", "fusion-clean")
CHECKPOINT = {"fusion": "checkpoints-stage2", "fusion-clean": "checkpoints-stage2"}


def find_models(cfg: Config) -> dict[str, str]:
    """``{label: model spec}`` of ``cfg.models``, or the newest checkpoint of each of ``cfg.model_names`` found on
    disk (and of its run trained under noise, labelled ``NAME+noise``, when there is one); a fusion checkpoint is
    ``fusion:PATH`` (see :func:`load_scored_model`)."""
    if cfg.models:
        out = {}
        for item in cfg.models:
            label, sep, spec = str(item).partition("=")
            out[label if sep else Path(str(item)).parent.parent.name or str(item)] = spec if sep else str(item)
        return out
    out = {}
    for name in cfg.model_names:
        hits = sorted(Path(cfg.output_dir).glob(f"{name}-{cfg.model_profile}-{cfg.split}-s{cfg.seed}-*/"
                                                f"{CHECKPOINT.get(name, 'checkpoints-train')}/best.pt"),
                      key=lambda p: p.stat().st_mtime)
        for path in hits:  # newest last: it wins; runs trained under noise are listed apart
            spec = f"fusion:{path}" if name in CONTEXT_RECIPES else str(path)
            out[f"{name}+noise" if _augmented(path.parent.parent) else name] = spec
        if not hits:
            logger.warning("no %s checkpoint of model %r under %s: skipped", cfg.model_profile, name, cfg.output_dir)
    if not out:
        raise CheckpointError(f"no checkpoint of {', '.join(cfg.model_names)} ({cfg.model_profile} profile, "
                              f"{cfg.split} split, seed {cfg.seed}) under {cfg.output_dir!r}: run those recipes first "
                              "or pass --set models='[\"LABEL=PATH/best.pt\"]'")
    return out


def load_scored_model(cfg: Config, spec: str):
    """The model of ``spec`` (:func:`ecg_art.evaluation.model_spec.load_model_spec`); a ``fusion:PATH`` checkpoint,
    which stores no constructor arguments, gets those of the fusion recipe's ``cfg.model_profile`` profile."""
    from ecg_art.evaluation.model_spec import load_model_spec, parse_model_spec

    parsed = parse_model_spec(spec)
    kwargs = None
    if parsed.kind == "checkpoint" and parsed.model_name == "fusion":
        fcfg = _fusion_config(cfg)
        kwargs = {"context_length": fcfg.window, "r_index": fcfg.r_offset, "feature_set": fcfg.feature_set}
    model, _ = load_model_spec(spec, model_kwargs=kwargs, input_length=cfg.window)
    return model


def _fusion_config(cfg: Config, model=None):
    """The fusion recipe's config of ``cfg.model_profile`` with this run's data, split and test subset (and the
    context of ``model``, when given)."""
    import dataclasses

    from recipes.fusion import PROFILES as FUSION_PROFILES

    base = FUSION_PROFILES.get(cfg.model_profile, FUSION_PROFILES["full"])
    shared = {k: getattr(cfg, k) for k in ("data_dir", "cache_dir", "split", "val_by_record", "seed", "eval_n",
                                           "threads", "device")}
    if model is not None:
        shared.update(window=int(model.context_length), r_offset=int(model.r_index))
    return dataclasses.replace(base, **shared)


def fusion_data(cfg: Config, model) -> tuple[Any, Any, dict[str, Any]]:
    """Test contexts of a context model (``FusionNet``): ``(x, y, settings)``, ``x`` the ``eval_n`` random test
    contexts of the fusion recipe's data (:func:`recipes.common.prepare_data`, so the split and scaling are the
    model's own), ``settings`` the keyword arguments of :func:`ecg_art.noise.noise_robustness` that place the QRS
    window at the model's R peak and rescale each noisy context with its beat window's min-max map (and clip) as the
    data pipeline does, plus ``clip_values`` of its classifier."""
    fcfg = _fusion_config(cfg, model)
    scaling = context_scaling(fcfg, getattr(model, "feature_set", ""), "the noise stress test of a model")
    prep = prepare_data(fcfg)
    settings: dict[str, Any] = {"r_offset": fcfg.r_offset, "clip_values": (0.0, 1.0), **scaling}
    if fcfg.beat_unit:  # the contexts live in the beat unit, clipped (BeatConfig)
        settings["clip_values"] = tuple(fcfg.context_clip)
    return prep.x_test[prep.eval_idx], prep.y_test[prep.eval_idx], settings


def _rows(results: dict[str, list[dict]], metric: str) -> list[dict[str, Any]]:
    rows = []
    for label, res in results.items():
        row: dict[str, Any] = {"model": label}
        for r in res:
            row["clean" if r["kind"] == "clean" else f"{r['kind']}@{r['snr_db']:g}"] = r[metric]
        rows.append(row)
    return rows


def summary_table(result: dict[str, Any], *, snrs_db: tuple[float, ...] = (12.0, 6.0)) -> str:
    """The paper job's noise section from this recipe's ``results.json``: accuracy (%) clean and at ``snrs_db`` of
    every noise kind, one row per model."""
    results = result["results"]
    keys = {k for rows in _rows(results, "accuracy") for k in rows}
    cols = ["model", "clean", *[f"{k}@{s:g}" for k in ("bw", "ma", "gauss") for s in snrs_db if f"{k}@{s:g}" in keys]]
    n = result.get("n_beats")
    counts = ", ".join(f"{k} {v:,}" for k, v in n.items()) if isinstance(n, dict) else f"{n}"
    return (f"Noise stress test (accuracy in %, SNR in dB of the NSTDB definition; test beats per model: {counts}; "
            f"every SNR in the noise run's results.json):\n" + format_table(_rows(results, "accuracy"), cols,
                                                                            percent=tuple(cols[1:])))


def run(cfg: Config, *, tracker=None) -> dict[str, Any]:
    """Score every model on clean and noisy test beats, log to MLflow, write results.json and the figure, print the
    table; return ``{label: [NoiseResult dicts]}``."""
    import numpy as np

    from ecg_art.estimators import make_classifier
    from ecg_art.io import write_json
    from ecg_art.models import FusionNet
    from ecg_art.noise import noise_robustness, noise_robustness_figure, noise_source

    set_threads(cfg)
    if not cfg.kinds or not cfg.snrs_db:
        raise ConfigError("`kinds` and `snrs_db` must be non-empty")
    models = find_models(cfg)
    loaded = {label: load_scored_model(cfg, spec) for label, spec in models.items()}
    data: dict[Any, tuple] = {}  # (x, y, noise_robustness settings) per input: beats, and each context shape
    if any(not isinstance(m, FusionNet) for m in loaded.values()):
        prep = prepare_data(cfg)
        data["beat"] = (prep.x_test[prep.eval_idx], prep.y_test[prep.eval_idx],
                        {"r_offset": cfg.r_offset, "clip_values": (0.0, 1.0)})
        del prep
    sources = {k: noise_source(k, part="test", noise_dir=cfg.noise_dir) for k in cfg.kinds}
    results: dict[str, list[dict]] = {}
    n_beats: dict[str, int] = {}
    t0 = time.perf_counter()
    with run_tracker(cfg, tracker) as tracker:
        tracker.log_params({**{k: v for k, v in config_params(cfg).items() if k != "models"},
                            "models": ", ".join(f"{k}={v}" for k, v in models.items())})
        for label, model in loaded.items():
            key = ("context", model.context_length, model.r_index) if isinstance(model, FusionNet) else "beat"
            if key not in data:
                data[key] = fusion_data(cfg, model)
            x, y, settings = data[key]
            settings = dict(settings)
            clf = make_classifier(model, input_length=x.shape[-1], clip_values=settings.pop("clip_values"),
                                  device=cfg.device)
            ts = time.perf_counter()
            res = noise_robustness(clf, x, y, kinds=cfg.kinds, snrs_db=cfg.snrs_db, seed=cfg.seed,
                                   renormalize=cfg.renormalize, sources=sources, chunk_size=cfg.chunk_size,
                                   **settings)
            logger.info("%s: %d test %s scored in %.0f s", label, len(y), "contexts" if key != "beat" else "beats",
                        time.perf_counter() - ts)
            results[label], n_beats[label] = [r.to_dict() for r in res], int(len(y))
            key = re.sub(r"[^\w\-. :/]", "_", label)  # MLflow's metric-name alphabet ("baseline+noise")
            tracker.log_metrics({f"{key}_{r.kind}" + ("" if r.kind == "clean" else f"_snr{r.snr_db:g}") + f"_{m}":
                                 getattr(r, m) for r in res for m in ("accuracy", "macro_f1")})
        seconds = time.perf_counter() - t0
        cols = ["model", "clean", *[f"{k}@{s:g}" for k in cfg.kinds for s in cfg.snrs_db]]
        tables = {m: format_table(_rows(results, m), cols, percent=tuple(cols[1:])) for m in ("accuracy", "macro_f1")}
        table = "\n\n".join(f"{m}\n{t}" for m, t in tables.items())
        beats_text = ", ".join(f"{len(v[1]):,} test {'beats' if k == 'beat' else f'{k[1]}-sample contexts'}"
                               for k, v in data.items())
        fig = noise_robustness_figure(results, title=f"noise stress test ({cfg.split}, {beats_text})")
        out = results_dir(cfg)
        fig.savefig(out / FIGURE_FILE, dpi=100)
        tracker.log_figure(fig, FIGURE_FILE)
        tracker.log_text(table, "table.md")
        tracker.log_metrics({"noise_seconds": seconds})
        tracker.log_params({"n_beats": beats_text})
        write_json(out / "results.json", {"config": cfg.to_dict(), "models": models, "results": results,
                                          "n_beats": n_beats,
                                          "class_counts": {("beat" if k == "beat" else f"context{k[1]}"):
                                                           np.bincount(v[1], minlength=5) for k, v in data.items()},
                                          "seconds": seconds, "run_id": tracker.run_id})
    print(f"\nnoise stress test ({cfg.profile}, {cfg.split} split, {beats_text}; scores in %, SNR in dB of the "
          f"NSTDB definition; {seconds:.0f} s)\n{table}\n(figure: {out / FIGURE_FILE})")
    return results


if __name__ == "__main__":
    run(PROFILES["quick"])
