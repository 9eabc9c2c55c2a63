"""Signal-to-noise ratio as the MIT-BIH Noise Stress Test defines it, and noise mixing at a chosen SNR.

The ``nst`` tool of the WFDB software (Moody, Muldrow & Mark 1984) scales noise so that
``SNR = 10 log10(S / N)`` where ``S = A_pp**2 / 8`` is the power of a sinusoid whose peak-to-peak amplitude ``A_pp``
is that of the normal QRS complexes (``sigamp -a``: max - min within 50 ms of each QRS annotation) and ``N`` is the
noise's mean square about its baseline (``sigamp -r``: RMS in 1 s windows, 5 %-trimmed mean). Its noise gain is
``10 ** (-SNR / 20) * sqrt(2) / 4 * A_pp / rms_noise``; :func:`nst_gain` is that formula.
"""

from __future__ import annotations

import numpy as np

from ecg_art.exceptions import ConfigError

__all__ = ["qrs_amplitude", "noise_rms", "nst_snr_db", "nst_gain", "add_noise", "minmax"]


def _beats_2d(x, name: str = "x") -> np.ndarray:
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim == 3 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 2 or arr.shape[1] < 2:
        raise ConfigError(f"`{name}` must be beats of shape (n, 1, L) or (n, L), got shape {np.shape(x)}")
    if not np.all(np.isfinite(arr)):
        raise ConfigError(f"`{name}` holds NaN or inf values")
    return arr


def qrs_amplitude(x, *, r_offset: int = 90, fs: float = 360.0, half_width_s: float = 0.05) -> np.ndarray:
    """Peak-to-peak QRS amplitude of each beat: max - min within ``half_width_s`` of the R peak (``sigamp -a``).

    Examples
    --------
    >>> x = np.zeros((1, 1, 256)); x[0, 0, 90] = 1.0; x[0, 0, 100] = -0.5
    >>> qrs_amplitude(x).tolist()
    [1.5]
    """
    beats = _beats_2d(x)
    half = int(round(half_width_s * fs))
    if half < 1 or not 0 <= r_offset < beats.shape[1]:
        raise ConfigError(f"`half_width_s`={half_width_s!r} at `fs`={fs!r} and `r_offset`={r_offset!r} do not "
                          f"give a QRS window inside beats of {beats.shape[1]} samples")
    seg = beats[:, max(0, r_offset - half):r_offset + half + 1]
    return seg.max(axis=1) - seg.min(axis=1)


