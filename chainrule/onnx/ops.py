"""The op mapping: for each chainrule ``Function`` that ONNX can express, the nodes it becomes.

A converter is ``convert(g, node, out) -> name``: ``g`` the ``GraphBuilder``, ``node`` the traced
op (its ``inputs`` Tensors and forward ``params``), ``out`` its output Tensor; it returns the name
of the value that equals ``out``. ``CONVERTERS`` maps the op's class name to its converter; an op
missing here cannot be exported.
"""

from __future__ import annotations

import numpy as np

__all__ = ["CONVERTERS"]


def _unary(op_type: str):
    def convert(g, node, out):
        return g.node(op_type, [g.value(node.inputs[0])])
    return convert


def _binary(op_type: str):
    def convert(g, node, out):
        a, b = node.inputs
        return g.node(op_type, [g.value(a, out.data.dtype), g.value(b, out.data.dtype)])
    return convert


def _pow(g, node, out):
    a, b = node.inputs
    return g.node("Pow", [g.value(a, out.data.dtype), g.value(b)])


def _leaky_relu(g, node, out):
    slope = node.params.get("negative_slope", 0.01)
    return g.node("LeakyRelu", [g.value(node.inputs[0])], alpha=float(slope))


def _prelu(g, node, out):
    x, weight = node.inputs
    slope = g.value(weight)
    if weight.data.size > 1 and x.data.ndim > 2:
        slope = g.reshape(slope, (weight.data.size,) + (1,) * (x.data.ndim - 2))
    return g.node("PRelu", [g.value(x), slope])


def _elu(g, node, out):
    alpha = node.params.get("alpha", 1.0)
    scale = node.params.get("scale", 1.0)
    input_scale = node.params.get("input_scale", 1.0)
    x = g.value(node.inputs[0])
    if scale == 1.0 and input_scale == 1.0:
        return g.node("Elu", [x], alpha=float(alpha))
    if input_scale == 1.0:
        return g.node("Selu", [x], alpha=float(alpha), gamma=float(scale))
    if scale == 1.0 and np.isclose(input_scale * alpha, 1.0):
        return g.node("Celu", [x], alpha=float(alpha))
    raise _Unsupported(f"Elu with scale={scale} and input_scale={input_scale}")


def _softplus(g, node, out):
    beta = node.params.get("beta", 1.0)
    threshold = node.params.get("threshold", 20.0)
    x = g.value(node.inputs[0])
    dtype = out.data.dtype
    scaled = x if beta == 1.0 else g.node("Mul", [x, g.scalar(beta, dtype)])
    y = g.node("Softplus", [scaled])
    if beta != 1.0:
        y = g.node("Div", [y, g.scalar(beta, dtype)])
    if threshold is None:
        return y
    above = g.node("Greater", [scaled, g.scalar(threshold, dtype)])
    return g.node("Where", [above, x, y])


def _clip(low_key: str, high_key: str):
    def convert(g, node, out):
        dtype = out.data.dtype
        low, high = node.params.get(low_key), node.params.get(high_key)
        bounds = ["" if v is None else g.scalar(v, dtype) for v in (low, high)]
        while bounds and bounds[-1] == "":
            bounds.pop()
        return g.node("Clip", [g.value(node.inputs[0])] + bounds)
    return convert


def _linear(g, node, out):
    x, weight = node.inputs[0], node.inputs[1]
    bias = node.inputs[2] if len(node.inputs) == 3 else None
    if x.data.ndim == 2:
        inputs = [g.value(x), g.value(weight)] + ([g.value(bias)] if bias is not None else [])
        return g.node("Gemm", inputs, transB=1)
    y = g.node("MatMul", [g.value(x), g.node("Transpose", [g.value(weight)], perm=[1, 0])])
    return y if bias is None else g.node("Add", [y, g.value(bias)])


def _linear_relu(g, node, out):
    return g.node("Relu", [_linear(g, node, out)])


def _convolution(g, node, out):
    x, weight = node.inputs[0], node.inputs[1]
    geometry = node.params["geometry"]
    top, bottom, left, right = geometry.padding
    if x.data.ndim == 3:  # 1-d: the width half of the 2-d geometry
        attributes = dict(strides=[geometry.stride[1]], pads=[left, right],
                          dilations=[geometry.dilation[1]], kernel_shape=[weight.data.shape[2]])
    else:
        attributes = dict(strides=list(geometry.stride), pads=[top, left, bottom, right],
                          dilations=list(geometry.dilation),
                          kernel_shape=list(weight.data.shape[2:]))
    inputs = [g.value(t) for t in node.inputs]
    return g.node("Conv", inputs, group=int(geometry.groups), **attributes)


