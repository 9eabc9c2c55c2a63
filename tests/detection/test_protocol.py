"""The held-out detection protocol: detectors separate clean from perturbed beats, and scoring on training or
validation beats is impossible."""

from __future__ import annotations

import numpy as np
import pytest
from art.defences.detector.evasion import BinaryActivationDetector, BinaryInputDetector, EvasionDetector

from ecg_art.detection import DetectionProtocol, make_activation_detector, make_input_detector
from ecg_art.exceptions import ConfigError, SplitError

from .conftest import EPS, LENGTH


def noisy(x: np.ndarray, seed: int, eps: float = EPS) -> np.ndarray:
    """Random-sign Linf noise of size ``eps``, clipped to [0, 1]."""
    rng = np.random.default_rng(seed)
    return np.clip(x + eps * rng.choice([-1.0, 1.0], x.shape), 0, 1).astype(np.float32)


@pytest.fixture(scope="module")
def noise_protocol(splits):
    proto = DetectionProtocol(make_input_detector(input_length=LENGTH, device="cpu"))
    xtr, xva = splits["train"][0], splits["val"][0]
    proto.fit(xtr, noisy(xtr, 0), val_clean=xva, val_adv=noisy(xva, 1), nb_epochs=4, batch_size=64, seed=0)
    return proto


def test_input_detector_separates_clean_from_noisy(noise_protocol, splits):
    assert isinstance(noise_protocol.detector, BinaryInputDetector)
    xte = splits["test"][0]
    r = noise_protocol.score(xte, noisy(xte, 2), attack="noise", eps=EPS)
    assert r.auc > 0.9 and r.accuracy > 0.8 and r.tpr_at_5fpr > 0.5
    assert (r.n_clean, r.n_adv, r.split) == (len(xte), len(xte), "test")
    assert noise_protocol.best_epoch in range(1, 5) and len(noise_protocol.history) >= noise_protocol.best_epoch
    # ...and a smaller perturbation of the same kind is harder to see
    assert noise_protocol.score(xte, noisy(xte, 3, eps=EPS / 5), attack="noise", eps=EPS / 5).auc < r.auc


def test_scoring_on_selection_or_training_beats_is_refused(noise_protocol, splits):
    xtr, xva, xte = splits["train"][0], splits["val"][0], splits["test"][0]
    with pytest.raises(SplitError, match="'val'"):
        noise_protocol.score(xva, noisy(xva, 5), attack="noise", eps=EPS)
    with pytest.raises(SplitError, match="'train'"):
        noise_protocol.score(xtr[:10], noisy(xte, 5), attack="noise", eps=EPS)
    with pytest.raises(SplitError, match="'train'"):  # an adversarial training beat slipped into the test set
        noise_protocol.score(xte, np.concatenate([noisy(xte[1:], 6), noisy(xtr, 0)[:1]]), attack="noise", eps=EPS)
    with pytest.raises(SplitError, match="split"):
        noise_protocol.score(xte, noisy(xte, 7), attack="noise", eps=EPS, split="val")
    noise_protocol.check_held_out(xte)  # held-out beats pass


def test_fit_refuses_overlapping_train_and_val_and_score_needs_fit(splits):
    xtr = splits["train"][0]
    proto = DetectionProtocol(make_input_detector(input_length=LENGTH, device="cpu"))
    with pytest.raises(ConfigError, match="fit"):
        proto.score(xtr, noisy(xtr, 0), attack="noise", eps=EPS)
    with pytest.raises(SplitError, match="both"):
        proto.fit(xtr[:100], noisy(xtr[:100], 0), val_clean=xtr[90:150], val_adv=noisy(xtr[90:150], 1), nb_epochs=1)
    with pytest.raises(ConfigError, match="threshold_method"):
        DetectionProtocol(make_input_detector(input_length=LENGTH, device="cpu"), threshold_method="best")
    with pytest.raises(ConfigError, match="detector"):
        DetectionProtocol(object())


def test_threshold_chosen_on_validation_only(noise_protocol, splits):
    xva = splits["val"][0]
    s0, s1 = noise_protocol.scores(xva), noise_protocol.scores(noisy(xva, 1))
    tpr, fpr = np.mean(s1 >= noise_protocol.threshold), np.mean(s0 >= noise_protocol.threshold)
    grid = np.quantile(np.concatenate([s0, s1]), np.linspace(0, 1, 101))
    best = max(np.mean(s1 >= t) - np.mean(s0 >= t) for t in grid)
    assert tpr - fpr == pytest.approx(best, abs=1e-9)  # Youden's J is maximal on the validation scores


class MeanAbsDiffDetector(EvasionDetector):
    """A third-party detector without a torch network: flags beats whose sample-to-sample roughness is high."""

    def fit(self, x, y, batch_size=128, nb_epochs=20, **kwargs):
        rough = np.abs(np.diff(x, axis=-1)).mean(axis=(1, 2))
        self.cut = float(np.median(rough))

    def detect(self, x, batch_size=128, **kwargs):
        rough = np.abs(np.diff(x, axis=-1)).mean(axis=(1, 2))
        return {"predictions": np.stack([-rough, rough], axis=1)}, rough > self.cut


def test_third_party_art_detector_drops_in(splits):
    xtr, xva, xte = splits["train"][0], splits["val"][0], splits["test"][0]
    proto = DetectionProtocol(MeanAbsDiffDetector())
    proto.fit(xtr, noisy(xtr, 0), val_clean=xva, val_adv={("noise", EPS): noisy(xva, 1)}, nb_epochs=1)
    assert proto.score(xte, noisy(xte, 2), attack="noise", eps=EPS).auc > 0.95


def test_activation_detector_on_classifier_features(classifier, splits, pgd_sets):
    det = make_activation_detector(classifier, layer="features", device="cpu")
    assert isinstance(det, BinaryActivationDetector)
    proto = DetectionProtocol(det)
    proto.fit(splits["train"][0], pgd_sets["train"], val_clean=splits["val"][0], val_adv=pgd_sets["val"],
              nb_epochs=5, batch_size=64)
    assert proto.score(splits["test"][0], pgd_sets["test"], attack="pgd", eps=EPS).auc > 0.6
