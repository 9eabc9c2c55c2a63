"""Batched torch extractor of 12 physiological features (RR + morphology) from beat context windows."""

from __future__ import annotations

import logging
import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ecg_art.exceptions import ConfigError
from ecg_art.features.config import FeatureConfig, FeatureModeMixin

__all__ = ["FeatureExtractor", "extract_features", "check_windows"]

logger = logging.getLogger(__name__)


def _st(hard: torch.Tensor, soft: torch.Tensor) -> torch.Tensor:
    """Straight-through: the value of ``hard``, the gradient of ``soft``."""
    return hard + (soft - soft.detach())


def _moving_average(x: torch.Tensor, k: int) -> torch.Tensor:
    """Centred moving average over the last axis (odd window, replicate padding) via a cumulative sum: O(L)."""
    k = max(1, k) | 1  # odd so the output stays aligned
    c = F.pad(x, (k // 2 + 1, k // 2), mode="replicate").cumsum(-1)
    return (c[..., k:] - c[..., :-k]) / k


def check_windows(x, *, name: str = "x", finite: bool = True) -> None:
    """Raise :class:`ConfigError` unless ``x`` is a ``(n, 1, L)`` batch (with finite values if ``finite``)."""
    shape = tuple(x.shape)
    if len(shape) != 3 or shape[1] != 1 or shape[0] == 0:
        raise ConfigError(f"`{name}` must have shape (n, 1, L) with n >= 1, got {shape}")
    if finite:
        ok = bool(torch.isfinite(x).all()) if isinstance(x, torch.Tensor) else bool(np.isfinite(x).all())
        if not ok:
            raise ConfigError(f"`{name}` contains NaN or infinite values")


class FeatureExtractor(FeatureModeMixin, nn.Module):
    """Computes the 12 features of the beat at ``r_index`` of each context window, in one vectorised pass.

    Neighbouring R peaks are found on each side of the centre (outside a refractory zone) as the argmax of a
    derivative-envelope score; ``mode`` picks how that argmax and the QRS-width threshold are computed:
    ``"hard"`` (exact argmax / step: the deployed extractor; RR and QRS width then have zero gradient almost
    everywhere), ``"soft"`` (soft-argmax / sigmoid: a differentiable surrogate) or ``"bpda"`` (straight-through:
    forward of ``"hard"``, gradient of ``"soft"``). Amplitudes use max/min/gather and are piecewise linear in all modes.

    Parameters
    ----------
    fs : float
        Sampling rate (Hz).
    r_index : int
        Index of the beat's R peak in the context window.
    mode : {"hard", "soft", "bpda"}
        See above; can be changed later through the ``mode`` attribute.
    config : FeatureConfig, optional
        Analysis windows and temperatures; ``FeatureConfig()`` when omitted.

    Shape
    -----
    input ``(N, 1, L)`` -> features ``(N, 12)`` (same dtype/device), columns in :data:`FEATURE_NAMES` order.

    Examples
    --------
    >>> import neurokit2 as nk
    >>> sig = nk.ecg_simulate(duration=10, sampling_rate=360, heart_rate=60, noise=0, random_state=0)
    >>> r = int(nk.ecg_peaks(sig, sampling_rate=360)[1]["ECG_R_Peaks"][4])
    >>> x = torch.tensor(sig[r - 512:r + 512], dtype=torch.float32).view(1, 1, -1)
    >>> f = FeatureExtractor(fs=360, r_index=512)(x)
    >>> f.shape, round(float(f[0, 0]), 1)  # rr_pre ~ 1 s at 60 bpm
    (torch.Size([1, 12]), 1.0)
    """

    def __init__(self, *, fs: float = 360.0, r_index: int = 512, mode: str = "hard",
                 config: FeatureConfig | None = None) -> None:
        super().__init__()
        if not (isinstance(fs, (int, float)) and math.isfinite(fs) and fs > 0):
            raise ConfigError(f"`fs` must be a positive number, got {fs!r}")
        if not isinstance(r_index, int) or isinstance(r_index, bool) or r_index < 0:
            raise ConfigError(f"`r_index` must be a non-negative int, got {r_index!r}")
        self.fs = float(fs)
        self.r_index = r_index
        self.config = config if config is not None else FeatureConfig()
        self.mode = mode
        c, s = self.config, self._n
        self._back = max(s(c.refractory_s) + 1, s(c.q_window_s), s(-c.p_window_s[0]), s(c.qrs_half_s))
        self._fwd = max(s(c.refractory_s) + 2, s(c.s_window_s), s(c.t_window_s[1]), s(c.qrs_half_s)) + 1

    def _n(self, seconds: float) -> int:
        return int(round(seconds * self.fs))

    def _select(self, score: torch.Tensor, soft_needed: bool) -> torch.Tensor:
        """Selection weights (N, T) over positions: one-hot argmax, softmax, or straight-through of both."""
        hard = F.one_hot(score.argmax(dim=-1), score.shape[-1]).to(score.dtype)
        if not soft_needed:  # "hard", or "bpda" without a gradient of x (FeatureModeMixin.soft_needed)
            return hard
        soft = torch.softmax(score / self.config.soft_temperature, dim=-1)
        return soft if self.mode == "soft" else _st(hard, soft)

    def _first_crossing(self, rel: torch.Tensor, soft_needed: bool) -> torch.Tensor:
        """Weights (N, T) on the first position where ``rel`` exceeds the peak threshold (soft: survival weights)."""
        thr = self.config.peak_threshold
        hard = F.one_hot((rel > thr).to(torch.uint8).argmax(dim=-1), rel.shape[-1]).to(rel.dtype)
        if not soft_needed:
            return hard
        p = torch.sigmoid((rel - thr) / self.config.soft_crossing_temperature)
        log_none_before = torch.cumsum(torch.log1p(-p.clamp_max(1 - 1e-6)), -1) - torch.log1p(-p.clamp_max(1 - 1e-6))
        soft = p * log_none_before.exp()
        soft = soft / (soft.sum(-1, keepdim=True) + self.config.eps)
        return soft if self.mode == "soft" else _st(hard, soft)

    def _refine(self, w: torch.Tensor, a: torch.Tensor, t: torch.Tensor, *, outward: float,
                soft_needed: bool) -> torch.Tensor:
        """Re-select the largest ``a`` near the position chosen by ``w`` (weights over ``t``), mostly outwards."""
        c = self.config
        u = outward * (t - (w * t).sum(-1, keepdim=True))  # displacement away from the centre
        outside = ((u - self._n(c.refine_s)).clamp_min(0) + (-u - self._n(c.refine_inward_s)).clamp_min(0)) / self.fs
        if self.mode == "hard":
            score = (a / (a.amax(-1, keepdim=True) + c.eps)).masked_fill(outside > 0, -math.inf)
        else:
            score = a / (a.amax(-1, keepdim=True) + c.eps) - c.refine_penalty * outside
        return self._select(score, soft_needed)

    def _count_above(self, v: torch.Tensor, thr: torch.Tensor, soft_needed: bool) -> torch.Tensor:
        hard = (v > thr).to(v.dtype).sum(-1)
        if not soft_needed:
            return hard
        soft = torch.sigmoid((v - thr) / self.config.soft_threshold_temperature).sum(-1)
        return soft if self.mode == "soft" else _st(hard, soft)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_windows(x, finite=False)
        n_len, r, c, s = x.shape[-1], self.r_index, self.config, self._n
        if r - self._back < 0 or r + self._fwd > n_len:
            raise ConfigError(
                f"`r_index`={r} leaves too little context in windows of length {n_len}: need {self._back} samples "
                f"before and {self._fwd} after"
            )
        soft = self.soft_needed(x)
        sig = x[:, 0]
        base = sig.median(dim=-1, keepdim=True).values  # isoelectric level of the context window
        y = sig - base
        t = torch.arange(n_len, device=x.device, dtype=x.dtype)

        # --- neighbouring R peaks: RMS of the derivative, normalised per side, nearest threshold crossing, refined
        d = F.pad(x, (1, 1), mode="replicate")
        d = (d[..., 2:] - d[..., :-2])  # central difference, (N, 1, L)
        env = _moving_average(d * d, s(c.envelope_s)).clamp_min(0).add(c.eps).sqrt()[:, 0]
        ref = s(c.refractory_s)
        left, right = env[:, : r - ref], env[:, r + ref + 1:]
        a = y.abs()
        w_l = self._first_crossing((left / left.amax(-1, keepdim=True)).flip(-1), soft).flip(-1)
        w_r = self._first_crossing(right / right.amax(-1, keepdim=True), soft)
        w_l = self._refine(w_l, a[:, : r - ref], t[: r - ref], outward=-1.0, soft_needed=soft)
        w_r = self._refine(w_r, a[:, r + ref + 1:], t[r + ref + 1:], outward=1.0, soft_needed=soft)
        pos_l = (w_l * t[: r - ref]).sum(-1)
        pos_r = (w_r * t[r + ref + 1:]).sum(-1)
        rr_pre = (r - pos_l) / self.fs
        rr_post = (pos_r - r) / self.fs
        rr_ratio = rr_pre / (rr_post + c.eps)
        rr_local = 0.5 * (rr_pre + rr_post)

        # --- morphology of the centre beat (fixed windows around r)
        h = s(c.qrs_half_s)
        qrs = y[:, r - h: r + h + 1]
        r_amp = qrs.amax(-1)
        q_amp = y[:, r - s(c.q_window_s): r + 1].amin(-1)
        s_amp = y[:, r: r + s(c.s_window_s) + 1].amin(-1)
        p_amp = y[:, r + s(c.p_window_s[0]): r + s(c.p_window_s[1]) + 1].amax(-1)
        tw = y[:, r + s(c.t_window_s[0]): r + s(c.t_window_s[1]) + 1]
        t_amp = (self._select(tw.abs() / (tw.abs().amax(-1, keepdim=True) + c.eps), soft) * tw).sum(-1)
        qrs_energy = (qrs * qrs).mean(-1)

        wh = s(c.width_half_s)
        wenv = _moving_average(d.abs(), s(c.width_envelope_s))[:, 0, r - wh: r + wh + 1]
        rel = wenv / (wenv.amax(-1, keepdim=True) + c.eps)
        qrs_width = self._count_above(rel, torch.as_tensor(c.width_threshold, dtype=x.dtype), soft) / self.fs

        # --- main QRS deflection |x - baseline| of the centre beat relative to the neighbours' (found above)
        amp_nb = 0.5 * ((w_l * a[:, : r - ref]).sum(-1) + (w_r * a[:, r + ref + 1:]).sum(-1))
        qrs_amp_ratio = qrs.abs().amax(-1) / (amp_nb + c.eps)

        return torch.stack([rr_pre, rr_post, rr_ratio, rr_local, r_amp, q_amp, s_amp, p_amp, t_amp,
                            qrs_width, qrs_energy, qrs_amp_ratio], dim=-1)

    def extra_repr(self) -> str:
        return f"fs={self.fs:g}, r_index={self.r_index}, mode={self.mode!r}"


def extract_features(x, *, fs: float = 360.0, r_index: int = 512, mode: str = "hard",
                     config: FeatureConfig | None = None, batch_size: int = 4096,
                     device: str | torch.device | None = None) -> np.ndarray:
    """Features of a batch of context windows as a float32 ``(n, 12)`` array (no gradient; batched).

    Parameters
    ----------
    x : array-like or torch.Tensor
        Context windows ``(n, 1, L)``, R peak of each beat at ``r_index``.
    fs, r_index, mode, config
        As in :class:`FeatureExtractor`.
    batch_size : int
        Windows per forward pass.
    device : str or torch.device, optional
        Where to compute (default: the device of ``x`` if a tensor, else CPU).

    Examples
    --------
    >>> import neurokit2 as nk
    >>> sig = nk.ecg_simulate(duration=10, sampling_rate=360, heart_rate=90, random_state=1)
    >>> x = np.stack([sig[r - 512:r + 512] for r in (1500, 2000)])[:, None].astype("float32")
    >>> extract_features(x).shape
    (2, 12)
    """
    if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
        raise ConfigError(f"`batch_size` must be a positive int, got {batch_size!r}")
    if not isinstance(x, torch.Tensor):
        x = torch.as_tensor(np.asarray(x, dtype=np.float32))
    check_windows(x)
    dev = torch.device(device) if device is not None else x.device
    ext = FeatureExtractor(fs=fs, r_index=r_index, mode=mode, config=config).to(dev)
    out = []
    with torch.no_grad():
        for i in range(0, x.shape[0], batch_size):
            out.append(ext(x[i: i + batch_size].to(dev, torch.float32)).cpu())
    return torch.cat(out).numpy().astype(np.float32, copy=False)
