"""The model card of a zoo model: what it is, the data and split it was trained and scored on, how, and its metrics."""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Mapping

from ecg_art.exceptions import ConfigError

__all__ = ["ModelCard", "CARD_FORMAT"]

logger = logging.getLogger(__name__)

CARD_FORMAT = "ecg_art.zoo.card/1"
_SECTIONS = ("data", "split", "metrics", "training")
_REQUIRED = {
    "data": ("beat_config", "data_hash", "transfer_split"),
    "split": ("scheme", "seed", "val_by_record", "split_hash", "n_test"),
    "metrics": ("clean_accuracy", "clean_correct", "n_test"),
    "training": ("recipe", "profile", "config", "command", "commit"),
}


@dataclass(frozen=True)
class ModelCard:
    """A zoo model's card (one JSON file beside its checkpoint).

    Parameters
    ----------
    name : str
        The zoo name (``ecg-art benchmark zoo:<name>``).
    description : str
        One line for ``ecg-art list zoo``.
    model : str
        Registered model (:func:`ecg_art.models.get_model`) that the checkpoint's state dict fits.
    model_kwargs : mapping
        Keyword arguments of the model factory.
    clip_values : tuple of float
        The input domain ``(lo, hi)`` of the model's ART classifier (attack budgets are relative to the beat unit).
    checkpoint : str
        File name of the ecg_art checkpoint beside the card.
    sha256 : str
        SHA-256 of that file, checked before it is loaded.
    data : mapping
        ``beat_config`` (:class:`ecg_art.data.BeatConfig` fields), ``data_hash`` (the dataset's ``fingerprint()``) and
        ``transfer_split`` (the split is made on the beat-only windows and carried beat by beat to these windows).
    split : mapping
        ``scheme``, ``seed``, ``val_by_record``, ``split_hash`` (the split's ``fingerprint()``), ``n_train``,
        ``n_val``, ``n_test``.
    metrics : mapping
        ``clean_accuracy``, ``clean_correct`` and ``n_test`` on the whole test split, and the run's table row.
    training : mapping
        ``recipe``, ``profile``, the whole ``config``, the ``command`` that trained it, the ``commit`` and notes.
    extra : mapping
        Anything else the card carries (environment, attacks, per-class figures; ``rescored``: the same beats
        attacked again with attacks added after the run, :func:`ecg_art.zoo.record_rescore`).

    Examples
    --------
    >>> from ecg_art.zoo import load_card
    >>> card = load_card("at-nsr-intra")
    >>> card.model, card.split["scheme"], card.metrics["n_test"]
    ('baseline_cnn', 'intra', 21891)
    """

    name: str
    description: str
    model: str
    model_kwargs: Mapping[str, Any]
    clip_values: tuple[float, float]
    checkpoint: str
    sha256: str
    data: Mapping[str, Any]
    split: Mapping[str, Any]
    metrics: Mapping[str, Any]
    training: Mapping[str, Any]
    extra: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, obj: Mapping[str, Any], *, source: str = "card") -> "ModelCard":
        """Validate ``obj`` (a parsed card) and build the card; :class:`ConfigError` names ``source`` and the field."""
        if not isinstance(obj, Mapping):
            raise ConfigError(f"zoo card {source} must be a JSON object, got {type(obj).__name__}")
        if obj.get("format") != CARD_FORMAT:
            raise ConfigError(f"zoo card {source} has `format` {obj.get('format')!r}, expected {CARD_FORMAT!r}")
        names = [f for f in cls.__dataclass_fields__ if f != "extra"]
        missing = [f for f in names if f not in obj]
        if missing:
            raise ConfigError(f"zoo card {source} lacks {', '.join(f'`{m}`' for m in missing)}")
        for section in _SECTIONS:
            if not isinstance(obj[section], Mapping):
                raise ConfigError(f"zoo card {source}: `{section}` must be an object")
            absent = [k for k in _REQUIRED[section] if k not in obj[section]]
            if absent:
                raise ConfigError(f"zoo card {source}: `{section}` lacks {', '.join(f'`{k}`' for k in absent)}")
        clip = obj["clip_values"]
        if not (isinstance(clip, (list, tuple)) and len(clip) == 2 and float(clip[0]) < float(clip[1])):
            raise ConfigError(f"zoo card {source}: `clip_values` must be [lo, hi] with lo < hi, got {clip!r}")
        acc, correct, n = (obj["metrics"][k] for k in ("clean_accuracy", "clean_correct", "n_test"))
        if n != obj["split"]["n_test"] or abs(correct / n - acc) > 1e-12:
            raise ConfigError(f"zoo card {source}: `metrics` clean_accuracy {acc!r} is not clean_correct / n_test "
                              f"({correct} / {n}) or n_test differs from the split's")
        known = {**{k: obj[k] for k in names}, "clip_values": (float(clip[0]), float(clip[1]))}
        extra = {k: v for k, v in obj.items() if k not in names and k != "format"}
        return cls(**known, extra=extra)

    @classmethod
    def read(cls, path: str | Path) -> "ModelCard":
        """Read and validate the card at ``path``."""
        path = Path(path)
        try:
            obj = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise ConfigError(f"zoo card {str(path)!r} cannot be read: {exc}") from exc
        card = cls.from_dict(obj, source=repr(str(path)))
        if card.name != path.stem:
            raise ConfigError(f"zoo card {str(path)!r} names the model {card.name!r}, not its file name {path.stem!r}")
        return card

    def to_dict(self) -> dict[str, Any]:
        """The card as written to JSON (``format`` first, ``extra`` flattened)."""
        out = {"format": CARD_FORMAT, **asdict(self)}
        out["clip_values"] = list(self.clip_values)
        out.update(out.pop("extra"))
        return out

    @property
    def rescored(self) -> Mapping[str, Any]:
        """The ``rescored`` block's derived metrics (``worst@<eps>``, ...) when it has a worst case, else empty."""
        derived = self.extra.get("rescored", {}).get("derived", {})
        return derived if any(k.startswith("worst@") for k in derived) else {}

    def summary(self) -> str:
        """One line: name, model, split, clean accuracy and the worst case at the largest eps: of the ``rescored``
        block's attacks where the card has one (marked ``*``), else of the run's own."""
        row = self.rescored or self.metrics.get("row", {})
        worst = sorted((k for k in row if k.startswith("worst@")), key=lambda k: float(k.split("@")[1]))
        mark = "*" if self.rescored else " "
        tail = f"  worst case @{worst[-1].split('@')[1]} {100 * row[worst[-1]]:6.2f} %{mark}" if worst else ""
        return (f"{self.name:<16} {self.model:<13} {self.split['scheme']:<6} clean "
                f"{100 * self.metrics['clean_accuracy']:6.2f} % of {self.metrics['n_test']:>6} test beats{tail}  "
                f"{self.description}")
