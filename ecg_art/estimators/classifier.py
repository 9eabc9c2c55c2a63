"""ART ``PyTorchClassifier`` factory for beat models, with a lean subclass that computes input gradients only."""

from __future__ import annotations

import logging
from typing import Sequence

import numpy as np
import torch
from art.estimators.classification import PyTorchClassifier
from art.exceptions import EstimatorError
from torch import nn

from ecg_art.estimators.checks import check_beats
from ecg_art.exceptions import ConfigError

__all__ = ["EcgClassifier", "make_classifier", "predict_labels", "to_one_hot", "resolve_device"]

logger = logging.getLogger(__name__)


class EcgClassifier(PyTorchClassifier):
    """``PyTorchClassifier`` whose ``loss_gradient`` and ``predict`` skip work an attack never uses.

    Same results as the stock class (tested to float tolerance), but per call:

    * gradients are taken with ``torch.autograd.grad`` w.r.t. the input only, so the backward pass skips the
      weight gradients that ``loss.backward()`` would compute and ART would then throw away (the main cost);
    * numpy inputs are wrapped with ``torch.from_numpy`` (no copy on CPU) and labels may be integer indices
      (shape ``(n,)``) as well as one-hot / probability rows;
    * ``predict`` slices the array instead of building a ``DataLoader`` and runs under ``torch.inference_mode``.

    Recurrent models, AMP and non-PyTorch preprocessing fall back to the stock implementation.
    """

    def _fast_path(self) -> bool:
        return self.all_framework_preprocessing and not self.is_rnn and not self._use_amp

    def _apply_preprocessing(self, x, y, fit: bool = False, **kwargs):
        """ART's preprocessing chain, with float32 beats kept float32: NumPy 2 makes some numpy preprocessors
        (e.g. ``FeatureSqueezing``) return float64, which a float32 model then refuses."""
        x_pre, y_pre = super()._apply_preprocessing(x, y, fit=fit, **kwargs)
        if isinstance(x_pre, np.ndarray) and x_pre.dtype == np.float64 and getattr(x, "dtype", None) == np.float32:
            x_pre = x_pre.astype(np.float32)
        return x_pre, y_pre

    def loss_gradient(self, x, y, training_mode: bool = False, **kwargs):
        """Gradient of the loss w.r.t. ``x`` (numpy in -> numpy out, tensor in -> tensor out)."""
        if not self._fast_path():
            if isinstance(y, np.ndarray) and y.ndim == 1:  # ART's stock path wants one-hot labels
                y = to_one_hot(y, nb_classes=self.nb_classes)
            return super().loss_gradient(x, y, training_mode=training_mode, **kwargs)
        self._model.train(mode=training_mode)
        if isinstance(x, torch.Tensor):
            x_grad = x.detach().to(self._device).requires_grad_(True)
        else:
            x_grad = torch.from_numpy(np.ascontiguousarray(x)).to(self._device).requires_grad_(True)
        y_t = y if isinstance(y, torch.Tensor) else torch.from_numpy(np.asarray(y))
        y_t = y_t.to(self._device)
        inputs_t, y_pre = self._apply_preprocessing(x_grad, y=y_t, fit=False, no_grad=False)
        labels_t = y_pre.long() if y_pre.ndim == 1 else self.reduce_labels(y_pre)
        loss = self._loss(self._model(inputs_t)[-1], labels_t)
        (grads,) = torch.autograd.grad(loss, x_grad)
        if not isinstance(x, torch.Tensor):
            grads = grads.cpu().numpy()
        assert grads.shape == x.shape
        return grads

    def predict(self, x: np.ndarray, batch_size: int = 128, training_mode: bool = False, **kwargs) -> np.ndarray:
        """Logits of ``x`` of shape ``(n, nb_classes)``, float32, computed ``batch_size`` beats at a time."""
        if not self._fast_path():
            return super().predict(x, batch_size=batch_size, training_mode=training_mode, **kwargs)
        self._model.train(mode=training_mode)
        x_pre, _ = self._apply_preprocessing(x, y=None, fit=False)
        x_t = torch.from_numpy(np.ascontiguousarray(x_pre))
        outputs = []
        with torch.inference_mode():
            for start in range(0, len(x_t), batch_size):
                out = self._model(x_t[start:start + batch_size].to(self._device))[-1]
                out = out.detach().cpu().numpy().astype(np.float32)
                outputs.append(out[:, None] if out.ndim == 1 else out)
        results = np.vstack(outputs) if outputs else np.zeros((0, self.nb_classes), dtype=np.float32)
        return self._apply_postprocessing(preds=results, fit=False)


