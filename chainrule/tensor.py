"""``Tensor``: an ndarray with a gradient and the node of the graph that made it.

The arithmetic lives in ``chainrule.ops``; the methods here only delegate to it, so every
operator has one definition, with its backward beside it.
"""

from __future__ import annotations

import weakref
from typing import Any

import numpy as np

from chainrule import backend


class Tensor:
    """A multi-dimensional array that records the operations applied to it.

    Args:
        data: numbers, nested lists or an ndarray. Floating data becomes float32 unless ``dtype``
            is given; integers become int64.
        requires_grad: record operations on this tensor so that ``backward`` fills ``.grad``.
        dtype: ``chainrule.float32``, ``chainrule.float64``, ``chainrule.int64``,
            ``chainrule.bool`` or any NumPy dtype.

    Example:
        >>> import chainrule as cr
        >>> x = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)
        >>> (x * x).sum().backward()
        >>> x.grad
        tensor([2., 4., 6.])
    """

    __array_ufunc__ = None  # NumPy defers to Tensor's reflected operators (ndarray * Tensor).

    # Class-level defaults: a tensor made by an op only stores what differs (fast creation).
    grad = None
    grad_fn = None
    requires_grad = False
    _hooks = None
    # Memory sharing. ``_vc`` is the version counter, a one-element list that a tensor shares with
    # its views and detached aliases, so an in-place change through any of them is seen by every
    # saved copy. A view (``_View``) also knows its ``_base`` and how to remake itself from it.
    _vc = None
    _base = None
    _view_steps = ()
    _rewrites = 0  # in-place ops recorded on this tensor's memory; views then refresh grad_fn

    def __init__(self, data: Any, requires_grad: bool = False, dtype=None):
        if isinstance(data, Tensor):
            data = data.data
        array = backend.as_array(data, dtype)
        self.data = array
        self.grad = None
        self.grad_fn = None
        self._hooks = None
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    @staticmethod
    def _make(array: np.ndarray, grad_fn=None, requires_grad: bool = False) -> "Tensor":
        """Wrap an array as it is, without conversion (the ops' fast path)."""
        tensor = _new_tensor(Tensor)
        tensor.data = array
        if grad_fn is not None:
            tensor.grad_fn = grad_fn
        if requires_grad:
            tensor.requires_grad = True
        return tensor

    # ----------------------------------------------------------------- properties
    @property
    def shape(self) -> tuple[int, ...]:
        """The size of each dimension, a tuple."""
        return self.data.shape

    @property
    def dtype(self) -> np.dtype:
        """The NumPy dtype of the data."""
        return self.data.dtype

    @property
    def ndim(self) -> int:
        """The number of dimensions."""
        return self.data.ndim

    @property
    def size(self) -> "_Size":
        """Number of elements, as NumPy's ``t.size``; called, PyTorch's: ``t.size()`` is the
        shape and ``t.size(dim)`` one dimension."""
        return _Size(self.data.size, self.data.shape)

    def numel(self) -> int:
        """Number of elements."""
        return self.data.size

    def dim(self) -> int:
        """Number of dimensions."""
        return self.data.ndim

    @property
    def _version(self) -> int:
        """How many times this tensor's memory was changed in place (shared with its views)."""
        counter = self._vc
        return 0 if counter is None else counter[0]

    @_version.setter
    def _version(self, value: int) -> None:
        counter = self._vc
        if counter is None:
            self._vc = [value]
        else:
            counter[0] = value

    @property
    def is_leaf(self) -> bool:
        """True for tensors not produced by a recorded op (user-created, parameters)."""
        return self.grad_fn is None

    @property
    def T(self) -> "Tensor":
        """The tensor with its dimensions reversed (the transpose for 2-D)."""
        return _shape.permute(self, tuple(range(self.ndim - 1, -1, -1)))

    @property
    def mT(self) -> "Tensor":
        """The last two dimensions swapped (batched matrix transpose)."""
        return _shape.transpose(self, -2, -1)

    # ----------------------------------------------------------------- conversion
    def numpy(self) -> np.ndarray:
        """The underlying ndarray (shared memory). Raises if the tensor requires grad."""
        if self.requires_grad:
            raise RuntimeError(
                "Can't call numpy() on a tensor that requires grad. Use tensor.detach().numpy()."
            )
        return self.data

    def __array__(self, dtype=None, copy=None):
        if dtype is not None and dtype != self.data.dtype:
            return self.data.astype(dtype)
        if copy:
            return self.data.copy()
        return self.data

    def item(self):
        """The value of a one-element tensor as a Python number."""
        if self.data.size != 1:
            raise ValueError(
                f"a Tensor with {self.data.size} elements (shape {tuple(self.shape)}) cannot be "
                "converted to a Python scalar; only one-element tensors can"
            )
        return self.data.reshape(()).item()

    def tolist(self):
        """The data as (nested) Python lists."""
        return self.data.tolist()

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __index__(self) -> int:
        if self.data.dtype.kind not in "iub" or self.data.size != 1:
            raise TypeError("only integer tensors of a single element can be used as an index")
        return int(self.item())

    def __bool__(self) -> bool:
        if self.data.size != 1:
            raise RuntimeError(
                f"Boolean value of Tensor with {self.data.size} values (shape "
                f"{tuple(self.shape)}) is ambiguous; use .any() or .all()"
            )
        return bool(self.data.reshape(()).item())

    def __len__(self) -> int:
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.data.shape[0]

    def __iter__(self):
        if self.data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self.data.shape[0]))

    __hash__ = object.__hash__

    def __repr__(self) -> str:
        body = np.array2string(self.data, separator=", ", prefix="tensor(", precision=4)
        extras = []
        if self.data.dtype not in (backend.float32, backend.int64, backend.bool_):
            extras.append(f"dtype={self.data.dtype}")
        if self.grad_fn is not None:
            extras.append(f"grad_fn={self.grad_fn.name()}")
        elif self.requires_grad:
            extras.append("requires_grad=True")
        return "tensor(" + body + "".join(", " + e for e in extras) + ")"

    # ----------------------------------------------------------------- dtype
    def to(self, dtype) -> "Tensor":
        """The tensor converted to ``dtype`` (differentiable between float dtypes)."""
        return _select.cast(self, backend.resolve_dtype(dtype))

    def float(self) -> "Tensor":
        """The tensor as float32."""
        return self.to(backend.float32)

    def double(self) -> "Tensor":
        """The tensor as float64."""
        return self.to(backend.float64)

    def long(self) -> "Tensor":
        """The tensor as int64."""
        return self.to(backend.int64)

    def bool(self) -> "Tensor":
        """The tensor as bool."""
        return self.to(backend.bool_)

    def is_floating_point(self) -> bool:
        """Whether the dtype is a floating-point one (only those can require gradients)."""
        return self.data.dtype.kind == "f"

    # ----------------------------------------------------------------- autograd
    def requires_grad_(self, requires_grad: bool = True) -> "Tensor":
        """Set whether operations on this leaf are recorded; returns the tensor itself."""
        if requires_grad and self.data.dtype.kind != "f":
            raise RuntimeError(
                f"only floating-point tensors can require gradients, but this tensor has dtype "
                f"{self.data.dtype}; convert it first with .float() or .double()"
            )
        if not requires_grad and self.grad_fn is not None:
            raise RuntimeError(
                "requires_grad can only be switched off on leaf tensors; use .detach() to get a "
                "tensor outside the graph"
            )
        self.requires_grad = bool(requires_grad)
        return self

    def detach(self) -> "Tensor":
        """A tensor sharing the data but outside the graph (no grad_fn, no requires_grad).

        It shares the version counter too: changing it in place counts as changing this tensor,
        so a backward that needs the old values raises instead of using the new ones.
        """
        alias = Tensor._make(self.data)
        alias._vc = _counter(self)
        return alias

    def detach_(self) -> "Tensor":
        """Cut this tensor out of the graph in place."""
        self.grad_fn = None
        self.requires_grad = False
        return self

    def clone(self) -> "Tensor":
        """A copy with its own memory; differentiable."""
        return _select.clone(self)

    def backward(self, gradient=None, retain_graph=None, create_graph: bool = False) -> None:
        """Accumulate the gradient of this tensor into ``.grad`` of every leaf it depends on.

        Args:
            gradient: d(something)/d(self); may be omitted only when the tensor has one element.
            retain_graph: keep the graph so backward can run through it again (default:
                ``create_graph``).
            create_graph: record the backward pass so the gradients can be differentiated again.
        """
        _engine.backward(self, gradient, retain_graph, create_graph)

    def register_hook(self, hook):
        """Call ``hook(grad)`` when this tensor's gradient is computed; a return value replaces it.

        Returns a handle whose ``remove()`` unregisters the hook.
        """
        if not self.requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        if self.grad_fn is None:
            if self._hooks is None:
                self._hooks = []
            hooks = self._hooks
        else:
            if self.grad_fn._output_hooks is None:
                self.grad_fn._output_hooks = []
            hooks = self.grad_fn._output_hooks
        return RemovableHandle(hooks, hook)

    def retain_grad(self) -> None:
        """Keep the gradient of this non-leaf tensor in ``.grad`` after backward."""
        if not self.requires_grad:
            raise RuntimeError("can't retain_grad on a tensor that has requires_grad=False")
        if self.grad_fn is not None:
            self.grad_fn._retained = weakref.ref(self)

    @property
    def retains_grad(self) -> bool:
        """Whether ``retain_grad()`` was called on this non-leaf tensor."""
        ref = getattr(self.grad_fn, "_retained", None) if self.grad_fn is not None else None
        return ref is not None and ref() is self

    # ----------------------------------------------------------------- in place
    def _inplace(self, op, *args) -> "Tensor":
        """Apply ``op`` in place: the result is written into this tensor's memory (so every view
        of it sees the change) and, when a gradient is recorded, the graph is rewritten the way
        PyTorch's is: this tensor, or the base of the view it is, takes the new value's history.
        """
        data = self.data
        if not data.flags.writeable:
            raise RuntimeError(_unwritable_message(self))
        base = self._base
        owner = self if base is None else base
        recording = grad_mode._GradMode.enabled and (
            owner.requires_grad or self.requires_grad
            or any(isinstance(a, Tensor) and a.requires_grad for a in args)
        )
        if not recording:
            write = _WRITERS.get(op)
            if write is not None:  # straight into the memory: no temporary, no second pass
                write(self, *args)
            else:
                np.copyto(data, _conform(self, op(self, *args), op).data)
            self._version += 1
            return self
        if owner.requires_grad and owner.grad_fn is None:
            what = "a view of a leaf tensor" if base is not None else "a leaf tensor"
            raise RuntimeError(
                f"{what} that requires grad is being used in an in-place operation. Update "
                "parameters inside `with chainrule.no_grad():`, or use an out-of-place op "
                "(y = x * 2 instead of x.mul_(2))."
            )
        if base is None:
            # The op sees a private copy of the old value: its backward may need it, and the
            # memory is about to be overwritten.
            before = Tensor._make(data.copy(), self.grad_fn, self.requires_grad)
            result = _conform(self, op(before, *args), op)
            np.copyto(data, result.data)
            self._adopt(result.grad_fn)
        else:
            base_before = Tensor._make(base.data, base.grad_fn, base.requires_grad)
            view_before = _replay(base_before, self._view_steps)
            view_before = Tensor._make(view_before.data.copy(), view_before.grad_fn,
                                       view_before.requires_grad)
            new_value = _conform(self, op(view_before, *args), op)
            # CopySlices writes new_value into base's memory and stands for the whole new base.
            new_base = _copy_slices(base_before, new_value, self._view_steps)
            base._adopt(new_base.grad_fn)
        owner._rewrites += 1
        return self

    def _adopt(self, grad_fn) -> None:
        """Take ``grad_fn`` as this tensor's history after an in-place op (version bumped)."""
        old_fn = self.grad_fn
        self.grad_fn = grad_fn
        self.requires_grad = True
        self._version += 1
        if old_fn is not None and old_fn._retained is not None and old_fn._retained() is self:
            grad_fn._retained, old_fn._retained = old_fn._retained, None
        if type(grad_fn).saves_output:
            grad_fn._output_ref = weakref.ref(self)
            grad_fn._output_vc = _counter(self)
            grad_fn._output_version = self._version

    def add_(self, other, alpha=1) -> "Tensor":
        """In place ``self += alpha * other``."""
        if alpha != 1:
            other = _ew.mul(other, alpha) if isinstance(other, Tensor) else other * alpha
        return self._inplace(_ew.add, other)

    def sub_(self, other, alpha=1) -> "Tensor":
        """In place ``self -= alpha * other``."""
        if alpha != 1:
            other = _ew.mul(other, alpha) if isinstance(other, Tensor) else other * alpha
        return self._inplace(_ew.sub, other)

    def mul_(self, other) -> "Tensor":
        """In place ``self *= other``."""
        return self._inplace(_ew.mul, other)

    def div_(self, other) -> "Tensor":
        """In place ``self /= other``."""
        return self._inplace(_ew.div, other)

    def zero_(self) -> "Tensor":
        """Fill with zeros in place."""
        return self._inplace(_select.fill, 0)

    def fill_(self, value) -> "Tensor":
        """Fill with ``value`` in place."""
        return self._inplace(_select.fill, value)

    def copy_(self, source) -> "Tensor":
        """Copy ``source`` (broadcast to this shape) into this tensor in place."""
        return self._inplace(_select.copy_from, source)

    def clamp_(self, min=None, max=None) -> "Tensor":
        """Clip values to [min, max] in place."""
        return self._inplace(_select.clip, min, max)

    __iadd__ = add_
    __isub__ = sub_
    __imul__ = mul_
    __itruediv__ = div_

    def __setitem__(self, index, value) -> None:
        self._inplace(_indexing.index_put, index, value)

    # ----------------------------------------------------------------- operators
    def __add__(self, other): return _ew.add(self, other)
    def __radd__(self, other): return _ew.add(other, self)
    def __sub__(self, other): return _ew.sub(self, other)
    def __rsub__(self, other): return _ew.sub(other, self)
    def __mul__(self, other): return _ew.mul(self, other)
    def __rmul__(self, other): return _ew.mul(other, self)
    def __truediv__(self, other): return _ew.div(self, other)
    def __rtruediv__(self, other): return _ew.div(other, self)
    def __pow__(self, other): return _pw.pow(self, other)
    def __rpow__(self, other): return _pw.pow(other, self)
    def __matmul__(self, other): return _linalg.matmul(self, other)
    def __rmatmul__(self, other): return _linalg.matmul(other, self)
    def __neg__(self): return _ew.neg(self)
    def __pos__(self): return self
    def __abs__(self): return _pw.abs(self)
    def __lt__(self, other): return _select.lt(self, other)
    def __le__(self, other): return _select.le(self, other)
    def __gt__(self, other): return _select.gt(self, other)
    def __ge__(self, other): return _select.ge(self, other)
    def __eq__(self, other): return _select.eq(self, other)
    def __ne__(self, other): return _select.ne(self, other)
    def __invert__(self): return _select.logical_not(self)
    def __and__(self, other): return _select.logical_and(self, other)
    def __or__(self, other): return _select.logical_or(self, other)
    def __getitem__(self, index): return _indexing.getitem(self, index)

    # ----------------------------------------------------------------- methods
    def exp(self): return _pw.exp(self)
    def log(self): return _pw.log(self)
    def sqrt(self): return _pw.sqrt(self)
    def abs(self): return _pw.abs(self)
    def sin(self): return _pw.sin(self)
    def cos(self): return _pw.cos(self)
    def tanh(self): return _pw.tanh(self)
    def sigmoid(self): return _pw.sigmoid(self)
    def relu(self): return _pw.relu(self)
    def sign(self): return _select.sign(self)
    def pow(self, exponent): return _pw.pow(self, exponent)
    def clip(self, min=None, max=None): return _select.clip(self, min, max)
    clamp = clip
    def maximum(self, other): return _select.maximum(self, other)
    def minimum(self, other): return _select.minimum(self, other)
    def matmul(self, other): return _linalg.matmul(self, other)

    def sum(self, dim=None, keepdim=False, **aliases):
        return _reduce.sum(self, dim, keepdim, **aliases)
    def mean(self, dim=None, keepdim=False, **aliases):
        return _reduce.mean(self, dim, keepdim, **aliases)
    def max(self, dim=None, keepdim=False, **aliases):
        if isinstance(dim, Tensor):  # PyTorch's max(other): the elementwise maximum
            return _select.maximum(self, dim)
        return _reduce.max(self, dim, keepdim, **aliases)
    def min(self, dim=None, keepdim=False, **aliases):
        if isinstance(dim, Tensor):  # PyTorch's min(other): the elementwise minimum
            return _select.minimum(self, dim)
        return _reduce.min(self, dim, keepdim, **aliases)
    def amax(self, dim=None, keepdim=False, **aliases):
        return _reduce.amax(self, dim, keepdim, **aliases)
    def amin(self, dim=None, keepdim=False, **aliases):
        return _reduce.amin(self, dim, keepdim, **aliases)
    # PyTorch's var(dim, unbiased, keepdim): x.var(1, False) is the biased variance along dim 1.
    def var(self, dim=None, unbiased=None, keepdim=False, **kwargs):
        return _reduce.var(self, dim, unbiased, keepdim, **kwargs)
    def std(self, dim=None, unbiased=None, keepdim=False, **kwargs):
        return _reduce.std(self, dim, unbiased, keepdim, **kwargs)
    def logsumexp(self, dim=None, keepdim=False, **aliases):
        return _reduce.logsumexp(self, dim, keepdim, **aliases)
    def argmax(self, dim=None, keepdim=False, **aliases):
        return _reduce.argmax(self, dim, keepdim, **aliases)
    def argmin(self, dim=None, keepdim=False, **aliases):
        return _reduce.argmin(self, dim, keepdim, **aliases)
    def all(self, dim=None, keepdim=False): return _reduce.all(self, dim, keepdim)
    def any(self, dim=None, keepdim=False): return _reduce.any(self, dim, keepdim)
    def norm(self, p="fro", dim=None, keepdim=False): return _reduce.norm(self, p, dim, keepdim)

    def reshape(self, *shape): return _shape.reshape(self, *shape)
    def view(self, *shape): return _shape.reshape(self, *shape)
    def flatten(self, start_dim=0, end_dim=-1): return _shape.flatten(self, start_dim, end_dim)
    def transpose(self, dim0, dim1): return _shape.transpose(self, dim0, dim1)
    def t(self):
        """The transpose of a 2-D tensor (0-D and 1-D tensors are returned as they are)."""
        return _shape.transpose(self, 0, 1) if self.ndim == 2 else self
    def permute(self, *dims): return _shape.permute(self, *dims)
    def squeeze(self, dim=None): return _shape.squeeze(self, dim)
    def unsqueeze(self, dim): return _shape.unsqueeze(self, dim)
    def expand(self, *sizes): return _shape.expand(self, *sizes)
    def expand_as(self, other):
        """``self`` broadcast to ``other``'s shape, sharing memory."""
        return _shape.expand(self, other.shape)
    def repeat(self, *sizes): return _shape.repeat(self, *sizes)
    def split(self, split_size_or_sections, dim=0):
        return _shape.split(self, split_size_or_sections, dim)
    def chunk(self, chunks, dim=0): return _shape.chunk(self, chunks, dim)
    def contiguous(self):
        """The tensor itself: NumPy handles any memory layout, so no copy is needed."""
        return self


