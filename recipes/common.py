"""Steps shared by the recipes: configuration, data preparation, training, evaluation, MLflow logging, tables."""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

from ecg_art.exceptions import ConfigError
from ecg_art.tracking.params import BOOKKEEPING  # fields left out of the results folder's config hash

logger = logging.getLogger(__name__)

__all__ = ["Config", "Recipe", "Prepared", "run_model", "run_tracker", "result_row", "per_class", "training_pgd", "prepare_data", "build_classifier", "train", "evaluate", "format_table",
           "results_dir", "set_threads"]


@dataclass(frozen=True)
class Config:
    """Every number of a recipe run. ``quick`` / ``full`` profiles are instances of this class."""

    name: str = "baseline"
    profile: str = "quick"
    # data
    data_dir: str | None = None
    cache_dir: str | None = None
    split: str = "intra"
    val_by_record: bool = False  # inter split: validation = whole DS1 records held out (patient-disjoint selection)
    seed: int = 0
    window: int = 256
    r_offset: int = 90
    train_n: int | None = 16000  # stratified training subset (see train_subset); None = all
    # how train_n beats are picked: "capped" (equal per-class cap, rare classes whole: class-balanced) or
    # "proportional" (the training split's own class mix)
    train_subset: str = "capped"
    val_n: int | None = 4000
    eval_n: int | None = 1000  # random test beats attacked (clean metrics use the whole test split); None = all
    # model and training
    model: str = "baseline_cnn"
    init_from: str | None = None  # ecg_art checkpoint whose "model" weights start the training (fine-tuning)
    nb_epochs: int = 12
    patience: int = 4
    batch_size: int = 256
    lr: float = 1e-3
    lr_factor: float = 0.5  # ReduceLROnPlateau on validation macro-F1
    lr_patience: int = 1
    class_weight_power: float = 0.25  # inverse-frequency weights ** power (0.25 keeps N accuracy, lifts S/V/F)
    # attacks (eps in the normalised [0, 1] beat unit)
    attacks: tuple[str, ...] = ("fgsm", "pgd")
    eps: tuple[float, ...] = (0.01, 0.03, 0.05)
    pgd_iter: int = 20
    # torchattacks APGD-CE / APGD-DLR (the APGD-CE+DLR ensemble); "autoattack" (standard AutoAttack) keeps its own
    # standard settings whatever the profile
    apgd_steps: int = 100
    apgd_restarts: int = 1
    attack_batch_size: int = 256
    # robust accuracy vs eps: every attack of the run also at these eps, on the first `curve_n` attacked beats
    curve_eps: tuple[float, ...] = ()
    curve_n: int = 200
    # training-time noise augmentation (recipes/noise.py): kinds "bw", "ma" (NSTDB, training half of each record
    # only) and "gauss" on a share p of the beats per epoch, at SNRs (dB, NSTDB definition) drawn in the range
    noise_augment: tuple[str, ...] = ()
    noise_augment_snr_db: tuple[float, float] = (-6.0, 24.0)
    noise_augment_p: float = 0.5
    noise_dir: str | None = None  # NSTDB folder (default: $ECG_ART_NOISE_DATA, else nstdb beside the MIT-BIH folder)
    # bookkeeping
    experiment: str = "ecg_art"
    tracking_uri: str | None = None
    device: str = "auto"
    resume: bool = False
    output_dir: str = "results"
    log_model: bool = True
    threads: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class Recipe:
    """What ``ecg-art run NAME`` needs: named profiles and a ``run(cfg)``; registered as an ``ecg_art.recipes`` entry
    point (a module with ``PROFILES`` and ``run`` works too)."""

    name: str
    PROFILES: dict[str, Any]
    run: Callable[[Any], Any]


@dataclass
class Prepared:
    """Arrays of one run: train/val subsets, the whole test split and the attacked test subset."""

    dataset: Any
    split: Any
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    eval_idx: np.ndarray  # indices into x_test of the beats that are attacked
    train_idx: np.ndarray | None = None  # dataset indices of x_train / x_val (x_test: split.test)
    val_idx: np.ndarray | None = None

    def sizes(self) -> dict[str, int]:
        return {"n_train": len(self.y_train), "n_val": len(self.y_val), "n_test": len(self.y_test),
                "n_eval": len(self.eval_idx)}


def config_params(cfg) -> dict[str, Any]:
    """The config as MLflow params; ``device`` becomes ``device_requested`` (the tracker logs the device used)."""
    params = dataclasses.asdict(cfg)
    params["device_requested"] = params.pop("device", None)
    return params


