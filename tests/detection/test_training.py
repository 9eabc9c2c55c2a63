"""Training the detector against the adaptive attacker: the refreshed examples (eps ball, one per beat, seeded),
the protocol's refresh loop (seen beats recorded, threshold on the selected epoch), and that the detector it trains
resists the summed-loss adaptive attack better than the one trained on static PGD only."""

from __future__ import annotations

import numpy as np
import pytest

from ecg_art.detection import AdaptiveDetectorPGD, AdaptiveExamples, DetectionProtocol, make_input_detector
from ecg_art.exceptions import ConfigError, SplitError

from .conftest import EPS, LENGTH


def _fooled(classifier, x, y):
    return np.argmax(classifier.predict(x), axis=1) != y


def test_adaptive_examples_are_in_the_ball_and_seeded(classifier, splits):
    det = make_input_detector(input_length=LENGTH, device="cpu")
    x, y = splits["train"]
    maker = AdaptiveExamples(classifier, det, {"train": (x[:60], y[:60])}, eps=(0.02, EPS), max_iter=3)
    a = maker("train", 1)
    assert a.shape == x[:60].shape and np.abs(a - x[:60]).max() <= EPS + 1e-6
    np.testing.assert_array_equal(a, maker("train", 1))
    assert not np.array_equal(a, maker("train", 2))  # a new epoch, new draws
    with pytest.raises(ConfigError, match="split"):
        maker("test", 1)
    with pytest.raises(ConfigError, match="attacks"):
        AdaptiveExamples(classifier, det, {"train": (x, y)}, attacks=("square",))


@pytest.fixture(scope="module")
def trained(classifier, splits, pgd_sets):
    """Two detectors, static PGD vs adaptive refresh, same seed and epochs."""
    out = {}
    for mode in ("static", "adaptive"):
        proto = DetectionProtocol(make_input_detector(input_length=LENGTH, device="cpu"))
        refresh = None
        if mode == "adaptive":
            refresh = AdaptiveExamples(classifier, proto.detector, {k: splits[k] for k in ("train", "val")},
                                       eps=(EPS,), max_iter=10, seed=0)
        proto.fit(splits["train"][0], pgd_sets["train"], val_clean=splits["val"][0], val_adv=pgd_sets["val"],
                  nb_epochs=6, batch_size=64, seed=0, refresh=refresh)
        out[mode] = proto
    return out


def test_refresh_records_seen_beats_and_history(trained, splits):
    proto = trained["adaptive"]
    assert len(proto.history) == 6 and proto.fitted
    assert len(proto._seen["train"]) > 2 * len(splits["train"][0])  # the refreshed beats of every epoch are known
    with pytest.raises(SplitError):
        proto.score(splits["val"][0], splits["val"][0], attack="x", eps=EPS)


def test_adaptive_training_resists_the_adaptive_attack(trained, classifier, splits):
    x, y = splits["test"]
    auc = {}
    for mode, proto in trained.items():
        attack = AdaptiveDetectorPGD(classifier, detector=proto.detector, eps=EPS, max_iter=20, random_init=True)
        x_adv = attack.generate(x, y)
        auc[mode] = proto.score(x, x_adv, attack="adaptive", eps=EPS, fooled=_fooled(classifier, x_adv, y)).auc
    assert auc["adaptive"] > auc["static"]


def test_refresh_needs_a_torch_detector(splits, pgd_sets):
    class NoNet:
        def fit(self, x, y, **kwargs):
            pass

        def detect(self, x, batch_size=128):
            return {"predictions": np.zeros((len(x), 2))}, np.zeros(len(x), bool)

    with pytest.raises(ConfigError, match="refresh"):
        DetectionProtocol(NoNet()).fit(splits["train"][0], pgd_sets["train"], val_clean=splits["val"][0],
                                       val_adv=pgd_sets["val"], nb_epochs=1, refresh=lambda s, e: pgd_sets[s])