def _window(spec, ndim: int):
    """(kernel, strides, dilations, [begin pads], [end pads]) of a PoolSpec, 1-d or 2-d."""
    top, bottom, left, right = spec.padding
    if ndim == 3:
        return ([spec.kernel[1]], [spec.stride[1]], [spec.dilation[1]], [left], [right])
    return list(spec.kernel), list(spec.stride), list(spec.dilation), [top, left], [bottom, right]


def _max_pool(g, node, out):
    x = node.inputs[0]
    kernel, strides, dilations, begin, end = _window(node.params["spec"], x.data.ndim)
    return g.node("MaxPool", [g.value(x)], kernel_shape=kernel, strides=strides,
                  dilations=dilations, pads=begin + end)


def _avg_pool(g, node, out):
    # Zero padding as its own node, then a plain average: chainrule's divisor (which depends on
    # count_include_pad, ceil_mode and divisor_override) is applied as a constant factor.
    x = node.inputs[0]
    spec = node.params["spec"]
    kernel, strides, dilations, begin, end = _window(spec, x.data.ndim)
    if any(d != 1 for d in dilations):
        raise _Unsupported("AvgPool with dilation")
    y = g.value(x)
    if any(begin + end):
        y = g.node("Pad", [y, g.ints([0, 0] + begin + [0, 0] + end),
                           g.scalar(0.0, x.data.dtype)])
    y = g.node("AveragePool", [y], kernel_shape=kernel, strides=strides)
    window = float(np.prod(kernel))
    divisor = spec.divisor
    if isinstance(divisor, np.ndarray):
        factor = (window / divisor).astype(out.data.dtype).reshape(out.data.shape[2:])
        return g.node("Mul", [y, g.constant(factor, "pool_divisor")])
    if divisor != window:
        return g.node("Mul", [y, g.scalar(window / divisor, out.data.dtype)])
    return y


def _normalize(g, node, out):
    p = node.params
    x = node.inputs[0]
    dtype = x.data.dtype
    params = list(node.inputs[1:])
    weight = params.pop(0) if p.get("has_weight", True) else None
    bias = params.pop(0) if p.get("has_bias", True) else None
    ndim, eps = x.data.ndim, float(p.get("eps", 1e-5))
    axes = tuple(p["axes"])
    prefix = g.layer or "norm"
    if not p.get("batch_stats", True) and ndim >= 2 and axes == (0,) + tuple(range(2, ndim)):
        channels = x.data.shape[1]
        scale = g.value(weight) if weight is not None else g.constant(np.ones(channels, dtype))
        shift = g.value(bias) if bias is not None else g.constant(np.zeros(channels, dtype))
        mean = g.constant(np.asarray(p["mean"], dtype).reshape(-1), f"{prefix}.running_mean")
        var = g.constant(np.asarray(p["var"], dtype).reshape(-1), f"{prefix}.running_var")
        return g.node("BatchNormalization", [g.value(x), scale, shift, mean, var], epsilon=eps)
    if p.get("batch_stats", True):
        mean = g.reduce("ReduceMean", g.value(x), axes, keepdims=True)
        centered = g.node("Sub", [g.value(x), mean])
        var = g.reduce("ReduceMean", g.node("Mul", [centered, centered]), axes, keepdims=True)
    else:
        centered = g.node("Sub", [g.value(x), g.constant(np.asarray(p["mean"], dtype))])
        var = g.constant(np.asarray(p["var"], dtype))
    std = g.node("Sqrt", [g.node("Add", [var, g.scalar(eps, dtype)])])
    y = g.node("Div", [centered, std])
    shape = tuple(p["param_shape"])
    for tensor, op_type in ((weight, "Mul"), (bias, "Add")):
        if tensor is not None:
            value = g.value(tensor)
            if tuple(tensor.data.shape) != shape:
                value = g.reshape(value, shape)
            y = g.node(op_type, [y, value])
    return y


def _reshape(g, node, out):
    x = node.inputs[0]
    shape = tuple(node.params["shape"])
    keep = g.is_batched(x) and len(shape) > 0 and x.data.ndim > 0 and \
        out.data.shape[0] == x.data.shape[0]
    return g.reshape(g.value(x), shape, keep_batch=keep)


def _expand(g, node, out):
    x = node.inputs[0]
    shape = list(node.params["shape"])
    lead = len(shape) - x.data.ndim
    for i in range(lead, len(shape)):
        if x.data.shape[i - lead] == shape[i]:
            shape[i] = 1  # Expand broadcasts: 1 keeps the input's size (and a free batch)
    return g.node("Expand", [g.value(x), g.ints(shape)])


def _permute(g, node, out):
    return g.node("Transpose", [g.value(node.inputs[0])],
                  perm=[int(d) for d in node.params["dims"]])


