"""``export``: one traced forward pass of a model, written as an ONNX file.

The model runs once in eval mode under ``autograd.function.tracing()``, which records every op
with its inputs and forward params even though nothing requires a gradient. The ops that the
outputs depend on are then written in the order they ran, each by its converter in
``chainrule/onnx/ops.py``; parameters and buffers become initializers named by their
``state_dict`` keys. ``onnx`` is imported inside ``export`` (an optional dependency).
"""

from __future__ import annotations

import os
from typing import Sequence

import numpy as np

from chainrule._version import __version__
from chainrule.autograd.function import tracing
from chainrule.nn.module import Module
from chainrule.onnx.graph import GraphBuilder
from chainrule.onnx.ops import CONVERTERS, _Unsupported
from chainrule.tensor import Tensor

__all__ = ["export", "ExportError", "MIN_OPSET"]

MIN_OPSET = 13


class ExportError(RuntimeError):
    """An op of the model that ONNX cannot express (the message names the op and the layer)."""


def export(model: Module, example_input, path: str | os.PathLike, opset: int = 17,
           input_names: Sequence[str] | None = None, output_names: Sequence[str] | None = None,
           dynamic_batch: bool = True):
    """Write ``model`` as an ONNX file, traced on ``example_input``; return the ``ModelProto``.

    Args:
        model: an ``nn.Module``; it runs once in eval mode (its mode is restored afterwards).
        example_input: a Tensor or array (or a tuple of them, one per forward argument).
        path: the ``.onnx`` file to write.
        opset: the ONNX opset (13 or newer).
        input_names, output_names: the graph's value names (default ``input``/``output``,
            numbered when there are several).
        dynamic_batch: leave dimension 0 of the inputs and outputs free, so one file runs any
            batch size.

    Raises:
        ExportError: an op has no ONNX equivalent; the message names the op and the layer.

    Example:
        >>> import chainrule as cr, chainrule.onnx, tempfile, os
        >>> net = cr.nn.Sequential(cr.nn.Linear(4, 3), cr.nn.ReLU())
        >>> path = os.path.join(tempfile.mkdtemp(), "net.onnx")
        >>> _ = cr.onnx.export(net, cr.randn(2, 4), path)  # doctest: +SKIP
    """
    try:
        import onnx
    except ImportError:
        raise ImportError("chainrule.onnx.export needs the onnx package: pip install "
                          "'chainrule[onnx]' (or pip install onnx onnxruntime)") from None
    if not isinstance(model, Module):
        raise TypeError(f"export: expected an nn.Module, got {type(model).__name__}")
    if not isinstance(opset, int) or opset < MIN_OPSET or opset > onnx.defs.onnx_opset_version():
        raise ValueError(f"export: opset must be an int from {MIN_OPSET} to "
                         f"{onnx.defs.onnx_opset_version()}, got {opset!r}")
    inputs = example_input if isinstance(example_input, (tuple, list)) else (example_input,)
    inputs = tuple(x if isinstance(x, Tensor) else Tensor(np.asarray(x)) for x in inputs)
    input_names = _names(input_names, len(inputs), "input", "input_names")
    trace, layers, outputs = _trace(model, inputs)
    output_names = _names(output_names, len(outputs), "output", "output_names")

    parameter_names = {id(t): name for name, t in model.named_parameters()}
    parameter_names.update({id(t): name for name, t in model.named_buffers()})
    g = GraphBuilder(onnx, opset, dynamic_batch, parameter_names)
    graph_inputs = []
    for tensor, name in zip(inputs, input_names):
        g.fresh(name)
        g.bind(tensor, name, batched=tensor.data.ndim > 0)
        graph_inputs.append(_value_info(onnx, name, tensor, dynamic_batch and tensor.data.ndim > 0))

    modules = dict(model.named_modules())
    for position in _needed(trace, outputs):
        node, out = trace[position]
        layer = layers.get(position, "")
        g.layer = layer
        op = type(node).__name__
        convert = CONVERTERS.get(op)
        where = f"layer '{layer}' ({type(modules[layer]).__name__})" if layer else \
            f"the model's own forward ({type(model).__name__})"
        if convert is None:
            raise ExportError(
                f"export: the op {op} in {where} has no ONNX equivalent in chainrule.onnx; "
                f"exportable ops: {', '.join(sorted(CONVERTERS))}")
        try:
            name = convert(g, node, out)
        except _Unsupported as error:
            raise ExportError(f"export: {error} (in {where}) has no ONNX equivalent") from None
        g.bind(out, name, batched=any(g.is_batched(t) for t in node.inputs))

    g.layer = ""
    graph_outputs = []
    for tensor, name in zip(outputs, output_names):
        value = g.value(tensor)
        g.nodes.append(onnx.helper.make_node("Identity", [value], [name], name=f"{name}_node"))
        graph_outputs.append(_value_info(onnx, name, tensor, g.is_batched(tensor)))
    graph = onnx.helper.make_graph(g.nodes, type(model).__name__, graph_inputs, graph_outputs,
                                   initializer=g.initializers)
    opsets = [onnx.helper.make_opsetid("", opset)]
    proto = onnx.helper.make_model(graph, opset_imports=opsets, producer_name="chainrule",
                                   producer_version=__version__)
    proto.ir_version = onnx.helper.find_min_ir_version_for(opsets)
    onnx.checker.check_model(proto, full_check=True)
    onnx.save(proto, os.fspath(path))
    return proto


