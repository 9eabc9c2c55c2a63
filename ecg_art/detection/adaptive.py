"""Adaptive attack on a classifier *and* its adversarial-example detector (an ART ``EvasionAttack``): Linf PGD that
raises the classifier's loss while lowering the detector's "adversarial" margin."""

from __future__ import annotations

import logging
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from art.attacks.attack import EvasionAttack
from art.estimators.classification.classifier import ClassifierMixin
from art.estimators.estimator import BaseEstimator, LossGradientsMixin
from art.utils import check_and_transform_label_format
from tqdm.auto import tqdm

from ecg_art.estimators.torch_ops import torch_forward
from ecg_art.exceptions import AttackError, ConfigError

__all__ = ["adaptive_perturb", "detector_pgd", "AdaptiveDetectorPGD"]

logger = logging.getLogger(__name__)
Forward = Callable[[torch.Tensor], torch.Tensor]


def adaptive_perturb(classifier: Forward, detector: Forward, x: torch.Tensor, y: torch.Tensor, *, eps: float,
                     eps_step: float, max_iter: int, lam: float, clip_values: tuple[float, float] | None,
                     selective: bool = True, detector_threshold: float | None = None,
                     init: torch.Tensor | None = None) -> torch.Tensor:
    """Adaptive Linf PGD against ``classifier`` (logits ``(n, C)``) and ``detector`` (logits ``(n, 2)``), pure torch.

    Each of ``max_iter`` sign steps of size ``eps_step`` ascends, per beat,
    ``w * CE(classifier(x'), y) - lam * (d_1(x') - d_0(x'))`` where ``d`` are the detector's (clean, adversarial)
    logits (Carlini & Wagner 2017, "Adversarial examples are not easily detected"; Tramer et al. 2020, "On adaptive
    attacks to adversarial example defenses"). With ``selective`` each term only acts while it is needed: ``w = 0``
    once the beat is misclassified, and with ``detector_threshold`` the detector term only while the margin is at or
    above it. The result keeps, per beat, the iterate that is misclassified with the lowest detector margin (the last
    iterate for beats never misclassified). Every iterate lies in the ``eps`` ball of ``x`` and in ``clip_values``.
    Both models are used as they are (put them in eval mode); ``init`` is an optional starting point (e.g. random).

    Examples
    --------
    >>> f, g = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 3)), torch.nn.Conv1d(1, 2, 16)
    >>> d = lambda z: g(z)[..., 0]
    >>> x, y = torch.rand(4, 1, 16), torch.tensor([0, 1, 2, 0])
    >>> x_adv = adaptive_perturb(f, d, x, y, eps=0.05, eps_step=0.01, max_iter=5, lam=1.0, clip_values=(0.0, 1.0))
    >>> bool((x_adv - x).abs().max() <= 0.05 + 1e-6), bool(x_adv.min() >= 0)
    (True, True)
    """
    def direction(logits: torch.Tensor, margin: torch.Tensor, fooled: torch.Tensor, x_adv: torch.Tensor):
        ce = F.cross_entropy(logits, y, reduction="none")
        w_ce = (~fooled).to(ce.dtype) if selective else torch.ones_like(ce)
        w_det = torch.ones_like(margin)
        if selective and detector_threshold is not None:
            w_det = (margin >= detector_threshold).to(margin.dtype)
        return torch.autograd.grad((w_ce * ce - lam * w_det * margin).sum(), x_adv)[0]

    return detector_pgd(classifier, detector, x, y, direction, eps=eps, eps_step=eps_step, max_iter=max_iter,
                        clip_values=clip_values, init=init)