class _View(Tensor):
    """A tensor that shares the memory of ``_base`` (basic slicing, reshape, transpose, expand,
    squeeze, ...). ``_view_steps`` are the ops that remake it from the base: when an in-place op
    rewrites the base's history (through the base or any of its views), a view takes its new
    ``grad_fn`` from the base the next time it is used, as in PyTorch."""

    _view_rewrites = 0

    @property
    def grad_fn(self):
        if self._base._rewrites != self._view_rewrites:
            self._refresh()
        return self.__dict__.get("grad_fn")

    @grad_fn.setter
    def grad_fn(self, value) -> None:
        self.__dict__["grad_fn"] = value

    @property
    def requires_grad(self) -> bool:
        if self._base._rewrites != self._view_rewrites:
            self._refresh()
        return self.__dict__.get("requires_grad", False)

    @requires_grad.setter
    def requires_grad(self, value: bool) -> None:
        self.__dict__["requires_grad"] = value

    def _refresh(self) -> None:
        base = self._base
        self._view_rewrites = base._rewrites
        if base.requires_grad:
            previous = grad_mode._GradMode.enabled
            grad_mode._GradMode.enabled = True
            try:
                remade = _replay(base, self._view_steps)
            finally:
                grad_mode._GradMode.enabled = previous
            self.__dict__["grad_fn"] = remade.grad_fn
            self.__dict__["requires_grad"] = True


