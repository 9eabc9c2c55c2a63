"""Evaluate several attacks at several budgets in one call: accuracy, macro-F1, SNR, L-inf, smoothness, time."""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass
from typing import Any, Iterable, Mapping

import numpy as np
from tqdm.auto import tqdm

from ecg_art.attacks.registry import check_eps, get_attack
from ecg_art.estimators import check_beats, predict_labels
from ecg_art.evaluation.metrics import classification_metrics, linf, smoothness, snr_db
from ecg_art.exceptions import ConfigError

__all__ = ["AttackResult", "evaluate_attacks"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class AttackResult:
    """One attack at one budget on one beat set. ``snr_db`` is ``inf`` and ``linf`` 0 when nothing changed."""

    attack: str
    eps: float
    n: int
    clean_accuracy: float
    adv_accuracy: float
    macro_f1: float
    snr_db: float
    linf: float
    smoothness: float
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _as_list(value, name: str) -> list:
    if value is None:
        raise ConfigError(f"`{name}` must not be None")
    items = [value] if isinstance(value, (str, int, float, np.floating, np.integer)) else list(value)
    if not items:
        raise ConfigError(f"`{name}` must not be empty")
    return items


def evaluate_attacks(
    classifier: Any,
    x: np.ndarray,
    y: np.ndarray,
    *,
    attacks: str | Iterable[str],
    eps: float | Iterable[float],
    batch_size: int = 256,
    attack_kwargs: Mapping[str, Mapping[str, Any]] | None = None,
    return_adv: bool = False,
    verbose: bool = False,
):
    """Run every attack in ``attacks`` at every budget in ``eps`` on beats ``x`` with true labels ``y``.

    Parameters
    ----------
    classifier : art.estimators.classification.PyTorchClassifier
        The model under attack.
    x : numpy.ndarray
        Beats ``(n, 1, L)``.
    y : numpy.ndarray
        Integer labels ``(n,)``; the attacks push away from these.
    attacks : str or iterable of str
        Registered attack names.
    eps : float or iterable of float
        Budgets in beat units; ``0`` scores the clean beats.
    batch_size : int
        Beats per attack/prediction batch.
    attack_kwargs : mapping, optional
        Extra keyword arguments per attack name, e.g. ``{"pgd": {"max_iter": 50}}``.
    return_adv : bool
        Also return ``{(attack, eps): x_adv}``.
    verbose : bool
        Progress bar over the (attack, eps) pairs.

    Returns
    -------
    list of AttackResult, or (list of AttackResult, dict) when ``return_adv``

    Raises
    ------
    ConfigError
        Empty ``attacks``/``eps``, a bad ``eps``, or ``x``/``y`` that do not fit the classifier (shape, NaN/inf,
        ``len(x) != len(y)``, labels out of range), naming the argument.
    RegistryError, AttackError
        An unknown attack name; beats outside the classifier's ``clip_values``.

    Examples
    --------
    >>> from ecg_art.models import BaselineCNN
    >>> from ecg_art.estimators import make_classifier
    >>> clf = make_classifier(BaselineCNN(), device="cpu")
    >>> x = np.full((4, 1, 256), 0.5, dtype=np.float32); y = np.zeros(4, dtype=np.int64)
    >>> res = evaluate_attacks(clf, x, y, attacks=["fgsm"], eps=[0.0, 0.01])
    >>> [(r.attack, r.eps) for r in res]
    [('fgsm', 0.0), ('fgsm', 0.01)]
    """
    names = [str(a) for a in _as_list(attacks, "attacks")]
    budgets = [check_eps(e) for e in _as_list(eps, "eps")]
    x, y = check_beats(x, y, classifier=classifier)
    if x.ndim != 3 or y.ndim != 1:
        raise ConfigError(f"`x` must be beats (n, 1, L) with one integer label each in `y`, got {x.shape} and "
                          f"{y.shape}")
    if len(x) == 0:
        raise ConfigError("`x` is empty: no beats to attack")
    y = y.astype(np.int64)
    attack_kwargs = {k.lower(): dict(v) for k, v in (attack_kwargs or {}).items()}
    unknown = set(attack_kwargs) - {n.lower() for n in names}
    if unknown:
        raise ConfigError(f"`attack_kwargs` names attacks not being run: {sorted(unknown)}")
    clean_pred = predict_labels(classifier, x, batch_size=batch_size)
    clean_acc = float((clean_pred == y).mean())
    results: list[AttackResult] = []
    adversarial: dict[tuple[str, float], np.ndarray] = {}
    pairs = [(name, e) for name in names for e in budgets]
    for name, e in tqdm(pairs, desc="attacks", disable=not verbose):
        start = time.perf_counter()
        runner = get_attack(name, classifier, eps=e, batch_size=batch_size, **attack_kwargs.get(name.lower(), {}))
        x_adv = runner.generate(x, y)
        seconds = time.perf_counter() - start
        adv_pred = clean_pred if x_adv is x or np.array_equal(x_adv, x) else predict_labels(
            classifier, x_adv, batch_size=batch_size)
        scores = classification_metrics(y, adv_pred)
        result = AttackResult(
            attack=runner.name, eps=e, n=int(len(y)), clean_accuracy=clean_acc, adv_accuracy=scores.accuracy,
            macro_f1=scores.macro_f1, snr_db=snr_db(x, x_adv), linf=linf(x, x_adv), smoothness=smoothness(x, x_adv),
            seconds=seconds,
        )
        logger.info("%s eps=%g: accuracy %.3f -> %.3f (%.1fs)", result.attack, e, clean_acc, result.adv_accuracy,
                    seconds)
        results.append(result)
        if return_adv:
            adversarial[(runner.name, e)] = x_adv
    return (results, adversarial) if return_adv else results
