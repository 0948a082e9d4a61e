"""chainrule/onnx/ops.py: every exportable layer alone, in onnxruntime, at opsets 13 and 17."""

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from tests.onnx.conftest import OPSETS


class _Concat(nn.Module):
    """Two branches joined along the features: concatenation and a residual add."""

    def __init__(self):
        super().__init__()
        self.left, self.right = nn.Linear(5, 3), nn.Linear(5, 2)

    def forward(self, x):
        return cr.cat([self.left(x), self.right(x)], dim=1) + x


def _batch_norm(layer):
    # Non-trivial running statistics, as after training.
    layer.running_mean.data[...] = np.linspace(-1, 1, layer.num_features)
    layer.running_var.data[...] = np.linspace(0.5, 2, layer.num_features)
    layer.weight.data[...] = np.linspace(0.5, 1.5, layer.num_features)
    layer.bias.data[...] = np.linspace(-0.3, 0.3, layer.num_features)
    return layer


# (id, layer factory, sample shape without the batch, input scale)
LAYERS = [
    ("linear", lambda: nn.Linear(6, 4), (6,), 1.0),
    ("linear-no-bias", lambda: nn.Linear(6, 4, bias=False), (6,), 1.0),
    ("linear-3d-input", lambda: nn.Linear(6, 4), (3, 6), 1.0),
    ("conv1d", lambda: nn.Conv1d(3, 4, 3, stride=2, padding=1, dilation=2), (3, 11), 1.0),
    ("conv1d-groups", lambda: nn.Conv1d(4, 6, 3, groups=2, bias=False), (4, 9), 1.0),
    ("conv1d-same", lambda: nn.Conv1d(2, 3, 4, padding="same"), (2, 9), 1.0),
    ("conv2d", lambda: nn.Conv2d(3, 4, 3, stride=2, padding=1), (3, 9, 8), 1.0),
    ("conv2d-groups-dilation", lambda: nn.Conv2d(4, 6, (3, 2), dilation=(2, 1), groups=2,
                                                  padding=(2, 1)), (4, 9, 8), 1.0),
    ("conv2d-same", lambda: nn.Conv2d(2, 3, 4, padding="same"), (2, 7, 6), 1.0),
    ("maxpool2d", lambda: nn.MaxPool2d(2), (2, 6, 8), 1.0),
    ("maxpool2d-ceil-pad", lambda: nn.MaxPool2d(3, stride=2, padding=1, ceil_mode=True),
     (2, 8, 7), 1.0),
    ("maxpool2d-dilation", lambda: nn.MaxPool2d(2, stride=1, dilation=2), (2, 6, 6), 1.0),
    ("maxpool1d", lambda: nn.MaxPool1d(3, stride=2, padding=1), (3, 10), 1.0),
    ("avgpool2d", lambda: nn.AvgPool2d(2), (2, 6, 8), 1.0),
    ("avgpool2d-pad-exclude", lambda: nn.AvgPool2d(3, stride=2, padding=1,
                                                   count_include_pad=False), (2, 7, 8), 1.0),
    ("avgpool2d-ceil", lambda: nn.AvgPool2d(2, ceil_mode=True), (2, 7, 5), 1.0),
    ("avgpool1d", lambda: nn.AvgPool1d(3, stride=2, padding=1), (3, 10), 1.0),
    ("adaptive-avgpool2d-global", lambda: nn.AdaptiveAvgPool2d(1), (3, 5, 4), 1.0),
    ("adaptive-avgpool2d-uneven", lambda: nn.AdaptiveAvgPool2d((3, 2)), (3, 7, 5), 1.0),
    ("adaptive-avgpool1d", lambda: nn.AdaptiveAvgPool1d(3), (2, 8), 1.0),
    ("batchnorm1d", lambda: _batch_norm(nn.BatchNorm1d(6)), (6,), 1.0),
    ("batchnorm1d-3d", lambda: _batch_norm(nn.BatchNorm1d(4)), (4, 5), 1.0),
    ("batchnorm2d", lambda: _batch_norm(nn.BatchNorm2d(3)), (3, 4, 5), 1.0),
    ("layernorm", lambda: nn.LayerNorm(5), (5,), 1.0),
    ("layernorm-2d", lambda: nn.LayerNorm((3, 4)), (2, 3, 4), 1.0),
    ("dropout", lambda: nn.Sequential(nn.Dropout(0.5), nn.Linear(4, 2)), (4,), 1.0),
    ("dropout2d", lambda: nn.Sequential(nn.Conv2d(2, 2, 1), nn.Dropout2d(0.3)), (2, 3, 3), 1.0),
    ("flatten", lambda: nn.Flatten(), (2, 3, 4), 1.0),
    ("unflatten", lambda: nn.Unflatten(1, (3, 4)), (12,), 1.0),
    ("identity", lambda: nn.Identity(), (3,), 1.0),
    ("concat-residual", _Concat, (5,), 1.0),
    ("residual", lambda: nn.Residual(nn.Linear(4, 4)), (4,), 1.0),
    ("residual-mlp-block", lambda: nn.ResidualMLPBlock(6), (6,), 1.0),
    ("basic-block-2d", lambda: nn.BasicBlock(3, 4, stride=2), (3, 6, 6), 1.0),
    ("maxout", lambda: nn.Maxout(6, 3, pool_size=2), (6,), 1.0),
    ("sigmoid", nn.Sigmoid, (6,), 3.0),
    ("tanh", nn.Tanh, (6,), 3.0),
    ("relu", nn.ReLU, (6,), 1.0),
    ("leaky-relu", lambda: nn.LeakyReLU(0.2), (6,), 1.0),
    ("prelu-one", nn.PReLU, (6,), 1.0),
    ("prelu-channels", lambda: nn.PReLU(3, init=0.1), (3, 4, 2), 1.0),
    ("prelu-2d-input", lambda: nn.PReLU(6), (6,), 1.0),
    ("rrelu-eval", nn.RReLU, (6,), 1.0),
    ("elu", lambda: nn.ELU(0.7), (6,), 2.0),
    ("selu", nn.SELU, (6,), 2.0),
    ("celu", lambda: nn.CELU(0.5), (6,), 2.0),
    ("gelu", nn.GELU, (6,), 3.0),
    ("gelu-tanh", lambda: nn.GELU("tanh"), (6,), 3.0),
    ("silu", nn.SiLU, (6,), 3.0),
    ("softplus", nn.Softplus, (6,), 3.0),
    ("softplus-beta-threshold", lambda: nn.Softplus(beta=2.0, threshold=3.0), (6,), 3.0),
    ("logsigmoid", nn.LogSigmoid, (6,), 3.0),
    ("hardtanh", lambda: nn.Hardtanh(-0.5, 0.7), (6,), 1.0),
    ("relu6", nn.ReLU6, (6,), 5.0),
    ("softsign", nn.Softsign, (6,), 3.0),
    ("softmax", lambda: nn.Softmax(dim=1), (6,), 3.0),
    ("softmax-channels", lambda: nn.Softmax(dim=1), (3, 4), 3.0),
    ("log-softmax", lambda: nn.LogSoftmax(dim=-1), (6,), 3.0),
]


@pytest.mark.parametrize("opset", OPSETS)
@pytest.mark.parametrize("make, shape, scale", [case[1:] for case in LAYERS],
                         ids=[case[0] for case in LAYERS])
def test_each_layer_exports_and_matches_onnxruntime(check_export, make, shape, scale, opset):
    check_export(make(), shape, opset=opset, scale=scale)


def test_linear_of_a_matrix_is_one_gemm_with_the_weight_as_initializer(check_export):
    proto = check_export(nn.Linear(6, 4), (6,))
    assert [node.op_type for node in proto.graph.node] == ["Gemm", "Identity"]
    assert sorted(init.name for init in proto.graph.initializer) == ["bias", "weight"]


def test_batch_norm_writes_its_running_statistics(check_export):
    proto = check_export(nn.Sequential(_batch_norm(nn.BatchNorm1d(6))), (6,))
    (node,) = [node for node in proto.graph.node if node.op_type == "BatchNormalization"]
    initializers = {init.name: init for init in proto.graph.initializer}
    onnx = pytest.importorskip("onnx")
    mean = onnx.numpy_helper.to_array(initializers[node.input[3]])
    np.testing.assert_array_equal(mean, np.linspace(-1, 1, 6).astype(np.float32))