def _counter(tensor: Tensor) -> list:
    """The tensor's version counter, created on first use."""
    counter = tensor._vc
    if counter is None:
        counter = tensor._vc = [0]
    return counter


def _mark_view(result: Tensor, source: Tensor, step: tuple) -> None:
    """Make ``result`` a view of ``source``'s base if its array really shares their memory."""
    array = result.data
    if array.base is None or _root(array) is not _root(source.data):
        return  # the op had to copy (reshape of a non-contiguous array, advanced indexing)
    base = source if source._base is None else source._base
    result.__class__ = _View
    result._vc = _counter(source)
    result._base = base
    result._view_steps = source._view_steps + (step,)
    result._view_rewrites = base._rewrites


def _root(array: np.ndarray) -> np.ndarray:
    while isinstance(array.base, np.ndarray):
        array = array.base
    return array


def _replay(tensor: Tensor, steps: tuple) -> Tensor:
    """Apply the view ops ``steps`` to ``tensor`` again (recorded when a gradient is needed)."""
    for function, params in steps:
        tensor = function.apply(tensor, **params)
    return tensor


_INPLACE_NAMES = {"index_put": "x[index] = value", "copy_from": "copy_", "fill": "fill_",
                  "clip": "clamp_"}


def _conform(target: Tensor, result: Tensor, op) -> Tensor:
    """``result`` checked to fit ``target``'s memory, and cast to its dtype."""
    _check_fits(target, result.shape, result.dtype, op)
    return result if result.dtype == target.dtype else result.to(target.dtype)


