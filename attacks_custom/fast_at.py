"""Fast adversarial training: FGSM with random start (Wong et al. 2020) / N-FGSM (de Jorge et al. 2022) as an ART
``EvasionAttack``, and a catastrophic-overfitting guard around any ART ``Trainer``."""

from __future__ import annotations

import copy
import logging
from dataclasses import asdict, dataclass, field
from numbers import Real
from typing import Callable

import numpy as np
import torch
from art.attacks.attack import EvasionAttack
from art.defences.trainer.trainer import Trainer
from art.estimators.classification.classifier import ClassifierMixin
from art.estimators.estimator import BaseEstimator, LossGradientsMixin
from art.utils import check_and_transform_label_format

from ecg_art.estimators import labels_to_tensor, torch_forward
from ecg_art.exceptions import AttackError, ConfigError
from ecg_art.training.fit import quiet_bars

__all__ = ["FAST_METHODS", "fast_gradient_perturb", "FastGradientRS", "GuardHistory", "CatastrophicOverfittingGuard"]

logger = logging.getLogger(__name__)

#: Paper settings per method, as multiples of eps: (step, noise, project onto the eps-ball).
FAST_METHODS: dict[str, tuple[float, float, bool]] = {"fgsm-rs": (1.25, 1.0, True), "n-fgsm": (1.0, 2.0, False)}


def fast_gradient_perturb(
    model: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    eps: float,
    step: float,
    noise: float,
    project: bool,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    clip_values: tuple[float, float] | None,
) -> torch.Tensor:
    """One signed-gradient step from a uniform random start (pure torch).

    ``delta ~ U(-noise, noise)``; ``delta += step * sign(grad_delta loss(x + delta))``; with ``project`` delta is
    clamped to ``[-eps, eps]`` (FGSM-RS), without it the perturbation may reach ``noise + step`` (N-FGSM); the result
    is clipped to ``clip_values``. The model's mode is left as it is; only the input gradient is computed.

    Examples
    --------
    >>> net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 2))
    >>> x, y = torch.rand(4, 1, 64), torch.tensor([0, 1, 0, 1])
    >>> x_adv = fast_gradient_perturb(net, x, y, eps=0.05, step=0.0625, noise=0.05, project=True,
    ...                               loss_fn=torch.nn.functional.cross_entropy, clip_values=(0.0, 1.0))
    >>> bool((x_adv - x).abs().max() <= 0.05 + 1e-6)
    True
    """
    x = x.detach()
    delta = (torch.rand_like(x) * 2 - 1) * noise
    if clip_values is not None:  # start inside the valid range, so the gradient is taken where the model is queried
        delta = (x + delta).clamp(clip_values[0], clip_values[1]) - x
    delta.requires_grad_(True)
    grad = torch.autograd.grad(loss_fn(model(x + delta), y), delta)[0]
    delta = delta.detach() + step * grad.sign()
    if project:
        delta = delta.clamp(-eps, eps)
    x_adv = x + delta
    return x_adv if clip_values is None else x_adv.clamp(clip_values[0], clip_values[1])


