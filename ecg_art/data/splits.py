"""Train/validation/test splits of a :class:`BeatDataset`: intra-patient (by beat) and inter-patient (de Chazal)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from ecg_art.data.constants import DS1_RECORDS, DS2_RECORDS
from ecg_art.data.dataset import BeatDataset
from ecg_art.exceptions import SplitError

__all__ = ["Split", "SPLIT_SCHEMES", "SUBSET_MODES", "make_split", "stratified_subset", "transfer_split"]

SPLIT_SCHEMES = ("intra", "inter")
#: How :func:`stratified_subset` shares a subset among the classes.
SUBSET_MODES = ("capped", "proportional")


@dataclass(frozen=True, eq=False)
class Split:
    """Indices into a :class:`BeatDataset` for training, validation and test (sorted, disjoint, int64)."""

    train: np.ndarray
    val: np.ndarray
    test: np.ndarray
    scheme: str
    seed: int
    val_by_record: bool = False

    def fingerprint(self) -> str:
        """Short SHA-256 (16 hex digits) of the three index arrays and the scheme."""
        h = hashlib.sha256(f"{self.scheme}|{self.seed}|{self.val_by_record}".encode())
        for part in (self.train, self.val, self.test):
            h.update(np.asarray(part, dtype=np.int64).tobytes() + b"|")
        return h.hexdigest()[:16]

    def sizes(self) -> dict[str, int]:
        """Number of beats in each part."""
        return {"train": len(self.train), "val": len(self.val), "test": len(self.test)}


def _strat_labels(y: np.ndarray) -> np.ndarray:
    """Labels for stratification; classes with a single beat join the majority class (sklearn needs >= 2)."""
    y = np.asarray(y)
    values, counts = np.unique(y, return_counts=True)
    rare = values[counts < 2]
    return np.where(np.isin(y, rare), values[np.argmax(counts)], y) if len(rare) else y


def _carve(idx: np.ndarray, y: np.ndarray, fraction: float, seed: int, what: str) -> tuple[np.ndarray, np.ndarray]:
    """Split ``idx`` into (rest, carved) with ``fraction`` of it carved out, stratified by ``y[idx]``."""
    if fraction == 0 or len(idx) == 0:
        return idx, idx[:0]
    from sklearn.model_selection import train_test_split

    try:
        rest, carved = train_test_split(idx, test_size=fraction, random_state=seed, stratify=_strat_labels(y[idx]))
    except ValueError as exc:
        raise SplitError(f"cannot carve {what} (fraction {fraction}) from {len(idx)} beats: {exc}") from exc
    return np.sort(rest), np.sort(carved)


def _check_fraction(name: str, value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
        raise SplitError(f"`{name}` must be a fraction in [0, 1), got {value!r}")


def make_split(dataset: BeatDataset, scheme: str = "intra", *, val_fraction: float = 0.1,
               test_fraction: float = 0.2, seed: int = 0, val_by_record: bool = False) -> Split:
    """Split beats into train / val / test; validation is always carved from the training side.

    Parameters
    ----------
    dataset : BeatDataset
    scheme : {"intra", "inter"}
        ``"intra"``: stratified random split by beat (the same patients in every part; ``test_fraction`` of all
        beats go to test, then ``val_fraction`` of all beats to val). ``"inter"``: de Chazal et al. (2004),
        train on DS1 records and test on DS2 records (paced records in neither; ``test_fraction`` is unused);
        val is ``val_fraction`` of the DS1 beats, stratified by class.
    val_fraction, test_fraction : float
        Fractions in ``[0, 1)``.
    seed : int
        Seed of the random parts; the same seed gives the same split.
    val_by_record : bool
        With ``scheme="inter"``, hold out whole DS1 records (about ``val_fraction`` of DS1 beats) for validation,
        so val is patient-disjoint from train. Note that MIT-BIH records 201 (DS1) and 202 (DS2) come from the
        same patient.

    Examples
    --------
    >>> split = make_split(ds, "inter", val_fraction=0.1, seed=0)  # doctest: +SKIP
    >>> set(ds.record[split.test]) <= set(DS2_RECORDS)  # doctest: +SKIP
    True
    """
    if scheme not in SPLIT_SCHEMES:
        raise SplitError(f"unknown split scheme {scheme!r}; known: {', '.join(SPLIT_SCHEMES)}")
    _check_fraction("val_fraction", val_fraction)
    _check_fraction("test_fraction", test_fraction)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise SplitError(f"`seed` must be an integer, got {seed!r}")
    if val_by_record and scheme != "inter":
        raise SplitError(f"`val_by_record=True` needs scheme='inter', got scheme={scheme!r}")
    y = dataset.y
    every = np.arange(len(y), dtype=np.int64)
    if scheme == "intra":
        if val_fraction + test_fraction >= 1:
            raise SplitError(f"`val_fraction` + `test_fraction` must be < 1, got {val_fraction} + {test_fraction}")
        train, test = _carve(every, y, test_fraction, seed, "the test set")
        rel_val = val_fraction / (1 - test_fraction) if test_fraction < 1 else 0.0
        train, val = _carve(train, y, rel_val, seed, "the validation set")
        return Split(train=train, val=val, test=test, scheme=scheme, seed=int(seed))
    ds1 = every[np.isin(dataset.record, DS1_RECORDS)]
    test = every[np.isin(dataset.record, DS2_RECORDS)]
    if len(ds1) == 0 or len(test) == 0:
        raise SplitError(f"scheme 'inter' needs beats from DS1 and DS2 records; the dataset holds records "
                         f"{', '.join(dataset.records())}")
    if not val_by_record:
        train, val = _carve(ds1, y, val_fraction, seed, "the validation set from DS1")
        return Split(train=train, val=val, test=test, scheme=scheme, seed=int(seed))
    names, counts = np.unique(dataset.record[ds1], return_counts=True)
    order = np.random.default_rng(seed).permutation(len(names))
    target, taken, held = val_fraction * len(ds1), 0, []
    for i in order:
        if taken >= target or len(held) == len(names) - 1:
            break
        held.append(names[i])
        taken += counts[i]
    if val_fraction > 0 and not held:
        raise SplitError(f"`val_by_record=True` needs at least two DS1 records, the dataset has {list(names)}")
    in_val = np.isin(dataset.record[ds1], held)
    return Split(train=ds1[~in_val], val=ds1[in_val], test=test, scheme=scheme, seed=int(seed), val_by_record=True)


def stratified_subset(indices, y, n: int, *, seed: int, mode: str = "capped") -> np.ndarray:
    """Pick ``n`` of ``indices`` keeping every class present: with an equal per-class cap (``mode="capped"``, rare
    classes kept whole: a class-balanced set) or in the classes' own proportions (``"proportional"``, largest
    remainders, at least one beat of each class: the data's class mix).

    Parameters
    ----------
    indices : array of int
        Candidate indices into ``y`` (e.g. ``split.train``).
    y : array of int
        Labels of the whole dataset, indexed by ``indices``.
    n : int
        Subset size; all of ``indices`` are returned when ``n >= len(indices)``.
    seed : int
        Seed of the random pick.
    mode : {"capped", "proportional"}
        How the ``n`` are shared among the classes (above).

    Returns
    -------
    int64 ndarray
        Sorted subset of ``indices``.

    Examples
    --------
    >>> y = np.array([0] * 90 + [1] * 8 + [2] * 2)
    >>> np.bincount(y[stratified_subset(np.arange(100), y, 20, seed=0)]).tolist()
    [10, 8, 2]
    >>> np.bincount(y[stratified_subset(np.arange(100), y, 20, seed=0, mode="proportional")]).tolist()
    [17, 2, 1]
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise SplitError(f"`n` must be a positive integer, got {n!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise SplitError(f"`seed` must be an integer (the same seed gives the same subset), got {seed!r}")
    if mode not in SUBSET_MODES:
        raise SplitError(f"`mode` must be one of {', '.join(SUBSET_MODES)}, got {mode!r}")
    y = np.asarray(y)
    if y.ndim != 1:
        raise SplitError(f"`y` must be a 1-D array of labels, got shape {y.shape}")
    raw = np.asarray(indices)
    if raw.ndim != 1 or (raw.size and (raw.dtype.kind not in "iu" or raw.min() < 0 or raw.max() >= len(y))):
        raise SplitError(f"`indices` must be a 1-D array of integer indices into `y` (0..{len(y) - 1}), got dtype "
                         f"{raw.dtype}, shape {raw.shape}")
    indices = raw.astype(np.int64)
    if len(np.unique(indices)) != len(indices):
        raise SplitError("`indices` holds duplicates; a subset of it would repeat beats")
    if n >= len(indices):
        return np.sort(indices)
    labels = y[indices]
    classes, counts = np.unique(labels, return_counts=True)
    if n < len(classes):
        raise SplitError(f"`n`={n} cannot keep all {len(classes)} classes represented")
    rng = np.random.default_rng(seed)
    smallest_first = np.argsort(counts, kind="stable")
    if mode == "proportional":  # one beat of each class, the other n - C shared in proportion (largest remainders)
        share = (n - len(classes)) * (counts - 1) / (counts - 1).sum()  # n < len(indices): some class has > 1
        takes = 1 + np.floor(share).astype(np.int64)
        takes[np.argsort(np.floor(share) - share, kind="stable")[:n - int(takes.sum())]] += 1
    else:
        takes, left = np.zeros(len(classes), dtype=np.int64), n
        for k, i in enumerate(smallest_first):
            takes[i] = min(int(counts[i]), left // (len(classes) - k))
            left -= takes[i]
    # drawn smallest class first (the order the seeded subsets were always drawn in)
    picked = [rng.choice(indices[labels == classes[i]], size=int(takes[i]), replace=False) for i in smallest_first]
    return np.sort(np.concatenate(picked))


def transfer_split(split: Split, source: BeatDataset, target: BeatDataset) -> Split:
    """``split`` (indices into ``source``) carried over to ``target`` by beat identity (record, R sample).

    Datasets cut with other windows hold other beats (a longer context loses more at record edges), so a split made
    on each would put one beat in the training part of one and the test part of the other: a model that starts from
    another's weights would then be tested on beats its start was trained on. Carried over, every beat keeps its part;
    a ``target`` beat that ``source`` lacks is refused.

    Examples
    --------
    >>> # long-context fusion data split exactly as the beat-only models' data  # doctest: +SKIP
    >>> split = transfer_split(make_split(beats, "intra"), beats, contexts)  # doctest: +SKIP
    """
    key_s = np.char.add(np.char.add(source.record.astype(str), ":"), source.sample.astype(str))
    key_t = np.char.add(np.char.add(target.record.astype(str), ":"), target.sample.astype(str))
    part = np.full(len(source), -1, dtype=np.int64)
    for code, idx in enumerate((split.train, split.val, split.test)):
        part[idx] = code
    order = np.argsort(key_s)
    pos = np.searchsorted(key_s, key_t, sorter=order)
    pos = order[np.clip(pos, 0, len(order) - 1)]
    found = key_s[pos] == key_t
    if not found.all():
        missing = key_t[~found][:5].tolist()
        raise SplitError(f"{int((~found).sum())} beats of the target dataset are not in the source dataset "
                         f"(e.g. {missing}): the split cannot be carried over")
    where = part[pos]
    every = np.arange(len(target), dtype=np.int64)
    return Split(train=every[where == 0], val=every[where == 1], test=every[where == 2], scheme=split.scheme,
                 seed=split.seed, val_by_record=split.val_by_record)
