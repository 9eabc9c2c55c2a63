"""The detection protocol, enforced: train on the training split, select epoch and threshold on the validation split,
score on held-out beats only (any beat seen in training or selection raises :class:`~ecg_art.exceptions.SplitError`)."""

from __future__ import annotations

import copy
import hashlib
import logging
from typing import Any, Callable, Mapping, Union

import numpy as np
import torch
from art.defences.detector.evasion import EvasionDetector
from tqdm.auto import tqdm

from ecg_art.detection.metrics import (DetectionResult, choose_threshold, detection_result, detection_scores,
                                       score_labels)
from ecg_art.exceptions import ConfigError, SplitError

__all__ = ["DetectionProtocol", "row_fingerprints"]

logger = logging.getLogger(__name__)
Adv = Union[np.ndarray, Mapping[Any, np.ndarray]]


def row_fingerprints(x: np.ndarray) -> set[bytes]:
    """One BLAKE2b digest per beat (row) of ``x``: the identity the protocol uses to recognise a beat it has seen.

    Examples
    --------
    >>> len(row_fingerprints(np.zeros((3, 1, 8), dtype=np.float32)))  # three identical beats, one fingerprint
    1
    """
    x = np.ascontiguousarray(np.asarray(x, dtype=np.float32))
    return {hashlib.blake2b(row.tobytes(), digest_size=16).digest() for row in x.reshape(len(x), -1)}


def _stack(x_adv: Adv, name: str) -> np.ndarray:
    arrays = list(x_adv.values()) if isinstance(x_adv, Mapping) else [x_adv]
    arrays = [np.asarray(a, dtype=np.float32) for a in arrays]
    if not arrays or any(a.ndim < 2 or len(a) == 0 for a in arrays):
        raise ConfigError(f"`{name}` must be a non-empty array of beats or a mapping of such arrays")
    return np.concatenate(arrays)