class FastGradientRS(EvasionAttack):
    """FGSM with a random start (``method="fgsm-rs"``) or N-FGSM (``"n-fgsm"``), the attacks of fast adversarial
    training, batched in torch (one numpy conversion per batch).

    | Paper (FGSM-RS): E. Wong, L. Rice and J. Z. Kolter, "Fast is better than free: revisiting adversarial training",
      ICLR 2020, https://arxiv.org/abs/2001.03994 (step 1.25 eps, start U(-eps, eps), projected)
    | Paper (N-FGSM): P. de Jorge et al., "Make some noise: reliable and efficient single-step adversarial training",
      NeurIPS 2022, https://arxiv.org/abs/2202.01181 (noise 2 eps, step eps, no projection)

    Parameters
    ----------
    estimator : art.estimators.classification.PyTorchClassifier
        Classifier whose loss is ascended (eval mode during generation).
    eps : float
        Training budget (Linf, in the beat unit); with ``fgsm-rs`` the bound of every perturbation.
    method : {"fgsm-rs", "n-fgsm"}
        Picks the paper's step, noise and projection (:data:`FAST_METHODS`).
    step, noise : float, optional
        Override the method's step size / half-width of the uniform start (beat unit).
    batch_size : int
        Beats per torch batch.

    Examples
    --------
    >>> attack = FastGradientRS(classifier, eps=0.05)                      # doctest: +SKIP
    >>> trainer = AdversarialTrainer(classifier, attacks=attack, ratio=0.5)  # doctest: +SKIP
    """

    attack_params = EvasionAttack.attack_params + ["eps", "method", "step", "noise", "batch_size"]
    _estimator_requirements = (BaseEstimator, LossGradientsMixin, ClassifierMixin)

    def __init__(self, estimator, *, eps: float = 0.05, method: str = "fgsm-rs", step: float | None = None,
                 noise: float | None = None, batch_size: int = 256) -> None:
        super().__init__(estimator=estimator)
        self._forward = torch_forward(estimator, type(self))
        self.eps, self.method, self.step, self.noise, self.batch_size = eps, method, step, noise, batch_size
        self._check_params()

    def _check_params(self) -> None:
        if self.method not in FAST_METHODS:
            raise ConfigError(f"`method` must be one of {sorted(FAST_METHODS)}, got {self.method!r}")
        for name in ("eps", "step", "noise"):  # noise 0: plain FGSM from the clean beat
            value = getattr(self, name)
            if (value is not None or name == "eps") and (not isinstance(value, Real) or isinstance(value, bool)
                                                         or value < 0 or (value == 0 and name != "noise")):
                raise ConfigError(f"`{name}` must be a {'non-negative' if name == 'noise' else 'positive'} number, "
                                  f"got {value!r}")
        if isinstance(self.batch_size, bool) or not isinstance(self.batch_size, int) or self.batch_size < 1:
            raise ConfigError(f"`batch_size` must be a positive integer, got {self.batch_size!r}")

    @property
    def settings(self) -> tuple[float, float, bool]:
        """``(step, noise, project)`` in the beat unit."""
        k_step, k_noise, project = FAST_METHODS[self.method]
        step = k_step * self.eps if self.step is None else self.step
        noise = k_noise * self.eps if self.noise is None else self.noise
        return float(step), float(noise), project

    def generate(self, x: np.ndarray, y: np.ndarray | None = None, **kwargs) -> np.ndarray:
        """Adversarial beats of ``x`` (float32, same shape); ``y`` integer or one-hot labels, None: predictions."""
        x = np.asarray(x)
        if x.dtype.kind not in "fiu" or not np.all(np.isfinite(x)):
            raise AttackError(f"`x` must hold finite numbers (no NaN/inf), got dtype {x.dtype}")
        if y is None:
            y = np.argmax(self.estimator.predict(x, batch_size=self.batch_size), axis=1)
        y = check_and_transform_label_format(np.asarray(y), nb_classes=self.estimator.nb_classes)
        step, noise, project = self.settings
        device, model = self.estimator.device, self.estimator.model
        was_training = model.training
        model.eval()
        x_adv = np.empty_like(x, dtype=np.float32)
        try:
            for start in range(0, len(x), self.batch_size):
                stop = start + self.batch_size
                x_adv[start:stop] = fast_gradient_perturb(
                    self._forward, torch.from_numpy(x[start:stop].astype(np.float32)).to(device),
                    labels_to_tensor(self.estimator, y[start:stop], device), eps=self.eps, step=step, noise=noise,
                    project=project, loss_fn=self.estimator.loss, clip_values=self.estimator.clip_values,
                ).cpu().numpy()
        finally:
            model.train(was_training)
        return x_adv


@dataclass
class GuardHistory:
    """Per ``fit`` call: robust accuracy on the guard's beats, and the call at which a collapse was rolled back."""

    robust_acc: list[float] = field(default_factory=list)
    collapsed_at: int | None = None

    def to_dict(self) -> dict:
        return asdict(self)