def _check_fits(target: Tensor, shape: tuple, dtype, op) -> None:
    """An in-place op's result (of ``shape`` and ``dtype``) must keep ``target``'s shape and be
    of a dtype it can hold (float64 into float32 yes, float into int no), as in PyTorch."""
    name = _INPLACE_NAMES.get(op.__name__, op.__name__ + "_")
    if tuple(shape) != target.shape:
        raise RuntimeError(
            f"{name}: the result has shape {tuple(shape)}, but an in-place op cannot "
            f"change the shape of a tensor of shape {tuple(target.shape)}. Use the out-of-place "
            "form (x = x + y), which broadcasts to the larger shape."
        )
    if dtype != target.dtype and not np.can_cast(dtype, target.dtype, casting="same_kind"):
        raise RuntimeError(
            f"{name}: result type {dtype} can't be cast to the desired output type "
            f"{target.dtype} of this tensor. Convert the tensor first (x = x.float()) or use "
            "the out-of-place form."
        )


def _arithmetic_writer(op, ufunc, true_division: bool = False):
    """Write ``target <op> other`` into ``target``'s memory when nothing is recorded, with the
    dtype and shape rules of the recorded path (computed in the promoted dtype)."""
    def write(target: Tensor, other) -> None:
        data = target.data
        if data.dtype.kind == "f" and type(other) in (float, int):
            ufunc(data, other, out=data)  # a float tensor with a Python number keeps its dtype
            return
        dtype = _util.result_type(target, other)
        if true_division and dtype.kind != "f":
            dtype = backend.float32
        other_shape = other.shape if isinstance(other, Tensor) else np.shape(other)
        _check_fits(target, _util.broadcast_shapes(op.__name__, target.shape, other_shape),
                    dtype, op)
        ufunc(target.data, _util._as_dtype(other, dtype).data, out=target.data,
              casting="same_kind")
    return write