def detector_pgd(classifier: Forward, detector: Forward, x: torch.Tensor, y: torch.Tensor, direction, *, eps: float,
                 eps_step: float, max_iter: int, clip_values: tuple[float, float] | None,
                 init: torch.Tensor | None = None) -> torch.Tensor:
    """The Linf PGD loop shared by the attacks on classifier + detector: ``max_iter`` steps of
    ``eps_step * sign(direction(logits, margin, fooled, x_adv))`` (``margin = d_1 - d_0``, ``fooled`` the beats the
    classifier gets wrong; ``x_adv`` requires grad), each projected on the ``eps`` ball of ``x`` and ``clip_values``.
    Keeps, per beat, the misclassified iterate with the lowest detector margin (the last iterate for beats never
    misclassified)."""
    x = x.detach()

    def clip(z: torch.Tensor) -> torch.Tensor:
        return z if clip_values is None else z.clamp(clip_values[0], clip_values[1])

    x_adv = x.clone() if init is None else clip(x + (init.detach() - x).clamp(-eps, eps))
    best = x_adv.clone()
    best_margin = torch.full((len(x),), float("inf"), device=x.device)
    for it in range(max_iter + 1):
        x_adv.requires_grad_(True)
        logits, d = classifier(x_adv), detector(x_adv)
        margin = d[:, 1] - d[:, 0]
        fooled = logits.argmax(dim=1) != y
        with torch.no_grad():
            better = fooled & (margin < best_margin)
            best[better], best_margin[better] = x_adv[better], margin[better]
        if it == max_iter:
            break
        step = direction(logits, margin, fooled, x_adv)
        x_adv = clip(x + (x_adv.detach() + eps_step * step.sign() - x).clamp(-eps, eps))
    never = torch.isinf(best_margin)
    best[never] = x_adv.detach()[never]
    return best.detach()


