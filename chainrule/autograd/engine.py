"""The backward engine: iterative topological order, then each node's backward once.

Gradients flowing into a node from all its consumers are summed before its backward runs, so a
shared sub-expression gets its gradient once. The order is an explicit-stack depth-first search
(no recursion, so a chain of 100,000 ops is fine) over each node's inputs in order, so it is the
same on every run.

A node's ``backward`` works on Tensors, so with ``create_graph=True`` the backward is itself
recorded. Without it, an op that defines ``backward_arrays`` gets the gradient as an array and
returns arrays, which skips the dispatch of the ops its Tensor backward would call; either way
every returned gradient is checked against its input's shape and dtype.
"""

from __future__ import annotations

import contextlib
from typing import Sequence

import numpy as np

from chainrule.autograd import anomaly, grad_mode
from chainrule.autograd.function import Function
from chainrule.tensor import Tensor, _wrap


def _topological_order(roots: Sequence[Function]) -> list[Function]:
    """Nodes reachable from ``roots``, each after every node that consumes it."""
    post_order: list[Function] = []
    seen: set[int] = set()
    for root in roots:
        if id(root) in seen:
            continue
        seen.add(id(root))
        stack = [(root, iter(root.next))]
        while stack:
            node, edges = stack[-1]
            for edge in edges:
                if isinstance(edge, Function) and id(edge) not in seen:
                    seen.add(id(edge))
                    stack.append((edge, iter(edge.next)))
                    break
            else:
                stack.pop()
                post_order.append(node)
    post_order.reverse()
    return post_order


def run_backward(outputs, grad_outputs, retain_graph: bool, create_graph: bool,
                 inputs=None, allow_unused: bool = False):
    """Backpropagate from ``outputs``.

    With ``inputs=None`` gradients are accumulated into the ``.grad`` of leaves (``backward``);
    otherwise the gradients of ``inputs`` are returned and no ``.grad`` is touched (``grad``).
    """
    node_grads: dict = {}  # node -> summed gradient of its output
    leaf_grads: dict = {}  # leaf tensor -> summed gradient
    roots = []
    for position, (out, grad) in enumerate(zip(outputs, grad_outputs)):
        if not out.requires_grad:
            raise RuntimeError(
                f"element {position} of the outputs does not require grad and has no grad_fn: "
                "nothing in its computation requires a gradient. Create the inputs with "
                "requires_grad=True (or call .requires_grad_()), and do not compute under no_grad."
            )
        table, key = (leaf_grads, out) if out.grad_fn is None else (node_grads, out.grad_fn)
        table[key] = grad if key not in table else table[key] + grad
        if out.grad_fn is not None:
            roots.append(out.grad_fn)

    wanted_nodes = None
    if inputs is not None:
        wanted_nodes = {t.grad_fn: None for t in inputs if t.grad_fn is not None}

    order = _topological_order(roots)
    previous_mode = grad_mode._GradMode.enabled
    grad_mode._GradMode.enabled = create_graph
    try:
        if create_graph:
            _walk_tensors(order, node_grads, leaf_grads, wanted_nodes, retain_graph)
        else:
            leaf_grads = {leaf: grad.data for leaf, grad in leaf_grads.items()}
            _walk_arrays(order, {node: grad.data for node, grad in node_grads.items()},
                         leaf_grads, wanted_nodes, retain_graph)
            leaf_grads = {leaf: _wrap(grad) for leaf, grad in leaf_grads.items()}
    finally:
        grad_mode._GradMode.enabled = previous_mode

    if inputs is not None:
        results = []
        for position, tensor in enumerate(inputs):
            if tensor.grad_fn is not None:
                grad = wanted_nodes.get(tensor.grad_fn)
            else:
                grad = leaf_grads.get(tensor)
                if grad is not None and tensor._hooks:
                    grad = _run_leaf_hooks(tensor, grad)
            if grad is None and not allow_unused:
                raise RuntimeError(
                    f"input {position} (shape {tuple(tensor.shape)}) was not used to compute the "
                    "outputs, so it has no gradient. Pass allow_unused=True to get None for it."
                )
            if grad is not None and not create_graph:
                grad = grad.detach()
            results.append(grad)
        return tuple(results)

    owned: set[int] = {id(_root_base(g.data)) for g in grad_outputs}
    for tensor, grad in leaf_grads.items():
        if tensor._hooks:
            grad = _run_leaf_hooks(tensor, grad)
        if not create_graph:
            grad = _exclusive(grad, owned)
        if tensor.grad is None:
            tensor.grad = grad
        else:
            tensor.grad = tensor.grad + grad
    return None