def _names(names, count: int, stem: str, argument: str) -> list[str]:
    if names is None:
        return [stem] if count == 1 else [f"{stem}{i}" for i in range(count)]
    names = [names] if isinstance(names, str) else list(names)
    if len(names) != count or len(set(names)) != count:
        raise ValueError(f"export: {argument} must be {count} distinct names (one per "
                         f"{stem}), got {names!r}")
    return names


def _trace(model: Module, inputs: tuple):
    """Run the model once in eval mode; return the trace, {trace position: layer}, outputs."""
    layers, handles, starts = {}, [], {}

    def before(name):
        def hook(module, args):
            starts.setdefault(name, []).append(len(trace))
        return hook

    def after(name):
        def hook(module, args, output):
            for position in range(starts[name].pop(), len(trace)):
                layers.setdefault(position, name)  # the innermost layer finishes first
        return hook

    was_training = model.training
    model.eval()
    try:
        with tracing() as trace:
            for name, module in model.named_modules():
                if name:
                    handles.append(module.register_forward_pre_hook(before(name)))
                    handles.append(module.register_forward_hook(after(name)))
            outputs = model(*inputs)
    finally:
        for handle in handles:
            handle.remove()
        model.train(was_training)
    outputs = outputs if isinstance(outputs, (tuple, list)) else (outputs,)
    if not all(isinstance(t, Tensor) for t in outputs):
        raise TypeError("export: the model's forward must return a Tensor or a tuple of Tensors")
    return trace, layers, tuple(outputs)


def _needed(trace: list, outputs: tuple) -> list[int]:
    """Positions of the traced ops the outputs depend on, in the order they ran."""
    producer = {id(out): position for position, (_, out) in enumerate(trace)}
    needed, stack = set(), [id(t) for t in outputs]
    while stack:
        position = producer.get(stack.pop())
        if position is not None and position not in needed:
            needed.add(position)
            stack.extend(id(t) for t in trace[position][0].inputs)
    return sorted(needed)


def _value_info(onnx, name: str, tensor: Tensor, batched: bool):
    shape = list(tensor.data.shape)
    if batched:
        shape[0] = "batch"
    element = onnx.helper.np_dtype_to_tensor_dtype(tensor.data.dtype)
    return onnx.helper.make_tensor_value_info(name, element, shape)
