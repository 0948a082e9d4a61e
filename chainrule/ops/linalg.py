"""Matrix products, and the linear layer's op ``x @ W.T + b``."""

from __future__ import annotations

import numpy as np

from chainrule import threads
from chainrule.autograd.function import Function
from chainrule.ops._util import as_tensor, batched_pair, operands, sum_rows, unbroadcast
from chainrule.ops.reduce import sum as reduce_sum
from chainrule.ops.shape import reshape, swap_last_two, transpose, unsqueeze
from chainrule.tensor import Tensor


class MatMul(Function):
    """a @ b for a, b with at least 2 dimensions (batch dimensions broadcast).

    d/da = grad @ bᵀ,  d/db = aᵀ @ grad (each summed over broadcast batch dimensions).
    """

    def forward(self, a, b):
        return threads.matmul(a, b)

    def backward(self, grad_output):
        a, b = self.inputs
        grad_a = grad_b = None
        if self.next[0] is not None:
            grad_a = unbroadcast(MatMul.apply(grad_output, swap_last_two(b)), a.shape)
        if self.next[1] is not None:
            grad_b = unbroadcast(MatMul.apply(swap_last_two(a), grad_output), b.shape)
        return grad_a, grad_b

    def backward_batched(self, grads):
        a, b = self.inputs[0].data, self.inputs[1].data
        grad_a = grad_b = None
        if self.next[0] is not None:
            grad_a = (_times_matrix(grads, b.T) if b.ndim == 2
                      else threads.matmul(grads, np.swapaxes(b, -1, -2)))
        if self.next[1] is not None:
            grad_b = (_matrix_times(a.T, grads) if a.ndim == 2 and grads.ndim == 3
                      else threads.matmul(np.swapaxes(a, -1, -2), grads))
        return batched_pair(self, grad_a, grad_b)


def matmul(a, b) -> Tensor:
    """Matrix product with NumPy's rules: 1-D operands are promoted and the added dimension
    removed again; leading (batch) dimensions broadcast.

    Shape: (..., n, k) @ (..., k, m) -> (..., n, m); (k,) @ (k,) -> ().

    Example:
        >>> import chainrule as cr
        >>> (cr.ones(2, 3) @ cr.ones(3)).shape
        (2,)
    """
    a, b = operands(a, b)
    a_shape, b_shape = a.data.shape, b.data.shape
    if len(a_shape) == 2 and len(b_shape) == 2 and a_shape[1] == b_shape[0]:
        return MatMul.apply(a, b)  # the common case, checked cheaply
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(
            f"matmul: both operands need at least 1 dimension, got shapes {tuple(a.shape)} and "
            f"{tuple(b.shape)}; use * to multiply by a scalar"
        )
    k_a = a.shape[-1]
    k_b = b.shape[-2] if b.ndim >= 2 else b.shape[0]
    if k_a != k_b:
        raise ValueError(
            f"matmul: shapes {tuple(a.shape)} and {tuple(b.shape)} are not aligned: the last "
            f"dimension of the first ({k_a}) must equal the "
            f"{'second-to-last' if b.ndim >= 2 else 'only'} dimension of the second ({k_b})"
        )
    if a.ndim >= 2 and b.ndim >= 2:
        try:
            np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
        except ValueError:
            raise ValueError(
                f"matmul: batch dimensions of shapes {tuple(a.shape)} and {tuple(b.shape)} cannot "
                "be broadcast together"
            ) from None
        return MatMul.apply(a, b)
    squeeze_dims = []
    if a.ndim == 1:
        a = unsqueeze(a, 0)
        squeeze_dims.append(-2)
    if b.ndim == 1:
        b = unsqueeze(b, 1)
        squeeze_dims.append(-1)
    out = MatMul.apply(a, b)
    shape = list(out.shape)
    for d in sorted(squeeze_dims):
        shape[d] = None
    return reshape(out, tuple(s for s in shape if s is not None))


def dot(a, b) -> Tensor:
    """Inner product of two 1-D tensors."""
    a, b = operands(a, b)
    if a.ndim != 1 or b.ndim != 1:
        raise ValueError(f"dot: expects two 1-D tensors, got shapes {a.shape} and {b.shape}")
    return matmul(a, b)


