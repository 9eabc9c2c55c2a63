"""BaselineCNN shapes, size, determinism, validation, and the model registry."""

from __future__ import annotations

import pytest
import torch

from ecg_art.exceptions import ConfigError, RegistryError
from ecg_art.models import BaselineCNN, count_parameters, get_model, list_models, register_model


@pytest.mark.parametrize("n_classes,length", [(5, 256), (3, 128), (2, 300)])
def test_output_is_logits_of_n_classes(n_classes, length):
    model = BaselineCNN(n_classes=n_classes, input_length=length).eval()
    out = model(torch.rand(4, 1, length))
    assert out.shape == (4, n_classes)
    assert out.dtype == torch.float32


def test_default_size_is_about_42k_parameters():
    n = count_parameters(BaselineCNN())
    assert 40_000 <= n <= 44_000


def test_every_size_is_a_parameter():
    small = BaselineCNN(channels=(4, 8), kernel_sizes=(3, 3), hidden=8)
    assert count_parameters(small) < count_parameters(BaselineCNN()) / 20
    assert small(torch.rand(2, 1, 256)).shape == (2, 5)


def test_deterministic_given_seed():
    x = torch.rand(3, 1, 256)
    torch.manual_seed(7)
    a = BaselineCNN().eval()
    torch.manual_seed(7)
    b = BaselineCNN().eval()
    torch.manual_seed(8)
    c = BaselineCNN().eval()
    assert torch.equal(a(x), b(x))
    assert not torch.allclose(a(x), c(x))


def test_count_parameters_trainable_only():
    model = BaselineCNN(channels=(4,), kernel_sizes=(3,), hidden=4)
    total = count_parameters(model)
    model.head[-1].weight.requires_grad_(False)
    assert count_parameters(model) == total - model.head[-1].weight.numel()
    assert count_parameters(model, trainable_only=False) == total


@pytest.mark.parametrize(
    "kwargs,name",
    [({"channels": ()}, "channels"), ({"channels": (8, 8), "kernel_sizes": (3,)}, "kernel_sizes"),
     ({"n_classes": 1}, "n_classes"), ({"dropout": 1.5}, "dropout"), ({"hidden": 0}, "hidden")],
)
def test_bad_config_names_the_parameter(kwargs, name):
    with pytest.raises(ConfigError, match=name):
        BaselineCNN(**kwargs)


def test_wrong_input_shape_is_refused():
    with pytest.raises(ConfigError, match=r"\(N, 1, L\)"):
        BaselineCNN()(torch.rand(2, 256))


def test_registry_builds_and_lists_models():
    assert "baseline_cnn" in list_models()
    model = get_model("Baseline_CNN", n_classes=3, input_length=128)
    assert isinstance(model, BaselineCNN) and model.n_classes == 3


def test_registry_unknown_name_lists_known_ones():
    with pytest.raises(RegistryError, match="baseline_cnn"):
        get_model("no-such-model")


def test_register_model_plugin():
    register_model("test_tiny_cnn", lambda **kw: BaselineCNN(channels=(4,), kernel_sizes=(3,), hidden=4, **kw),
                   overwrite=True)
    assert get_model("test_tiny_cnn", n_classes=2)(torch.rand(1, 1, 256)).shape == (1, 2)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_runs_on_cuda_like_on_cpu():
    torch.manual_seed(0)
    model = BaselineCNN().eval()
    x = torch.rand(8, 1, 256)
    expected = model(x)
    got = model.cuda()(x.cuda()).cpu()
    assert torch.allclose(got, expected, atol=1e-4)


@pytest.mark.parametrize("length,k", [(256, 2), (9, 2), (64, 4)])
def test_maxpool_matches_torch_values_gradients_and_double_backward(length, k):
    """The faster pooling is torch's MaxPool1d: same outputs, input gradients and second-order gradients (NSR's
    double backprop), including an odd length whose last sample torch drops."""
    from torch import nn

    from ecg_art.models.cnn import MaxPool1d

    torch.manual_seed(0)
    x = torch.randn(4, 3, length, dtype=torch.float64)
    w = torch.randn(4, 3, length // k, dtype=torch.float64)
    outs = []
    for pool in (nn.MaxPool1d(k), MaxPool1d(k)):
        xx = x.clone().requires_grad_(True)
        y = pool(xx)
        (g,) = torch.autograd.grad((y * w).sum(), xx, create_graph=True)
        (gg,) = torch.autograd.grad((g * g.detach()).sum() + (y ** 2).sum(), xx)
        outs.append((y.detach(), g.detach(), gg))
    for a, b in zip(*outs):
        assert torch.equal(a, b)
    with torch.no_grad():  # torch's own pooling without gradients
        assert torch.equal(MaxPool1d(k)(x), nn.MaxPool1d(k)(x))


def test_baseline_uses_the_fast_pooling_with_unchanged_state_dict():
    from torch import nn

    from ecg_art.models.cnn import MaxPool1d

    model = BaselineCNN()
    pools = [m for m in model.modules() if isinstance(m, nn.MaxPool1d)]
    assert pools and all(isinstance(m, MaxPool1d) for m in pools)
    state = model.state_dict()  # conv / BN / dense tensors only: old checkpoints load as they are
    torch_pools = BaselineCNN()
    for i, layer in enumerate(torch_pools.features):
        if isinstance(layer, MaxPool1d):
            torch_pools.features[i] = nn.MaxPool1d(layer.kernel_size)
    assert list(state) == list(torch_pools.state_dict())
    torch_pools.load_state_dict(state)


def test_wide_variant_is_registered_twice_as_wide():
    from ecg_art.models.cnn import WIDE

    wide = get_model("baseline_cnn_wide", n_classes=5, input_length=256)
    assert isinstance(wide, BaselineCNN) and wide(torch.zeros(2, 1, 256)).shape == (2, 5)
    assert [m.out_channels for m in wide.modules() if isinstance(m, torch.nn.Conv1d)] == list(WIDE["channels"])
    assert 3.5 < count_parameters(wide) / count_parameters(BaselineCNN()) < 4.5
