"""Reductions over one or more dimensions (``dim`` or NumPy's ``axis``, ``keepdim`` or
``keepdims``)."""

from __future__ import annotations

from collections import namedtuple

import numpy as np

from chainrule.autograd.function import Function
from chainrule.ops._util import as_tensor, dim_alias, normalize_dims
from chainrule.ops.pointwise import abs as absolute, log, pow
from chainrule.ops.select import sign, where
from chainrule.ops.shape import expand, reshape
from chainrule.ops.special import SafeExp
from chainrule.tensor import Tensor

ValuesIndices = namedtuple("ValuesIndices", ["values", "indices"])
ValuesIndices.__doc__ = "What ``max(dim)``/``min(dim)`` return: the values and their indices."


def _keepdim_shape(shape: tuple, axes: tuple | None) -> tuple:
    if axes is None:
        return (1,) * len(shape)
    return tuple(1 if i in axes else s for i, s in enumerate(shape))


def _expand_back(grad: Tensor, shape: tuple, axes, keepdim: bool) -> Tensor:
    """Undo a reduction's shape: restore the reduced dims as size 1, then broadcast."""

    if not keepdim:
        grad = reshape(grad, _keepdim_shape(shape, axes))
    return expand(grad, shape)


class Sum(Function):
    """sum(x, dims);  the gradient is grad broadcast back over the summed dimensions."""

    needs_inputs = False
    saved_is_metadata = True

    def forward(self, x, axes=None, keepdim=False):
        self.saved = (x.shape, axes, keepdim)
        return np.sum(x, axis=axes, keepdims=keepdim)

    def backward(self, grad_output):
        shape, axes, keepdim = self.saved
        return _expand_back(grad_output, shape, axes, keepdim)

    def backward_batched(self, grads):
        shape, axes, keepdim = self.saved
        if not keepdim:
            grads = grads.reshape((len(grads),) + _keepdim_shape(shape, axes))
        return np.broadcast_to(grads, (len(grads),) + tuple(shape))


def sum(x, dim=None, keepdim: bool = False, **aliases) -> Tensor:
    """Sum over ``dim`` (None: all; int or tuple; negatives allowed).

    Example:
        >>> import chainrule as cr
        >>> cr.ones(2, 3).sum(dim=1)
        tensor([3., 3.])
    """
    x = as_tensor(x)
    dim, keepdim = dim_alias(dim, keepdim, aliases, "sum")
    axes = normalize_dims(dim, x.ndim, "sum")
    if x.data.dtype.kind == "b":
        x = Tensor._make(x.data.astype(np.int64))
    return Sum.apply(x, axes=axes, keepdim=bool(keepdim))


def _count(shape: tuple, axes) -> int:
    if axes is None:
        return int(np.prod(shape))
    return int(np.prod([shape[a] for a in axes]))


def mean(x, dim=None, keepdim: bool = False, **aliases) -> Tensor:
    """Mean over ``dim``; the sum divided by the number of elements reduced."""
    x = as_tensor(x)
    dim, keepdim = dim_alias(dim, keepdim, aliases, "mean")
    if x.data.dtype.kind != "f":
        raise TypeError(f"mean needs a floating-point tensor, got dtype {x.dtype}; use .float()")
    axes = normalize_dims(dim, x.ndim, "mean")
    count = _count(x.shape, axes if x.ndim else None)
    return Sum.apply(x, axes=axes, keepdim=bool(keepdim)) * (1.0 / count if count else np.nan)


