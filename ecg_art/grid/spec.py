"""A grid file (TOML): which recipes, over which axes (seeds, splits, eps, ...), with which fixed settings; parsed and
validated with one clear error per bad key."""

from __future__ import annotations

import dataclasses
import logging
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from ecg_art.exceptions import ConfigError

__all__ = ["GridSpec", "load_grid", "parse_grid", "GRID_KEYS", "RESERVED_FIELDS"]

logger = logging.getLogger(__name__)

#: The options of the ``[grid]`` table, with what each takes.
GRID_KEYS = {
    "name": "str: the grid's name (default: the file's stem)",
    "experiment": "str: MLflow experiment of the parent run and the cells (default: ecg_art-grid-<name>)",
    "profile": "str: the profile every cell's recipe starts from (default: quick)",
    "threads": "int >= 1: torch threads per cell (default: 1)",
    "retries": "int >= 0: new attempts of a failed cell (default: 1)",
    "resume": "bool: cells reuse their checkpoints of an earlier attempt (default: true)",
    "gpus_per_cell": "\"auto\" or a number >= 0: GPUs a Ray cell asks for (auto: 1 where the cluster has GPUs)",
    "output_dir": "str: the recipes' results folder (default: results)",
}
#: Config fields the grid sets itself: neither an axis nor a setting.
RESERVED_FIELDS = {"name": "the recipe names its runs", "experiment": "use [grid] experiment",
                   "tracking_uri": "use --tracking-uri", "resume": "use [grid] resume",
                   "output_dir": "use [grid] output_dir", "threads": "use [grid] threads",
                   "device": "a cell runs on cuda when it is given a GPU, else as the recipe decides"}
SECTIONS = ("grid", "axes", "settings")


@dataclass(frozen=True)
class GridSpec:
    """A validated grid: the cross product of ``axes`` (``recipe`` among them), each cell starting from its recipe's
    ``profile`` with ``settings`` (every recipe that has the field) and ``recipe_settings[recipe]`` applied.

    Values are as the recipes' configs hold them (lists became tuples)."""

    name: str
    experiment: str
    axes: tuple[tuple[str, tuple[Any, ...]], ...]
    settings: tuple[tuple[str, Any], ...] = ()
    recipe_settings: tuple[tuple[str, tuple[tuple[str, Any], ...]], ...] = ()
    profile: str = "quick"
    threads: int = 1
    retries: int = 1
    resume: bool = True
    gpus_per_cell: float | str = "auto"
    output_dir: str = "results"
    source: str = field(default="<grid>", compare=False)

    @property
    def recipes(self) -> tuple[str, ...]:
        return dict(self.axes)["recipe"]

    def with_axis(self, key: str, values) -> "GridSpec":
        """A copy with axis ``key`` set to ``values`` (``ecg-art grid --seeds 0,1,2``)."""
        values = tuple(values)
        if not values:
            raise ConfigError(f"axis `{key}` needs at least one value")
        axes = dict(self.axes)
        axes[key] = values
        settings = tuple((k, v) for k, v in self.settings if k != key)
        return dataclasses.replace(self, axes=tuple(axes.items()), settings=settings)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "experiment": self.experiment, "profile": self.profile, "threads": self.threads,
                "retries": self.retries, "resume": self.resume, "gpus_per_cell": self.gpus_per_cell,
                "output_dir": self.output_dir, "axes": {k: list(v) for k, v in self.axes},
                "settings": dict(self.settings), "recipe_settings": {r: dict(s) for r, s in self.recipe_settings}}


