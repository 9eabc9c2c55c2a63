"""Training under noise, as ART trainers that :func:`ecg_art.training.fit_classifier` runs one epoch at a time:
real ECG noise from the *training* part of the NSTDB records at random SNRs (:class:`NoiseAugmentationTrainer`,
wrapping any other trainer), and isotropic Gaussian noise of a fixed sigma for randomized smoothing
(:class:`GaussianAugmentationTrainer`, Cohen et al. 2019)."""

from __future__ import annotations

import logging
from typing import Any, Sequence

import numpy as np
from art.defences.trainer import Trainer

from ecg_art.exceptions import ConfigError

__all__ = ["NoiseAugmentationTrainer", "GaussianAugmentationTrainer"]

logger = logging.getLogger(__name__)


def _epoch_rng() -> np.random.Generator:
    # fit_classifier re-seeds NumPy's global RNG from (seed, epoch) before every epoch: deriving the generator from
    # it gives fresh noise per epoch and the same noise when a run is resumed
    return np.random.default_rng(int(np.random.randint(0, 2**31 - 1)))


class NoiseAugmentationTrainer(Trainer):
    """Each epoch, a share ``p`` of the training beats gets a fresh noise segment at an SNR drawn uniformly in
    ``snr_range_db`` (NSTDB definition), from ``sources`` (training parts only); then ``inner`` (any ART trainer,
    e.g. adversarial training) or the classifier itself fits one epoch on the result.

    Parameters
    ----------
    classifier : PyTorchClassifier
        The model being trained.
    sources : sequence of NoiseSource
        Noise to draw from (see :func:`ecg_art.noise.noise_source` with ``part="train"``), chosen at random per beat.
    snr_range_db : (float, float)
        Lowest and highest SNR in dB.
    p : float
        Share of beats that get noise each epoch.
    inner : art.defences.trainer.Trainer, optional
        Trainer that fits on the augmented beats (it must wrap ``classifier``).
    r_offset, fs, renormalize, norm_span, clip
        As :func:`ecg_art.noise.add_noise` (``norm_span`` and ``clip``: a context window scaled in the unit of its
        beat window, as the fusion models read it).

    Examples
    --------
    >>> from ecg_art.estimators import make_classifier
    >>> from ecg_art.models import BaselineCNN
    >>> from ecg_art.noise import noise_source
    >>> clf = make_classifier(BaselineCNN(), device="cpu")
    >>> trainer = NoiseAugmentationTrainer(clf, sources=[noise_source("gauss", part="train")])
    >>> trainer.fit(np.random.rand(16, 1, 256).astype(np.float32), np.zeros(16, dtype=int), batch_size=8)
    """

    def __init__(self, classifier, *, sources: Sequence[Any], snr_range_db: tuple[float, float] = (-6.0, 24.0),
                 p: float = 0.5, inner: Trainer | None = None, r_offset: int = 90, fs: float = 360.0,
                 renormalize: bool = True, norm_span: tuple[int, int] | None = None,
                 clip: tuple[float, float] | None = None) -> None:
        super().__init__(classifier)
        sources = tuple(sources)
        if not sources:
            raise ConfigError("`sources` is empty: name at least one noise source")
        if any(getattr(s, "part", None) != "train" for s in sources):
            raise ConfigError("`sources` must be training parts of the noise records (part='train'): the test part "
                              "is kept for the stress test")
        lo, hi = (float(v) for v in snr_range_db)
        if not (np.isfinite(lo) and np.isfinite(hi) and lo <= hi):
            raise ConfigError(f"`snr_range_db` must be finite (low, high) dB with low <= high, got {snr_range_db!r}")
        if not 0.0 <= p <= 1.0:
            raise ConfigError(f"`p` must be in [0, 1], got {p!r}")
        self.sources, self.snr_range_db, self.p, self.inner = sources, (lo, hi), float(p), inner
        self.r_offset, self.fs, self.renormalize = r_offset, fs, renormalize
        self.norm_span, self.clip = norm_span, clip

    def augment(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """A copy of ``x`` with noise on a random share ``p`` of the beats."""
        from ecg_art.noise.snr import add_noise

        out = np.array(x, dtype=np.float32, copy=True)
        hit = np.flatnonzero(rng.random(len(x)) < self.p)
        which = rng.integers(0, len(self.sources), size=len(hit))
        for k, src in enumerate(self.sources):
            idx = hit[which == k]
            if not idx.size:
                continue
            segs = src.draw(len(idx), x.shape[-1], rng).segments
            snrs = rng.uniform(*self.snr_range_db, size=len(idx))
            for snr in np.unique(np.round(snrs, 1)):  # 0.1 dB steps: one vectorised mix per level
                sel = np.round(snrs, 1) == snr
                out[idx[sel]] = add_noise(x[idx[sel]], segs[sel].reshape(x[idx[sel]].shape), snr_db=float(snr),
                                          noise_rms_value=1.0, r_offset=self.r_offset, fs=self.fs,
                                          renormalize=self.renormalize, norm_span=self.norm_span,
                                          clip=self.clip)
        return out

    def fit(self, x: np.ndarray, y: np.ndarray, **kwargs) -> None:
        """One call of ``inner.fit`` (or ``classifier.fit``) on freshly augmented beats."""
        x_aug = self.augment(np.asarray(x), _epoch_rng())
        (self.inner or self._classifier).fit(x_aug, y, **kwargs)


class GaussianAugmentationTrainer(Trainer):
    """Fit on ``x + N(0, sigma**2)`` with fresh noise every epoch: the base classifier of randomized smoothing.

    Examples
    --------
    >>> from ecg_art.estimators import make_classifier
    >>> from ecg_art.models import BaselineCNN
    >>> clf = make_classifier(BaselineCNN(), device="cpu")
    >>> GaussianAugmentationTrainer(clf, sigma=0.25).fit(np.random.rand(8, 1, 256).astype(np.float32),
    ...                                                  np.zeros(8, dtype=int), batch_size=8)
    """

    def __init__(self, classifier, *, sigma: float) -> None:
        super().__init__(classifier)
        if isinstance(sigma, bool) or not isinstance(sigma, (int, float)) or not np.isfinite(sigma) or sigma <= 0:
            raise ConfigError(f"`sigma` must be a positive number (beat unit), got {sigma!r}")
        self.sigma = float(sigma)

    def fit(self, x: np.ndarray, y: np.ndarray, **kwargs) -> None:
        rng = _epoch_rng()
        x = np.asarray(x, dtype=np.float32)
        self._classifier.fit(x + rng.normal(0.0, self.sigma, size=x.shape).astype(np.float32), y, **kwargs)
