"""load_defence / apply_defence: third-party ART defences by import path."""

from __future__ import annotations

import numpy as np
import pytest

from ecg_art.defences import BandpassFilter, DeferredDefence, apply_defence, defence_kind, load_defence
from ecg_art.estimators import make_classifier
from ecg_art.exceptions import ConfigError
from ecg_art.models import BaselineCNN


@pytest.fixture(scope="module")
def clf():
    return make_classifier(BaselineCNN(input_length=64, channels=(4,), kernel_sizes=(3,), hidden=8),
                           input_length=64, device="cpu")


def test_preprocessor_by_path_is_attached_to_a_copy(clf):
    sq = load_defence("art.defences.preprocessor.FeatureSqueezing", clip_values=(0.0, 1.0), bit_depth=2)
    defended = apply_defence(clf, sq)
    assert defended is not clf and defended.model is clf.model
    assert defended.preprocessing_defences == [sq] and not clf.preprocessing_defences
    x = np.random.default_rng(0).random((3, 1, 64), dtype=np.float32)
    np.testing.assert_allclose(sq(x)[0], np.round(x * 3) / 3, atol=1e-6)  # what the defended model sees


def test_postprocessor_by_path(clf):
    rs = load_defence("art.defences.postprocessor.ReverseSigmoid", beta=1.0, gamma=0.1)
    defended = apply_defence(clf, rs)
    assert defended.postprocessing_defences == [rs]
    assert defended.clip_values is not None and np.allclose(defended.clip_values, clf.clip_values)


def test_colon_path_and_our_own_preprocessor(clf):
    bp = load_defence("ecg_art.defences.bandpass:BandpassFilter", fs=360.0, device_type="cpu")
    assert isinstance(bp, BandpassFilter) and defence_kind(bp) == "preprocessor"
    defended = apply_defence(apply_defence(clf, bp), load_defence("art.defences.postprocessor.Rounded"))
    assert [type(p).__name__ for p in defended.preprocessing_operations] == ["BandpassFilter"]
    assert [type(p).__name__ for p in defended.postprocessing_defences] == ["Rounded"]


def test_trainer_is_deferred_and_built_on_the_classifier(clf):
    bad = load_defence("art.defences.trainer.AdversarialTrainerTRADESPyTorch", beta=6.0, no_such_argument=1)
    assert isinstance(bad, DeferredDefence) and defence_kind(bad) == "trainer"
    with pytest.raises(ConfigError, match="AdversarialTrainerTRADESPyTorch"):
        apply_defence(clf, bad)  # the constructor's TypeError names the import path
    from art.attacks.evasion import ProjectedGradientDescent

    pgd = ProjectedGradientDescent(clf, eps=0.05, eps_step=0.01, max_iter=2, verbose=False)
    trainer = apply_defence(clf, load_defence("art.defences.trainer.AdversarialTrainerTRADESPyTorch", attack=pgd,
                                                  beta=6.0))
    assert type(trainer).__name__ == "AdversarialTrainerTRADESPyTorch" and trainer.get_classifier() is clf


def test_detector_is_refused_by_apply(clf):
    det = load_defence("art.defences.detector.evasion.BinaryInputDetector", detector=clf)
    assert defence_kind(det) == "detector"
    with pytest.raises(ConfigError, match="detector"):
        apply_defence(clf, det)


@pytest.mark.parametrize("path, match", [
    ("art.defences.preprocessor.NoSuchDefence", "has no attribute"),
    ("no_such_package.Defence", "cannot import"),
    ("collections.OrderedDict", "not an ART defence"),
    ("numpy.pi", "not a class"),
    ("Bare", "must be"),
])
def test_bad_import_paths_name_the_path(path, match):
    with pytest.raises(ConfigError, match=match) as info:
        load_defence(path)
    assert path in str(info.value)


def test_bad_kwargs_name_the_path():
    with pytest.raises(ConfigError, match="FeatureSqueezing"):
        load_defence("art.defences.preprocessor.FeatureSqueezing", no_such_argument=1)


def test_abstract_base_is_refused():
    with pytest.raises(ConfigError, match="abstract"):
        load_defence("art.defences.preprocessor.Preprocessor")
