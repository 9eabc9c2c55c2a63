"""Names, units and tunable numbers (``FeatureConfig``) of the 12 physiological beat features."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["FEATURE_NAMES", "FEATURE_UNITS", "FEATURE_MODES", "PIECEWISE_CONSTANT", "feature_names", "FeatureConfig",
           "FeatureModeMixin"]

#: The 12 features, in column order (see docs/features.md for the definitions).
FEATURE_NAMES: tuple[str, ...] = (
    "rr_pre", "rr_post", "rr_ratio", "rr_local",
    "r_amp", "q_amp", "s_amp", "p_amp", "t_amp",
    "qrs_width", "qrs_energy", "qrs_amp_ratio",
)
#: Unit of each feature; ``a.u.`` is the unit of the input amplitude (normalised beat unit, or mV on raw signals).
FEATURE_UNITS: dict[str, str] = {
    "rr_pre": "s", "rr_post": "s", "rr_ratio": "1", "rr_local": "s",
    "r_amp": "a.u.", "q_amp": "a.u.", "s_amp": "a.u.", "p_amp": "a.u.", "t_amp": "a.u.",
    "qrs_width": "s", "qrs_energy": "a.u.^2", "qrs_amp_ratio": "1",
}
#: Extraction modes: the deployed non-differentiable extractor, its smooth surrogate, and straight-through (BPDA).
FEATURE_MODES: tuple[str, ...] = ("hard", "soft", "bpda")
#: Features whose hard-mode value is piecewise constant in the input (zero gradient almost everywhere).
PIECEWISE_CONSTANT: tuple[str, ...] = ("rr_pre", "rr_post", "rr_ratio", "rr_local", "qrs_width")


class FeatureModeMixin:
    """A ``mode`` attribute restricted to :data:`FEATURE_MODES` (the extractors' and the R-peak detector's)."""

    @property
    def mode(self) -> str:
        return self._mode

    @mode.setter
    def mode(self, value: str) -> None:
        from ecg_art.exceptions import ConfigError

        if value not in FEATURE_MODES:
            raise ConfigError(f"`mode` must be one of {FEATURE_MODES}, got {value!r}")
        self._mode = value

    def soft_needed(self, x) -> bool:
        """Whether a call on ``x`` needs the soft path: for its values (``"soft"``) or its gradient (``"bpda"`` where a
        gradient of ``x`` is taken); ``"bpda"`` without one returns exactly the hard values its straight-through
        carries, so the soft path can be skipped (a fusion model's prediction: 94 -> 36 ms for 256 contexts,
        ``benchmarks/bench_features.py``, ``predict_bpda``)."""
        import torch

        return self.mode == "soft" or (self.mode == "bpda" and torch.is_grad_enabled() and x.requires_grad)


def feature_names() -> list[str]:
    """Names of the 12 features in column order.

    Examples
    --------
    >>> feature_names()[:3]
    ['rr_pre', 'rr_post', 'rr_ratio']
    """
    return list(FEATURE_NAMES)


@dataclass(frozen=True)
class FeatureConfig:
    """Every number of the extractor: analysis windows (seconds, relative to the centre R peak) and soft temperatures.

    Attributes
    ----------
    refractory_s : float
        Half-width of the zone around the centre R excluded from the neighbour-peak search.
    envelope_s : float
        Moving-RMS window of the derivative envelope used to find neighbouring R peaks.
    peak_threshold : float
        A neighbouring beat is the first sample, scanning outwards from the centre, whose derivative envelope exceeds
        this fraction of the largest envelope on that side (the nearest strong QRS, not the largest one).
    refine_s, refine_inward_s : float
        The threshold crossing (the QRS edge nearest the centre) is refined to the largest ``|x - baseline|`` (the
        R peak / main QRS deflection, where MIT-BIH annotations sit) from ``refine_inward_s`` seconds towards the
        centre to ``refine_s`` seconds away from it (wide ventricular beats need ~0.3 s).
    refine_penalty : float
        Score penalty per second outside the refinement window (a hard cut in hard mode, a slope in soft mode).
    qrs_half_s : float
        Half-width of the QRS window (R amplitude, main-deflection amplitude, QRS energy).
    q_window_s, s_window_s : float
        Search window before (Q) and after (S) the R peak for the minima.
    p_window_s, t_window_s : tuple of float
        ``(start, stop)`` of the P-wave and T-wave windows, seconds relative to R (P: negative).
    width_envelope_s : float
        Moving-average window of ``|derivative|`` used for the QRS width.
    width_half_s : float
        Half-width of the window in which the QRS width is counted.
    width_threshold : float
        Fraction of the maximum ``|derivative|`` envelope above which a sample counts as QRS.
    soft_temperature : float
        Softmax temperature of the soft-argmax (in units of the peak score, which is in ``[-1, 1]``-ish).
    soft_threshold_temperature : float
        Sigmoid temperature of the soft QRS-width threshold (in units of the envelope fraction).
    soft_crossing_temperature : float
        Sigmoid temperature of the soft first threshold crossing (neighbour search); it must be sharp, or the
        "no crossing yet" probability leaks along long flat stretches.
    eps : float
        Added to denominators (flat windows).
    """

    refractory_s: float = 0.25
    envelope_s: float = 0.06
    peak_threshold: float = 0.35
    refine_s: float = 0.3
    refine_inward_s: float = 0.03
    refine_penalty: float = 50.0
    qrs_half_s: float = 0.05
    q_window_s: float = 0.08
    s_window_s: float = 0.10
    p_window_s: tuple[float, float] = (-0.30, -0.10)
    t_window_s: tuple[float, float] = (0.15, 0.45)
    width_envelope_s: float = 0.02
    width_half_s: float = 0.15
    width_threshold: float = 0.3
    soft_temperature: float = 0.05
    soft_threshold_temperature: float = 0.05
    soft_crossing_temperature: float = 0.02
    eps: float = 1e-6
