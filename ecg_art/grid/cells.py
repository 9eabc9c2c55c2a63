"""The cells of a grid: one recipe config per combination of the axes, each with a key (the hash of every config field
that changes what it computes), and the grid's own hash, which names its parent run."""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import logging
from dataclasses import dataclass
from typing import Any

from ecg_art.grid.spec import GridSpec
from ecg_art.tracking.params import BOOKKEEPING  # fields left out of a cell's key, as of the recipes' config hash

__all__ = ["Cell", "expand_cells", "config_key", "grid_hash", "BOOKKEEPING"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Cell:
    """One run of a grid: recipe ``recipe`` with config ``config``; ``values`` are its axis values (``recipe`` left
    out), ``key`` the hash of its config (:func:`config_key`)."""

    recipe: str
    config: Any
    values: tuple[tuple[str, Any], ...]
    key: str

    @property
    def name(self) -> str:
        """``"baseline seed=0 eps=0.01"``: the recipe and its axis values, the cell's MLflow run name."""
        parts = [f"{k}={_short(v)}" for k, v in self.values]
        return " ".join([self.recipe, *parts])


def _short(value: Any) -> str:
    if isinstance(value, tuple):
        return ",".join(_short(v) for v in value)
    return f"{value:g}" if isinstance(value, float) else str(value)


def config_key(cfg) -> str:
    """12 hex digits of the SHA-256 of every field of the dataclass ``cfg`` except :data:`BOOKKEEPING`.

    Examples
    --------
    >>> @dataclasses.dataclass(frozen=True)
    ... class C:
    ...     seed: int = 0
    ...     threads: int = 1
    >>> config_key(C(threads=1)) == config_key(C(threads=4)), config_key(C(seed=0)) == config_key(C(seed=1))
    (True, False)
    """
    fields = {k: v for k, v in dataclasses.asdict(cfg).items() if k not in BOOKKEEPING}
    fields["__class__"] = f"{type(cfg).__module__}.{type(cfg).__qualname__}"
    return hashlib.sha256(json.dumps(fields, sort_keys=True, default=str).encode()).hexdigest()[:12]


def grid_hash(spec: GridSpec, cells: list[Cell]) -> str:
    """12 hex digits naming the grid: its name and the keys of its cells (an unchanged grid finds its parent run)."""
    payload = json.dumps({"name": spec.name, "cells": sorted(c.key for c in cells)})
    return hashlib.sha256(payload.encode()).hexdigest()[:12]


def expand_cells(spec: GridSpec, *, recipes=None, tracking_uri: str | None = None) -> list[Cell]:
    """Every cell of ``spec``: the cross product of its axes in file order, each config built as the recipe's profile
    with the settings, the recipe's own settings and the axis values; cells whose configs are equal (an axis a recipe
    does not have) are kept once.

    ``tracking_uri`` goes into every config (the recipes' bookkeeping field).

    Examples
    --------
    >>> from ecg_art.grid import parse_grid
    >>> spec = parse_grid({"axes": {"recipe": ["baseline"], "seed": [0, 1], "eps": [0.01, 0.05]}})
    >>> [c.name for c in expand_cells(spec)]
    ['baseline seed=0 eps=0.01', 'baseline seed=0 eps=0.05', 'baseline seed=1 eps=0.01', 'baseline seed=1 eps=0.05']
    """
    if recipes is None:
        from ecg_art.cli import RECIPES as recipes

    axes = dict(spec.axes)
    keys = list(axes)
    own = {r: dict(s) for r, s in spec.recipe_settings}
    cells: list[Cell] = []
    seen: set[str] = set()
    for combo in itertools.product(*(axes[k] for k in keys)):
        values = dict(zip(keys, combo))
        recipe = values.pop("recipe")
        profile = values.pop("profile", spec.profile)
        base = recipes.get(recipe).PROFILES[profile]
        names = {f.name for f in dataclasses.fields(base)}
        changes = {k: v for k, v in spec.settings if k in names}
        changes.update({k: v for k, v in own.get(recipe, {}).items()})
        changes.update({k: v for k, v in values.items() if k in names})
        changes.update(experiment=spec.experiment, resume=spec.resume, output_dir=spec.output_dir,
                       threads=spec.threads)
        if tracking_uri is not None:
            changes["tracking_uri"] = tracking_uri
        cfg = dataclasses.replace(base, **{k: v for k, v in changes.items() if k in names})
        key = config_key(cfg)
        if key in seen:
            logger.debug("cell %s %s: same config as an earlier cell; kept once", recipe, values)
            continue
        seen.add(key)
        shown = ([("profile", profile)] if "profile" in axes else []) + [(k, v) for k, v in values.items()
                                                                          if k in names]
        cells.append(Cell(recipe=recipe, config=cfg, values=tuple(shown), key=key))
    return cells
