"""Rhythm features of the inter-patient literature from R peaks detected in a long (attacked) context, and the
12-feature "rhythm" set of the fusion model: 5 rhythm features + 7 morphology features of the centre beat."""

from __future__ import annotations

import logging

import torch
from torch import nn

from ecg_art.exceptions import ConfigError
from ecg_art.features.config import FEATURE_NAMES, FeatureConfig
from ecg_art.features.extract import FeatureExtractor, check_windows
from ecg_art.features.rpeaks import RPeakConfig, RPeakDetector

__all__ = ["RHYTHM_NAMES", "RHYTHM_FEATURE_NAMES", "RhythmFeatures", "RhythmBeatFeatures"]

logger = logging.getLogger(__name__)

#: The 5 rhythm features (de Chazal et al. 2004; Mondejar-Guerra et al. 2019), in column order.
RHYTHM_NAMES: tuple[str, ...] = ("rr_pre", "rr_post", "rr_local", "rr_pre_norm", "rr_post_norm")
#: Morphology features of the centre beat taken from :class:`FeatureExtractor` (fixed windows around the R peak).
MORPHOLOGY_NAMES: tuple[str, ...] = ("r_amp", "q_amp", "s_amp", "p_amp", "t_amp", "qrs_width", "qrs_energy")
#: The fusion model's "rhythm" feature set: 5 rhythm + 7 morphology = 12 features.
RHYTHM_FEATURE_NAMES: tuple[str, ...] = RHYTHM_NAMES + MORPHOLOGY_NAMES


def _nearest(p: torch.Tensor) -> torch.Tensor:
    """Weights (N, T) on the first peak of ``p`` (N, T) scanning from index 0: ``p_t * prod_{u<t} (1 - p_u)``."""
    q = (1 - p).clamp_min(1e-6).log()
    return p * (q.cumsum(-1) - q).exp()


class RhythmFeatures(nn.Module):
    """pre-RR, post-RR, local mean RR and the two normalised RRs of the beat at ``r_index`` of each context.

    R peaks are detected in the input (:class:`RPeakDetector`); the centre beat's own peak is given by the
    alignment (``r_index``) and detections within ``± exclude_s`` of it are ignored. ``rr_local`` is the mean of the
    up to ``n_local`` RR intervals that end at the centre beat (the detected peaks before it); ``rr_pre_norm`` =
    ``rr_pre / rr_local``, ``rr_post_norm`` = ``rr_post / rr_local``. A side without a detected peak reports the
    whole context on that side (a lower bound on the interval). Seconds.

    Parameters
    ----------
    fs : float
    r_index : int
    n_local : int
        RR intervals averaged into ``rr_local`` (10 in the inter-patient literature).
    exclude_s : float
        Half-width of the zone around the centre beat where detections are ignored.
    mode : {"hard", "soft", "bpda"}
        The detector's mode: ``"hard"`` deployed; ``"soft"``/``"bpda"`` give gradients of the peaks' existence
        (soft threshold, nearest-peak survival weights) and of their positions (soft-argmax).
    config : RPeakConfig, optional

    Shape
    -----
    ``(N, 1, L)`` -> ``(N, 5)``, columns :data:`RHYTHM_NAMES`.

    Examples
    --------
    >>> import neurokit2 as nk
    >>> sig = nk.ecg_simulate(duration=14, sampling_rate=360, heart_rate=60, noise=0, random_state=0)
    >>> r = int(nk.ecg_peaks(sig, sampling_rate=360)[1]["ECG_R_Peaks"][10])
    >>> x = torch.tensor(sig[r - 3240:r + 720], dtype=torch.float32).view(1, 1, -1)
    >>> f = RhythmFeatures(fs=360, r_index=3240)(x)
    >>> [round(float(v), 1) for v in f[0]]
    [1.0, 1.0, 1.0, 1.0, 1.0]
    """

    def __init__(self, *, fs: float = 360.0, r_index: int = 3600, n_local: int = 10, exclude_s: float = 0.25,
                 mode: str = "hard", config: RPeakConfig | None = None) -> None:
        super().__init__()
        if not isinstance(r_index, int) or isinstance(r_index, bool) or r_index < 0:
            raise ConfigError(f"`r_index` must be a non-negative int, got {r_index!r}")
        if not isinstance(n_local, int) or n_local < 1:
            raise ConfigError(f"`n_local` must be a positive int, got {n_local!r}")
        self.detector = RPeakDetector(fs=fs, mode=mode, config=config)
        self.fs, self.r_index, self.n_local = float(fs), r_index, n_local
        self._excl = int(round(exclude_s * fs / self.detector.decimation))  # on the detection grid

    @property
    def mode(self) -> str:
        return self.detector.mode

    @mode.setter
    def mode(self, value: str) -> None:
        self.detector.mode = value

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_windows(x, finite=False)
        r, e, n_len, q = self.r_index, self._excl, x.shape[-1], self.detector.decimation
        g = r // q  # the centre on the detection grid
        if g - e < 1 or g + e + 1 >= n_len // q:
            raise ConfigError(f"`r_index`={r} leaves no context outside the ±{e * q}-sample exclusion zone in windows "
                              f"of length {n_len}")
        peaks, pos = self.detector(x)
        pre_p, pre_t = peaks[:, : g - e].flip(-1), pos[:, : g - e].flip(-1)  # scanning backwards from the centre
        post_p, post_t = peaks[:, g + e + 1:], pos[:, g + e + 1:]
        w_pre, w_post = _nearest(pre_p), _nearest(post_p)
        has_post = w_post.sum(-1)
        t_pre = (w_pre * pre_t).sum(-1)  # no peak before: the missing weight puts it at the context start (0)
        t_post = (w_post * post_t).sum(-1) + (1 - has_post) * (n_len - 1)  # no peak after: the context end
        rr_pre = (r - t_pre) / self.fs
        rr_post = (t_post - r) / self.fs
        # the k-th previous peak, k = min(n_local, peaks before the centre); hard selection, gradient via positions
        hard_pre = (pre_p.detach() > 0.5).to(x.dtype)
        rank = hard_pre.cumsum(-1)  # 1 at the nearest previous peak, 2 at the one before, ...
        k = rank[:, -1].clamp(max=self.n_local)
        onehot = hard_pre * (rank == k[:, None]).to(x.dtype)
        t_k = (onehot * pre_t).sum(-1)
        rr_local = torch.where(k > 0, (r - t_k) / (k.clamp_min(1) * self.fs), rr_pre)
        return torch.stack([rr_pre, rr_post, rr_local, rr_pre / rr_local, rr_post / rr_local], dim=-1)

    def extra_repr(self) -> str:
        return f"fs={self.fs:g}, r_index={self.r_index}, n_local={self.n_local}, mode={self.mode!r}"