def load_grid(path: str | Path, *, recipes=None) -> GridSpec:
    """Read and validate the grid file ``path`` (TOML).

    ``recipes`` is the recipe registry (default: ``ecg_art.cli.RECIPES``, the ``ecg_art.recipes`` entry points).

    Examples
    --------
    >>> spec = load_grid("grids/small.toml")  # doctest: +SKIP
    >>> spec.recipes  # doctest: +SKIP
    ('baseline',)
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"grid file {str(path)!r} does not exist")
    try:
        raw = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"grid file {str(path)!r} is not valid TOML: {exc}") from None
    return parse_grid(raw, source=str(path), default_name=path.stem, recipes=recipes)


def parse_grid(raw: Mapping[str, Any], *, source: str = "<grid>", default_name: str = "grid",
               recipes=None) -> GridSpec:
    """Validate a grid given as a dict (a parsed TOML file): every unknown or ill-typed key raises
    :class:`~ecg_art.exceptions.ConfigError` naming it (``axes.seed``, ``settings.at.train_eps``, ...)."""
    if recipes is None:
        from ecg_art.cli import RECIPES as recipes

    def bad(key: str, msg: str) -> ConfigError:
        return ConfigError(f"{source}: `{key}` {msg}")

    if not isinstance(raw, Mapping):
        raise ConfigError(f"{source}: a grid is a table of sections {', '.join(SECTIONS)}")
    for key in raw:
        if key not in SECTIONS:
            raise bad(key, f"is not a section of a grid file (sections: {', '.join(SECTIONS)})")
    for key in SECTIONS:
        if key in raw and not isinstance(raw[key], Mapping):
            raise bad(key, f"must be a table ([{key}]), got {type(raw[key]).__name__}")
    grid = dict(raw.get("grid", {}))
    opts = _grid_options(grid, bad, default_name)
    axes_raw = dict(raw.get("axes", {}))
    if "recipe" not in axes_raw:
        raise bad("axes.recipe", "is required: the list of recipes the grid runs, e.g. recipe = [\"baseline\"]")
    names = _list_axis(axes_raw["recipe"], "axes.recipe", bad)
    modules = {}
    for name in names:
        if not isinstance(name, str):
            raise bad("axes.recipe", f"must list recipe names, got {name!r}")
        try:
            module = recipes.get(name)
        except ConfigError as exc:
            raise bad("axes.recipe", f"names an unknown recipe: {exc}") from None
        if not _accepts_tracker(module):
            raise bad("axes.recipe", f"names recipe {name!r}, whose run() takes no `tracker`: it cannot be a cell")
        modules[name] = module
    profiles = _profiles(modules, axes_raw, opts["profile"], bad)
    axes: dict[str, tuple[Any, ...]] = {"recipe": tuple(names)}
    if "profile" in axes_raw:
        axes["profile"] = tuple(_list_axis(axes_raw["profile"], "axes.profile", bad))
    for key, values in axes_raw.items():
        if key in ("recipe", "profile"):
            continue
        values = _list_axis(values, f"axes.{key}", bad)
        _check_field(key, f"axes.{key}", profiles, bad)
        axes[key] = tuple(_coerce(v, key, f"axes.{key}", profiles, bad, axis=True) for v in values)
        if len(set(map(repr, axes[key]))) != len(axes[key]):
            raise bad(f"axes.{key}", f"lists a value twice: {list(values)}")
    settings: dict[str, Any] = {}
    per_recipe: dict[str, dict[str, Any]] = {}
    for key, value in dict(raw.get("settings", {})).items():
        if isinstance(value, Mapping):
            if key not in modules:
                raise bad(f"settings.{key}", f"is a table, but {key!r} is not a recipe of the grid "
                          f"(axes.recipe: {', '.join(names)})")
            own = {p: cfg for p, cfg in profiles.items() if p[0] == key}
            for sub, v in value.items():
                _check_field(sub, f"settings.{key}.{sub}", own, bad)
                per_recipe.setdefault(key, {})[sub] = _coerce(v, sub, f"settings.{key}.{sub}", own, bad)
            continue
        if key in axes:
            raise bad(f"settings.{key}", "is an axis too (axes.%s): give it in one place" % key)
        _check_field(key, f"settings.{key}", profiles, bad)
        settings[key] = _coerce(value, key, f"settings.{key}", profiles, bad)
    return GridSpec(axes=tuple(axes.items()), settings=tuple(settings.items()),
                    recipe_settings=tuple((r, tuple(s.items())) for r, s in per_recipe.items()), source=source,
                    **opts)


def _grid_options(grid: dict[str, Any], bad, default_name: str) -> dict[str, Any]:
    for key in grid:
        if key not in GRID_KEYS:
            raise bad(f"grid.{key}", f"is not a grid option (options: {', '.join(GRID_KEYS)})")
    name = grid.get("name", default_name)
    if not isinstance(name, str) or not name.strip():
        raise bad("grid.name", f"must be a non-empty string, got {name!r}")
    opts: dict[str, Any] = {"name": name.strip(), "experiment": f"ecg_art-grid-{name.strip()}", "profile": "quick"}
    for key in ("experiment", "profile", "output_dir"):
        if key in grid and (not isinstance(grid[key], str) or not grid[key].strip()):
            raise bad(f"grid.{key}", f"must be a non-empty string, got {grid[key]!r}")
        if key in grid:
            opts[key] = grid[key].strip()
    for key, low in (("threads", 1), ("retries", 0)):
        if key in grid:
            v = grid[key]
            if isinstance(v, bool) or not isinstance(v, int) or v < low:
                raise bad(f"grid.{key}", f"must be an int >= {low}, got {v!r}")
            opts[key] = v
    if "resume" in grid:
        if not isinstance(grid["resume"], bool):
            raise bad("grid.resume", f"must be true or false, got {grid['resume']!r}")
        opts["resume"] = grid["resume"]
    if "gpus_per_cell" in grid:
        v = grid["gpus_per_cell"]
        if v != "auto" and (isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0):
            raise bad("grid.gpus_per_cell", f"must be \"auto\" or a number >= 0, got {v!r}")
        opts["gpus_per_cell"] = v if v == "auto" else float(v)
    return opts


def _list_axis(values, key: str, bad) -> list:
    if not isinstance(values, list):
        raise bad(key, f"must be a list of values (one cell per value), got {values!r}")
    if not values:
        raise bad(key, "must list at least one value")
    return values


def _accepts_tracker(module) -> bool:
    import inspect

    run = getattr(module, "run", None)
    if run is None or not hasattr(module, "PROFILES"):
        return False
    try:
        return "tracker" in inspect.signature(run).parameters
    except (TypeError, ValueError):
        return False


def _profiles(modules: dict[str, Any], axes_raw: dict[str, Any], default: str, bad) -> dict[tuple[str, str], Any]:
    """``(recipe, profile) -> profile config`` for every recipe and profile of the grid."""
    wanted = _list_axis(axes_raw["profile"], "axes.profile", bad) if "profile" in axes_raw else [default]
    out = {}
    for name, module in modules.items():
        for profile in wanted:
            if profile not in module.PROFILES:
                key = "axes.profile" if "profile" in axes_raw else "grid.profile"
                raise bad(key, f"names profile {profile!r}, which recipe {name!r} lacks "
                          f"(profiles: {', '.join(module.PROFILES)})")
            out[(name, profile)] = module.PROFILES[profile]
    return out


def _check_field(key: str, where: str, profiles: dict[tuple[str, str], Any], bad) -> None:
    if key in RESERVED_FIELDS:
        raise bad(where, f"is set by the grid ({RESERVED_FIELDS[key]})")
    if not any(key in {f.name for f in dataclasses.fields(cfg)} for cfg in profiles.values()):
        known = sorted({f.name for cfg in profiles.values() for f in dataclasses.fields(cfg)} - set(RESERVED_FIELDS))
        recipes = sorted({r for r, _ in profiles})
        raise bad(where, f"is not a config field of recipe(s) {', '.join(recipes)} (fields: {', '.join(known)})")


def _tuples(value):
    return tuple(_tuples(v) for v in value) if isinstance(value, list) else value


def _coerce(value, key: str, where: str, profiles: dict[tuple[str, str], Any], bad, *, axis: bool = False):
    """``value`` as the config field ``key`` holds it, checked against the type of each recipe's default; an axis value
    that is a scalar where the field holds a tuple is one cell's 1-tuple (``axes.eps = [0.01, 0.05]``)."""
    if isinstance(value, Mapping):
        raise bad(where, f"must be a value, got a table {dict(value)!r}")
    for (recipe, _), cfg in profiles.items():
        fields = {f.name for f in dataclasses.fields(cfg)}
        if key not in fields:
            continue
        default = getattr(cfg, key)
        kind = _kind(default)
        v = value
        if kind == "tuple" and axis and not isinstance(v, list):
            v = [v]
        ok = {"bool": isinstance(v, bool),
              "int": isinstance(v, int) and not isinstance(v, bool),
              "float": isinstance(v, (int, float)) and not isinstance(v, bool),
              "str": isinstance(v, str),
              "tuple": isinstance(v, list),
              "any": True}[kind]
        if not ok:
            raise bad(where, f"must be {_ARTICLE[kind]} (recipe {recipe!r}'s default is {default!r}), got {value!r}")
        if kind == "float":
            v = float(v)
        return _tuples(v)
    return _tuples(value)


_ARTICLE = {"bool": "true or false", "int": "an int", "float": "a number", "str": "a string", "tuple": "a list"}


def _kind(default) -> str:
    if isinstance(default, bool):
        return "bool"
    if isinstance(default, int):
        return "int"
    if isinstance(default, float):
        return "float"
    if isinstance(default, str):
        return "str"
    if isinstance(default, (tuple, list)):
        return "tuple"
    return "any"
