"""Orthogonal PGD and the gradient-free system attack: the attack contract (eps ball, clip values, shape, no
mutation) and, on toy linear models built so that it matters, that each breaks a system the summed-loss attack
does not."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ecg_art.detection import (AdaptiveDetectorPGD, OrthogonalDetectorPGD, SystemSquareAttack, adaptive_perturb,
                               orthogonal_perturb, system_loss, system_square_perturb)
from ecg_art.exceptions import ConfigError

from .conftest import EPS

TOY_L, TOY_EPS = 16, 0.1


def _two_logits(z: torch.Tensor) -> torch.Tensor:
    return torch.stack([torch.zeros_like(z), z], dim=1)


def _toy_batch(n: int = 8) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    return 0.495 + 0.01 * torch.rand(n, 1, TOY_L, generator=gen), torch.zeros(n, dtype=torch.long)


def _joint_success(f, g, x_adv, y, threshold=0.0) -> float:
    d = g(x_adv)
    return ((f(x_adv).argmax(1) != y) & (d[:, 1] - d[:, 0] < threshold)).float().mean().item()


def test_orthogonal_beats_summed_loss_where_projection_matters():
    # the detector's margin is steep (x100) and aligned with the classifier's gradient: the summed loss is dominated
    # by it, and a step along the classifier gradient alone is flagged; the orthogonal steps fool both
    w = torch.cat([torch.ones(8), 2 * torch.ones(8)])
    u = torch.cat([torch.ones(8), 0.5 * torch.ones(8)])
    f = lambda x: _two_logits((x - 0.5).flatten(1) @ w - 4 * TOY_EPS)  # noqa: E731
    g = lambda x: _two_logits(100 * ((x - 0.5).flatten(1) @ u) - 1.0)  # noqa: E731
    x, y = _toy_batch()
    kw = dict(eps=TOY_EPS, eps_step=TOY_EPS / 4, max_iter=20, clip_values=(0.0, 1.0))
    orth = orthogonal_perturb(f, g, x, y, **kw)
    plain = adaptive_perturb(f, g, x, y, lam=1.0, **kw)
    plain_thr = adaptive_perturb(f, g, x, y, lam=1.0, detector_threshold=0.0, **kw)
    assert _joint_success(f, g, orth, y) == 1.0
    assert _joint_success(f, g, plain, y) < 0.5 and _joint_success(f, g, plain_thr, y) < 0.5
    selective = orthogonal_perturb(f, g, x, y, orthogonal=False, **kw)
    assert _joint_success(f, g, selective, y) < _joint_success(f, g, orth, y)


def test_square_breaks_a_detector_without_gradients():
    # the detector flags a raised first half through a rounding (zero gradient); the classifier is fooled by any
    # raise of the mean: gradient attacks raise everything, the random search finds the second half
    f = lambda x: _two_logits(10 * ((x - 0.5).flatten(1).mean(1) - TOY_EPS / 4))  # noqa: E731
    g = lambda x: _two_logits(torch.round(4 * (x - 0.5).flatten(1)[:, :8].mean(1) / TOY_EPS) - 0.5)  # noqa: E731
    x, y = _toy_batch()
    square = system_square_perturb(f, g, x, y, eps=TOY_EPS, max_iter=200, threshold=0.0, clip_values=(0.0, 1.0),
                                   generator=torch.Generator().manual_seed(0))
    orth = orthogonal_perturb(f, g, x, y, eps=TOY_EPS, eps_step=TOY_EPS / 4, max_iter=20, clip_values=(0.0, 1.0))
    assert _joint_success(f, g, square, y) == 1.0
    assert _joint_success(f, g, orth, y) < 0.5
    assert (square - x).abs().max() <= TOY_EPS + 1e-6


def test_system_loss_is_zero_only_when_misclassified_and_unflagged():
    logits = torch.tensor([[2.0, 0.0], [0.0, 2.0], [0.0, 2.0], [2.0, 0.0]])
    margin = torch.tensor([-1.0, -1.0, 1.0, 1.0])
    loss = system_loss(logits, margin, torch.zeros(4, dtype=torch.long), threshold=0.0)
    assert loss.tolist() == [2.0, 0.0, 1.0, 3.0]
    assert system_loss(logits, margin, torch.zeros(4, dtype=torch.long), threshold=0.0, kappa=0.5)[1] == 0.0


@pytest.mark.parametrize("make", [
    lambda clf, det: OrthogonalDetectorPGD(clf, detector=det, eps=EPS, max_iter=5, random_init=True),
    lambda clf, det: OrthogonalDetectorPGD(clf, detector=det, eps=EPS, max_iter=5, orthogonal=False),
    lambda clf, det: SystemSquareAttack(clf, detector=det, eps=EPS, max_iter=30, detector_threshold=0.0),
], ids=["orthogonal", "selective", "square"])
def test_contract_eps_clip_shape_no_mutation(make, classifier, pgd_protocol, splits):
    x, y = splits["test"]
    x = x[:48].copy()
    x[:, :, :5] = 0.0  # beats touching the clip bounds
    x[:, :, -5:] = 1.0
    before = x.copy()
    attack = make(classifier, pgd_protocol.detector)
    x_adv = attack.generate(x, y[:48])
    np.testing.assert_array_equal(x, before)
    assert x_adv.shape == x.shape and x_adv.dtype == np.float32
    assert np.abs(x_adv - x).max() <= EPS + 1e-6
    assert x_adv.min() >= 0.0 and x_adv.max() <= 1.0
    fooled = np.argmax(classifier.predict(x_adv), axis=1) != y[:48]
    assert fooled.mean() >= (np.argmax(classifier.predict(x), axis=1) != y[:48]).mean()


def test_square_is_seeded(classifier, pgd_protocol, splits):
    x, y = splits["test"]
    kw = dict(detector=pgd_protocol.detector, eps=EPS, max_iter=20, detector_threshold=0.0, seed=3)
    a = SystemSquareAttack(classifier, **kw).generate(x[:16], y[:16])
    np.testing.assert_array_equal(a, SystemSquareAttack(classifier, **kw).generate(x[:16], y[:16]))


def test_bad_parameters(classifier, pgd_protocol):
    with pytest.raises(ConfigError, match="orthogonal"):
        OrthogonalDetectorPGD(classifier, detector=pgd_protocol.detector, orthogonal="yes")
    with pytest.raises(ConfigError, match="p_init"):
        SystemSquareAttack(classifier, detector=pgd_protocol.detector, p_init=0.0)
    with pytest.raises(ConfigError, match="kappa"):
        SystemSquareAttack(classifier, detector=pgd_protocol.detector, kappa=-1.0)
    assert isinstance(OrthogonalDetectorPGD(classifier, detector=pgd_protocol.detector), AdaptiveDetectorPGD)
