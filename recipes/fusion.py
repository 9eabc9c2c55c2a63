"""Fusion recipe: FusionNet (CNN on the beat + 12 features re-extracted from the attacked input), attacked as deployed
(hard features), adaptively (BPDA), gradient-free, under two threat models, and with an attack on its rhythm features.

``ecg-art run fusion --profile quick|full``: the rhythm-aware model (5 rhythm features from R peaks detected over a
12 s context + 7 morphology features), adversarially trained with the features re-extracted from every adversarial
training input (BPDA); the paper job starts its CNN branch from the AT+NSR weights. ``ecg-art run fusion-clean``:
the same model trained on clean beats (the ablation). The headline ``adaptive@eps`` is the per-beat worst case over
every attack on the whole context (threat model a); ``beat_only@eps`` the same with the beat window only (b).
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
from recipes.common import (ADVERSARIAL_BEATS_FILE, BEAT_R_OFFSET, BEAT_WINDOW, TABLE_ONLY_ATTACKS, Prepared, Recipe,
                            attack_kwargs, build_classifier, config_params, curve_subset, derived_metrics,
                            example_beat, format_table, per_class, prepare_data, results_dir, run_tracker,
                            set_threads, train, training_pgd)

__all__ = ["Config", "PROFILES", "CLEAN_PROFILES", "run", "stage2_config", "train_two_stage", "attack_suite",
           "FUSION_RECIPE", "FUSION_CLEAN_RECIPE"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Config(BaseConfig):
    """Baseline config on context windows plus the fusion model's stages and evaluation (eps: normalised beat unit)."""

    name: str = "fusion"
    model: str = "fusion"
    # "rhythm": 5 rhythm + 7 morphology features; "rhythm-record": those + 3 RR ratios to the recording's mean RR
    # (an extra input value, attacked like the others); "window": the 12 of a 1024 context
    feature_set: str = "rhythm"
    window: int = 4320  # context window (10 s before the beat, 2 s after); the CNN branch sees [r_offset - 90, +256)
    r_offset: int = 3600
    beat_unit: bool = True  # scale each context by its beat window's min-max: the crop is the baseline's input
    context_clip: tuple[float, float] = (-4.0, 5.0)  # clip_values in the beat unit (contexts clipped to it)
    init_cnn_from: str | None = None  # BaselineCNN checkpoint that starts the CNN branch (then no stage 1)
    attacks: tuple[str, ...] = ("fgsm", "pgd", "sap")  # on the deployed model (hard features)
    eps: tuple[float, ...] = (0.05,)  # table budgets (all attacks, adaptive worst case)
    shift_eps: tuple[float, ...] = (0.01, 0.03, 0.05)  # extra budgets of `attacks` for the feature-shift analysis
    adaptive_attacks: tuple[str, ...] = ("fgsm", "pgd", "sap")  # run with feature_mode="bpda"
    adaptive_extra_eps: tuple[float, ...] = ()  # budgets besides `eps` for BPDA, black-box and worst case (not in row)
    blackbox: tuple[str, ...] = ("square",)  # gradient-free on the hard model: "square" and/or "hsj"
    blackbox_n: int = 100  # attacked beats (a seeded subset of the eval beats); the adaptive headline is on these
    square_iter: int = 300
    square_p_init: float = 0.1
    hsj_iter: int = 5
    hsj_max_eval: int = 200
    hsj_init_eval: int = 20
    # stage 1 uses nb_epochs / patience / lr of the base config on the CNN branch (output="cnn")
    stage2_epochs: int = 10
    stage2_patience: int = 3
    stage2_lr: float = 1e-3
    freeze_cnn: bool = True  # stage 2 trains the feature MLP and head only (CNN branch and its BatchNorm frozen)
    head_epochs: int = 1  # before stage 2: clean epochs of the feature MLP and head alone (CNN frozen), so that
    # stage 2 does not train a given CNN branch (init_cnn_from / stage 1) through a random head
    adv_train: bool = False  # ART AdversarialTrainer with ART PGD in both stages
    # with adv_train: "at" (ART AdversarialTrainer, `at_ratio` of each batch adversarial) or "trades" (ART's
    # AdversarialTrainerTRADESPyTorch: every beat's clean loss + `trades_beta` x KL(clean || adversarial))
    adv_method: str = "at"
    trades_beta: float = 6.0
    train_eps: float = 0.05
    train_pgd_iter: int = 7
    at_ratio: float = 0.5
    train_feature_mode: str = "bpda"  # features' gradient during adversarial training
    threat_b_n: int = 200  # beats attacked with the beat window only (threat model b); 0: skip
    feature_attack_eps: tuple[float, ...] = (0.01, 0.03, 0.05)  # attack on the rhythm features (BPDA)
    feature_attack_n: int = 500
    feature_attack_steps: int = 20
    changed_tol: float = 0.1  # a feature "changed" on a beat when |Δf| > changed_tol * IQR(clean)
    invariance_tol: float = 0.05  # "nearly invariant": relative shift (median |Δf| / IQR) below this


