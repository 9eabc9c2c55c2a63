"""Detector networks (clean = 0 / adversarial = 1) wrapped as ART classifiers, and ART detectors built on them."""

from __future__ import annotations

import logging

import numpy as np
import torch
from art.defences.detector.evasion import BinaryActivationDetector, BinaryInputDetector
from art.estimators.classification import PyTorchClassifier
from art.exceptions import EstimatorError
from torch import nn

from ecg_art.estimators.classifier import resolve_device
from ecg_art.exceptions import ConfigError

__all__ = ["DetectorCNN", "DetectorMLP", "make_detector_classifier", "make_input_detector",
           "make_activation_detector"]

logger = logging.getLogger(__name__)


def _positive_ints(name: str, values) -> tuple[int, ...]:
    values = tuple(values)
    if not values or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in values):
        raise ConfigError(f"`{name}` must be a non-empty sequence of positive ints, got {values!r}")
    return values


class DetectorCNN(nn.Module):
    """A small binary 1D-CNN on raw beats: is this beat adversarial?

    Blocks ``Conv1d -> BatchNorm1d -> ReLU`` (max-pooled from block ``pool_from`` on, so the first blocks see the
    beat at full rate, where small high-frequency perturbations live), then global average *and* max pooling (a
    perturbation may be local) and a linear layer to 2 logits (clean, adversarial).

    Parameters
    ----------
    channels : tuple of int
        Output channels of each conv block.
    kernel_sizes : tuple of int
        Kernel size of each block ("same" padding), one per entry of ``channels``.
    pool_from : int
        Index of the first block followed by ``MaxPool1d(2)``.

    Shape
    -----
    input ``(N, 1, L)`` float32 -> logits ``(N, 2)``.

    Examples
    --------
    >>> DetectorCNN()(torch.zeros(3, 1, 256)).shape
    torch.Size([3, 2])
    """

    def __init__(self, *, channels: tuple[int, ...] = (16, 32, 32, 64), kernel_sizes: tuple[int, ...] = (5, 5, 5, 3),
                 pool_from: int = 1) -> None:
        super().__init__()
        channels, kernel_sizes = _positive_ints("channels", channels), _positive_ints("kernel_sizes", kernel_sizes)
        if len(channels) != len(kernel_sizes):
            raise ConfigError(f"`kernel_sizes` must have one entry per block ({len(channels)}), got {kernel_sizes!r}")
        layers: list[nn.Module] = []
        c_in = 1
        for i, (c_out, k) in enumerate(zip(channels, kernel_sizes)):
            layers += [nn.Conv1d(c_in, c_out, k, padding=k // 2), nn.BatchNorm1d(c_out), nn.ReLU()]
            if i >= pool_from:
                layers.append(nn.MaxPool1d(2, ceil_mode=True))
            c_in = c_out
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(2 * c_in, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 3 or x.shape[1] != 1:
            raise ConfigError(f"DetectorCNN expects input of shape (N, 1, L), got {tuple(x.shape)}")
        h = self.features(x)
        return self.head(torch.cat([h.mean(dim=-1), h.amax(dim=-1)], dim=1))


class DetectorMLP(nn.Module):
    """A binary MLP on a classifier's (flattened) activations, for :func:`make_activation_detector`.

    Examples
    --------
    >>> DetectorMLP(in_features=64)(torch.zeros(2, 64, 1)).shape
    torch.Size([2, 2])
    """

    def __init__(self, *, in_features: int, hidden: int = 64) -> None:
        super().__init__()
        _positive_ints("in_features", (in_features,))
        _positive_ints("hidden", (hidden,))
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(in_features, hidden), nn.ReLU(), nn.Linear(hidden, 2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def make_detector_classifier(model: nn.Module | None = None, *, input_shape: tuple[int, ...] | None = None,
                             input_length: int = 256, clip_values: tuple[float, float] | None = (0.0, 1.0),
                             lr: float = 1e-3, weight_decay: float = 0.0, device: str = "auto") -> PyTorchClassifier:
    """A binary ART ``PyTorchClassifier`` (``nb_classes=2``: clean = 0, adversarial = 1) around ``model``.

    Parameters
    ----------
    model : torch.nn.Module, optional
        Network mapping inputs to 2 logits; ``None`` builds a :class:`DetectorCNN`.
    input_shape : tuple of int, optional
        ART input shape without the batch axis; ``None`` -> ``(1, input_length)`` (a beat).
    input_length : int
        Samples per beat, used when ``input_shape`` is None.
    clip_values : tuple of float or None
        Valid input range (beats: ``(0, 1)``); use None for activations.
    lr, weight_decay : float
        Adam learning rate and L2 weight decay.
    device : {"auto", "cpu", "cuda", "gpu"}
        Where the detector runs.

    Examples
    --------
    >>> det = make_detector_classifier(input_length=64, device="cpu")
    >>> det.nb_classes, det.predict(np.zeros((2, 1, 64), dtype=np.float32)).shape
    (2, (2, 2))
    """
    if input_shape is None:
        _positive_ints("input_length", (input_length,))
        input_shape = (1, input_length)
    if not (isinstance(lr, (int, float)) and np.isfinite(lr) and lr > 0):
        raise ConfigError(f"`lr` must be a positive finite number, got {lr!r}")
    if not (isinstance(weight_decay, (int, float)) and weight_decay >= 0):
        raise ConfigError(f"`weight_decay` must be a number >= 0, got {weight_decay!r}")
    model = DetectorCNN() if model is None else model
    if not isinstance(model, nn.Module):
        raise EstimatorError(PyTorchClassifier, [nn.Module], model)
    device_type = resolve_device(device)
    model = model.to(torch.device("cuda:0" if device_type == "gpu" else "cpu"))
    return PyTorchClassifier(
        model=model, loss=nn.CrossEntropyLoss(), input_shape=tuple(input_shape), nb_classes=2,
        optimizer=torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay),
        clip_values=clip_values, device_type=device_type,
    )


def make_input_detector(model: nn.Module | None = None, *, input_length: int = 256,
                        clip_values: tuple[float, float] | None = (0.0, 1.0), lr: float = 1e-3,
                        weight_decay: float = 0.0, device: str = "auto") -> BinaryInputDetector:
    """ART ``BinaryInputDetector`` on raw beats, with a :class:`DetectorCNN` (or ``model``) as its classifier.

    Examples
    --------
    >>> det = make_input_detector(input_length=64, device="cpu")
    >>> report, flags = det.detect(np.zeros((2, 1, 64), dtype=np.float32))
    >>> report["predictions"].shape, flags.dtype
    ((2, 2), dtype('bool'))
    """
    return BinaryInputDetector(make_detector_classifier(
        model, input_length=input_length, clip_values=clip_values, lr=lr, weight_decay=weight_decay, device=device))


def make_activation_detector(classifier: PyTorchClassifier, *, layer: int | str, hidden: int = 64,
                             lr: float = 1e-3, weight_decay: float = 0.0, device: str = "auto",
                             batch_size: int = 256) -> BinaryActivationDetector:
    """ART ``BinaryActivationDetector``: a :class:`DetectorMLP` on ``classifier``'s activations at ``layer``.

    ``layer`` is an index into or a name of ``classifier.layer_names`` (e.g. ``"features"`` of a BaselineCNN).

    Examples
    --------
    >>> clf = make_detector_classifier(input_length=64, device="cpu")  # any PyTorchClassifier
    >>> det = make_activation_detector(clf, layer="features", device="cpu")
    >>> det.detect(np.zeros((2, 1, 64), dtype=np.float32))[0]["predictions"].shape
    (2, 2)
    """
    if not isinstance(classifier, PyTorchClassifier):
        raise EstimatorError(BinaryActivationDetector, [PyTorchClassifier], classifier)
    names = classifier.layer_names or []
    if not (layer in names or (isinstance(layer, int) and 0 <= layer < len(names))):
        raise ConfigError(f"`layer` must be one of {names} or an index into them, got {layer!r}")
    probe = np.zeros((2, *classifier.input_shape), dtype=np.float32)
    act = np.asarray(classifier.get_activations(probe, layer, batch_size=batch_size))
    shape = tuple(int(s) for s in act.shape[1:])
    detector = make_detector_classifier(DetectorMLP(in_features=int(np.prod(shape)), hidden=hidden),
                                        input_shape=shape, clip_values=None, lr=lr, weight_decay=weight_decay,
                                        device=device)
    logger.debug("activation detector on layer %r, activation shape %s", layer, shape)
    return BinaryActivationDetector(classifier, detector, layer)
