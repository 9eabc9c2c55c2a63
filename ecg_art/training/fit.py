"""Epoch-wise training of an ART classifier with any ART trainer, model selection on the validation split only,
atomic per-epoch checkpoints and exact resume."""

from __future__ import annotations

import contextlib
import copy
import functools
import logging
import random
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
from tqdm.auto import tqdm

from ecg_art.estimators.checks import check_beats
from ecg_art.evaluation.metrics import classification_metrics
from ecg_art.exceptions import CheckpointError, ConfigError
from ecg_art.io import load_checkpoint, save_checkpoint

__all__ = ["TrainHistory", "fit_classifier", "class_weights_from_labels", "seed_everything", "quiet_bars"]

logger = logging.getLogger(__name__)


@dataclass
class TrainHistory:
    """Per-epoch metrics and the selected epoch (chosen on validation macro-F1 only)."""

    epochs: list[dict[str, float]] = field(default_factory=list)
    best_epoch: int = -1
    best_score: float = float("-inf")
    stopped_early: bool = False
    resumed_from: int = 0
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (CPU and CUDA) RNGs."""
    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def class_weights_from_labels(y, *, nb_classes: int, power: float = 0.5) -> np.ndarray:
    """Inverse-frequency class weights ``(n / (k * count)) ** power``, normalised to mean 1 over present classes.

    ``power=1`` is full inverse frequency, ``0.5`` (default) its square root, which keeps N-class accuracy high
    while lifting the rare S/V/F sensitivities. Absent classes get weight 0.

    Examples
    --------
    >>> w = class_weights_from_labels([0, 0, 0, 1], nb_classes=2, power=1.0)
    >>> bool(w[1] > w[0])
    True
    """
    if power < 0:
        raise ConfigError(f"`power` must be >= 0, got {power!r}")
    counts = np.bincount(np.asarray(y, dtype=np.int64), minlength=nb_classes).astype(np.float64)
    present = counts > 0
    w = np.zeros(nb_classes)
    w[present] = (counts.sum() / (present.sum() * counts[present])) ** power
    w[present] /= w[present].mean()
    return w.astype(np.float32)


def _predict(classifier, x: np.ndarray, batch_size: int) -> np.ndarray:
    return np.argmax(classifier.predict(x, batch_size=batch_size), axis=1)


def _is_plateau(scheduler: Any) -> bool:
    from torch.optim.lr_scheduler import ReduceLROnPlateau

    return isinstance(scheduler, ReduceLROnPlateau)


def _remove_stale_temps(ckpt_dir: Path) -> None:
    """Delete temp files a killed process left mid-write (``.last.pt.*.tmp``); the checkpoints themselves are intact."""
    for stale in list(ckpt_dir.glob(".last.pt.*.tmp")) + list(ckpt_dir.glob(".best.pt.*.tmp")):
        logger.warning("removing %s, left by an interrupted checkpoint write", stale)
        stale.unlink(missing_ok=True)


def _disabled_bar(bar: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    kwargs["disable"] = True
    return bar(*args, **kwargs)


@contextlib.contextmanager
def quiet_bars(obj: Any):
    """Within the block, the tqdm bars that the modules of ``obj``'s class hierarchy create are disabled.

    ART's trainers (``AdversarialTrainer`` and the like) draw an "Adversarial training epochs" bar on every ``fit``
    call, with no switch to turn it off; :func:`fit_classifier` calls them once per epoch under its own bar.

    Examples
    --------
    >>> from art.defences.trainer import AdversarialTrainer
    >>> import art.defences.trainer.adversarial_trainer as module
    >>> before = module.trange
    >>> with quiet_bars(AdversarialTrainer.__new__(AdversarialTrainer)):
    ...     module.trange(3).disable
    True
    >>> module.trange is before
    True
    """
    saved = []
    for module in {sys.modules.get(cls.__module__) for cls in type(obj).__mro__} - {None}:
        for name in ("tqdm", "trange"):
            bar = getattr(module, name, None)
            if callable(bar):
                saved.append((module, name, bar))
                setattr(module, name, functools.partial(_disabled_bar, bar))
    try:
        yield
    finally:
        for module, name, bar in saved:
            setattr(module, name, bar)


def fit_classifier(
    classifier,
    x: np.ndarray,
    y: np.ndarray,
    *,
    validation_data: tuple[np.ndarray, np.ndarray],
    nb_epochs: int = 20,
    batch_size: int = 256,
    patience: int = 5,
    seed: int = 0,
    trainer: Any = None,
    scheduler: Any = None,
    checkpoint_dir: str | Path | None = None,
    resume: bool = False,
    on_epoch_end: Callable[[int, dict[str, float]], None] | None = None,
    verbose: bool = False,
    desc: str = "training",
) -> TrainHistory:
    """Train ``classifier`` one epoch at a time, keep the weights of the best validation macro-F1, stop early.

    Each epoch is one call of ``trainer.fit(x, y, nb_epochs=1, batch_size=batch_size)`` — any ART
    :class:`~art.defences.trainer.Trainer` (``AdversarialTrainer``, ``AdversarialTrainerMadryPGD``, our NSR trainer,
    TRADES, ...) — or of ``classifier.fit`` when ``trainer`` is None. RNGs are re-seeded from ``(seed, epoch)`` at
    the start of every epoch, so a run resumed from its last checkpoint ends with exactly the weights of an
    uninterrupted run.

    Parameters
    ----------
    classifier : art.estimators.classification.PyTorchClassifier
        Trained in place; on return it holds the weights of the selected (best-validation) epoch.
    x, y : np.ndarray
        Training beats ``(n, 1, L)`` and integer labels ``(n,)``.
    validation_data : tuple
        ``(x_val, y_val)`` — the only data model selection looks at. The test split never enters here.
    nb_epochs, batch_size, patience, seed : int
        Epoch budget, batch size, epochs without validation improvement before stopping, RNG seed.
    trainer : art.defences.trainer.Trainer, optional
        Trainer to run each epoch; it must wrap ``classifier``.
    scheduler : torch.optim.lr_scheduler.LRScheduler or ReduceLROnPlateau, optional
        Stepped after every epoch (a ``ReduceLROnPlateau`` with the validation macro-F1: build it with
        ``mode="max"``); its state is checkpointed with the model.
    checkpoint_dir : path, optional
        Where ``last.pt`` (every epoch, atomic) and ``best.pt`` go. Temp files that a killed run left behind
        mid-write (``.last.pt.*.tmp``) are removed at start; the checkpoints themselves are never half-written.
    resume : bool
        Continue from ``checkpoint_dir/last.pt`` if it exists.
    on_epoch_end : callable, optional
        Called as ``on_epoch_end(epoch, metrics)`` after each epoch (e.g. to log to MLflow).
    verbose : bool
        One progress bar over the epochs (validation accuracy, macro-F1 and the best epoch in its postfix); the
        per-batch bars of ART's ``fit`` and trainers stay off either way.
    desc : str
        Label of the progress bar.

    Returns
    -------
    TrainHistory

    Raises
    ------
    ConfigError
        Bad hyper-parameters, or beats/labels that do not fit the classifier (wrong shape, NaN/inf, labels out of
        range, ``len(x) != len(y)``), naming the argument.
    CheckpointError
        ``resume=True`` with a ``last.pt`` that is foreign, tampered with, or of another model.

    Examples
    --------
    >>> # history = fit_classifier(clf, x_tr, y_tr, validation_data=(x_va, y_va), nb_epochs=10)
    """
    for name, value, low in (("nb_epochs", nb_epochs, 1), ("batch_size", batch_size, 1), ("patience", patience, 1)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
            raise ConfigError(f"`{name}` must be an integer >= {low}, got {value!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise ConfigError(f"`seed` must be an integer, got {seed!r}")
    if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
        raise ConfigError(f"`validation_data` must be a pair (x_val, y_val), got {type(validation_data).__name__}")
    x, y = check_beats(x, y, classifier=classifier)
    x_val, y_val = check_beats(*validation_data, classifier=classifier, name="validation_data[0]",
                               y_name="validation_data[1]")
    if len(x) == 0:
        raise ConfigError("`x` is empty: there is nothing to train on")
    if len(x_val) == 0:
        raise ConfigError("`validation_data` is empty: model selection needs validation beats")
    if y.ndim != 1 or y_val.ndim != 1:
        raise ConfigError(f"`y` and `validation_data[1]` must be integer labels (n,), got shapes {y.shape} and "
                          f"{y_val.shape}")
    if resume and checkpoint_dir is None:
        raise ConfigError("`resume=True` needs a `checkpoint_dir`")
    y, y_val = y.astype(np.int64), y_val.astype(np.int64)
    runner = trainer if trainer is not None else classifier
    model = classifier.model
    ckpt_dir = Path(checkpoint_dir) if checkpoint_dir is not None else None
    history = TrainHistory()
    best_state: dict[str, Any] | None = None
    start_epoch = 0

    if ckpt_dir is not None:
        _remove_stale_temps(ckpt_dir)
    if resume and ckpt_dir is not None and (ckpt_dir / "last.pt").is_file():
        state = load_checkpoint(ckpt_dir / "last.pt", map_location=classifier.device)
        try:
            model.load_state_dict(state["model"])
            classifier.optimizer.load_state_dict(state["optimizer"])
            if scheduler is not None and state.get("scheduler") is not None:
                scheduler.load_state_dict(state["scheduler"])
            best_state = state["best_model"]
            history = TrainHistory(**{**state["history"], "resumed_from": int(state["epoch"]) + 1})
            start_epoch = int(state["epoch"]) + 1
        except (RuntimeError, KeyError, ValueError, TypeError, AttributeError) as exc:
            raise CheckpointError(f"checkpoint {str(ckpt_dir / 'last.pt')!r} does not fit this model: "
                                  f"{type(exc).__name__}: {exc}") from exc
        logger.info("resumed from %s at epoch %d", ckpt_dir / "last.pt", start_epoch)

    t0 = time.perf_counter()
    bar = tqdm(total=nb_epochs, initial=start_epoch, desc=desc, unit="epoch", disable=not verbose)
    for epoch in range(start_epoch, nb_epochs):
        if epoch - history.best_epoch > patience and history.best_epoch >= 0:
            history.stopped_early = True
            break
        seed_everything(seed * 1000 + epoch)
        te = time.perf_counter()
        # one bar per run (ours): ART's fit draws an "Epochs 1/1" bar with verbose, its trainers one per call
        with quiet_bars(runner):
            runner.fit(x, y, nb_epochs=1, batch_size=batch_size, **({"verbose": False} if trainer is None else {}))
        train_seconds = time.perf_counter() - te
        val = classification_metrics(y_val, _predict(classifier, x_val, 1024))
        metrics = {"epoch": float(epoch), "train_seconds": train_seconds,
                   "lr": float(classifier.optimizer.param_groups[0]["lr"]), **val.flat("val_")}
        if _is_plateau(scheduler):
            scheduler.step(val.macro_f1)
        elif scheduler is not None:
            scheduler.step()
        history.epochs.append(metrics)
        improved = val.macro_f1 > history.best_score
        if improved:
            history.best_epoch, history.best_score = epoch, val.macro_f1
            best_state = copy.deepcopy({k: v.detach().cpu() for k, v in model.state_dict().items()})
        logger.debug("epoch %d: val acc %.4f macro-F1 %.4f%s", epoch, val.accuracy, val.macro_f1,
                     " (best)" if improved else "")
        bar.set_postfix_str(f"val acc {val.accuracy:.4f} macro-F1 {val.macro_f1:.4f} "
                            f"(best {history.best_score:.4f} @ {history.best_epoch})", refresh=False)
        bar.update(1)
        if ckpt_dir is not None:
            save_checkpoint(ckpt_dir / "last.pt", {
                "epoch": epoch,
                "model": model.state_dict(),
                "optimizer": classifier.optimizer.state_dict(),
                "scheduler": scheduler.state_dict() if scheduler is not None else None,
                "best_model": best_state,
                "history": history.to_dict(),
            })
            if improved:
                save_checkpoint(ckpt_dir / "best.pt", {"epoch": epoch, "model": best_state})
        if on_epoch_end is not None:
            on_epoch_end(epoch, metrics)

    bar.close()
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    history.seconds += time.perf_counter() - t0
    if verbose:
        logger.info("%s: %d epochs in %.1f s, best validation macro-F1 %.4f at epoch %d%s", desc,
                    len(history.epochs), history.seconds, history.best_score, history.best_epoch,
                    " (stopped early)" if history.stopped_early else "")
    return history
