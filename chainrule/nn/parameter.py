"""``Parameter``: the Tensor subclass that marks a module's learnable state, and the checks of
PyTorch's factory kwargs (``device=``, ``dtype=``) that layers create their parameters with."""

from __future__ import annotations

import numpy as np

from chainrule import backend
from chainrule.tensor import Tensor


class Parameter(Tensor):
    """A Tensor that a ``Module`` registers as learnable when assigned as an attribute.

    Operations on a Parameter give plain Tensors; only the Parameter itself is found by
    ``Module.parameters()``.

    Args:
        data: a Tensor or a floating ndarray (memory shared, dtype kept, as PyTorch's
            Parameter keeps its tensor's dtype), or nested lists (float32, as ``cr.tensor``).
        requires_grad: whether ``backward`` fills ``.grad`` (switch off to freeze).

    Example:
        >>> import chainrule as cr
        >>> import chainrule.nn
        >>> w = cr.nn.Parameter(cr.zeros(2, 3, dtype=cr.float64))
        >>> w.requires_grad, w.shape, str(w.dtype)
        (True, (2, 3), 'float64')
    """

    def __init__(self, data=None, requires_grad: bool = True):
        if data is None:
            array = np.empty((0,), dtype=backend.default_float)
        elif isinstance(data, Tensor):
            array = data.data
        elif isinstance(data, np.ndarray) and data.dtype.kind == "f":
            array = data
        else:
            array = backend.as_array(data)
        Tensor.__init__(self, array, requires_grad=requires_grad, dtype=array.dtype)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + Tensor.__repr__(self)

    def __reduce_ex__(self, protocol):
        return (Parameter, (self.data, self.requires_grad))


def check_device(device, where: str) -> None:
    """Accept the CPU (None, ``'cpu'``, ``'cpu:0'``, a torch ``device('cpu')``); any other device
    is an error, since chainrule computes with NumPy on the CPU."""
    if device is None or str(device).split(":")[0] == "cpu":
        return
    raise RuntimeError(f"chainrule runs on the CPU only; {where} got device={device!r}, which is "
                       "not available (use 'cpu' or leave the device out)")


def factory_dtype(layer: str, device=None, dtype=None) -> np.dtype:
    """The dtype of a layer's parameters and floating buffers from PyTorch's factory kwargs:
    ``dtype`` (float32 by default, floating-point only), after checking ``device``.

    Example:
        >>> from chainrule.nn.parameter import factory_dtype
        >>> str(factory_dtype("Linear", "cpu", "float64"))
        'float64'
    """
    check_device(device, layer)
    resolved = backend.resolve_dtype(dtype) or backend.default_float
    if resolved.kind != "f":
        raise TypeError(f"{layer}: dtype must be a floating-point dtype (parameters are learned "
                        f"by gradients), got {resolved}; use chainrule.float32 or "
                        "chainrule.float64")
    return resolved
