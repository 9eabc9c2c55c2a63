"""MART, misclassification-aware adversarial training (Wang et al., ICLR 2020), as an ART ``Trainer``."""

from __future__ import annotations

import logging
from numbers import Real

import numpy as np
import torch
import torch.nn.functional as F
from art.attacks.attack import EvasionAttack
from art.defences.trainer.trainer import Trainer
from art.utils import check_and_transform_label_format

from ecg_art.estimators import labels_to_tensor, torch_forward
from ecg_art.exceptions import ConfigError

__all__ = ["mart_loss", "MARTTrainer"]

logger = logging.getLogger(__name__)


def mart_loss(logits: torch.Tensor, logits_adv: torch.Tensor, y: torch.Tensor, *, beta: float,
              ce: torch.Tensor | None = None, tiny: float = 1e-12) -> torch.Tensor:
    """MART objective: boosted cross-entropy on the adversarial beats + ``beta`` x KL(clean || adversarial) weighted by
    ``1 - p_y(clean)`` (misclassified beats count more).

    Boosted CE = ``CE(adv, y) - log(1 - max_{k != y} p_k(adv))``; ``ce`` replaces its first term (e.g. a
    class-weighted cross-entropy). ``tiny`` keeps the logarithms finite.

    Examples
    --------
    >>> z, z_adv, y = torch.tensor([[2.0, 0.0]]), torch.tensor([[0.5, 0.4]]), torch.tensor([0])
    >>> bool(mart_loss(z, z_adv, y, beta=6.0) > mart_loss(z, z, y, beta=6.0))
    True
    """
    p_adv, p = F.softmax(logits_adv, dim=1), F.softmax(logits, dim=1)
    others = p_adv.scatter(1, y[:, None], 0.0)  # the true class masked out
    ce = F.cross_entropy(logits_adv, y) if ce is None else ce
    boosted = ce - torch.log(1.0 - others.max(dim=1).values + tiny).mean()
    kl = (p * (torch.log(p + tiny) - torch.log(p_adv + tiny))).sum(dim=1)
    true_p = p.gather(1, y[:, None]).squeeze(1)
    return boosted + beta * (kl * (1.0 - true_p)).mean()


class MARTTrainer(Trainer):
    """Train a PyTorchClassifier in place with the MART objective on ``attack``'s adversarial examples.

    | Paper: Y. Wang, D. Zou, J. Yi, J. Bailey, X. Ma and Q. Gu, "Improving adversarial robustness requires revisiting
      misclassified examples", ICLR 2020, https://openreview.net/forum?id=rklOg6EFwS (``beta`` 5-6; PGD-10 inside)

    Every beat of a batch is attacked (model in eval mode), then one step on :func:`mart_loss` with the estimator's own
    loss (e.g. class-weighted cross-entropy) as the adversarial cross-entropy. ``fit`` runs whole epochs; with
    :func:`ecg_art.training.fit_classifier` one per call.

    Parameters
    ----------
    classifier : art.estimators.classification.PyTorchClassifier
        Classifier with an optimizer; trained in place.
    attack : art.attacks.EvasionAttack
        Makes the adversarial beats (ART's PGD, or :class:`attacks_custom.fast_at.FastGradientRS` for a CPU budget).
    beta : float
        Weight of the misclassification-aware KL term.

    Examples
    --------
    >>> trainer = MARTTrainer(classifier, attack=pgd, beta=6.0)   # doctest: +SKIP
    >>> trainer.fit(x_train, y_train, nb_epochs=1, batch_size=256)  # doctest: +SKIP
    """

    def __init__(self, classifier, *, attack: EvasionAttack, beta: float = 6.0) -> None:
        super().__init__(classifier)
        self._forward = torch_forward(classifier, type(self))
        self.attack, self.beta = attack, beta
        self.loss_history: list[float] = []
        self._check_params()

    def _check_params(self) -> None:
        if not isinstance(self.attack, EvasionAttack):
            raise ConfigError(f"`attack` must be an ART EvasionAttack, got {type(self.attack).__name__}")
        if not isinstance(self.beta, Real) or isinstance(self.beta, bool) or self.beta < 0:
            raise ConfigError(f"`beta` must be a non-negative number, got {self.beta!r}")
        if self._classifier.optimizer is None:
            raise ConfigError("`classifier` has no optimizer; build it with one to train")

    def fit(self, x: np.ndarray, y: np.ndarray, *, nb_epochs: int = 1, batch_size: int = 128, **kwargs) -> None:
        """Train for ``nb_epochs`` epochs (integer or one-hot labels, NumPy's global RNG shuffles);
        per-epoch mean objective in ``loss_history``."""
        if kwargs:
            raise ConfigError(f"unknown fit arguments: {sorted(kwargs)}")
        for name, value in (("nb_epochs", nb_epochs), ("batch_size", batch_size)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"`{name}` must be a positive integer, got {value!r}")
        x = np.asarray(x, dtype=np.float32)
        y = check_and_transform_label_format(np.asarray(y), nb_classes=self._classifier.nb_classes)
        for epoch in range(nb_epochs):
            order, total = np.random.permutation(len(x)), 0.0
            for b in range(0, len(x), batch_size):
                idx = order[b : b + batch_size]
                total += self._batch_process(x[idx], y[idx]) * len(idx)
            self.loss_history.append(total / len(x))
            logger.debug("MART epoch %d: loss %.4f", epoch, self.loss_history[-1])
        self._classifier.model.eval()

    def _batch_process(self, x_batch: np.ndarray, y_batch: np.ndarray) -> float:
        """One optimisation step on a batch (one-hot labels); returns the objective."""
        clf, model = self._classifier, self._classifier.model
        model.eval()
        x_adv = self.attack.generate(x_batch, y=y_batch)
        device = clf.device
        x_t, x_adv_t = torch.from_numpy(x_batch).to(device), torch.from_numpy(np.asarray(x_adv, np.float32)).to(device)
        y_idx = torch.from_numpy(y_batch.argmax(1)).to(device)
        model.train()
        clf.optimizer.zero_grad()
        logits_adv = self._forward(x_adv_t)
        loss = mart_loss(self._forward(x_t), logits_adv, y_idx, beta=self.beta,
                         ce=clf.loss(logits_adv, labels_to_tensor(clf, y_batch, device)))
        loss.backward()
        clf.optimizer.step()
        return loss.item()