# ---------------------------------------------------------------------------- linear
class Linear(Function):
    """y = x Wᵀ + b;  dx = g W,  dW = gᵀ x,  db = Σ_batch g."""

    def forward(self, x, weight, bias=None):
        out = threads.matmul(x, weight.T)
        if bias is not None:
            out += bias
        return out

    def backward(self, grad_output):
        x, weight = self.inputs[0], self.inputs[1]
        grad_x = grad_weight = grad_bias = None
        if self.next[0] is not None:
            grad_x = matmul(grad_output, weight)
        flat_grad = grad_output
        if grad_output.ndim != 2:
            flat_grad = reshape(grad_output, (-1, grad_output.shape[-1]))
        if self.next[1] is not None:
            flat_x = x if x.ndim == 2 else reshape(x, (-1, x.shape[-1]))
            grad_weight = matmul(transpose(flat_grad, 0, 1), flat_x)
        if len(self.next) == 3 and self.next[2] is not None:
            grad_bias = reduce_sum(flat_grad, 0)
        return grad_x, grad_weight, grad_bias

    def backward_arrays(self, grad_output):
        # The same formulas on arrays: skipping the ops' dispatch keeps a Linear layer as fast
        # as hand-written NumPy.
        x, weight = self.inputs[0].data, self.inputs[1].data
        grad_x = grad_weight = grad_bias = None
        if self.next[0] is not None:
            grad_x = threads.matmul(grad_output, weight)
        flat_grad = grad_output
        if grad_output.ndim != 2:
            flat_grad = grad_output.reshape(-1, grad_output.shape[-1])
        if self.next[1] is not None:
            flat_x = x if x.ndim == 2 else x.reshape(-1, x.shape[-1])
            grad_weight = threads.matmul(flat_grad.T, flat_x)
        if len(self.next) == 3 and self.next[2] is not None:
            grad_bias = sum_rows(flat_grad)
        return grad_x, grad_weight, grad_bias

    def backward_batched(self, grads):
        x, weight = self.inputs[0].data, self.inputs[1].data
        count, out_features = len(grads), weight.shape[0]
        grad_x = grad_weight = grad_bias = None
        if self.next[0] is not None:
            grad_x = _times_matrix(grads, weight)
        flat = grads.reshape(count, -1, out_features)  # (k, N, out)
        if self.next[1] is not None:
            flat_x = x.reshape(-1, x.shape[-1])
            grad_weight = threads.matmul(flat.transpose(0, 2, 1).reshape(-1, len(flat_x)),
                                         flat_x).reshape(count, out_features, -1)
        if len(self.next) == 3 and self.next[2] is not None:
            grad_bias = flat.sum(axis=1)
        return grad_x, grad_weight, grad_bias


def _times_matrix(stacked: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """``stacked @ matrix`` for a 2-D matrix, as one GEMM over all leading dimensions."""
    return threads.matmul(stacked.reshape(-1, stacked.shape[-1]), matrix).reshape(
        stacked.shape[:-1] + (matrix.shape[1],))


def _matrix_times(matrix: np.ndarray, stacked: np.ndarray) -> np.ndarray:
    """``matrix @ stacked[j]`` for every j of a (k, n, m) stack, as one GEMM."""
    count, rows, cols = stacked.shape
    product = threads.matmul(matrix, stacked.transpose(1, 0, 2).reshape(rows, count * cols))
    return product.reshape(matrix.shape[0], count, cols).transpose(1, 0, 2)


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """Affine map ``input @ weight.T + bias``, as PyTorch's ``F.linear``.

    Shape: input (*, in_features), weight (out_features, in_features), bias (out_features,)
    -> (*, out_features).

    Example:
        >>> import chainrule as cr
        >>> import chainrule.nn
        >>> F = cr.nn.functional
        >>> F.linear(cr.ones(2, 3), cr.ones(4, 3), cr.zeros(4)).shape
        (2, 4)
    """
    return _apply_linear(Linear, input, weight, bias, "linear")


class LinearRelu(Linear):
    """relu(x Wᵀ + b) as one node, for ``nn.Sequential``'s Linear → ReLU: the bias is added and
    the negatives cleared in place in the product's buffer;  backward masks the gradient by the
    output's sign (a NaN passes, as relu's) and is then Linear's."""

    saves_output = True

    def forward(self, x, weight, bias=None):
        out = super().forward(x, weight, bias)
        return np.maximum(out, 0, out=out)

    def _mask(self) -> np.ndarray:
        return self._output_data != 0  # an output is >= 0 or NaN: ~(out <= 0) in one pass

    def backward(self, grad_output):
        return super().backward(grad_output * Tensor._make(self._mask()))

    def backward_arrays(self, grad_output):
        return super().backward_arrays(grad_output * self._mask())

    def backward_batched(self, grads):
        return super().backward_batched(grads * self._mask())


def linear_relu(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``relu(linear(input, weight, bias))`` in one op: the same values and gradients, one
    graph node and one output array fewer (``nn.Sequential`` uses it for a Linear followed by
    a ReLU).

    Example:
        >>> import chainrule as cr
        >>> import chainrule.nn
        >>> F = cr.nn.functional
        >>> F.linear_relu(cr.ones(1, 2), cr.tensor([[1.0, 1.0], [-1.0, 0.0]])).tolist()
        [[2.0, 0.0]]
    """
    return _apply_linear(LinearRelu, input, weight, bias, "linear_relu")


def _apply_linear(op: type, input, weight, bias, name: str) -> Tensor:
    input, weight = as_tensor(input), as_tensor(weight)
    if weight.ndim != 2 or input.ndim == 0 or input.shape[-1] != weight.shape[1]:
        features = weight.shape[1] if weight.ndim == 2 else "in_features"
        raise ValueError(
            f"{name}: input of shape {tuple(input.shape)} does not match weight of shape "
            f"{tuple(weight.shape)}; expected input (*, {features}) and weight "
            "(out_features, in_features)"
        )
    if input.dtype != weight.dtype:
        raise TypeError(
            f"{name}: input dtype {input.dtype} does not match weight dtype {weight.dtype}; "
            "convert the input (x.float()) or the model (model.double())"
        )
    if bias is None:
        return op.apply(input, weight)
    bias = as_tensor(bias)
    if bias.shape != (weight.shape[0],):
        raise ValueError(
            f"{name}: bias of shape {tuple(bias.shape)} does not match weight of shape "
            f"{tuple(weight.shape)}; expected ({weight.shape[0]},)"
        )
    return op.apply(input, weight, bias)
