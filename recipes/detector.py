"""Detector recipe: an ART ``BinaryInputDetector`` trained on adversarial beats of the training split, epoch and
threshold chosen on the validation split, scored per attack and eps (unseen attacks too) and against adaptive attacks
on the test split (summed-loss PGD, orthogonal PGD, a gradient-free random search on the system; the worst reported).

``ecg-art run detector --profile quick|full``: trained on FGSM, PGD and SAP; APGD-DLR stays unseen.
``--set detector_training=adaptive`` adds beats crafted against classifier and detector, regenerated every epoch.
With ``init_from`` (the paper job passes the baseline's selected checkpoint) the classifier is loaded, not trained.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from recipes.common import Config as BaseConfig
from recipes.common import (Prepared, Recipe, attack_kwargs, build_classifier, config_params, format_table,
                            prepare_data, results_dir, run_tracker, set_threads, train)

__all__ = ["Config", "PROFILES", "run", "DETECTOR_RECIPE", "ADAPTIVE_MODES"]

logger = logging.getLogger(__name__)


ADAPTIVE_MODES = ("auc", "threshold", "orthogonal", "selective", "square")


@dataclass(frozen=True)
class Config(BaseConfig):
    """Baseline config (classifier, data) plus the detector's numbers (eps in the normalised beat unit)."""

    name: str = "detector"
    train_attacks: tuple[str, ...] = ("fgsm", "pgd", "sap")  # seen by the detector in training
    # scored on the test split; those not in train_attacks are unseen
    attacks: tuple[str, ...] = ("fgsm", "pgd", "sap", "ta-apgd-dlr")
    eps: tuple[float, ...] = (0.01, 0.03, 0.05)
    pgd_iter: int = 10
    det_train_n: int = 3000  # training-split beats attacked to train the detector
    det_val_n: int = 1000
    det_test_n: int = 1000
    det_epochs: int = 10
    det_patience: int = 3
    det_batch_size: int = 128
    det_lr: float = 1e-3
    threshold_method: str = "youden"
    adaptive_eps: tuple[float, ...] | None = None  # None: every eps of `eps`
    # the adaptive attackers, all white box on classifier + detector: "auc" / "threshold" (AdaptiveDetectorPGD, the
    # summed loss, margin pushed all the way down / just under the rejection threshold), "orthogonal" / "selective"
    # (OrthogonalDetectorPGD with / without projection), "square" (SystemSquareAttack, gradient-free, on the system
    # at the rejection threshold); the table reports the worst of them per eps
    adaptive_modes: tuple[str, ...] = ("auc", "threshold", "orthogonal", "square")
    adaptive_iter: int = 20
    adaptive_lam: float = 1.0
    square_iter: int = 300  # random-search iterations of "square" (one query of each model per iteration)
    square_p_init: float = 0.1
    # "static": trained on the non-adaptive attacks above only; "adaptive": plus beats crafted against classifier and
    # detector together, regenerated every epoch against the detector as it trains (AdaptiveExamples). Static by
    # measurement (README): adaptive training holds against the 10-step attackers it trains on, but a 50-step
    # orthogonal PGD breaks it as completely as the static detector (joint success 100 % at eps 0.05, quick and full),
    # for a lower non-adaptive AUC (0.896 vs 0.923, quick) and ~3x the stage time
    detector_training: str = "static"
    adaptive_train_attacks: tuple[str, ...] = ("adaptive", "orthogonal")
    adaptive_train_eps: tuple[float, ...] | None = None  # None: every eps of `eps`
    adaptive_train_iter: int = 10
    # the system (classifier + detector): reject a beat when its score reaches the threshold that rejects at most
    # this share of clean validation beats; the adaptive "threshold" attacker aims just below that threshold
    max_clean_reject: float = 0.05


