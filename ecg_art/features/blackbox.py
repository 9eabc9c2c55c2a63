"""Gradient-free L-inf attacks on 1D beat classifiers (ART's SquareAttack through a 2D view, clipped HopSkipJump) and
the per-beat worst case over attacks, for adaptive evaluation of models with non-differentiable features."""

from __future__ import annotations

import logging
import math

import numpy as np
import torch
from torch import nn

from ecg_art.exceptions import AttackError, ConfigError
from ecg_art.seeding import numpy_seed

__all__ = ["Windows2D", "SquareAttack1D", "ClippedHopSkipJump", "square_shape"]

logger = logging.getLogger(__name__)


def square_shape(length: int) -> tuple[int, int]:
    """The most square ``(H, W)`` with ``H * W == length`` and ``H <= W``; ``H >= 2`` is required by SquareAttack.

    Examples
    --------
    >>> square_shape(1024), square_shape(256 * 3)
    ((32, 32), (24, 32))
    """
    if not isinstance(length, (int, np.integer)) or length < 4:
        raise ConfigError(f"`length` must be an int >= 4, got {length!r}")
    h = max(d for d in range(1, math.isqrt(int(length)) + 1) if length % d == 0)
    if h < 2:
        raise ConfigError(f"`length`={length} has no factorisation H x W with H >= 2; pass `image_shape`")
    return h, int(length) // h


class Windows2D(nn.Module):
    """View a 1D beat model as an image model: ``(N, 1, H, W) -> model((N, 1, H * W))`` (weights shared, row-major).

    Inputs are also cast to float32 (ART's HopSkipJump queries float64 arrays); ``(N, 1, L)`` passes through.

    Examples
    --------
    >>> net = Windows2D(nn.Sequential(nn.Flatten(), nn.Linear(16, 3)))
    >>> net(torch.zeros(2, 1, 4, 4)).shape
    torch.Size([2, 3])
    """

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x.reshape(x.shape[0], 1, -1).float())


def _project(x: np.ndarray, x_adv: np.ndarray, eps: float, clip_values) -> np.ndarray:
    out = np.clip(x_adv, x - eps, x + eps)
    if clip_values is not None:
        out = np.clip(out, clip_values[0], clip_values[1])
    return out.astype(x.dtype, copy=False)


