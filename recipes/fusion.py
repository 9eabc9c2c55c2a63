"""Fusion recipe: FusionNet (CNN on the beat + 12 features re-extracted from the 1024-sample context), trained in two
stages, attacked as deployed (hard features), adaptively (BPDA) and gradient-free; feature-invariance analysis.

``ecg-art run fusion --profile quick|full``. The headline ``adaptive@eps`` is the per-beat worst case over every attack.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from recipes.common import Config as BaseConfig
from recipes.common import (Prepared, Recipe, attack_kwargs, build_classifier, config_params, derived_metrics,
                            format_table, prepare_data, results_dir, run_tracker, set_threads, train, training_pgd)

__all__ = ["Config", "PROFILES", "run", "train_two_stage", "attack_suite", "FUSION_RECIPE"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Config(BaseConfig):
    """Baseline config on context windows plus the fusion model's stages and evaluation (eps: normalised beat unit)."""

    name: str = "fusion"
    model: str = "fusion"
    window: int = 1024  # context window; the R peak at r_offset, the CNN branch sees [r_offset - 90, +256)
    r_offset: int = 512
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
    adv_train: bool = False  # ART AdversarialTrainer with ART PGD in both stages
    train_eps: float = 0.05
    train_pgd_iter: int = 7
    at_ratio: float = 0.5
    train_feature_mode: str = "bpda"  # features' gradient during adversarial training
    changed_tol: float = 0.1  # a feature "changed" on a beat when |Δf| > changed_tol * IQR(clean)
    invariance_tol: float = 0.05  # "nearly invariant": relative shift (median |Δf| / IQR) below this


PROFILES: dict[str, Config] = {
    "quick": Config(profile="quick", train_n=8000, val_n=1500, eval_n=200, nb_epochs=6, patience=2,
                    stage2_epochs=4, stage2_patience=2, square_iter=200),
    "full": Config(profile="full", train_n=None, val_n=None, eval_n=2000, nb_epochs=40, patience=8,
                   stage2_epochs=20, stage2_patience=5, adaptive_extra_eps=(0.01, 0.03),
                   blackbox=("square", "hsj"), blackbox_n=300,
                   square_iter=1000, hsj_iter=10, hsj_max_eval=500, hsj_init_eval=50),
}


def _make_trainer(cfg: Config, classifier):
    from art.defences.trainer import AdversarialTrainer

    pgd = training_pgd(classifier, eps=cfg.train_eps, max_iter=cfg.train_pgd_iter, eps_step=None,
                       batch_size=cfg.batch_size)
    return AdversarialTrainer(classifier, attacks=pgd, ratio=cfg.at_ratio)


def train_two_stage(cfg: Config, classifier, prep: Prepared, tracker) -> dict[str, Any]:
    """Stage 1: CNN branch alone (``output="cnn"``). Stage 2: feature normaliser fit on ``prep.x_train`` only, then
    the fusion head (and feature MLP) trained with the CNN branch frozen (``cfg.freeze_cnn``) at ``cfg.stage2_lr``.
    Both stages select their epoch on ``prep.x_val`` (:func:`recipes.common.train`); returns the two histories."""
    model = classifier.model
    trainer = _make_trainer(cfg, classifier) if cfg.adv_train else None
    model.feature_mode = cfg.train_feature_mode if cfg.adv_train else "hard"
    try:
        model.output = "cnn"
        h1 = train(cfg, classifier, prep, tracker, trainer=trainer, stage="stage1")
        f_train = model.fit_feature_normalizer(prep.x_train)
        model.output = "fusion"
        if cfg.freeze_cnn:
            model.freeze("cnn")
        for group in classifier.optimizer.param_groups:
            group["lr"] = cfg.stage2_lr
        cfg2 = dataclasses.replace(cfg, nb_epochs=cfg.stage2_epochs, patience=cfg.stage2_patience)
        h2 = train(cfg2, classifier, prep, tracker, trainer=trainer, stage="stage2")
    finally:
        model.feature_mode = "hard"
    model.eval()
    logger.info("stage 1 best val macro-F1 %.4f (epoch %d), stage 2 %.4f (epoch %d); normaliser on %d train beats",
                h1.best_score, h1.best_epoch, h2.best_score, h2.best_epoch, len(f_train))
    return {"stage1": h1, "stage2": h2, "n_normalizer": len(f_train)}


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
                from ecg_art.exceptions import ConfigError

                raise ConfigError(f"`blackbox` entries must be 'square' or 'hsj', got {name!r}")
            x_adv = attack.generate(x, y)
            key = f"{name}@{e:g}"
            correct[key] = predict_labels(classifier, x_adv) == y
            rows[key] = {"attack": name, "eps": e, "n": len(y), "mode": "hard (gradient-free)",
                         "adv_accuracy": float(correct[key].mean()), "linf": linf(x, x_adv),
                         "seconds": time.perf_counter() - t0}
            logger.info("%s: accuracy %.3f (%.1fs)", key, rows[key]["adv_accuracy"], rows[key]["seconds"])
    return rows, correct


