"""``Parameter``: the Tensor subclass that marks a module's learnable state."""

from __future__ import annotations

import numpy as np

from chainrule import backend
from chainrule.tensor import Tensor


class Parameter(Tensor):
    """A Tensor that a ``Module`` registers as learnable when assigned as an attribute.

    Operations on a Parameter give plain Tensors; only the Parameter itself is found by
    ``Module.parameters()``.

    Args:
        data: an ndarray, a Tensor (its memory is shared, its dtype kept) or nested lists.
            Floating NumPy data becomes float32, as every chainrule tensor.
        requires_grad: whether ``backward`` fills ``.grad`` (switch off to freeze).

    Example:
        >>> import chainrule as cr
        >>> import chainrule.nn
        >>> w = cr.nn.Parameter(cr.zeros(2, 3))
        >>> w.requires_grad, w.shape
        (True, (2, 3))
    """

    def __init__(self, data=None, requires_grad: bool = True):
        if data is None:
            array = np.empty((0,), dtype=backend.default_float)
        elif isinstance(data, Tensor):
            array = data.data
        else:
            array = backend.as_array(data)
        Tensor.__init__(self, array, requires_grad=requires_grad)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + Tensor.__repr__(self)

    def __reduce_ex__(self, protocol):
        return (Parameter, (self.data, self.requires_grad))
