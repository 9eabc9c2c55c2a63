"""A JSON-friendly summary of a :class:`BeatDataset` and its split (what ``ecg-art data info`` prints)."""

from __future__ import annotations

from collections import Counter

from ecg_art.data.dataset import BeatDataset
from ecg_art.data.splits import Split

__all__ = ["describe"]


def describe(dataset: BeatDataset, split: Split | None = None) -> dict:
    """Records, beats per AAMI class and leads of ``dataset``; with ``split``, the same per train/val/test part.

    Examples
    --------
    >>> info = describe(ds, make_split(ds, "inter"))  # doctest: +SKIP
    >>> info["splits"]["test"]["classes"]["N"]  # doctest: +SKIP
    44738
    """
    def part(ds: BeatDataset) -> dict:
        return {"n_beats": len(ds), "n_records": len(ds.records()), "records": ds.records(),
                "classes": ds.class_counts()}

    info = part(dataset)
    info.update({"leads": dict(sorted(Counter(dataset.lead.tolist()).items())), "fs": float(dataset.fs),
                 "window": int(dataset.x.shape[-1]), "r_index": int(dataset.r_index),
                 "fingerprint": dataset.fingerprint()})
    if dataset.config is not None and hasattr(dataset.config, "to_dict"):
        info["config"] = dataset.config.to_dict()
    if split is not None:
        info["split"] = {"scheme": split.scheme, "seed": split.seed, "val_by_record": split.val_by_record,
                         "fingerprint": split.fingerprint()}
        info["splits"] = {name: part(dataset.subset(getattr(split, name))) for name in ("train", "val", "test")}
    return info