@contextlib.contextmanager
def run_tracker(cfg, tracker=None) -> Iterator[Any]:
    """Yield ``tracker`` as it is (a child run of the paper job), or a new MLflow run for ``cfg`` that is closed, with
    the outcome's status, when the block ends."""
    if tracker is not None:
        yield tracker
        return
    from ecg_art.tracking import Tracker

    with Tracker(cfg.experiment, run_name=f"{cfg.name}-{cfg.profile}", tracking_uri=cfg.tracking_uri) as own:
        yield own


def set_threads(cfg: Config) -> None:
    import torch

    if cfg.threads:
        torch.set_num_threads(int(cfg.threads))


NOISE_AUGMENT_FIELDS = ("noise_augment", "noise_augment_snr_db", "noise_augment_p", "noise_dir")
# Options added after runs were published, with the default that reproduces those runs (left out of the hash then).
LATER_DEFAULTS = {"adv_method": "at", "trades_beta": 6.0, "train_subset": "capped", "fast_noise": None}


def config_hash(cfg) -> str:
    """Short hash of every field of ``cfg`` that affects results (not :data:`BOOKKEEPING`)."""
    import hashlib
    import json

    fields = {k: v for k, v in dataclasses.asdict(cfg).items() if k not in BOOKKEEPING}
    if not fields.get("noise_augment"):  # runs without augmentation keep the hash they had before the option existed
        fields = {k: v for k, v in fields.items() if k not in NOISE_AUGMENT_FIELDS}
    for k, v in LATER_DEFAULTS.items():  # so do runs that leave a later option at its default
        if k in fields and fields[k] == v:
            del fields[k]
    return hashlib.sha256(json.dumps(fields, sort_keys=True, default=str).encode()).hexdigest()[:8]


def results_dir(cfg) -> Path:
    """``<output_dir>/<name>-<profile>-<split>-s<seed>-<config hash>``: checkpoints and result files of a run, so a
    resumed run never picks up the checkpoints of a run with other settings."""
    path = Path(cfg.output_dir) / f"{cfg.name}-{cfg.profile}-{cfg.split}-s{cfg.seed}-{config_hash(cfg)}"
    path.mkdir(parents=True, exist_ok=True)
    return path


BEAT_WINDOW, BEAT_R_OFFSET = 256, 90  # the beat-only models' window: its min-max is the eps unit everywhere


def prepare_data(cfg: Config) -> Prepared:
    """Load beats, split them, subsample the training side for the profile, pick the attacked test beats."""
    from ecg_art import data

    scale = {}
    if getattr(cfg, "beat_unit", False):  # a long context scaled in the unit of its beat window (the baseline's input)
        scale = {"norm_span": (cfg.r_offset - BEAT_R_OFFSET, cfg.r_offset - BEAT_R_OFFSET + BEAT_WINDOW),
                 "clip": tuple(cfg.context_clip)}
    ds = data.load_beats(cfg.data_dir, data.BeatConfig(window=cfg.window, r_offset=cfg.r_offset, **scale),
                         cache_dir=cfg.cache_dir)
    split = data.make_split(ds, cfg.split, seed=cfg.seed, val_by_record=cfg.val_by_record)
    if (cfg.window, cfg.r_offset) != (BEAT_WINDOW, BEAT_R_OFFSET) or scale:
        # other windows hold other beats: split as the beat-only models' data, beat by beat, so that no beat is
        # tested here that a model this one starts from (init_cnn_from) was trained on
        ref = data.load_beats(cfg.data_dir, data.BeatConfig(), cache_dir=cfg.cache_dir)
        split = data.transfer_split(data.make_split(ref, cfg.split, seed=cfg.seed, val_by_record=cfg.val_by_record),
                                    ref, ds)
    train_idx, val_idx = split.train, split.val
    if cfg.train_subset not in data.SUBSET_MODES:
        raise ConfigError(f"`train_subset` must be one of {', '.join(data.SUBSET_MODES)}, got {cfg.train_subset!r}")
    if cfg.train_n:
        train_idx = data.stratified_subset(train_idx, ds.y, cfg.train_n, seed=cfg.seed, mode=cfg.train_subset)
    if cfg.val_n:
        val_idx = data.stratified_subset(val_idx, ds.y, cfg.val_n, seed=cfg.seed + 1)
    rng = np.random.default_rng(cfg.seed + 2)
    n_test = len(split.test)
    eval_idx = np.arange(n_test) if not cfg.eval_n or cfg.eval_n >= n_test else np.sort(
        rng.choice(n_test, size=cfg.eval_n, replace=False))
    return Prepared(ds, split, ds.x[train_idx], ds.y[train_idx], ds.x[val_idx], ds.y[val_idx],
                    ds.x[split.test], ds.y[split.test], eval_idx, train_idx=train_idx, val_idx=val_idx)


