"""The main job: train and evaluate every model of the study and print the results table in the reference's format.

``ecg-art run paper --profile quick|full [--resume]``: one MLflow parent run with a child run per model; the table is
printed and written as markdown and JSON (``results/paper-<profile>-<split>-s<seed>/``) and logged as artifacts.
With ``--resume`` finished models (their ``results.json``) are reused, so an interrupted job does not start over.
``--set 'stages=[..., "noise", "certify"]'`` adds the noise stress test of the job's own models and randomized
smoothing (:data:`ANALYSES`): a table and a figure each in the report, no row of the models table.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from ecg_art.exceptions import ConfigError
from recipes.common import config_params, format_table, per_class

__all__ = ["Config", "PROFILES", "run"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Config:
    """The study: which models, with which profile of their own recipe, and the shared settings."""

    name: str = "paper"
    profile: str = "quick"
    stages: tuple[str, ...] = ("baseline", "at", "nsr", "at-nsr", "fusion", "fusion-clean", "detector")
    data_dir: str | None = None
    cache_dir: str | None = None
    split: str = "intra"
    # inter: select every model on whole DS1 records held out of training (patient-disjoint); None: True for inter
    val_by_record: bool | None = None
    seed: int = 0
    eps: tuple[float, ...] = (0.05,)
    # PGD-100 too, so ACC_robust is the reference's sqrt(clean x mean(FGSM, PGD-20, PGD-100, SAP)); "autoattack" is the
    # standard AutoAttack (APGD-CE, APGD-T, FAB-T, Square 5,000 queries; 100 steps) in every profile
    attacks: tuple[str, ...] = ("fgsm", "pgd", "pgd-100", "sap", "ta-apgd", "ta-apgd-dlr", "autoattack")
    apgd_steps: int = 100  # the APGD-CE / APGD-DLR columns only (not AutoAttack's own APGD-CE)
    eval_n: int | None = None  # test beats attacked per model; None: each recipe's own profile value
    # the robust-accuracy-vs-eps figure: every attack of each model also at these eps, on curve_n of its attacked beats
    curve_eps: tuple[float, ...] = (0.01, 0.02, 0.03, 0.075, 0.1)
    curve_n: int = 500
    warm_start: bool = False  # start the defences from the baseline's selected weights (fine-tuning)
    finetune_epochs: int = 6  # epochs of a warm-started defence
    # (stage, field, value) triples applied last to a stage's config, e.g. (("fusion", "nb_epochs", 12),)
    stage_settings: tuple[tuple[str, str, Any], ...] = ()
    experiment: str = "ecg_art-paper"
    tracking_uri: str | None = None
    device: str = "auto"
    resume: bool = False
    output_dir: str = "results"
    threads: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


PROFILES: dict[str, Config] = {
    # quick: the defences fine-tune the baseline and the APGD-CE / APGD-DLR columns run 25 steps, to fit minutes on
    # 2 CPU cores (the standard AutoAttack keeps its 100 steps and 5,000 Square queries)
    # (toward the 10-min target: the eps curve at two more budgets only, 200 attacked beats per model — the standard
    # AutoAttack on the robust quick models costs ~0.25 s a beat, the fusion model's 0.6-0.8 — the clean ablation 100)
    "quick": Config(profile="quick", apgd_steps=25, warm_start=True, curve_eps=(0.02, 0.1), curve_n=100, eval_n=200,
                    stage_settings=(
        # AT and AT+NSR: fast adversarial training (FGSM-RS) over every training beat from the baseline, AT 3 epochs,
        # AT+NSR 1 (its double backprop costs about what 3 of AT's cost; README, fast adversarial training)
        ("at", "nb_epochs", 3), ("at-nsr", "nb_epochs", 1),
        # NSR alone: a 10x weight (beta 3) and a noise level of 4x the attack budget (0.2); the defaults (0.3 / 0.05,
        # which AT+NSR keeps) left it below the baseline: worst case 0 %, ACC_robust 39.1 (baseline 51.4); these
        # 26.5 / 63.6 at 90.4 % clean (README, NSR alone)
        ("nsr", "nsr_beta", 3.0), ("nsr", "nsr_eps", 0.2),
        ("trades", "nb_epochs", 3), ("mart", "nb_epochs", 3), ("fast-at", "nb_epochs", 3),  # when switched on
        # fusion (issue 12; README, quick-profile results): the fusion recipe's quick profile (8,000 training beats in
        # the split's own class mix, 10 clean head epochs, every training beat adversarial) from the AT+NSR weights,
        # one PGD epoch (the epoch validation picked of three): 96.5 % clean, AutoAttack 85.5 on the 200 beats (the
        # same PGD epoch without the features: 94.2 / 86.5, S sensitivity 0 %: the features buy accuracy, not
        # robustness)
        ("fusion", "stage2_epochs", 1),
        # the ablation's extractor is the defended model's: the feature attack and threat model (b) are run once
        ("fusion-clean", "threat_b_n", 0), ("fusion-clean", "feature_attack_n", 0), ("fusion-clean", "eval_n", 100),
        # the feature-shift analysis at the table's eps only (0.01 / 0.03 cost 40 s; the attack on the rhythm
        # features still runs at 0.01 / 0.03 / 0.05; the full profile shifts at all three)
        ("fusion", "shift_eps", (0.05,)), ("fusion-clean", "shift_eps", (0.05,)),
        # the detector's adaptive attackers at the table's eps (`ecg-art run detector` attacks 0.01 / 0.03 / 0.05)
        ("detector", "adaptive_eps", (0.05,)))),
    # full: every training beat, the baseline trained to convergence, the defences fine-tune it for 6 epochs over every
    # training beat, APGD-CE/DLR at 100 steps, 2,000 attacked test beats per model: 1 h 55 min of one CPU thread on
    # the intra-patient split, 1 h 23 min on DS1 -> DS2 (README).
    # `--set warm_start=false` trains each defence from scratch for 40 epochs instead (a GPU job).
    "full": Config(profile="full", warm_start=True, finetune_epochs=6, eval_n=2000, stage_settings=(
        ("baseline", "nb_epochs", 30), ("baseline", "patience", 6),
        # fusion: the CNN branch comes from AT+NSR (fusion-clean: from the baseline), so stage 2 only:
        # whole-model adversarial training with BPDA features, 4 epochs (6 clean epochs of the head for the ablation)
        ("fusion", "stage2_epochs", 4), ("fusion", "stage2_patience", 2), ("fusion", "blackbox", ("square",)),
        ("fusion", "blackbox_n", 200), ("fusion", "adaptive_extra_eps", ()),
        ("fusion-clean", "stage2_epochs", 6), ("fusion-clean", "stage2_patience", 3),
        ("fusion-clean", "blackbox", ("square",)), ("fusion-clean", "blackbox_n", 200),
        ("fusion-clean", "adaptive_extra_eps", ()), ("fusion-clean", "eval_n", 1000),
        ("detector", "det_train_n", 5000), ("detector", "det_val_n", 1500), ("detector", "det_test_n", 2000),
        ("detector", "det_epochs", 15), ("detector", "adaptive_eps", (0.05,)))),
}
# the defences (recipes/defences.py): fine-tune the baseline with warm_start; trades / mart / fast-at are switched on
# with --set 'stages=[..., "trades"]'
DEFENCES = ("at", "nsr", "at-nsr", "trades", "mart", "fast-at")
# defences of another network (the wider CNN, a "beyond" row): trained from their own clean warm-up, since the
# baseline's weights do not fit them; switched on with --set 'stages=[..., "at-nsr-wide"]'
BEYOND = {"at-nsr-wide": "baseline_cnn_wide"}
# Stages that are no row of the models table: the noise stress test (scores the job's own models) and randomized
# smoothing (its base models fine-tune the job's baseline when the defences do); they report a table of their own.
ANALYSES = ("noise", "certify")


# Where each fusion stage's CNN branch starts: the defended model from AT+NSR, the clean ablation from the baseline.
FUSION_CNN_FROM = {"fusion": "at-nsr", "fusion-clean": "baseline"}


def _spec_path(spec: str) -> str:
    """The checkpoint path of a scored model's spec (``PATH`` or ``NAME:PATH``)."""
    name, sep, path = spec.partition(":")
    return path if sep and name in ("fusion", *BEYOND.values()) else spec