def _cat(g, node, out):
    inputs = [g.value(t, out.data.dtype) for t in node.inputs]
    return g.node("Concat", inputs, axis=int(node.params.get("axis", 0)))


def _pad(g, node, out):
    widths = node.params["widths"]
    pads = [int(before) for before, _ in widths] + [int(after) for _, after in widths]
    value = g.scalar(node.params.get("value", 0.0), out.data.dtype)
    return g.node("Pad", [g.value(node.inputs[0]), g.ints(pads), value])


def _repeat(g, node, out):
    x = node.inputs[0]
    sizes = list(node.params["sizes"])
    value = g.value(x)
    if len(sizes) > x.data.ndim:
        value = g.reshape(value, (1,) * (len(sizes) - x.data.ndim) + x.data.shape)
    return g.node("Tile", [value, g.ints(sizes)])


def _softmax(op_type: str):
    def convert(g, node, out):
        return g.node(op_type, [g.value(node.inputs[0])], axis=int(node.params.get("axis", -1)))
    return convert


def _sum(g, node, out):
    return g.reduce("ReduceSum", g.value(node.inputs[0]), node.params.get("axes"),
                    node.params.get("keepdim", False))


def _extremum(g, node, out):
    op_type = "ReduceMax" if node.params.get("largest", True) else "ReduceMin"
    return g.reduce(op_type, g.value(node.inputs[0]), node.params.get("axes"),
                    node.params.get("keepdim", False))


def _where(g, node, out):
    a, b = node.inputs
    condition = g.constant(np.asarray(node.params["condition"], dtype=bool), "condition")
    return g.node("Where", [condition, g.value(a, out.data.dtype), g.value(b, out.data.dtype)])


def _cast(g, node, out):
    return g.value(node.inputs[0], out.data.dtype)


def _getitem(g, node, out):
    x = node.inputs[0]
    index = node.params["index"]
    index = index if isinstance(index, tuple) else (index,)
    if any(not isinstance(i, (slice, int, np.integer)) for i in index):
        raise _Unsupported("GetItem with an index other than ints and slices")
    starts, ends, axes, steps, squeezed = [], [], [], [], []
    for axis, item in enumerate(index):
        if isinstance(item, slice):
            if item == slice(None):
                continue
            step = 1 if item.step is None else int(item.step)
            if step < 0:
                raise _Unsupported("GetItem with a negative step")
            starts.append(0 if item.start is None else int(item.start))
            ends.append(g.slice_end(item.stop))
        else:
            step = 1
            starts.append(int(item))
            ends.append(int(item) + 1 if int(item) != -1 else g.slice_end(None))
            squeezed.append(axis)
        axes.append(axis)
        steps.append(step)
    y = g.value(x)
    if axes:
        y = g.node("Slice", [y, g.ints(starts), g.ints(ends), g.ints(axes), g.ints(steps)])
    if squeezed:
        y = g.node("Squeeze", [y, g.ints(squeezed)])
    return y if (axes or squeezed) else g.node("Identity", [y])


class _Unsupported(Exception):
    """An op whose options have no ONNX equivalent (the exporter names the layer)."""


CONVERTERS = {
    "Add": _binary("Add"), "Sub": _binary("Sub"), "Mul": _binary("Mul"),
    "Div": _binary("Div"), "Maximum": _binary("Max"), "Minimum": _binary("Min"),
    "Pow": _pow, "MatMul": _binary("MatMul"),
    "Neg": _unary("Neg"), "Exp": _unary("Exp"), "SafeExp": _unary("Exp"), "Log": _unary("Log"),
    "Sqrt": _unary("Sqrt"), "Abs": _unary("Abs"), "Sin": _unary("Sin"), "Cos": _unary("Cos"),
    "Tanh": _unary("Tanh"), "Sigmoid": _unary("Sigmoid"), "Relu": _unary("Relu"),
    "Erf": _unary("Erf"), "Softsign": _unary("Softsign"), "Clone": _unary("Identity"),
    "LeakyRelu": _leaky_relu, "PRelu": _prelu, "Elu": _elu, "Softplus": _softplus,
    "Hardtanh": _clip("min_val", "max_val"), "Clip": _clip("low", "high"),
    "Linear": _linear, "LinearRelu": _linear_relu, "Convolution": _convolution,
    "MaxPool": _max_pool, "AvgPool": _avg_pool,
    "Normalize": _normalize, "Reshape": _reshape, "Expand": _expand, "Permute": _permute,
    "Cat": _cat, "Pad": _pad, "Repeat": _repeat, "Softmax": _softmax("Softmax"),
    "LogSoftmax": _softmax("LogSoftmax"), "Sum": _sum, "Extremum": _extremum, "Where": _where,
    "Cast": _cast, "GetItem": _getitem,
}
