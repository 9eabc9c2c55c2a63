"""Certified L2 robustness of a beat classifier by randomized smoothing (Cohen, Rosenfeld & Kolter 2019), through
ART's :class:`~art.estimators.certification.randomized_smoothing.PyTorchRandomizedSmoothing`, which serves 1D beats
``(1, L)`` as they are: its PREDICT (binomial test, abstains) and CERTIFY (Clopper-Pearson lower bound from
statsmodels, radius ``sigma * Phi^-1(p_A)``) are Cohen's algorithms.

| Paper link: https://arxiv.org/abs/1902.02918
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Sequence

import numpy as np
from tqdm.auto import tqdm

from ecg_art.exceptions import ConfigError
from ecg_art.seeding import numpy_seed

__all__ = ["Certificate", "smoothed_classifier", "smoothed_predict", "certify", "certified_accuracy",
           "linf_ball_radius", "ABSTAIN"]

logger = logging.getLogger(__name__)

ABSTAIN = -1  # the class index of an abstention


@dataclass(frozen=True, eq=False)
class Certificate:
    """Per beat: the smoothed prediction (``ABSTAIN`` = -1 when ``p_A``'s lower bound is below 1/2) and the certified
    L2 radius in the beat unit (0 when abstained), with the settings that produced them."""

    prediction: np.ndarray
    radius: np.ndarray
    sigma: float
    n0: int
    n: int
    alpha: float


def linf_ball_radius(eps: float, length: int = 256) -> float:
    """L2 radius of the smallest ball holding the Linf ball of radius ``eps`` in ``length`` dimensions.

    Examples
    --------
    >>> linf_ball_radius(0.05, 256)
    0.8
    """
    return float(eps) * float(np.sqrt(length))


def _check(name: str, value, *, low: float, integer: bool = False, high: float | None = None) -> None:
    ok = not isinstance(value, bool) and isinstance(value, (int, np.integer) if integer else (int, float, np.number))
    if not ok or not np.isfinite(value) or value <= low or (high is not None and value >= high):
        what = "an int" if integer else "a number"
        bound = f" in ({low}, {high})" if high is not None else f" > {low}"
        raise ConfigError(f"`{name}` must be {what}{bound}, got {value!r}")


def smoothed_classifier(classifier, *, sigma: float, n0: int = 100, alpha: float = 0.001):
    """ART's randomized-smoothing estimator around the network of ``classifier`` (a ``PyTorchClassifier``).

    ``n0`` is ART's ``sample_size`` (selection samples of CERTIFY, the samples of PREDICT); ``sigma`` its ``scale``.
    """
    import torch
    from art.estimators.certification.randomized_smoothing import PyTorchRandomizedSmoothing
    from art.estimators.classification import PyTorchClassifier
    from art.exceptions import EstimatorError

    if not isinstance(classifier, PyTorchClassifier):
        raise EstimatorError(type(classifier), [PyTorchClassifier], classifier)
    _check("sigma", sigma, low=0.0)
    _check("n0", n0, low=0, integer=True)
    _check("alpha", alpha, low=0.0, high=0.5)
    return PyTorchRandomizedSmoothing(
        model=classifier.model, loss=torch.nn.CrossEntropyLoss(), input_shape=tuple(classifier.input_shape),
        nb_classes=classifier.nb_classes, device_type="gpu" if classifier.device.type == "cuda" else "cpu",
        sample_size=int(n0), scale=float(sigma), alpha=float(alpha))


def _beats(x, classifier) -> np.ndarray:
    from ecg_art.estimators.checks import check_beats

    x, _ = check_beats(x, classifier=classifier)
    if len(x) == 0:
        raise ConfigError("`x` is empty: no beat to certify")
    return np.asarray(x, dtype=np.float32)


def smoothed_predict(classifier, x: np.ndarray, *, sigma: float, n: int = 1000, alpha: float = 0.001,
                     batch_size: int = 1000, seed: int = 0) -> np.ndarray:
    """Cohen's PREDICT: the smoothed class of each beat from ``n`` noisy copies, or ``ABSTAIN`` when a two-sided
    binomial test of the top two counts is not significant at ``alpha``.

    Examples
    --------
    >>> from ecg_art.estimators import make_classifier
    >>> from ecg_art.models import BaselineCNN
    >>> clf = make_classifier(BaselineCNN(), device="cpu")
    >>> smoothed_predict(clf, np.zeros((2, 1, 256), np.float32), sigma=0.25, n=50).shape
    (2,)
    """
    x = _beats(x, classifier)
    _check("n", n, low=0, integer=True)
    rs = smoothed_classifier(classifier, sigma=sigma, n0=n, alpha=alpha)
    with numpy_seed(seed):
        onehot = rs.predict(x, batch_size=batch_size, is_abstain=True)
    return np.where(onehot.sum(axis=1) > 0, onehot.argmax(axis=1), ABSTAIN).astype(np.int64)


def certify(classifier, x: np.ndarray, *, sigma: float, n0: int = 100, n: int = 10000, alpha: float = 0.001,
            batch_size: int = 1000, seed: int = 0, verbose: bool = False) -> Certificate:
    """Cohen's CERTIFY on each beat: the top class of ``n0`` noisy copies, then a one-sided ``1 - alpha``
    Clopper-Pearson lower bound ``p_A`` of its frequency in ``n`` fresh copies; radius ``sigma * Phi^-1(p_A)``, or
    abstain when ``p_A < 1/2``.

    Parameters
    ----------
    classifier : art.estimators.classification.PyTorchClassifier
        The base classifier (trained under Gaussian noise of about ``sigma``).
    x : np.ndarray
        Beats ``(m, 1, L)`` in the beat unit.
    sigma : float
        Standard deviation of the smoothing noise (beat unit).
    n0, n : int
        Selection and estimation sample counts.
    alpha : float
        Failure probability of each certificate.
    batch_size : int
        Noisy copies per forward pass.
    seed : int
        Seed of the noise (NumPy's global RNG is restored afterwards).

    Returns
    -------
    Certificate

    Raises
    ------
    ConfigError
        A bad parameter or bad beats, naming it.
    art.exceptions.EstimatorError
        ``classifier`` is not a PyTorch classifier.

    Examples
    --------
    >>> from ecg_art.estimators import make_classifier
    >>> from ecg_art.models import BaselineCNN
    >>> clf = make_classifier(BaselineCNN(), device="cpu")
    >>> cert = certify(clf, np.zeros((2, 1, 256), np.float32), sigma=0.25, n0=10, n=100)
    >>> cert.radius.shape
    (2,)
    """
    x = _beats(x, classifier)
    _check("n", n, low=0, integer=True)
    _check("batch_size", batch_size, low=0, integer=True)
    rs = smoothed_classifier(classifier, sigma=sigma, n0=n0, alpha=alpha)
    pred, radius = np.empty(len(x), dtype=np.int64), np.empty(len(x), dtype=np.float64)
    with numpy_seed(seed):
        for i in tqdm(range(len(x)), desc=f"certify sigma={sigma:g}", disable=not verbose):
            p, r = rs.certify(x[i:i + 1], n=int(n), batch_size=int(batch_size))
            pred[i], radius[i] = int(p[0]), float(r[0])
    radius[pred == ABSTAIN] = 0.0
    logger.info("certified %d beats at sigma %g (n0=%d, n=%d, alpha=%g): %d abstained", len(x), sigma, n0, n, alpha,
                int(np.sum(pred == ABSTAIN)))
    return Certificate(pred, radius, float(sigma), int(n0), int(n), float(alpha))


def certified_accuracy(cert: Certificate, y: np.ndarray, radii: Sequence[float]) -> np.ndarray:
    """Share of beats whose smoothed prediction is right *and* certified at L2 radius >= r, for each r in ``radii``.

    Examples
    --------
    >>> cert = Certificate(np.array([0, 1, -1]), np.array([0.5, 0.1, 0.0]), 0.25, 100, 1000, 0.001)
    >>> certified_accuracy(cert, np.array([0, 0, 0]), [0.0, 0.3, 0.6]).tolist()
    [0.3333333333333333, 0.3333333333333333, 0.0]
    """
    y = np.asarray(y)
    if y.shape != cert.prediction.shape:
        raise ConfigError(f"`y` must hold one label per certified beat {cert.prediction.shape}, got {y.shape}")
    r = np.asarray(radii, dtype=np.float64)
    if r.ndim != 1 or not np.all(np.isfinite(r)) or np.any(r < 0):
        raise ConfigError(f"`radii` must be finite radii >= 0, got {radii!r}")
    correct = cert.prediction == y
    return np.array([float(np.mean(correct & (cert.radius >= ri))) for ri in r])