def _stage_config(cfg: Config, recipe, stage: str, init_from: str | None,
                  checkpoints: dict[str, str] | None = None) -> Any:
    base = recipe.PROFILES[cfg.profile]
    shared = {"data_dir": cfg.data_dir, "cache_dir": cfg.cache_dir, "split": cfg.split, "seed": cfg.seed,
              "val_by_record": cfg.split == "inter" if cfg.val_by_record is None else cfg.val_by_record,
              "eps": cfg.eps, "attacks": cfg.attacks, "apgd_steps": cfg.apgd_steps, "experiment": cfg.experiment, "tracking_uri": cfg.tracking_uri,
              "device": cfg.device, "resume": cfg.resume, "output_dir": cfg.output_dir, "threads": cfg.threads,
              "curve_eps": cfg.curve_eps, "curve_n": cfg.curve_n}
    if cfg.eval_n is not None:
        shared["eval_n"] = cfg.eval_n
    if stage == "detector":  # the detector scores its own attack set (seen and unseen in its training)
        for key in ("attacks", "eps", "curve_eps", "curve_n"):
            shared.pop(key)
    if stage in ANALYSES:  # no attacks; their own number of test beats (the whole split / 500 certified beats)
        for key in ("attacks", "eps", "curve_eps", "curve_n", "apgd_steps", "eval_n"):
            shared.pop(key, None)
    source = (checkpoints or {}).get(FUSION_CNN_FROM.get(stage, ""))
    if source:
        shared["init_cnn_from"] = source
    if init_from and (stage == "detector" or (stage in (*DEFENCES, "certify") and cfg.warm_start)):
        shared["init_from"] = init_from  # the detector guards the baseline; quick defences fine-tune it
        if stage in (*DEFENCES, "certify"):
            shared["nb_epochs"] = cfg.finetune_epochs
    names = {f.name for f in dataclasses.fields(base)}
    scfg = dataclasses.replace(base, **{k: v for k, v in shared.items() if k in names})
    own = {}
    for item in cfg.stage_settings:
        if len(item) != 3:
            raise ConfigError(f"bad stage_settings entry {item!r}: expected (stage, field, value)")
        if item[0] != stage:
            continue
        if item[1] not in names:
            raise ConfigError(f"bad stage_settings entry {item!r}: stage {stage!r} has no field {item[1]!r} "
                              f"(fields: {', '.join(sorted(names))})")
        own[item[1]] = item[2]
    return dataclasses.replace(scfg, **own)


