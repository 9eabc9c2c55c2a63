"""Batched torch R-peak detector (Pan-Tompkins-like, robust by construction) and its QRS-detector scoring.

Band-limit (averaged to 90 Hz, band-pass 5-15 Hz) before any derivative, RMS of the derivative over 150 ms, local maxima outside a refractory
period, a threshold relative to the context's own QRS level: an eps-bounded sign pattern has too little in-band slope
to create a QRS or to erase one. ``mode`` switches the non-differentiable steps between the deployed ``"hard"``
detector, a ``"soft"`` surrogate and straight-through ``"bpda"``, as :class:`ecg_art.features.FeatureExtractor`.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ecg_art.exceptions import ConfigError
from ecg_art.features.config import FeatureModeMixin

__all__ = ["RPeakConfig", "RPeakDetector", "detect_rpeaks", "match_peaks", "PeakScores", "record_chunks"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RPeakConfig:
    """Every number of the R-peak detector (seconds, Hz, fractions).

    Attributes
    ----------
    detect_hz : float
        The signal is averaged down to about this rate before detection (a low-pass; the QRS band is 5-15 Hz).
    band_hz : tuple of float
        Pass band before the derivative, made of moving averages as Pan & Tompkins (1985) made theirs of integer
        filters: low-pass = two moving averages whose -3 dB point is ``band_hz[1]``, high-pass = minus a moving
        average whose -3 dB point is ``band_hz[0]``.
    integration_s : float
        Moving-RMS window of the band-passed derivative (150 ms, Pan-Tompkins' integration window).
    refractory_s : float
        A candidate is the largest envelope value within ``± refractory_s`` (no two QRS closer than that).
    threshold : float
        A candidate is a QRS when its envelope exceeds ``threshold`` x the context's QRS level.
    ref_rank : int
        The QRS level is the ``ref_rank``-th largest candidate envelope in the context (robust to
        ``ref_rank - 1`` artefacts larger than every QRS).
    refine_s : float
        The R peak is the largest ``|band-passed signal|`` within ``± refine_s`` of the envelope maximum.
    twave_s, twave_ratio : float
        T-wave discrimination (Pan & Tompkins): a candidate within ``twave_s`` after a larger one must exceed
        ``twave_ratio`` x that one's envelope, or it is taken for the T wave of that beat. 0 disables it.
    soft_temperature : float
        Temperature of the soft threshold (fraction of the QRS level) and of the soft position refinement.
    """

    detect_hz: float = 90.0
    band_hz: tuple[float, float] = (5.0, 15.0)
    integration_s: float = 0.15
    refractory_s: float = 0.25
    threshold: float = 0.25
    ref_rank: int = 3
    refine_s: float = 0.05
    twave_s: float = 0.45
    twave_ratio: float = 0.5
    soft_temperature: float = 0.05

    def __post_init__(self) -> None:
        lo, hi = self.band_hz
        if not 0 < lo < hi:
            raise ConfigError(f"RPeakConfig `band_hz` must be (low, high) with 0 < low < high, got {self.band_hz!r}")
        for name in ("detect_hz", "integration_s", "refractory_s", "refine_s", "soft_temperature"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"RPeakConfig `{name}` must be positive, got {getattr(self, name)!r}")
        if not 0 < self.threshold < 1:
            raise ConfigError(f"RPeakConfig `threshold` must be in (0, 1), got {self.threshold!r}")
        if not isinstance(self.ref_rank, int) or self.ref_rank < 1:
            raise ConfigError(f"RPeakConfig `ref_rank` must be a positive int, got {self.ref_rank!r}")


def _st(hard: torch.Tensor, soft: torch.Tensor) -> torch.Tensor:
    return hard + (soft - soft.detach())


def _ma(x: torch.Tensor, k: int) -> torch.Tensor:
    """Centred moving average over the last axis (odd ``k``, replicate padding) via a cumulative sum: O(L)."""
    if k <= 1:
        return x
    c = F.pad(x, (k // 2 + 1, k // 2), mode="replicate").cumsum(-1)
    return (c[..., k:] - c[..., :-k]) / k


class RPeakDetector(FeatureModeMixin, nn.Module):
    """R peaks of a batch of signals ``(N, 1, L)``, as a mask and as positions, on the input's time axis.

    :meth:`forward` returns ``(peaks, pos)``, both ``(N, L // q)`` on the detection grid (``q`` = the averaging
    factor, ``fs / detect_hz`` rounded; :attr:`decimation`): ``peaks`` is 1 at each detected QRS (``"soft"``: a
    sigmoid of the envelope's margin over the threshold at every candidate, 0 elsewhere; ``"bpda"``: the hard mask
    with the soft mask's gradient); ``pos`` is each grid point's R position in input samples (``"hard"``: the
    largest ``|band-passed signal|`` near it; ``"soft"``/``"bpda"``: the same with a soft-argmax gradient).
    Scale-invariant: thresholds are fractions of the context's own QRS level.

    Parameters
    ----------
    fs : float
        Sampling rate in Hz.
    mode : {"hard", "soft", "bpda"}
        See above; switchable later through ``mode``.
    config : RPeakConfig, optional

    Examples
    --------
    >>> import neurokit2 as nk
    >>> sig = nk.ecg_simulate(duration=10, sampling_rate=360, heart_rate=70, noise=0, random_state=0)
    >>> peaks, pos = RPeakDetector(fs=360)(torch.tensor(sig, dtype=torch.float32).view(1, 1, -1))
    >>> 10 <= int(peaks.sum()) <= 12
    True
    """

    def __init__(self, *, fs: float = 360.0, mode: str = "hard", config: RPeakConfig | None = None) -> None:
        super().__init__()
        if not (isinstance(fs, (int, float)) and math.isfinite(fs) and fs > 0):
            raise ConfigError(f"`fs` must be a positive number, got {fs!r}")
        self.fs = float(fs)
        self.config = config if config is not None else RPeakConfig()
        self.mode = mode
        c = self.config
        self.decimation = max(1, int(round(fs / c.detect_hz)))
        fd = fs / self.decimation

        def odd(v: float) -> int:
            return max(1, int(round(v))) | 1

        self._lp = odd(0.443 * fd / c.band_hz[1])  # a k-sample moving average is -3 dB at ~0.443 fs / k
        self._hp = odd(0.443 * fd / c.band_hz[0])
        self._integ = odd(c.integration_s * fd)
        self._refr = max(1, int(round(c.refractory_s * fd)))
        self._refine = max(1, int(round(c.refine_s * fd)))
        self._twave = int(round(c.twave_s * fd)) if c.twave_ratio > 0 else 0

    def envelope(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(band-passed signal, RMS envelope of its derivative)`` on the detection grid, both ``(N, L // q)``."""
        q = self.decimation
        xd = F.avg_pool1d(x, q, stride=q) if q > 1 else x
        lp = _ma(_ma(xd, self._lp), self._lp)
        b = lp - _ma(lp, self._hp)
        d = F.pad(b, (1, 1), mode="replicate")
        d = 0.5 * (d[..., 2:] - d[..., :-2])
        env = _ma(d * d, self._integ).clamp_min(0).add(1e-12).sqrt()
        return b[:, 0], env[:, 0]

    def refractory_max(self, v: torch.Tensor) -> torch.Tensor:
        """Largest value of ``v`` (N, L') within ± the refractory period of each grid point."""
        r = self._refr
        return F.max_pool1d(v[:, None], 2 * r + 1, stride=1, padding=r)[:, 0]

    def threshold_margin(self, env: torch.Tensor, cand: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(vals, margin)``: the envelope at the candidates (0 elsewhere) and ``env / QRS level - threshold``, the
        QRS level being the ``ref_rank``-th largest candidate (differentiable through ``topk``)."""
        vals = torch.where(cand, env, torch.zeros_like(env))
        top = vals.topk(min(self.config.ref_rank, env.shape[-1]), dim=-1).values
        ref = torch.where(top[:, -1:] > 0, top[:, -1:], top[:, :1]).clamp_min(1e-12)
        return vals, env / ref - self.config.threshold

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if x.ndim != 3 or x.shape[1] != 1:
            raise ConfigError(f"RPeakDetector expects input of shape (N, 1, L), got {tuple(x.shape)}")
        c, q = self.config, self.decimation
        b, env = self.envelope(x)
        n_len = env.shape[-1]
        r = self._refr
        left = F.pad(env, (1, 0), value=-1.0)[:, :-1]
        cand = (env >= self.refractory_max(env)) & (env > left)  # strictly rising into the maximum: one per plateau
        vals, margin = self.threshold_margin(env, cand)
        if self._twave > r:  # the largest candidate in [t - twave, t - refractory]: is t that beat's T wave?
            k = self._twave - r
            before = F.max_pool1d(F.pad(vals[:, None], (self._twave, 0)), k + 1, stride=1)[:, 0, :n_len]
            t_margin = torch.where(before > 0, env / before.clamp_min(1e-12) - c.twave_ratio,
                                   torch.ones_like(env))
        else:
            t_margin = torch.ones_like(env)
        hard = (cand & (margin > 0) & (t_margin > 0)).to(x.dtype)
        a = b.abs()
        w = self._refine
        idx = F.max_pool1d(a[:, None], 2 * w + 1, stride=1, padding=w, return_indices=True)[1][:, 0].to(x.dtype)
        to_input = q * idx + 0.5 * (q - 1)  # grid index -> input sample (centre of the averaged block)
        if not self.soft_needed(x):  # "hard", or "bpda" where no gradient of x is taken
            return hard, to_input
        soft = cand.to(x.dtype) * torch.sigmoid(margin / c.soft_temperature) * torch.sigmoid(
            t_margin / c.soft_temperature)
        windows = F.pad(a, (w, w), mode="replicate").unfold(-1, 2 * w + 1, 1)  # (N, L', 2w+1)
        scale = a.amax(-1, keepdim=True).clamp_min(1e-12)[..., None]
        weights = torch.softmax(windows / (scale * c.soft_temperature), dim=-1)
        offs = torch.arange(-w, w + 1, dtype=x.dtype, device=x.device)
        t = torch.arange(n_len, dtype=x.dtype, device=x.device)
        pos_soft = q * (t + (weights * offs).sum(-1)) + 0.5 * (q - 1)
        if self.mode == "soft":
            return soft, pos_soft
        return _st(hard, soft), _st(to_input, pos_soft)

    def extra_repr(self) -> str:
        return f"fs={self.fs:g}, decimation={self.decimation}, mode={self.mode!r}"


def record_chunks(sig: np.ndarray, *, decimation: int, fs: float, chunk_s: float, margin_s: float):
    """``(x, starts, core, margin)``: the record cut into ``(n, 1, core + 2 margin)`` float32 chunks whose cores
    (``chunk_s`` seconds, whole detection-grid steps) tile it from sample ``starts[i]``, with ``margin_s`` seconds of
    context on each side (edge-padded)."""
    q = decimation
    core, m = q * int(round(chunk_s * fs / q)), q * int(round(margin_s * fs / q))  # whole grid steps
    n_chunks = max(1, math.ceil(sig.size / core))
    padded = np.pad(np.asarray(sig, dtype=np.float32), (m, n_chunks * core - sig.size + m), mode="edge")
    starts = np.arange(n_chunks) * core
    return torch.as_tensor(padded[starts[:, None] + np.arange(core + 2 * m)][:, None]), starts, core, m


def detect_rpeaks(signal, *, fs: float = 360.0, config: RPeakConfig | None = None, chunk_s: float = 12.0,
                  margin_s: float = 2.0, device: str | torch.device | None = None) -> np.ndarray:
    """R-peak sample indices of a whole recording, detected as deployed: on ``chunk_s``-second contexts.

    The record is cut into chunks of ``chunk_s`` seconds plus ``margin_s`` on each side (the context a beat's
    rhythm features see); each chunk's detections in its core are kept, so every peak is decided within a context
    of the length the models use. Hard mode, no gradient.

    Examples
    --------
    >>> import neurokit2 as nk
    >>> sig = nk.ecg_simulate(duration=60, sampling_rate=360, heart_rate=60, noise=0, random_state=0)
    >>> 58 <= len(detect_rpeaks(sig, fs=360)) <= 61
    True
    """
    sig = np.asarray(signal, dtype=np.float32).ravel()
    if sig.size == 0 or not np.isfinite(sig).all():
        raise ConfigError("`signal` must be a non-empty 1D array of finite values")
    if not chunk_s > 0 or not margin_s >= 0:
        raise ConfigError(f"`chunk_s` must be > 0 and `margin_s` >= 0, got {chunk_s!r}, {margin_s!r}")
    det = RPeakDetector(fs=fs, config=config)
    q = det.decimation
    x, starts, core, m = record_chunks(sig, decimation=q, fs=fs, chunk_s=chunk_s, margin_s=margin_s)
    if device is not None:
        det, x = det.to(device), x.to(device)
    with torch.no_grad():
        peaks, pos = det(x)
    lo, hi = m // q, (m + core) // q  # the chunk's core on the detection grid
    peaks, pos = peaks.cpu().numpy()[:, lo:hi] > 0.5, pos.cpu().numpy()[:, lo:hi]
    out = (pos + starts[:, None] - m)[peaks].round().astype(np.int64)  # positions in record samples
    out = np.unique(out[(out >= 0) & (out < sig.size)])
    if out.size > 1:  # a QRS straddling a chunk border can be found by both chunks: keep one
        refr = int(round((config or RPeakConfig()).refractory_s * fs))
        out = out[np.concatenate([[True], np.diff(out) > refr // 2])]
    return out


@dataclass(frozen=True)
class PeakScores:
    """QRS-detector scores against reference annotations (ANSI/AAMI EC57 beat-by-beat matching)."""

    tp: int
    fp: int
    fn: int

    @property
    def sensitivity(self) -> float:
        return self.tp / max(self.tp + self.fn, 1)

    @property
    def ppv(self) -> float:
        return self.tp / max(self.tp + self.fp, 1)

    def __add__(self, other: "PeakScores") -> "PeakScores":
        return PeakScores(self.tp + other.tp, self.fp + other.fp, self.fn + other.fn)

    def to_dict(self) -> dict[str, float]:
        return {"tp": self.tp, "fp": self.fp, "fn": self.fn, "sensitivity": self.sensitivity, "ppv": self.ppv}


def match_peaks(detected, reference, *, tolerance: int) -> PeakScores:
    """Match detections to reference beats one-to-one within ``± tolerance`` samples (greedy, nearest first).

    Examples
    --------
    >>> match_peaks([100, 305, 800], [102, 300, 500], tolerance=54).to_dict()["tp"]
    2
    """
    det = np.sort(np.asarray(detected, dtype=np.int64).ravel())
    ref = np.sort(np.asarray(reference, dtype=np.int64).ravel())
    if not isinstance(tolerance, (int, np.integer)) or tolerance < 0:
        raise ConfigError(f"`tolerance` must be a non-negative int (samples), got {tolerance!r}")
    used = np.zeros(det.size, bool)
    tp = 0
    j = 0
    for r in ref:
        while j < det.size and det[j] < r - tolerance:
            j += 1
        best, k = -1, j
        while k < det.size and det[k] <= r + tolerance:
            if not used[k] and (best < 0 or abs(det[k] - r) < abs(det[best] - r)):
                best = k
            k += 1
        if best >= 0:
            used[best] = True
            tp += 1
    return PeakScores(tp=tp, fp=int(det.size - tp), fn=int(ref.size - tp))
