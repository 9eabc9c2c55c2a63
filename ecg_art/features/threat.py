"""Threat models of the rhythm-aware fusion model, and an attack aimed at its rhythm features.

(a) ``"context"``: the attacker controls every sample the model reads (beat window and rhythm context) within eps;
the model is attacked as it is. (b) ``"beat"``: the attacker controls the 256-sample beat window only; the rest of
the context is fixed: :class:`BeatWindowOnly` makes that a model whose input *is* the beat window, so every ART /
torchattacks attack runs on it unchanged, with the beat-only CNN's own domain and eps.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import torch
from torch import nn

from ecg_art.exceptions import ConfigError

__all__ = ["THREAT_MODELS", "BeatWindowOnly", "evaluate_beat_window_only", "rhythm_feature_attack"]

logger = logging.getLogger(__name__)

#: (a) attacker controls the whole context; (b) the beat window only.
THREAT_MODELS = ("context", "beat")


class BeatWindowOnly(nn.Module):
    """A fusion model seen through its beat window: input ``(N, 1, crop_length)``, the rest of each context fixed.

    Set :attr:`context` to the clean contexts ``(N, 1, L)`` of the beats about to be attacked (or one context,
    broadcast); :meth:`forward` pastes the (attacked) window into them at ``model.crop`` and calls the model.
    Attacks that pass a subset of the batch (torchattacks' APGD attacks only the beats still correctly classified)
    are served by matching each window to the nearest clean window (L-inf); the matches must keep the batch order,
    or the call is refused, so a mis-aligned batch never passes silently.
    """

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        if not hasattr(model, "crop"):
            raise ConfigError("`model` must have a `crop` (start, stop) attribute, like FusionNet")
        self.model = model
        self.context: torch.Tensor | None = None

    def forward(self, xb: torch.Tensor) -> torch.Tensor:
        ctx, (s, e) = self.context, self.model.crop
        if ctx is None:
            raise ConfigError("BeatWindowOnly.context is not set: assign the clean contexts of the batch first")
        if xb.ndim != 3 or xb.shape[1] != 1 or xb.shape[-1] != e - s:
            raise ConfigError(f"BeatWindowOnly expects beat windows (N, 1, {e - s}), got {tuple(xb.shape)}")
        ctx = ctx.to(xb.device, xb.dtype)
        if ctx.shape[0] not in (1, xb.shape[0]):
            if xb.shape[0] > ctx.shape[0]:
                raise ConfigError(f"batch of {xb.shape[0]} beat windows for {ctx.shape[0]} contexts")
            with torch.no_grad():
                dist = (xb.detach()[:, None, 0] - ctx[None, :, 0, s:e]).abs().amax(-1)  # (m, N)
                rows = dist.argmin(1)
            if xb.shape[0] > 1 and not bool((rows[1:] > rows[:-1]).all()):
                raise ConfigError(f"cannot align a batch of {xb.shape[0]} beat windows with their {ctx.shape[0]} "
                                  f"contexts (nearest clean windows out of order)")
            ctx = ctx[rows]
        ctx = ctx.expand(xb.shape[0], -1, -1)
        return self.model(torch.cat([ctx[..., :s], xb, ctx[..., e:]], dim=-1))


def evaluate_beat_window_only(model: nn.Module, x_context: np.ndarray, y: np.ndarray, *, attacks, eps,
                              attack_kwargs: dict[str, Any] | None = None, chunk: int = 128,
                              device: str = "auto", nb_classes: int = 5) -> dict[tuple[str, float], np.ndarray]:
    """Per-beat correctness ``{(attack, eps): (n,) bool}`` of ``model`` under threat model (b).

    The beats are attacked ``chunk`` at a time through :class:`BeatWindowOnly` wrapped as an ART classifier with
    ``clip_values=(0, 1)`` (the crop of a context scaled in its beat window's unit is that window); the attack and
    prediction batch sizes equal ``chunk`` so each batch is one chunk of contexts."""
    from ecg_art.attacks import evaluate_attacks
    from ecg_art.estimators import make_classifier, predict_labels

    if not isinstance(chunk, int) or chunk < 1:
        raise ConfigError(f"`chunk` must be a positive int, got {chunk!r}")
    s, e = model.crop
    wrapped = BeatWindowOnly(model)
    ctx = torch.as_tensor(np.asarray(x_context, dtype=np.float32))
    wrapped.context = ctx[:1]
    clf = make_classifier(wrapped, input_length=e - s, nb_classes=nb_classes, clip_values=(0.0, 1.0), device=device)
    xb = np.ascontiguousarray(x_context[..., s:e])
    if xb.min() < 0 or xb.max() > 1:
        raise ConfigError("the contexts' beat windows leave [0, 1]: threat model (b) needs contexts scaled in the "
                          "unit of their beat window (BeatConfig.norm_span)")
    out: dict[tuple[str, float], list[np.ndarray]] = {}
    for i in range(0, len(y), chunk):
        wrapped.context = ctx[i:i + chunk]
        _, adv = evaluate_attacks(clf, xb[i:i + chunk], y[i:i + chunk], attacks=attacks, eps=eps, batch_size=chunk,
                                  attack_kwargs=attack_kwargs, return_adv=True)
        for key, x_adv in adv.items():
            out.setdefault(key, []).append(predict_labels(clf, x_adv, batch_size=chunk) == y[i:i + chunk])
    wrapped.context = None
    return {k: np.concatenate(v) for k, v in out.items()}


def rhythm_feature_attack(extractor: nn.Module, x: np.ndarray, *, eps: float, steps: int = 20,
                          columns: tuple[int, ...] = (0, 1, 2, 3, 4), scale: np.ndarray | None = None,
                          clip_values: tuple[float, float] | None = None, batch_size: int = 128,
                          device: str | torch.device = "cpu") -> np.ndarray:
    """PGD (L-inf ``eps``) that maximises how far the features ``columns`` of ``extractor`` move from their clean
    values: ``sum(((f(x + d) - f(x)) / scale)^2)`` through the extractor's ``"bpda"`` mode (hard forward, soft
    gradient), with a random start; returns the attacked inputs (score them with the hard extractor).

    ``scale``: per-column divisors (e.g. the fusion model's feature std); ones when omitted."""
    if not eps > 0:
        raise ConfigError(f"`eps` must be positive, got {eps!r}")
    if not isinstance(steps, int) or steps < 1:
        raise ConfigError(f"`steps` must be a positive int, got {steps!r}")
    cols = list(columns)
    sc = torch.ones(len(cols)) if scale is None else torch.as_tensor(np.asarray(scale, np.float32))
    mode = extractor.mode
    gen = torch.Generator().manual_seed(0)
    out = []
    try:
        for i in range(0, len(x), batch_size):
            xb = torch.as_tensor(np.asarray(x[i:i + batch_size], np.float32)).to(device)
            extractor.mode = "hard"
            with torch.no_grad():
                f0 = extractor(xb)[:, cols]
            extractor.mode = "bpda"
            delta = (torch.rand(xb.shape, generator=gen) * 2 - 1).to(device) * eps
            for _ in range(steps):
                delta.requires_grad_(True)
                f = extractor(xb + delta)[:, cols]
                loss = (((f - f0) / sc.to(device)) ** 2).sum()
                (grad,) = torch.autograd.grad(loss, delta)
                with torch.no_grad():
                    delta = (delta + 2.5 * eps / steps * grad.sign()).clamp(-eps, eps)
                    if clip_values is not None:
                        delta = (xb + delta).clamp(*clip_values) - xb
            out.append((xb + delta).detach().cpu().numpy())
    finally:
        extractor.mode = mode
    return np.concatenate(out)
