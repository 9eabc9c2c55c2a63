"""make_classifier wiring and validation; EcgClassifier gives the same numbers as ART's stock PyTorchClassifier."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from art.attacks.evasion import ProjectedGradientDescent
from art.estimators.classification import PyTorchClassifier
from art.preprocessing.standardisation_mean_std import StandardisationMeanStdPyTorch

from ecg_art.estimators import EcgClassifier, make_classifier, predict_labels, to_one_hot
from ecg_art.exceptions import ConfigError
from ecg_art.models import BaselineCNN

L = 128


@pytest.fixture()
def model():
    torch.manual_seed(0)
    return BaselineCNN(input_length=L, channels=(8, 16), kernel_sizes=(5, 5), hidden=16).eval()


@pytest.fixture()
def beats():
    rng = np.random.default_rng(0)
    return rng.random((40, 1, L), dtype=np.float32), rng.integers(0, 5, 40)


def _stock(model, **kw):
    return PyTorchClassifier(model, loss=kw.pop("loss", torch.nn.CrossEntropyLoss()), input_shape=(1, L), nb_classes=5,
                             clip_values=(0.0, 1.0), device_type="cpu", **kw)


def test_wiring(model):
    clf = make_classifier(model, input_length=L, clip_values=(-1, 2), device="cpu")
    assert isinstance(clf, PyTorchClassifier) and isinstance(clf, EcgClassifier)
    assert clf.input_shape == (1, L) and clf.nb_classes == 5
    assert tuple(clf.clip_values) == (-1.0, 2.0)
    assert isinstance(clf.loss, torch.nn.CrossEntropyLoss) and isinstance(clf.optimizer, torch.optim.Adam)
    assert clf.device.type == "cpu"


def test_auto_device_picks_cuda_when_available(model):
    clf = make_classifier(model, input_length=L, device="auto")
    assert clf.device.type == ("cuda" if torch.cuda.is_available() else "cpu")


def test_output_width_mismatch_names_nb_classes(model):
    with pytest.raises(ConfigError, match="nb_classes"):
        make_classifier(model, input_length=L, nb_classes=4, device="cpu")


def test_input_length_mismatch_names_input_length():
    class Fixed(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = torch.nn.Linear(64, 5)

        def forward(self, x):
            return self.fc(x.flatten(1))

    with pytest.raises(ConfigError, match="input_length"):
        make_classifier(Fixed(), input_length=L, device="cpu")


@pytest.mark.parametrize(
    "kwargs,name",
    [({"class_weights": [1.0, 2.0]}, "class_weights"), ({"lr": -1.0}, "lr"), ({"clip_values": (1, 0)}, "clip_values"),
     ({"device": "tpu"}, "device"), ({"nb_classes": 1}, "nb_classes")],
)
def test_bad_arguments_name_the_parameter(model, kwargs, name):
    with pytest.raises(ConfigError, match=name):
        make_classifier(model, input_length=L, **{"device": "cpu", **kwargs})


def test_class_weights_reach_the_loss(model):
    clf = make_classifier(model, input_length=L, class_weights=[1, 2, 3, 4, 5], device="cpu")
    assert torch.equal(clf.loss.weight.cpu(), torch.tensor([1.0, 2, 3, 4, 5]))


@pytest.mark.parametrize("weights", [None, [1.0, 3.0, 0.5, 2.0, 1.0]])
def test_loss_gradient_equals_stock(model, beats, weights):
    x, y = beats
    w = None if weights is None else torch.tensor(weights)
    stock = _stock(model, loss=torch.nn.CrossEntropyLoss(weight=w))
    ours = make_classifier(model, input_length=L, class_weights=weights, device="cpu")
    expected = stock.loss_gradient(x, to_one_hot(y))
    np.testing.assert_allclose(ours.loss_gradient(x, to_one_hot(y)), expected, rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(ours.loss_gradient(x, y), expected, rtol=1e-5, atol=1e-8)  # integer labels too
    got_t = ours.loss_gradient(torch.from_numpy(x), torch.from_numpy(to_one_hot(y)))
    assert isinstance(got_t, torch.Tensor)
    np.testing.assert_allclose(got_t.numpy(), expected, rtol=1e-5, atol=1e-8)


def test_loss_gradient_with_pytorch_preprocessing_equals_stock(model, beats):
    x, y = beats
    prep = StandardisationMeanStdPyTorch(mean=0.5, std=0.25, device_type="cpu")
    stock = _stock(model, preprocessing=None, preprocessing_defences=[prep])
    ours = make_classifier(model, input_length=L, device="cpu", preprocessing_defences=[prep])
    np.testing.assert_allclose(ours.loss_gradient(x, to_one_hot(y)), stock.loss_gradient(x, to_one_hot(y)),
                               rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(ours.predict(x), stock.predict(x), rtol=1e-5, atol=1e-6)


def test_input_is_not_mutated_and_gradient_is_a_fresh_array(model, beats):
    x, y = beats
    x_copy = x.copy()
    grad = make_classifier(model, input_length=L, device="cpu").loss_gradient(x, y)
    assert np.array_equal(x, x_copy) and not np.shares_memory(grad, x)


def test_predict_and_class_gradient_equal_stock(model, beats):
    x, _ = beats
    stock, ours = _stock(model), make_classifier(model, input_length=L, device="cpu")
    np.testing.assert_allclose(ours.predict(x, batch_size=7), stock.predict(x), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ours.class_gradient(x[:4], label=1), stock.class_gradient(x[:4], label=1), rtol=1e-5)
    assert ours.predict(x[:0]).shape == (0, 5)


def test_art_pgd_through_ours_equals_stock(model, beats):
    x, y = beats
    kw = dict(eps=0.05, eps_step=0.0125, max_iter=5, batch_size=16, verbose=False)
    adv_stock = ProjectedGradientDescent(_stock(model), **kw).generate(x, y=y)
    adv_ours = ProjectedGradientDescent(make_classifier(model, input_length=L, device="cpu"), **kw).generate(x, y=y)
    np.testing.assert_allclose(adv_ours, adv_stock, atol=1e-6)


def test_fit_trains_in_place(model, beats):
    x, y = beats
    clf = make_classifier(model, input_length=L, lr=1e-2, device="cpu")
    before = np.mean(clf.compute_loss(x, to_one_hot(y)))
    clf.fit(x, y, nb_epochs=5, batch_size=8)
    assert np.mean(clf.compute_loss(x, to_one_hot(y))) < before


def test_predict_labels_and_one_hot(model, beats):
    x, y = beats
    clf = make_classifier(model, input_length=L, device="cpu")
    labels = predict_labels(clf, x, batch_size=16)
    assert labels.dtype == np.int64 and labels.shape == (40,)
    assert np.array_equal(labels, clf.predict(x).argmax(1))
    oh = to_one_hot(y)
    assert oh.dtype == np.float32 and np.array_equal(oh.argmax(1), y) and np.all(oh.sum(1) == 1)
    with pytest.raises(ConfigError, match="y"):
        to_one_hot([0, 7])


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_gradients_match_cpu(beats):
    x, y = beats
    torch.manual_seed(0)
    cpu = make_classifier(BaselineCNN(input_length=L).eval(), input_length=L, device="cpu")
    torch.manual_seed(0)
    gpu = make_classifier(BaselineCNN(input_length=L).eval(), input_length=L, device="cuda")
    assert gpu.device.type == "cuda"
    np.testing.assert_allclose(gpu.loss_gradient(x, y), cpu.loss_gradient(x, y), rtol=1e-3, atol=1e-6)
    np.testing.assert_allclose(gpu.predict(x), cpu.predict(x), rtol=1e-3, atol=1e-4)


def test_numpy_preprocessor_keeps_float32_and_integer_labels_work():
    """ART numpy preprocessors return float64 under NumPy 2; the model still gets float32, and the stock
    (non-fast) gradient path accepts integer labels like the fast one."""
    from art.defences.preprocessor import FeatureSqueezing

    torch.manual_seed(0)
    clf = make_classifier(BaselineCNN(), device="cpu",
                          preprocessing_defences=[FeatureSqueezing(clip_values=(0.0, 1.0), bit_depth=4)])
    x = np.random.default_rng(0).random((6, 1, 256), dtype=np.float32)
    assert predict_labels(clf, x).shape == (6,)
    grad = clf.loss_gradient(x, np.zeros(6, dtype=np.int64))
    assert grad.shape == x.shape and grad.dtype == np.float32
