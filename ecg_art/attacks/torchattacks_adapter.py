"""Run torchattacks (image attacks on [0, 1]) on 1D beats of an ART classifier, with explicit domain mapping."""

from __future__ import annotations

import logging
from typing import Any, Callable

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from ecg_art.estimators.torch_ops import preprocess
from ecg_art.exceptions import AttackError, ConfigError

__all__ = ["TorchattacksAdapter", "BeatImageModel"]

logger = logging.getLogger(__name__)


class BeatImageModel(nn.Module):
    """Presents an ART classifier's beat model as an image model on ``[0, 1]``.

    Input ``z`` of shape ``(N, 1, 1, L)`` in ``[0, 1]`` is mapped to beats ``x = lo + (hi - lo) * z`` of shape
    ``(N, 1, L)``; the classifier's preprocessing (if any) is applied — numpy preprocessors through ART's gradient
    estimate of them (BPDA, as ART's ``loss_gradient`` does) — then its model gives the logits.
    """

    def __init__(self, classifier: Any, *, lo: float, hi: float) -> None:
        super().__init__()
        self.net = classifier.model  # the user's nn.Module (registered so torchattacks finds device and eval())
        self._classifier = classifier
        self.lo, self.scale = float(lo), float(hi - lo)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = (self.lo + self.scale * z).reshape(z.shape[0], 1, -1)
        return self.net(preprocess(self._classifier, x))