class Extremum(Function):
    """max or min over dims;  the gradient goes to the element(s) that won, as PyTorch.

    A NaN wins (NaN propagates). ``mode='index'`` sends the gradient to the one index returned
    (``max(dim)``: the first NaN, else the first tie); ``mode='even'`` splits it evenly among
    ties, the NaNs being the ties when there are any (``max()``); ``mode='amax'`` splits it among
    the elements equal to the result (``amax``), which no NaN is: a slice holding one gets NaN
    gradients, as PyTorch's amax.
    """

    def forward(self, x, axes=None, keepdim=False, largest=True, mode="even"):
        if x.size == 0 and _count(x.shape, axes) == 0:
            raise ValueError(
                f"{'max' if largest else 'min'}: cannot reduce over an empty dimension of a "
                f"tensor of shape {x.shape}; the maximum of nothing is undefined"
            )
        reduce = np.max if largest else np.min
        values = reduce(x, axis=axes, keepdims=True)
        if self.recording:
            if mode == "index":
                arg = (np.argmax if largest else np.argmin)(x, axis=axes[0], keepdims=True)
                weights = np.zeros(x.shape, dtype=x.dtype)
                np.put_along_axis(weights, arg, 1, axis=axes[0])
            else:
                winners = x == values
                if mode == "even" and x.dtype.kind == "f":
                    nan_values = np.isnan(values)
                    if nan_values.any():
                        winners |= np.isnan(x) & nan_values
                count = winners.sum(axis=axes, keepdims=True)
                weights = winners * (1.0 / np.maximum(count, 1)).astype(x.dtype)
                if mode == "amax" and not count.all():
                    weights = np.where(count == 0, np.nan, weights).astype(x.dtype)
            self.saved = (weights, axes, keepdim)
        return values if keepdim else values.reshape(
            tuple(s for i, s in enumerate(x.shape) if axes is not None and i not in axes)
        )

    def backward(self, grad_output):
        weights, axes, keepdim = self.saved
        return _expand_back(grad_output, weights.shape, axes, keepdim) * Tensor._make(weights)


def _extremum(x, dim, keepdim, aliases, largest: bool, op: str, with_indices: bool):
    x = as_tensor(x)
    numpy_style = "axis" in aliases
    dim, keepdim = dim_alias(dim, keepdim, aliases, op)
    axes = normalize_dims(dim, x.ndim, op)
    single = dim is not None and isinstance(dim, (int, np.integer))
    if x.ndim == 0:
        axes = None
    if with_indices and single and not numpy_style and x.ndim > 0:
        values = Extremum.apply(x, axes=axes, keepdim=bool(keepdim), largest=largest,
                                mode="index")
        arg = (np.argmax if largest else np.argmin)(x.data, axis=axes[0], keepdims=bool(keepdim))
        return ValuesIndices(values, Tensor._make(arg.astype(np.int64)))
    return Extremum.apply(x, axes=axes, keepdim=bool(keepdim), largest=largest,
                          mode="even" if with_indices else "amax")


def max(x, dim=None, keepdim: bool = False, **aliases):
    """Largest value: over everything (a tensor), or along one ``dim`` as PyTorch, returning
    ``(values, indices)``; with NumPy's ``axis=`` (or a tuple of dims) only the values.

    The gradient goes to the index returned, or is split evenly among ties for full reductions;
    NaN propagates, and the NaNs take the gradient (as PyTorch).
    """
    return _extremum(x, dim, keepdim, aliases, True, "max", with_indices=True)


def min(x, dim=None, keepdim: bool = False, **aliases):
    """Smallest value; see ``max`` for what is returned."""
    return _extremum(x, dim, keepdim, aliases, False, "min", with_indices=True)


def amax(x, dim=None, keepdim: bool = False, **aliases) -> Tensor:
    """Largest values over ``dim`` (int or tuple); the gradient is split evenly among ties.

    NaN propagates; as PyTorch, a slice holding a NaN gets a NaN gradient (no element equals
    the NaN result), while the other slices are unaffected.
    """
    return _extremum(x, dim, keepdim, aliases, True, "amax", with_indices=False)


def amin(x, dim=None, keepdim: bool = False, **aliases) -> Tensor:
    """Smallest values over ``dim`` (int or tuple); see ``amax`` for ties and NaN."""
    return _extremum(x, dim, keepdim, aliases, False, "amin", with_indices=False)