def _copy_writer(op):
    """Write ``source`` broadcast to ``target``'s shape, cast to its dtype (fill_, copy_)."""
    def write(target: Tensor, source) -> None:
        array = source.data if isinstance(source, Tensor) else np.asarray(source)
        _check_fits(target, _util.broadcast_shapes("copy_", target.shape, array.shape),
                    target.dtype, op)
        np.copyto(target.data, array, casting="unsafe")
    return write


def _write_index(target: Tensor, index, value) -> None:
    """``target[index] = value`` straight into the memory (value cast to target's dtype)."""
    array = value.data if isinstance(value, Tensor) else value
    try:
        target.data[_indexing._normalize_index(index)] = array
    except IndexError as error:
        raise IndexError(f"index {index!r} is invalid for a tensor of shape "
                         f"{tuple(target.shape)}: {error}") from None


def _unwritable_message(tensor: Tensor) -> str:
    array = tensor.data
    if any(stride == 0 and size > 1 for stride, size in zip(array.strides, array.shape)):
        return (
            f"unsupported operation: more than one element of the written-to tensor (shape "
            f"{tuple(tensor.shape)}) refers to a single memory location, as in an expand()ed "
            "tensor. Call .clone() on it before the in-place operation."
        )
    return (
        f"the tensor of shape {tuple(tensor.shape)} is read-only (its memory is a read-only "
        "NumPy array, or a view of an expand()ed tensor). Call .clone() on it before the "
        "in-place operation."
    )


