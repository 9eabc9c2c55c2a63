"""Torch views of an ART PyTorchClassifier for attacks and trainers written in torch (SAP, NSR, the adaptive
detector attack, the torchattacks adapter, CW-Linf): its differentiable forward pass, preprocessing included (numpy
preprocessors through ART's own gradient estimate, BPDA), and its loss's label format."""

from __future__ import annotations

import logging
from typing import Any, Callable

import numpy as np
import torch
from art.estimators.classification import PyTorchClassifier
from art.exceptions import EstimatorError
from art.utils import check_and_transform_label_format

__all__ = ["torch_forward", "labels_to_tensor", "preprocess"]

logger = logging.getLogger(__name__)


class _NumpyPreprocessing(torch.autograd.Function):
    """Forward: the estimator's (numpy) preprocessing chain. Backward: ART's estimate of its gradient
    (``estimate_gradient`` of each preprocessor, identity for most: BPDA), as ART's own ``loss_gradient`` does."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, estimator: Any) -> torch.Tensor:
        x_np = x.detach().cpu().numpy().copy()  # a copy: the attack may update x in place before the backward pass
        ctx.estimator, ctx.x_np = estimator, x_np
        # ART exposes no public preprocessing hook; the package's private calls of it all live in this module
        x_pre, _ = estimator._apply_preprocessing(x_np, y=None, fit=False)  # noqa: SLF001
        return torch.from_numpy(np.ascontiguousarray(x_pre)).to(device=x.device, dtype=x.dtype)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        estimator, g_np = ctx.estimator, grad.detach().cpu().numpy()
        g = estimator._apply_preprocessing_gradient(ctx.x_np, g_np, fit=False)  # noqa: SLF001
        return torch.from_numpy(np.ascontiguousarray(g)).to(device=grad.device, dtype=grad.dtype), None


def preprocess(estimator: Any, x: torch.Tensor) -> torch.Tensor:
    """``x`` through the estimator's preprocessing, differentiable: torch preprocessing as it is, numpy preprocessing
    (e.g. ART's ``FeatureSqueezing``) through ART's gradient estimate of it (BPDA, Athalye et al. 2018).

    Examples
    --------
    >>> from art.defences.preprocessor import FeatureSqueezing
    >>> from ecg_art.estimators import make_classifier
    >>> from ecg_art.models import BaselineCNN
    >>> clf = make_classifier(BaselineCNN(input_length=64), input_length=64, device="cpu",
    ...                       preprocessing_defences=[FeatureSqueezing(clip_values=(0.0, 1.0), bit_depth=1)])
    >>> x = torch.tensor([[[0.2, 0.7] * 32]], requires_grad=True)
    >>> y = preprocess(clf, x)
    >>> y[0, 0, :2].tolist(), torch.autograd.grad(y.sum(), x)[0].unique().tolist()
    ([0.0, 1.0], [1.0])
    """
    if not estimator.preprocessing_operations:
        return x
    if estimator.all_framework_preprocessing:
        x_pre, _ = estimator._apply_preprocessing(x, None, fit=False, no_grad=False)  # noqa: SLF001
        return x_pre
    return _NumpyPreprocessing.apply(x, estimator)


def torch_forward(estimator, requester) -> Callable[[torch.Tensor], torch.Tensor]:
    """A differentiable ``x -> logits`` function of a :class:`PyTorchClassifier`, preprocessing included (numpy
    preprocessors through ART's gradient estimate, see :func:`preprocess`).

    Raises ART's ``EstimatorError`` for a non-PyTorch estimator.
    """
    if not isinstance(estimator, PyTorchClassifier):
        raise EstimatorError(requester, [PyTorchClassifier], estimator)
    model = estimator.model
    if not estimator.preprocessing_operations:
        return model
    if not estimator.all_framework_preprocessing:
        logger.debug("%s: numpy preprocessing %s, differentiated with ART's gradient estimate (BPDA)",
                     requester.__name__, [type(p).__name__ for p in estimator.preprocessing_operations])

    def forward(x: torch.Tensor) -> torch.Tensor:
        return model(preprocess(estimator, x))

    return forward


def labels_to_tensor(estimator, y: np.ndarray, device: torch.device) -> torch.Tensor:
    """Integer or one-hot labels -> the tensor the estimator's loss expects (index labels for cross-entropy)."""
    onehot = check_and_transform_label_format(np.asarray(y), nb_classes=estimator.nb_classes)
    return estimator.reduce_labels(torch.from_numpy(onehot.astype(np.float32)).to(device))