def check_stage_settings(cfg: Config, known: list[str]) -> None:
    """Refuse ``stage_settings`` naming a stage that is neither run nor a known recipe (a typo); settings of a known
    stage that is not run are ignored, so ``--set stages=...`` can run a subset of a profile."""
    unknown = sorted({str(item[0]) for item in cfg.stage_settings if len(item) == 3} - set(cfg.stages) - set(known))
    if unknown:
        raise ConfigError(f"stage_settings name unknown stages {', '.join(unknown)} (stages: {', '.join(cfg.stages)})")


def run(cfg: Config) -> list[dict[str, Any]]:
    """Run every stage (reusing finished ones with ``resume``), then print and save the table."""
    from ecg_art.cli import RECIPES
    from ecg_art.exceptions import RegistryError
    from ecg_art.io import write_json
    from ecg_art.report import report_from_paper_dir
    from ecg_art.tracking import Tracker
    from ecg_art.report.html import ADVERSARIAL_BEATS_PREFIX, ANALYSIS_FIGURES
    from recipes.common import ADVERSARIAL_BEATS_FILE, results_dir

    check_stage_settings(cfg, RECIPES.names())
    out = Path(cfg.output_dir) / f"{cfg.name}-{cfg.profile}-{cfg.split}-s{cfg.seed}"
    out.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, Any]] = []
    missing: list[str] = []
    baseline_ckpt: str | None = None
    checkpoints: dict[str, str] = {}  # selected weights of the beat-only models, for the fusion stages
    scored: dict[str, str] = {}  # model specs of every model stage, for the noise stage
    analyses: dict[str, tuple[Any, dict]] = {}  # noise / certify: (recipe, its results.json)
    figures: dict[str, Path] = {}  # each stage's adversarial-beat figure, copied next to the table for the report
    t0 = time.perf_counter()
    with Tracker(cfg.experiment, run_name=f"paper-{cfg.profile}", tracking_uri=cfg.tracking_uri) as parent:
        parent.log_params(config_params(cfg))
        for stage in cfg.stages:
            try:
                recipe = RECIPES.get(stage)
            except RegistryError:
                logger.warning("stage %r: not yet implemented (no recipe registered); skipped", stage)
                missing.append(stage)
                continue
            scfg = _stage_config(cfg, recipe, stage, baseline_ckpt, checkpoints)
            if stage == "noise":  # the models this job trained (none: the newest on disk, see recipes.noise)
                scfg = dataclasses.replace(scfg, models=tuple(f"{k}={v}" for k, v in scored.items()
                                                              if Path(_spec_path(v)).is_file()))
            figures[stage] = results_dir(scfg) / (recipe.FIGURE_FILE if stage in ANALYSES else ADVERSARIAL_BEATS_FILE)
            if stage == "baseline" or stage in DEFENCES:
                checkpoints[stage] = scored[stage] = str(results_dir(scfg) / "checkpoints-train" / "best.pt")
            if stage in BEYOND:  # NAME:CHECKPOINT, so the noise stage builds the right network
                scored[stage] = f"{BEYOND[stage]}:{results_dir(scfg) / 'checkpoints-train' / 'best.pt'}"
            if stage in FUSION_CNN_FROM:
                from recipes.fusion import stage2_config

                scored[stage] = f"fusion:{results_dir(stage2_config(scfg)) / 'checkpoints-stage2' / 'best.pt'}"
            if stage == "baseline":
                baseline_ckpt = checkpoints[stage]
            done = results_dir(scfg) / "results.json"
            if cfg.resume and done.is_file() and stage in ANALYSES:
                finished = json.loads(done.read_text())
                if finished.get("complete", True):  # certify writes its rows as each sigma ends
                    logger.info("stage %r: reusing finished run %s", stage, done)
                    analyses[stage] = (recipe, finished)
                    continue
            elif cfg.resume and done.is_file():
                logger.info("stage %r: reusing finished run %s", stage, done)
                finished = json.loads(done.read_text())
                row = legacy_row(finished["row"], finished.get("config", {}).get("attacks", ()))
                if "sens" not in row and "clean" in finished:  # runs whose row did not carry per-class figures
                    row.update(per_class(SimpleNamespace(sensitivity=finished["clean"].get("sensitivity", {}),
                                                         ppv=finished["clean"].get("ppv", {}))))
                rows.append(row)
                continue
            ts = time.perf_counter()
            with parent.child(stage) as child:
                row = recipe.run(scfg) if not _accepts_tracker(recipe) else recipe.run(scfg, tracker=child)
                child.log_metrics({"stage_seconds": time.perf_counter() - ts})
            if stage in ANALYSES:
                analyses[stage] = (recipe, json.loads(done.read_text()))
                continue
            rows.append(row)
        table = tables(rows, cfg.eps, split=cfg.split)
        for recipe, result in analyses.values():
            table += "\n\n" + recipe.summary_table(result)
        if missing:
            table += f"\n\nNot yet implemented: {', '.join(missing)}."
        seconds = time.perf_counter() - t0
        parent.log_metrics({"total_seconds": seconds})
        parent.log_text(table, "paper_table.md")
        parent.log_dict({"rows": rows, "missing": missing, "config": cfg.to_dict()}, "paper_table.json")
        (out / "table.md").write_text(table + "\n")
        for stage, path in figures.items():
            if path.is_file():
                shutil.copyfile(path, out / (ANALYSIS_FIGURES[stage][0] if stage in ANALYSES
                                             else f"{ADVERSARIAL_BEATS_PREFIX}{stage}.png"))
        write_json(out / "table.json", {"rows": rows, "missing": missing, "config": cfg.to_dict(), "seconds": seconds,
                                        "analyses": {k: v[1] for k, v in analyses.items()}})
        # one self-contained HTML page: tables, figures, the command that made them, package versions
        report = report_from_paper_dir(out, commands=_invocation())
        parent.log_artifact(report)
        for png in sorted(out.glob("*.png")):  # the report's figures (trade-off, robust accuracy vs eps)
            parent.log_artifact(png, "figures")
    print(f"\npaper ({cfg.profile}, {cfg.split} split, eps {', '.join(f'{e:g}' for e in cfg.eps)} in normalised "
          f"beat units; accuracies in %; {seconds / 60:.1f} min)\n{table}\nwritten to {out}/table.md; report: {report}")
    return rows


