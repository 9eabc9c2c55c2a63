"""Adversarial examples crafted against classifier *and* detector, regenerated as the detector trains: the
``refresh`` of :meth:`~ecg_art.detection.DetectionProtocol.fit` (asymmetric adversarial training in spirit: the
detector learns from the beats that evade it now, Yin, Kolouri & Rohde, ICLR 2020)."""

from __future__ import annotations

import logging

import numpy as np

from ecg_art.detection.adaptive import AdaptiveDetectorPGD
from ecg_art.detection.orthogonal import OrthogonalDetectorPGD
from ecg_art.exceptions import ConfigError

__all__ = ["AdaptiveExamples", "ADAPTIVE_TRAIN_ATTACKS"]

logger = logging.getLogger(__name__)

# attacks the detector may be trained against: the summed-loss adaptive PGD and orthogonal / selective PGD
ADAPTIVE_TRAIN_ATTACKS = ("adaptive", "orthogonal", "selective")


class AdaptiveExamples:
    """Adaptive adversarial beats of ``x`` against ``classifier`` and the detector as it is at the call.

    Each beat gets one (attack, eps) of ``attacks`` x ``eps``, drawn at random per call (seeded by ``seed`` and the
    call's ``epoch``), and a random start in the eps ball; ``"adaptive"`` is
    :class:`~ecg_art.detection.AdaptiveDetectorPGD` (summed loss), ``"orthogonal"`` / ``"selective"`` are
    :class:`~ecg_art.detection.OrthogonalDetectorPGD` with and without projection.

    Parameters
    ----------
    classifier : art.estimators.classification.PyTorchClassifier
        The classifier the detector guards.
    detector : BinaryInputDetector
        The detector being trained (attacked as it is at each call).
    data : dict
        ``{split: (x, y)}``: clean beats and true labels of each split that is refreshed (``"train"``, ``"val"``).
    attacks : tuple of str
        Among :data:`ADAPTIVE_TRAIN_ATTACKS`.
    eps : tuple of float
        Linf budgets, in the input unit.
    max_iter : int
        Steps of each attack.
    lam : float
        Detector weight of the ``"adaptive"`` attack.
    seed : int
        Base seed.
    batch_size : int
        Beats per attack batch.

    Examples
    --------
    >>> maker = AdaptiveExamples(classifier, detector, {"train": (x, y)}, eps=(0.05,))  # doctest: +SKIP
    >>> proto.fit(x, x_adv, val_clean=xv, val_adv=xv_adv, refresh=maker)                # doctest: +SKIP
    """

    def __init__(self, classifier, detector, data: dict[str, tuple[np.ndarray, np.ndarray]], *,
                 attacks: tuple[str, ...] = ("adaptive", "orthogonal"), eps: tuple[float, ...] = (0.01, 0.03, 0.05),
                 max_iter: int = 10, lam: float = 1.0, seed: int = 0, batch_size: int = 256) -> None:
        attacks, eps = tuple(attacks), tuple(float(e) for e in eps)
        if not attacks or set(attacks) - set(ADAPTIVE_TRAIN_ATTACKS):
            raise ConfigError(f"`attacks` must be a non-empty subset of {ADAPTIVE_TRAIN_ATTACKS}, got {attacks!r}")
        if not eps or not all(np.isfinite(e) and e > 0 for e in eps):
            raise ConfigError(f"`eps` must be a non-empty sequence of positive numbers, got {eps!r}")
        if not data or not all(len(x) == len(y) and len(x) > 0 for x, y in data.values()):
            raise ConfigError("`data` must map each split to non-empty (x, y) of the same length")
        self.classifier, self.detector, self.data = classifier, detector, data
        self.attacks, self.eps, self.max_iter, self.lam = attacks, eps, max_iter, lam
        self.seed, self.batch_size = seed, batch_size

    def _attack(self, name: str, eps: float, seed: int):
        common = dict(detector=self.detector, eps=eps, max_iter=self.max_iter, random_init=True, seed=seed,
                      batch_size=self.batch_size)
        if name == "adaptive":
            return AdaptiveDetectorPGD(self.classifier, lam=self.lam, **common)
        return OrthogonalDetectorPGD(self.classifier, orthogonal=name == "orthogonal", **common)

    def __call__(self, split: str, epoch: int) -> np.ndarray:
        """Adversarial beats of ``split``'s beats (same order) against the detector as it is now."""
        if split not in self.data:
            raise ConfigError(f"`split` must be one of {sorted(self.data)}, got {split!r}")
        x, y = self.data[split]
        combos = [(a, e) for a in self.attacks for e in self.eps]
        seed = self.seed + 1000 * epoch + (0 if split == "train" else 500)
        group = np.random.default_rng(seed).permutation(len(x)) % len(combos)
        x_adv = np.empty_like(np.asarray(x, dtype=np.float32))
        for i, (name, eps) in enumerate(combos):
            sel = group == i
            if sel.any():
                x_adv[sel] = self._attack(name, eps, seed + i).generate(x[sel], y[sel])
        logger.debug("refreshed %d adaptive beats of %r (epoch %d)", len(x), split, epoch)
        return x_adv