PROFILES: dict[str, Config] = {
    # the defence: adversarially trained, the whole model in stage 2 (features re-extracted from each PGD input)
    # quick: 8,000 training beats in the split's own class mix (a class-balanced subset taught the head a prior far
    # too rare in N), 10 clean epochs of the head before the whole model trains adversarially, every training beat
    # adversarial (README, quick-profile results)
    "quick": Config(profile="quick", train_n=8000, train_subset="proportional", val_n=1500, eval_n=200, nb_epochs=6,
                    patience=2, head_epochs=10, stage2_epochs=3, stage2_patience=2, square_iter=200, adv_train=True,
                    freeze_cnn=False, at_ratio=1.0, stage2_lr=5e-4, threat_b_n=100, feature_attack_n=200),
    "full": Config(profile="full", train_n=None, val_n=None, eval_n=2000, nb_epochs=40, patience=8,
                   stage2_epochs=20, stage2_patience=5, adaptive_extra_eps=(0.01, 0.03),
                   blackbox=("square", "hsj"), blackbox_n=300, adv_train=True, freeze_cnn=False, stage2_lr=5e-4,
                   square_iter=1000, hsj_iter=10, hsj_max_eval=500, hsj_init_eval=50),
}
#: The ablation: the same model trained on clean beats (CNN branch frozen in stage 2).
CLEAN_PROFILES: dict[str, Config] = {
    k: dataclasses.replace(v, name="fusion-clean", adv_train=False, freeze_cnn=True, stage2_lr=1e-3)
    for k, v in PROFILES.items()}


def _make_trainer(cfg: Config, classifier):
    from art.defences.trainer import AdversarialTrainer, AdversarialTrainerTRADESPyTorch

    pgd = training_pgd(classifier, eps=cfg.train_eps, max_iter=cfg.train_pgd_iter, eps_step=None,
                       batch_size=cfg.batch_size)
    if cfg.adv_method == "at":
        return AdversarialTrainer(classifier, attacks=pgd, ratio=cfg.at_ratio)
    if cfg.adv_method == "trades":
        return AdversarialTrainerTRADESPyTorch(classifier, pgd, cfg.trades_beta)
    raise ConfigError(f"unknown `adv_method` {cfg.adv_method!r}; known: at, trades")


def stage2_config(cfg: Config) -> Config:
    """The config stage 2 trains with (its epochs and patience): its results folder holds ``checkpoints-stage2``."""
    return dataclasses.replace(cfg, nb_epochs=cfg.stage2_epochs, patience=cfg.stage2_patience)


