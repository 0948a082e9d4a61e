"""Helpers of the ONNX tests: export a model, run it in onnxruntime, compare with chainrule."""

import numpy as np
import pytest

import chainrule as cr
import chainrule.onnx

BATCHES = (1, 7)
OPSETS = (13, 17)


@pytest.fixture
def check_export(tmp_path):
    """``check(model, sample_shape, opset)``: export on a batch of 3 and check, with the full
    ONNX checker, that onnxruntime gives chainrule's outputs at batch sizes 1 and 7 from the one
    file (rtol 1e-5, atol 1e-6). Returns the ModelProto."""
    onnx = pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")

    def check(model, sample_shape, opset=17, scale=1.0):
        path = tmp_path / f"model_{opset}.onnx"
        proto = cr.onnx.export(model, cr.randn(3, *sample_shape) * scale, path, opset=opset)
        onnx.checker.check_model(onnx.load(str(path)), full_check=True)
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        model.eval()
        for batch in BATCHES:
            x = cr.randn(batch, *sample_shape) * scale
            expected = model(x).data
            (got,) = session.run(None, {"input": x.data})
            assert got.shape == expected.shape
            np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
        return proto

    return check
