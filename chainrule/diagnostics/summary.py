"""``summary(model, input_size)``: a table of a model's layers with their output shapes and
parameter counts, the totals (trainable and frozen) and the memory of the activations, like
torchinfo's ``summary`` and Keras' ``model.summary()``. It prints in a terminal and displays as
an HTML table in a notebook.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from chainrule.autograd import no_grad
from chainrule.creation import randn, tensor
from chainrule.diagnostics._format import format_table, html_table
from chainrule.tensor import Tensor

__all__ = ["summary", "ModelSummary", "LayerSummary"]


@dataclass
class LayerSummary:
    """One row: the module's dotted ``name``, class, ``depth`` (1 = a child of the model),
    ``output_shape`` (None when it never ran), and the parameters it holds itself."""

    name: str
    kind: str
    depth: int
    output_shape: tuple | None
    params: int
    trainable: int
    output_bytes: int = 0
    leaf: bool = True


@dataclass
class ModelSummary:
    """What ``summary`` returns: ``layers`` and the totals; ``str()`` is the table."""

    model_name: str
    input_shape: tuple
    layers: list[LayerSummary] = field(default_factory=list)
    total_params: int = 0
    trainable_params: int = 0
    param_bytes: int = 0
    activation_bytes: int = 0
    input_bytes: int = 0

    @property
    def frozen_params(self) -> int:
        """Parameters with ``requires_grad=False``."""
        return self.total_params - self.trainable_params

    def _rows(self) -> list[list]:
        rows = []
        for layer in self.layers:
            shape = "-" if layer.output_shape is None else list(layer.output_shape)
            params = f"{layer.params:,}" if layer.params else "-"
            if layer.params and layer.trainable < layer.params:
                params += f" ({layer.params - layer.trainable:,} frozen)"
            rows.append(["  " * (layer.depth - 1) + f"{layer.name} ({layer.kind})",
                         str(shape), params])
        return rows

    def _totals(self) -> list[tuple[str, str]]:
        megabytes = 1024 ** 2
        total = self.input_bytes + self.activation_bytes + self.param_bytes
        return [("Total params", f"{self.total_params:,}"),
                ("Trainable params", f"{self.trainable_params:,}"),
                ("Frozen params", f"{self.frozen_params:,}"),
                ("Input size (MB)", f"{self.input_bytes / megabytes:.3f}"),
                ("Forward activations (MB)", f"{self.activation_bytes / megabytes:.3f}"),
                ("Params size (MB)", f"{self.param_bytes / megabytes:.3f}"),
                ("Estimated total (MB)", f"{total / megabytes:.3f}")]

    def table(self) -> str:
        """The layers and totals as text."""
        head = format_table(["Layer (type)", "Output shape", "Param #"], self._rows(),
                            title=f"{self.model_name} on input {list(self.input_shape)}")
        width = max(len(line) for line in head.splitlines())
        totals = "\n".join(f"{name}: {value}" for name, value in self._totals())
        return f"{head}\n{'=' * width}\n{totals}"

    def __str__(self) -> str:
        return self.table()

    def __repr__(self) -> str:
        return self.table()

    def _repr_html_(self) -> str:
        table = html_table(["Layer (type)", "Output shape", "Param #"],
                           [[row[0].replace("  ", "\u00a0\u00a0"), row[1], row[2]]
                            for row in self._rows()],
                           title=f"{self.model_name} on input {list(self.input_shape)}")
        totals = html_table(["", ""], self._totals())
        return f"<div>{table}{totals}</div>"


def _shape_of(output) -> tuple | None:
    if isinstance(output, Tensor):
        return tuple(output.shape)
    if isinstance(output, (tuple, list)) and output and isinstance(output[0], Tensor):
        return tuple(output[0].shape)
    return None


def _bytes_of(output) -> int:
    if isinstance(output, Tensor):
        return int(output.data.nbytes)
    if isinstance(output, (tuple, list)):
        return sum(_bytes_of(item) for item in output)
    return 0


def summary(model, input_size: Sequence[int] | Tensor, dtype=None, depth: int = 3
            ) -> ModelSummary:
    """Run ``model`` once on a random batch of ``input_size`` and tabulate every layer.

    Each row is a module (indented by depth): its output shape and the parameters it holds
    itself (trainable and frozen; a row at the deepest level shown counts its children's too);
    the totals count every parameter once. "Forward
    activations" is the memory of the outputs of the layers without children, which training
    keeps until backward.

    Args:
        model: a ``Module``.
        input_size: the input's shape with the batch dimension, e.g. ``(32, 1, 28, 28)``, or an
            input tensor itself (for integer inputs such as token ids).
        dtype: of the random input (the default dtype when None).
        depth: the deepest level of modules listed (1: the model's children only).

    Returns:
        ``ModelSummary``: ``print()`` it, or let a notebook display it.

    Example:
        >>> from chainrule import nn
        >>> model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
        >>> report = summary(model, (16, 4))
        >>> report.total_params, report.layers[0].output_shape
        (58, (16, 8))
    """
    if isinstance(input_size, Tensor):
        inputs = input_size
    else:
        shape = tuple(int(n) for n in input_size)
        if not shape or any(n <= 0 for n in shape):
            raise ValueError(f"summary: input_size should be a shape with the batch dimension, "
                             f"e.g. (32, 784), got {tuple(input_size)}")
        inputs = randn(*shape) if dtype is None else tensor(
            np.random.default_rng(0).standard_normal(shape), dtype=dtype)
    modules = [(name, module) for name, module in model.named_modules() if name]
    outputs: dict[str, object] = {}
    handles = []
    for name, module in modules:
        def hook(module, args, output, name=name):
            outputs.setdefault(name, output)
        handles.append(module.register_forward_hook(hook))
    was_training = model.training
    model.eval()  # no batch-norm statistics updated, no dropout drawn
    try:
        with no_grad():
            model(inputs)
    finally:
        model.train(was_training)
        for handle in handles:
            handle.remove()

    report = ModelSummary(type(model).__name__, tuple(inputs.shape),
                          input_bytes=int(inputs.data.nbytes))
    for name, module in modules:
        leaf = not any(True for _ in module.children())
        # a row at the deepest level shown counts what its hidden children hold
        own = list(module.parameters(recurse=name.count(".") + 1 >= depth))
        output = outputs.get(name)
        layer = LayerSummary(name, type(module).__name__, name.count(".") + 1, _shape_of(output),
                             sum(p.numel() for p in own),
                             sum(p.numel() for p in own if p.requires_grad),
                             _bytes_of(output), leaf)
        if leaf:
            report.activation_bytes += layer.output_bytes
        if layer.depth <= depth:
            report.layers.append(layer)
    params = list(model.parameters())
    report.total_params = sum(p.numel() for p in params)
    report.trainable_params = sum(p.numel() for p in params if p.requires_grad)
    report.param_bytes = sum(int(p.data.nbytes) for p in params)
    return report
