"""Validate the R-peak detector as QRS detectors are validated: sensitivity and positive predictivity against the
MIT-BIH reference beat annotations (150 ms), on whole records, clean and under an attack aimed at the detector."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

import numpy as np
import torch

from ecg_art.exceptions import ConfigError
from ecg_art.features.rpeaks import (PeakScores, RPeakConfig, RPeakDetector, detect_rpeaks, match_peaks,
                                     record_chunks)

__all__ = ["RecordPeaks", "attack_detector", "validate_rpeaks", "vf_intervals"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RecordPeaks:
    """Scores of one record (clean or attacked) and the attack budget in mV (0 when clean)."""

    record: str
    scores: PeakScores
    eps_mv: float = 0.0


def vf_intervals(symbols, samples) -> list[tuple[int, int]]:
    """Ventricular flutter / fibrillation episodes (``[`` ... ``]`` annotations), excluded from QRS-detector scoring
    as ANSI/AAMI EC57 prescribes (record 207 holds the only ones in MIT-BIH)."""
    out, start = [], None
    for s, t in zip(symbols, samples):
        if s == "[":
            start = int(t)
        elif s == "]" and start is not None:
            out.append((start, int(t)))
            start = None
    return out


def _outside(peaks: np.ndarray, intervals: list[tuple[int, int]]) -> np.ndarray:
    keep = np.ones(peaks.size, bool)
    for lo, hi in intervals:
        keep &= ~((peaks >= lo) & (peaks <= hi))
    return peaks[keep]


def attack_detector(x: torch.Tensor, *, eps: float | torch.Tensor, steps: int = 20, fs: float = 360.0,
                    config: RPeakConfig | None = None, temperature: float = 0.02) -> torch.Tensor:
    """PGD (L-inf ``eps``, same unit as ``x``) that tries to make the detector create a QRS where it found none and
    erase one it found: it maximises the smooth maximum of the envelope's threshold margin away from the clean
    detections plus the smooth maximum of the negated margin at them, through the soft surrogate.

    ``x``: ``(N, 1, L)``; ``eps``: a number or ``(N,)`` per-signal budgets. Returns ``x + delta`` (no clipping: raw
    signals have no domain bound)."""
    if not isinstance(steps, int) or steps < 1:
        raise ConfigError(f"`steps` must be a positive int, got {steps!r}")
    det = RPeakDetector(fs=fs, mode="soft", config=config).to(x.device)
    eps_t = torch.as_tensor(eps, dtype=x.dtype, device=x.device).reshape(-1, 1, 1)
    with torch.no_grad():
        det.mode = "hard"
        clean, _ = det(x)
        det.mode = "soft"
        near = det.refractory_max(clean) > 0
    step = 2.5 * eps_t / steps
    delta = torch.zeros_like(x)
    for _ in range(steps):
        delta.requires_grad_(True)
        _, env = det.envelope(x + delta)
        _, margin = det.threshold_margin(env, (env >= det.refractory_max(env)).detach())
        neg_inf = torch.finfo(x.dtype).min
        create = temperature * torch.logsumexp(margin.masked_fill(near, neg_inf) / temperature, -1)
        erase = temperature * torch.logsumexp((-margin).masked_fill(clean <= 0.5, neg_inf) / temperature, -1)
        loss = (create.clamp_min(-10) + erase.clamp_min(-10)).sum()
        (grad,) = torch.autograd.grad(loss, delta)
        with torch.no_grad():
            delta = torch.maximum(torch.minimum(delta + step * grad.sign(), eps_t), -eps_t)
    return (x + delta).detach()


def validate_rpeaks(data_dir: str | os.PathLike | None = None, records=None, *, config: RPeakConfig | None = None,
                    tolerance_s: float = 0.15, eps: float = 0.0, steps: int = 20, chunk_s: float = 12.0,
                    margin_s: float = 2.0, beat_window: tuple[int, int] = (90, 166),
                    batch_size: int = 64) -> list[RecordPeaks]:
    """Score :func:`detect_rpeaks` on MIT-BIH records (lead MLII, V5 for 102/104) against the reference beat
    annotations (every beat label, AAMI classes N S V F Q), ventricular flutter episodes excluded.

    With ``eps > 0`` every detection context is first attacked by :func:`attack_detector` at ``eps`` in the beat
    unit: ``eps`` x the record's median beat range (max - min of the ``beat_window`` samples around each annotated
    beat, the 256-sample window of the beat-only CNN), so that it means the same amplitude as the models' budget.
    """
    from ecg_art.data.constants import MITDB_RECORDS, check_records
    from ecg_art.data.records import check_data_dir, read_beats, read_lead

    import wfdb

    path = check_data_dir(data_dir)
    names = check_records(records) if records is not None else MITDB_RECORDS
    if not tolerance_s > 0:
        raise ConfigError(f"`tolerance_s` must be positive, got {tolerance_s!r}")
    if not eps >= 0:
        raise ConfigError(f"`eps` must be >= 0, got {eps!r}")
    fs = 360.0
    out = []
    for rec in names:
        header = wfdb.rdheader(str(path / rec))
        channel = header.sig_name.index("MLII") if "MLII" in header.sig_name else 0
        sig = read_lead(rec, path, channel)
        ann = wfdb.rdann(str(path / rec), "atr")
        samples, _, _ = read_beats(rec, path)
        vf = vf_intervals(ann.symbol, ann.sample)
        eps_mv = 0.0
        if eps > 0:
            idx = samples[(samples - beat_window[0] >= 0) & (samples + beat_window[1] <= sig.size)]
            win = sig[idx[:, None] + np.arange(-beat_window[0], beat_window[1])]
            eps_mv = float(eps * np.median(win.max(1) - win.min(1)))
            sig = _attacked(sig, eps_mv=eps_mv, steps=steps, fs=fs, config=config, chunk_s=chunk_s,
                            margin_s=margin_s, batch_size=batch_size)
        det = detect_rpeaks(sig, fs=fs, config=config, chunk_s=chunk_s, margin_s=margin_s)
        scores = match_peaks(_outside(det, vf), _outside(samples, vf), tolerance=int(round(tolerance_s * fs)))
        out.append(RecordPeaks(rec, scores, eps_mv))
        logger.info("record %s: Se %.4f +P %.4f (eps %.4f mV)", rec, scores.sensitivity, scores.ppv, eps_mv)
    return out


def _attacked(sig: np.ndarray, *, eps_mv: float, steps: int, fs: float, config, chunk_s: float, margin_s: float,
              batch_size: int) -> np.ndarray:
    """The record with each detection chunk (core + margins, as :func:`detect_rpeaks` cuts it) attacked; the
    attacked cores are stitched back (each sample is perturbed by the attack of the chunk whose core holds it)."""
    x, _, core, m = record_chunks(sig, decimation=RPeakDetector(fs=fs, config=config).decimation, fs=fs,
                                  chunk_s=chunk_s, margin_s=margin_s)
    adv = torch.cat([attack_detector(x[i:i + batch_size], eps=eps_mv, steps=steps, fs=fs, config=config)
                     for i in range(0, len(x), batch_size)])
    return adv[:, 0, m:m + core].reshape(-1).numpy()[: sig.size]
