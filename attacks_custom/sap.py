"""Smooth Adversarial Perturbation (SAP, Han et al., Nature Medicine 2020) as an ART ``EvasionAttack``."""

from __future__ import annotations

import logging
import math
from numbers import Real
from typing import Callable, Sequence

import numpy as np
import torch
from art.attacks.attack import EvasionAttack
from art.estimators.classification.classifier import ClassifierMixin
from art.estimators.estimator import BaseEstimator, LossGradientsMixin
from art.utils import check_and_transform_label_format
from tqdm.auto import tqdm

from ecg_art.estimators import labels_to_tensor, torch_forward
from attacks_custom.smoothing import gaussian_kernels, smooth
from ecg_art.evaluation.metrics import smoothness
from ecg_art.exceptions import AttackError, ConfigError

__all__ = ["sap_perturb", "SmoothAdversarialPerturbation", "make_sap"]

logger = logging.getLogger(__name__)


def sap_perturb(
    model: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    eps: float,
    step_size: float,
    pgd_iter: int,
    smooth_iter: int,
    kernels: torch.Tensor,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    clip_values: tuple[float, float] | None,
    mask: torch.Tensor | None = None,
    targeted: bool = False,
    padding: str = "zeros",
) -> torch.Tensor:
    """SAP adversarial examples of ``x`` (pure torch): PGD start, then sign-gradient ascent on the smoothing variable.

    Stage 1 runs ``pgd_iter`` Linf PGD sign steps of size ``step_size`` from ``x`` (no random start) and sets
    ``theta = x_pgd - x``. Stage 2 runs ``smooth_iter`` sign steps on ``theta`` through ``x + smooth(theta)``, clamping
    ``theta`` to ``[-eps, eps]``. Because the kernels are non-negative and sum to 1, ``|smooth(theta)| <= eps``.
    Unlike the reference (unbounded signals) every candidate is clipped to ``clip_values``; clipping only shrinks the
    perturbation. ``mask`` (values in [0, 1], broadcastable to ``x``) multiplies the perturbation; ``targeted``
    descends the loss of ``y`` instead of ascending it. The model's mode is left as it is (use eval mode).

    Examples
    --------
    >>> net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 2))
    >>> x, y = torch.rand(4, 1, 64), torch.tensor([0, 1, 0, 1])
    >>> x_adv = sap_perturb(net, x, y, eps=0.05, step_size=0.005, pgd_iter=3, smooth_iter=6,
    ...                     kernels=gaussian_kernels(), loss_fn=torch.nn.functional.cross_entropy, clip_values=(0.0, 1.0))
    >>> bool((x_adv - x).abs().max() <= 0.05 + 1e-6)
    True
    """
    x = x.detach()
    sign = -1.0 if targeted else 1.0

    def clip(z: torch.Tensor) -> torch.Tensor:
        return z if clip_values is None else z.clamp(clip_values[0], clip_values[1])

    def masked(d: torch.Tensor) -> torch.Tensor:
        return d if mask is None else d * mask

    def loss_grad(inputs: torch.Tensor, wrt: torch.Tensor) -> torch.Tensor:
        # gradient w.r.t. the input only: no parameter gradients are computed or accumulated
        return torch.autograd.grad(loss_fn(model(inputs), y), wrt)[0]

    x_adv = x.clone()
    for _ in range(pgd_iter):
        x_adv.requires_grad_(True)
        step = sign * step_size * loss_grad(x_adv, x_adv).sign()
        x_adv = clip(x + (x_adv.detach() + masked(step) - x).clamp(-eps, eps))
    theta = (x_adv - x).detach()

    kernel = kernels.to(dtype=x.dtype, device=x.device).mean(dim=0, keepdim=True)  # averaged once, see `smooth`
    for _ in range(smooth_iter):
        theta.requires_grad_(True)
        grad = loss_grad(clip(x + masked(smooth(theta, kernel, padding=padding))), theta)
        theta = (theta.detach() + sign * step_size * grad.sign()).clamp(-eps, eps)
    with torch.no_grad():
        return clip(x + masked(smooth(theta, kernel, padding=padding)))