def build_classifier(cfg: Config, y_train: np.ndarray, *, model=None, clip_values=(0.0, 1.0),
                     input_length: int | None = None):
    """The registered model ``cfg.model`` wrapped as an ART PyTorchClassifier with class-weighted loss."""
    import torch

    from ecg_art.data import AAMI_CLASSES
    from ecg_art.estimators import make_classifier
    from ecg_art.models import get_model
    from ecg_art.training import class_weights_from_labels

    torch.manual_seed(cfg.seed)
    if model is None:
        model = get_model(cfg.model, n_classes=len(AAMI_CLASSES), input_length=cfg.window)
    if cfg.init_from:
        from ecg_art.exceptions import CheckpointError
        from ecg_art.io import load_checkpoint

        try:
            model.load_state_dict(load_checkpoint(cfg.init_from)["model"])
        except (KeyError, RuntimeError) as exc:
            raise CheckpointError(f"`init_from` checkpoint {cfg.init_from!r} does not fit model {cfg.model!r}: "
                                  f"{exc}") from exc
        logger.info("initialised %s from %s", cfg.model, cfg.init_from)
    weights = class_weights_from_labels(y_train, nb_classes=len(AAMI_CLASSES), power=cfg.class_weight_power)
    return make_classifier(model, input_length=input_length or cfg.window, nb_classes=len(AAMI_CLASSES),
                           class_weights=weights,
                           lr=cfg.lr, device=cfg.device, clip_values=clip_values)


def training_pgd(classifier, *, eps: float, max_iter: int, eps_step: float | None, batch_size: int):
    """ART's PGD for adversarial training: one random start, step ``2.5 eps / max_iter`` by default (Madry et al.)."""
    from art.attacks.evasion import ProjectedGradientDescent

    return ProjectedGradientDescent(classifier, norm="inf", eps=eps, max_iter=max_iter,
                                    eps_step=eps_step or 2.5 * eps / max_iter, num_random_init=1,
                                    batch_size=batch_size, verbose=False)


def train(cfg: Config, classifier, prep: Prepared, tracker, *, trainer=None, stage: str = "train"):
    """Epoch-wise training with validation-only model selection, checkpoints under :func:`results_dir`."""
    from ecg_art.training import fit_classifier

    if getattr(cfg, "noise_augment", ()):  # applied by run_model only: refuse rather than train without it
        from ecg_art.noise import NoiseAugmentationTrainer

        if not isinstance(trainer, NoiseAugmentationTrainer):
            raise ConfigError(f"`noise_augment` is not supported by recipe {cfg.name!r} (supported by the baseline, "
                              "the defences and the fusion recipes)")

    def log_epoch(epoch: int, metrics: dict[str, float]) -> None:
        tracker.log_metrics({f"{stage}_{k}": v for k, v in metrics.items() if k != "epoch"}, step=epoch)

    from torch.optim.lr_scheduler import ReduceLROnPlateau

    scheduler = ReduceLROnPlateau(classifier.optimizer, mode="max", factor=cfg.lr_factor, patience=cfg.lr_patience)
    history = fit_classifier(
        classifier, prep.x_train, prep.y_train, validation_data=(prep.x_val, prep.y_val),
        nb_epochs=cfg.nb_epochs, batch_size=cfg.batch_size, patience=cfg.patience, seed=cfg.seed,
        trainer=trainer, scheduler=scheduler, checkpoint_dir=results_dir(cfg) / f"checkpoints-{stage}", resume=cfg.resume,
        on_epoch_end=log_epoch, verbose=True, desc=f"{cfg.name} {stage}",
    )
    tracker.log_metrics({f"{stage}_best_epoch": history.best_epoch, f"{stage}_best_val_macro_f1": history.best_score,
                         f"{stage}_seconds": history.seconds})
    return history


