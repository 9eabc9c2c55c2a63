"""Orthogonal projected gradient descent on a classifier and its detector (Bryniarski et al., ICLR 2022): each step
serves one of the two goals and is projected so that it does not undo the other."""

from __future__ import annotations

import logging

import torch
import torch.nn.functional as F

from ecg_art.detection.adaptive import AdaptiveDetectorPGD, Forward, detector_pgd
from ecg_art.exceptions import ConfigError

__all__ = ["orthogonal_perturb", "OrthogonalDetectorPGD"]

logger = logging.getLogger(__name__)


def _remove(v: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """``v`` minus its projection on ``u``, per beat (flattened); beats with ``u = 0`` keep ``v``."""
    vf, uf = v.flatten(1), u.flatten(1)
    coef = (vf * uf).sum(dim=1) / (uf * uf).sum(dim=1).clamp_min(1e-20)
    return (vf - coef[:, None] * uf).view_as(v)


def orthogonal_perturb(classifier: Forward, detector: Forward, x: torch.Tensor, y: torch.Tensor, *, eps: float,
                       eps_step: float, max_iter: int, clip_values: tuple[float, float] | None,
                       orthogonal: bool = True, init: torch.Tensor | None = None) -> torch.Tensor:
    """Orthogonal (or selective) Linf PGD against ``classifier`` (logits ``(n, C)``) and ``detector`` (logits
    ``(n, 2)``, clean / adversarial), pure torch.

    Per beat and step: while the beat is still classified as ``y``, the step ascends the classifier's cross-entropy,
    with the component along the gradient of the detector's margin ``d_1 - d_0`` removed; once misclassified, it
    descends the detector's margin, with the component along the cross-entropy gradient removed (so the beat stays
    misclassified) -- below the detector's threshold too, so that no threshold is needed and the AUC is attacked as
    well (the best iterate is kept). ``orthogonal=False`` is the paper's *selective* PGD (no projection). Steps are
    ``eps_step * sign(direction)``; the result keeps, per beat, the misclassified iterate with the lowest margin (the
    last iterate for beats never misclassified), inside the ``eps`` ball of ``x`` and ``clip_values``.

    Examples
    --------
    >>> f, g = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 3)), torch.nn.Conv1d(1, 2, 16)
    >>> d = lambda z: g(z)[..., 0]
    >>> x, y = torch.rand(4, 1, 16), torch.tensor([0, 1, 2, 0])
    >>> x_adv = orthogonal_perturb(f, d, x, y, eps=0.05, eps_step=0.01, max_iter=5, clip_values=(0.0, 1.0))
    >>> bool((x_adv - x).abs().max() <= 0.05 + 1e-6), bool(x_adv.min() >= 0)
    (True, True)
    """
    def direction(logits: torch.Tensor, margin: torch.Tensor, fooled: torch.Tensor, x_adv: torch.Tensor):
        ce = F.cross_entropy(logits, y, reduction="none")
        g_ce = torch.autograd.grad(ce.sum(), x_adv, retain_graph=True)[0]
        g_det = -torch.autograd.grad(margin.sum(), x_adv)[0]  # lowers the margin
        if orthogonal:
            g_ce, g_det = _remove(g_ce, g_det), _remove(g_det, g_ce)
        return torch.where(fooled.view(-1, *([1] * (x.ndim - 1))), g_det, g_ce)

    return detector_pgd(classifier, detector, x, y, direction, eps=eps, eps_step=eps_step, max_iter=max_iter,
                        clip_values=clip_values, init=init)


class OrthogonalDetectorPGD(AdaptiveDetectorPGD):
    """Orthogonal PGD that fools a classifier while keeping its detector quiet (see :func:`orthogonal_perturb`).

    | Paper: Bryniarski, Hingun, Pachuca, Wang & Carlini, "Evading Adversarial Example Detection Defenses with
      Orthogonal Projected Gradient Descent", ICLR 2022, https://arxiv.org/abs/2106.15023

    Parameters are those of :class:`~ecg_art.detection.AdaptiveDetectorPGD` (``lam``, ``selective`` and
    ``detector_threshold`` unused: the two goals are never summed, and the margin is lowered all the way) plus
    ``orthogonal`` (False: the paper's selective PGD, no projection).

    Examples
    --------
    >>> attack = OrthogonalDetectorPGD(classifier, detector=detector, eps=0.05)  # doctest: +SKIP
    >>> x_adv = attack.generate(x_beats, y_true)                                  # doctest: +SKIP
    """

    attack_params = AdaptiveDetectorPGD.attack_params + ["orthogonal"]

    def __init__(self, estimator, *, detector, orthogonal: bool = True, **kwargs) -> None:
        self.orthogonal = orthogonal
        super().__init__(estimator, detector=detector, **kwargs)

    def _perturb(self, x: torch.Tensor, y: torch.Tensor, *, eps_step: float, init: torch.Tensor | None
                 ) -> torch.Tensor:
        return orthogonal_perturb(self._f, self._g, x, y, eps=self.eps, eps_step=eps_step, max_iter=self.max_iter,
                                  clip_values=self.estimator.clip_values, orthogonal=self.orthogonal, init=init)

    def _check_params(self) -> None:
        super()._check_params()
        if not isinstance(self.orthogonal, bool):
            raise ConfigError(f"`orthogonal` must be a bool, got {self.orthogonal!r}")
