"""Name -> factory registries shared by models, attacks and recipes, with entry-point plug-ins."""

from __future__ import annotations

import logging
from importlib.metadata import entry_points
from typing import Callable, Generic, Iterator, TypeVar

from ecg_art.exceptions import EcgArtError, RegistryError

__all__ = ["Registry", "PluginLoadError"]

logger = logging.getLogger(__name__)
F = TypeVar("F", bound=Callable)


class PluginLoadError(EcgArtError, ImportError):
    """A name is registered through an entry point, but importing its plug-in failed (a bug, not a missing name)."""


class Registry(Generic[F]):
    """A case-insensitive mapping of names to factories.

    Parameters
    ----------
    kind : str
        What the registry holds ("model", "attack", ...); used in error messages.
    group : str, optional
        Entry-point group searched for third-party plug-ins the first time a name is not found
        (e.g. ``"ecg_art.attacks"``). Each entry point's name is the registered name and it loads the factory.

    Examples
    --------
    >>> models = Registry("model")
    >>> @models.register("tiny")
    ... def tiny(**kw):
    ...     return "a model"
    >>> models.get("TINY")()
    'a model'
    """

    def __init__(self, kind: str, *, group: str | None = None) -> None:
        self.kind = kind
        self.group = group
        self._items: dict[str, F] = {}
        self._failed: dict[str, str] = {}  # plug-ins whose entry point did not load: name -> error
        self._entry_points_loaded = group is None

    def register(self, name: str, factory: F | None = None, *, overwrite: bool = False):
        """Register ``factory`` under ``name``; usable as ``register(name, f)`` or as a decorator ``@register(name)``."""
        if not isinstance(name, str) or not name.strip():
            raise RegistryError(f"{self.kind} name must be a non-empty string, got {name!r}")
        key = name.strip().lower()

        def _add(f: F) -> F:
            if not callable(f):
                raise TypeError(f"{self.kind} factory for {name!r} must be callable, got {type(f).__name__}")
            if key in self._items and not overwrite and self._items[key] is not f:
                raise RegistryError(f"{self.kind} {name!r} is already registered; pass overwrite=True to replace it")
            self._items[key] = f
            return f

        return _add(factory) if factory is not None else _add

    def _load_entry_points(self) -> None:
        if self._entry_points_loaded:
            return
        self._entry_points_loaded = True
        for ep in entry_points(group=self.group):
            key = ep.name.lower()
            if key in self._items:
                continue
            try:
                self._items[key] = ep.load()
            except Exception as exc:  # a broken plug-in must not hide the others, nor pass for a missing one
                self._failed[key] = f"{ep.value}: {type(exc).__name__}: {exc}"
                logger.warning("could not load %s plug-in %r from %s: %s", self.kind, ep.name, ep.value, exc)

    def get(self, name: str) -> F:
        """Return the factory registered under ``name`` (case-insensitive)."""
        key = str(name).strip().lower()
        if key not in self._items:
            self._load_entry_points()
        if key in self._failed:
            raise PluginLoadError(f"{self.kind} {name!r} is registered but its plug-in failed to load "
                                  f"({self._failed[key]})")
        try:
            return self._items[key]
        except KeyError:
            raise RegistryError(
                f"unknown {self.kind} {name!r}; known: {', '.join(self.names()) or '(none)'}"
            ) from None

    def names(self) -> list[str]:
        """Sorted registered names, plug-ins included."""
        self._load_entry_points()
        return sorted(self._items)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.strip().lower() in self.names()

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())
