"""Torch views of an ART PyTorchClassifier for attacks and trainers written in torch (SAP, NSR, the adaptive
detector attack): its differentiable forward pass (torch preprocessing included) and its loss's label format."""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch
from art.estimators.classification import PyTorchClassifier
from art.exceptions import EstimatorError
from art.utils import check_and_transform_label_format

from ecg_art.exceptions import AttackError

__all__ = ["torch_forward", "labels_to_tensor"]


def torch_forward(estimator, requester) -> Callable[[torch.Tensor], torch.Tensor]:
    """A differentiable ``x -> logits`` function of a :class:`PyTorchClassifier`, preprocessing included.

    Raises ART's ``EstimatorError`` for a non-PyTorch estimator and :class:`AttackError` when the estimator has
    preprocessing that is not written in torch (its gradient would need numpy round trips every step).
    """
    if not isinstance(estimator, PyTorchClassifier):
        raise EstimatorError(requester, [PyTorchClassifier], estimator)
    model = estimator.model
    if not estimator.preprocessing_operations:
        return model
    if not estimator.all_framework_preprocessing:
        raise AttackError(
            f"{requester.__name__} needs torch preprocessing only; the estimator has "
            f"{[type(p).__name__ for p in estimator.preprocessing_operations]}"
        )

    def forward(x: torch.Tensor) -> torch.Tensor:
        # ART exposes no public differentiable preprocessing hook; this is the one private call of the package.
        x_pre, _ = estimator._apply_preprocessing(x, None, fit=False, no_grad=False)  # noqa: SLF001
        return model(x_pre)

    return forward


def labels_to_tensor(estimator, y: np.ndarray, device: torch.device) -> torch.Tensor:
    """Integer or one-hot labels -> the tensor the estimator's loss expects (index labels for cross-entropy)."""
    onehot = check_and_transform_label_format(np.asarray(y), nb_classes=estimator.nb_classes)
    return estimator.reduce_labels(torch.from_numpy(onehot.astype(np.float32)).to(device))

