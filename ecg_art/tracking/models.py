"""Loading torch models logged to MLflow (``runs:/<id>/model``, ``models:/<name>/<version>``) back for evaluation."""

from __future__ import annotations

import functools
import logging

from ecg_art.exceptions import ConfigError, TrackingError
from ecg_art.tracking.store import mlflow_env
from ecg_art.tracking.uri import resolve_tracking_uri

__all__ = ["load_logged_model", "is_model_uri"]

logger = logging.getLogger(__name__)

MODEL_URI_SCHEMES = ("runs:/", "models:/")


def is_model_uri(spec: str) -> bool:
    """Whether ``spec`` is an MLflow model URI (``runs:/...`` or ``models:/...``).

    Examples
    --------
    >>> is_model_uri("runs:/0123abcd/model"), is_model_uri("best.pt")
    (True, False)
    """
    return isinstance(spec, str) and spec.strip().startswith(MODEL_URI_SCHEMES)


@functools.lru_cache(maxsize=None)
def _exported_module_class():
    from torch import nn

    class ExportedModule(nn.Module):
        """Wraps a ``torch.export`` module (``pt2`` format), whose ``train()``/``eval()`` raise: here they only set the
        flag, as the graph's dropout/batch-norm behaviour was fixed when it was exported."""

        def __init__(self, module: nn.Module) -> None:
            super().__init__()
            self.module = module

        def forward(self, x):
            return self.module(x)

        def train(self, mode: bool = True):
            self.training = bool(mode)
            return self

    return ExportedModule


def __getattr__(name: str):  # ExportedModule is built lazily: importing ecg_art.tracking must not import torch
    if name == "ExportedModule":
        return _exported_module_class()
    raise AttributeError(name)


def load_logged_model(uri: str, *, tracking_uri: str | None = None, map_location: str = "cpu"):
    """The ``torch.nn.Module`` logged at MLflow model URI ``uri`` (``mlflow.pytorch.load_model``).

    Parameters
    ----------
    uri : str
        ``runs:/<run_id>/<artifact path>`` or ``models:/<name>/<version or alias>``.
    tracking_uri : str, optional
        Store holding the run (resolved with :func:`resolve_tracking_uri`).
    map_location : str
        Device the weights are loaded onto.

    Notes
    -----
    Models logged by :meth:`Tracker.log_model` use MLflow's ``pt2`` format (``torch.export``), which loads without
    unpickling code; such a module is returned wrapped so that ``train()``/``eval()`` work (they cannot change the
    exported graph, whose mode was fixed at export). A model logged with ``serialization_format="pickle"``
    unpickles arbitrary code: load only runs you trust.

    Examples
    --------
    >>> model = load_logged_model("runs:/0123abcd/model")  # doctest: +SKIP
    """
    if not is_model_uri(uri):
        raise ConfigError(f"`uri` must start with runs:/ or models:/, got {uri!r}")
    store = resolve_tracking_uri(tracking_uri)
    import mlflow.pytorch
    from mlflow.tracking._tracking_service.utils import _use_tracking_uri

    try:
        with mlflow_env(store), _use_tracking_uri(store):
            model = mlflow.pytorch.load_model(uri.strip(), map_location=map_location)
    except Exception as exc:
        raise TrackingError(f"could not load model {uri!r} from {store}: {type(exc).__name__}: {exc}") from exc
    try:
        model.eval()
    except NotImplementedError:  # a torch.export module (MLflow's pt2 format)
        model = _exported_module_class()(model)
        model.eval()
    logger.debug("loaded %s from %s as %s", uri, store, type(model).__name__)
    return model