def var(x, dim=None, unbiased: bool | None = None, keepdim: bool = False, correction=None,
        **aliases) -> Tensor:
    """Variance over ``dim``: sum((x - mean)²) / (n - correction), correction 1 by default.

    ``unbiased=False`` (or ``correction=0``, or NumPy's ``ddof=0``) gives the population variance.
    Positional arguments follow PyTorch: ``var(x, 1, False)`` is the biased variance along
    dim 1, and a lone bool is ``unbiased`` (``var(x, False)``: biased, over everything).
    A constant slice has variance exactly 0 and gradient 0.
    """
    x = as_tensor(x)
    if x.data.dtype.kind != "f":
        raise TypeError(f"var needs a floating-point tensor, got dtype {x.dtype}; use .float()")
    if isinstance(dim, (bool, np.bool_)):  # PyTorch's var(input, unbiased) overload
        if unbiased is not None:
            raise TypeError(f"var: got unbiased={dim} in the place of dim and unbiased="
                            f"{unbiased} too; give dim as an int or a tuple of ints")
        dim, unbiased = None, bool(dim)
    if unbiased is not None and not isinstance(unbiased, (bool, np.bool_)):
        raise TypeError(f"var: unbiased must be True or False, got {unbiased!r}; for another "
                        "denominator n - k use correction=k")
    if "ddof" in aliases:
        correction = aliases.pop("ddof")
    dim, keepdim = dim_alias(dim, keepdim, aliases, "var")
    if unbiased is not None and correction is not None:
        raise TypeError("var: give unbiased or correction, not both")
    if correction is None:
        correction = 1 if unbiased is None or unbiased else 0
    axes = normalize_dims(dim, x.ndim, "var")
    count = _count(x.shape, axes if x.ndim else None)
    # Shifting each slice by its first element (a constant: the variance does not change) makes
    # a constant slice exactly 0 before the mean is taken, so its variance is exactly 0 and std's
    # zero-variance case is seen; x - mean(x) alone leaves rounding residue (0.1 three times).
    first = tuple(slice(0, 1) if axes is None or i in axes else slice(None)
                  for i in range(x.ndim))
    shifted = x - Tensor._make(np.asarray(x.data[first]))
    centered = shifted - mean(shifted, axes, keepdim=True)
    squares = sum(centered * centered, axes, keepdim=bool(keepdim))
    denominator = count - correction
    return squares * (1.0 / denominator if denominator > 0 else np.nan)


class StdFromVar(Function):
    """std = √var;  d/dvar = 1/(2·std), and 0 where std = 0 (PyTorch's choice for a constant
    slice, where 1/(2·0) times var's zero gradient would be NaN)."""

    needs_inputs = False
    saves_output = True

    def forward(self, variance):
        return np.sqrt(variance)

    def backward(self, grad_output):

        out = self.output
        zero = out.data == 0
        if not zero.any():
            return grad_output / (out * 2.0)
        return grad_output / (where(zero, 1.0, out) * 2.0) * Tensor._make(~zero)


def std(x, dim=None, unbiased: bool | None = None, keepdim: bool = False, correction=None,
        **aliases) -> Tensor:
    """Standard deviation: the square root of ``var`` with the same arguments.

    Where the deviation is 0 (a constant slice) the gradient is 0, as PyTorch.
    """
    return StdFromVar.apply(var(x, dim, unbiased=unbiased, keepdim=keepdim,
                                correction=correction, **aliases))


def logsumexp(x, dim=None, keepdim: bool = False, **aliases) -> Tensor:
    """log(sum(exp(x))) over ``dim``, computed stably by shifting by the maximum.

    Its gradient is the softmax of x along ``dim``. Terms far below the maximum add exact zeros
    (no underflow, even under ``np.errstate(all='raise')``).
    """

    x = as_tensor(x)
    dim, keepdim = dim_alias(dim, keepdim, aliases, "logsumexp")
    axes = normalize_dims(dim, x.ndim, "logsumexp")
    if x.size == 0:  # as PyTorch: log of an empty sum is -inf; the gradient is empty
        return sum(x, axes, keepdim=keepdim) * 0.0 + float("-inf")
    shift = np.max(x.data, axis=axes, keepdims=True)
    shift = np.where(np.isfinite(shift), shift, 0).astype(x.dtype, copy=False)
    shift_tensor = Tensor._make(shift)
    out = log(sum(SafeExp.apply(x - shift_tensor), axes, keepdim=True)) + shift_tensor
    if not keepdim:
        out = reshape(out, tuple(s for i, s in enumerate(x.shape)
                                 if axes is not None and i not in axes))
    return out


