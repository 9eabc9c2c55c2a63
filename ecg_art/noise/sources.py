"""Noise sources for stress tests and augmentation: the NSTDB records ``bw`` / ``ma`` split into a training part and
a test part that share no sample, and white Gaussian noise; every source is in units of its calibration RMS."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

import numpy as np

from ecg_art.exceptions import ConfigError

__all__ = ["NOISE_KINDS", "PARTS", "NoiseSource", "NoiseDraw", "noise_source"]

logger = logging.getLogger(__name__)

NOISE_KINDS = ("bw", "ma", "gauss")  # baseline wander, muscle artifact (NSTDB), white Gaussian
PARTS = ("train", "test")


@dataclass(frozen=True)
class NoiseDraw:
    """Segments drawn from a source: ``segments`` (n, L) in calibration-RMS units, with the channel and the first
    record sample of each (``start`` is -1 for Gaussian noise)."""

    segments: np.ndarray
    channel: np.ndarray
    start: np.ndarray


def _check_size(n, length) -> None:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise ConfigError(f"`n` must be an int >= 0, got {n!r}")
    if isinstance(length, bool) or not isinstance(length, (int, np.integer)) or length < 2:
        raise ConfigError(f"`length` must be an int >= 2, got {length!r}")


@dataclass(frozen=True, eq=False)
class NoiseSource:
    """One kind of noise restricted to one part of its record.

    ``signal`` is ``(channels, samples)`` of the part, each channel divided by its ``sigamp``-style RMS (so the
    NSTDB gain formula applies with ``noise_rms_value=1``); ``offset`` is the part's first sample in the record.
    Gaussian noise has ``signal=None``.
    """

    kind: str
    part: str
    signal: np.ndarray | None = None
    offset: int = 0
    calibration_rms: tuple[float, ...] = ()

    def draw(self, n: int, length: int, rng: np.random.Generator) -> NoiseDraw:
        """``n`` segments of ``length`` samples at random channels and positions inside the part.

        Examples
        --------
        >>> src = NoiseSource("gauss", "test")
        >>> src.draw(3, 256, np.random.default_rng(0)).segments.shape
        (3, 256)
        """
        _check_size(n, length)
        if n == 0:
            return NoiseDraw(np.empty((0, length)), np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64))
        return next(self.iter_draw(n, length, rng, chunk_size=n))

    def iter_draw(self, n: int, length: int, rng: np.random.Generator, *, chunk_size: int = 4096):
        """:meth:`draw` in consecutive chunks of at most ``chunk_size`` segments (long contexts of many beats need
        not be held at once); the chunks put together are what :meth:`draw` returns for the same ``rng`` state.

        Examples
        --------
        >>> src = NoiseSource("gauss", "test")
        >>> [d.segments.shape for d in src.iter_draw(5, 256, np.random.default_rng(0), chunk_size=2)]
        [(2, 256), (2, 256), (1, 256)]
        """
        _check_size(n, length)
        if isinstance(chunk_size, bool) or not isinstance(chunk_size, (int, np.integer)) or chunk_size < 1:
            raise ConfigError(f"`chunk_size` must be an int >= 1, got {chunk_size!r}")
        if self.signal is None:  # NumPy fills (n, length) row by row: consecutive chunks equal one draw
            for lo in range(0, n, chunk_size):
                k = min(chunk_size, n - lo)
                yield NoiseDraw(rng.standard_normal((k, length)), np.zeros(k, dtype=np.int64),
                                np.full(k, -1, dtype=np.int64))
            return
        n_ch, span = self.signal.shape
        if span < length:
            raise ConfigError(f"noise {self.kind!r} ({self.part} part) has {span} samples, fewer than the "
                              f"{length} of a segment")
        channel = rng.integers(0, n_ch, size=n)
        local = rng.integers(0, span - length + 1, size=n)
        for lo in range(0, n, chunk_size):
            ch, loc = channel[lo:lo + chunk_size], local[lo:lo + chunk_size]
            idx = loc[:, None] + np.arange(length)[None, :]
            yield NoiseDraw(self.signal[ch[:, None], idx], ch, self.offset + loc)


def noise_source(kind: str, *, part: str, noise_dir: str | os.PathLike | None = None, split: float = 0.5,
                 fs: float = 360.0, rms_window_s: float = 1.0, trim: float = 0.05,
                 checksums: bool = True) -> NoiseSource:
    """The ``part`` (``"train"``: the first ``split`` share of the record, ``"test"``: the rest) of noise ``kind``.

    Parameters
    ----------
    kind : {"bw", "ma", "gauss"}
        NSTDB record, or white Gaussian noise (no record read).
    part : {"train", "test"}
        Augmentation draws from ``"train"``, stress tests from ``"test"``: they share no sample.
    noise_dir : path, optional
        NSTDB folder (see :func:`ecg_art.data.resolve_noise_dir`).
    split : float
        Share of each record that is the training part.
    fs, rms_window_s, trim
        Sampling rate and the calibration RMS's window (s) and trimmed share (``sigamp -r``), computed on the part.

    Examples
    --------
    >>> noise_source("gauss", part="test").kind
    'gauss'
    >>> noise_source("bw", part="test", noise_dir="/data/nstdb").signal.shape  # doctest: +SKIP
    (2, 325000)
    """
    from ecg_art.data.nstdb import read_noise_record
    from ecg_art.noise.snr import noise_rms

    if kind not in NOISE_KINDS:
        raise ConfigError(f"unknown noise `kind` {kind!r}; known: {', '.join(NOISE_KINDS)}")
    if part not in PARTS:
        raise ConfigError(f"`part` must be one of {PARTS}, got {part!r}")
    if not 0.0 < split < 1.0:
        raise ConfigError(f"`split` must be in (0, 1), got {split!r}")
    if kind == "gauss":
        return NoiseSource(kind, part, None, 0, (1.0,))
    sig = read_noise_record(kind, noise_dir, checksums=checksums)
    cut = int(round(split * sig.shape[1]))
    lo, hi = (0, cut) if part == "train" else (cut, sig.shape[1])
    seg = sig[:, lo:hi]
    rms = tuple(noise_rms(ch, fs=fs, window_s=rms_window_s, trim=trim) for ch in seg)
    if any(r <= 0 for r in rms):
        raise ConfigError(f"noise {kind!r} ({part} part) has a flat channel: no SNR can be set")
    logger.info("noise %s, %s part: samples %d-%d, calibration RMS %s mV", kind, part, lo, hi,
                ", ".join(f"{r:.4f}" for r in rms))
    return NoiseSource(kind, part, seg / np.asarray(rms)[:, None], lo, rms)
