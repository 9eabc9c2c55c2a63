"""Contract and maths tests of the Smooth Adversarial Perturbation attack (SAP)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from art.attacks.evasion import ProjectedGradientDescent

from attacks_custom import SmoothAdversarialPerturbation, gaussian_kernels, make_sap, sap_perturb, smooth
from ecg_art.evaluation.metrics import smoothness
from ecg_art.exceptions import AttackError, ConfigError

EPS = 0.1


@pytest.fixture(scope="module")
def test_beats(beats):
    (x, y) = beats[1]
    return x[:120], y[:120]


@pytest.fixture(scope="module")
def sap_result(trained_classifier, test_beats):
    x, _ = test_beats
    x_in = x.copy()
    x_adv = SmoothAdversarialPerturbation(trained_classifier, eps=EPS).generate(x_in)
    return x_in, x_adv


def accuracy(clf, x, y):
    return float((clf.predict(x).argmax(1) == y).mean())


def test_shape_dtype_and_input_not_mutated(sap_result, test_beats):
    x_in, x_adv = sap_result
    assert x_adv.shape == x_in.shape and x_adv.dtype == np.float32
    np.testing.assert_array_equal(x_in, test_beats[0])


def test_linf_bound_and_clip_values(sap_result):
    x, x_adv = sap_result
    assert np.abs(x_adv - x).max() <= EPS + 1e-6
    assert x_adv.min() >= 0.0 and x_adv.max() <= 1.0


def test_adversarial_accuracy_below_clean(trained_classifier, sap_result, test_beats):
    x, x_adv = sap_result
    clean = accuracy(trained_classifier, x, test_beats[1])
    assert clean > 0.9
    assert accuracy(trained_classifier, x_adv, test_beats[1]) < clean - 0.2


def test_two_dimensional_input_accepted(trained_classifier, test_beats):
    x = test_beats[0][:16, 0, :]
    x_adv = make_sap(trained_classifier, eps=EPS, pgd_iter=3).generate(x)
    assert x_adv.shape == x.shape and np.abs(x_adv - x).max() <= EPS + 1e-6


def test_smoother_than_art_pgd_at_same_eps(trained_classifier, sap_result):
    x, x_adv = sap_result
    pgd = ProjectedGradientDescent(trained_classifier, eps=EPS, eps_step=EPS / 10, max_iter=20, verbose=False)
    x_pgd = pgd.generate(x)
    assert smoothness(x, x_adv) < 0.2 * smoothness(x, x_pgd)


def test_kernels_normalised_and_scaled_to_fs():
    def widths(k):
        return [int((row[0] > 0).sum()) for row in k[::5]]

    ref = gaussian_kernels(scale_kernels=False)
    assert ref.shape == (25, 1, 19) and bool((ref >= 0).all())
    assert torch.allclose(ref.sum(-1), torch.ones(25, 1))
    assert widths(ref) == [5, 7, 11, 15, 19]
    assert widths(gaussian_kernels(fs=300.0)) == [5, 7, 11, 15, 19]
    k360 = gaussian_kernels(fs=360.0)
    assert widths(k360) == [7, 9, 13, 19, 23] and torch.allclose(k360.sum(-1), torch.ones(25, 1))
    assert all(w % 2 == 1 for w in widths(gaussian_kernels(fs=600.0)))
    # sigma scales too: a wide kernel's spread doubles when fs doubles
    for fs, expected in ((300.0, 3.0), (600.0, 6.0)):
        k = gaussian_kernels(kernel_sizes=(61,), sigmas=(3.0,), fs=fs)[0, 0]
        t_k = torch.arange(k.numel()) - k.numel() // 2.0
        assert float(torch.sqrt((k * t_k**2).sum())) == pytest.approx(expected, rel=1e-3)


@pytest.mark.parametrize("padding", ["zeros", "replicate"])
def test_smooth_equals_mean_of_separate_convolutions(padding):
    sizes, sigmas = (5, 7, 11, 15, 19), (1.0, 3.0, 5.0, 7.0, 10.0)
    theta = torch.randn(3, 1, 100, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    expected = 0
    for size in sizes:  # the reference's loop: one conv1d per kernel, each padded by size // 2
        for sigma in sigmas:
            w = np.exp(-((np.arange(size) - size // 2) ** 2) / (2 * sigma**2))
            w = torch.tensor(w / w.sum())[None, None]
            if padding == "zeros":
                expected = expected + F.conv1d(theta, w, padding=size // 2)
            else:
                expected = expected + F.conv1d(F.pad(theta, (size // 2,) * 2, mode="replicate"), w)
    got = smooth(theta, gaussian_kernels(scale_kernels=False).double(), padding=padding)
    # the kernels are float32 (relative rounding ~1e-7 of each weight): an absolute tolerance, not a relative one,
    # since some outputs are near zero
    assert torch.allclose(got, expected / 25, rtol=0.0, atol=1e-6)


@pytest.mark.parametrize("padding", ["zeros", "replicate"])
def test_smoothed_perturbation_bounded_by_eps(padding):
    torch.manual_seed(0)
    theta = 0.05 * torch.sign(torch.randn(8, 1, 200))  # |theta| = eps everywhere: the worst case
    assert smooth(theta, gaussian_kernels(), padding=padding).abs().max() <= 0.05 + 1e-7


def test_sap_perturb_pure_torch_bound(trained_classifier, test_beats):
    x = torch.from_numpy(test_beats[0][:10])
    y = torch.from_numpy(test_beats[1][:10])
    out = sap_perturb(trained_classifier.model.eval(), x, y, eps=0.04, step_size=0.01, pgd_iter=2, smooth_iter=4,
                      kernels=gaussian_kernels(), loss_fn=F.cross_entropy, clip_values=(0.0, 1.0))
    assert (out - x).abs().max() <= 0.04 + 1e-6 and not out.requires_grad


def test_mask_limits_perturbation(trained_classifier, test_beats):
    x = test_beats[0][:20]
    mask = np.zeros(x.shape[1:], dtype=np.float32)
    mask[..., 40:90] = 1.0
    attack = SmoothAdversarialPerturbation(trained_classifier, eps=EPS, pgd_iter=4)
    x_adv = attack.generate(x, mask=mask)
    delta = np.abs(x_adv - x)
    assert delta[..., :40].max() == 0 and delta[..., 90:].max() == 0 and delta[..., 40:90].max() > 0
    per_beat = np.broadcast_to(mask, x.shape).copy()
    per_beat[0] = 0.0
    x_adv2 = attack.generate(x, mask=per_beat.astype(bool))
    assert np.abs(x_adv2[0] - x[0]).max() == 0 and np.abs(x_adv2[1] - x[1]).max() > 0
    one_per_beat = np.ones(len(x), dtype=bool)  # shape (n,): one value per beat
    one_per_beat[0] = False
    x_adv3 = attack.generate(x, mask=one_per_beat)
    assert np.abs(x_adv3[0] - x[0]).max() == 0 and np.abs(x_adv3[1] - x[1]).max() > 0
    with pytest.raises(AttackError, match="`mask`"):
        attack.generate(x, mask=2 * mask)


def test_labels_one_hot_and_targeted(trained_classifier, test_beats):
    x, y = test_beats[0][:40], test_beats[1][:40]
    attack = SmoothAdversarialPerturbation(trained_classifier, eps=EPS, pgd_iter=5)
    np.testing.assert_allclose(attack.generate(x, np.eye(3)[y]), attack.generate(x, y), atol=1e-6)
    target = (y + 1) % 3
    attack.set_params(targeted=True)
    with pytest.raises(AttackError, match="`y`"):
        attack.generate(x)
    x_adv = attack.generate(x, target)
    hits = (trained_classifier.predict(x_adv).argmax(1) == target).mean()
    assert hits > (trained_classifier.predict(x).argmax(1) == target).mean()


def test_verbose_and_logging_do_not_change_result(trained_classifier, test_beats, caplog):
    x = test_beats[0][:8]
    quiet = SmoothAdversarialPerturbation(trained_classifier, eps=EPS, pgd_iter=2).generate(x)
    with caplog.at_level("DEBUG", logger="attacks_custom.sap"):
        loud = SmoothAdversarialPerturbation(trained_classifier, eps=EPS, pgd_iter=2, verbose=True).generate(x)
    np.testing.assert_array_equal(quiet, loud)
    assert "smoothness" in caplog.text


@pytest.mark.parametrize(
    "kwargs, name",
    [({"eps": -0.1}, "eps"), ({"eps_step": 0.0}, "eps_step"), ({"pgd_iter": -1}, "pgd_iter"),
     ({"smooth_iter": 1.5}, "smooth_iter"), ({"kernel_sizes": (4,)}, "kernel_sizes"), ({"sigmas": (0.0,)}, "sigmas"),
     ({"fs": 0}, "fs"), ({"kernel_fs": -1.0}, "kernel_fs"), ({"padding": "reflect"}, "padding"),
     ({"batch_size": 0}, "batch_size"), ({"verbose": "yes"}, "verbose"), ({"targeted": 1}, "targeted")],
)
def test_check_params_names_the_parameter(trained_classifier, kwargs, name):
    with pytest.raises(ConfigError, match=f"`{name}`"):
        SmoothAdversarialPerturbation(trained_classifier, **{"eps": EPS, **kwargs})
    attack = SmoothAdversarialPerturbation(trained_classifier, eps=EPS)
    with pytest.raises(ConfigError, match=f"`{name}`"):
        attack.set_params(**kwargs)


def test_bad_input_shape(trained_classifier):
    with pytest.raises(AttackError, match="`x`"):
        SmoothAdversarialPerturbation(trained_classifier, eps=EPS).generate(np.zeros((2, 3, 128), np.float32))


def test_factory(trained_classifier):
    attack = make_sap(trained_classifier, eps=0.02, pgd_iter=7)
    assert isinstance(attack, SmoothAdversarialPerturbation)
    assert (attack.eps, attack.batch_size, attack.pgd_iter) == (0.02, 256, 7)
