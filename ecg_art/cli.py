"""The ``ecg-art`` command line: data preparation, recipes (``run``), registries (``list``)."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import logging
import sys
from types import ModuleType
from typing import Iterator, Sequence

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
        changes[key] = _tuples(value)
    return dataclasses.replace(cfg, **changes)


def _tuples(value):
    """JSON lists as tuples, nested ones too, so a frozen config stays hashable (``[["a", 1]]`` -> ``(("a", 1),)``)."""
    return tuple(_tuples(v) for v in value) if isinstance(value, list) else value


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
    elif args.what == "zoo":
        from ecg_art import zoo

        cards = [zoo.load_card(name) for name in zoo.list_models()]
        names = [card.summary() for card in cards]
        if any(card.rescored for card in cards):
            names.append("* worst case re-scored with attacks added after the run (the card's `rescored` block: the "
                         "standard AutoAttack on the run's own attacked beats)")
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
    common = {"data_dir": args.data_dir, "cache_dir": args.cache_dir, "tracking_uri": args.tracking_uri,
              "seed": args.seed,
              "device": args.device, "resume": args.resume or None}
    cfg = dataclasses.replace(cfg, **{k: v for k, v in common.items()
                                      if v is not None and k in {f.name for f in dataclasses.fields(cfg)}})
    cfg = apply_overrides(cfg, args.set or [])
    recipe.run(cfg)
    return 0


def _json_kwargs(raw: str | None, flag: str) -> dict:
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"`{flag}` must be a JSON object, got {raw!r} ({exc.msg})") from None
    if not isinstance(value, dict):
        raise ConfigError(f"`{flag}` must be a JSON object, got {raw!r}")
    return value


def _parse_eps(raw: str) -> tuple[float, ...]:
    try:
        return tuple(float(v) for v in raw.split(",") if v.strip())
    except ValueError:
        raise ConfigError(f"`--eps` must be comma-separated numbers, got {raw!r}") from None


def _cmd_benchmark(args: argparse.Namespace) -> int:
    import re
    from pathlib import Path

    from ecg_art import data
    from ecg_art.defences import apply_defence, defence_kind, load_defence
    from ecg_art.estimators import make_classifier
    from ecg_art.evaluation import benchmark, benchmark_figure, get_suite, load_model_spec, parse_model_spec

    # everything that can be checked without data is checked first: a typo fails in a second, not after loading
    eps = _parse_eps(args.eps)
    get_suite(args.suite)
    spec = parse_model_spec(args.model, model_name=args.model_name,
                            model_kwargs=_json_kwargs(args.model_kwargs, "--model-kwargs"))
    defence = None
    if args.defence:
        defence = load_defence(args.defence, **_json_kwargs(args.defence_kwargs, "--defence-kwargs"))
        if defence_kind(defence) in ("trainer", "transformer", "detector"):
            raise ConfigError(f"defence {args.defence!r} is a {defence_kind(defence)}: it does not wrap a trained "
                              "model's predictions; train with it (e.g. a recipe) and benchmark the checkpoint")
    if spec.kind == "zoo":  # the card's windows, split and clip values; its test split is the only unseen one
        from ecg_art import zoo

        card = zoo.load_card(spec.source)
        if args.split not in (None, card.split["scheme"]):
            raise ConfigError(f"zoo model {card.name!r} was trained on the {card.split['scheme']!r} split; "
                              f"`--split {args.split}` would attack beats it was trained on")
        args.split = card.split["scheme"]
        test = zoo.load_test_data(card.name, data_dir=args.data_dir, cache_dir=args.cache_dir)
        x, y = test.x, test.y
        classifier = zoo.make_zoo_classifier(card.name, device=args.device)
    else:
        args.split = args.split or "intra"
        ds = data.load_beats(args.data_dir, data.BeatConfig(), cache_dir=args.cache_dir)
        split = data.make_split(ds, args.split, seed=args.seed)
        x, y = ds.x[split.test], ds.y[split.test]
        model, spec = load_model_spec(spec, input_length=int(x.shape[-1]), tracking_uri=args.tracking_uri)
        classifier = make_classifier(model, input_length=int(x.shape[-1]), nb_classes=len(data.AAMI_CLASSES),
                                     device=args.device)
    if defence is not None:
        classifier = apply_defence(classifier, defence)
    record = benchmark(classifier, x, y, suite=args.suite, eps=eps, batch_size=args.batch_size, n=args.n,
                       seed=args.seed, model=spec.describe(), split=args.split, defence=args.defence,
                       verbose=True)
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", f"{Path(spec.source).stem}-{args.suite}-{args.split}-s{args.seed}")
    out = Path(args.output) if args.output else Path("results") / f"benchmark-{slug}"
    out.mkdir(parents=True, exist_ok=True)
    record.save(out / "benchmark.json")
    benchmark_figure(record).savefig(out / "robustness.png", dpi=150)
    (out / "table.md").write_text(record.table() + "\n")
    if not args.no_track:
        from ecg_art.tracking import Tracker

        with Tracker(args.experiment, run_name=f"benchmark-{slug}", tracking_uri=args.tracking_uri) as run:
            run.log_params({"model": spec.describe(), "model_name": spec.model_name or "", "suite": args.suite,
                            "eps": list(eps), "n": record.n, "seed": args.seed, "split": args.split,
                            "defence": args.defence or "none", "threat_model": record.threat_model})
            metrics = {"clean_accuracy": record.clean_accuracy}
            for a in record.attacks:
                metrics.update({f"adv_acc_{a.label}_eps{e:g}": v for e, v in zip(a.eps, a.robust_accuracy)})
            metrics.update({f"worst_case_eps{e:g}": v for e, v in zip(record.eps, record.worst_case)})
            metrics["sanity_passed"] = float(record.passed)
            run.log_metrics(metrics)
            run.log_dict(record.to_dict(), "benchmark.json")
            run.log_figure(benchmark_figure(record), "robustness.png")
            run.log_text(record.table(), "table.md")
    print(f"\n{record.model}{' + ' + record.defence if record.defence else ''}: {record.suite} suite, n={record.n}, "
          f"clean accuracy {100 * record.clean_accuracy:.1f}% (L-inf, eps in normalised beat units)\n{record.table()}")
    for name, reason in record.skipped.items():
        print(f"skipped {name}: {reason}")
    print("\nsanity checks:")
    for c in record.sanity:
        print(f"  [{'ok' if c.passed else 'FAIL'}] {c.name}: {c.detail}")
    print(f"\nwritten to {out}/ (benchmark.json, robustness.png, table.md)")
    return 1 if args.strict and not record.passed else 0


def _cmd_compare(args: argparse.Namespace) -> int:
    import re
    from pathlib import Path

    from ecg_art.evaluation import compare_runs, comparison_figure, comparison_table
    from ecg_art.evaluation.compare import is_detector_metric
    from ecg_art.tracking import latest_experiment

    experiment = args.experiment
    if experiment is None:
        experiment = latest_experiment(tracking_uri=args.tracking_uri)
        print(f"experiment: {experiment} (the most recently active; choose another with --experiment)")
    metrics = [m.strip() for item in (args.metric or []) for m in item.split(",") if m.strip()]
    params = [p.strip() for item in args.param for p in item.split(",") if p.strip()] if args.param else None
    rows, params, metrics = compare_runs(experiment, metrics=metrics or None, params=params,
                                         tracking_uri=args.tracking_uri, filter_string=args.filter or "")
    if not rows:
        print(f"no runs in experiment {experiment!r}" + (" with any of the metrics" if metrics else ""))
        return 0
    groups = [m for m in ([k for k in metrics if not is_detector_metric(k)],
                          [k for k in metrics if is_detector_metric(k)]) if m] or [[]]
    table = "\n\n".join(comparison_table(rows, params=params, metrics=m) for m in groups)
    from ecg_art.evaluation import seed_summary, seed_table

    over_seeds = seed_summary(rows, params=params, metrics=metrics)
    if any(r["n"] > 1 for r in over_seeds):  # runs that differ only in seed: their mean ± std too
        table += ("\n\nMean ± std over seeds (sample std; runs equal in every param but the seed):\n"
                  + seed_table(over_seeds, params=params, metrics=metrics))
    print(table)
    if args.output:
        Path(args.output).parent.mkdir(parents=True, exist_ok=True)
        Path(args.output).write_text(f"# Runs of experiment `{experiment}`\n\n{table}\n")
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", experiment)
    plot = Path(args.plot) if args.plot else (Path(args.output).with_suffix(".png") if args.output
                                              else Path("results") / f"compare-{safe}.png")
    if metrics:
        plot.parent.mkdir(parents=True, exist_ok=True)
        comparison_figure(rows, metrics=metrics, title=f"experiment {experiment}").savefig(plot, dpi=150)
        print(f"\nbar plot: {plot}")
    return 0


def _cmd_grid(args: argparse.Namespace) -> int:
    import contextlib as _ctx

    from ecg_art.grid import load_grid, run_grid, server_for
    from ecg_art.tracking import resolve_tracking_uri

    spec = load_grid(args.grid_file)
    if args.seeds:
        try:
            spec = spec.with_axis("seed", [int(s) for s in args.seeds.split(",") if s.strip()])
        except ValueError:
            raise ConfigError(f"`--seeds` must be comma-separated ints, got {args.seeds!r}") from None
    for opt in ("experiment", "output_dir"):
        value = getattr(args, opt)
        if value is not None:
            if not value.strip():
                raise ConfigError(f"`--{opt.replace('_', '-')}` must not be empty")
            spec = dataclasses.replace(spec, **{opt: value})
    uri = resolve_tracking_uri(args.tracking_uri)
    server = server_for(uri) if args.mlflow_server else _ctx.nullcontext()
    try:
        with server:
            report = run_grid(spec, executor=args.executor, ray_address=args.ray_address,
                              max_parallel=args.max_parallel, tracking_uri=server.url if args.mlflow_server else uri)
    except KeyboardInterrupt:
        print("ecg-art grid: interrupted; finished cells are kept: run the same command again to run only the "
              "missing ones", file=sys.stderr)
        return 130
    print(f"\ngrid {report.name} ({report.grid_hash}, {report.executor}): {len(report.cells)} cells, "
          f"{report.count('finished')} run, {report.count('skipped')} finished earlier, {report.count('failed')} "
          f"failed, {report.seconds / 60:.1f} min; parent run {report.parent_run_id} in experiment "
          f"{report.experiment!r}")
    if report.table:
        print(f"\nmean ± std over seeds (accuracies in %)\n{report.table}")
    for cell in report.failed:
        print(f"FAILED {cell.name} ({cell.attempts} attempts): {cell.error}", file=sys.stderr)
    print(f"\nwritten to {report.out_dir}/ (cells.json, table.md)")
    return 0 if report.ok else 1


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
    r.add_argument("--cache-dir", help="prepared-array cache (default: $ECG_ART_CACHE or ~/.cache/ecg_art)")
    r.add_argument("--tracking-uri", help="MLflow tracking URI (default: $MLFLOW_TRACKING_URI, then ./mlruns SQLite)")
    r.add_argument("--seed", type=int)
    r.add_argument("--device", help="auto, cpu or cuda")
    r.add_argument("--resume", action="store_true", help="reuse finished stages and checkpoints of an earlier run")
    r.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a config field (repeatable)")
    r.set_defaults(func=_cmd_run)

    ls = sub.add_parser("list", help="list registered recipes, models or attacks, or the zoo's trained models")
    ls.add_argument("what", choices=["recipes", "models", "attacks", "zoo"])
    ls.set_defaults(func=_cmd_list)

    b = sub.add_parser("benchmark", help="robust accuracy of a trained model under an L-inf attack suite")
    b.add_argument("model", help="NAME:CHECKPOINT.pt, a checkpoint path, an MLflow URI (runs:/<id>/model) or "
                   "zoo:NAME (ecg-art list zoo)")
    b.add_argument("--suite", default="standard",
                   help="standard (9 attacks and the standard AutoAttack) or quick (FGSM, PGD-20, APGD-CE, SAP)")
    b.add_argument("--eps", default="0.01,0.03,0.05,0.1", help="comma-separated L-inf budgets (normalised beat units)")
    b.add_argument("--n", type=int, default=500, help="random test beats attacked (seeded)")
    b.add_argument("--data-dir")
    b.add_argument("--cache-dir")
    b.add_argument("--split", help="intra (default) or inter; the test side is attacked (zoo: the card's split)")
    b.add_argument("--seed", type=int, default=0)
    b.add_argument("--batch-size", type=int, default=256)
    b.add_argument("--device", default="auto", help="auto, cpu or cuda")
    b.add_argument("--model-name", help="registered model of a checkpoint that does not name one")
    b.add_argument("--model-kwargs", help="JSON object of model factory arguments")
    b.add_argument("--defence", help="import path of an ART defence, e.g. ecg_art.defences.BandpassFilter")
    b.add_argument("--defence-kwargs", help="JSON object of the defence's constructor arguments")
    b.add_argument("--output", help="folder of benchmark.json, robustness.png, table.md")
    b.add_argument("--experiment", default="benchmark", help="MLflow experiment of the run")
    b.add_argument("--tracking-uri")
    b.add_argument("--no-track", action="store_true", help="do not log an MLflow run")
    b.add_argument("--strict", action="store_true", help="exit 1 when a sanity check fails")
    b.set_defaults(func=_cmd_benchmark)

    c = sub.add_parser("compare", help="table and bar plot of logged runs (default: the latest experiment)")
    c.add_argument("--experiment", help="MLflow experiment (default: the one with the most recently started run)")
    c.add_argument("--metric", action="append", metavar="M",
                   help="metric key(s), repeatable or comma-separated (default: the headline accuracies at each eps "
                        "and the detector AUCs)")
    c.add_argument("--param", action="append", metavar="P", help="param key(s) shown as columns")
    c.add_argument("--filter", help="MLflow search filter, e.g. \"params.model = 'baseline_cnn'\"")
    c.add_argument("--output", help="write the table to this markdown file (and the plot beside it)")
    c.add_argument("--plot", help="bar plot PNG path (default: results/compare-<experiment>.png)")
    c.add_argument("--tracking-uri")
    c.set_defaults(func=_cmd_compare)

    g = sub.add_parser("grid", help="a grid of recipe runs (TOML: recipes x seeds x splits x eps ...), here or on Ray")
    g.add_argument("grid_file", help="grid file, e.g. grids/small.toml")
    g.add_argument("--executor", choices=["local", "ray"], default="local",
                   help="local: one cell after another here; ray: one Ray task per cell")
    g.add_argument("--ray-address", help="an existing Ray cluster (default: Ray started in this process)")
    g.add_argument("--max-parallel", type=int, help="cells at a time on Ray (default: its CPUs)")
    g.add_argument("--seeds", help="comma-separated seeds: replaces the grid's seed axis")
    g.add_argument("--experiment", help="MLflow experiment, replacing the grid's [grid] experiment (the same grid "
                                        "in another experiment runs again rather than resuming)")
    g.add_argument("--output-dir", help="the recipes' results folder, replacing the grid's [grid] output_dir")
    g.add_argument("--tracking-uri")
    g.add_argument("--mlflow-server", action="store_true",
                   help="run a local `mlflow server` over the tracking store for the grid (concurrent cells)")
    g.set_defaults(func=_cmd_grid)
    return p


@contextlib.contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """Turn SIGTERM (``kill``, a batch scheduler's stop) into ``KeyboardInterrupt`` while the block runs, so open MLflow
    runs are closed as KILLED and the interrupted-run message is printed, as for Ctrl-C. Main thread only."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def _raise(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, _raise)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(name)s %(levelname)s: %(message)s", datefmt="%H:%M:%S")
    # ART logs two INFO lines per attacked batch ("Creating adversarial samples", "Success rate ..."): thousands in
    # an adversarial training run. They are shown with -v only.
    logging.getLogger("art").setLevel(logging.DEBUG if args.verbose else logging.WARNING)
    from tqdm.contrib.logging import logging_redirect_tqdm

    try:
        # log lines go above the progress bars (tqdm.write) instead of through the middle of them
        with _terminate_as_interrupt(), logging_redirect_tqdm():
            return int(args.func(args) or 0)
    except EcgArtError as exc:
        print(f"ecg-art: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("ecg-art: interrupted; finished stages and checkpoints are kept (re-run with --resume)", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
