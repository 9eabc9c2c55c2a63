"""Gradient-free attack on classifier + detector as one system: Square-style random search (Andriushchenko et al.,
ECCV 2020) on 1D beats for a loss that is zero only when a beat is misclassified *and* scored under the threshold."""

from __future__ import annotations

import logging

import numpy as np
import torch

from ecg_art.detection.adaptive import AdaptiveDetectorPGD, Forward
from ecg_art.exceptions import ConfigError

__all__ = ["system_loss", "system_square_perturb", "SystemSquareAttack"]

logger = logging.getLogger(__name__)

# Square attack's schedule: p halves at these iterations of a 10,000-iteration run (rescaled to `max_iter`)
_P_HALVINGS = (10, 50, 200, 500, 1000, 2000, 4000, 6000, 8000)


def system_loss(logits: torch.Tensor, margin: torch.Tensor, y: torch.Tensor, *, threshold: float,
                kappa: float = 0.0) -> torch.Tensor:
    """Per beat ``relu(z_y - max_{c != y} z_c + kappa) + relu(margin - threshold + kappa)``: zero exactly when the
    beat is misclassified and its detector margin is under ``threshold`` (each by at least ``kappa``).

    Examples
    --------
    >>> logits, margin = torch.tensor([[2.0, 0.0], [0.0, 2.0]]), torch.tensor([1.0, -1.0])
    >>> system_loss(logits, margin, torch.tensor([0, 0]), threshold=0.0).tolist()
    [3.0, 0.0]
    """
    z_y = logits.gather(1, y[:, None])[:, 0]
    other = logits.scatter(1, y[:, None], float("-inf")).amax(dim=1)
    return torch.relu(z_y - other + kappa) + torch.relu(margin - threshold + kappa)


def _p_at(it: int, max_iter: int, p_init: float) -> float:
    scaled = int(it / max(max_iter, 1) * 10000)
    return p_init / 2 ** sum(scaled > h for h in _P_HALVINGS)


