"""RobustBench-style benchmark: one model, an L-inf attack suite over several budgets, the worst case per budget,
sanity checks against gradient masking, all in one :class:`~ecg_art.evaluation.record.BenchmarkRecord`."""

from __future__ import annotations

import logging
import time
from typing import Any, Iterable

import numpy as np
import torch
from tqdm.auto import tqdm

from ecg_art.evaluation.metrics import worst_case_correct
from ecg_art.evaluation.record import AttackScore, BenchmarkRecord, package_versions, sanity_checks
from ecg_art.evaluation.suites import SuiteEntry, get_suite
from ecg_art.exceptions import AttackError, ConfigError

__all__ = ["benchmark", "DEFAULT_EPS"]

logger = logging.getLogger(__name__)

DEFAULT_EPS = (0.01, 0.03, 0.05, 0.1)


def _check_eps(eps: float | Iterable[float]) -> tuple[float, ...]:
    from ecg_art.attacks.registry import check_eps

    items = [eps] if isinstance(eps, (int, float, np.number)) else list(eps)
    if not items:
        raise ConfigError("`eps` must hold at least one budget")
    values = tuple(sorted({check_eps(e) for e in items}))
    if values[0] == 0.0:
        raise ConfigError("`eps` must be > 0 (clean accuracy is always reported)")
    return values


def _subset(x: np.ndarray, y: np.ndarray, n: int | None, seed: int) -> tuple[np.ndarray, np.ndarray]:
    if n is None or n >= len(y):
        return x, y
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ConfigError(f"`n` must be a positive int or None, got {n!r}")
    idx = np.sort(np.random.default_rng(seed).choice(len(y), size=int(n), replace=False))
    return x[idx], y[idx]


def _runner(entry: SuiteEntry, classifier: Any, *, eps: float, batch_size: int) -> Any:
    from ecg_art.attacks import AttackRunner, get_attack

    if isinstance(entry.attack, str):
        return get_attack(entry.attack, classifier, eps=eps, batch_size=batch_size, **dict(entry.kwargs))
    attack = entry.attack(classifier, eps=eps, batch_size=batch_size, **dict(entry.kwargs))
    return AttackRunner(entry.label, attack, eps=eps, bounded=not entry.min_norm, classifier=classifier)


def _correct(classifier: Any, x: np.ndarray, y: np.ndarray, batch_size: int) -> np.ndarray:
    from ecg_art.estimators import predict_labels

    return predict_labels(classifier, x, batch_size=batch_size) == y


def _run_entry(entry: SuiteEntry, classifier: Any, x: np.ndarray, y: np.ndarray, clean_ok: np.ndarray, *,
               eps: tuple[float, ...], batch_size: int, seed: int) -> tuple[dict[float, np.ndarray], float]:
    """Per-sample robustness (clean-correct and still correct under attack) of one entry at every eps."""
    lo, hi = (float(v) for v in np.ravel(classifier.clip_values))
    start = time.perf_counter()
    out: dict[float, np.ndarray] = {}
    if entry.min_norm:  # eps is ignored by the attack: run once, then keep only what fits each ball
        torch.manual_seed(seed)
        x_adv = _runner(entry, classifier, eps=max(eps), batch_size=batch_size).generate(x, y)
        for e in eps:
            x_e = np.clip(np.clip(x_adv, x - e, x + e), lo, hi).astype(x.dtype)
            out[e] = clean_ok & _correct(classifier, x_e, y, batch_size)
    else:
        for e in eps:
            torch.manual_seed(seed)
            x_adv = _runner(entry, classifier, eps=e, batch_size=batch_size).generate(x, y)
            excess = float(np.abs(x_adv - x).max(initial=0.0)) - e
            if excess > 1e-5:
                raise AttackError(f"suite attack {entry.label!r} exceeded eps={e:g} by {excess:.3g}")
            out[e] = clean_ok & _correct(classifier, x_adv, y, batch_size)
    return out, time.perf_counter() - start


def _unbounded_accuracy(classifier: Any, x: np.ndarray, y: np.ndarray, *, max_iter: int, batch_size: int,
                        seed: int) -> float:
    from ecg_art.attacks import get_attack

    lo, hi = (float(v) for v in np.ravel(classifier.clip_values))
    torch.manual_seed(seed)
    runner = get_attack("pgd", classifier, eps=hi - lo, batch_size=batch_size, max_iter=max_iter,
                        eps_step=(hi - lo) / 10)
    return float(_correct(classifier, runner.generate(x, y), y, batch_size).mean())


