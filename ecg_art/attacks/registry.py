"""Attack registry: name -> factory ``(classifier, *, eps, batch_size, **kw)``, and the numpy-in/numpy-out runner."""

from __future__ import annotations

import logging
import math
from typing import Any, Callable

import numpy as np

from ecg_art.estimators.checks import check_beats
from ecg_art.exceptions import AttackError, ConfigError
from ecg_art.registry import Registry

__all__ = ["ATTACKS", "AttackRunner", "register_attack", "get_attack", "list_attacks", "check_eps"]

logger = logging.getLogger(__name__)

ATTACKS: Registry[Callable[..., Any]] = Registry("attack", group="ecg_art.attacks")


def check_eps(eps: Any, *, name: str = "eps") -> float:
    """``eps`` as a float, or ConfigError naming ``name`` unless it is a finite number >= 0.

    Examples
    --------
    >>> check_eps(0.05)
    0.05
    """
    if isinstance(eps, bool) or not isinstance(eps, (int, float, np.integer, np.floating)):
        raise ConfigError(f"`{name}` must be a finite number >= 0, got {eps!r}")
    if not math.isfinite(float(eps)) or eps < 0:
        raise ConfigError(f"`{name}` must be a finite number >= 0, got {eps!r}")
    return float(eps)


def _check_batch_size(batch_size: Any) -> int:
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ConfigError(f"`batch_size` must be a positive int, got {batch_size!r}")
    return int(batch_size)


class AttackRunner:
    """What :func:`get_attack` returns: runs an attack object on numpy beats, keeping shape and dtype.

    ``generate(x, y=None)`` passes ``x`` (as float32) and integer labels ``y`` (or None: the classifier's
    predictions are used) to the wrapped attack and returns an array of ``x``'s shape and dtype. With ``eps == 0`` it
    returns a copy of ``x`` without running the attack. ``bounded`` says whether ``||x_adv - x||_inf <= eps`` holds by
    construction (False for minimum-norm attacks such as C&W-L2 and DeepFool, which ignore ``eps``).

    Before anything runs (``eps == 0`` included), ``x`` must be finite, fit the classifier's ``input_shape`` and lie in
    its ``clip_values``, and ``y`` must hold one label in ``[0, nb_classes)`` per beat; else :class:`AttackError`.
    """

    def __init__(self, name: str, attack: Any, *, eps: float, bounded: bool = True, classifier: Any = None) -> None:
        self.name = name
        self.attack = attack  # None for a bounded attack at eps == 0: nothing to run
        self.eps = eps
        self.bounded = bool(getattr(attack, "bounded", bounded))
        self.classifier = classifier  # when given, beats and labels are checked against its input_shape/nb_classes

    def __repr__(self) -> str:
        return f"AttackRunner({self.name!r}, eps={self.eps}, attack={type(self.attack).__name__})"

    def generate(self, x: np.ndarray, y: np.ndarray | None = None, **kwargs) -> np.ndarray:
        """Adversarial beats for ``x`` (shape ``(n, 1, L)``), optionally attacking the true labels ``y``."""
        if not isinstance(x, np.ndarray) or x.ndim < 2:
            raise AttackError(f"attack {self.name!r}: `x` must be a numpy array of beats (n, 1, L), got {type(x)}")
        try:
            _, y = check_beats(x, y, classifier=self.classifier, error=AttackError)
        except AttackError as exc:
            raise AttackError(f"attack {self.name!r}: {exc}") from None
        clip = getattr(self.classifier, "clip_values", None)
        if clip is not None and x.size:
            lo, hi = float(np.min(clip[0])), float(np.max(clip[1]))
            if float(x.min()) < lo or float(x.max()) > hi:
                raise AttackError(f"attack {self.name!r}: `x` spans [{float(x.min()):.6g}, {float(x.max()):.6g}], "
                                  f"outside the classifier's clip_values [{lo:.6g}, {hi:.6g}]; the attack would clip "
                                  f"it and break its eps budget (normalise the beats or widen clip_values)")
        if self.attack is None or x.shape[0] == 0:
            return x.copy()
        x_in = np.array(x, dtype=np.float32, copy=True)  # the attack never sees (nor mutates) the caller's array
        x_adv = np.asarray(self.attack.generate(x_in, y=y, **kwargs))
        if x_adv.shape != x.shape:
            raise AttackError(f"attack {self.name!r} returned shape {x_adv.shape} for input shape {x.shape}")
        return x_adv.astype(x.dtype, copy=False)


def register_attack(name: str, factory: Callable[..., Any] | None = None, *, overwrite: bool = False):
    """Register ``factory(classifier, *, eps, batch_size, **kw) -> object with generate(x, y=None)``.

    Usable as a decorator. A factory whose ``eps`` is not an L-inf bound of its perturbation (minimum-norm attacks)
    sets the attribute ``bounded = False`` on itself; bounded factories are not called at ``eps == 0``.

    Examples
    --------
    >>> @register_attack("noop-doc", overwrite=True)
    ... def noop(classifier, *, eps, batch_size, **kw):
    ...     class Noop:
    ...         def generate(self, x, y=None):
    ...             return x
    ...     return Noop()
    >>> "noop-doc" in list_attacks()
    True
    """
    return ATTACKS.register(name, factory, overwrite=overwrite)


def get_attack(name: str, classifier: Any, *, eps: float, batch_size: int = 256, **kwargs) -> AttackRunner:
    """Build the attack registered under ``name`` against ``classifier`` with budget ``eps`` (beat units, L-inf).

    Parameters
    ----------
    name : str
        Registered name (see :func:`list_attacks`), case-insensitive.
    classifier : art.estimators.classification.PyTorchClassifier
        The estimator to attack (e.g. from :func:`ecg_art.estimators.make_classifier`).
    eps : float
        Perturbation budget, a finite number >= 0, in normalised beat units.
    batch_size : int
        Beats per attack batch.
    **kwargs
        Attack-specific hyper-parameters (e.g. ``max_iter`` for "pgd").

    Examples
    --------
    >>> from ecg_art.models import BaselineCNN
    >>> from ecg_art.estimators import make_classifier
    >>> clf = make_classifier(BaselineCNN(), device="cpu")
    >>> x = np.full((2, 1, 256), 0.5, dtype=np.float32)
    >>> x_adv = get_attack("fgsm", clf, eps=0.01).generate(x)
    >>> bool(np.abs(x_adv - x).max() <= 0.01 + 1e-6)
    True
    """
    eps = check_eps(eps)
    batch_size = _check_batch_size(batch_size)
    factory = ATTACKS.get(name)
    key = str(name).strip().lower()
    bounded = bool(getattr(factory, "bounded", True))
    if bounded and eps == 0.0:
        return AttackRunner(key, None, eps=eps, bounded=True, classifier=classifier)
    attack = factory(classifier, eps=eps, batch_size=batch_size, **kwargs)
    if not callable(getattr(attack, "generate", None)):
        raise AttackError(f"attack {name!r}: factory returned {type(attack).__name__} without a generate method")
    logger.debug("built attack %s (eps=%g, batch_size=%d, %s)", key, eps, batch_size, kwargs)
    return AttackRunner(key, attack, eps=eps, bounded=bounded, classifier=classifier)


def list_attacks() -> list[str]:
    """Sorted names of the registered attacks (plug-ins included)."""
    return ATTACKS.names()