class SmoothAdversarialPerturbation(EvasionAttack):
    """Smooth Adversarial Perturbation: Linf PGD followed by optimisation of a Gaussian-smoothed perturbation.

    | Paper: Han et al., "Deep learning models for electrocardiograms are susceptible to adversarial attack",
      Nature Medicine 26, 360-363 (2020), https://doi.org/10.1038/s41591-020-0791-x
    | Reference code: https://github.com/XintianHan/ADV_ECG (``create_adv_conv_train.py``, ``pgd_conv``)

    Parameters
    ----------
    estimator : art.estimators.classification.PyTorchClassifier
        Classifier attacked; its ``model``, ``loss`` and ``device`` are used directly.
    eps : float
        Linf bound of the perturbation, in the estimator's input unit (normalised beat unit for ecg_art).
    eps_step : float, optional
        Sign-step size of both stages; ``None`` -> ``eps / 10`` (the reference's ratio: eps 10, step 1).
    pgd_iter : int
        PGD steps of stage 1 (reference: 20).
    smooth_iter : int, optional
        Steps of stage 2 on the smoothing variable; ``None`` -> ``2 * pgd_iter`` (reference).
    kernel_sizes, sigmas : sequence
        Gaussian kernel sizes (odd, samples) and standard deviations (samples) at ``kernel_fs``; all pairs are used.
    fs, kernel_fs : float
        Sampling rate of the data and the one the kernels were defined for (Hz).
    scale_kernels : bool
        Scale kernel sizes and sigmas by ``fs / kernel_fs`` (sizes stay odd).
    padding : {"zeros", "replicate"}
        Padding of the 'same' convolution (reference: zeros).
    targeted : bool
        Minimise the loss of the given target labels instead of maximising the loss of the true ones.
    batch_size : int
        Beats attacked per batch.
    verbose : bool
        Show a progress bar over batches.

    Examples
    --------
    >>> sap = SmoothAdversarialPerturbation(classifier, eps=0.05)  # doctest: +SKIP
    >>> x_adv = sap.generate(x_beats)                              # doctest: +SKIP
    """

    attack_params = EvasionAttack.attack_params + [
        "eps", "eps_step", "pgd_iter", "smooth_iter", "kernel_sizes", "sigmas", "fs", "kernel_fs",
        "scale_kernels", "padding", "targeted", "batch_size", "verbose",
    ]
    _estimator_requirements = (BaseEstimator, LossGradientsMixin, ClassifierMixin)

    def __init__(
        self,
        estimator,
        *,
        eps: float = 0.05,
        eps_step: float | None = None,
        pgd_iter: int = 20,
        smooth_iter: int | None = None,
        kernel_sizes: Sequence[int] = (5, 7, 11, 15, 19),
        sigmas: Sequence[float] = (1.0, 3.0, 5.0, 7.0, 10.0),
        fs: float = 360.0,
        kernel_fs: float = 300.0,
        scale_kernels: bool = True,
        padding: str = "zeros",
        targeted: bool = False,
        batch_size: int = 256,
        verbose: bool = False,
    ) -> None:
        super().__init__(estimator=estimator)
        self._forward = torch_forward(estimator, type(self))
        self.eps, self.eps_step, self.pgd_iter, self.smooth_iter = eps, eps_step, pgd_iter, smooth_iter
        self.kernel_sizes, self.sigmas, self.fs, self.kernel_fs = tuple(kernel_sizes), tuple(sigmas), fs, kernel_fs
        self.scale_kernels, self.padding, self.targeted = scale_kernels, padding, targeted
        self.batch_size, self.verbose = batch_size, verbose
        self.last_smoothness: float | None = None
        self._check_params()

    @property
    def kernels(self) -> torch.Tensor:
        """The stacked, normalised (and possibly rescaled) kernels, ``(K, 1, max_size)``."""
        return gaussian_kernels(kernel_sizes=self.kernel_sizes, sigmas=self.sigmas, fs=self.fs,
                                kernel_fs=self.kernel_fs, scale_kernels=self.scale_kernels)

    def generate(self, x: np.ndarray, y: np.ndarray | None = None, **kwargs) -> np.ndarray:
        """Adversarial beats of ``x`` (``(n, 1, L)`` or ``(n, L)``), same shape and float32.

        ``y``: integer or one-hot labels (targets when ``targeted``); ``None`` uses the model's predictions, avoiding
        label leaking. ``mask`` (keyword, bool or float in [0, 1], broadcastable to ``x`` or one per beat) multiplies
        the perturbation.
        """
        x = np.asarray(x)
        if x.ndim not in (2, 3) or (x.ndim == 3 and x.shape[1] != 1):
            raise AttackError(f"`x` must have shape (n, L) or (n, 1, L), got {x.shape}")
        if x.dtype.kind not in "fiu" or not np.all(np.isfinite(x)):
            raise AttackError(f"`x` must hold finite numbers (no NaN/inf), got dtype {x.dtype}")
        if y is None:
            if self.targeted:
                raise AttackError("`y` (target labels) is required when `targeted` is True")
            y = np.argmax(self.estimator.predict(x, batch_size=self.batch_size), axis=1)
        y = check_and_transform_label_format(np.asarray(y), nb_classes=self.estimator.nb_classes)
        mask = self._check_mask(kwargs.get("mask"), x)
        per_beat_mask = mask is not None and mask.ndim == x.ndim and mask.shape[0] == x.shape[0]

        device, kernels = self.estimator.device, self.kernels.to(self.estimator.device)
        step = self.eps / 10.0 if self.eps_step is None else self.eps_step
        n_smooth = 2 * self.pgd_iter if self.smooth_iter is None else self.smooth_iter
        model = self.estimator.model
        was_training = model.training
        model.eval()
        x_adv = np.empty_like(x, dtype=np.float32)
        try:
            for start in tqdm(range(0, len(x), self.batch_size), desc="SAP", disable=not self.verbose):
                stop = start + self.batch_size
                m = None if mask is None else mask[start:stop] if per_beat_mask else mask
                x_adv[start:stop] = sap_perturb(
                    self._forward,
                    torch.from_numpy(x[start:stop].astype(np.float32)).to(device),
                    labels_to_tensor(self.estimator, y[start:stop], device),
                    eps=self.eps, step_size=step, pgd_iter=self.pgd_iter, smooth_iter=n_smooth,
                    kernels=kernels, loss_fn=self.estimator.loss, clip_values=self.estimator.clip_values,
                    mask=None if m is None else torch.from_numpy(m).to(device), targeted=self.targeted,
                    padding=self.padding,
                ).cpu().numpy()
        finally:
            model.train(was_training)
        self.last_smoothness = smoothness(x, x_adv)
        if logger.isEnabledFor(logging.DEBUG):  # callers (evaluate_attacks) report accuracies themselves
            pred = np.argmax(self.estimator.predict(x_adv, batch_size=self.batch_size), axis=1)
            hit = pred == y.argmax(1) if self.targeted else pred != y.argmax(1)
            logger.debug("SAP eps=%g: success rate %.2f%%, smoothness %.3g", self.eps, 100 * hit.mean(),
                         self.last_smoothness)
        return x_adv

    @staticmethod
    def _check_mask(mask, x: np.ndarray) -> np.ndarray | None:
        if mask is None:
            return None
        mask = np.asarray(mask)
        if mask.dtype != bool and not np.issubdtype(mask.dtype, np.floating):
            raise AttackError(f"`mask` must be bool or float, got dtype {mask.dtype}")
        mask = mask.astype(np.float32)
        if mask.ndim == 1 and x.ndim > 1 and mask.shape[0] == x.shape[0] != x.shape[-1]:
            mask = mask.reshape((-1,) + (1,) * (x.ndim - 1))  # one value per beat
        if mask.ndim > x.ndim or mask.min() < 0 or mask.max() > 1:
            raise AttackError(f"`mask` must be broadcastable to `x` {x.shape} with values in [0, 1], got shape "
                              f"{mask.shape} and range [{mask.min()}, {mask.max()}]")
        return mask

    def _check_params(self) -> None:
        if not isinstance(self.eps, Real) or isinstance(self.eps, bool) or not math.isfinite(self.eps) or self.eps <= 0:
            raise ConfigError(f"`eps` must be a positive finite number, got {self.eps!r}")
        if self.eps_step is not None and (not isinstance(self.eps_step, Real) or isinstance(self.eps_step, bool)
                                          or not math.isfinite(self.eps_step) or self.eps_step <= 0):
            raise ConfigError(f"`eps_step` must be a positive number or None, got {self.eps_step!r}")
        if not isinstance(self.pgd_iter, int) or self.pgd_iter < 0:
            raise ConfigError(f"`pgd_iter` must be a non-negative integer, got {self.pgd_iter!r}")
        if self.smooth_iter is not None and (not isinstance(self.smooth_iter, int) or self.smooth_iter < 0):
            raise ConfigError(f"`smooth_iter` must be a non-negative integer or None, got {self.smooth_iter!r}")
        if not self.kernel_sizes or any(not isinstance(k, (int, np.integer)) or k < 1 or k % 2 == 0
                                        for k in self.kernel_sizes):
            raise ConfigError(f"`kernel_sizes` must be a non-empty sequence of odd positive integers, "
                              f"got {self.kernel_sizes!r}")
        if not self.sigmas or any(not isinstance(s, Real) or s <= 0 for s in self.sigmas):
            raise ConfigError(f"`sigmas` must be a non-empty sequence of positive numbers, got {self.sigmas!r}")
        for name in ("fs", "kernel_fs"):
            value = getattr(self, name)
            if not isinstance(value, Real) or value <= 0:
                raise ConfigError(f"`{name}` must be a positive number (Hz), got {value!r}")
        if self.padding not in ("zeros", "replicate"):
            raise ConfigError(f"`padding` must be 'zeros' or 'replicate', got {self.padding!r}")
        if not isinstance(self.targeted, bool):
            raise ConfigError(f"`targeted` must be a bool, got {self.targeted!r}")
        if not isinstance(self.batch_size, int) or self.batch_size < 1:
            raise ConfigError(f"`batch_size` must be a positive integer, got {self.batch_size!r}")
        if not isinstance(self.verbose, bool):
            raise ConfigError(f"`verbose` must be a bool, got {self.verbose!r}")


def make_sap(classifier, *, eps: float, batch_size: int = 256, **kw) -> SmoothAdversarialPerturbation:
    """Registry factory: ``SmoothAdversarialPerturbation(classifier, eps=eps, batch_size=batch_size, **kw)``.

    Examples
    --------
    >>> attack = make_sap(classifier, eps=0.05, pgd_iter=10)  # doctest: +SKIP
    """
    return SmoothAdversarialPerturbation(classifier, eps=eps, batch_size=batch_size, **kw)