def legacy_row(row: dict[str, Any], attacks) -> dict[str, Any]:
    """``row`` of a finished run with the current keys: runs whose attacks did not include the standard AutoAttack
    wrote the APGD-CE + APGD-DLR ensemble as ``autoattack@eps``, now ``apgd-ce-dlr@eps``.

    Examples
    --------
    >>> legacy_row({"autoattack@0.05": 0.4, "pgd@0.05": 0.5}, ["pgd", "ta-apgd", "ta-apgd-dlr"])
    {'apgd-ce-dlr@0.05': 0.4, 'pgd@0.05': 0.5}
    """
    if "autoattack" in attacks:
        return row
    return {("apgd-ce-dlr" + k[len("autoattack"):] if k.startswith("autoattack@") else k): v for k, v in row.items()}


def _invocation() -> list[str] | None:
    """The ``ecg-art`` command line of this process, when it is one (else the report rebuilds it from the config)."""
    import shlex
    import sys

    prog = Path(sys.argv[0]).name if sys.argv else ""
    if prog in ("ecg-art", "cli.py") and len(sys.argv) > 1:
        return ["ecg-art " + shlex.join(sys.argv[1:])]
    return None


def _accepts_tracker(recipe) -> bool:
    import inspect

    return "tracker" in inspect.signature(recipe.run).parameters