PROFILES: dict[str, Config] = {
    # trained on FGSM, PGD and SAP; APGD-DLR (another loss and step rule) is the attack it never saw
    # 10 epochs, no early stop (the validation AUC of adaptive training is noisy: its adaptive half is new each epoch);
    # the adaptive attackers take 50 steps, several times those the adaptive training attacks with
    "quick": Config(profile="quick", train_n=6000, val_n=1500, nb_epochs=6, patience=3, det_test_n=500, det_epochs=10,
                    det_patience=10, adaptive_iter=50, square_iter=200, apgd_steps=25),
    "full": Config(profile="full", train_n=None, val_n=None, nb_epochs=40, patience=8, pgd_iter=20,
                   det_train_n=20000, det_val_n=5000, det_test_n=5000, det_epochs=30, det_patience=6,
                   adaptive_iter=50),
}


def _prepare(cfg: Config) -> tuple[Prepared, dict[str, np.ndarray]]:
    """The classifier's data (:func:`recipes.common.prepare_data`) and the detector's train / val / test beat indices,
    drawn from the split's training, validation and test parts."""
    prep = prepare_data(cfg)
    rng = np.random.default_rng(cfg.seed + 3)
    det = {name: np.sort(rng.choice(idx, size=min(n, len(idx)), replace=False))
           for name, idx, n in (("train", prep.split.train, cfg.det_train_n), ("val", prep.split.val, cfg.det_val_n),
                                ("test", prep.split.test, cfg.det_test_n))}
    return prep, det


def _classifier(cfg: Config, prep: Prepared, tracker):
    """The classifier the detector guards: loaded from ``cfg.init_from`` when given, else trained here."""
    classifier = build_classifier(cfg, prep.y_train)  # loads cfg.init_from's weights when set
    tracker.log_params({"classifier_source": cfg.init_from or "trained"})
    if not cfg.init_from:
        train(cfg, classifier, prep, tracker)
    classifier.model.eval()
    return classifier


def _attack(cfg: Config, classifier, attack: str, eps: float):
    from ecg_art.attacks import get_attack

    kwargs = attack_kwargs(cfg, (attack,)).get(attack, {})
    return get_attack(attack, classifier, eps=eps, batch_size=cfg.attack_batch_size, **kwargs)


def _adversarial(cfg: Config, classifier, x: np.ndarray, y: np.ndarray, *, mixed: bool, seed: int
                 ) -> dict[tuple[str, float], np.ndarray]:
    """``{(attack, eps): x_adv}``. ``mixed`` (training / validation): each beat gets one (attack, eps) of
    ``cfg.train_attacks`` x ``cfg.eps``, drawn at random; otherwise (test) each beat gets all of ``cfg.attacks``."""
    if not mixed:
        return {(a, float(e)): _attack(cfg, classifier, a, float(e)).generate(x, y) for a in cfg.attacks
                for e in cfg.eps}
    combos = [(a, float(e)) for a in cfg.train_attacks for e in cfg.eps]
    group = np.random.default_rng(seed).permutation(len(x)) % len(combos)
    return {c: _attack(cfg, classifier, *c).generate(x[group == i], y[group == i]) for i, c in enumerate(combos)
            if np.any(group == i)}


