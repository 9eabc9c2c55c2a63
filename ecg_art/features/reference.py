"""Context-window cutting and a neurokit2/annotation reference of the 12 features (validation only, slow)."""

from __future__ import annotations

import logging

import numpy as np

from ecg_art.exceptions import ConfigError
from ecg_art.features.config import FEATURE_NAMES

__all__ = ["context_windows", "reference_features"]

logger = logging.getLogger(__name__)


def context_windows(signal, rpeaks, *, window: int = 1024, r_index: int = 512,
                    normalize: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Cut ``(n, 1, window)`` float32 context windows with each R peak at ``r_index``.

    Beats too close to the record edges are skipped; the second output holds the indices (into ``rpeaks``) of the
    beats kept. With ``normalize`` each window is min-max scaled to ``[0, 1]`` (the beat convention of ecg_art).

    Examples
    --------
    >>> x, kept = context_windows(np.sin(np.arange(5000) / 50.0), [100, 1000, 2000, 4900])
    >>> x.shape, kept.tolist()
    ((2, 1, 1024), [1, 2])
    """
    sig = np.asarray(signal, dtype=np.float32).ravel()
    peaks = np.asarray(rpeaks, dtype=np.int64).ravel()
    if not isinstance(window, int) or window < 2:
        raise ConfigError(f"`window` must be an int >= 2, got {window!r}")
    if not isinstance(r_index, int) or not 0 <= r_index < window:
        raise ConfigError(f"`r_index` must be an int in [0, window), got {r_index!r}")
    kept = np.flatnonzero((peaks - r_index >= 0) & (peaks - r_index + window <= sig.size))
    idx = peaks[kept, None] - r_index + np.arange(window)
    x = sig[idx][:, None, :]
    if normalize and x.size:
        lo, hi = x.min(-1, keepdims=True), x.max(-1, keepdims=True)
        x = (x - lo) / np.maximum(hi - lo, np.float32(1e-8))
    return x.astype(np.float32, copy=False), kept


def _at(sig: np.ndarray, pos) -> np.ndarray:
    pos = np.asarray(pos, dtype=float)
    ok = np.isfinite(pos)
    out = np.full(pos.shape, np.nan)
    out[ok] = sig[pos[ok].astype(np.int64)]
    return out


def reference_features(signal, rpeaks, *, fs: float, window: int = 1024, r_index: int = 512,
                       qrs_half_s: float = 0.05, method: str = "dwt") -> np.ndarray:
    """The 12 features of every beat in ``rpeaks`` from annotations + neurokit2 delineation (NaN where undefined).

    RR features come from the given R peaks (e.g. WFDB annotations); Q, S, P, T peaks and QRS on/offsets from
    ``neurokit2.ecg_delineate`` on the cleaned signal; amplitudes are read on the raw ``signal`` minus the median of
    the ``window``-sample context around the beat (the extractor's baseline). Used only to validate
    :func:`ecg_art.features.extract_features` (slow: seconds per minute of signal).

    Examples
    --------
    >>> import neurokit2 as nk
    >>> sig = nk.ecg_simulate(duration=20, sampling_rate=360, heart_rate=70, random_state=0)
    >>> peaks = nk.ecg_peaks(sig, sampling_rate=360)[1]["ECG_R_Peaks"]
    >>> ref = reference_features(sig, peaks, fs=360)
    >>> ref.shape[1]
    12
    """
    import neurokit2 as nk  # heavy import, only needed here

    sig = np.asarray(signal, dtype=np.float64).ravel()
    peaks = np.asarray(rpeaks, dtype=np.int64).ravel()
    if not fs > 0:
        raise ConfigError(f"`fs` must be positive, got {fs!r}")
    if peaks.size < 3 or np.any(np.diff(peaks) <= 0):
        raise ConfigError("`rpeaks` must hold at least 3 strictly increasing sample indices")
    n = peaks.size
    out = np.full((n, len(FEATURE_NAMES)), np.nan)
    rr = np.diff(peaks) / fs
    out[1:, 0] = rr
    out[:-1, 1] = rr
    out[:, 2] = out[:, 0] / out[:, 1]
    out[:, 3] = 0.5 * (out[:, 0] + out[:, 1])

    lo = np.clip(peaks - r_index, 0, sig.size - window)
    base = np.array([np.median(sig[a: a + window]) for a in lo])
    cleaned = nk.ecg_clean(sig, sampling_rate=int(round(fs)))
    _, waves = nk.ecg_delineate(cleaned, peaks, sampling_rate=int(round(fs)), method=method)
    wave = {k: np.asarray(v, dtype=float)[:n] for k, v in waves.items()}
    if any(v.size != n for v in wave.values()):
        logger.warning("neurokit2 returned delineations not aligned with the R peaks; morphology left NaN")
        return out
    out[:, 4] = sig[peaks] - base
    out[:, 5] = _at(sig, wave["ECG_Q_Peaks"]) - base
    out[:, 6] = _at(sig, wave["ECG_S_Peaks"]) - base
    out[:, 7] = _at(sig, wave["ECG_P_Peaks"]) - base
    out[:, 8] = _at(sig, wave["ECG_T_Peaks"]) - base
    on, off = wave["ECG_R_Onsets"], wave["ECG_R_Offsets"]
    ok = np.isfinite(on) & np.isfinite(off) & (off > on)
    out[ok, 9] = (off[ok] - on[ok]) / fs
    out[ok, 10] = [np.mean((sig[int(a): int(b) + 1] - m) ** 2) for a, b, m in zip(on[ok], off[ok], base[ok])]
    h = int(round(qrs_half_s * fs))

    def amp(p: int, m: float) -> float:  # main QRS deflection within +-qrs_half_s of an R peak, against baseline m
        return float(np.abs(sig[max(p - h, 0): p + h + 1] - m).max())

    out[1:-1, 11] = [amp(peaks[i], base[i]) / (0.5 * (amp(peaks[i - 1], base[i]) + amp(peaks[i + 1], base[i])))
                     for i in range(1, n - 1)]
    return out