def train_two_stage(cfg: Config, classifier, prep: Prepared, tracker) -> dict[str, Any]:
    """Stage 1: CNN branch alone (``output="cnn"``; skipped with ``cfg.init_cnn_from``). Stage 2: feature normaliser
    fit on ``prep.x_train`` only, then the fusion head (and feature MLP) trained with the CNN branch frozen
    (``cfg.freeze_cnn``) at ``cfg.stage2_lr``; with the CNN branch trained too, ``cfg.head_epochs`` clean epochs of
    the head alone come first.
    Both stages select their epoch on ``prep.x_val`` (:func:`recipes.common.train`); returns the two histories."""
    model = classifier.model
    trainer = _make_trainer(cfg, classifier) if cfg.adv_train else None

    def noisy(inner):  # with `noise_augment`, every stage trains under noise (the head's clean epochs too)
        if not cfg.noise_augment:
            return inner
        from recipes.noise import augmentation_trainer

        return augmentation_trainer(cfg, classifier, inner)

    model.feature_mode = cfg.train_feature_mode if cfg.adv_train else "hard"
    try:
        h1 = None
        if not cfg.init_cnn_from:  # else the CNN branch comes trained (e.g. the AT+NSR model)
            model.output = "cnn"
            h1 = train(cfg, classifier, prep, tracker, trainer=noisy(trainer), stage="stage1")
        f_train = model.fit_feature_normalizer(prep.x_train)
        model.output = "fusion"
        for group in classifier.optimizer.param_groups:
            group["lr"] = cfg.stage2_lr
        h0 = None
        if cfg.head_epochs and not cfg.freeze_cnn:
            model.freeze("cnn")
            model.feature_mode = "hard"
            h0 = train(dataclasses.replace(cfg, nb_epochs=cfg.head_epochs, patience=cfg.head_epochs), classifier,
                       prep, tracker, trainer=noisy(None), stage="head")
            model.unfreeze("cnn")
            model.feature_mode = cfg.train_feature_mode if cfg.adv_train else "hard"
        if cfg.freeze_cnn:
            model.freeze("cnn")
        cfg2 = stage2_config(cfg)
        h2 = train(cfg2, classifier, prep, tracker, trainer=noisy(trainer), stage="stage2")
    finally:
        model.feature_mode = "hard"
    model.eval()
    logger.info("stage 1 best val macro-F1 %s, stage 2 %.4f (epoch %d); normaliser on %d train beats",
                f"{h1.best_score:.4f} (epoch {h1.best_epoch})" if h1 else f"skipped ({cfg.init_cnn_from})",
                h2.best_score, h2.best_epoch, len(f_train))
    return {"stage1": h1, "head": h0, "stage2": h2, "n_normalizer": len(f_train)}


def attack_suite(cfg: Config, classifier, x: np.ndarray, y: np.ndarray, *, attacks: tuple[str, ...],
                 eps: tuple[float, ...], mode: str = "hard", prefix: str = ""):
    """Run ``attacks`` x ``eps`` with the model's features in ``mode`` (``"bpda"``: gradients of the soft surrogate),
    score every adversarial batch with the deployed hard model. Returns ``(rows, adv, correct)`` keyed
    ``"<prefix><attack>@<eps:g>"``; ``correct`` holds per-beat booleans."""
    from ecg_art.attacks import evaluate_attacks
    from ecg_art.estimators import predict_labels

    kw = attack_kwargs(cfg, attacks)
    classifier.model.feature_mode = mode
    try:
        results, adv = evaluate_attacks(classifier, x, y, attacks=attacks, eps=eps, batch_size=cfg.attack_batch_size,
                                        attack_kwargs=kw, return_adv=True, verbose=True)
    finally:
        classifier.model.feature_mode = "hard"
    rows, out, correct = {}, {}, {}
    for r in results:
        key = f"{prefix}{r.attack}@{r.eps:g}"
        out[key] = adv[(r.attack, r.eps)]
        correct[key] = predict_labels(classifier, out[key]) == y  # hard forward (bit-equal to bpda's forward)
        rows[key] = {**r.to_dict(), "mode": mode, "adv_accuracy": float(correct[key].mean())}
    return rows, out, correct


def _blackbox(cfg: Config, classifier, x: np.ndarray, y: np.ndarray, eps: tuple[float, ...]):
    from ecg_art.estimators import predict_labels
    from ecg_art.evaluation.metrics import linf
    from ecg_art.features import ClippedHopSkipJump, SquareAttack1D

    rows, correct = {}, {}
    for name in cfg.blackbox:
        for e in eps:
            t0 = time.perf_counter()
            if name == "square":
                attack = SquareAttack1D(classifier, eps=e, max_iter=cfg.square_iter, p_init=cfg.square_p_init,
                                        batch_size=cfg.attack_batch_size, seed=cfg.seed)
            elif name == "hsj":
                attack = ClippedHopSkipJump(classifier, eps=e, max_iter=cfg.hsj_iter, max_eval=cfg.hsj_max_eval,
                                            init_eval=cfg.hsj_init_eval, batch_size=cfg.attack_batch_size,
                                            seed=cfg.seed)
            else:
                raise ConfigError(f"`blackbox` entries must be 'square' or 'hsj', got {name!r}")
            x_adv = attack.generate(x, y)
            key = f"{name}@{e:g}"
            correct[key] = predict_labels(classifier, x_adv) == y
            rows[key] = {"attack": name, "eps": e, "n": len(y), "mode": "hard (gradient-free)",
                         "adv_accuracy": float(correct[key].mean()), "linf": linf(x, x_adv),
                         "seconds": time.perf_counter() - t0}
            logger.info("%s: accuracy %.3f (%.1fs)", key, rows[key]["adv_accuracy"], rows[key]["seconds"])
    return rows, correct


