"""Conv1d / Conv2d layers: parameters, PyTorch's default init, repr, forward and training."""

import math

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.ops.conv import conv1d, conv2d


def test_conv2d_parameters_and_forward_use_the_op():
    layer = nn.Conv2d(4, 6, (3, 2), stride=(2, 1), padding=1, dilation=(1, 2), groups=2)
    assert layer.weight.shape == (6, 2, 3, 2) and layer.bias.shape == (6,)
    assert [name for name, _ in layer.named_parameters()] == ["weight", "bias"]
    x = cr.randn(2, 4, 7, 7)
    expected = conv2d(x, layer.weight, layer.bias, (2, 1), 1, (1, 2), 2)
    np.testing.assert_array_equal(layer(x).data, expected.data)
    assert nn.Conv2d(3, 5, 3, bias=False).bias is None


def test_default_init_bounds_are_one_over_sqrt_fan_in():
    layer = nn.Conv2d(16, 32, 3, groups=2)
    fan_in = (16 // 2) * 3 * 3
    bound = 1 / math.sqrt(fan_in)
    for tensor in (layer.weight, layer.bias):
        values = tensor.data
        assert values.dtype == np.float32
        assert np.abs(values).max() <= bound
        # A uniform sample of this size reaches close to both ends.
        assert np.abs(values).max() > 0.8 * bound and values.std() > 0.4 * bound


def test_reset_parameters_is_seeded_and_rerunnable():
    cr.manual_seed(5)
    a = nn.Conv1d(3, 4, 5)
    cr.manual_seed(5)
    b = nn.Conv1d(3, 4, 5)
    np.testing.assert_array_equal(a.weight.data, b.weight.data)
    before = a.weight.data.copy()
    a.reset_parameters()
    assert not np.array_equal(a.weight.data, before)


def test_conv1d_layer():
    layer = nn.Conv1d(4, 6, 3, stride=2, padding=1, groups=2)
    assert layer.weight.shape == (6, 2, 3)
    x = cr.randn(2, 4, 9)
    np.testing.assert_array_equal(layer(x).data,
                                  conv1d(x, layer.weight, layer.bias, 2, 1, 1, 2).data)
    same = nn.Conv1d(2, 2, 4, padding="same", dilation=2)
    assert same(cr.randn(1, 2, 10)).shape == (1, 2, 10)


def test_repr_matches_torch_format():
    assert repr(nn.Conv2d(1, 32, 3, padding=1)) == \
        "Conv2d(1, 32, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))"
    assert repr(nn.Conv1d(2, 4, 3, stride=2, bias=False, groups=2)) == \
        "Conv1d(2, 4, kernel_size=(3,), stride=(2,), groups=2, bias=False)"
    torch = pytest.importorskip("torch")
    for args, kwargs in [((1, 2, 3), dict(padding="same")), ((4, 8, (3, 5)),
                                                            dict(stride=2, dilation=(2, 1))),
                         ((4, 4, 1), dict(groups=4, bias=False))]:
        assert repr(nn.Conv2d(*args, **kwargs)) == repr(torch.nn.Conv2d(*args, **kwargs))


def test_layer_errors():
    with pytest.raises(ValueError, match=r"groups=3 must divide in_channels \(4\)"):
        nn.Conv2d(4, 6, 3, groups=3)
    with pytest.raises(ValueError, match=r"padding='same' is not supported for strided"):
        nn.Conv2d(1, 2, 3, stride=2, padding="same")
    with pytest.raises(NotImplementedError, match=r"padding_mode='zeros'"):
        nn.Conv2d(1, 2, 3, padding_mode="reflect")
    with pytest.raises(TypeError, match=r"kernel_size must be an int or 2 ints"):
        nn.Conv2d(1, 2, (3, 3, 3))
    with pytest.raises(ValueError, match=r"the input has 2 channels"):
        nn.Conv2d(3, 4, 3)(cr.randn(1, 2, 5, 5))


def test_state_dict_from_torch_loads_and_gives_the_same_output():
    torch = pytest.importorskip("torch")
    theirs = torch.nn.Conv2d(3, 8, 3, stride=2, padding=1)
    ours = nn.Conv2d(3, 8, 3, stride=2, padding=1)
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((2, 3, 11, 11)).astype(np.float32)
    np.testing.assert_allclose(ours(cr.tensor(x)).data, theirs(torch.tensor(x)).detach().numpy(),
                               rtol=1e-5, atol=1e-5)


def test_a_small_cnn_learns_to_separate_two_patterns():
    """Gradients flow through conv, relu, pooling and flatten: a few SGD steps cut the loss."""
    rng = np.random.default_rng(0)
    images = rng.standard_normal((32, 1, 8, 8)).astype(np.float32) * 0.1
    labels = np.arange(32) % 2
    images[labels == 0, 0, :, 2] += 1.0   # vertical bar
    images[labels == 1, 0, 2, :] += 1.0   # horizontal bar
    target = cr.tensor(np.eye(2, dtype=np.float32)[labels])
    conv = nn.Conv2d(1, 4, 3, padding=1)
    head = cr.tensor(rng.standard_normal((64, 2)).astype(np.float32) * 0.1, requires_grad=True)

    def loss_fn():
        h = nn.MaxPool2d(2)(conv(cr.tensor(images)).relu())
        logits = h.reshape(32, -1) @ head
        return ((logits - target) ** 2).mean()

    first = loss_fn().item()
    params = list(conv.parameters()) + [head]
    for _ in range(30):
        for p in params:
            p.grad = None
        loss_fn().backward()
        with cr.no_grad():
            for p in params:
                p -= 0.5 * p.grad
    assert loss_fn().item() < 0.5 * first