def resolve_device(device: str = "auto") -> str:
    """ART ``device_type`` for ``device``: ``"auto"`` -> ``"gpu"`` when CUDA is available else ``"cpu"``.

    Examples
    --------
    >>> resolve_device("cpu")
    'cpu'
    """
    key = str(device).lower()
    if key == "auto":
        return "gpu" if torch.cuda.is_available() else "cpu"
    if key in ("gpu", "cuda"):
        if not torch.cuda.is_available():
            raise ConfigError(f"`device` is {device!r} but CUDA is not available")
        return "gpu"
    if key == "cpu":
        return "cpu"
    raise ConfigError(f"`device` must be 'auto', 'cpu', 'cuda' or 'gpu', got {device!r}")


def make_classifier(
    model: nn.Module,
    *,
    input_length: int = 256,
    nb_classes: int = 5,
    clip_values: tuple[float, float] | None = (0.0, 1.0),
    class_weights: Sequence[float] | np.ndarray | None = None,
    lr: float = 1e-3,
    optimizer: torch.optim.Optimizer | None = None,
    device: str = "auto",
    preprocessing_defences=None,
    postprocessing_defences=None,
) -> EcgClassifier:
    """Wrap ``model`` (beats ``(N, 1, input_length)`` -> logits ``(N, nb_classes)``) as an ART classifier.

    Parameters
    ----------
    model : torch.nn.Module
        The network; moved to the chosen device.
    input_length : int
        Samples per beat; ART's ``input_shape`` is ``(1, input_length)``.
    nb_classes : int
        Number of classes; must equal the model's output width (checked on a dummy input).
    clip_values : tuple of float or None
        ``(lo, hi)`` range of valid beat values, used by attacks to clip.
    class_weights : sequence of float, optional
        Per-class weights of the cross-entropy loss (length ``nb_classes``).
    lr : float
        Learning rate of the Adam optimiser built when ``optimizer`` is None.
    optimizer : torch.optim.Optimizer, optional
        Use this optimiser instead of Adam.
    device : {"auto", "cpu", "cuda", "gpu"}
        Where the model runs; ``"auto"`` picks CUDA when available.
    preprocessing_defences, postprocessing_defences : optional
        Passed to ART unchanged.

    Returns
    -------
    EcgClassifier
        A ``PyTorchClassifier`` (see :class:`EcgClassifier`) with ``CrossEntropyLoss``.

    Examples
    --------
    >>> from ecg_art.models import BaselineCNN
    >>> clf = make_classifier(BaselineCNN(input_length=128), input_length=128, device="cpu")
    >>> clf.predict(np.zeros((3, 1, 128), dtype=np.float32)).shape
    (3, 5)
    """
    if not isinstance(model, nn.Module):
        raise EstimatorError(PyTorchClassifier, [nn.Module], model)
    if not _is_int(input_length) or input_length < 1:
        raise ConfigError(f"`input_length` must be a positive int, got {input_length!r}")
    if not _is_int(nb_classes) or nb_classes < 2:
        raise ConfigError(f"`nb_classes` must be an int >= 2, got {nb_classes!r}")
    input_length, nb_classes = int(input_length), int(nb_classes)
    if isinstance(lr, bool) or not (isinstance(lr, (int, float, np.number)) and np.isfinite(lr) and lr > 0):
        raise ConfigError(f"`lr` must be a positive finite number, got {lr!r}")
    if clip_values is not None:
        try:
            if isinstance(clip_values, (str, bytes)):
                raise TypeError("a string is not a pair of numbers")
            lo, hi = (float(v) for v in clip_values)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"`clip_values` must be a pair of numbers (lo, hi), got {clip_values!r}") from exc
        if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
            raise ConfigError(f"`clip_values` must be finite (lo, hi) with lo < hi, got {clip_values!r}")
        clip_values = (lo, hi)
    weight = None
    if class_weights is not None:
        w = np.asarray(class_weights, dtype=np.float32).ravel()
        if w.shape != (nb_classes,) or not np.all(np.isfinite(w)) or np.any(w < 0):
            raise ConfigError(
                f"`class_weights` must be {nb_classes} finite non-negative numbers, got {class_weights!r}"
            )
        weight = torch.from_numpy(w)
    device_type = resolve_device(device)
    torch_device = torch.device("cuda:0" if device_type == "gpu" else "cpu")
    model = model.to(torch_device)
    _check_output_width(model, input_length=input_length, nb_classes=nb_classes, device=torch_device)
    loss = nn.CrossEntropyLoss(weight=None if weight is None else weight.to(torch_device))
    if optimizer is None:
        optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    classifier = EcgClassifier(
        model=model,
        loss=loss,
        input_shape=(1, input_length),
        nb_classes=nb_classes,
        optimizer=optimizer,
        clip_values=clip_values,
        preprocessing=None,  # identity standardisation would only add a tensor op per call
        preprocessing_defences=preprocessing_defences,
        postprocessing_defences=postprocessing_defences,
        device_type=device_type,
    )
    logger.debug("wrapped %s as %s on %s", type(model).__name__, type(classifier).__name__, torch_device)
    return classifier


