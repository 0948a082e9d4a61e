"""Export chainrule models to ONNX (``pip install chainrule[onnx]``).

``export(model, example_input, path)`` traces one forward pass and writes an ONNX file that
onnxruntime, TensorRT, OpenVINO or PyTorch can read; ``export_run(run_folder)`` does it for a
trained run folder (``chainrule export runs/NAME``). ``onnx`` is imported only when exporting.
"""

from chainrule.onnx.export import MIN_OPSET, ExportError, export
from chainrule.onnx.ops import CONVERTERS
from chainrule.onnx.run import RunFolderError, export_run

__all__ = ["export", "export_run", "ExportError", "RunFolderError", "CONVERTERS", "MIN_OPSET"]
