"""Model registry: name -> factory of ``torch.nn.Module`` (plug-ins through the ``ecg_art.models`` entry points)."""

from __future__ import annotations

from typing import Callable

from torch import nn

from ecg_art.models.cnn import BaselineCNN, wide_cnn
from ecg_art.registry import Registry

__all__ = ["MODELS", "register_model", "get_model", "list_models"]

MODELS: Registry[Callable[..., nn.Module]] = Registry("model", group="ecg_art.models")


def register_model(name: str, factory: Callable[..., nn.Module] | None = None, *, overwrite: bool = False):
    """Register a model factory ``factory(**kw) -> nn.Module`` under ``name`` (usable as a decorator).

    Examples
    --------
    >>> @register_model("tiny_doc_cnn", overwrite=True)
    ... def tiny(**kw):
    ...     return BaselineCNN(channels=(4,), kernel_sizes=(3,), hidden=8, **kw)
    >>> "tiny_doc_cnn" in list_models()
    True
    """
    return MODELS.register(name, factory, overwrite=overwrite)


def get_model(name: str, **kwargs) -> nn.Module:
    """Build the model registered under ``name`` with keyword arguments ``kwargs``.

    Examples
    --------
    >>> get_model("baseline_cnn", n_classes=3).n_classes
    3
    """
    return MODELS.get(name)(**kwargs)


def list_models() -> list[str]:
    """Sorted names of the registered models (plug-ins included)."""
    return MODELS.names()


register_model("baseline_cnn", BaselineCNN)
register_model("baseline_cnn_wide", wide_cnn)