class _Size(int):
    """An int (the element count) that, called, gives the shape as PyTorch's ``size()`` does."""

    def __new__(cls, count: int, shape: tuple):
        value = super().__new__(cls, count)
        value._shape = shape
        return value

    def __call__(self, dim: int | None = None):
        if dim is None:
            return self._shape
        return self._shape[dim]


_new_tensor = object.__new__


def _wrap(array: np.ndarray) -> Tensor:
    """A tensor around ``array`` outside the graph (the ops' fastest path)."""
    tensor = _new_tensor(Tensor)
    tensor.data = array
    return tensor


def _wrap_node(array: np.ndarray, grad_fn) -> Tensor:
    """A tensor around ``array`` produced by ``grad_fn`` in the graph."""
    tensor = _new_tensor(Tensor)
    tensor.data = array
    tensor.grad_fn = grad_fn
    tensor.requires_grad = True
    return tensor


class RemovableHandle:
    """What every ``register_*hook`` returns, of tensors and of modules: it adds ``hook`` to
    ``hooks`` (appended to a list, or stored under the handle's ``id`` in a dict) and
    ``remove()`` takes it out again; ``with handle:`` removes it on leaving the block.

    Example:
        >>> import chainrule as cr
        >>> x = cr.tensor([1.0, 2.0], requires_grad=True)
        >>> with x.register_hook(lambda grad: grad * 10):
        ...     (x * x).sum().backward()
        >>> x.grad
        tensor([20., 40.])
    """

    _next_id = 0

    def __init__(self, hooks: list | dict, hook) -> None:
        self._hooks, self._hook = hooks, hook
        self.id = RemovableHandle._next_id
        RemovableHandle._next_id += 1
        if isinstance(hooks, dict):
            hooks[self.id] = hook
        else:
            hooks.append(hook)

    def remove(self) -> None:
        """Unregister the hook (again: nothing happens)."""
        if isinstance(self._hooks, dict):
            self._hooks.pop(self.id, None)
        elif any(hook is self._hook for hook in self._hooks):
            self._hooks.remove(self._hook)

    def __enter__(self) -> "RemovableHandle":
        return self

    def __exit__(self, *exc_info) -> None:
        self.remove()


