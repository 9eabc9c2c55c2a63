"""Noise stress test of a classifier: accuracy and macro-F1 of test beats with real ECG noise (NSTDB ``bw``, ``ma``,
test part only) and white Gaussian noise added at a list of SNRs (NSTDB definition)."""

from __future__ import annotations

import logging
import os
from dataclasses import asdict, dataclass
from typing import Sequence

import numpy as np

from ecg_art.exceptions import ConfigError

__all__ = ["NoiseResult", "STRESS_SNRS_DB", "noise_robustness"]

logger = logging.getLogger(__name__)

STRESS_SNRS_DB = (24.0, 18.0, 12.0, 6.0, 0.0, -6.0)  # the NSTDB records' own levels, and 0 / -6 dB beyond them


@dataclass(frozen=True)
class NoiseResult:
    """Scores of one (noise kind, SNR) on ``n`` beats; ``kind="clean"`` (SNR inf) is the noise-free reference."""

    kind: str
    snr_db: float
    accuracy: float
    macro_f1: float
    n: int

    def to_dict(self) -> dict:
        return asdict(self)


def noise_robustness(classifier, x: np.ndarray, y: np.ndarray, *, kinds: Sequence[str] = ("bw", "ma", "gauss"),
                     snrs_db: Sequence[float] = STRESS_SNRS_DB, noise_dir: str | os.PathLike | None = None,
                     seed: int = 0, r_offset: int = 90, fs: float = 360.0, renormalize: bool = True,
                     norm_span: tuple[int, int] | None = None, clip: tuple[float, float] | None = None,
                     batch_size: int = 1024, chunk_size: int = 4096, sources=None) -> list[NoiseResult]:
    """Score ``classifier`` on ``x`` with each noise kind added at each SNR (the clean score first).

    Every kind draws one segment per beat from the *test* part of its record (seeded by ``seed``), as long as the
    window, reused at every SNR, so that the scores across SNRs are paired. ``x`` may be beats or the longer context
    windows of a model that reads one (e.g. the fusion model's 12 s, with ``r_offset`` its R-peak index and
    ``norm_span`` / ``clip`` its beat-window scaling): the noise then covers the whole context.

    Parameters
    ----------
    classifier : art.estimators.classification.PyTorchClassifier
        The model (e.g. :func:`ecg_art.estimators.make_classifier` of a checkpoint).
    x, y : np.ndarray
        Test beats ``(n, 1, L)`` in the min-max beat unit, integer labels ``(n,)``.
    kinds : sequence of {"bw", "ma", "gauss"}
        Noise kinds (see :func:`ecg_art.noise.noise_source`).
    snrs_db : sequence of float
        SNRs in dB, NSTDB definition (see :mod:`ecg_art.noise.snr`).
    noise_dir : path, optional
        NSTDB folder.
    seed : int
        Seed of the segment positions and of the Gaussian noise.
    r_offset, fs : int, float
        R-peak index in the window and sampling rate (QRS amplitude window).
    renormalize : bool
        Min-max scale the noisy beats as the beat pipeline would (default); False adds noise to the scaled beats.
    norm_span, clip : optional
        With ``renormalize``: the span whose min-max map scales each window and the clip bounds after it (see
        :func:`ecg_art.noise.add_noise`); default the whole window, no clip.
    batch_size, chunk_size : int
        Windows per forward pass, and per noise draw held in memory at once.
    sources : mapping, optional
        ``{kind: NoiseSource}`` to use instead of reading the records (tests).

    Returns
    -------
    list of NoiseResult

    Examples
    --------
    >>> from ecg_art.estimators import make_classifier
    >>> from ecg_art.models import BaselineCNN
    >>> clf = make_classifier(BaselineCNN(), device="cpu")
    >>> x = np.random.default_rng(0).random((8, 1, 256)).astype(np.float32)
    >>> res = noise_robustness(clf, x, np.zeros(8, dtype=int), kinds=("gauss",), snrs_db=(6.0,))
    >>> [(r.kind, r.snr_db) for r in res]
    [('clean', inf), ('gauss', 6.0)]
    """
    from ecg_art.estimators import predict_labels
    from ecg_art.evaluation.metrics import classification_metrics
    from ecg_art.noise.snr import add_noise
    from ecg_art.noise.sources import noise_source

    kinds, snrs = tuple(kinds), tuple(float(s) for s in snrs_db)
    if not kinds:
        raise ConfigError("`kinds` is empty: name at least one noise kind")
    if not snrs or not all(np.isfinite(snrs)):
        raise ConfigError(f"`snrs_db` must be finite dB values, got {snrs_db!r}")
    x, y = np.asarray(x, dtype=np.float32), np.asarray(y)
    if x.ndim != 3 or len(x) != len(y) or len(x) == 0:
        raise ConfigError(f"`x` must be beats (n, 1, L) with n = len(y) > 0, got shapes {x.shape} and {y.shape}")

    def score(kind: str, snr: float, pred: np.ndarray) -> NoiseResult:
        m = classification_metrics(y, pred)
        return NoiseResult(kind, snr, float(m.accuracy), float(m.macro_f1), int(len(y)))

    results = [score("clean", float("inf"), predict_labels(classifier, x, batch_size=batch_size))]
    for i, kind in enumerate(kinds):
        src = sources[kind] if sources is not None else noise_source(kind, part="test", noise_dir=noise_dir, fs=fs)
        if src.part != "test":
            raise ConfigError(f"noise {kind!r}: a stress test draws from the test part, got the {src.part!r} part")
        pred = np.empty((len(snrs), len(x)), dtype=np.int64)
        lo = 0
        for draw in src.iter_draw(len(x), x.shape[-1], np.random.default_rng([seed, i]), chunk_size=chunk_size):
            part = slice(lo, lo + len(draw.segments))
            segs = draw.segments.reshape(x[part].shape)
            for j, snr in enumerate(snrs):
                noisy = add_noise(x[part], segs, snr_db=snr, noise_rms_value=1.0, r_offset=r_offset, fs=fs,
                                  renormalize=renormalize, norm_span=norm_span, clip=clip)
                pred[j, part] = predict_labels(classifier, noisy, batch_size=batch_size)
            lo = part.stop
        for j, snr in enumerate(snrs):
            results.append(score(kind, snr, pred[j]))
            logger.info("noise %s at %g dB: accuracy %.4f, macro-F1 %.4f", kind, snr, results[-1].accuracy,
                        results[-1].macro_f1)
    return results
