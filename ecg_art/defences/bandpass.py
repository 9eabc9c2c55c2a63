"""An ECG-specific ART preprocessing defence: a zero-phase Butterworth band-pass filter with a BPDA gradient."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import torch
from art.defences.preprocessor.preprocessor import PreprocessorPyTorch
from scipy.signal import butter, sosfiltfilt

from ecg_art.exceptions import ConfigError

__all__ = ["BandpassFilter", "bandpass_beats"]

logger = logging.getLogger(__name__)


def bandpass_beats(x: np.ndarray, *, fs: float = 360.0, low_hz: float = 0.5, high_hz: float = 40.0, order: int = 2,
                   keep_mean: bool = True, padtype: str = "even") -> np.ndarray:
    """Zero-phase (``sosfiltfilt``) Butterworth band-pass of beats along their last axis.

    Parameters
    ----------
    x : numpy.ndarray
        Beats ``(n, 1, L)`` (any shape whose last axis is time).
    fs : float
        Sampling rate in Hz (MIT-BIH: 360).
    low_hz, high_hz : float
        Pass band in Hz, ``0 < low_hz < high_hz < fs / 2``.
    order : int
        Butterworth order of each of the low/high edges (the filter is applied forwards and backwards).
    keep_mean : bool
        Add each beat's mean back after filtering: the high-pass edge would otherwise remove the DC level that
        min-max normalised beats (and models trained on them) carry.
    padtype : {"even", "odd", "constant"}
        Extension of each beat (by ``L - 1`` samples on each side) before filtering. A beat lasts well under the
        0.5 Hz edge's impulse response; the mirror (``"even"``) extension keeps the edge transients smallest.

    Returns
    -------
    numpy.ndarray
        Filtered beats, float32, same shape as ``x``.

    Examples
    --------
    >>> t = np.arange(256) / 360.0
    >>> x = (0.5 + 0.2 * np.sin(2 * np.pi * 5 * t) + 0.1 * np.sin(2 * np.pi * 120 * t))[None, None, :]
    >>> y = bandpass_beats(x)
    >>> bool(np.abs(np.fft.rfft(y[0, 0])[85]) < 0.1 * np.abs(np.fft.rfft(x[0, 0])[85]))  # 120 Hz bin damped
    True
    """
    sos = _design(fs=fs, low_hz=low_hz, high_hz=high_hz, order=order)
    if padtype not in ("even", "odd", "constant"):
        raise ConfigError(f"`padtype` must be 'even', 'odd' or 'constant', got {padtype!r}")
    x = np.asarray(x, dtype=np.float64)
    if x.shape[-1] < 8:
        raise ConfigError(f"beats of {x.shape[-1]} samples are too short to filter (need >= 8)")
    out = sosfiltfilt(sos, x, axis=-1, padtype=padtype, padlen=x.shape[-1] - 1)
    if keep_mean:
        out += x.mean(axis=-1, keepdims=True) - out.mean(axis=-1, keepdims=True)
    return out.astype(np.float32)


def _design(*, fs: float, low_hz: float, high_hz: float, order: int) -> np.ndarray:
    if not (isinstance(fs, (int, float)) and np.isfinite(fs) and fs > 0):
        raise ConfigError(f"`fs` must be a positive number of Hz, got {fs!r}")
    if not (isinstance(low_hz, (int, float)) and isinstance(high_hz, (int, float)) and 0 < low_hz < high_hz < fs / 2):
        raise ConfigError(f"`low_hz` and `high_hz` must satisfy 0 < low_hz < high_hz < fs/2 = {fs / 2:g}, "
                          f"got low_hz={low_hz!r}, high_hz={high_hz!r}")
    if isinstance(order, bool) or not isinstance(order, int) or order < 1:
        raise ConfigError(f"`order` must be a positive int, got {order!r}")
    return butter(order, [low_hz, high_hz], btype="bandpass", fs=fs, output="sos")


class BandpassFilter(PreprocessorPyTorch):
    """ART preprocessing defence: band-pass every beat (default 0.5-40 Hz, the diagnostic ECG band) before the model.

    The filter runs in numpy/scipy (``sosfiltfilt``) and is not differentiable. Gradients are estimated with
    **BPDA** (Athalye et al., arXiv:1802.00420): the backward pass treats the filter as the identity
    (straight-through), both in :meth:`estimate_gradient` (numpy) and in :meth:`forward` (torch: the output is
    ``x + (filter(x) - x).detach()``). Every ART, torchattacks and ecg_art attack that differentiates through the
    classifier's preprocessing is therefore *adaptive* to the filter. Evaluating this defence with gradients that stop
    at the filter (zero gradient) or with attacks computed on the bare model and then filtered would fake robustness
    (gradient masking): always report it against BPDA attacks.

    Parameters
    ----------
    fs : float
        Sampling rate in Hz.
    low_hz, high_hz : float
        Pass band in Hz.
    order : int
        Butterworth order.
    keep_mean : bool
        Restore each beat's mean after filtering (see :func:`bandpass_beats`).
    clip_values : tuple of float, optional
        Clip the filtered beats to ``(lo, hi)`` (e.g. the classifier's ``(0, 1)``).
    apply_fit, apply_predict : bool
        Whether ART applies the filter when training / predicting.
    device_type : {"cpu", "gpu"}
        Device of the returned tensors.

    Examples
    --------
    >>> from ecg_art.models import BaselineCNN
    >>> from ecg_art.estimators import make_classifier
    >>> clf = make_classifier(BaselineCNN(), device="cpu", preprocessing_defences=[BandpassFilter(device_type="cpu")])
    >>> clf.predict(np.full((2, 1, 256), 0.5, dtype=np.float32)).shape
    (2, 5)
    """

    params = ["fs", "low_hz", "high_hz", "order", "keep_mean", "clip_values"]

    def __init__(self, *, fs: float = 360.0, low_hz: float = 0.5, high_hz: float = 40.0, order: int = 2,
                 keep_mean: bool = True, clip_values: tuple[float, float] | None = None, apply_fit: bool = True,
                 apply_predict: bool = True, device_type: str = "gpu") -> None:
        super().__init__(device_type=device_type, is_fitted=True, apply_fit=apply_fit, apply_predict=apply_predict)
        self.fs, self.low_hz, self.high_hz, self.order = fs, low_hz, high_hz, order
        self.keep_mean, self.clip_values = bool(keep_mean), clip_values
        self._check_params()

    def _check_params(self) -> None:
        _design(fs=self.fs, low_hz=self.low_hz, high_hz=self.high_hz, order=self.order)
        if self.clip_values is not None:
            lo, hi = (float(v) for v in self.clip_values)
            if not lo < hi:
                raise ConfigError(f"`clip_values` must be (lo, hi) with lo < hi, got {self.clip_values!r}")

    def __repr__(self) -> str:
        return (f"BandpassFilter(fs={self.fs}, low_hz={self.low_hz}, high_hz={self.high_hz}, order={self.order}, "
                f"keep_mean={self.keep_mean}, clip_values={self.clip_values})")

    def _filter(self, x: np.ndarray) -> np.ndarray:
        out = bandpass_beats(x, fs=self.fs, low_hz=self.low_hz, high_hz=self.high_hz, order=self.order,
                             keep_mean=self.keep_mean)
        if self.clip_values is not None:
            np.clip(out, self.clip_values[0], self.clip_values[1], out=out)
        return out

    def forward(self, x: torch.Tensor, y: Any | None = None) -> tuple[torch.Tensor, Any | None]:
        """Filtered beats with a straight-through (identity) gradient."""
        filtered = torch.from_numpy(self._filter(x.detach().cpu().numpy())).to(device=x.device, dtype=x.dtype)
        return x + (filtered - x).detach(), y

    def estimate_forward(self, x: torch.Tensor, y: Any | None = None) -> torch.Tensor:
        """BPDA: the identity stands in for the filter in the backward pass."""
        return x

    def estimate_gradient(self, x: np.ndarray, grad: np.ndarray) -> np.ndarray:
        """BPDA: the filter's Jacobian is taken to be the identity, so the gradient passes unchanged."""
        return grad
