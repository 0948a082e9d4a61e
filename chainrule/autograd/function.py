"""``Function``: the base of every differentiable op.

An op is a subclass with ``forward`` (on NumPy arrays) and ``backward`` (on Tensors, written with
chainrule's own differentiable ops so that gradients of gradients work) side by side, and a
lowercase wrapper under it that users call::

    class Exp(Function):
        saves_output = True

        def forward(self, x):
            return np.exp(x)

        def backward(self, grad_output):
            return grad_output * self.output

    def exp(x):
        return Exp.apply(x)

The graph is made of ``Function`` nodes. Each node keeps its input tensors (for ``backward``) and
``next``: for each input, the node that made it, the leaf tensor itself, or ``None`` when that
input needs no gradient.
"""

from __future__ import annotations

import contextlib
import traceback
import weakref

from chainrule.autograd import anomaly, grad_mode
from chainrule.tensor import _mark_view, _wrap, _wrap_node

# While ``tracing()`` runs: the list every applied op is appended to, as (node, output).
_trace = None


class Function:
    """Base class of differentiable ops: ``forward`` on arrays, ``backward`` on Tensors.

    Class attributes an op sets:
        needs_inputs: backward reads the input tensors' values, so changing one of them in place
            before backward is an error (checked with version counters).
        saves_output: backward reads the output (cheapest for exp, sigmoid, tanh, relu, sqrt);
            it is available as ``self.output`` inside backward.
        saved_is_metadata: ``self.saved`` holds only shapes and options, so the node can run
            backward again after a release (as PyTorch's view and sum nodes can).

    Inside ``forward`` an op may keep what backward needs in ``self.saved``; it is dropped when
    the graph is released. ``self.recording`` says whether a graph is being recorded at all, so
    forward can skip saving when it is not.

    ``backward_arrays(self, grad_output_array)``, optional: the same gradients as ``backward``,
    computed on NumPy arrays and returned as arrays (a tuple with one entry per input, ``None``
    for those that need no gradient, or one array for a one-input op). The engine calls it
    instead of ``backward`` only when no graph of the backward is recorded
    (``create_graph=False``), so an op can skip the dispatch of the ops its Tensor backward
    calls; it must not change ``grad_output_array``, which may be shared or a read-only view.
    ``backward`` itself does not look at the grad mode: written with chainrule ops, it is
    recorded exactly when the engine records. ``tests/autograd/test_function.py`` checks that
    the two paths agree for every op that has both.

    ``backward_batched(self, grads)``, optional: the same gradients for k vectors at once, for
    ``chainrule.autograd.batched``: ``grads`` has shape ``(k, *output.shape)`` and each returned
    array ``(k, *input.shape)`` (the leading axis is never summed). Without it, batched passes
    run the op's backward once per vector. ``tests/autograd/test_batched.py`` checks it against
    that for every op that has one.
    """

    needs_inputs = True
    saves_output = False
    saved_is_metadata = False

    saved = None
    recording = False
    backward_arrays = None  # an op's optional array backward (see the class docstring)
    backward_batched = None  # an op's optional backward for k vectors at once (likewise)
    _released = False
    _output_hooks = None
    _retained = None

    @classmethod
    def apply(cls, *inputs, **params):
        """Run the op on tensors and, when a gradient is needed, record it in the graph."""
        fn = object.__new__(cls)
        if grad_mode._GradMode.enabled:
            for tensor in inputs:
                if tensor.requires_grad:
                    return fn._record(inputs, params)
        if _trace is not None:
            return fn._traced(inputs, params)
        return _wrap(fn.forward(*[t.data for t in inputs], **params))

    def _traced(self, inputs, params):
        out = _wrap(self.forward(*[t.data for t in inputs], **params))
        self.inputs, self.params = inputs, params
        _trace.append((self, out))
        return out

    def _record(self, inputs, params):
        cls = type(self)
        self.recording = True
        out = self.forward(*[t.data for t in inputs], **params)
        self.inputs = inputs
        self.next = tuple([(t.grad_fn or t) if t.requires_grad else None for t in inputs])
        if cls.needs_inputs:
            self._versions = tuple([t._version for t in inputs])
        result = _wrap_node(out, self)
        if cls.saves_output:
            self._output_data = out
            self._output_ref = weakref.ref(result)
            result._vc = self._output_vc = [0]
            self._output_version = 0
        if anomaly._enabled:
            self._trace = traceback.extract_stack()[:-3]
        return result

    def forward(self, *arrays, **params):
        raise NotImplementedError(f"{type(self).__name__} does not define forward")

    def backward(self, grad_output):
        raise NotImplementedError(f"{type(self).__name__} does not define backward")

    def needed_inputs(self):
        """Positions of the inputs whose values backward reads (all, unless an op says less:
        ``a * b`` needs ``a`` only for ``b``'s gradient). Only these must not change in place."""
        return range(len(self.inputs))

    @property
    def needs_input_grad(self) -> tuple[bool, ...]:
        """For each input, whether backward has to compute its gradient."""
        return tuple(edge is not None for edge in self.next)

    @property
    def output(self):
        """The op's output as a Tensor in the graph (only for ops with ``saves_output``)."""
        out = self._output_ref()
        if out is None:
            out = _wrap_node(self._output_data, self)
            out._vc = self._output_vc
            self._output_ref = weakref.ref(out)
        return out

    def _check_saved(self) -> None:
        """Raise if the graph was released or a saved tensor was changed in place since."""
        name = type(self).__name__
        if self._released:
            raise RuntimeError(
                f"Trying to backward through the graph a second time: the values saved by "
                f"{name} were freed by the previous backward. Pass retain_graph=True to the first "
                "backward() (or grad()) if you need to go through the graph twice."
            )
        if type(self).needs_inputs:
            needed = self.needed_inputs()
            for position, (tensor, version) in enumerate(zip(self.inputs, self._versions)):
                if tensor._version != version and position in needed:
                    raise RuntimeError(_inplace_message(name, f"input {position}", tensor.shape,
                                                        tensor._version, version))
        if type(self).saves_output and self._output_vc[0] != self._output_version:
            raise RuntimeError(_inplace_message(name, "output", self._output_data.shape,
                                                self._output_vc[0], self._output_version))

    def _release(self) -> None:
        """Drop what backward needed, so memory is freed after a backward without retain_graph."""
        cls = type(self)
        if cls.needs_inputs or cls.saves_output or (
            self.saved is not None and not cls.saved_is_metadata
        ):
            self._released = True
            self.saved = None
            if cls.saves_output:
                self._output_data = None
            if cls.needs_inputs:
                self.inputs = ()

    def name(self) -> str:
        """The op's name as shown in errors and graph drawings (e.g. ``MulBackward``)."""
        return type(self).__name__ + "Backward"

    def __repr__(self) -> str:
        return f"<{self.name()}>"