def _training_set(x_clean: np.ndarray, x_adv: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Clean beats (repeated to the number of adversarial ones, so both classes weigh the same) and adversarial
    beats, with one-hot labels clean = 0 / adversarial = 1."""
    idx = np.arange(max(len(x_adv), len(x_clean))) % len(x_clean)
    x = np.concatenate([x_clean[idx], x_adv])
    y = np.zeros((len(x), 2), dtype=np.float32)
    y[: len(idx), 0], y[len(idx):, 1] = 1.0, 1.0
    return x, y


class DetectionProtocol:
    """Train, select and score an ART ``EvasionDetector`` under a held-out protocol.

    ``fit`` trains on clean and adversarial beats of the *training* split, picks the epoch (highest validation AUC;
    for detectors whose network is a ``PyTorchClassifier`` at ``detector.detector``) and the decision threshold on the
    *validation* split. ``score`` then reports a :class:`DetectionResult`, and refuses (``SplitError``) any beat,
    clean or adversarial, whose fingerprint it saw while training or selecting. A third-party ART detector drops in:
    anything with ``fit(x, y, batch_size, nb_epochs)`` and ``detect(x, batch_size)`` works (trained once for
    ``nb_epochs`` when there is no torch network to checkpoint).

    Parameters
    ----------
    detector : art.defences.detector.evasion.EvasionDetector
        E.g. from :func:`~ecg_art.detection.make_input_detector`.
    threshold_method : {"youden", "fpr"}
        How the threshold is chosen on validation scores (see :func:`~ecg_art.detection.choose_threshold`).
    threshold_fpr : float
        Target false-positive rate of ``threshold_method="fpr"``.
    batch_size : int
        Beats per detector call.
    verbose : bool
        Progress bar over epochs.

    Examples
    --------
    >>> from ecg_art.detection import make_input_detector
    >>> rng = np.random.default_rng(0)
    >>> beats = lambda n: rng.uniform(0.3, 0.7, (n, 1, 32)).astype(np.float32)
    >>> noisy = lambda x: np.clip(x + rng.choice([-0.1, 0.1], x.shape), 0, 1).astype(np.float32)
    >>> xtr, xva, xte = beats(64), beats(32), beats(32)
    >>> proto = DetectionProtocol(make_input_detector(input_length=32, device="cpu"))
    >>> _ = proto.fit(xtr, noisy(xtr), val_clean=xva, val_adv=noisy(xva), nb_epochs=2)
    >>> proto.score(xte, noisy(xte), attack="noise", eps=0.1).n_adv
    32
    >>> proto.score(xva, noisy(xva), attack="noise", eps=0.1)  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    SplitError: ...
    """

    def __init__(self, detector: EvasionDetector, *, threshold_method: str = "youden", threshold_fpr: float = 0.05,
                 batch_size: int = 256, verbose: bool = False) -> None:
        if not (callable(getattr(detector, "fit", None)) and callable(getattr(detector, "detect", None))):
            raise ConfigError(f"`detector` must be an ART EvasionDetector (fit/detect), got {type(detector).__name__}")
        if threshold_method not in ("youden", "fpr"):
            raise ConfigError(f"`threshold_method` must be 'youden' or 'fpr', got {threshold_method!r}")
        if not 0.0 <= threshold_fpr <= 1.0:
            raise ConfigError(f"`threshold_fpr` must be in [0, 1], got {threshold_fpr!r}")
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ConfigError(f"`batch_size` must be a positive int, got {batch_size!r}")
        self.detector = detector
        self.threshold_method, self.threshold_fpr = threshold_method, threshold_fpr
        self.batch_size, self.verbose = batch_size, verbose
        self.threshold: float | None = None
        self.best_epoch: int | None = None
        self.history: list[dict[str, float]] = []
        self._seen: dict[str, set[bytes]] = {"train": set(), "val": set()}

    @property
    def fitted(self) -> bool:
        return self.threshold is not None

    def _network(self):
        """The detector's torch network (for epoch checkpoints), or None for a detector without one."""
        net = getattr(getattr(self.detector, "detector", None), "model", None)
        return net if isinstance(net, torch.nn.Module) else None

    def scores(self, x: np.ndarray) -> np.ndarray:
        """Detector scores of ``x`` (larger = more adversarial); no split check, no metric: use :meth:`score`."""
        return detection_scores(self.detector, x, batch_size=self.batch_size)

    def fit(self, x_clean: np.ndarray, x_adv: Adv, *, val_clean: np.ndarray, val_adv: Adv, nb_epochs: int = 10,
            batch_size: int = 128, patience: int | None = None, seed: int = 0,
            refresh: Callable[[str, int], np.ndarray] | None = None) -> list[dict[str, float]]:
        """Train on training-split beats, choose the epoch and threshold on validation-split beats.

        Parameters
        ----------
        x_clean, val_clean : numpy.ndarray
            Clean beats ``(n, 1, L)`` of the training / validation split.
        x_adv, val_adv : numpy.ndarray or mapping
            Adversarial beats made from that split (one array, or ``{(attack, eps): array}``). Clean beats are
            repeated in training so that both classes weigh the same.
        nb_epochs : int
            Training epochs (one ART ``fit`` call of one epoch each, validation AUC after each).
        batch_size : int
            Training batch size.
        patience : int, optional
            Stop after this many epochs without a better validation AUC.
        seed : int
            Seeds torch (shuffling, initialisation of lazily built parts).
        refresh : callable, optional
            Adversarial training against the detector as it trains: ``refresh(split, epoch)`` returns adversarial beats
            of that split (``"train"``: of ``x_clean``, ``"val"``: of ``val_clean``) crafted against the detector as it
            is now (e.g. by :class:`~ecg_art.detection.AdaptiveExamples`). Before each epoch the training set's
            refreshed part is replaced by a new ``refresh("train", epoch)``; after it, the validation AUC counts the
            static ``val_adv`` and a new ``refresh("val", epoch)`` together, and the threshold is chosen on those of
            the selected epoch. Needs a detector with a torch network.

        Returns
        -------
        list of dict
            ``{"epoch", "val_auc"}`` per epoch.
        """
        if not isinstance(nb_epochs, int) or nb_epochs < 1:
            raise ConfigError(f"`nb_epochs` must be a positive int, got {nb_epochs!r}")
        if patience is not None and (not isinstance(patience, int) or patience < 1):
            raise ConfigError(f"`patience` must be a positive int or None, got {patience!r}")
        x_clean, val_clean = np.asarray(x_clean, np.float32), np.asarray(val_clean, np.float32)
        x_adv, val_adv = _stack(x_adv, "x_adv"), _stack(val_adv, "val_adv")
        if len(x_clean) == 0 or len(val_clean) == 0:
            raise ConfigError("`x_clean` and `val_clean` must hold at least one beat each")
        train_fp = row_fingerprints(x_clean) | row_fingerprints(x_adv)
        val_fp = row_fingerprints(val_clean) | row_fingerprints(val_adv)
        if train_fp & val_fp:
            raise SplitError(f"{len(train_fp & val_fp)} beats are in both the training and the validation data")
        self._seen = {"train": train_fp, "val": val_fp}
        self.threshold, self.best_epoch, self.history = None, None, []

        torch.manual_seed(seed)
        x, y = _training_set(x_clean, x_adv)
        net = self._network()
        if refresh is not None and net is None:
            raise ConfigError(f"`refresh` needs a detector with a torch network; {type(self.detector).__name__} has "
                              f"none")
        val_extra = best_val_extra = val_adv[:0]
        if net is None:
            logger.info("%s has no torch network: trained once for %d epochs", type(self.detector).__name__, nb_epochs)
            self.detector.fit(x, y, batch_size=batch_size, nb_epochs=nb_epochs)
            self.best_epoch = nb_epochs
            self.history = [{"epoch": nb_epochs, "val_auc": self._val_auc(val_clean, val_adv)}]
        else:
            best_auc, best_state, stale = -np.inf, None, 0
            for epoch in tqdm(range(1, nb_epochs + 1), desc="detector", disable=not self.verbose):
                if refresh is not None:
                    fresh = self._refreshed(refresh, "train", epoch)
                    x, y = _training_set(x_clean, np.concatenate([x_adv, fresh]))
                self.detector.fit(x, y, batch_size=batch_size, nb_epochs=1)
                if refresh is not None:
                    val_extra = self._refreshed(refresh, "val", epoch)
                auc = self._val_auc(val_clean, np.concatenate([val_adv, val_extra]))
                self.history.append({"epoch": epoch, "val_auc": auc})
                logger.info("detector epoch %d: validation AUC %.4f", epoch, auc)
                if auc > best_auc:
                    best_auc, best_state, stale, self.best_epoch = auc, copy.deepcopy(net.state_dict()), 0, epoch
                    best_val_extra = val_extra
                else:
                    stale += 1
                    if patience is not None and stale >= patience:
                        break
            net.load_state_dict(best_state)
        net_eval = self._network()
        if net_eval is not None:
            net_eval.eval()
        val_all = np.concatenate([val_adv, best_val_extra])  # the refreshed beats of the selected epoch, if any
        self.threshold = choose_threshold(self.scores(val_clean), self.scores(val_all), method=self.threshold_method,
                                          fpr=self.threshold_fpr)
        logger.info("detector: epoch %s, threshold %.4g chosen on validation", self.best_epoch, self.threshold)
        return self.history

    def _refreshed(self, refresh: Callable[[str, int], np.ndarray], split: str, epoch: int) -> np.ndarray:
        """``refresh(split, epoch)`` with the detector in eval mode, checked and recorded as seen on ``split``."""
        net = self._network()
        mode = net.training
        net.eval()
        try:
            fresh = _stack(refresh(split, epoch), f"refresh({split!r}, {epoch})")
        finally:
            net.train(mode)
        self._seen[split] |= row_fingerprints(fresh)
        return fresh

    def _val_auc(self, val_clean: np.ndarray, val_adv: np.ndarray) -> float:
        from sklearn.metrics import roc_auc_score

        scores, y = score_labels(self.scores(val_clean), self.scores(val_adv))
        return float(roc_auc_score(y, scores))

    def check_held_out(self, *arrays: np.ndarray) -> None:
        """Raise ``SplitError`` if any beat of ``arrays`` was used to train or select the detector."""
        for x in arrays:
            fp = row_fingerprints(x)
            for split, seen in self._seen.items():
                if fp & seen:
                    raise SplitError(f"{len(fp & seen)} of the {len(x)} beats to score were used on the {split!r} "
                                     f"split to {'train' if split == 'train' else 'select'} the detector; score on "
                                     f"held-out (test) beats only")

    def score(self, x_clean: np.ndarray, x_adv: np.ndarray, *, attack: str, eps: float,
              fooled: np.ndarray | None = None, split: str = "test", return_scores: bool = False
              ) -> DetectionResult | tuple[DetectionResult, np.ndarray, np.ndarray]:
        """:class:`DetectionResult` of held-out clean vs adversarial beats at the validation-chosen threshold.

        ``fooled`` (bool per adversarial beat: misclassified by the attacked classifier) adds the joint success rate;
        with ``return_scores`` the clean and adversarial scores are returned too (for plots).
        """
        if not self.fitted:
            raise ConfigError("the detector has no validation-chosen threshold yet: call `fit` first")
        if split in self._seen:
            raise SplitError(f"`split` {split!r} was used to train or select the detector; score on 'test'")
        x_clean, x_adv = np.asarray(x_clean, np.float32), np.asarray(x_adv, np.float32)
        self.check_held_out(x_clean, x_adv)
        s_clean, s_adv = self.scores(x_clean), self.scores(x_adv)
        result = detection_result(s_clean, s_adv, attack=attack, eps=eps, threshold=self.threshold, split=split,
                                  fooled=fooled)
        return (result, s_clean, s_adv) if return_scores else result