# The reference's columns (Model | Clean | PGD-20 | SAP | Params) first, then the extensions; one group per eps.
MODEL_COLUMNS = (("pgd", "PGD-20"), ("sap", "SAP"))
EXTRA_COLUMNS = (("fgsm", "FGSM"), ("pgd-100", "PGD-100"), ("apgd-ce-dlr", "APGD-CE+DLR"),
                 ("autoattack", "AutoAttack (standard)"), ("worst", "worst case"),
                 ("acc_robust", "ACC_robust"), ("adaptive", "adaptive worst (fusion; a: whole context)"),
                 ("beat_only", "adaptive worst (fusion; b: beat window only)"))
#: The AAMI EC57 classes of the field's per-class table (Q is too rare in MIT-BIH to score).
AAMI_TABLE_CLASSES = ("N", "S", "V", "F")
#: de Chazal, O'Dwyer & Reilly, IEEE TBME 51(7):1196-1206 (2004), linear discriminants on RR + morphology features,
#: DS1 -> DS2 gross results as published (sensitivity / positive predictivity, fractions).
DE_CHAZAL_2004 = {"model": "de Chazal et al. 2004 (published; DS1 -> DS2)",
                  "sens": {"N": 0.869, "S": 0.759, "V": 0.777, "F": 0.894},
                  "ppv": {"N": 0.992, "S": 0.385, "V": 0.819, "F": 0.086}}