def _invariance(cfg: Config, x: np.ndarray, adv: dict[str, np.ndarray], tracker) -> dict[str, Any]:
    """Per-feature shift tables, distribution plots and the RR-vs-morphology verdict, logged as artifacts."""
    from ecg_art.features import plot_feature_shift, shift_summary, shift_table, shift_vs_eps_figure

    summary = shift_summary(x, adv, r_index=cfg.r_offset, changed_tol=cfg.changed_tol)
    hard = {k: v for k, v in summary.items() if not k.startswith("bpda-")}
    tracker.log_figure(shift_vs_eps_figure(hard), "invariance/shift_vs_eps.png")
    tracker.log_figure(shift_vs_eps_figure(hard, value="changed"), "invariance/changed_vs_eps.png")
    top = max(cfg.shift_eps + cfg.eps)
    for key in adv:
        if key.endswith(f"@{top:g}"):
            fig = plot_feature_shift(x, adv[key], r_index=cfg.r_offset, title=f"features: clean vs {key}")
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
    torch.manual_seed(cfg.seed)
    model = FusionNet(context_length=cfg.window, r_index=cfg.r_offset)
    classifier = build_classifier(cfg, prep.y_train, model=model)
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
        rows, adv, correct = attack_suite(cfg, classifier, x, y, attacks=cfg.attacks, eps=hard_eps)
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
        inv = _invariance(cfg, x, adv, tracker)
        if cfg.log_model:
            tracker.log_model(classifier.model, name="model", input_example=prep.x_val[:2])
        row: dict[str, Any] = {"model": cfg.name, "clean": clean.accuracy, "macro_f1": clean.macro_f1}
        row.update({f"{a}@{e:g}": rows[f"{a}@{e:g}"]["adv_accuracy"] for a in cfg.attacks for e in cfg.eps})
        # worst case / AutoAttack / ACC_robust over the attacks on the deployed model, as for the other models
        row.update(derived_metrics(classifier, {(a, e): adv[f"{a}@{e:g}"] for a in cfg.attacks for e in cfg.eps},
                                   y, float(clean_ok.mean()), tuple(cfg.eps), clean_correct=clean_ok))
        row.update({f"adaptive@{e:g}": adaptive[f"{e:g}"]["worst_case_all"] for e in cfg.eps})
        row["params"] = params
        cols = list(row)
        table = format_table([row], cols, percent=tuple(c for c in cols if c not in ("model", "params")))
        detail = format_table([{"key": k, **r} for k, r in rows.items()], ["key", "mode", "n", "adv_accuracy"],
                              percent=("adv_accuracy",))
        adaptive_table = format_table(
            [{"eps": e, **v} for e, v in adaptive.items()],
            ["eps", "worst_case_all", "n", "worst_case_gradient_eval_set", "n_eval", "broken_only_by_blackbox"],
            percent=("worst_case_all", "worst_case_gradient_eval_set"))
        detail = f"{detail}\n\nAdaptive (per-beat worst case, clean errors count as broken)\n\n{adaptive_table}"
        seconds = time.perf_counter() - t0
        tracker.log_metrics({"train_seconds_total": t_train, "total_seconds": seconds})
        tracker.log_text(f"{table}\n\n{detail}\n", "table.md")
        result = {"config": cfg.to_dict(), "row": row, "attacks": rows, "adaptive": adaptive,
                  "clean": clean.to_dict(), "claim_holds": inv["claim_holds"], "seconds": seconds,
                  "best_epochs": {k: stages[k].best_epoch for k in ("stage1", "stage2")}, "run_id": tracker.run_id}
        tracker.log_dict(result, "results.json")
        write_json(results_dir(cfg) / "results.json", result)
    n_sub = len(sub)
    print(f"\n{cfg.name} ({cfg.profile}, {cfg.split} split, {seconds:.0f} s; accuracies in %, eps in normalised "
          f"beat units; adaptive = per-beat worst case over all attacks on {n_sub} test beats)\n{table}\n\n"
          f"{detail}\n\n{inv['text']}")
    return row


FUSION_RECIPE = Recipe("fusion", PROFILES, run)

if __name__ == "__main__":
    run(PROFILES["quick"])