def attack_kwargs(cfg: Config, attacks: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    """Per-attack settings of the run (iteration counts) for the attacks being run."""
    kw = {"pgd": {"max_iter": cfg.pgd_iter}, "ta-pgd": {"steps": cfg.pgd_iter}, "sap": {"pgd_iter": cfg.pgd_iter},
          "ta-apgd": {"steps": cfg.apgd_steps, "n_restarts": cfg.apgd_restarts},
          "ta-apgd-dlr": {"steps": cfg.apgd_steps, "n_restarts": cfg.apgd_restarts}}
    return {name: kw[name] for name in attacks if name in kw}


# Columns derived per eps from per-beat correctness: a beat counts robust only if every listed attack fails on it.
# "apgd-ce-dlr" is APGD-CE + APGD-DLR, not AutoAttack: the standard AutoAttack is the attack "autoattack" (its
# per-attack row key "autoattack@eps"). ("+" is no valid MLflow metric character, hence the name.)
ENSEMBLES: dict[str, tuple[str, ...]] = {"apgd-ce-dlr": ("ta-apgd", "ta-apgd-dlr")}
# Attacks run at the table's budgets only, not at the extra budgets of an analysis (the fusion's feature-shift eps;
# the robustness curve leaves them out at every eps):
# the standard AutoAttack costs minutes per budget and model on a CPU (README). Nor under the fusion's threat model
# (b): its beat-window wrapper finds each beat's context by the nearest clean window, which FAB-T's iterates leave.
TABLE_ONLY_ATTACKS = ("autoattack",)
# ACC_robust as the reference defines it: sqrt(clean x mean(FGSM, PGD-20, PGD-100, SAP)), over those that ran.
ACC_ROBUST_ATTACKS = ("fgsm", "pgd", "pgd-100", "sap")


def derived_metrics(classifier, adv: dict[tuple[str, float], np.ndarray], y: np.ndarray, clean_accuracy: float,
                    eps: tuple[float, ...], *, clean_correct: np.ndarray) -> dict[str, float]:
    """Per eps: ``worst@eps`` (all attacks run), ensembles of :data:`ENSEMBLES` and ``acc_robust@eps``.

    A beat counts robust only if its clean prediction is right and every attack in the set fails on it (the
    RobustBench convention, also used by ``ecg-art benchmark``)."""
    from ecg_art.estimators import predict_labels
    from ecg_art.evaluation import worst_case_correct

    correct = {key: predict_labels(classifier, x_adv) == y for key, x_adv in adv.items()}
    out: dict[str, float] = {}
    for e in eps:
        at_eps = {a: c for (a, ee), c in correct.items() if ee == e}
        if not at_eps:
            continue
        out[f"worst@{e:g}"] = float(worst_case_correct(at_eps, clean=clean_correct).mean())
        for name, members in ENSEMBLES.items():
            if all(m in at_eps for m in members):
                out[f"{name}@{e:g}"] = float(worst_case_correct({m: at_eps[m] for m in members},
                                                                clean=clean_correct).mean())
        used = [float(at_eps[a].mean()) for a in ACC_ROBUST_ATTACKS if a in at_eps]
        if used:
            out[f"acc_robust@{e:g}"] = float(np.sqrt(clean_accuracy * np.mean(used)))
    return out


def evaluate(cfg: Config, classifier, prep: Prepared, tracker, *, attacks: tuple[str, ...] | None = None
             ) -> dict[str, Any]:
    """Clean metrics on the whole test split, attacks on the attacked subset; logs metrics, table and figures."""
    from ecg_art.attacks import evaluate_attacks
    from ecg_art.data import AAMI_CLASSES
    from ecg_art.estimators import predict_labels
    from ecg_art.evaluation import classification_metrics
    from ecg_art.evaluation.plots import adversarial_beats_figure, confusion_matrix_figure

    t0 = time.perf_counter()
    clean = classification_metrics(prep.y_test, predict_labels(classifier, prep.x_test))
    tracker.log_metrics(clean.flat("test_"))
    tracker.log_figure(confusion_matrix_figure(clean.confusion, AAMI_CLASSES), "confusion_matrix.png")
    x_eval, y_eval = prep.x_test[prep.eval_idx], prep.y_test[prep.eval_idx]
    attacks = tuple(attacks if attacks is not None else cfg.attacks)
    results, adv = evaluate_attacks(classifier, x_eval, y_eval, attacks=attacks, eps=cfg.eps,
                                    batch_size=cfg.attack_batch_size, attack_kwargs=attack_kwargs(cfg, attacks),
                                    return_adv=True, verbose=True)
    for r in results:
        tag = f"{r.attack}_eps{r.eps:g}"
        tracker.log_metrics({f"adv_acc_{tag}": r.adv_accuracy, f"adv_macro_f1_{tag}": r.macro_f1,
                             f"snr_db_{tag}": r.snr_db, f"smoothness_{tag}": r.smoothness})
    clean_correct = predict_labels(classifier, x_eval) == y_eval
    clean_eval = float(clean_correct.mean())
    derived = derived_metrics(classifier, adv, y_eval, clean_eval, tuple(cfg.eps), clean_correct=clean_correct)
    tracker.log_metrics({k.replace("@", "_eps"): v for k, v in derived.items()})
    curve = robustness_curve(cfg, classifier, x_eval, y_eval, adv, clean_correct, attacks=attacks, tracker=tracker)
    tracker.log_dict({"clean": clean.to_dict(), "attacks": [r.to_dict() for r in results], "derived": derived,
                      "curve": curve}, "results.json")
    eps_fig = max(cfg.eps)
    beat = example_beat(y_eval)
    shown = attacks[:MAX_FIGURE_ATTACKS]  # the first attacks of the table: a figure that stays readable
    examples = {f"{a} eps={eps_fig:g}": adv[(a, eps_fig)][beat] for a in shown if (a, eps_fig) in adv}
    if examples:
        fig = adversarial_beats_figure(x_eval[beat], examples, fs=360, title=f"{cfg.name}: attacked test beat")
        tracker.log_figure(fig, "adversarial_beats.png")
        fig.savefig(results_dir(cfg) / ADVERSARIAL_BEATS_FILE, dpi=100)
    logger.info("evaluation took %.1f s", time.perf_counter() - t0)
    return {"clean": clean, "attacks": results, "derived": derived, "clean_eval_accuracy": clean_eval, "curve": curve}


#: The adversarial-beat figure of a run, saved beside its ``results.json`` (the paper job's report shows it), with
#: the first attacks of the run.
ADVERSARIAL_BEATS_FILE, MAX_FIGURE_ATTACKS = "adversarial_beats.png", 6


def example_beat(y: np.ndarray) -> int:
    """Index of the beat the adversarial-beat figure shows: the first ventricular beat (its perturbations show best),
    else the first beat."""
    from ecg_art.data import AAMI_CLASSES

    v_beats = np.flatnonzero(np.asarray(y) == AAMI_CLASSES.index("V"))
    return int(v_beats[0]) if v_beats.size else 0


def curve_subset(cfg: Config, n_eval: int) -> np.ndarray:
    """Sorted indices of the ``cfg.curve_n`` attacked beats of the eps curve: a seeded random subset (the attacked
    beats are in record order, so their first ones would be a few patients')."""
    if not isinstance(cfg.curve_n, int) or cfg.curve_n < 1:
        raise ConfigError(f"`curve_n` must be a positive int, got {cfg.curve_n!r}")
    return np.sort(np.random.default_rng(cfg.seed + 6).permutation(n_eval)[:cfg.curve_n])


def robustness_curve(cfg: Config, classifier, x: np.ndarray, y: np.ndarray,
                     adv: dict[tuple[str, float], np.ndarray], clean_correct: np.ndarray, *,
                     attacks: tuple[str, ...], tracker=None) -> dict[str, Any] | None:
    """Worst case over ``attacks`` per eps (0, ``cfg.eps`` and ``cfg.curve_eps``) on ``cfg.curve_n`` of the attacked
    beats (:func:`curve_subset`): the main evaluation's adversarial examples ``adv`` are reused, the other eps are attacked here.
    :data:`TABLE_ONLY_ATTACKS` (the standard AutoAttack) are left out at every eps, so each point of the curve is
    the worst case over the same attacks. None when ``cfg.curve_eps`` is empty."""
    from ecg_art.attacks import evaluate_attacks
    from ecg_art.estimators import predict_labels
    from ecg_art.evaluation import worst_case_curve

    if not cfg.curve_eps:
        return None
    sub = curve_subset(cfg, len(y))
    extra = tuple(sorted(set(cfg.curve_eps) - set(cfg.eps)))
    attacks = tuple(a for a in attacks if a not in TABLE_ONLY_ATTACKS)
    correct = {k: predict_labels(classifier, v[sub]) == y[sub] for k, v in adv.items() if k[0] in attacks}
    if extra:
        _, adv_c = evaluate_attacks(classifier, x[sub], y[sub], attacks=attacks, eps=extra,
                                    batch_size=cfg.attack_batch_size, attack_kwargs=attack_kwargs(cfg, attacks),
                                    return_adv=True, verbose=True)
        correct.update({k: predict_labels(classifier, v) == y[sub] for k, v in adv_c.items()})
    curve = worst_case_curve(correct, clean=clean_correct[sub])
    if tracker is not None:
        tracker.log_metrics({f"curve_worst_eps{e:g}": w for e, w in zip(curve["eps"], curve["worst"])})
    return curve


def format_table(rows: list[dict[str, Any]], columns: list[str], *, percent: tuple[str, ...] = (),
                 headers: dict[str, str] | None = None) -> str:
    """A markdown table of ``rows`` (dicts) restricted to ``columns`` (missing values left blank); the ``percent``
    columns are shown x100; ``headers`` renames columns."""
    def fmt(col: str, v: Any) -> str:
        if isinstance(v, (float, np.floating)):
            return f"{100 * v:.2f}" if col in percent else f"{v:.4g}"
        return str(v)

    headers = headers or {}
    head = "| " + " | ".join(headers.get(c, c) for c in columns) + " |"
    sep = "|" + "|".join("---" for _ in columns) + "|"
    body = ["| " + " | ".join(fmt(c, r.get(c, "")) for c in columns) + " |" for r in rows]
    return "\n".join([head, sep, *body])


def per_class(clean) -> dict[str, dict[str, float | None]]:
    """``{"sens": {...}, "ppv": {...}}`` of clean metrics for a table row; undefined values (a class never present
    or never predicted) are None, so rows compare equal and serialise as JSON."""
    def defined(d: dict) -> dict:
        return {k: (None if v is None or v != v else float(v)) for k, v in d.items()}

    return {"sens": defined(clean.sensitivity), "ppv": defined(clean.ppv)}


def result_row(name: str, res: dict[str, Any], params: int) -> dict[str, Any]:
    """One table row: clean accuracy and macro-F1 on the test split, adversarial accuracy per (attack, eps)."""
    row: dict[str, Any] = {"model": name, "clean": res["clean"].accuracy, "macro_f1": res["clean"].macro_f1,
                           "params": params, **per_class(res["clean"])}
    for r in res["attacks"]:
        row[f"{r.attack}@{r.eps:g}"] = r.adv_accuracy
    row.update(res.get("derived", {}))
    if res.get("curve"):
        row["curve"] = res["curve"]
    return row


def run_model(cfg: Config, *, make_trainer: Callable[..., Any] | None = None, tracker=None
              ) -> dict[str, Any]:
    """Prepare data, train ``cfg.model`` (with the ART trainer ``make_trainer(cfg, classifier, prep=prep)`` if given),
    evaluate on the test split, log everything to MLflow (a new run, or ``tracker`` when given), print and return the
    table row."""
    from ecg_art.io import write_json
    from ecg_art.models import count_parameters

    set_threads(cfg)
    prep = prepare_data(cfg)
    classifier = build_classifier(cfg, prep.y_train)
    params = count_parameters(classifier.model)
    with run_tracker(cfg, tracker) as tracker:
        tracker.log_params({**config_params(cfg), **prep.sizes(), "params": params,
                            "data_hash": prep.dataset.fingerprint(), "split_hash": prep.split.fingerprint()})
        trainer = make_trainer(cfg, classifier, prep=prep) if make_trainer is not None else None
        if getattr(cfg, "noise_augment", ()):
            from recipes.noise import augmentation_trainer

            trainer = augmentation_trainer(cfg, classifier, trainer)
        train(cfg, classifier, prep, tracker, trainer=trainer)
        res = evaluate(cfg, classifier, prep, tracker)
        if cfg.log_model:
            tracker.log_model(classifier.model, name="model", input_example=prep.x_val[:2])
        row = result_row(cfg.name, res, params)
        cols = ["model", "clean", "macro_f1", *[k for k in row if "@" in k], "params"]  # per-class dicts: JSON only
        table = format_table([row], cols, percent=tuple(c for c in cols if c not in ("model", "params")))
        tracker.log_text(table, "table.md")
        write_json(results_dir(cfg) / "results.json", {
            "config": cfg.to_dict(), "row": row, "attacks": [r.to_dict() for r in res["attacks"]],
            "clean": res["clean"].to_dict(), "run_id": tracker.run_id})
    print(f"\n{cfg.name} ({cfg.profile}, {cfg.split} split; accuracies in %, eps in normalised beat units)\n{table}")
    return row