class RhythmBeatFeatures(nn.Module):
    """The fusion model's "rhythm" feature set: :class:`RhythmFeatures` on the whole context + the 7 morphology
    features of :class:`FeatureExtractor` on the ``morph_window`` samples around the centre beat.

    Shape
    -----
    ``(N, 1, L)`` -> ``(N, 12)``, columns :data:`RHYTHM_FEATURE_NAMES`.
    """

    def __init__(self, *, fs: float = 360.0, r_index: int = 3600, morph_window: int = 1024, mode: str = "hard",
                 n_local: int = 10, rpeak_config: RPeakConfig | None = None,
                 feature_config: FeatureConfig | None = None) -> None:
        super().__init__()
        if morph_window % 2 or morph_window < 2:
            raise ConfigError(f"`morph_window` must be an even int >= 2, got {morph_window!r}")
        self.rhythm = RhythmFeatures(fs=fs, r_index=r_index, n_local=n_local, mode=mode, config=rpeak_config)
        self.morph = FeatureExtractor(fs=fs, r_index=morph_window // 2, mode=mode, config=feature_config)
        self.r_index, self.morph_window = r_index, morph_window
        self._cols = [FEATURE_NAMES.index(n) for n in MORPHOLOGY_NAMES]

    @property
    def mode(self) -> str:
        return self.rhythm.mode

    @mode.setter
    def mode(self, value: str) -> None:
        self.rhythm.mode = value  # validated there, before the morphology extractor changes
        self.morph.mode = value

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.morph_window // 2
        if self.r_index - h < 0 or self.r_index + h > x.shape[-1]:
            raise ConfigError(f"the morphology window r_index ± {h} must lie inside the context of length "
                              f"{x.shape[-1]}")
        morph = self.morph(x[..., self.r_index - h: self.r_index + h])[:, self._cols]
        return torch.cat([self.rhythm(x), morph], dim=-1)