def _curve(cfg: Config, classifier, x: np.ndarray, y: np.ndarray, correct: dict[str, np.ndarray],
           clean_ok: np.ndarray, tracker) -> dict[str, Any] | None:
    """Worst case per eps (0, ``eps`` and ``curve_eps``) over the hard and the BPDA attacks (threat model a; the
    table-only standard AutoAttack left out at every eps) on ``curve_n`` of the attacked beats (the seeded subset of
    :func:`recipes.common.curve_subset`); budgets the evaluation already ran are reused. None without
    ``curve_eps``."""
    from ecg_art.evaluation import worst_case_curve

    if not cfg.curve_eps:
        return None
    sub = curve_subset(cfg, len(y))
    eps_all = sorted(set(cfg.curve_eps) | set(cfg.eps))
    got: dict[tuple[str, float], np.ndarray] = {}
    hard = tuple(a for a in cfg.attacks if a not in TABLE_ONLY_ATTACKS)
    for mode, names, prefix in (("hard", hard, ""), ("bpda", cfg.adaptive_attacks, "bpda-")):
        for a in names:
            got.update({(prefix + a, e): correct[f"{prefix}{a}@{e:g}"][sub] for e in eps_all
                        if f"{prefix}{a}@{e:g}" in correct})
        missing = tuple(e for e in eps_all if any((prefix + a, e) not in got for a in names))
        if missing:
            _, _, c = attack_suite(cfg, classifier, x[sub], y[sub], attacks=names, eps=missing, mode=mode,
                                   prefix=prefix)
            for e in missing:
                got.update({(prefix + a, e): c[f"{prefix}{a}@{e:g}"] for a in names})
    curve = worst_case_curve(got, clean=clean_ok[sub])
    tracker.log_metrics({f"curve_worst_eps{e:g}": w for e, w in zip(curve["eps"], curve["worst"])})
    return curve


def _adversarial_beats(cfg: Config, x: np.ndarray, y: np.ndarray, adv: dict[str, np.ndarray], tracker) -> None:
    """The adversarial-beat figure, as the beat-only models have it, on the beat window of the context (the adaptive
    attacks with hard and with BPDA gradients, at the largest table eps), logged and saved beside ``results.json``."""
    from ecg_art.evaluation.plots import adversarial_beats_figure

    e = max(cfg.eps)
    start = cfg.r_offset - BEAT_R_OFFSET
    crop = slice(start, start + BEAT_WINDOW)
    beat = example_beat(y)
    keys = [f"{p}{a}@{e:g}" for p in ("", "bpda-") for a in cfg.adaptive_attacks]
    examples = {f"{k.split('@')[0]} eps={e:g}": adv[k][beat][..., crop] for k in keys if k in adv}
    if examples:
        fig = adversarial_beats_figure(x[beat][..., crop], examples, fs=360,
                                       title=f"{cfg.name}: attacked test beat (beat window of the 12 s context)")
        tracker.log_figure(fig, "adversarial_beats.png")
        fig.savefig(results_dir(cfg) / ADVERSARIAL_BEATS_FILE, dpi=100)


def with_record_rr(cfg: Config, prep: Prepared) -> Prepared:
    """``prep`` with every context followed by its recording's mean RR in seconds (the "rhythm-record" input), from
    the R-peak detector on each whole clean recording of the dataset."""
    from ecg_art.features.record_rhythm import append_record_rr, record_mean_rr

    ds = prep.dataset
    if prep.train_idx is None or prep.val_idx is None:
        raise ConfigError("`prep` lacks train_idx / val_idx: build it with recipes.common.prepare_data")
    leads = dict(zip(ds.record.tolist(), ds.lead.tolist()))
    mean_rr = record_mean_rr(leads, cfg.data_dir, leads=leads)
    if cfg.context_clip[1] < max(mean_rr.values()):
        raise ConfigError(f"`context_clip` {cfg.context_clip} cuts the mean RR of some record "
                          f"({max(mean_rr.values()):.2f} s): raise its upper bound")
    return dataclasses.replace(
        prep, x_train=append_record_rr(prep.x_train, ds.record[prep.train_idx], mean_rr),
        x_val=append_record_rr(prep.x_val, ds.record[prep.val_idx], mean_rr),
        x_test=append_record_rr(prep.x_test, ds.record[prep.split.test], mean_rr))


