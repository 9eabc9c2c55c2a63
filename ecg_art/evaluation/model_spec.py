"""What ``ecg-art benchmark MODEL`` accepts: ``NAME:CHECKPOINT.pt``, a checkpoint path, an MLflow model URI, or
``zoo:NAME`` (a model shipped with the package, :mod:`ecg_art.zoo`)."""

from __future__ import annotations

import inspect
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from ecg_art.exceptions import CheckpointError, ConfigError

__all__ = ["ModelSpec", "parse_model_spec", "load_model_spec", "DEFAULT_MODEL_NAME"]

logger = logging.getLogger(__name__)

DEFAULT_MODEL_NAME = "baseline_cnn"


@dataclass(frozen=True)
class ModelSpec:
    """A parsed model specification: ``kind`` is ``"checkpoint"``, ``"mlflow"`` or ``"zoo"`` (``source``: its name)."""

    kind: str
    source: str
    model_name: str | None = None
    model_kwargs: Mapping[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        if self.kind == "zoo":
            return f"zoo:{self.source}"
        return self.source if self.kind == "mlflow" or not self.model_name else f"{self.model_name}:{self.source}"


def parse_model_spec(spec: str, *, model_name: str | None = None,
                     model_kwargs: Mapping[str, Any] | None = None) -> ModelSpec:
    """Parse ``spec`` without loading anything.

    Parameters
    ----------
    spec : str
        ``runs:/<id>/model`` or ``models:/<name>/<version>`` (MLflow), ``zoo:NAME`` (a zoo model, its card gives
        model and kwargs), ``NAME:PATH`` (registered model ``NAME`` with the weights of checkpoint ``PATH``), or a
        checkpoint ``PATH`` (model name stored in the checkpoint, else ``model_name``, else ``"baseline_cnn"``). A
        bare registered name is refused: random weights say nothing.
    model_name : str, optional
        Model name for a bare checkpoint path.
    model_kwargs : mapping, optional
        Keyword arguments of the model factory (override those stored in the checkpoint).

    Raises
    ------
    RegistryError
        ``NAME`` (or ``spec`` itself, when it is no file) is not a registered model, or ``zoo:NAME`` no zoo model.
    ConfigError
        A bare model name without weights; ``model_name`` or ``model_kwargs`` with a zoo model (its card sets them).
    CheckpointError
        ``spec`` looks like a path that does not exist.

    Examples
    --------
    >>> parse_model_spec("runs:/abc/model").kind
    'mlflow'
    >>> parse_model_spec("baseline_cnn:missing.pt").model_name
    'baseline_cnn'
    >>> parse_model_spec("zoo:at-nsr-intra").describe()
    'zoo:at-nsr-intra'
    """
    from ecg_art.models import list_models
    from ecg_art.models.registry import MODELS
    from ecg_art.tracking.models import is_model_uri

    if not isinstance(spec, str) or not spec.strip():
        raise ConfigError(f"model spec must be a non-empty string, got {spec!r}")
    spec, kwargs = spec.strip(), dict(model_kwargs or {})
    if is_model_uri(spec):
        return ModelSpec("mlflow", spec, model_name, kwargs)
    if spec.lower().startswith("zoo:"):
        from ecg_art.zoo import load_card

        card = load_card(spec)  # RegistryError naming the unknown zoo model and the known ones
        if model_name or kwargs:
            raise ConfigError(f"zoo model {card.name!r} takes its model and kwargs from its card; drop "
                              "`model_name` / `model_kwargs` (--model-name / --model-kwargs)")
        return ModelSpec("zoo", card.name, card.model, dict(card.model_kwargs))
    if Path(spec).is_file():
        return ModelSpec("checkpoint", spec, model_name, kwargs)
    name, sep, path = spec.partition(":")
    if sep and len(name) > 1:  # "C:\\..." is a Windows path, not NAME:PATH
        MODELS.get(name)  # RegistryError naming the unknown model and the known ones
        return ModelSpec("checkpoint", path, name, kwargs)
    if spec.lower() in list_models():
        raise ConfigError(f"model {spec!r} needs weights: pass NAME:CHECKPOINT.pt (e.g. {spec}:results/.../best.pt), "
                          "a checkpoint path or an MLflow model URI (runs:/<id>/model)")
    if "/" in spec or "\\" in spec or spec.endswith((".pt", ".pth")):
        raise CheckpointError(f"checkpoint {spec!r} does not exist")
    MODELS.get(spec)  # unknown name: RegistryError listing the known models
    raise AssertionError("unreachable")  # pragma: no cover


def _factory_accepts(factory: Any, name: str) -> bool:
    try:
        params = inspect.signature(factory).parameters
    except (TypeError, ValueError):
        return False
    return name in params or any(p.kind is p.VAR_KEYWORD for p in params.values())


def load_model_spec(spec: str | ModelSpec, *, model_name: str | None = None,
                    model_kwargs: Mapping[str, Any] | None = None, input_length: int | None = None,
                    tracking_uri: str | None = None):
    """Build the ``torch.nn.Module`` that ``spec`` names, with its weights (see :func:`parse_model_spec`).

    ``input_length`` (beat length of the data) is passed to the model factory when it takes one and neither the
    checkpoint nor ``model_kwargs`` set it.

    Returns
    -------
    (torch.nn.Module, ModelSpec)

    Examples
    --------
    >>> import tempfile, torch
    >>> from ecg_art.io import save_checkpoint
    >>> from ecg_art.models import BaselineCNN
    >>> path = save_checkpoint(tempfile.mkdtemp() + "/m.pt", {"model": BaselineCNN(input_length=64).state_dict()})
    >>> model, parsed = load_model_spec(f"baseline_cnn:{path}", input_length=64)
    >>> type(model).__name__, parsed.kind
    ('BaselineCNN', 'checkpoint')
    """
    from ecg_art.io import load_checkpoint
    from ecg_art.models.registry import MODELS

    parsed = spec if isinstance(spec, ModelSpec) else parse_model_spec(spec, model_name=model_name,
                                                                        model_kwargs=model_kwargs)
    if parsed.kind == "mlflow":
        from ecg_art.tracking.models import load_logged_model

        return load_logged_model(parsed.source, tracking_uri=tracking_uri), parsed
    if parsed.kind == "zoo":
        from ecg_art.zoo import load_model

        return load_model(parsed.source), parsed
    payload = load_checkpoint(parsed.source)
    state = payload.get("model")
    if not isinstance(state, Mapping) or not state:
        raise CheckpointError(f"checkpoint {parsed.source!r} holds no model state dict under 'model'")
    name = parsed.model_name or payload.get("model_name")
    if not name:
        logger.info("checkpoint %s names no model; assuming %r (pass --model-name to change)", parsed.source,
                    DEFAULT_MODEL_NAME)
        name = DEFAULT_MODEL_NAME
    factory = MODELS.get(name)
    kwargs = {**dict(payload.get("model_kwargs") or {}), **dict(parsed.model_kwargs)}
    if input_length is not None and "input_length" not in kwargs and _factory_accepts(factory, "input_length"):
        kwargs["input_length"] = int(input_length)
    try:
        model = factory(**kwargs)
    except TypeError as exc:
        raise ConfigError(f"model {name!r} refused `model_kwargs` {kwargs!r}: {exc}") from exc
    try:
        model.load_state_dict(dict(state))
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()
        raise CheckpointError(f"checkpoint {parsed.source!r} does not fit model {name!r} with kwargs {kwargs!r}: "
                              f"{' '.join(first[:3])}") from exc
    model.eval()
    return model, ModelSpec("checkpoint", parsed.source, name, kwargs)