def run(cfg: Config, *, tracker=None) -> dict[str, Any]:
    """Train and score the detector, attack it adaptively, log to MLflow (a new run, or ``tracker``), print and
    return the table row."""
    from ecg_art.detection import (AdaptiveExamples, DetectionProtocol, make_input_detector, rejection_threshold,
                                   roc_figure, score_histogram_figure)
    from ecg_art.estimators import predict_labels
    from ecg_art.exceptions import ConfigError
    from ecg_art.io import write_json

    if not cfg.adaptive_modes or set(cfg.adaptive_modes) - set(ADAPTIVE_MODES):
        raise ConfigError(f"`adaptive_modes` must be a non-empty subset of {ADAPTIVE_MODES}, "
                          f"got {cfg.adaptive_modes!r}")
    if cfg.detector_training not in ("static", "adaptive"):
        raise ConfigError(f"`detector_training` must be 'static' or 'adaptive', got {cfg.detector_training!r}")
    set_threads(cfg)
    t0 = time.perf_counter()
    with run_tracker(cfg, tracker) as tracker:
        prep, det = _prepare(cfg)
        tracker.log_params({**config_params(cfg), **{f"det_n_{k}": len(v) for k, v in det.items()},
                            "data_hash": prep.dataset.fingerprint(), "split_hash": prep.split.fingerprint()})
        classifier = _classifier(cfg, prep, tracker)
        xs = {k: (prep.dataset.x[v], prep.dataset.y[v]) for k, v in det.items()}
        adv = {k: _adversarial(cfg, classifier, *xs[k], mixed=k != "test", seed=cfg.seed + i)
               for i, k in enumerate(("train", "val", "test"))}
        t_attacks = time.perf_counter() - t0

        import torch

        torch.manual_seed(cfg.seed)
        proto = DetectionProtocol(make_input_detector(input_length=cfg.window, lr=cfg.det_lr, device=cfg.device),
                                  threshold_method=cfg.threshold_method, verbose=True)
        refresh = None
        if cfg.detector_training == "adaptive":  # beats against classifier + detector, regenerated every epoch
            refresh = AdaptiveExamples(classifier, proto.detector, {k: xs[k] for k in ("train", "val")},
                                       attacks=cfg.adaptive_train_attacks, eps=cfg.adaptive_train_eps or cfg.eps,
                                       max_iter=cfg.adaptive_train_iter, lam=cfg.adaptive_lam, seed=cfg.seed,
                                       batch_size=cfg.attack_batch_size)
        history = proto.fit(xs["train"][0], adv["train"], val_clean=xs["val"][0], val_adv=adv["val"],
                            nb_epochs=cfg.det_epochs, batch_size=cfg.det_batch_size, patience=cfg.det_patience,
                            seed=cfg.seed, refresh=refresh)
        t_detector = time.perf_counter() - t0 - t_attacks
        for h in history:
            tracker.log_metrics({"det_val_auc": h["val_auc"]}, step=int(h["epoch"]))
        reject_at = rejection_threshold(proto.scores(xs["val"][0]), max_reject=cfg.max_clean_reject)
        tracker.log_metrics({"det_best_epoch": proto.best_epoch, "det_threshold": proto.threshold,
                             "det_reject_threshold": reject_at})

        x_te, y_te = xs["test"]
        results, adaptive, worst, scores = [], [], [], {}
        system: dict[float, dict[str, tuple[np.ndarray, np.ndarray]]] = {}  # eps -> attack -> (correct, scores)
        for (attack, eps), x_adv in adv["test"].items():
            fooled = predict_labels(classifier, x_adv) != y_te
            r, s0, s1 = proto.score(x_te, x_adv, attack=attack, eps=eps, fooled=fooled, return_scores=True)
            results.append(r)
            scores[f"{attack} eps={eps:g}"] = (s0, s1)
            system.setdefault(float(eps), {})[attack] = (~fooled, s1)
        for eps in cfg.adaptive_eps or cfg.eps:
            evades = np.zeros(len(y_te), dtype=bool)  # per beat: some adaptive attack fools both at this eps
            for mode in cfg.adaptive_modes:
                x_adv = _adaptive_attack(cfg, classifier, proto.detector, mode, float(eps), reject_at).generate(
                    x_te, y_te)
                fooled = predict_labels(classifier, x_adv) != y_te
                r, s0, s1 = proto.score(x_te, x_adv, attack=f"adaptive-{mode}", eps=eps, fooled=fooled,
                                        return_scores=True)
                adaptive.append(r)
                evades |= fooled & (s1 < proto.threshold)
                scores[f"adaptive-{mode} eps={eps:g}"] = (s0, s1)
                system.setdefault(float(eps), {})[f"adaptive-{mode}"] = (~fooled, s1)
            at_eps = [r for r in adaptive if r.eps == eps]
            worst.append({"attack": "adaptive-worst", "eps": eps, "seen": False, "adaptive": True,
                          "auc": min(r.auc for r in at_eps), "tpr_at_5fpr": min(r.tpr_at_5fpr for r in at_eps),
                          "auc_fooled": min((r.auc_fooled for r in at_eps if r.auc_fooled == r.auc_fooled),
                                            default=float("nan")),
                          "accuracy": min(r.accuracy for r in at_eps), "joint_success": float(evades.mean()),
                          "n_clean": at_eps[0].n_clean, "n_adv": at_eps[0].n_adv,
                          "by": min(at_eps, key=lambda r: r.auc).attack})
        clean_scores = proto.scores(x_te)
        with_rejection = _with_rejection(system, predict_labels(classifier, x_te) == y_te, clean_scores, reject_at)
        tracker.log_metrics({f"det_{k}_eps{e}": v for e, d in with_rejection.items() for k, v in d.items()})

        rows = [{**r.to_dict(), "seen": r.attack in cfg.train_attacks, "adaptive": r.attack.startswith("adaptive")}
                for r in results + adaptive] + worst
        for r in rows:
            tag = f"{r['attack']}_eps{r['eps']:g}"
            tracker.log_metrics({f"det_auc_{tag}": r["auc"], f"det_auc_fooled_{tag}": r["auc_fooled"],
                                 f"det_tpr5_{tag}": r["tpr_at_5fpr"],
                                 f"det_acc_{tag}": r["accuracy"], f"det_joint_success_{tag}": r["joint_success"]})
        top_worst = max(worst, key=lambda r: r["eps"])
        row: dict[str, Any] = {
            "model": "detector",
            "detector_auc": float(np.mean([r.auc for r in results])),
            "detector_auc_seen": _mean([r.auc for r in results if r.attack in cfg.train_attacks]),
            "detector_auc_unseen": _mean([r.auc for r in results if r.attack not in cfg.train_attacks]),
            "detector_tpr5": float(np.mean([r.tpr_at_5fpr for r in results])),
            **{f"detector_auc_{a}": float(np.mean([r.auc for r in results if r.attack == a])) for a in cfg.attacks},
            # worst case over the adaptive attacks at the largest eps attacked adaptively: the lowest AUC, and the
            # share of beats that some adaptive attack gets past both (misclassified, not flagged)
            "detector_auc_adaptive": top_worst["auc"],
            "detector_auc_adaptive_fooled": top_worst["auc_fooled"],
            "detector_joint_success_adaptive": top_worst["joint_success"],
            "detector_joint_success_pgd": _mean([r.joint_success for r in results if r.attack == "pgd"]),
            # the system at the largest eps attacked adaptively: classifier alone vs classifier + rejection
            "detector_clean_reject": float((clean_scores >= reject_at).mean()),
            **{f"detector_{k}": v for k, v in with_rejection[f"{max(cfg.adaptive_eps or cfg.eps):g}"].items()
               if k != "clean_reject"},
        }
        tracker.log_metrics({k: v for k, v in row.items() if k != "model"})
        for kind, keep in (("", lambda k: not k.startswith("adaptive")), ("_adaptive", lambda k: k.startswith(
                "adaptive"))):
            part = {k: v for k, v in scores.items() if keep(k)}
            top = max(float(k.rsplit("=", 1)[1]) for k in part)
            name = "adaptive attacks" if kind else "non-adaptive attacks"
            tracker.log_figure(roc_figure(part, title=f"Detector ROC, {name}, test split"), f"detector_roc{kind}.png")
            tracker.log_figure(score_histogram_figure({k: v for k, v in part.items() if k.endswith(f"={top:g}")},
                                                      threshold=proto.threshold), f"detector_scores{kind}.png")
        cols = ["attack", "eps", "seen", "auc", "auc_fooled", "tpr_at_5fpr", "accuracy", "joint_success", "n_clean",
                "n_adv", "by"]
        table = format_table(rows, cols)
        table += "\n\nClassifier + detector (reject when the score reaches the threshold that rejects " \
            f"{100 * cfg.max_clean_reject:g} % of clean validation beats; per-beat worst case over every attack " \
            "above, clean errors count as broken; %)\n\n" + format_table(
                [{"eps": e, **d} for e, d in with_rejection.items()],
                ["eps", "classifier_worst", "accuracy_with_rejection", "clean_reject"],
                percent=("classifier_worst", "accuracy_with_rejection", "clean_reject"))
        tracker.log_text(table, "detector_table.md")
        tracker.log_dict({"results": rows, "history": history, "threshold": proto.threshold,
                          "reject_threshold": reject_at, "with_rejection": with_rejection,
                          "best_epoch": proto.best_epoch}, "detection_results.json")
        seconds = time.perf_counter() - t0
        tracker.log_metrics({"detector_seconds": seconds, "detector_attack_seconds": t_attacks,
                             "detector_training_seconds": t_detector})
        write_json(results_dir(cfg) / "results.json", {"config": cfg.to_dict(), "row": row, "results": rows,
                                                       "with_rejection": with_rejection, "history": history,
                                                       "run_id": tracker.run_id})
    print(f"\ndetector ({cfg.profile}, {cfg.split} split; trained on {'+'.join(cfg.train_attacks)}"
          f"{' + adaptive, regenerated per epoch' if cfg.detector_training == 'adaptive' else ''}, threshold chosen "
          f"on validation, scored on test; eps in normalised beat units; {seconds:.0f} s)\n{table}\n"
          f"mean AUC {row['detector_auc']:.4f} (non-adaptive), {row['detector_auc_adaptive']:.4f} (adaptive; joint "
          f"success {100 * row['detector_joint_success_adaptive']:.1f}%); with rejection "
          f"{100 * row['detector_accuracy_with_rejection']:.1f}% vs the classifier alone "
          f"{100 * row['detector_classifier_worst']:.1f}% ({100 * row['detector_clean_reject']:.1f}% of clean test "
          f"beats rejected)")
    return row


