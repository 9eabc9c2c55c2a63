"""The zoo's shelf: cards and checkpoints shipped in ``ecg_art/zoo/files``, loaded by name, and their test splits."""

from __future__ import annotations

import hashlib
import logging
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from ecg_art.exceptions import CheckpointError, ConfigError, DataError, EcgArtWarning, RegistryError
from ecg_art.zoo.card import ModelCard

__all__ = ["ZOO_DIR", "list_models", "load_card", "load_model", "make_zoo_classifier", "ZooTestSplit",
           "load_test_data", "rescore", "record_rescore", "is_zoo_spec", "zoo_name"]

logger = logging.getLogger(__name__)

#: Folder of the shipped cards (``<name>.json``) and checkpoints (``<name>.pt``), package data of ecg_art.
ZOO_DIR = Path(__file__).resolve().parent / "files"
ZOO_PREFIX = "zoo:"


def list_models(*, directory: str | Path | None = None) -> list[str]:
    """Sorted names of the zoo models (one card each).

    Examples
    --------
    >>> "at-nsr-intra" in list_models()
    True
    """
    folder = Path(directory) if directory is not None else ZOO_DIR
    return sorted(p.stem for p in folder.glob("*.json"))


def _card_path(name: str, directory: str | Path | None) -> Path:
    folder = Path(directory) if directory is not None else ZOO_DIR
    key = str(name).strip().lower()
    if key.startswith(ZOO_PREFIX):
        key = key[len(ZOO_PREFIX):]
    path = folder / f"{key}.json"
    if not key or "/" in key or "\\" in key or not path.is_file():
        known = ", ".join(list_models(directory=folder)) or "(none)"
        raise RegistryError(f"unknown zoo model {name!r}; known: {known}")
    return path


def load_card(name: str, *, directory: str | Path | None = None) -> ModelCard:
    """The card of zoo model ``name`` (``"at-nsr-intra"`` or ``"zoo:at-nsr-intra"``, case-insensitive).

    Raises
    ------
    RegistryError
        ``name`` is no zoo model; the message lists the known ones.
    ConfigError
        The card is malformed (the message names the card and the field).

    Examples
    --------
    >>> card = load_card("zoo:baseline-intra")
    >>> card.name, card.model_kwargs["input_length"]
    ('baseline-intra', 256)
    """
    return ModelCard.read(_card_path(name, directory))


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def load_model(name: str, *, directory: str | Path | None = None, verify: bool = True):
    """The ``torch.nn.Module`` of zoo model ``name`` with its weights, in eval mode, on the CPU.

    Parameters
    ----------
    name : str
        A zoo name (see :func:`list_models`).
    directory : str or Path, optional
        Another shelf of cards and checkpoints (default: the shipped one).
    verify : bool
        Check the checkpoint's SHA-256 against the card before loading it.

    Raises
    ------
    RegistryError
        Unknown ``name``.
    CheckpointError
        The checkpoint is missing, differs from the card's SHA-256, or does not fit the card's model.

    Examples
    --------
    >>> import torch
    >>> model = load_model("at-nsr-intra")
    >>> model(torch.zeros(2, 1, 256)).shape
    torch.Size([2, 5])
    """
    from ecg_art.io import load_checkpoint
    from ecg_art.models import get_model

    card = load_card(name, directory=directory)
    path = _card_path(card.name, directory).with_name(card.checkpoint)
    if not path.is_file():
        raise CheckpointError(f"zoo model {card.name!r}: checkpoint {str(path)!r} is missing")
    if verify and _sha256(path) != card.sha256:
        raise CheckpointError(f"zoo model {card.name!r}: checkpoint {str(path)!r} does not match the card's SHA-256 "
                              f"{card.sha256[:16]}... (changed or corrupt)")
    state = load_checkpoint(path).get("model")
    model = get_model(card.model, **dict(card.model_kwargs))
    try:
        model.load_state_dict(dict(state or {}))
    except RuntimeError as exc:
        raise CheckpointError(f"zoo model {card.name!r}: checkpoint does not fit model {card.model!r} with "
                              f"{dict(card.model_kwargs)!r}: {str(exc).splitlines()[0]}") from exc
    return model.eval()


def make_zoo_classifier(name: str, *, device: str = "auto", feature_mode: str | None = "bpda",
                        directory: str | Path | None = None):
    """Zoo model ``name`` as an ART classifier with the card's input length and ``clip_values``.

    ``feature_mode`` applies to models that re-extract features from their input (the fusion models): ``"bpda"``
    (default) predicts exactly as the deployed ``"hard"`` extractor and passes straight-through gradients, so
    gradient attacks are adaptive; ``"hard"`` is the deployed model (gradients through the CNN branch only); None
    keeps the model's own.

    Examples
    --------
    >>> clf = make_zoo_classifier("baseline-intra", device="cpu")
    >>> clf.input_shape, tuple(float(v) for v in clf.clip_values)
    ((1, 256), (0.0, 1.0))
    """
    from ecg_art.data import AAMI_CLASSES
    from ecg_art.estimators import make_classifier

    card = load_card(name, directory=directory)
    model = load_model(name, directory=directory)
    if feature_mode is not None and hasattr(model, "feature_mode"):
        model.feature_mode = feature_mode
    return make_classifier(model, input_length=int(card.data["beat_config"]["window"]),
                           nb_classes=len(AAMI_CLASSES), clip_values=card.clip_values, device=device)


