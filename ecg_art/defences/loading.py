"""Third-party ART defences by import path, attached to an ART classifier like ecg_art's own defences."""

from __future__ import annotations

import importlib
import inspect
import logging
from dataclasses import dataclass, field
from typing import Any, Mapping

from ecg_art.exceptions import ConfigError

__all__ = ["DeferredDefence", "load_defence", "apply_defence", "defence_kind"]

logger = logging.getLogger(__name__)


def _bases() -> dict[str, type]:
    from art.defences.detector.evasion.evasion_detector import EvasionDetector
    from art.defences.postprocessor.postprocessor import Postprocessor
    from art.defences.preprocessor.preprocessor import Preprocessor
    from art.defences.trainer.trainer import Trainer
    from art.defences.transformer.transformer import Transformer

    return {"preprocessor": Preprocessor, "postprocessor": Postprocessor, "trainer": Trainer,
            "transformer": Transformer, "detector": EvasionDetector}


def defence_kind(obj: Any) -> str | None:
    """``"preprocessor"``, ``"postprocessor"``, ``"trainer"``, ``"transformer"`` or ``"detector"`` for an ART defence
    class or instance (a :class:`DeferredDefence` is judged by its class), else None.

    Examples
    --------
    >>> from ecg_art.defences import BandpassFilter
    >>> defence_kind(BandpassFilter)
    'preprocessor'
    """
    cls = obj.cls if isinstance(obj, DeferredDefence) else obj if inspect.isclass(obj) else type(obj)
    if not inspect.isclass(cls):
        return None
    return next((kind for kind, base in _bases().items() if issubclass(cls, base)), None)


@dataclass(frozen=True)
class DeferredDefence:
    """An ART defence whose constructor needs the classifier (trainers, transformers): built by :func:`apply_defence`.

    ``build(classifier)`` calls ``cls(classifier, **kwargs)``.
    """

    import_path: str
    cls: type
    kwargs: Mapping[str, Any] = field(default_factory=dict)

    def build(self, classifier: Any) -> Any:
        try:
            return self.cls(classifier, **dict(self.kwargs))
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"defence {self.import_path!r} could not be built on the classifier with "
                              f"kwargs {dict(self.kwargs)!r}: {exc}") from exc


def _resolve(import_path: str) -> type:
    if not isinstance(import_path, str) or not import_path.strip():
        raise ConfigError("`import_path` must be a non-empty string like "
                          f"'art.defences.preprocessor.FeatureSqueezing', got {import_path!r}")
    path = import_path.strip()
    module_name, sep, attr = path.partition(":")
    if not sep:
        module_name, _, attr = path.rpartition(".")
    if not module_name or not attr:
        raise ConfigError(f"defence import path {path!r} must be 'package.module.ClassName' or 'package.module:Class'")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(f"defence {path!r}: cannot import module {module_name!r} ({exc})") from exc
    obj = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise ConfigError(f"defence {path!r}: module {module_name!r} has no attribute {attr!r}")
        obj = getattr(obj, part)
    if not inspect.isclass(obj):
        raise ConfigError(f"defence {path!r} is a {type(obj).__name__}, not a class")
    return obj


def load_defence(import_path: str, **kwargs: Any) -> Any:
    """Resolve an ART defence class by import path and build it with ``kwargs``.

    Parameters
    ----------
    import_path : str
        ``"package.module.ClassName"`` or ``"package.module:ClassName"``, e.g.
        ``"art.defences.preprocessor.FeatureSqueezing"``, ``"art.defences.postprocessor.ReverseSigmoid"``,
        ``"art.defences.trainer.AdversarialTrainerTRADESPyTorch"``, ``"ecg_art.defences.BandpassFilter"``.
    **kwargs
        Constructor arguments (besides the classifier for trainers/transformers).

    Returns
    -------
    object
        The built preprocessor, postprocessor or detector; a :class:`DeferredDefence` for trainers and transformers
        (their constructor takes the classifier: :func:`apply_defence` builds them).

    Raises
    ------
    ConfigError
        The path does not import, is not a class, is not an ART defence, or the constructor refused ``kwargs``;
        the message names ``import_path``.

    Examples
    --------
    >>> sq = load_defence("art.defences.preprocessor.FeatureSqueezing", clip_values=(0.0, 1.0), bit_depth=4)
    >>> type(sq).__name__
    'FeatureSqueezing'
    """
    cls = _resolve(import_path)
    kind = defence_kind(cls)
    if kind is None:
        raise ConfigError(f"defence {import_path!r} ({cls.__module__}.{cls.__qualname__}) is not an ART defence: "
                          "expected a subclass of art.defences Preprocessor, Postprocessor, Trainer, Transformer "
                          "or an evasion detector")
    if inspect.isabstract(cls):
        raise ConfigError(f"defence {import_path!r} is an abstract class")
    if kind in ("trainer", "transformer"):
        return DeferredDefence(import_path, cls, dict(kwargs))
    try:
        defence = cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"defence {import_path!r} refused kwargs {kwargs!r}: {exc}") from exc
    logger.debug("loaded %s defence %r", kind, defence)
    return defence


def _rebuild(classifier: Any, *, pre: list, post: list) -> Any:
    params = classifier.get_params()
    params.update(preprocessing_defences=pre or None, postprocessing_defences=post or None)
    return type(classifier)(**params)


def apply_defence(classifier: Any, defence: Any) -> Any:
    """Attach ``defence`` to a copy of the ART ``classifier`` (pre/post-processors), or build a trainer on it.

    Parameters
    ----------
    classifier : art.estimators.classification.PyTorchClassifier
        The model to defend; it is not modified.
    defence : object
        What :func:`load_defence` returned (or any ART preprocessor/postprocessor instance).

    Returns
    -------
    object
        Preprocessor / postprocessor: a new classifier of the same class, sharing the torch model (and its weights),
        with the defence appended to its preprocessing / postprocessing defences. Trainer / transformer: the ART
        trainer (or transformer) built on ``classifier`` -- call its ``fit`` to train. A detector is refused (it does
        not change the classifier's predictions; evaluate it with :mod:`ecg_art.detection`).

    Examples
    --------
    >>> from ecg_art.models import BaselineCNN
    >>> from ecg_art.estimators import make_classifier
    >>> from ecg_art.defences import BandpassFilter
    >>> clf = make_classifier(BaselineCNN(), device="cpu")
    >>> defended = apply_defence(clf, BandpassFilter(device_type="cpu"))
    >>> [type(p).__name__ for p in defended.preprocessing_operations], clf.preprocessing_operations
    (['BandpassFilter'], [])
    """
    kind = defence_kind(defence)
    name = getattr(defence, "import_path", None) or type(defence).__name__
    if kind is None or inspect.isclass(defence):
        raise ConfigError(f"`defence` must be an ART defence instance (see load_defence), got {defence!r}")
    if kind in ("trainer", "transformer"):
        if isinstance(defence, DeferredDefence):
            return defence.build(classifier)
        return defence
    if kind == "detector":
        raise ConfigError(f"defence {name!r} is a detector: it flags inputs but does not change the classifier; "
                          "evaluate it with ecg_art.detection instead")
    pre = list(classifier.preprocessing_defences or [])
    post = list(classifier.postprocessing_defences or [])
    if kind == "preprocessor":
        if not getattr(defence, "apply_predict", True):
            logger.warning("preprocessor %s has apply_predict=False: it only acts when fitting, not on predictions",
                           name)
        pre.append(defence)
    else:
        post.append(defence)
    return _rebuild(classifier, pre=pre, post=post)