def _is_int(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _check_output_width(model: nn.Module, *, input_length: int, nb_classes: int, device: torch.device) -> None:
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            out = model(torch.zeros(2, 1, input_length, device=device))
    except Exception as exc:  # a model that cannot take (N, 1, L) beats at all
        raise ConfigError(
            f"model {type(model).__name__} failed on a dummy input of shape (2, 1, {input_length}) "
            f"(`input_length`={input_length}): {exc}"
        ) from exc
    finally:
        model.train(was_training)
    if out.ndim != 2 or out.shape[1] != nb_classes:
        raise ConfigError(
            f"model {type(model).__name__} outputs shape {tuple(out.shape)} but `nb_classes`={nb_classes}: "
            f"expected logits of shape (N, {nb_classes})"
        )


def to_one_hot(y, *, nb_classes: int = 5) -> np.ndarray:
    """Integer labels ``(n,)`` -> float32 one-hot ``(n, nb_classes)``; one-hot input is returned as float32.

    Examples
    --------
    >>> to_one_hot([0, 2], nb_classes=3)
    array([[1., 0., 0.],
           [0., 0., 1.]], dtype=float32)
    """
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == nb_classes:
        return y.astype(np.float32)
    if y.ndim != 1 or (y.size and (y.min() < 0 or y.max() >= nb_classes)):
        raise ConfigError(f"`y` must be integer labels in [0, {nb_classes}) of shape (n,), got shape {y.shape}")
    if y.size and not np.all(np.equal(np.mod(y, 1), 0)):
        raise ConfigError("`y` must hold integer class indices")
    out = np.zeros((y.shape[0], nb_classes), dtype=np.float32)
    out[np.arange(y.shape[0]), y.astype(np.int64)] = 1.0
    return out


def predict_labels(classifier: PyTorchClassifier, x: np.ndarray, *, batch_size: int = 1024) -> np.ndarray:
    """Predicted class indices (int64, shape ``(n,)``) of ``classifier`` on beats ``x``.

    ``x`` must fit ``classifier.input_shape`` and be finite (else :class:`ConfigError` naming ``x``).

    Examples
    --------
    >>> from ecg_art.models import BaselineCNN
    >>> clf = make_classifier(BaselineCNN(), device="cpu")
    >>> predict_labels(clf, np.zeros((4, 1, 256), dtype=np.float32)).shape
    (4,)
    """
    if not _is_int(batch_size) or batch_size < 1:
        raise ConfigError(f"`batch_size` must be a positive int, got {batch_size!r}")
    x, _ = check_beats(x, classifier=classifier)
    x = np.asarray(x, dtype=np.float32)
    return np.argmax(classifier.predict(x, batch_size=batch_size), axis=1).astype(np.int64)