@dataclass(frozen=True)
class ZooTestSplit:
    """The test beats of a zoo model's split, rebuilt from the data, with the hashes of what was rebuilt."""

    x: np.ndarray
    y: np.ndarray
    data_hash: str
    split_hash: str
    sizes: Mapping[str, int] = field(default_factory=dict)  # beats in the split's train / val / test parts

    def matches(self, card: ModelCard) -> bool:
        """Both hashes equal the card's: the card's metrics are about these very beats."""
        return (self.data_hash, self.split_hash) == (card.data["data_hash"], card.split["split_hash"])


def load_test_data(name: str, *, data_dir: str | Path | None = None, cache_dir: str | Path | None = None,
                   strict: bool = False, directory: str | Path | None = None) -> ZooTestSplit:
    """Rebuild the test split zoo model ``name`` was scored on (windows, scaling, split scheme and seed of its card).

    Parameters
    ----------
    name : str
        A zoo name.
    data_dir, cache_dir : str or Path, optional
        MIT-BIH folder and prepared-array cache (defaults as :func:`ecg_art.data.load_beats`).
    strict : bool
        Raise :class:`DataError` when the rebuilt data or split hash differs from the card's; else warn
        (:class:`EcgArtWarning`): the card's metrics are then about other beats.

    Returns
    -------
    ZooTestSplit
    """
    from ecg_art import data

    card = load_card(name, directory=directory)
    cfg = data.BeatConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in card.data["beat_config"].items()})
    ds = data.load_beats(data_dir, cfg, cache_dir=cache_dir)
    kw: dict[str, Any] = {"seed": int(card.split["seed"]), "val_by_record": bool(card.split["val_by_record"])}
    if card.data["transfer_split"]:  # split on the beat-only windows, carried beat by beat (as the recipes do)
        ref = data.load_beats(data_dir, data.BeatConfig(), cache_dir=cache_dir)
        split = data.transfer_split(data.make_split(ref, card.split["scheme"], **kw), ref, ds)
    else:
        split = data.make_split(ds, card.split["scheme"], **kw)
    out = ZooTestSplit(ds.x[split.test], ds.y[split.test], ds.fingerprint(), split.fingerprint(), split.sizes())
    if not out.matches(card):
        msg = (f"zoo model {card.name!r}: rebuilt data / split hash {out.data_hash} / {out.split_hash} differ from "
               f"the card's {card.data['data_hash']} / {card.split['split_hash']}; its metrics are about other beats")
        if strict:
            raise DataError(msg)
        warnings.warn(msg, EcgArtWarning, stacklevel=2)
    return out


def rescore(name: str, *, data_dir: str | Path | None = None, cache_dir: str | Path | None = None,
            device: str = "auto", directory: str | Path | None = None) -> dict[str, Any]:
    """Clean accuracy of zoo model ``name`` on its rebuilt test split, beside the card's.

    Returns
    -------
    dict
        ``clean_accuracy``, ``clean_correct``, ``n_test`` (measured now), ``card_clean_accuracy``,
        ``card_clean_correct``, ``hashes_match`` and ``matches`` (same beats and the same number correct).
    """
    from ecg_art.estimators import predict_labels

    card = load_card(name, directory=directory)
    test = load_test_data(name, data_dir=data_dir, cache_dir=cache_dir, directory=directory)
    classifier = make_zoo_classifier(name, device=device, feature_mode="hard", directory=directory)
    correct = int((predict_labels(classifier, test.x) == test.y).sum())
    n = int(len(test.y))
    out = {"name": card.name, "clean_accuracy": correct / n, "clean_correct": correct, "n_test": n,
           "card_clean_accuracy": float(card.metrics["clean_accuracy"]),
           "card_clean_correct": int(card.metrics["clean_correct"]), "hashes_match": test.matches(card)}
    out["matches"] = out["hashes_match"] and (correct, n) == (out["card_clean_correct"], int(card.metrics["n_test"]))
    logger.info("zoo %s: clean %d / %d (card %d / %d)", card.name, correct, n, out["card_clean_correct"],
                card.metrics["n_test"])
    return out


def record_rescore(name: str, result: Mapping[str, Any], *, directory: str | Path | None = None) -> Path:
    """Write ``result`` (a re-scoring of zoo model ``name`` with later attacks on the card's own attacked beats, as
    ``benchmarks/rescore_row.py`` makes it) into the card as its ``rescored`` block; the run's own ``metrics`` stay.

    ``result`` must hold ``derived`` (``worst@<eps>`` and the like, fractions), ``attacks``, ``n`` and ``command``;
    :meth:`ModelCard.summary` then reports the re-scored worst case. Returns the card's path.
    """
    from ecg_art.io import write_json

    absent = [k for k in ("derived", "attacks", "n", "command") if k not in result]
    if absent:
        raise ConfigError(f"re-scoring of zoo model {name!r} lacks {', '.join(f'`{k}`' for k in absent)}")
    if not any(str(k).startswith("worst@") for k in result["derived"]):
        raise ConfigError(f"re-scoring of zoo model {name!r} has no `worst@<eps>` in `derived`")
    path = _card_path(name, directory)
    card = ModelCard.read(path)
    write_json(path, {**card.to_dict(), "rescored": dict(result)})
    return path


def is_zoo_spec(spec: str) -> bool:
    """``spec`` names a zoo model (``zoo:<name>``)."""
    return isinstance(spec, str) and spec.strip().lower().startswith(ZOO_PREFIX)


def zoo_name(spec: str) -> str:
    """The card name of ``zoo:<name>`` (:class:`RegistryError` when there is no such zoo model)."""
    return load_card(spec).name