def _adaptive_attack(cfg: Config, classifier, detector, mode: str, eps: float, reject_at: float):
    """The adaptive attacker ``mode`` of :data:`ADAPTIVE_MODES` at ``eps``; ``reject_at`` is the system's threshold."""
    from ecg_art.detection import AdaptiveDetectorPGD, OrthogonalDetectorPGD, SystemSquareAttack

    common = dict(detector=detector, eps=eps, batch_size=cfg.attack_batch_size, seed=cfg.seed)
    if mode in ("auc", "threshold"):  # "auc": push the margin down all the way; "threshold": just below it
        return AdaptiveDetectorPGD(classifier, max_iter=cfg.adaptive_iter, lam=cfg.adaptive_lam,
                                   detector_threshold=reject_at if mode == "threshold" else None, **common)
    if mode in ("orthogonal", "selective"):
        return OrthogonalDetectorPGD(classifier, max_iter=cfg.adaptive_iter, orthogonal=mode == "orthogonal", **common)
    return SystemSquareAttack(classifier, max_iter=cfg.square_iter, p_init=cfg.square_p_init,
                              detector_threshold=reject_at, **common)


def _with_rejection(system: dict[float, dict[str, tuple[np.ndarray, np.ndarray]]], clean_correct: np.ndarray,
                    clean_scores: np.ndarray, threshold: float) -> dict[str, dict[str, float]]:
    """Per eps: the classifier's per-beat worst case over the attacks and the system's accuracy with rejection (the
    clean beat counts as one more attack), and the share of clean test beats rejected."""
    from ecg_art.detection import system_worst_case

    out = {}
    for eps in sorted(system):
        correct = {"clean": clean_correct, **{a: c for a, (c, _) in system[eps].items()}}
        scores = {"clean": clean_scores, **{a: s for a, (_, s) in system[eps].items()}}
        alone, with_rej = system_worst_case(correct, scores, threshold)
        out[f"{eps:g}"] = {"classifier_worst": alone, "accuracy_with_rejection": with_rej,
                           "clean_reject": float((clean_scores >= threshold).mean())}
    return out


def _mean(values: list[float]) -> float:
    return float(np.mean(values)) if values else float("nan")


DETECTOR_RECIPE = Recipe("detector", PROFILES, run)

if __name__ == "__main__":
    run(PROFILES["quick"])