from chainrule.autograd import grad_mode  # noqa: E402  (autograd imports this module)
from chainrule.autograd import engine as _engine  # noqa: E402
from chainrule.ops import elementwise as _ew  # noqa: E402
from chainrule.ops import pointwise as _pw  # noqa: E402
from chainrule.ops import indexing as _indexing  # noqa: E402
from chainrule.ops import linalg as _linalg  # noqa: E402
from chainrule.ops import reduce as _reduce  # noqa: E402
from chainrule.ops import select as _select  # noqa: E402
from chainrule.ops import shape as _shape  # noqa: E402

from chainrule.ops import _util  # noqa: E402

_copy_slices = _indexing.copy_slices
# In-place ops whose value can be written into the memory directly when nothing is recorded.
_WRITERS = {
    _ew.add: _arithmetic_writer(_ew.add, np.add),
    _ew.sub: _arithmetic_writer(_ew.sub, np.subtract),
    _ew.mul: _arithmetic_writer(_ew.mul, np.multiply),
    _ew.div: _arithmetic_writer(_ew.div, np.true_divide, true_division=True),
    _select.fill: _copy_writer(_select.fill),
    _select.copy_from: _copy_writer(_select.copy_from),
    _indexing.index_put: _write_index,
}


def _share_docstrings() -> None:
    """Each one-line delegating method shows the docstring of the op it calls (``help(t.exp)``)."""
    sources = {
        **{name: getattr(_pw, name) for name in ("exp", "log", "sqrt", "abs", "sin", "cos",
                                                  "tanh", "sigmoid", "relu", "pow")},
        **{name: getattr(_select, name) for name in ("sign", "clip", "maximum", "minimum")},
        "clamp": _select.clip, "matmul": _linalg.matmul,
        **{name: getattr(_reduce, name) for name in ("sum", "mean", "max", "min", "amax",
                                                      "amin", "var", "std", "logsumexp",
                                                      "argmax", "argmin", "all", "any",
                                                      "norm")},
        **{name: getattr(_shape, name) for name in ("reshape", "view", "flatten", "transpose",
                                                     "permute", "squeeze", "unsqueeze",
                                                     "expand", "repeat", "split", "chunk")},
    }
    for name, op in sources.items():
        method = getattr(Tensor, name)
        if method.__doc__ is None:
            method.__doc__ = op.__doc__


_share_docstrings()
