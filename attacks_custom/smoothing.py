"""Gaussian smoothing kernels of SAP (Han et al. 2020) and the 'same'-length smoothing they define."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["gaussian_kernels", "smooth"]


def gaussian_kernels(
    *,
    kernel_sizes: Sequence[int] = (5, 7, 11, 15, 19),
    sigmas: Sequence[float] = (1.0, 3.0, 5.0, 7.0, 10.0),
    fs: float = 360.0,
    kernel_fs: float = 300.0,
    scale_kernels: bool = True,
) -> torch.Tensor:
    """Every (size, sigma) Gaussian kernel, each normalised to sum 1, stacked as ``(K, 1, max_size)``.

    The reference kernels were designed for 300 Hz signals; with ``scale_kernels`` every size and sigma is multiplied by
    ``fs / kernel_fs`` (sizes rounded to the nearest odd integer), so they cover the same duration at ``fs``.
    Smaller kernels are zero-padded, centred, to the largest size, so one ``conv1d`` applies them all.

    Examples
    --------
    >>> k = gaussian_kernels(fs=360)
    >>> tuple(k.shape), round(float(k.sum(-1).min()), 6)
    ((25, 1, 23), 1.0)
    """
    factor = fs / kernel_fs if scale_kernels else 1.0
    sizes = [int(2 * np.floor(s * factor / 2) + 1) for s in kernel_sizes]
    width = max(sizes)
    rows = []
    for size in sizes:
        for sigma in sigmas:
            t = np.arange(size) - size // 2
            g = np.exp(-(t**2) / (2.0 * (sigma * factor) ** 2))
            row = np.zeros(width)
            row[(width - size) // 2 : (width - size) // 2 + size] = g / g.sum()
            rows.append(row)
    return torch.tensor(np.stack(rows)[:, None, :], dtype=torch.float32)


def smooth(theta: torch.Tensor, kernels: torch.Tensor, *, padding: str = "zeros") -> torch.Tensor:
    """Mean of the convolutions of ``theta`` (``(n, L)`` or ``(n, 1, L)``) with every kernel, 'same' length.

    The mean of K convolutions equals one convolution with the mean kernel (convolution is linear), so the K kernels
    are averaged first and a single-channel ``conv1d`` does the work. ``padding`` is ``"zeros"`` (as the reference code)
    or ``"replicate"``.

    Examples
    --------
    >>> k = gaussian_kernels(scale_kernels=False)
    >>> smooth(torch.ones(1, 1, 50), k, padding="replicate").allclose(torch.ones(1, 1, 50))
    True
    """
    shape = theta.shape
    t = theta.reshape(shape[0], 1, shape[-1])
    kernel = kernels.to(dtype=theta.dtype, device=theta.device).mean(dim=0, keepdim=True)
    half = kernel.shape[-1] // 2
    if padding == "replicate":
        out = F.conv1d(F.pad(t, (half, half), mode="replicate"), kernel)
    else:
        out = F.conv1d(t, kernel, padding=half)
    return out.reshape(shape)
