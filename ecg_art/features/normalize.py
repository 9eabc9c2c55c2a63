"""Feature standardisation: an ``nn.Module`` holding per-feature mean/std fitted on training features."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ecg_art.exceptions import ConfigError

__all__ = ["FeatureNormalizer"]


class FeatureNormalizer(nn.Module):
    """``(f - mean) / std`` with buffers ``mean`` and ``std`` (saved in the state dict), optionally clipped.

    Parameters
    ----------
    n_features : int
        Number of features (columns).
    clip : float or None
        Standardised values are clamped to ``[-clip, clip]`` (bounds the influence of outlying, e.g. attacked,
        features); ``None`` disables clipping.
    min_std : float
        Floor on the fitted std (constant features).

    Examples
    --------
    >>> norm = FeatureNormalizer(n_features=2).fit(np.array([[0.0, 1.0], [2.0, 3.0]]))
    >>> norm(torch.tensor([[1.0, 2.0]])).tolist()
    [[0.0, 0.0]]
    """

    def __init__(self, *, n_features: int = 12, clip: float | None = 10.0, min_std: float = 1e-6) -> None:
        super().__init__()
        if not isinstance(n_features, int) or n_features < 1:
            raise ConfigError(f"`n_features` must be a positive int, got {n_features!r}")
        if clip is not None and not clip > 0:
            raise ConfigError(f"`clip` must be positive or None, got {clip!r}")
        self.clip = clip
        self.min_std = float(min_std)
        self.register_buffer("mean", torch.zeros(n_features))
        self.register_buffer("std", torch.ones(n_features))
        self.register_buffer("fitted", torch.tensor(False))

    def fit(self, features) -> "FeatureNormalizer":
        """Set ``mean``/``std`` from a ``(n, n_features)`` array of training features; returns ``self``."""
        f = torch.as_tensor(np.asarray(features, dtype=np.float64))
        if f.ndim != 2 or f.shape[1] != self.mean.numel() or f.shape[0] < 2:
            raise ConfigError(
                f"`features` must have shape (n >= 2, {self.mean.numel()}), got {tuple(f.shape)}"
            )
        if not bool(torch.isfinite(f).all()):
            raise ConfigError("`features` contains NaN or infinite values")
        self.mean.copy_(f.mean(0).to(self.mean.dtype))
        self.std.copy_(f.std(0).clamp_min(self.min_std).to(self.std.dtype))
        self.fitted.fill_(True)
        return self

    def forward(self, f: torch.Tensor) -> torch.Tensor:
        z = (f - self.mean) / self.std
        return z.clamp(-self.clip, self.clip) if self.clip is not None else z

    def extra_repr(self) -> str:
        return f"n_features={self.mean.numel()}, clip={self.clip}, fitted={bool(self.fitted)}"