def _clip_values(cfg: Config) -> tuple[float, float]:
    """The model's input domain: the context clip in the beat unit, or [0, 1] for min-max scaled windows."""
    return tuple(cfg.context_clip) if cfg.beat_unit else (0.0, 1.0)


def _hard_features(model, x: np.ndarray, batch_size: int = 512) -> np.ndarray:
    """The model's raw (unstandardised) hard-mode features of context windows ``x``."""
    import torch

    mode, model.feature_mode = model.feature_mode, "hard"
    dev = next(model.parameters()).device
    try:
        with torch.no_grad():
            return torch.cat([model.extractor(torch.as_tensor(x[i:i + batch_size]).to(dev)).cpu()
                              for i in range(0, len(x), batch_size)]).numpy()
    finally:
        model.feature_mode = mode


def _invariance(cfg: Config, model, x: np.ndarray, adv: dict[str, np.ndarray], tracker) -> dict[str, Any]:
    """Per-feature shift tables, distribution plots and the RR-vs-morphology verdict, logged as artifacts."""
    from ecg_art.features import plot_feature_shift, shift_summary, shift_table, shift_vs_eps_figure

    names = tuple(model.feature_names)
    feats = {k: _hard_features(model, v) for k, v in adv.items()}
    x = _hard_features(model, x)
    adv = feats
    summary = shift_summary(x, adv, r_index=cfg.r_offset, changed_tol=cfg.changed_tol, names=names)
    hard = {k: v for k, v in summary.items() if not k.startswith("bpda-")}
    tracker.log_figure(shift_vs_eps_figure(hard), "invariance/shift_vs_eps.png")
    tracker.log_figure(shift_vs_eps_figure(hard, value="changed"), "invariance/changed_vs_eps.png")
    top = max(cfg.shift_eps + cfg.eps)
    for key in adv:
        if key.endswith(f"@{top:g}"):
            fig = plot_feature_shift(x, adv[key], r_index=cfg.r_offset, title=f"features: clean vs {key}",
                                     names=names)
            tracker.log_figure(fig, f"invariance/hist_{key.replace('@', '_eps')}.png")
    verdicts = {k: bool(s["rr_shift"] < cfg.invariance_tol <= s["morph_shift"]) for k, s in summary.items()}
    text = (f"Relative shift median|Δf|/IQR(clean), n={len(x)} test beats, hard-mode features\n\n"
            f"{shift_table(summary)}\n\nShare of beats with |Δf| > {cfg.changed_tol:g} IQR\n\n"
            f"{shift_table(summary, value='changed')}\n\n"
            f"'RR nearly invariant (shift < {cfg.invariance_tol:g}), morphology not' holds for: "
            f"{', '.join(k for k, v in verdicts.items() if v) or 'none'}; fails for: "
            f"{', '.join(k for k, v in verdicts.items() if not v) or 'none'}\n")
    tracker.log_text(text, "invariance/feature_shift.md")
    tracker.log_dict({"summary": summary, "claim_holds": verdicts}, "invariance/feature_shift.json")
    return {"summary": summary, "claim_holds": verdicts, "text": text}


