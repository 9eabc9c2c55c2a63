"""CW-Linf as used in robustness benchmarks: L-inf PGD on the Carlini-Wagner margin loss, bounded by ``eps``.

ART's ``CarliniLInfMethod`` is the original minimum-norm algorithm (nested searches over ``tau`` and ``c``); on a tiny
beat CNN it needs ~100 s for 40 beats on one CPU core, too slow for a suite, so the benchmark uses this bounded form.
"""

from __future__ import annotations

import logging
from typing import Any, Callable

import numpy as np
import torch
from tqdm.auto import tqdm

from ecg_art.estimators.torch_ops import preprocess
from ecg_art.exceptions import AttackError, ConfigError

__all__ = ["cw_margin_pgd", "CarliniWagnerLinfPGD", "cw_linf"]

logger = logging.getLogger(__name__)


def cw_margin_pgd(
    logits_fn: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    eps: float,
    eps_step: float,
    max_iter: int,
    clip_values: tuple[float, float],
    kappa: float = 50.0,
) -> torch.Tensor:
    """Untargeted L-inf PGD maximising ``max_{j != y} z_j - z_y`` (capped at ``kappa``); returns ``x_adv``.

    The margin loss of Carlini & Wagner (arXiv:1608.04644) with the projected signed-gradient steps of Madry et al.
    (arXiv:1706.06083). ``||x_adv - x||_inf <= eps`` and ``x_adv`` stays inside ``clip_values``.

    Examples
    --------
    >>> net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(8, 3))
    >>> x = torch.rand(4, 1, 8); y = torch.zeros(4, dtype=torch.long)
    >>> x_adv = cw_margin_pgd(net, x, y, eps=0.1, eps_step=0.02, max_iter=5, clip_values=(0.0, 1.0))
    >>> bool((x_adv - x).abs().max() <= 0.1 + 1e-6)
    True
    """
    lo, hi = clip_values
    one_hot = torch.nn.functional.one_hot(y, num_classes=logits_fn(x[:1]).shape[1]).bool()
    x_adv = x.clone()
    for _ in range(max_iter):
        x_adv.requires_grad_(True)
        z = logits_fn(x_adv)
        z_true = z[one_hot]
        z_other = z.masked_fill(one_hot, float("-inf")).amax(dim=1)
        loss = torch.clamp(z_other - z_true, max=kappa).sum()
        (grad,) = torch.autograd.grad(loss, x_adv)
        with torch.no_grad():
            x_adv = x_adv + eps_step * grad.sign()
            x_adv = torch.min(torch.max(x_adv, x - eps), x + eps).clamp_(lo, hi)
    return x_adv.detach()


class CarliniWagnerLinfPGD:
    """Batches :func:`cw_margin_pgd` over numpy beats of an ART ``PyTorchClassifier`` (its preprocessing included).

    Parameters
    ----------
    classifier : art.estimators.classification.PyTorchClassifier
        Estimator with ``clip_values``; numpy preprocessing is differentiated with ART's gradient estimate (BPDA).
    eps : float
        L-inf budget in beat units.
    eps_step : float, optional
        Step size (``eps / 4`` when None).
    max_iter : int
        PGD steps.
    kappa : float
        Cap of the margin loss.
    batch_size : int
        Beats per batch.
    verbose : bool
        Progress bar over batches.
    """

    def __init__(self, classifier: Any, *, eps: float, eps_step: float | None = None, max_iter: int = 100,
                 kappa: float = 50.0, batch_size: int = 256, verbose: bool = False) -> None:
        if classifier.clip_values is None:
            raise AttackError("cw-linf needs a classifier with `clip_values`")
        if isinstance(max_iter, bool) or not isinstance(max_iter, int) or max_iter < 1:
            raise ConfigError(f"`max_iter` must be a positive int, got {max_iter!r}")
        step = eps / 4.0 if eps_step is None else float(eps_step)
        if not step > 0:
            raise ConfigError(f"`eps_step` must be > 0, got {eps_step!r}")
        self.classifier, self.eps, self.eps_step, self.max_iter = classifier, float(eps), step, max_iter
        self.kappa, self.batch_size, self.verbose = float(kappa), int(batch_size), verbose

    def _logits(self, x: torch.Tensor) -> torch.Tensor:
        # numpy preprocessing (e.g. FeatureSqueezing) through ART's gradient estimate of it (BPDA)
        return self.classifier.model(preprocess(self.classifier, x))

    def generate(self, x: np.ndarray, y: np.ndarray | None = None, **kwargs) -> np.ndarray:
        """Adversarial beats for ``x`` ``(n, 1, L)``; ``y`` integer labels (None: the classifier's predictions)."""
        if kwargs:
            raise ConfigError(f"cw-linf: unexpected generate() arguments {sorted(kwargs)}")
        clf = self.classifier
        if y is None:
            y = np.argmax(clf.predict(x, batch_size=self.batch_size), axis=1)
        y = np.asarray(y)
        y = np.argmax(y, axis=1) if y.ndim == 2 else y.astype(np.int64)
        lo, hi = (float(v) for v in np.ravel(clf.clip_values))
        was_training = clf.model.training
        clf.model.eval()
        out = np.empty_like(x, dtype=np.float32)
        try:
            for start in tqdm(range(0, len(x), self.batch_size), desc="cw-linf", disable=not self.verbose,
                              leave=False):
                xb = torch.from_numpy(np.ascontiguousarray(x[start:start + self.batch_size], dtype=np.float32))
                yb = torch.from_numpy(y[start:start + self.batch_size]).to(clf.device)
                x_adv = cw_margin_pgd(self._logits, xb.to(clf.device), yb, eps=self.eps, eps_step=self.eps_step,
                                      max_iter=self.max_iter, clip_values=(lo, hi), kappa=self.kappa)
                out[start:start + len(xb)] = x_adv.cpu().numpy()
        finally:
            clf.model.train(was_training)
        return out


def cw_linf(classifier: Any, *, eps: float, batch_size: int = 256, **kwargs) -> CarliniWagnerLinfPGD:
    """Attack factory (the :func:`ecg_art.attacks.register_attack` signature) of :class:`CarliniWagnerLinfPGD`.

    Examples
    --------
    >>> from ecg_art.models import BaselineCNN
    >>> from ecg_art.estimators import make_classifier
    >>> clf = make_classifier(BaselineCNN(), device="cpu")
    >>> x = np.full((2, 1, 256), 0.5, dtype=np.float32)
    >>> x_adv = cw_linf(clf, eps=0.02, max_iter=3).generate(x)
    >>> bool(np.abs(x_adv - x).max() <= 0.02 + 1e-6)
    True
    """
    return CarliniWagnerLinfPGD(classifier, eps=eps, batch_size=batch_size, **kwargs)
