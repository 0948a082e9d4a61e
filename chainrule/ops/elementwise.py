"""Elementwise arithmetic with broadcasting: add, sub, mul, div, neg (powers and unary math are
in ``pointwise``, selection and comparisons in ``select``)."""

from __future__ import annotations

import numpy as np

from chainrule.autograd.function import Function
from chainrule.ops._util import (
    array_pair, as_tensor, batched_pair, broadcast_shapes, operands, unbroadcast,
)
from chainrule.tensor import Tensor


def _check_broadcast(op: str, a: np.ndarray, b: np.ndarray) -> None:
    if a.shape != b.shape:
        broadcast_shapes(op, a.shape, b.shape)


# ---------------------------------------------------------------------------- arithmetic
class Add(Function):
    """a + b;  d/da = 1, d/db = 1 (summed over broadcast dimensions)."""

    needs_inputs = False

    def forward(self, a, b):
        _check_broadcast("add", a, b)
        return a + b

    def backward(self, grad_output):
        a, b = self.inputs
        grad_a = unbroadcast(grad_output, a.shape) if self.next[0] is not None else None
        grad_b = unbroadcast(grad_output, b.shape) if self.next[1] is not None else None
        return grad_a, grad_b

    def backward_batched(self, grads):
        return batched_pair(self, grads, grads)

    def backward_arrays(self, grad_output):
        return array_pair(self, grad_output, grad_output)


def add(a, b) -> Tensor:
    """Elementwise ``a + b`` with broadcasting."""
    return Add.apply(*operands(a, b))


class Sub(Function):
    """a - b;  d/da = 1, d/db = -1."""

    needs_inputs = False

    def forward(self, a, b):
        _check_broadcast("sub", a, b)
        return a - b

    def backward(self, grad_output):
        a, b = self.inputs
        grad_a = unbroadcast(grad_output, a.shape) if self.next[0] is not None else None
        grad_b = unbroadcast(neg(grad_output), b.shape) if self.next[1] is not None else None
        return grad_a, grad_b

    def backward_batched(self, grads):
        return batched_pair(self, grads, -grads if self.next[1] is not None else None)

    def backward_arrays(self, grad_output):
        return array_pair(self, grad_output,
                          -grad_output if self.next[1] is not None else None)


def sub(a, b) -> Tensor:
    """Elementwise ``a - b`` with broadcasting."""
    return Sub.apply(*operands(a, b))


class Mul(Function):
    """a * b;  d/da = b, d/db = a."""

    def forward(self, a, b):
        _check_broadcast("mul", a, b)
        return a * b

    def backward(self, grad_output):
        a, b = self.inputs
        grad_a = unbroadcast(grad_output * b, a.shape) if self.next[0] is not None else None
        grad_b = unbroadcast(grad_output * a, b.shape) if self.next[1] is not None else None
        return grad_a, grad_b

    def backward_batched(self, grads):
        a, b = self.inputs
        return batched_pair(self, grads * b.data if self.next[0] is not None else None,
                            grads * a.data if self.next[1] is not None else None)

    def backward_arrays(self, grad_output):
        a, b = self.inputs
        return array_pair(self, grad_output * b.data if self.next[0] is not None else None,
                          grad_output * a.data if self.next[1] is not None else None)

    def needed_inputs(self):
        return [position for position, edge in ((1, self.next[0]), (0, self.next[1]))
                if edge is not None]


def mul(a, b) -> Tensor:
    """Elementwise ``a * b`` with broadcasting."""
    return Mul.apply(*operands(a, b))


class Div(Function):
    """a / b;  d/da = 1/b, d/db = -a/b²."""

    def forward(self, a, b):
        _check_broadcast("div", a, b)
        return a / b

    def backward(self, grad_output):
        a, b = self.inputs
        grad_a = unbroadcast(grad_output / b, a.shape) if self.next[0] is not None else None
        grad_b = None
        if self.next[1] is not None:
            grad_b = unbroadcast(neg(grad_output * a) / (b * b), b.shape)
        return grad_a, grad_b

    def backward_batched(self, grads):
        a, b = self.inputs[0].data, self.inputs[1].data
        return batched_pair(self, grads / b if self.next[0] is not None else None,
                            -grads * a / (b * b) if self.next[1] is not None else None)

    def backward_arrays(self, grad_output):
        a, b = self.inputs[0].data, self.inputs[1].data
        return array_pair(self, grad_output / b if self.next[0] is not None else None,
                          -grad_output * a / (b * b) if self.next[1] is not None else None)

    def needed_inputs(self):
        return (0, 1) if self.next[1] is not None else (1,)


def div(a, b) -> Tensor:
    """Elementwise true division ``a / b`` with broadcasting (integers give float32)."""
    a, b = operands(a, b)
    if a.data.dtype.kind != "f" and b.data.dtype.kind != "f":
        a, b = a.float(), b.float()
    return Div.apply(a, b)


class Neg(Function):
    """-x;  d/dx = -1."""

    needs_inputs = False

    def forward(self, x):
        return -x

    def backward(self, grad_output):
        return neg(grad_output)

    def backward_batched(self, grads):
        return -grads

    def backward_arrays(self, grad_output):
        return -grad_output


def neg(x) -> Tensor:
    """Elementwise ``-x``."""
    return Neg.apply(as_tensor(x))
