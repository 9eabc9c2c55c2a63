"""Noise stress test, training under noise, and the stress-test figure."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ecg_art.estimators import make_classifier
from ecg_art.exceptions import ConfigError
from ecg_art.noise import (GaussianAugmentationTrainer, NoiseAugmentationTrainer, noise_robustness,
                           noise_robustness_figure, noise_source)


class _Amplitude(torch.nn.Module):
    """Class 1 when the beat's mean is above 0.5, else class 0: noise moves its decisions, a clean beat does not."""

    def __init__(self) -> None:
        super().__init__()
        self.w = torch.nn.Parameter(torch.tensor([0.0]))

    def forward(self, x):
        m = x.mean(dim=(1, 2)) - 0.5 + 0 * self.w
        return torch.stack([-m, m, -m - 9, -m - 9, -m - 9], dim=1)


def _beats(n: int = 40, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = np.zeros((n, 1, 256), dtype=np.float32)
    x[:, 0, 90] = 1.0
    y = np.zeros(n, dtype=np.int64)
    return x + 0.01 * rng.random(x.shape).astype(np.float32), y


@pytest.fixture
def clf():
    torch.manual_seed(0)
    return make_classifier(_Amplitude(), device="cpu")


def test_stress_test_rows_and_monotone_damage(clf, nstdb):
    x, y = _beats()
    res = noise_robustness(clf, x, y, kinds=("bw", "gauss"), snrs_db=(24.0, -6.0), noise_dir=nstdb,
                           renormalize=False)
    assert [(r.kind, r.snr_db) for r in res] == [("clean", float("inf")), ("bw", 24.0), ("bw", -6.0),
                                                 ("gauss", 24.0), ("gauss", -6.0)]
    assert res[0].accuracy == 1.0 and all(r.n == len(y) for r in res)
    assert all(0.0 <= r.accuracy <= 1.0 for r in res)
    # more noise never helps this amplitude classifier much: -6 dB is no better than 24 dB
    assert res[2].accuracy <= res[1].accuracy and res[4].accuracy <= res[3].accuracy


def test_stress_test_is_seeded_and_refuses_training_noise(clf, nstdb):
    x, y = _beats()
    a = noise_robustness(clf, x, y, kinds=("ma",), snrs_db=(0.0,), noise_dir=nstdb, seed=3)
    b = noise_robustness(clf, x, y, kinds=("ma",), snrs_db=(0.0,), noise_dir=nstdb, seed=3)
    assert a == b
    with pytest.raises(ConfigError, match="test part"):
        noise_robustness(clf, x, y, kinds=("ma",), snrs_db=(0.0,),
                         sources={"ma": noise_source("ma", part="train", noise_dir=nstdb)})


@pytest.mark.parametrize("kwargs, match", [({"kinds": ()}, "kinds"), ({"snrs_db": (float("inf"),)}, "snrs_db")])
def test_stress_test_bad_arguments(clf, kwargs, match):
    x, y = _beats(4)
    with pytest.raises(ConfigError, match=match):
        noise_robustness(clf, x, y, **kwargs)


def test_augmentation_uses_training_part_and_wraps_a_trainer(clf, nstdb):
    calls = []

    class Inner:
        def fit(self, x, y, **kwargs):
            calls.append((x.copy(), kwargs))

    src = noise_source("bw", part="train", noise_dir=nstdb)
    trainer = NoiseAugmentationTrainer(clf, sources=[src], snr_range_db=(0.0, 6.0), p=0.5, inner=Inner())
    x, y = _beats(200)
    np.random.seed(0)
    trainer.fit(x, y, nb_epochs=1, batch_size=32)
    x_aug, kwargs = calls[0]
    changed = np.any(np.abs(x_aug - x) > 1e-6, axis=(1, 2))
    assert kwargs == {"nb_epochs": 1, "batch_size": 32}
    assert 0.3 < changed.mean() < 0.7  # p = 0.5
    noisy = x_aug[changed]
    assert np.all(noisy >= 0) and np.all(noisy <= 1 + 1e-6)  # renormalised like the pipeline's beats
    with pytest.raises(ConfigError, match="training parts"):
        NoiseAugmentationTrainer(clf, sources=[noise_source("bw", part="test", noise_dir=nstdb)])
    with pytest.raises(ConfigError, match="snr_range_db"):
        NoiseAugmentationTrainer(clf, sources=[src], snr_range_db=(10.0, 0.0))
    with pytest.raises(ConfigError, match="`p`"):
        NoiseAugmentationTrainer(clf, sources=[src], p=1.5)


def test_gaussian_trainer_fits_on_noisy_copies(clf):
    seen = []
    clf.fit = lambda x, y, **kw: seen.append(x)  # record instead of training
    x, y = _beats(400)
    np.random.seed(1)
    GaussianAugmentationTrainer(clf, sigma=0.25).fit(x, y, batch_size=64)
    assert np.std(seen[0] - x) == pytest.approx(0.25, rel=0.02)
    with pytest.raises(ConfigError, match="sigma"):
        GaussianAugmentationTrainer(clf, sigma=0.0)


def test_figure_has_two_panels():
    rows = [{"kind": "clean", "snr_db": float("inf"), "accuracy": 0.9, "macro_f1": 0.8},
            {"kind": "bw", "snr_db": 6.0, "accuracy": 0.7, "macro_f1": 0.6},
            {"kind": "bw", "snr_db": 0.0, "accuracy": 0.6, "macro_f1": 0.5}]
    assert len(noise_robustness_figure({"a": rows, "b": rows}).axes) == 2
    with pytest.raises(ConfigError):
        noise_robustness_figure({})


def test_stress_test_of_contexts_in_chunks_equals_one_pass(nstdb):
    torch.manual_seed(0)
    clf = make_classifier(_Amplitude(), input_length=1024, clip_values=(-4.0, 5.0), device="cpu")
    # 12 contexts of 1,024 samples, R at 502, scaled in the unit of their beat window [412, 668)
    rng = np.random.default_rng(1)
    x = (0.05 * rng.random((12, 1, 1024))).astype(np.float32)
    x[:, 0, 502] = 1.0
    y = np.zeros(12, dtype=np.int64)
    kw = dict(kinds=("bw", "gauss"), snrs_db=(12.0, -6.0), noise_dir=nstdb, r_offset=502, norm_span=(412, 668),
              clip=(-4.0, 5.0))
    whole = noise_robustness(clf, x, y, chunk_size=100, **kw)
    chunked = noise_robustness(clf, x, y, chunk_size=5, **kw)
    assert whole == chunked and all(r.n == 12 for r in whole)