def _arg(x, dim, keepdim, aliases, fn, op) -> Tensor:
    x = as_tensor(x)
    dim, keepdim = dim_alias(dim, keepdim, aliases, op)
    if dim is None:
        index = np.asarray(fn(x.data.reshape(-1)), dtype=np.int64)
        return Tensor._make(index.reshape((1,) * x.ndim) if keepdim else index)
    (axis,) = normalize_dims(dim, x.ndim, op)
    return Tensor._make(fn(x.data, axis=axis, keepdims=bool(keepdim)).astype(np.int64))


def argmax(x, dim=None, keepdim: bool = False, **aliases) -> Tensor:
    """Index of the largest value (flattened when ``dim`` is None); int64, no gradient."""
    return _arg(x, dim, keepdim, aliases, np.argmax, "argmax")


def argmin(x, dim=None, keepdim: bool = False, **aliases) -> Tensor:
    """Index of the smallest value (flattened when ``dim`` is None); int64, no gradient."""
    return _arg(x, dim, keepdim, aliases, np.argmin, "argmin")


def all(x, dim=None, keepdim: bool = False) -> Tensor:
    """Whether all elements are true (non-zero) over ``dim``; a bool tensor."""
    x = as_tensor(x)
    axes = normalize_dims(dim, x.ndim, "all")
    return Tensor._make(np.all(x.data, axis=axes, keepdims=keepdim))


def any(x, dim=None, keepdim: bool = False) -> Tensor:
    """Whether any element is true (non-zero) over ``dim``; a bool tensor."""
    x = as_tensor(x)
    axes = normalize_dims(dim, x.ndim, "any")
    return Tensor._make(np.any(x.data, axis=axes, keepdims=keepdim))


class Norm(Function):
    """‖x‖ₚ = (Σ|x|ᵖ)^(1/p);  d/dx = sign(x)·|x|^(p-1) / ‖x‖^(p-1), with PyTorch's subgradient
    0 where ‖x‖ = 0 (and, for p < 1, where x = 0), so a zero slice never gives NaN."""

    saves_output = True

    def forward(self, x, p=2.0, axes=None, keepdim=False):
        self.saved = (p, axes, keepdim)
        if p == 2.0:
            return np.sqrt(np.sum(x * x, axis=axes, keepdims=keepdim))
        return np.sum(np.abs(x) ** p, axis=axes, keepdims=keepdim) ** (1.0 / p)

    def backward(self, grad_output):

        p, axes, keepdim = self.saved
        x, norm = self.inputs[0], self.output
        nonzero = norm.data != 0
        safe_norm = norm if nonzero.all() else where(nonzero, norm, 1.0)
        if p == 2.0:
            scale, direction = grad_output / safe_norm, x
        else:
            scale = grad_output * pow(safe_norm, 1.0 - p)
            nonzero_x = x.data != 0
            magnitude = absolute(x) if nonzero_x.all() else where(nonzero_x, absolute(x), 1.0)
            direction = sign(x) * pow(magnitude, p - 1.0)
        if not nonzero.all():
            scale = scale * Tensor._make(nonzero)
        return _expand_back(scale, x.shape, axes, keepdim) * direction


def norm(x, p=2, dim=None, keepdim: bool = False) -> Tensor:
    """The p-norm over ``dim`` (all elements by default): p = 1, 2, any positive number or inf;
    ``'fro'`` (Frobenius, PyTorch's default) is p = 2 over at most two dimensions.

    At a zero slice the gradient is 0 (PyTorch's subgradient), never NaN.
    """

    x = as_tensor(x)
    if isinstance(p, str) and p == "fro":
        if dim is not None and not isinstance(dim, (int, np.integer)) and len(dim) > 2:
            raise ValueError(f"norm: p='fro' is a matrix norm over at most 2 dims, got dim="
                             f"{dim!r}; use p=2 for the 2-norm over more dimensions")
        p = 2
    if p == 1:
        return sum(absolute(x), dim, keepdim)
    if p == float("inf"):
        return amax(absolute(x), dim, keepdim)
    if isinstance(p, (int, float, np.integer, np.floating)) and p > 0:
        if x.data.dtype.kind != "f":
            x = x.float()
        return Norm.apply(x, p=float(p), axes=normalize_dims(dim, x.ndim, "norm"),
                          keepdim=bool(keepdim))
    raise ValueError(f"norm: p must be a positive number or inf, got {p!r}")
