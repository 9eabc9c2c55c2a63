"""Numpy preprocessing defences (ART's FeatureSqueezing) under the torch-written attacks: forward as ART applies it,
backward through ART's own gradient estimate (BPDA), so no attack has to skip a defended model."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from art.defences.preprocessor import FeatureSqueezing

from ecg_art.attacks import get_attack
from ecg_art.estimators import make_classifier, predict_labels, preprocess, torch_forward
from ecg_art.evaluation import benchmark
from tests.attacks.conftest import LENGTH, N_CLASSES, trained_classifier  # noqa: F401  (fixture)

EPS = 0.1


@pytest.fixture(scope="module")
def squeezed(trained_classifier):  # noqa: F811
    """The tiny trained CNN behind ART's FeatureSqueezing (a numpy preprocessor, 3 bits)."""
    clf, x, y = trained_classifier
    defended = make_classifier(clf.model, input_length=LENGTH, nb_classes=N_CLASSES, device="cpu",
                               preprocessing_defences=[FeatureSqueezing(clip_values=(0.0, 1.0), bit_depth=3)])
    assert not defended.all_framework_preprocessing
    return defended, x[:20].copy(), y[:20].copy()


def test_forward_is_the_defence_and_backward_is_arts_estimate(squeezed):
    clf, x, y = squeezed
    xt = torch.from_numpy(x).requires_grad_(True)
    out = preprocess(clf, xt)
    expected, _ = clf._apply_preprocessing(x, y=None, fit=False)
    np.testing.assert_array_equal(out.detach().numpy(), expected)
    assert out.dtype == xt.dtype
    loss = torch.nn.functional.cross_entropy(clf.model(out), torch.from_numpy(y))
    (grad,) = torch.autograd.grad(loss, xt)
    art_grad = clf.loss_gradient(x, y)  # ART: the model's gradient at the squeezed beats, passed through (BPDA)
    cosine = float((grad.numpy() * art_grad).sum() / np.linalg.norm(grad.numpy()) / np.linalg.norm(art_grad))
    assert cosine > 0.9999
    assert torch_forward(clf, type(clf))(xt).shape == (len(x), N_CLASSES)


@pytest.mark.parametrize("name, kw", [("ta-apgd", {"steps": 5}), ("sap", {"pgd_iter": 5}),
                                      ("autoattack", {"steps": 5, "n_queries": 50})])
def test_torch_written_attacks_run_through_a_numpy_defence(squeezed, name, kw):
    clf, x, y = squeezed
    x_adv = get_attack(name, clf, eps=EPS, batch_size=20, **kw).generate(x, y)
    assert x_adv.shape == x.shape and np.abs(x_adv - x).max() <= EPS + 1e-6
    assert (predict_labels(clf, x_adv) == y).mean() < (predict_labels(clf, x) == y).mean()


def test_benchmark_of_a_defended_model_skips_no_attack(squeezed):
    clf, x, y = squeezed
    rec = benchmark(clf, x, y, suite="quick", eps=(EPS,), n=None, unbounded_iter=0,
                    defence="FeatureSqueezing(bit_depth=3)")
    assert rec.skipped == {} and [a.label for a in rec.attacks] == ["fgsm", "pgd-20", "apgd-ce", "sap"]
    assert rec.worst_case[0] <= min(a.robust_accuracy[0] for a in rec.attacks)