def _at_node(node, grad, create_graph: bool, wanted_nodes):
    """What happens to a node's summed gradient before its backward: the output's hooks (which
    may replace it), ``retain_grad``, and ``grad()``'s record of it."""
    if node._output_hooks:
        for hook in node._output_hooks:
            replacement = hook(grad)
            if replacement is not None:
                grad = replacement
    if node._retained is not None:
        tensor = node._retained()
        if tensor is not None:
            kept = grad if create_graph else grad.detach()
            tensor.grad = kept if tensor.grad is None else tensor.grad + kept
    if wanted_nodes is not None and node in wanted_nodes:
        wanted_nodes[node] = grad
    return grad


def _walk_tensors(order, node_grads: dict, leaf_grads: dict, wanted_nodes, retain_graph: bool):
    """The walk with a graph of the backward: every gradient is a Tensor and every node's
    ``backward`` runs on Tensors, so it is recorded."""
    check_anomaly = anomaly._enabled
    for node in order:
        grad = node_grads.pop(node, None)
        if grad is None:
            continue
        grad = _at_node(node, grad, True, wanted_nodes)
        node._check_saved()
        input_grads = node.backward(grad)
        if type(input_grads) is not tuple:
            input_grads = (input_grads,)
        if check_anomaly:
            anomaly.check_gradients(node, input_grads)
        for position, (edge, input_grad, tensor) in enumerate(zip(node.next, input_grads,
                                                                   node.inputs)):
            if edge is None or input_grad is None:
                continue
            _check_gradient(node, "backward", position, input_grad.data, tensor.data)
            table = node_grads if isinstance(edge, Function) else leaf_grads
            previous = table.get(edge)
            table[edge] = input_grad if previous is None else previous + input_grad
        if not retain_graph:
            node._release()


def _walk_arrays(order, node_grads: dict, leaf_grads: dict, wanted_nodes, retain_graph: bool):
    """The walk without a graph of the backward, on NumPy arrays: a node's ``backward_arrays``
    takes and returns arrays, and sums between nodes are array sums. A gradient becomes a Tensor
    only where something needs one: a hook, ``retain_grad``, ``grad()``'s record, or an op
    without ``backward_arrays`` (its Tensor ``backward`` runs unrecorded)."""
    check_anomaly = anomaly._enabled
    for node in order:
        grad = node_grads.pop(node, None)
        if grad is None:
            continue
        if node._output_hooks or node._retained is not None or (
                wanted_nodes is not None and node in wanted_nodes):
            grad = _at_node(node, _wrap(grad), False, wanted_nodes).data
        node._check_saved()
        backward_arrays = node.backward_arrays
        if backward_arrays is None:
            method = "backward"
            input_grads = node.backward(_wrap(grad))
            if type(input_grads) is not tuple:
                input_grads = (input_grads,)
            input_grads = [None if g is None else g.data for g in input_grads]
        else:
            method = "backward_arrays"
            input_grads = backward_arrays(grad)
            if type(input_grads) is not tuple:
                input_grads = (input_grads,)
        if check_anomaly:
            anomaly.check_gradients(node, [None if g is None else _wrap(g) for g in input_grads])
        for position, (edge, input_grad, tensor) in enumerate(zip(node.next, input_grads,
                                                                   node.inputs)):
            if edge is None or input_grad is None:
                continue
            expected = tensor.data
            if input_grad.shape != expected.shape or (input_grad.dtype is not expected.dtype
                                                      and input_grad.dtype != expected.dtype):
                _check_gradient(node, method, position, input_grad, expected)
            table = node_grads if isinstance(edge, Function) else leaf_grads
            previous = table.get(edge)
            table[edge] = input_grad if previous is None else previous + input_grad
        if not retain_graph:
            node._release()