def _check_common(eps: float, batch_size: int, max_iter: int) -> None:
    if not (isinstance(eps, (int, float)) and math.isfinite(eps) and eps > 0):
        raise ConfigError(f"`eps` must be a finite number > 0, got {eps!r}")
    for name, value in (("batch_size", batch_size), ("max_iter", max_iter)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ConfigError(f"`{name}` must be a positive int, got {value!r}")


def _shadow(classifier, input_shape: tuple[int, ...]):
    """A second ART classifier over the same weights, seeing ``classifier.model`` through :class:`Windows2D`."""
    from ecg_art.estimators.classifier import EcgClassifier

    return EcgClassifier(model=Windows2D(classifier.model), loss=nn.CrossEntropyLoss(), input_shape=input_shape,
                         nb_classes=classifier.nb_classes, clip_values=classifier.clip_values, preprocessing=None,
                         device_type="gpu" if classifier.device.type == "cuda" else "cpu")


def _labels(classifier, x: np.ndarray, y, batch_size: int) -> np.ndarray:
    if y is None:
        return np.argmax(classifier.predict(x, batch_size=batch_size), axis=1)
    y = np.asarray(y)
    return (np.argmax(y, axis=1) if y.ndim == 2 else y).astype(np.int64)


class SquareAttack1D:
    """ART ``SquareAttack`` (L-inf, score-based random search; Andriushchenko et al., arXiv:1912.00049) on 1D beats.

    ART's SquareAttack only takes images ``(N, C, H, W)`` (and needs ``H >= 2``), so the beats ``(N, 1, L)`` are
    viewed row-major as ``(N, 1, H, W)`` (:func:`square_shape`) and the model is wrapped by :class:`Windows2D` in a
    second ART classifier sharing its weights. A square tile of side ``h`` is then ``h`` runs of ``h`` samples spaced
    ``W`` apart; the L-inf ball and the model queried (its deployed forward pass, no gradients) are unchanged. The
    result is projected once more onto the ``eps`` ball and ``clip_values``.

    Parameters
    ----------
    classifier : art.estimators.classification.PyTorchClassifier
        The 1D beat classifier (input ``(N, 1, L)``).
    eps : float
        L-inf budget, in the input's unit.
    max_iter, nb_restarts : int
        Random-search iterations (each one batched query of the still-robust beats) and restarts.
    p_init : float
        Initial fraction of the input changed per square update.
    image_shape : tuple of int, optional
        ``(H, W)`` of the 2D view; :func:`square_shape` of ``L`` when omitted.
    batch_size : int
        Beats per prediction batch.
    seed : int, optional
        Seeds NumPy's global RNG for the attack (restored afterwards).
    verbose : bool
        ART's progress bars.

    Examples
    --------
    >>> from ecg_art.estimators import make_classifier
    >>> from ecg_art.models import BaselineCNN
    >>> clf = make_classifier(BaselineCNN(input_length=64), input_length=64, device="cpu")
    >>> x = np.random.default_rng(0).random((3, 1, 64), dtype=np.float32)
    >>> x_adv = SquareAttack1D(clf, eps=0.05, max_iter=5, seed=0).generate(x)
    >>> x_adv.shape, bool(np.abs(x_adv - x).max() <= 0.05 + 1e-6)
    ((3, 1, 64), True)
    """

    bounded = True

    def __init__(self, classifier, *, eps: float, max_iter: int = 100, p_init: float = 0.1, nb_restarts: int = 1,
                 image_shape: tuple[int, int] | None = None, batch_size: int = 256, seed: int | None = 0,
                 verbose: bool = False) -> None:
        _check_common(eps, batch_size, max_iter)
        if not 0.0 < p_init <= 1.0:
            raise ConfigError(f"`p_init` must be in (0, 1], got {p_init!r}")
        if isinstance(nb_restarts, bool) or not isinstance(nb_restarts, int) or nb_restarts < 1:
            raise ConfigError(f"`nb_restarts` must be a positive int, got {nb_restarts!r}")
        length = int(np.prod(classifier.input_shape))
        shape = square_shape(length) if image_shape is None else tuple(int(v) for v in image_shape)
        if len(shape) != 2 or shape[0] * shape[1] != length or shape[0] < 2:
            raise ConfigError(f"`image_shape` must be (H, W) with H >= 2 and H * W == {length}, got {image_shape!r}")
        self.classifier, self.eps, self.max_iter, self.p_init = classifier, float(eps), max_iter, p_init
        self.nb_restarts, self.image_shape, self.batch_size = nb_restarts, shape, batch_size
        self.seed, self.verbose = seed, verbose

    def generate(self, x: np.ndarray, y: np.ndarray | None = None) -> np.ndarray:
        """Adversarial beats for ``x`` ``(n, 1, L)``; ``y`` are true labels (indices or one-hot), else predictions."""
        from art.attacks.evasion import SquareAttack

        x = np.asarray(x, dtype=np.float32)
        if x.ndim != 3 or x.shape[1] != 1 or x.shape[2] != int(np.prod(self.image_shape)):
            raise AttackError(f"SquareAttack1D: `x` must have shape (n, 1, {np.prod(self.image_shape)}), got {x.shape}")
        labels = _labels(self.classifier, x, y, self.batch_size)
        attack = SquareAttack(_shadow(self.classifier, (1, *self.image_shape)), norm=np.inf, eps=self.eps,
                              max_iter=self.max_iter, p_init=self.p_init, nb_restarts=self.nb_restarts,
                              batch_size=self.batch_size, verbose=self.verbose)
        x_img = x.reshape(len(x), 1, *self.image_shape).copy()
        with numpy_seed(self.seed):
            x_adv = attack.generate(x_img, y=np.eye(self.classifier.nb_classes, dtype=np.float32)[labels])
        return _project(x, x_adv.reshape(x.shape), self.eps, self.classifier.clip_values)


class ClippedHopSkipJump:
    """ART ``HopSkipJump`` (decision-based, ``norm=np.inf``; Chen et al., arXiv:1904.02144) projected onto ``eps``.

    HopSkipJump is a minimum-norm attack that works on ``(N, 1, L)`` input directly; its result is projected onto the
    L-inf ``eps`` ball (and ``clip_values``), so only beats whose decision boundary lies within ``eps`` stay
    adversarial. One beat at a time (slow): use it on small subsets. Untargeted: it moves away from the model's
    prediction (``y`` is ignored; misclassified beats are non-robust anyway).

    Examples
    --------
    >>> from ecg_art.estimators import make_classifier
    >>> from ecg_art.models import BaselineCNN
    >>> clf = make_classifier(BaselineCNN(input_length=64), input_length=64, device="cpu")
    >>> x = np.random.default_rng(0).random((2, 1, 64), dtype=np.float32)
    >>> x_adv = ClippedHopSkipJump(clf, eps=0.05, max_iter=2, max_eval=20, init_eval=5, init_size=20).generate(x)
    >>> bool(np.abs(x_adv - x).max() <= 0.05 + 1e-6)
    True
    """

    bounded = True

    def __init__(self, classifier, *, eps: float, max_iter: int = 10, max_eval: int = 200, init_eval: int = 20,
                 init_size: int = 50, batch_size: int = 256, seed: int | None = 0, verbose: bool = False) -> None:
        _check_common(eps, batch_size, max_iter)
        for name, value in (("max_eval", max_eval), ("init_eval", init_eval), ("init_size", init_size)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"`{name}` must be a positive int, got {value!r}")
        self.classifier, self.eps, self.max_iter, self.max_eval = classifier, float(eps), max_iter, max_eval
        self.init_eval, self.init_size, self.batch_size, self.seed, self.verbose = (init_eval, init_size, batch_size,
                                                                                    seed, verbose)

    def generate(self, x: np.ndarray, y: np.ndarray | None = None) -> np.ndarray:
        """Adversarial beats for ``x`` ``(n, 1, L)`` within ``eps`` (L-inf)."""
        from art.attacks.evasion import HopSkipJump

        x = np.asarray(x, dtype=np.float32)
        attack = HopSkipJump(_shadow(self.classifier, tuple(self.classifier.input_shape)), norm=np.inf,
                             max_iter=self.max_iter, max_eval=self.max_eval, init_eval=self.init_eval,
                             init_size=self.init_size, batch_size=self.batch_size, verbose=self.verbose)
        with numpy_seed(self.seed):
            x_adv = attack.generate(x.copy())
        x_adv = np.where(np.isfinite(x_adv), x_adv, x)  # HSJ leaves failed beats as given
        return _project(x, x_adv, self.eps, self.classifier.clip_values)
