"""``GraphBuilder``: the ONNX graph being written, one traced op at a time.

It names every value (the model's inputs, its parameters by their ``state_dict`` keys, the
outputs of ops, constants), writes initializers and nodes, and knows which values carry the
batch dimension, so that shapes baked into an op (a reshape's target) can keep the batch size
free. ``onnx`` is passed in by the exporter: this module never imports it.
"""

from __future__ import annotations

import numpy as np

__all__ = ["GraphBuilder"]

_INT64_MAX = np.iinfo(np.int64).max


class GraphBuilder:
    """Nodes and initializers of one graph, at one opset.

    Args:
        onnx: the ``onnx`` module.
        opset: the default-domain opset the nodes are written for.
        dynamic_batch: whether dimension 0 of the inputs is left free.
        parameter_names: ``id(tensor)`` -> name of the model's parameters and buffers.
    """

    def __init__(self, onnx, opset: int, dynamic_batch: bool, parameter_names: dict):
        self.onnx, self.opset, self.dynamic_batch = onnx, opset, dynamic_batch
        self.nodes, self.initializers = [], []
        self.layer = ""  # the layer whose op is being written (for node names)
        self._parameter_names = parameter_names
        self._names: dict[int, str] = {}
        self._alive: list = []  # keeps named tensors alive, so their ids stay unique
        self._used: set[str] = set()
        self._batched: set[int] = set()
        self._produced: set[int] = set()

    # ------------------------------------------------------------------ names and values
    def fresh(self, hint: str) -> str:
        """A value or node name not used yet, built from ``hint``."""
        name, count = hint, 1
        while name in self._used:
            name, count = f"{hint}_{count}", count + 1
        self._used.add(name)
        return name

    def bind(self, tensor, name: str, batched: bool = False, produced: bool = True) -> None:
        """Name ``tensor`` (a graph input or an op's output)."""
        self._names[id(tensor)] = name
        self._alive.append(tensor)
        if produced:
            self._produced.add(id(tensor))
        if batched:
            self._batched.add(id(tensor))

    def is_batched(self, tensor) -> bool:
        """Whether dimension 0 of ``tensor`` is the model input's batch dimension."""
        return self.dynamic_batch and id(tensor) in self._batched

    def value(self, tensor, dtype=None) -> str:
        """The name of ``tensor`` in the graph, as ``dtype`` (a Cast, or a cast constant)."""
        dtype = tensor.data.dtype if dtype is None else np.dtype(dtype)
        key = id(tensor)
        if key in self._produced:
            name = self._names[key]
            if tensor.data.dtype != dtype:
                name = self.node("Cast", [name], to=self._onnx_type(dtype))
            return name
        if tensor.data.dtype != dtype:
            return self.constant(tensor.data.astype(dtype))
        if key not in self._names:
            hint = self._parameter_names.get(key)
            name = self.fresh(hint or "const")
            self.initializers.append(self.onnx.numpy_helper.from_array(
                np.ascontiguousarray(tensor.data), name))
            self.bind(tensor, name, produced=False)
        return self._names[key]

    def constant(self, array, hint: str = "const") -> str:
        """A new initializer holding ``array``."""
        name = self.fresh(hint)
        self.initializers.append(self.onnx.numpy_helper.from_array(
            np.ascontiguousarray(np.asarray(array)), name))
        return name

    def ints(self, values) -> str:
        """A 1-D int64 constant (shapes, axes, pads)."""
        return self.constant(np.asarray(list(values), dtype=np.int64), "ints")

    def scalar(self, value, dtype) -> str:
        """A 0-d constant of ``dtype``."""
        return self.constant(np.asarray(value, dtype=dtype), "scalar")

    def _onnx_type(self, dtype) -> int:
        return self.onnx.helper.np_dtype_to_tensor_dtype(np.dtype(dtype))

    # ---------------------------------------------------------------------------- nodes
    def node(self, op_type: str, inputs, **attributes) -> str:
        """Append one node; return the name of its (single) output."""
        prefix = f"{self.layer}/" if self.layer else ""
        output = self.fresh(f"{prefix}{op_type}")
        self.nodes.append(self.onnx.helper.make_node(
            op_type, list(inputs), [output], name=self.fresh(f"{prefix}{op_type}_node"),
            **attributes))
        return output

    def reduce(self, op_type: str, x: str, axes, keepdims: bool) -> str:
        """ReduceSum/Mean/Max/Min over ``axes`` (None: all), axes as an input where the opset
        wants it (ReduceSum from 13, the others from 18)."""
        keep = int(bool(keepdims))
        if axes is None:
            return self.node(op_type, [x], keepdims=keep)
        axes = [int(a) for a in (axes if isinstance(axes, (tuple, list)) else (axes,))]
        if op_type == "ReduceSum" or self.opset >= 18:
            return self.node(op_type, [x, self.ints(axes)], keepdims=keep)
        return self.node(op_type, [x], axes=axes, keepdims=keep)

    def reshape(self, x: str, shape, keep_batch: bool = False) -> str:
        """Reshape to ``shape``; ``keep_batch`` writes dimension 0 as 0 (copy the input's)."""
        shape = list(shape)
        if keep_batch and shape:
            shape[0] = 0
        return self.node("Reshape", [x, self.ints(shape)])

    def slice_end(self, stop) -> int:
        """A Slice end: ``stop``, or the largest int64 for an open end."""
        return _INT64_MAX if stop is None else int(stop)