DETECTOR_COLUMNS = (("detector_auc", "AUC (non-adaptive, mean)"), ("detector_auc_seen", "AUC seen attacks"),
                    ("detector_auc_unseen", "AUC unseen attacks"), ("detector_tpr5", "TPR @ 5% FPR"),
                    ("detector_auc_adaptive", "AUC adaptive (worst attack)"),
                    ("detector_auc_adaptive_fooled", "AUC adaptive, misclassified beats"),
                    ("detector_joint_success_adaptive", "adaptive joint success"),
                    ("detector_classifier_worst", "classifier alone, worst case"),
                    ("detector_accuracy_with_rejection", "accuracy with rejection (worst case)"),
                    ("detector_clean_reject", "clean test beats rejected"))


def aami_table(rows: list[dict[str, Any]], *, reference: dict[str, Any] | None = None) -> str:
    """Per-class sensitivity (Se) and positive predictivity (+P) on the clean test split, the field's AAMI EC57 table
    (N, S, V, F), one row per model that reports them, plus ``reference`` (e.g. :data:`DE_CHAZAL_2004`); a value
    that is undefined (+P of a class the model never predicts) is left blank."""
    cols = ["model"] + [f"{m}_{c}" for c in AAMI_TABLE_CLASSES for m in ("sens", "ppv")]
    headers = {"model": "Model", **{f"{m}_{c}": f"{c} {'Se' if m == 'sens' else '+P'}" for c in AAMI_TABLE_CLASSES
                                    for m in ("sens", "ppv")}}
    flat = []
    for r in [*(x for x in rows if isinstance(x.get("sens"), dict)), *([reference] if reference else [])]:
        values = {f"{m}_{c}": (r.get(m) or {}).get(c) for m in ("sens", "ppv") for c in AAMI_TABLE_CLASSES}
        flat.append({"model": r["model"], **{k: float(v) for k, v in values.items() if v is not None and v == v}})
    return format_table(flat, cols, percent=tuple(cols[1:]), headers=headers) if flat else ""


def tables(rows: list[dict[str, Any]], eps: tuple[float, ...], *, split: str = "intra") -> str:
    """The models table in the reference's format (extended), the AAMI per-class table (with de Chazal's published
    row on the inter-patient split) and the detector table, as markdown."""
    models = [r for r in rows if "clean" in r]
    detectors = [r for r in rows if "detector_auc" in r]
    cols, headers = ["model", "clean"], {"model": "Model", "clean": "Clean"}
    for e in eps:
        for key, label in MODEL_COLUMNS:
            cols.append(f"{key}@{e:g}")
            headers[cols[-1]] = f"{label} @{e:g}"
    cols += ["params", "macro_f1"]
    headers.update(params="Params", macro_f1="macro-F1")
    for e in eps:
        for key, label in EXTRA_COLUMNS:
            if any(f"{key}@{e:g}" in r for r in models):
                cols.append(f"{key}@{e:g}")
                headers[cols[-1]] = f"{label} @{e:g}"
    out = format_table(models, cols, percent=tuple(c for c in cols if c not in ("model", "params")),
                       headers=headers)
    aami = aami_table(models, reference=DE_CHAZAL_2004 if split == "inter" else None)
    if aami:
        out += "\n\nPer class on the clean test split (AAMI EC57; Se = sensitivity, +P = positive predictivity, %):\n" \
            + aami
    if detectors:
        dcols = ["model"] + [k for k, _ in DETECTOR_COLUMNS if any(k in r for r in detectors)]
        out += "\n\nDetector (held-out test split; AUC and rates in %):\n" + format_table(
            detectors, dcols, percent=tuple(dcols[1:]), headers={"model": "Detector", **dict(DETECTOR_COLUMNS)})
    return out


if __name__ == "__main__":
    run(PROFILES["quick"])