class TorchattacksAdapter:
    """Runs a torchattacks attack on the 1D beats of an ART ``PyTorchClassifier``.

    torchattacks expects images in ``[0, 1]`` and silently clamps to it. The adapter maps the classifier's
    ``clip_values = (lo, hi)`` affinely onto ``[0, 1]`` (``z = (x - lo) / (hi - lo)``), hands the attack an L-inf
    budget of ``eps / (hi - lo)``, and maps the result back; inputs outside ``clip_values`` are refused with
    :class:`AttackError` (never clamped).

    Parameters
    ----------
    classifier : art.estimators.classification.PyTorchClassifier
        Estimator with ``clip_values``; numpy preprocessing defences are differentiated with ART's gradient estimate
        (BPDA).
    attack_factory : callable
        ``attack_factory(image_model, eps_unit) -> torchattacks.Attack``; ``eps_unit`` is ``eps`` in ``[0, 1]`` units.
    eps : float
        L-inf budget in beat units (ignored by minimum-norm attacks, see ``bounded``).
    name : str
        Attack name used in messages.
    batch_size : int
        Beats per torchattacks call.
    bounded : bool
        Whether the attack keeps ``||x_adv - x||_inf <= eps`` by construction.
    verbose : bool
        Show a progress bar over batches.

    Examples
    --------
    >>> import torchattacks
    >>> from ecg_art.models import BaselineCNN
    >>> from ecg_art.estimators import make_classifier
    >>> clf = make_classifier(BaselineCNN(), clip_values=(-1.0, 1.0), device="cpu")
    >>> adapter = TorchattacksAdapter(clf, lambda m, e: torchattacks.FGSM(m, eps=e), eps=0.02, name="ta-fgsm")
    >>> x = np.zeros((2, 1, 256), dtype=np.float32)
    >>> float(np.abs(adapter.generate(x) - x).max()) <= 0.02 + 1e-6
    True
    """

    rounding_tol = 1e-5  # float slack when mapping [0, 1] back to beat units

    def __init__(
        self,
        classifier: Any,
        attack_factory: Callable[[nn.Module, float], Any],
        *,
        eps: float,
        name: str = "torchattacks",
        batch_size: int = 256,
        bounded: bool = True,
        verbose: bool = False,
    ) -> None:
        clip = getattr(classifier, "clip_values", None)
        if clip is None:
            raise AttackError(f"attack {name!r} needs a classifier with `clip_values` (torchattacks works on [0, 1])")
        lo, hi = (np.asarray(v, dtype=np.float64) for v in clip)
        if lo.size != 1 or hi.size != 1:
            raise AttackError(f"attack {name!r} needs scalar `clip_values`, got arrays of shapes {lo.shape}, {hi.shape}")
        self.lo, self.hi = float(lo), float(hi)
        self.name, self.eps, self.batch_size = name, float(eps), int(batch_size)
        self.bounded, self.verbose = bounded, verbose
        self.classifier = classifier
        self.image_model = BeatImageModel(classifier, lo=self.lo, hi=self.hi)
        self.eps_unit = self.eps / (self.hi - self.lo)
        self.attack = attack_factory(self.image_model, self.eps_unit)

    def __repr__(self) -> str:
        return f"TorchattacksAdapter({self.name!r}, {type(self.attack).__name__}, eps={self.eps})"

    def _check_domain(self, x: np.ndarray) -> None:
        if not np.all(np.isfinite(x)):
            raise AttackError(f"attack {self.name!r}: input beats contain NaN or inf")
        x_min, x_max = float(x.min()), float(x.max())
        if x_min < self.lo or x_max > self.hi:
            raise AttackError(
                f"attack {self.name!r}: input beats span [{x_min:.6g}, {x_max:.6g}], outside the classifier's "
                f"clip_values [{self.lo:.6g}, {self.hi:.6g}]; torchattacks would clamp them silently, so they are "
                f"refused (normalise the beats or widen clip_values)"
            )

    def generate(self, x: np.ndarray, y: np.ndarray | None = None, **kwargs) -> np.ndarray:
        """Adversarial beats for ``x`` (``(n, 1, L)`` in ``clip_values``); ``y``: integer labels or None
        (the classifier's predictions)."""
        if kwargs:
            raise ConfigError(f"attack {self.name!r}: unexpected generate() arguments {sorted(kwargs)}")
        x = np.asarray(x, dtype=np.float32)
        if x.ndim != 3:
            raise AttackError(f"attack {self.name!r}: beats must have shape (n, 1, L), got {x.shape}")
        self._check_domain(x)
        if y is None:
            y = np.argmax(self.classifier.predict(x, batch_size=self.batch_size), axis=1)
        y = np.asarray(y)
        if y.ndim == 2:
            y = np.argmax(y, axis=1)
        # torchattacks puts the model in eval mode for the attack and then calls .train() if the module it was given
        # was in training mode: mirror the user's model's flag on the wrapper so its mode survives the attack.
        self.image_model.train(self.image_model.net.training)
        device = self.classifier.device
        scale = self.hi - self.lo
        out = np.empty_like(x)
        starts = range(0, len(x), self.batch_size)
        for start in tqdm(starts, desc=self.name, disable=not self.verbose, leave=False):
            xb = torch.from_numpy(x[start:start + self.batch_size]).to(device)
            yb = torch.from_numpy(y[start:start + self.batch_size].astype(np.int64)).to(device)
            zb = ((xb - self.lo) / scale).clamp_(0.0, 1.0).unsqueeze(2)  # clamp only absorbs rounding: domain checked
            z_adv = self.attack(zb, yb).detach()
            out[start:start + len(xb)] = (self.lo + scale * z_adv.reshape(xb.shape)).cpu().numpy()
        # torchattacks keeps z in [0, 1] and (for bounded attacks) |z_adv - z| <= eps_unit; mapping back to beat
        # units can overshoot by float rounding only, which is clipped away. Anything larger is a broken promise.
        tol = self.rounding_tol * max(scale, 1.0)
        if self.bounded and float(np.abs(out - x).max(initial=0.0)) > self.eps + tol:
            raise AttackError(f"attack {self.name!r} exceeded its L-inf budget eps={self.eps:g}")
        np.clip(out, self.lo, self.hi, out=out)
        if self.bounded:
            np.clip(out, x - self.eps, x + self.eps, out=out)
        return out