class ViewFunction(Function):
    """An op whose output can share its input's memory: reshape, permute, expand, basic
    indexing. When it does, the output becomes a view of the input's base: the two share one
    version counter, and an in-place op through either is seen by both (and by the graph).
    """

    @classmethod
    def apply(cls, x, **params):
        result = super().apply(x, **params)
        _mark_view(result, x, (cls, params))
        return result


@contextlib.contextmanager
def tracing():
    """Record every op applied inside the block, in order, with its inputs and its forward
    params, even where nothing requires a gradient (the block runs under ``no_grad``).

    Yields the list of ``(node, output)`` pairs; each node keeps ``inputs`` (Tensors) and
    ``params`` (the keyword arguments of its ``forward``). ``chainrule.onnx`` reads it.

    Example:
        >>> import chainrule as cr
        >>> with tracing() as trace:
        ...     y = cr.ones(2) * 3.0
        >>> [type(node).__name__ for node, _ in trace]
        ['Mul']
    """
    global _trace
    previous, _trace = _trace, []
    try:
        with grad_mode.no_grad():
            yield _trace
    finally:
        _trace = previous


def _inplace_message(op_name: str, which: str, shape, version: int, expected: int) -> str:
    return (
        f"one of the tensors needed for gradient computation has been modified by an in-place "
        f"operation: the {which} of {op_name}, a tensor of shape {tuple(shape)}, is at "
        f"version {version}; expected version {expected} instead. Use an out-of-place "
        "operation (y = y * 2 instead of y.mul_(2)), or .clone() the tensor before changing it "
        "(a view or a detach()ed alias shares its memory and version with the original)."
    )
