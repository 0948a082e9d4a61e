"""chainrule/onnx/export.py: the model presets in onnxruntime, names, options and errors; and
the tracing mode of autograd/function.py it runs on."""

import numpy as np
import pytest

import chainrule as cr
import chainrule.onnx
from chainrule import models, nn
from chainrule.autograd.function import tracing
from chainrule.nn.registry import ACTIVATIONS
from tests.onnx.conftest import OPSETS

PRESETS = [
    ("mlp", lambda: models.mlp(12, (10, 8), 4), (12,)),
    ("mlp-images", lambda: models.mlp(12, (6,), 3), (3, 4)),
    ("mlp-batchnorm-dropout", lambda: models.mlp(12, (10,), 4, batch_norm=True, dropout=0.3),
     (12,)),
    ("mlp-logistic", lambda: models.mlp(12, (), 4, bias=False), (12,)),
    ("cnn-2d", lambda: models.cnn(1, 5, (8, 8), channels=(4, 6), hidden=16), (1, 8, 8)),
    ("cnn-2d-batchnorm", lambda: models.cnn(2, 3, (6, 7), channels=(4,), hidden=0,
                                            batch_norm=True, dropout=0.2), (2, 6, 7)),
    ("cnn-1d", lambda: models.cnn(1, 4, 20, channels=(3, 5), hidden=8), (1, 20)),
    ("resnet-2d", lambda: models.resnet(1, 5, (8, 8), channels=(4, 6)), (1, 8, 8)),
    ("resnet-1d-gelu", lambda: models.resnet(2, 3, 16, channels=(4, 6), activation="gelu"),
     (2, 16)),
]


def _trained_statistics(model):
    # Running statistics that are not the initial 0 and 1, so BatchNorm (eval) is checked.
    for module in model.modules():
        if isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
            module.running_mean.data[...] = cr.randn(module.num_features).data * 0.5
            module.running_var.data[...] = cr.rand(module.num_features).data + 0.5
    return model


@pytest.mark.parametrize("opset", OPSETS)
@pytest.mark.parametrize("make, shape", [case[1:] for case in PRESETS],
                         ids=[case[0] for case in PRESETS])
def test_every_preset_matches_onnxruntime(check_export, make, shape, opset):
    check_export(_trained_statistics(make()), shape, opset=opset)


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
def test_mlp_with_every_registered_activation_matches_onnxruntime(check_export, activation):
    check_export(models.mlp(6, (8,), 3, activation=activation), (6,), scale=2.0)


class _Norms(nn.Module):
    def __init__(self):
        super().__init__()
        self.scale = nn.Linear(4, 4)

    def forward(self, x):
        return self.scale(x) / x.norm(dim=1, keepdim=True)


def test_an_op_without_onnx_equivalent_names_the_op_and_the_layer(tmp_path):
    pytest.importorskip("onnx")
    model = nn.Sequential(nn.Linear(4, 4), _Norms())
    with pytest.raises(cr.onnx.ExportError, match=r"the op Norm in layer '1' \(_Norms\)"):
        cr.onnx.export(model, cr.randn(2, 4), tmp_path / "model.onnx")
    assert not (tmp_path / "model.onnx").exists()


def test_names_fixed_batch_and_training_mode_are_kept(tmp_path):
    onnx = pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    model = nn.Sequential(nn.Linear(4, 3), nn.Dropout(0.5))
    model.train()
    path = tmp_path / "model.onnx"
    x = np.random.default_rng(0).standard_normal((2, 4)).astype(np.float32)
    cr.onnx.export(model, x, path, input_names=["features"], output_names=["logits"],
                   dynamic_batch=False)
    assert model.training and all(m.training for m in model.modules())
    graph = onnx.load(str(path)).graph
    assert [i.name for i in graph.input] == ["features"]
    assert [o.name for o in graph.output] == ["logits"]
    assert [d.dim_value for d in graph.input[0].type.tensor_type.shape.dim] == [2, 4]
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    model.eval()
    np.testing.assert_allclose(session.run(None, {"features": x})[0], model(cr.tensor(x)).data,
                               rtol=1e-5, atol=1e-6)


def test_bad_arguments_are_refused_before_anything_is_written(tmp_path):
    pytest.importorskip("onnx")
    model = nn.Linear(4, 3)
    with pytest.raises(ValueError, match="opset must be an int from 13"):
        cr.onnx.export(model, cr.randn(2, 4), tmp_path / "m.onnx", opset=9)
    with pytest.raises(ValueError, match="input_names must be 1 distinct names"):
        cr.onnx.export(model, cr.randn(2, 4), tmp_path / "m.onnx", input_names=["a", "b"])
    with pytest.raises(TypeError, match="expected an nn.Module"):
        cr.onnx.export(lambda x: x, cr.randn(2, 4), tmp_path / "m.onnx")
    assert not list(tmp_path.iterdir())


def test_tracing_records_ops_with_their_params_even_without_gradients():
    weight = cr.randn(3, 2, requires_grad=True)
    with tracing() as trace:
        y = cr.nn.functional.leaky_relu(cr.ones(4, 2) @ weight.T, 0.3)
    assert [type(node).__name__ for node, _ in trace] == ["Permute", "MatMul", "LeakyRelu"]
    assert trace[2][0].params == {"negative_slope": 0.3}
    assert trace[-1][1] is y and not y.requires_grad
    assert trace[1][0].inputs[1] is trace[0][1]
    # Outside the block nothing is recorded and gradients are back.
    z = cr.ones(4, 2) @ weight.T
    assert z.requires_grad and len(trace) == 3
