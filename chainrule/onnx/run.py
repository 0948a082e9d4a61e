"""``export_run``: the model of a ``chainrule train`` run folder as an ONNX file (the logic of
``chainrule export runs/NAME``).

A run folder holds ``config.json`` (the model spec, the input shape) and ``model.safetensors``
(or only ``checkpoint.safetensors`` when training was interrupted); a run trained with ``--pca``
also holds ``pca.safetensors``, and its projection becomes the first nodes of the graph, so the
ONNX model takes the same raw inputs as ``chainrule predict``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from chainrule import models, nn
from chainrule.onnx.export import export
from chainrule.serialization import CheckpointError, load
from chainrule.tensor import Tensor
from chainrule.train.checkpoint import check_state_dict

__all__ = ["export_run", "RunFolderError"]


class RunFolderError(ValueError):
    """A folder that is not a readable ``chainrule train`` run (the message says what to give)."""


class _Projection(nn.Module):
    """The run's PCA: (x.reshape(N, -1) − mean) @ componentsᵀ, as ``chainrule predict``."""

    def __init__(self, mean: np.ndarray, components: np.ndarray):
        super().__init__()
        self.register_buffer("mean", Tensor(np.asarray(mean, dtype=np.float32)))
        self.register_buffer("components", Tensor(np.asarray(components, dtype=np.float32)))

    def forward(self, x: Tensor) -> Tensor:
        flat = x.reshape(x.shape[0], -1)
        return (flat - self.mean) @ self.components.T


def export_run(run_folder: str | os.PathLike, out: str | os.PathLike | None = None,
               opset: int = 17) -> Path:
    """Export the trained model of a run folder; return the path written.

    Args:
        run_folder: the folder ``chainrule train`` wrote (``runs/NAME``).
        out: the ``.onnx`` file (default ``RUN/model.onnx``).
        opset: the ONNX opset (13 or newer).

    Raises:
        RunFolderError: not a run folder, or its files do not rebuild the model.
        chainrule.onnx.ExportError: the model holds an op ONNX cannot express.

    Example:
        >>> export_run("runs/digits-cnn")  # doctest: +SKIP
        PosixPath('runs/digits-cnn/model.onnx')
    """
    folder = Path(run_folder)
    config_file = folder / "config.json"
    if not folder.is_dir():
        raise RunFolderError(f"{folder}: no such run folder; give the folder `chainrule train` "
                             "wrote (runs/NAME)")
    if not config_file.is_file():
        raise RunFolderError(f"{folder} is not a run folder (no config.json); give the folder "
                             "`chainrule train` wrote (runs/NAME)")
    try:
        document = json.loads(config_file.read_text())
        spec, shape = document["model"], document.get("raw_input_shape") or document["input_shape"]
    except (ValueError, KeyError, TypeError) as error:
        raise RunFolderError(f"{config_file} is not a chainrule train configuration "
                             f"({type(error).__name__}: {error})") from None
    weights_file = folder / "model.safetensors"
    if not weights_file.is_file():
        weights_file = folder / "checkpoint.safetensors"
    if not weights_file.is_file():
        raise RunFolderError(f"{folder} holds no weights (neither model.safetensors nor "
                             "checkpoint.safetensors)")
    try:
        model = models.build(spec)
        weights = load(weights_file)
        check_state_dict(weights_file, model, weights)
        model.load_state_dict(weights)
        pca_file = folder / "pca.safetensors"
        if pca_file.is_file():
            pca = load(pca_file)
            model = nn.Sequential(_Projection(pca["mean"], pca["components"]), model)
    except (CheckpointError, ValueError, KeyError, TypeError) as error:
        raise RunFolderError(f"{folder}: cannot rebuild the model ({error})") from None
    path = Path(out) if out is not None else folder / "model.onnx"
    example = np.zeros((2,) + tuple(int(s) for s in shape), dtype=np.float32)
    export(model, example, path, opset=opset)
    return path