class AdaptiveDetectorPGD(EvasionAttack):
    """PGD that fools a classifier while keeping its input-space detector quiet (see :func:`adaptive_perturb`).

    | Paper: Carlini & Wagner, "Adversarial Examples Are Not Easily Detected: Bypassing Ten Detection Methods",
      AISec 2017, https://arxiv.org/abs/1705.07263; Tramer et al., "On Adaptive Attacks to Adversarial Example
      Defenses", NeurIPS 2020, https://arxiv.org/abs/2002.08347

    Parameters
    ----------
    estimator : art.estimators.classification.PyTorchClassifier
        The classifier attacked.
    detector : BinaryInputDetector or PyTorchClassifier
        The detector (or its 2-class network, clean = 0 / adversarial = 1) evaded; inputs are the raw beats.
    eps : float
        Linf bound, in the estimator's input unit (normalised beat unit for ecg_art).
    eps_step : float, optional
        Sign-step size; ``None`` -> ``2.5 * eps / max_iter`` (Madry et al.).
    max_iter : int
        PGD steps.
    lam : float
        Weight of the detector margin against the classifier's cross-entropy.
    selective : bool
        Optimise each term only while needed (see :func:`adaptive_perturb`).
    detector_threshold : float, optional
        The detector's decision threshold on its margin, if the attacker knows it (white box).
    random_init : bool
        Start from a uniform random point of the eps ball (seeded by ``seed``).
    seed : int
        Seed of the random start.
    batch_size : int
        Beats attacked per batch.
    verbose : bool
        Progress bar over batches.

    Examples
    --------
    >>> attack = AdaptiveDetectorPGD(classifier, detector=detector, eps=0.05)  # doctest: +SKIP
    >>> x_adv = attack.generate(x_beats, y_true)                                # doctest: +SKIP
    """

    attack_params = EvasionAttack.attack_params + [
        "detector", "eps", "eps_step", "max_iter", "lam", "selective", "detector_threshold", "random_init", "seed",
        "batch_size", "verbose",
    ]
    _estimator_requirements = (BaseEstimator, LossGradientsMixin, ClassifierMixin)

    def __init__(self, estimator, *, detector, eps: float = 0.05, eps_step: float | None = None, max_iter: int = 20,
                 lam: float = 1.0, selective: bool = True, detector_threshold: float | None = None,
                 random_init: bool = False, seed: int = 0, batch_size: int = 256, verbose: bool = False) -> None:
        super().__init__(estimator=estimator)
        det_net = getattr(detector, "detector", detector)  # BinaryInputDetector -> its PyTorchClassifier
        self._f = torch_forward(estimator, type(self))
        self._g = torch_forward(det_net, type(self))
        self.detector, self._det_net = detector, det_net
        self.eps, self.eps_step, self.max_iter, self.lam = eps, eps_step, max_iter, lam
        self.selective, self.detector_threshold = selective, detector_threshold
        self.random_init, self.seed, self.batch_size, self.verbose = random_init, seed, batch_size, verbose
        self._check_params()

    def generate(self, x: np.ndarray, y: np.ndarray | None = None, **kwargs) -> np.ndarray:
        """Adversarial beats of ``x`` (``(n, 1, L)``), float32; ``y`` integer or one-hot true labels (None: the
        classifier's predictions)."""
        x = np.asarray(x, dtype=np.float32)
        if x.ndim != 3 or x.shape[1] != 1:
            raise AttackError(f"`x` must have shape (n, 1, L), got {x.shape}")
        if y is None:
            y = np.argmax(self.estimator.predict(x, batch_size=self.batch_size), axis=1)
        y = np.argmax(check_and_transform_label_format(np.asarray(y), nb_classes=self.estimator.nb_classes), axis=1)
        device = self.estimator.device
        step = 2.5 * self.eps / max(self.max_iter, 1) if self.eps_step is None else self.eps_step
        gen = torch.Generator().manual_seed(self.seed)
        models = (self.estimator.model, self._det_net.model)
        modes = [m.training for m in models]
        for m in models:
            m.eval()
        x_adv = np.empty_like(x)
        try:
            for start in tqdm(range(0, len(x), self.batch_size), desc="adaptive PGD", disable=not self.verbose):
                xb = torch.from_numpy(x[start:start + self.batch_size])
                init = None
                if self.random_init:
                    init = xb + torch.empty(xb.shape).uniform_(-self.eps, self.eps, generator=gen)
                x_adv[start:start + self.batch_size] = self._perturb(
                    xb.to(device), torch.from_numpy(y[start:start + self.batch_size]).to(device), eps_step=step,
                    init=None if init is None else init.to(device)).cpu().numpy()
        finally:
            for m, mode in zip(models, modes):
                m.train(mode)
        return x_adv

    def _perturb(self, x: torch.Tensor, y: torch.Tensor, *, eps_step: float, init: torch.Tensor | None
                 ) -> torch.Tensor:
        """One batch of adversarial beats (the hook that variants of the attack override)."""
        return adaptive_perturb(self._f, self._g, x, y, eps=self.eps, eps_step=eps_step, max_iter=self.max_iter,
                                lam=self.lam, clip_values=self.estimator.clip_values, selective=self.selective,
                                detector_threshold=self.detector_threshold, init=init)

    def _check_params(self) -> None:
        if isinstance(self.eps, bool) or not isinstance(self.eps, (int, float)) or not self.eps > 0:
            raise ConfigError(f"`eps` must be a positive number, got {self.eps!r}")
        if self.eps_step is not None and (not isinstance(self.eps_step, (int, float)) or not self.eps_step > 0):
            raise ConfigError(f"`eps_step` must be a positive number or None, got {self.eps_step!r}")
        if not isinstance(self.max_iter, int) or self.max_iter < 1:
            raise ConfigError(f"`max_iter` must be a positive int, got {self.max_iter!r}")
        if not isinstance(self.lam, (int, float)) or not np.isfinite(self.lam) or self.lam < 0:
            raise ConfigError(f"`lam` must be a finite number >= 0, got {self.lam!r}")
        if self._det_net.nb_classes != 2:
            raise ConfigError(f"`detector` must have 2 classes (clean, adversarial), got {self._det_net.nb_classes}")
        if self.detector_threshold is not None and not np.isfinite(self.detector_threshold):
            raise ConfigError(f"`detector_threshold` must be a finite number or None, got {self.detector_threshold!r}")
        for name in ("selective", "random_init", "verbose"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(f"`{name}` must be a bool, got {getattr(self, name)!r}")
        if not isinstance(self.batch_size, int) or self.batch_size < 1:
            raise ConfigError(f"`batch_size` must be a positive int, got {self.batch_size!r}")