@torch.no_grad()
def system_square_perturb(classifier: Forward, detector: Forward, x: torch.Tensor, y: torch.Tensor, *, eps: float,
                          max_iter: int, threshold: float, clip_values: tuple[float, float] | None,
                          p_init: float = 0.1, kappa: float = 0.0,
                          generator: torch.Generator | None = None) -> torch.Tensor:
    """Square-style Linf random search on beats ``(n, 1, L)`` against classifier + detector, pure torch, no gradients.

    Starting from ``x``, each of ``max_iter`` iterations proposes, for every beat not yet broken, a window of
    ``round(p * L)`` consecutive samples set to ``x + eps`` or ``x - eps`` (one random sign per window; ``p`` starts at
    ``p_init`` and halves on Square's schedule) and keeps it when :func:`system_loss` decreases. Queries only the
    models' outputs (logits and detector margin ``d_1 - d_0``), so a detector or classifier with masked gradients does
    not stop it. The result lies in the ``eps`` ball of ``x`` and in ``clip_values``.

    Examples
    --------
    >>> f, g = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 3)), torch.nn.Conv1d(1, 2, 16)
    >>> d = lambda z: g(z)[..., 0]
    >>> x, y = torch.rand(4, 1, 16), torch.tensor([0, 1, 2, 0])
    >>> x_adv = system_square_perturb(f, d, x, y, eps=0.05, max_iter=20, threshold=0.0, clip_values=(0.0, 1.0))
    >>> bool((x_adv - x).abs().max() <= 0.05 + 1e-6), bool(x_adv.min() >= 0)
    (True, True)
    """
    x = x.detach()

    def clip(z: torch.Tensor) -> torch.Tensor:
        return z if clip_values is None else z.clamp(clip_values[0], clip_values[1])

    def loss(z: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        d = detector(z)
        return system_loss(classifier(z), d[:, 1] - d[:, 0], y[idx], threshold=threshold, kappa=kappa)

    n, length = len(x), x.shape[-1]
    x_adv = x.clone()
    best = loss(x_adv, torch.arange(n, device=x.device))
    for it in range(max_iter):
        active = torch.nonzero(best > 0).flatten()
        if len(active) == 0:
            break
        h = min(max(int(round(_p_at(it, max_iter, p_init) * length)), 1), length)
        start = torch.randint(0, length - h + 1, (len(active),), generator=generator).to(x.device)
        sign = torch.randint(0, 2, (len(active),), generator=generator).to(x.device) * 2.0 - 1.0
        pos = torch.arange(length, device=x.device)[None]
        window = ((pos >= start[:, None]) & (pos < start[:, None] + h))[:, None, :]
        proposal = torch.where(window, clip(x[active] + sign[:, None, None] * eps), x_adv[active])
        new = loss(proposal, active)
        better = new < best[active]
        x_adv[active[better]], best[active[better]] = proposal[better], new[better]
    logger.debug("system square: %d of %d beats broken", int((best <= 0).sum()), n)
    return x_adv


class SystemSquareAttack(AdaptiveDetectorPGD):
    """Gradient-free attack on classifier + detector (see :func:`system_square_perturb`); an ART ``EvasionAttack``.

    | Paper: Andriushchenko, Croce, Flammarion & Hein, "Square Attack: a query-efficient black-box adversarial attack
      via random search", ECCV 2020, https://arxiv.org/abs/1912.00049

    Parameters are those of :class:`~ecg_art.detection.AdaptiveDetectorPGD` (``eps_step``, ``lam``, ``selective`` and
    ``random_init`` unused; ``max_iter`` counts random-search iterations, one query of each model per iteration;
    ``detector_threshold`` is the system's rejection threshold on the margin, None: 0, the detector's own argmax) plus
    ``p_init`` (initial window length as a share of the beat) and ``kappa`` (confidence margin of both goals).

    Examples
    --------
    >>> attack = SystemSquareAttack(classifier, detector=detector, eps=0.05, detector_threshold=t)  # doctest: +SKIP
    >>> x_adv = attack.generate(x_beats, y_true)                                                    # doctest: +SKIP
    """

    attack_params = AdaptiveDetectorPGD.attack_params + ["p_init", "kappa"]

    def __init__(self, estimator, *, detector, max_iter: int = 200, p_init: float = 0.1, kappa: float = 0.0,
                 **kwargs) -> None:
        self.p_init, self.kappa = p_init, kappa
        self._generator = torch.Generator()
        super().__init__(estimator, detector=detector, max_iter=max_iter, **{**kwargs, "random_init": False})

    def generate(self, x: np.ndarray, y: np.ndarray | None = None, **kwargs) -> np.ndarray:
        self._generator = torch.Generator().manual_seed(self.seed)
        return super().generate(x, y, **kwargs)

    def _perturb(self, x: torch.Tensor, y: torch.Tensor, *, eps_step: float, init: torch.Tensor | None
                 ) -> torch.Tensor:
        threshold = 0.0 if self.detector_threshold is None else float(self.detector_threshold)
        return system_square_perturb(self._f, self._g, x, y, eps=self.eps, max_iter=self.max_iter,
                                     threshold=threshold, clip_values=self.estimator.clip_values,
                                     p_init=self.p_init, kappa=self.kappa, generator=self._generator)

    def _check_params(self) -> None:
        super()._check_params()
        if isinstance(self.p_init, bool) or not isinstance(self.p_init, (int, float)) or not 0 < self.p_init <= 1:
            raise ConfigError(f"`p_init` must be in (0, 1], got {self.p_init!r}")
        if isinstance(self.kappa, bool) or not isinstance(self.kappa, (int, float)) or not self.kappa >= 0:
            raise ConfigError(f"`kappa` must be a number >= 0, got {self.kappa!r}")