def _feature_attack(cfg: Config, model, x: np.ndarray, tracker) -> dict[str, Any]:
    """How far attacks aimed at the rhythm features move them (hard re-extraction), per eps: per beat the larger
    change of (1) PGD on their standardised change through BPDA and (2) PGD on the R-peak detector's threshold
    margins (create a QRS where none was found, erase one that was)."""
    import torch

    from ecg_art.features.rpeak_validation import attack_detector
    from ecg_art.features.threat import rhythm_feature_attack

    names = list(model.feature_names)
    cols = [i for i, n in enumerate(names) if n.startswith("rr_")]
    clip = _clip_values(cfg)
    dev = next(model.parameters()).device
    f0 = _hard_features(model, x)[:, cols]
    out: dict[str, Any] = {}
    for e in cfg.feature_attack_eps:
        t0 = time.perf_counter()
        x_bpda = rhythm_feature_attack(model.extractor, x, eps=e, steps=cfg.feature_attack_steps, columns=tuple(cols),
                                       scale=model.normalizer.std.cpu().numpy()[cols], clip_values=clip,
                                       batch_size=cfg.attack_batch_size // 2, device=dev)
        x_margin = np.concatenate([
            attack_detector(torch.as_tensor(x[i:i + 128]).to(dev), eps=e, steps=cfg.feature_attack_steps,
                            fs=model.extractor.rhythm.fs, config=model.extractor.rhythm.detector.config
                            ).clamp(*clip).cpu().numpy() for i in range(0, len(x), 128)])
        d = np.maximum(np.abs(_hard_features(model, x_bpda)[:, cols] - f0),
                       np.abs(_hard_features(model, x_margin)[:, cols] - f0))
        row: dict[str, Any] = {"eps": e, "n": len(x), "seconds": time.perf_counter() - t0}
        for j, c in enumerate(cols):
            row[f"{names[c]}_median"] = float(np.median(d[:, j]))
            row[f"{names[c]}_p95"] = float(np.percentile(d[:, j], 95))
            # beats whose interval moved by more than 50 ms (normalised RR: by more than 0.1)
            row[f"{names[c]}_moved"] = float((d[:, j] > (0.1 if names[c].endswith(("_norm", "_rec")) else 0.05)
                                              ).mean())
        out[f"{e:g}"] = row
        tracker.log_metrics({f"feature_attack_{k}_eps{e:g}": v for k, v in row.items() if k not in ("eps", "n")})
    return out


def run(cfg: Config, *, tracker=None) -> dict[str, Any]:
    """Train, attack (hard / BPDA / gradient-free), analyse feature invariance, log to MLflow (a new run or
    ``tracker``), print and return the table row."""
    from ecg_art.estimators import predict_labels
    from ecg_art.evaluation import classification_metrics
    from ecg_art.features import worst_case_correct
    from ecg_art.io import write_json
    from ecg_art.models import count_parameters
    from ecg_art.models.fusion import FusionNet

    import torch

    set_threads(cfg)
    t0 = time.perf_counter()
    prep = prepare_data(cfg)
    tail = 0
    if cfg.feature_set == "rhythm-record":  # each context followed by its recording's mean RR (s)
        prep, tail = with_record_rr(cfg, prep), 1
    torch.manual_seed(cfg.seed)
    model = FusionNet(context_length=cfg.window + tail, r_index=cfg.r_offset, feature_set=cfg.feature_set)
    if cfg.init_cnn_from:
        from ecg_art.exceptions import CheckpointError
        from ecg_art.io import load_checkpoint

        try:
            model.load_cnn_branch(load_checkpoint(cfg.init_cnn_from)["model"])
        except (KeyError, ConfigError) as exc:
            raise CheckpointError(f"`init_cnn_from` checkpoint {cfg.init_cnn_from!r} does not fit the CNN branch: "
                                  f"{exc}") from exc
        logger.info("CNN branch initialised from %s", cfg.init_cnn_from)
    classifier = build_classifier(cfg, prep.y_train, model=model, clip_values=_clip_values(cfg),
                                  input_length=model.context_length)
    params = count_parameters(model)
    with run_tracker(cfg, tracker) as tracker:
        tracker.log_params({**config_params(cfg), **prep.sizes(), "params": params,
                            "data_hash": prep.dataset.fingerprint(), "split_hash": prep.split.fingerprint()})
        stages = train_two_stage(cfg, classifier, prep, tracker)
        t_train = time.perf_counter() - t0
        clean = classification_metrics(prep.y_test, predict_labels(classifier, prep.x_test))
        tracker.log_metrics(clean.flat("test_"))
        x, y = prep.x_test[prep.eval_idx], prep.y_test[prep.eval_idx]
        clean_ok = predict_labels(classifier, x) == y
        adaptive_eps = tuple(sorted(set(cfg.eps) | set(cfg.adaptive_extra_eps)))
        hard_eps = tuple(sorted(set(adaptive_eps) | set(cfg.shift_eps)))
        rows, adv, correct = attack_suite(cfg, classifier, x, y, attacks=cfg.attacks, eps=adaptive_eps)
        shift_only, shift_attacks = (tuple(e for e in hard_eps if e not in adaptive_eps),
                                     tuple(a for a in cfg.attacks if a not in TABLE_ONLY_ATTACKS))
        if shift_only and shift_attacks:  # the feature-shift analysis's extra budgets, without the table-only attacks
            r0, a0, c0 = attack_suite(cfg, classifier, x, y, attacks=shift_attacks, eps=shift_only)
            rows, adv, correct = {**rows, **r0}, {**adv, **a0}, {**correct, **c0}
        r2, a2, c2 = attack_suite(cfg, classifier, x, y, attacks=cfg.adaptive_attacks, eps=adaptive_eps, mode="bpda",
                                  prefix="bpda-")
        rows, adv, correct = {**rows, **r2}, {**adv, **a2}, {**correct, **c2}
        sub = np.sort(np.random.default_rng(cfg.seed + 4).permutation(len(y))[:cfg.blackbox_n])
        r3, c3 = _blackbox(cfg, classifier, x[sub], y[sub], adaptive_eps)
        rows.update(r3)
        adaptive = {}
        for e in adaptive_eps:
            grad = {k: v for k, v in correct.items() if k.endswith(f"@{e:g}")}
            bb = {k: v for k, v in c3.items() if k.endswith(f"@{e:g}")}
            on_sub = worst_case_correct({**{k: v[sub] for k, v in grad.items()}, **bb}, clean=clean_ok[sub])
            adaptive[f"{e:g}"] = {
                "worst_case_all": float(on_sub.mean()), "n": int(len(sub)), "attacks": sorted(grad) + sorted(bb),
                "worst_case_gradient_eval_set": float(worst_case_correct(grad, clean=clean_ok).mean()),
                "n_eval": int(len(y)),
                "broken_only_by_blackbox": int((worst_case_correct({k: v[sub] for k, v in grad.items()},
                                                                   clean=clean_ok[sub]) & ~on_sub).sum())}
            tracker.log_metrics({f"adaptive_acc_eps{e:g}": adaptive[f"{e:g}"]["worst_case_all"],
                                 f"adaptive_grad_acc_eps{e:g}": adaptive[f"{e:g}"]["worst_case_gradient_eval_set"]})
        for key, r in rows.items():
            tracker.log_metrics({f"adv_acc_{key.replace('@', '_eps')}": r["adv_accuracy"]})
        inv = _invariance(cfg, model, x, adv, tracker)
        curve = _curve(cfg, classifier, x, y, correct, clean_ok, tracker)
        _adversarial_beats(cfg, x, y, adv, tracker)
        beat_only: dict[str, Any] = {}
        if cfg.threat_b_n:
            from ecg_art.features.threat import evaluate_beat_window_only

            sub_b = np.sort(np.random.default_rng(cfg.seed + 5).permutation(len(y))[:cfg.threat_b_n])
            cb: dict[str, np.ndarray] = {}
            hard_b = tuple(a for a in cfg.attacks if a not in TABLE_ONLY_ATTACKS)
            for mode, names in (("hard", hard_b), ("bpda", cfg.adaptive_attacks)):
                model.feature_mode = mode
                try:
                    res_b = evaluate_beat_window_only(model, x[sub_b], y[sub_b], attacks=names, eps=adaptive_eps,
                                                      attack_kwargs=attack_kwargs(cfg, names), device=cfg.device)
                finally:
                    model.feature_mode = "hard"
                cb.update({f"{'bpda-' if mode == 'bpda' else ''}{a}@{e:g}": v for (a, e), v in res_b.items()})
            for e in adaptive_eps:
                at_e = {k: v for k, v in cb.items() if k.endswith(f"@{e:g}")}
                beat_only[f"{e:g}"] = {"worst_case": float(worst_case_correct(at_e, clean=clean_ok[sub_b]).mean()),
                                       "n": int(len(sub_b)), "per_attack": {k: float(v.mean()) for k, v in at_e.items()}}
                tracker.log_metrics({f"beat_only_acc_eps{e:g}": beat_only[f"{e:g}"]["worst_case"]})
        feature_attack = _feature_attack(cfg, model, x[:cfg.feature_attack_n], tracker) \
            if cfg.feature_attack_n and model.feature_set != "window" else {}
        if cfg.log_model:
            tracker.log_model(classifier.model, name="model", input_example=prep.x_val[:2])
        row: dict[str, Any] = {"model": cfg.name, "clean": clean.accuracy, "macro_f1": clean.macro_f1,
                               **per_class(clean)}
        row.update({f"{a}@{e:g}": rows[f"{a}@{e:g}"]["adv_accuracy"] for a in cfg.attacks for e in cfg.eps})
        # worst case / AutoAttack / ACC_robust over the attacks on the deployed model, as for the other models
        derived = derived_metrics(classifier, {(a, e): adv[f"{a}@{e:g}"] for a in cfg.attacks for e in cfg.eps},
                                  y, float(clean_ok.mean()), tuple(cfg.eps), clean_correct=clean_ok)
        row.update(derived)
        tracker.log_metrics({k.replace("@", "_eps"): v for k, v in derived.items()})
        row.update({f"adaptive@{e:g}": adaptive[f"{e:g}"]["worst_case_all"] for e in cfg.eps})
        row.update({f"beat_only@{e:g}": beat_only[f"{e:g}"]["worst_case"] for e in cfg.eps if f"{e:g}" in beat_only})
        row["params"] = params
        if curve:
            row["curve"] = curve
        cols = [c for c, v in row.items() if not isinstance(v, dict)]
        table = format_table([row], cols, percent=tuple(c for c in cols if c not in ("model", "params")))
        detail = format_table([{"key": k, **r} for k, r in rows.items()], ["key", "mode", "n", "adv_accuracy"],
                              percent=("adv_accuracy",))
        adaptive_table = format_table(
            [{"eps": e, **v} for e, v in adaptive.items()],
            ["eps", "worst_case_all", "n", "worst_case_gradient_eval_set", "n_eval", "broken_only_by_blackbox"],
            percent=("worst_case_all", "worst_case_gradient_eval_set"))
        detail = f"{detail}\n\nAdaptive (per-beat worst case, clean errors count as broken)\n\n{adaptive_table}"
        if beat_only:
            detail += "\n\nThreat model (b), beat window only (worst case over the hard and BPDA attacks)\n\n" + \
                format_table([{"eps": e, **v} for e, v in beat_only.items()], ["eps", "worst_case", "n"],
                             percent=("worst_case",))
        if feature_attack:
            fa_cols = ["eps", "n"] + [k for k in next(iter(feature_attack.values())) if k.endswith(("_median",
                                                                                                  "_moved"))]
            detail += ("\n\nAttacks on the rhythm features (per beat the larger change of a BPDA attack on the "
                       "features and one on the R-peak detector's margins; |Δ| median in s or ratio units, _moved = "
                       "share of beats moved > 50 ms / 0.1)\n\n" +
                       format_table(list(feature_attack.values()), fa_cols))
        seconds = time.perf_counter() - t0
        tracker.log_metrics({"train_seconds_total": t_train, "total_seconds": seconds})
        tracker.log_text(f"{table}\n\n{detail}\n", "table.md")
        result = {"config": cfg.to_dict(), "row": row, "attacks": rows, "adaptive": adaptive,
                  "clean": clean.to_dict(), "claim_holds": inv["claim_holds"], "seconds": seconds,
                  "beat_only": beat_only, "feature_attack": feature_attack,
                  "best_epochs": {k: stages[k].best_epoch for k in ("stage1", "head", "stage2") if stages[k] is not None},
                  "run_id": tracker.run_id}
        tracker.log_dict(result, "results.json")
        write_json(results_dir(cfg) / "results.json", result)
    n_sub = len(sub)
    print(f"\n{cfg.name} ({cfg.profile}, {cfg.split} split, {seconds:.0f} s; accuracies in %, eps in normalised "
          f"beat units; adaptive = per-beat worst case over all attacks on {n_sub} test beats)\n{table}\n\n"
          f"{detail}\n\n{inv['text']}")
    return row


FUSION_RECIPE = Recipe("fusion", PROFILES, run)
FUSION_CLEAN_RECIPE = Recipe("fusion-clean", CLEAN_PROFILES, run)

if __name__ == "__main__":
    run(PROFILES["quick"])
