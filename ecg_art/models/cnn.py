"""Baseline 1D-CNN heartbeat classifier (~42K parameters) and parameter counting."""

from __future__ import annotations

import torch
from torch import nn

from ecg_art.exceptions import ConfigError

__all__ = ["BaselineCNN", "MaxPool1d", "WIDE", "count_parameters", "wide_cnn"]


def _check_positive_ints(name: str, values) -> tuple[int, ...]:
    values = tuple(values)
    if not values or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in values):
        raise ConfigError(f"`{name}` must be a non-empty sequence of positive ints, got {values!r}")
    return values


class MaxPool1d(nn.MaxPool1d):
    """``torch.nn.MaxPool1d`` (window = stride, no padding) whose backward is faster on CPU: where gradients are
    taken, the windows are a reshape and their maxima a ``max`` over the last axis (same values, and the gradient goes
    to the window's maximum as torch's pooling sends it); without gradients, or on other devices, torch's own pooling.
    Where gradients are taken, torch's CPU ``max_pool1d`` cost about as much time as the convolutions in the attacks
    and adversarial training of the 42,885-parameter CNN (a cProfile of the quick AT stage); attack and training steps
    are 1.1-1.2x faster so (``benchmarks/bench_maxpool.py``). No parameters: checkpoints are unchanged.

    Examples
    --------
    >>> x = torch.randn(2, 3, 9, requires_grad=True)
    >>> bool(torch.equal(MaxPool1d(2)(x), nn.MaxPool1d(2)(x)))
    True
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        k = self.kernel_size if isinstance(self.kernel_size, int) else self.kernel_size[0]
        simple = (self.stride in (k, (k,)) and self.padding in (0, (0,)) and self.dilation in (1, (1,))
                  and not self.ceil_mode and not self.return_indices)
        if simple and x.device.type == "cpu" and x.requires_grad and torch.is_grad_enabled():
            n = x.shape[-1] // k
            return x[..., : n * k].unflatten(-1, (n, k)).max(dim=-1).values
        return super().forward(x)


def conv_blocks(channels, kernel_sizes, *, input_length: int, pool_size: int) -> tuple[list[nn.Module], int]:
    """Conv1d -> BatchNorm -> ReLU (-> MaxPool while the signal is long enough) per block; the layers and the last
    block's channel count. Shared by :class:`BaselineCNN` and the fusion model's CNN branch."""
    layers: list[nn.Module] = []
    c_in, length = 1, input_length
    for c_out, k in zip(channels, kernel_sizes):
        layers += [nn.Conv1d(c_in, c_out, k, padding=k // 2), nn.BatchNorm1d(c_out), nn.ReLU(inplace=True)]
        if length >= pool_size > 1:
            layers.append(MaxPool1d(pool_size))
            length //= pool_size
        c_in = c_out
    return layers, c_in


class BaselineCNN(nn.Module):
    """A small 1D-CNN for single-lead heartbeats: conv blocks, global average pooling and a dense head.

    Each block is ``Conv1d -> BatchNorm1d -> ReLU -> MaxPool1d``; the head is
    ``Linear(channels[-1], hidden) -> ReLU -> Dropout -> Linear(hidden, n_classes)``. With the defaults the network
    has 42,885 trainable parameters.

    Parameters
    ----------
    n_classes : int
        Width of the output (logits).
    input_length : int
        Samples per beat ``L``; inputs must have shape ``(N, 1, L)``.
    channels : tuple of int
        Output channels of each conv block.
    kernel_sizes : tuple of int
        Kernel size of each conv block (same length as ``channels``); convolutions are "same"-padded.
    pool_size : int
        Max-pooling window and stride after each block (skipped once the signal is shorter than the window).
    hidden : int
        Width of the hidden dense layer.
    dropout : float
        Dropout probability before the output layer (inactive in eval mode).

    Shape
    -----
    input ``(N, 1, input_length)`` float32 -> logits ``(N, n_classes)``.

    Examples
    --------
    >>> _ = torch.manual_seed(0)
    >>> model = BaselineCNN().eval()
    >>> model(torch.zeros(2, 1, 256)).shape
    torch.Size([2, 5])
    >>> count_parameters(model)
    42885
    """

    def __init__(
        self,
        *,
        n_classes: int = 5,
        input_length: int = 256,
        channels: tuple[int, ...] = (16, 32, 64, 64),
        kernel_sizes: tuple[int, ...] = (7, 5, 5, 5),
        pool_size: int = 2,
        hidden: int = 128,
        dropout: float = 0.2,
    ) -> None:
        super().__init__()
        channels = _check_positive_ints("channels", channels)
        kernel_sizes = _check_positive_ints("kernel_sizes", kernel_sizes)
        if len(channels) != len(kernel_sizes):
            raise ConfigError(
                f"`kernel_sizes` must have one entry per conv block ({len(channels)}), got {kernel_sizes!r}"
            )
        for name, value in (("n_classes", n_classes), ("input_length", input_length), ("pool_size", pool_size),
                            ("hidden", hidden)):
            _check_positive_ints(name, (value,))
        if n_classes < 2:
            raise ConfigError(f"`n_classes` must be >= 2, got {n_classes!r}")
        if not 0.0 <= float(dropout) < 1.0:
            raise ConfigError(f"`dropout` must be in [0, 1), got {dropout!r}")
        self.n_classes = n_classes
        self.input_length = input_length
        layers, c_in = conv_blocks(channels, kernel_sizes, input_length=input_length, pool_size=pool_size)
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool1d(1)
        self.head = nn.Sequential(
            nn.Flatten(),
            nn.Linear(c_in, hidden),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(hidden, n_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 3 or x.shape[1] != 1:
            raise ConfigError(f"BaselineCNN expects input of shape (N, 1, L), got {tuple(x.shape)}")
        return self.head(self.pool(self.features(x)))


def count_parameters(model: nn.Module, *, trainable_only: bool = True) -> int:
    """Number of (trainable) parameters of ``model``.

    Examples
    --------
    >>> count_parameters(nn.Linear(3, 2))
    8
    """
    return int(sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only))


#: The "beyond" variant: every conv block and the dense layer twice as wide (about 4x the parameters), to tell what
#: capacity adds from what the training method adds; the 42,885-parameter model stays the headline.
WIDE = {"channels": (32, 64, 128, 128), "hidden": 256}


def wide_cnn(**kwargs) -> BaselineCNN:
    """:class:`BaselineCNN` with the :data:`WIDE` widths (registered as ``"baseline_cnn_wide"``).

    Examples
    --------
    >>> count_parameters(wide_cnn())
    168709
    """
    return BaselineCNN(**{**WIDE, **kwargs})