def benchmark(
    classifier: Any,
    x: np.ndarray,
    y: np.ndarray,
    *,
    suite: str | Iterable[SuiteEntry] = "standard",
    eps: float | Iterable[float] = DEFAULT_EPS,
    batch_size: int = 256,
    n: int | None = 500,
    seed: int = 0,
    model: str = "model",
    dataset: str = "MIT-BIH Arrhythmia",
    split: str = "",
    defence: str | None = None,
    tolerance: float = 0.02,
    unbounded_iter: int = 20,
    unbounded_max_accuracy: float = 0.05,
    skip_errors: bool = True,
    verbose: bool = False,
) -> BenchmarkRecord:
    """Robust accuracy of ``classifier`` under every attack of ``suite`` at every budget in ``eps`` (L-inf).

    Parameters
    ----------
    classifier : art.estimators.classification.PyTorchClassifier
        The model (with any ART pre/post-processing defences attached, see :func:`ecg_art.defences.apply_defence`);
        every attack runs through numpy preprocessing defences with ART's gradient estimate of them (BPDA).
    x, y : numpy.ndarray
        Beats ``(m, 1, L)`` in the classifier's ``clip_values`` and their integer labels.
    suite : str or sequence of SuiteEntry
        ``"standard"`` (FGSM, PGD-20, PGD-100, APGD-CE, APGD-DLR, CW-Linf, DeepFool, Square, SAP and the standard
        AutoAttack), ``"quick"`` (FGSM, PGD-20, APGD-CE with 10 steps, SAP) or custom entries (see
        :mod:`ecg_art.evaluation.suites`).
    eps : float or iterable of float
        Budgets in normalised beat units, each > 0.
    batch_size : int
        Beats per attack / prediction batch.
    n : int or None
        Score a random subset of ``n`` beats (seeded by ``seed``); None: all.
    seed : int
        Seeds the subset and each attack's randomness (``torch.manual_seed`` before every run).
    model, dataset, split, defence : str
        Descriptions stored in the record.
    tolerance : float
        Slack of the relational sanity checks (accuracy fractions).
    unbounded_iter : int
        Steps of the unbounded PGD check (budget = the whole clip range); 0 skips it.
    unbounded_max_accuracy : float
        The unbounded check fails above this accuracy.
    skip_errors : bool
        An attack that cannot run on this classifier (``AttackError``/``ConfigError``, e.g. APGD-DLR with 2 classes)
        is recorded in ``record.skipped`` with its reason instead of stopping the benchmark.
    verbose : bool
        Progress bar over the suite.

    Returns
    -------
    BenchmarkRecord

    Examples
    --------
    >>> from ecg_art.models import BaselineCNN
    >>> from ecg_art.estimators import make_classifier
    >>> clf = make_classifier(BaselineCNN(input_length=64), input_length=64, device="cpu")
    >>> x = np.random.default_rng(0).random((6, 1, 64), dtype=np.float32); y = np.zeros(6, dtype=np.int64)
    >>> rec = benchmark(clf, x, y, suite="quick", eps=[0.01, 0.05], n=None, unbounded_iter=2)
    >>> all(w <= a.at(e) for a in rec.attacks for e, w in zip(rec.eps, rec.worst_case))
    True
    """
    t0 = time.perf_counter()
    entries = get_suite(suite)
    budgets = _check_eps(eps)
    if getattr(classifier, "clip_values", None) is None:
        raise ConfigError("`classifier` needs `clip_values`: L-inf budgets and the unbounded check are relative to it")
    x, y = np.asarray(x, dtype=np.float32), np.asarray(y).astype(np.int64).ravel()
    if x.ndim != 3 or len(x) != len(y) or len(y) == 0:
        raise ConfigError(f"`x` must be beats (m, 1, L) with one label each in `y`, got {x.shape} and {y.shape}")
    x, y = _subset(x, y, n, seed)
    if classifier.preprocessing_operations and not classifier.all_framework_preprocessing:
        logger.info("numpy preprocessing %s: every gradient-based attack differentiates it with ART's gradient "
                    "estimate (BPDA)", [type(p).__name__ for p in classifier.preprocessing_operations])
    clean_ok = _correct(classifier, x, y, batch_size)
    scores: list[AttackScore] = []
    robust: list[dict[float, np.ndarray]] = []
    skipped: dict[str, str] = {}
    for entry in tqdm(entries, desc="benchmark", disable=not verbose):
        try:
            per_eps, seconds = _run_entry(entry, classifier, x, y, clean_ok, eps=budgets, batch_size=batch_size,
                                          seed=seed)
        except (AttackError, ConfigError) as exc:
            if not skip_errors:
                raise
            logger.warning("skipped %s: %s", entry.label, exc)
            skipped[entry.label] = str(exc)
            continue
        robust.append(per_eps)
        scores.append(AttackScore(entry.label, entry.attack_name, dict(entry.kwargs), budgets,
                                  tuple(float(per_eps[e].mean()) for e in budgets), seconds, entry.min_norm,
                                  entry.note))
        logger.info("%s: %s (%.1fs)", entry.label,
                    ", ".join(f"eps={e:g} {a:.3f}" for e, a in zip(budgets, scores[-1].robust_accuracy)), seconds)
    if not scores:
        raise AttackError(f"no attack of the suite could run on this classifier: {skipped}")
    worst = tuple(float(worst_case_correct({i: r[e] for i, r in enumerate(robust)}).mean()) for e in budgets)
    unbounded = (_unbounded_accuracy(classifier, x, y, max_iter=unbounded_iter, batch_size=batch_size, seed=seed)
                 if unbounded_iter else float("nan"))
    clean_acc = float(clean_ok.mean())
    checks = sanity_checks(tuple(scores), worst, eps=budgets, clean_accuracy=clean_acc, unbounded_accuracy=unbounded,
                           tolerance=tolerance, unbounded_max_accuracy=unbounded_max_accuracy)
    for c in checks:
        (logger.info if c.passed else logger.warning)("sanity %s: %s (%s)", c.name, "ok" if c.passed else "FAILED",
                                                      c.detail)
    return BenchmarkRecord(
        model=model, dataset=dataset, split=split, suite=suite if isinstance(suite, str) else "custom", n=int(len(y)),
        seed=int(seed), clean_accuracy=clean_acc, eps=budgets, attacks=tuple(scores), worst_case=worst,
        unbounded_accuracy=unbounded, sanity=checks, skipped=skipped, defence=defence,
        seconds=time.perf_counter() - t0, versions=package_versions(),
    )