def _check_gradient(node, method: str, position: int, got: np.ndarray,
                    expected: np.ndarray) -> None:
    if got.shape != expected.shape or (got.dtype is not expected.dtype
                                       and got.dtype != expected.dtype):
        raise RuntimeError(_bad_gradient_message(node, method, position, got, expected))


def _bad_gradient_message(node, method: str, position: int, grad, expected: np.ndarray) -> str:
    return (
        f"{node.name()} returned a gradient of shape {tuple(grad.shape)} and dtype {grad.dtype} "
        f"for its input {position}, which has shape {tuple(expected.shape)} and dtype "
        f"{expected.dtype}. A gradient must match its input exactly: this is a bug in "
        f"{type(node).__name__}.{method} (sum over broadcast dimensions with unbroadcast, and "
        "cast to the input's dtype)."
    )


def _run_leaf_hooks(tensor, grad):
    for hook in tensor._hooks:
        replacement = hook(grad)
        if replacement is not None:
            grad = replacement
    return grad


def _root_base(array: np.ndarray) -> np.ndarray:
    while array.base is not None and isinstance(array.base, np.ndarray):
        array = array.base
    return array


def _exclusive(grad, owned: set):
    """A detached gradient whose memory no other leaf's .grad shares, and that is writable.

    Ops hand the same array to several inputs (``a + b``) or views of it (``reshape``, broadcast
    ``expand``); a ``.grad`` must be safe to change in place (clipping, ``zero_grad``).
    """
    data = grad.data
    if data.base is None:
        root = data
    else:
        root = _root_base(data)
        if not data.flags.writeable:  # a broadcast view (expand) is read-only
            root = None
    if root is None or id(root) in owned:
        data = np.array(data, copy=True)
        root = data
    owned.add(id(root))
    return Tensor._make(data)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph: bool = False,
         allow_unused: bool = False):
    """Gradients of ``outputs`` with respect to ``inputs``, returned as a tuple.

    Unlike ``backward`` it does not touch ``.grad``. With ``create_graph=True`` the gradients are
    themselves differentiable (Hessian-vector products, Hessians, ...).

    Args:
        outputs: a Tensor or a sequence of Tensors.
        inputs: a Tensor or a sequence of Tensors that the outputs depend on.
        grad_outputs: the vector(s) in the vector-Jacobian product; required for non-scalar
            outputs, ones for scalar outputs when omitted.
        retain_graph: keep the graph for another backward; defaults to ``create_graph``.
        create_graph: record the backward computation so it can be differentiated again.
        allow_unused: return None for inputs the outputs do not depend on instead of raising.

    Example:
        >>> import chainrule as cr
        >>> x = cr.tensor(3.0, requires_grad=True)
        >>> (dx,) = cr.grad(x ** 3, x, create_graph=True)
        >>> (d2x,) = cr.grad(dx, x)
        >>> float(dx), float(d2x)
        (27.0, 18.0)
    """
    outputs = _as_tensor_tuple(outputs, "outputs")
    inputs = _as_tensor_tuple(inputs, "inputs")
    for position, tensor in enumerate(inputs):
        if not tensor.requires_grad:
            raise RuntimeError(
                f"input {position} (shape {tuple(tensor.shape)}) does not require grad; create it "
                "with requires_grad=True to differentiate with respect to it."
            )
    grad_outputs = _make_grad_outputs(outputs, grad_outputs)
    if retain_graph is None:
        retain_graph = create_graph
    return run_backward(outputs, grad_outputs, retain_graph, create_graph, inputs, allow_unused)


