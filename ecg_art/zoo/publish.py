"""Put a trained model on the zoo's shelf: copy its checkpoint, write its card, and re-score it against the card."""

from __future__ import annotations

import dataclasses
import json
import logging
import shutil
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from ecg_art.exceptions import ConfigError, DataError
from ecg_art.io import write_json
from ecg_art.zoo.card import ModelCard
from ecg_art.zoo.store import ZOO_DIR, _sha256, load_test_data, rescore

__all__ = ["publish_model"]

logger = logging.getLogger(__name__)


def _clean_metrics(results: Mapping[str, Any]) -> dict[str, Any]:
    clean = results["clean"]
    confusion = np.asarray(clean["confusion"], dtype=np.int64)
    correct, n = int(np.trace(confusion)), int(confusion.sum())
    if n != int(clean["n"]) or abs(correct / n - float(results["row"]["clean"])) > 1e-12:
        raise ConfigError(f"results: the confusion matrix ({correct} / {n}) does not give the row's clean accuracy "
                          f"{results['row']['clean']!r}")
    row = {k: v for k, v in results["row"].items() if not isinstance(v, dict)}
    return {"clean_accuracy": correct / n, "clean_correct": correct, "n_test": n,
            "macro_f1": float(clean["macro_f1"]), "sensitivity": clean["sensitivity"], "ppv": clean["ppv"],
            "confusion": confusion.tolist(), "row": row, "attacked_n": results["config"].get("eval_n"),
            "eps": results["config"].get("eps")}


def publish_model(name: str, *, checkpoint: str | Path, results: str | Path, description: str, model: str,
                  model_kwargs: Mapping[str, Any], clip_values: tuple[float, float], beat_config: Any,
                  transfer_split: bool, training: Mapping[str, Any], extra: Mapping[str, Any] | None = None,
                  data_dir: str | Path | None = None, cache_dir: str | Path | None = None,
                  directory: str | Path | None = None) -> ModelCard:
    """Copy ``checkpoint`` to ``<directory>/<name>.pt``, write ``<name>.json`` and check the card against the data.

    The split (scheme, seed, patient-disjoint validation) and the config come from the run's ``results`` JSON
    (written by the recipes), the metrics from its clean confusion matrix and table row; the data and split hashes
    are recomputed from ``data_dir``. The clean test accuracy is then re-scored: a card whose model does not give its
    own figure on its own test split is removed again and :class:`DataError` raised.

    Parameters
    ----------
    name : str
        Zoo name, lower case (``"at-nsr-intra"``).
    checkpoint, results : str or Path
        The run's selected weights (``best.pt``) and its ``results.json``.
    description : str
        One line for ``ecg-art list zoo``.
    model, model_kwargs, clip_values
        Registered model, factory arguments and input domain of its classifier.
    beat_config : ecg_art.data.BeatConfig
        How the run's windows were cut and scaled.
    transfer_split : bool
        The run's split was made on the beat-only windows and carried beat by beat (the fusion models).
    training : mapping
        ``command``, ``commit`` and whatever else tells how the model was made (``recipe``, ``profile`` and the
        ``config`` are taken from ``results``).
    extra : mapping, optional
        More card fields (environment, attacks).
    directory : str or Path, optional
        The shelf (default: the shipped one, :data:`ecg_art.zoo.store.ZOO_DIR`).

    Returns
    -------
    ModelCard
    """
    if name != name.strip().lower() or not name or "/" in name:
        raise ConfigError(f"zoo name must be lower case without slashes, got {name!r}")
    folder = Path(directory) if directory is not None else ZOO_DIR
    folder.mkdir(parents=True, exist_ok=True)
    res = json.loads(Path(results).read_text())
    cfg = res["config"]
    target = folder / f"{name}.pt"
    shutil.copyfile(checkpoint, target)
    card_path = folder / f"{name}.json"
    card = ModelCard(
        name=name, description=description, model=model, model_kwargs=dict(model_kwargs),
        clip_values=(float(clip_values[0]), float(clip_values[1])), checkpoint=target.name, sha256=_sha256(target),
        data={"beat_config": dataclasses.asdict(beat_config), "data_hash": "", "transfer_split": bool(transfer_split)},
        split={"scheme": cfg["split"], "seed": int(cfg["seed"]), "val_by_record": bool(cfg.get("val_by_record")),
               "split_hash": "", "n_test": int(res["clean"]["n"])},
        metrics=_clean_metrics(res),
        training={"recipe": cfg["name"], "profile": cfg["profile"], "config": cfg, **dict(training),
                  "mlflow_run_id": res.get("run_id"), "checkpoint_bytes": target.stat().st_size},
        extra=dict(extra or {}))
    write_json(card_path, card.to_dict())
    try:
        test = load_test_data(name, data_dir=data_dir, cache_dir=cache_dir, directory=folder)
        card = dataclasses.replace(card, data={**card.data, "data_hash": test.data_hash},
                                   split={**card.split, "split_hash": test.split_hash,
                                          "n_train": test.sizes["train"], "n_val": test.sizes["val"]})
        write_json(card_path, card.to_dict())
        check = rescore(name, data_dir=data_dir, cache_dir=cache_dir, device="cpu", directory=folder)
        if not check["matches"]:
            raise DataError(f"zoo model {name!r}: re-scored {check['clean_correct']} / {check['n_test']} correct, "
                            f"the run recorded {card.metrics['clean_correct']} / {card.metrics['n_test']}")
    except BaseException:
        card_path.unlink(missing_ok=True)
        target.unlink(missing_ok=True)
        raise
    for path in (card_path, target):  # package data: readable by whoever installs it (atomic writes are 0600)
        path.chmod(0o644)
    logger.info("zoo %s: card written, clean %d / %d re-scored", name, check["clean_correct"], check["n_test"])
    return ModelCard.read(card_path)
