"""The ``ecg-art`` command line: data preparation, recipes (``run``), registries (``list``)."""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys
from importlib.metadata import entry_points
from types import ModuleType
from typing import Sequence

from ecg_art.exceptions import ConfigError, EcgArtError, RegistryError
from ecg_art.registry import Registry

__all__ = ["main", "RECIPES", "load_recipe", "apply_overrides"]

logger = logging.getLogger("ecg_art")

# Recipes live outside the library (``recipes/`` and third-party packages) and are found through the
# ``ecg_art.recipes`` entry-point group; each value names a module with ``PROFILES`` and ``run(cfg)``.
RECIPES: Registry = Registry("recipe", group="ecg_art.recipes")


def load_recipe(name: str) -> ModuleType:
    """Return the recipe module registered as ``name`` (it has ``Config``, ``PROFILES`` and ``run``)."""
    module = RECIPES.get(name)
    for attr in ("PROFILES", "run"):
        if not hasattr(module, attr):
            raise RegistryError(f"recipe {name!r} ({getattr(module, '__name__', module)}) has no `{attr}`")
    return module


def apply_overrides(cfg, overrides: Sequence[str]):
    """Return ``cfg`` (a frozen dataclass) with ``key=value`` overrides parsed as JSON where possible.

    Examples
    --------
    >>> @dataclasses.dataclass(frozen=True)
    ... class C:
    ...     n: int = 1
    ...     eps: tuple = (0.1,)
    >>> apply_overrides(C(), ["n=3", "eps=[0.01, 0.05]"])
    C(n=3, eps=(0.01, 0.05))
    """
    fields = {f.name: f for f in dataclasses.fields(cfg)}
    changes = {}
    for item in overrides:
        key, sep, raw = item.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or key not in fields:
            raise ConfigError(f"bad override {item!r}: expected KEY=VALUE with KEY one of {', '.join(sorted(fields))}")
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        if isinstance(value, list):
            value = tuple(value)
        changes[key] = value
    return dataclasses.replace(cfg, **changes)


def _cmd_data_info(args: argparse.Namespace) -> int:
    from ecg_art import data

    data_dir = data.resolve_data_dir(args.data_dir)
    cache_dir = data.resolve_cache_dir(args.cache_dir)
    ds = data.load_beats(data_dir, data.BeatConfig(), cache_dir=cache_dir)
    split = data.make_split(ds, args.split, seed=args.seed)
    info = data.describe(ds, split)
    if args.json:
        print(json.dumps({"data_dir": str(data_dir), "cache_dir": str(cache_dir), **info}, indent=2, default=str))
        return 0
    classes = list(data.AAMI_CLASSES)
    print(f"data directory : {data_dir}")
    print(f"cache          : {cache_dir / 'prepared'}")
    print(f"records        : {info['n_records']} ({', '.join(info['records'])})")
    print(f"beats          : {info['n_beats']} windows of {info['window']} samples at {info['fs']:g} Hz, "
          f"R peak at {info['r_index']}; leads {info['leads']}")
    print(f"\nbeats per AAMI class and split ({args.split}, seed {args.seed}):")
    print(f"  {'split':<6}" + "".join(f"{c:>8}" for c in classes) + f"{'total':>9}  records")
    rows = [("all", {"classes": info["classes"], "n_beats": info["n_beats"], "n_records": info["n_records"]})]
    rows += list(info["splits"].items())
    for name, part in rows:
        counts = part["classes"]
        print(f"  {name:<6}" + "".join(f"{counts.get(c, 0):>8}" for c in classes)
              + f"{part['n_beats']:>9}  {part['n_records']}")
    return 0


def _cmd_data_fetch(args: argparse.Namespace) -> int:
    from ecg_art import data

    path = data.fetch_mitdb(args.data_dir)
    print(f"MIT-BIH is in {path}")
    return 0


def _cmd_list(args: argparse.Namespace) -> int:
    if args.what == "recipes":
        names = RECIPES.names()
    elif args.what == "models":
        from ecg_art.models import list_models

        names = list_models()
    else:
        from ecg_art.attacks import list_attacks

        names = list_attacks()
    print("\n".join(names))
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    recipe = load_recipe(args.recipe)
    if args.profile not in recipe.PROFILES:
        raise ConfigError(f"unknown profile {args.profile!r} for recipe {args.recipe!r}; "
                          f"known: {', '.join(recipe.PROFILES)}")
    cfg = recipe.PROFILES[args.profile]
    common = {"data_dir": args.data_dir, "tracking_uri": args.tracking_uri, "seed": args.seed,
              "device": args.device, "resume": args.resume or None}
    cfg = dataclasses.replace(cfg, **{k: v for k, v in common.items()
                                      if v is not None and k in {f.name for f in dataclasses.fields(cfg)}})
    cfg = apply_overrides(cfg, args.set or [])
    recipe.run(cfg)
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="ecg-art", description=__doc__)
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = p.add_subparsers(dest="command", required=True)

    d = sub.add_parser("data", help="the MIT-BIH database").add_subparsers(dest="data_command", required=True)
    info = d.add_parser("info", help="records found, beats per AAMI class and per split, cache location")
    info.add_argument("--data-dir", help="MIT-BIH folder (default: $ECG_ART_DATA, then the cache folder)")
    info.add_argument("--cache-dir", help="prepared-array cache (default: $ECG_ART_CACHE or ~/.cache/ecg_art)")
    info.add_argument("--split", default="intra", help="intra (stratified by beat) or inter (de Chazal DS1/DS2)")
    info.add_argument("--seed", type=int, default=0)
    info.add_argument("--json", action="store_true", help="print JSON")
    info.set_defaults(func=_cmd_data_info)
    fetch = d.add_parser("fetch", help="download MIT-BIH from PhysioNet into the data directory")
    fetch.add_argument("--data-dir")
    fetch.set_defaults(func=_cmd_data_fetch)

    r = sub.add_parser("run", help="run a recipe (baseline, at, nsr, at-nsr, fusion, detector, paper)")
    r.add_argument("recipe")
    r.add_argument("--profile", default="quick", help="quick (minutes on 2 CPU cores) or full")
    r.add_argument("--data-dir")
    r.add_argument("--tracking-uri", help="MLflow tracking URI (default: $MLFLOW_TRACKING_URI, then ./mlruns SQLite)")
    r.add_argument("--seed", type=int)
    r.add_argument("--device", help="auto, cpu or cuda")
    r.add_argument("--resume", action="store_true", help="reuse finished stages and checkpoints of an earlier run")
    r.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a config field (repeatable)")
    r.set_defaults(func=_cmd_run)

    ls = sub.add_parser("list", help="list registered recipes, models or attacks")
    ls.add_argument("what", choices=["recipes", "models", "attacks"])
    ls.set_defaults(func=_cmd_list)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(name)s %(levelname)s: %(message)s", datefmt="%H:%M:%S")
    try:
        return int(args.func(args) or 0)
    except EcgArtError as exc:
        print(f"ecg-art: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("ecg-art: interrupted; finished stages and checkpoints are kept (re-run with --resume)", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