def noise_rms(noise, *, fs: float = 360.0, window_s: float = 1.0, trim: float = 0.05) -> float:
    """Baseline-corrected RMS of a noise signal as ``sigamp -r`` measures it: the RMS about the mean of each
    ``window_s`` window, then the mean of those values without the ``trim`` share of largest and of smallest ones
    (``sigamp`` stops after 300 windows; here every whole window of ``noise`` counts).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> round(noise_rms(3.0 + 2.0 * rng.standard_normal(360 * 60)), 1)
    2.0
    """
    sig = np.asarray(noise, dtype=np.float64).ravel()
    width = int(round(window_s * fs))
    if width < 2 or sig.size < width:
        raise ConfigError(f"`noise` ({sig.size} samples) must hold at least one `window_s`={window_s!r} s window "
                          f"at `fs`={fs!r} Hz")
    if not 0.0 <= trim < 0.5:
        raise ConfigError(f"`trim` must be in [0, 0.5), got {trim!r}")
    windows = sig[: sig.size // width * width].reshape(-1, width)
    rms = np.sort(windows.std(axis=1))
    k = int(trim * rms.size)
    return float(rms[k:rms.size - k].mean())


def nst_snr_db(signal_pp, noise_rms_value) -> np.ndarray:
    """SNR in dB of the NSTDB definition: ``10 log10(A_pp**2 / (8 rms**2))``.

    Examples
    --------
    >>> round(float(nst_snr_db(2.0, 0.05)), 2)  # 10 log10(4 / (8 * 0.0025))
    23.01
    """
    pp, rms = np.asarray(signal_pp, dtype=np.float64), np.asarray(noise_rms_value, dtype=np.float64)
    return 10.0 * np.log10(pp ** 2 / (8.0 * rms ** 2))


def nst_gain(snr_db: float, *, signal_pp, noise_rms_value) -> np.ndarray:
    """Gain that ``nst`` applies to noise of RMS ``noise_rms_value`` for ``snr_db`` against QRS amplitude ``signal_pp``.

    Examples
    --------
    >>> round(float(nst_gain(0.0, signal_pp=1.0, noise_rms_value=1.0)), 4)
    0.3536
    """
    if not np.isfinite(snr_db):
        raise ConfigError(f"`snr_db` must be a finite number of dB, got {snr_db!r}")
    rms = np.asarray(noise_rms_value, dtype=np.float64)
    if np.any(rms <= 0):
        raise ConfigError(f"`noise_rms_value` must be > 0, got {noise_rms_value!r}")
    return 10.0 ** (-float(snr_db) / 20.0) * np.sqrt(2.0) / 4.0 * np.asarray(signal_pp, dtype=np.float64) / rms


def minmax(x: np.ndarray, *, span: tuple[int, int] | None = None) -> np.ndarray:
    """Scale each window (last axis) by the min-max map of ``x[..., span[0]:span[1]]`` (default: the whole window), as
    the beat pipeline does: a beat lands in [0, 1], a context in the unit of its beat window (flat spans map to 0).

    Examples
    --------
    >>> minmax(np.array([[0.0, 2.0, 4.0, 8.0]]), span=(0, 3)).tolist()
    [[0.0, 0.5, 1.0, 2.0]]
    """
    ref = x if span is None else x[..., span[0]:span[1]]
    lo, hi = ref.min(axis=-1, keepdims=True), ref.max(axis=-1, keepdims=True)
    rng = hi - lo
    return np.where(rng > 0, (x - lo) / np.where(rng > 0, rng, 1.0), 0.0)


def add_noise(x, noise, *, snr_db: float, noise_rms_value: float | None = 1.0, r_offset: int = 90,
              fs: float = 360.0, half_width_s: float = 0.05, renormalize: bool = False,
              norm_span: tuple[int, int] | None = None, clip: tuple[float, float] | None = None) -> np.ndarray:
    """Beats ``x`` plus ``noise`` scaled to ``snr_db`` against each beat's own QRS amplitude (NSTDB definition).

    Parameters
    ----------
    x : array (n, 1, L) or (n, L)
        Clean beats (any unit: the SNR does not depend on it).
    noise : array of the same shape
        One noise segment per beat.
    snr_db : float
        Target SNR in dB.
    noise_rms_value : float or None
        The noise's calibration RMS, as ``nst`` uses one figure for a whole noise record (1.0 for noise already
        divided by it); None uses each segment's own RMS about its mean, so every beat gets exactly ``snr_db``.
    r_offset, fs, half_width_s
        R-peak index in the window, sampling rate (Hz) and half-width (s) of the QRS amplitude window.
    renormalize : bool
        Min-max scale each noisy beat to [0, 1] again (what the beat pipeline does to a noisy recording); the SNR is
        unchanged by it (the scaling is affine).
    norm_span : (int, int), optional
        With ``renormalize``: the samples whose min-max map scales the whole window (a 12 s context scaled in the unit
        of its beat window, as :class:`ecg_art.data.BeatConfig` ``norm_span`` does); default the whole window.
    clip : (float, float), optional
        With ``renormalize``: bounds the scaled windows are clipped to (``BeatConfig`` ``clip``).

    Returns
    -------
    np.ndarray
        float32, the shape of ``x``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = np.zeros((2, 1, 256)); x[:, 0, 90] = 1.0
    >>> noisy = add_noise(x, rng.standard_normal((2, 1, 256)), snr_db=6.0, noise_rms_value=None)
    >>> noisy.shape, round(float(nst_snr_db(1.0, (noisy - x)[0].std())), 6)
    ((2, 1, 256), 6.0)
    """
    beats = _beats_2d(x)
    segs = _beats_2d(noise, "noise")
    if segs.shape != beats.shape:
        raise ConfigError(f"`noise` must have one segment per beat, shape {beats.shape}, got {segs.shape}")
    if noise_rms_value is None:
        rms = segs.std(axis=1)
        if np.any(rms <= 0):
            raise ConfigError("`noise` holds a constant segment: its RMS is 0, no SNR can be set")
    else:
        rms = np.full(len(segs), float(noise_rms_value))
    if norm_span is not None:
        lo, hi = (int(v) for v in norm_span)
        if not 0 <= lo < hi <= beats.shape[1]:
            raise ConfigError(f"`norm_span` must be (start, stop) with 0 <= start < stop <= {beats.shape[1]}, "
                              f"got {norm_span!r}")
        norm_span = (lo, hi)
    if clip is not None and not (len(clip) == 2 and float(clip[0]) < float(clip[1])):
        raise ConfigError(f"`clip` must be (low, high) with low < high, got {clip!r}")
    pp = qrs_amplitude(beats, r_offset=r_offset, fs=fs, half_width_s=half_width_s)
    out = beats + nst_gain(snr_db, signal_pp=pp, noise_rms_value=rms)[:, None] * segs
    if renormalize:
        out = minmax(out, span=norm_span)
        if clip is not None:
            out = np.clip(out, float(clip[0]), float(clip[1]))
    return out.reshape(np.shape(x)).astype(np.float32)
