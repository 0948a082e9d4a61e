"""Residual blocks (chainrule/nn/residual.py): Residual adds the shortcut and keeps gradients
alive, ResidualMLPBlock, BasicBlock against a PyTorch block with the same weights."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.autograd import gradcheck

def test_residual_adds_the_shortcut():
    inner = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 4))
    block = nn.Residual(inner)
    x = cr.randn(3, 4)
    np.testing.assert_allclose(block(x).data, inner(x).data + x.data, rtol=1e-6)
    projected = nn.Residual(nn.Linear(4, 2), shortcut=nn.Linear(4, 2, bias=False))
    np.testing.assert_allclose(projected(x).data,
                               projected.module(x).data + projected.shortcut(x).data, rtol=1e-6)
    assert [n for n, _ in block.named_parameters()][0] == "module.0.weight"


def test_residual_path_keeps_gradients_alive_through_a_dead_branch():
    inner = nn.Linear(4, 4)
    nn.init.zeros_(inner.weight)
    block = nn.Residual(inner)
    x = cr.randn(2, 4, requires_grad=True)
    block(x).sum().backward()
    np.testing.assert_allclose(x.grad.data, 1.0)


def test_residual_mlp_block():
    block = nn.ResidualMLPBlock(5, nn.Tanh(), hidden=7)
    x = cr.randn(3, 5, dtype=cr.float64, requires_grad=True)
    block.double()
    expected = np.tanh(x.data + block.fc2(block.activation(block.fc1(x))).data)
    np.testing.assert_allclose(block(x).data, expected)
    assert gradcheck(block, (x,))


@pytest.mark.parametrize("in_channels, out_channels, stride", [(4, 4, 1), (3, 6, 2)])
def test_basic_block_matches_a_pytorch_block_with_the_same_weights(in_channels, out_channels,
                                                                   stride):
    torch = pytest.importorskip("torch")
    tnn = torch.nn

    class TorchBlock(tnn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = tnn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=False)
            self.bn1 = tnn.BatchNorm2d(out_channels)
            self.conv2 = tnn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=False)
            self.bn2 = tnn.BatchNorm2d(out_channels)
            self.downsample = None
            if stride != 1 or in_channels != out_channels:
                self.downsample = tnn.Sequential(
                    tnn.Conv2d(in_channels, out_channels, 1, stride, bias=False),
                    tnn.BatchNorm2d(out_channels))

        def forward(self, x):
            out = torch.relu(self.bn1(self.conv1(x)))
            out = self.bn2(self.conv2(out))
            return torch.relu(out + (x if self.downsample is None else self.downsample(x)))

    theirs = TorchBlock()
    ours = nn.BasicBlock(in_channels, out_channels, stride)
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((2, in_channels, 6, 6)).astype(np.float32)
    xc, xt = cr.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out, expected = ours(xc), theirs(xt)
    assert out.shape == (2, out_channels, 6 // stride, 6 // stride)
    np.testing.assert_allclose(out.data, expected.detach().numpy(), rtol=1e-4, atol=1e-5)
    out.sum().backward()
    expected.sum().backward()
    np.testing.assert_allclose(xc.grad.data, xt.grad.numpy(), rtol=1e-3, atol=1e-5)
    np.testing.assert_allclose(ours.conv1.weight.grad.data, theirs.conv1.weight.grad.numpy(),
                               rtol=1e-3, atol=1e-4)
    ours.eval()
    theirs.eval()
    np.testing.assert_allclose(ours(cr.tensor(x)).data, theirs(torch.tensor(x)).detach().numpy(),
                               rtol=1e-4, atol=1e-5)


def test_basic_block_gradcheck_in_float64():
    block = nn.BasicBlock(2, 3, stride=2).double()
    x = cr.randn(2, 2, 4, 4, dtype=cr.float64, requires_grad=True)
    assert gradcheck(block, (x,), fast_mode=True)


def test_residual_mlp_blocks_train(spirals, train):
    cr.manual_seed(1)
    x, y = spirals(seed=1)
    model = nn.Sequential(nn.Linear(2, 32), nn.ResidualMLPBlock(32), nn.ResidualMLPBlock(32),
                          nn.Linear(32, 2))
    loss = train(model, x, y, steps=200, lr=0.05)
    assert loss < 0.3