class _BackwardDefaults:
    """Set by ``backward_options``: forces ``create_graph`` (or only ``retain_graph``) on every
    ``backward()`` call."""

    create_graph = False
    retain_graph = False


@contextlib.contextmanager
def backward_options(create_graph: bool = True, retain_graph: bool = False):
    """Make every ``backward()`` inside the block act as ``backward(create_graph=True)``, or
    with ``create_graph=False, retain_graph=True`` as ``backward(retain_graph=True)``.

    The gradients left in ``.grad`` then carry their own graph (and the forward graph is
    retained), so code that only sees a closure calling ``loss.backward()`` can still take second
    derivatives of the loss. This is how ``chainrule.optim.Newton`` and ``NewtonCG`` obtain
    Hessians from the same closure that ``LBFGS`` takes. ``grad()`` is not affected.

    Example:
        >>> import chainrule as cr
        >>> from chainrule.autograd.engine import backward_options
        >>> x = cr.tensor(3.0, requires_grad=True)
        >>> with backward_options(create_graph=True):
        ...     (x ** 3).backward()
        >>> (d2x,) = cr.grad(x.grad, x)
        >>> float(x.grad), float(d2x)
        (27.0, 18.0)
    """
    previous = _BackwardDefaults.create_graph, _BackwardDefaults.retain_graph
    _BackwardDefaults.create_graph = bool(create_graph)
    _BackwardDefaults.retain_graph = bool(retain_graph)
    try:
        yield
    finally:
        _BackwardDefaults.create_graph, _BackwardDefaults.retain_graph = previous


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph: bool = False) -> None:
    """Accumulate into the leaves' ``.grad`` the gradients of ``tensors`` (see Tensor.backward)."""
    tensors = _as_tensor_tuple(tensors, "tensors")
    grad_tensors = _make_grad_outputs(tensors, grad_tensors)
    if _BackwardDefaults.create_graph:
        create_graph = retain_graph = True
    elif _BackwardDefaults.retain_graph:
        retain_graph = True
    if retain_graph is None:
        retain_graph = create_graph
    run_backward(tensors, grad_tensors, retain_graph, create_graph)


def _as_tensor_tuple(values, what: str) -> tuple:
    if isinstance(values, Tensor):
        return (values,)
    values = tuple(values)
    for position, value in enumerate(values):
        if not isinstance(value, Tensor):
            raise TypeError(f"{what}[{position}] should be a Tensor, got {type(value).__name__}")
    return values


def _make_grad_outputs(outputs, grad_outputs) -> tuple:
    if grad_outputs is None:
        grad_outputs = (None,) * len(outputs)
    elif isinstance(grad_outputs, Tensor):
        grad_outputs = (grad_outputs,)
    else:
        grad_outputs = tuple(grad_outputs)
    if len(grad_outputs) != len(outputs):
        raise ValueError(
            f"got {len(grad_outputs)} gradients for {len(outputs)} outputs; give one per output"
        )
    made = []
    for position, (out, grad) in enumerate(zip(outputs, grad_outputs)):
        if grad is None:
            if out.data.size != 1:
                raise RuntimeError(
                    f"grad can be implicitly created only for scalar outputs, but output "
                    f"{position} has shape {tuple(out.shape)}. Pass a gradient of that shape "
                    "(e.g. y.backward(cr.ones_like(y))) or reduce it first (y.sum().backward())."
                )
            grad = Tensor._make(np.array(1, dtype=out.dtype).reshape(out.shape))
        else:
            if not isinstance(grad, Tensor):
                grad = Tensor(grad, dtype=out.dtype)
            if grad.shape != out.shape:
                raise RuntimeError(
                    f"gradient {position} has shape {tuple(grad.shape)} but its output has shape "
                    f"{tuple(out.shape)}; they must match."
                )
        made.append(grad)
    return tuple(made)