class CatastrophicOverfittingGuard(Trainer):
    """Wraps an ART trainer; after every ``fit`` call scores ``attack`` (e.g. PGD) on a small validation set and, when
    robust accuracy falls more than ``max_drop`` below its best (catastrophic overfitting, Wong et al. 2020), restores
    the weights and optimizer state from before that call and stops: later ``fit`` calls do nothing.

    :func:`ecg_art.training.fit_classifier` calls ``fit`` once per epoch, so the guard checks every epoch and a
    collapsed epoch never reaches model selection (its early stopping then ends the run).

    Parameters
    ----------
    trainer : art.defences.trainer.Trainer
        The trainer guarded (``AdversarialTrainer`` with :class:`FastGradientRS`, ``NSRTrainer``, ...).
    x_val, y_val : np.ndarray
        Validation beats and integer or one-hot labels the guard attacks (a few hundred suffice).
    attack : art.attacks.EvasionAttack
        Attack on the trainer's classifier that measures robustness (multi-step: a collapsed model still resists FGSM).
    max_drop : float
        Largest tolerated fall of robust accuracy below its best, in (0, 1].

    Examples
    --------
    >>> pgd = ProjectedGradientDescent(classifier, eps=0.05, eps_step=0.0125, max_iter=10)       # doctest: +SKIP
    >>> guard = CatastrophicOverfittingGuard(trainer, x_val=x_val, y_val=y_val, attack=pgd)  # doctest: +SKIP
    """

    def __init__(self, trainer: Trainer, *, x_val: np.ndarray, y_val: np.ndarray, attack: EvasionAttack,
                 max_drop: float = 0.1) -> None:
        if not isinstance(trainer, Trainer):
            raise ConfigError(f"`trainer` must be an ART Trainer, got {type(trainer).__name__}")
        super().__init__(trainer.get_classifier())
        self.trainer, self.attack, self.max_drop = trainer, attack, max_drop
        self.x_val = np.asarray(x_val, dtype=np.float32)
        self.y_val = np.asarray(y_val)
        self.history = GuardHistory()
        self.stopped = False
        self._check_params()

    def _check_params(self) -> None:
        if not isinstance(self.attack, EvasionAttack):
            raise ConfigError(f"`attack` must be an ART EvasionAttack, got {type(self.attack).__name__}")
        if not isinstance(self.max_drop, Real) or isinstance(self.max_drop, bool) or not 0 < self.max_drop <= 1:
            raise ConfigError(f"`max_drop` must be in (0, 1], got {self.max_drop!r}")
        if len(self.x_val) == 0 or len(self.x_val) != len(self.y_val):
            raise ConfigError(f"`x_val` and `y_val` must be non-empty and of one length, got {len(self.x_val)} "
                              f"and {len(self.y_val)}")

    def robust_accuracy(self) -> float:
        """Accuracy of the classifier (eval mode) on ``attack``'s examples of the guard's beats."""
        clf = self._classifier
        y = check_and_transform_label_format(self.y_val, nb_classes=clf.nb_classes).argmax(1)
        clf.model.eval()
        x_adv = self.attack.generate(self.x_val, y=y)
        return float((clf.predict(x_adv, batch_size=1024).argmax(1) == y).mean())

    def fit(self, x: np.ndarray, y: np.ndarray, **kwargs) -> None:
        """One guarded ``trainer.fit(x, y, **kwargs)``; a no-op once a collapse has been rolled back."""
        if self.stopped:
            logger.debug("guard: training stopped after the collapse at call %d", self.history.collapsed_at)
            return
        clf = self._classifier
        before = copy.deepcopy({"model": clf.model.state_dict(), "optimizer": clf.optimizer.state_dict()})
        with quiet_bars(self.trainer):  # the wrapped trainer's own bars (ART's): fit_classifier draws one per run
            self.trainer.fit(x, y, **kwargs)
        acc = self.robust_accuracy()
        best = max(self.history.robust_acc, default=acc)
        self.history.robust_acc.append(acc)
        logger.debug("guard: robust accuracy %.3f on %d validation beats (best %.3f)", acc, len(self.y_val), best)
        if acc < best - self.max_drop:
            self.stopped, self.history.collapsed_at = True, len(self.history.robust_acc) - 1
            clf.model.load_state_dict(before["model"])
            clf.optimizer.load_state_dict(before["optimizer"])
            logger.warning("catastrophic overfitting: robust accuracy on the guard's beats fell from %.3f to %.3f; "
                           "weights rolled back, training stopped", best, acc)
        clf.model.eval()

    def get_classifier(self):
        return self._classifier
