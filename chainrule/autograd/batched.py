"""Many vector-Jacobian products through one graph in one pass: ``batched_grad``.

``grad(outputs, inputs, v)`` walks the graph backward once for one vector ``v``. A Hessian, a
Jacobian or a Gauss–Newton matrix needs the same walk for many vectors (one per parameter, or
per output), and walking the graph once per vector pays Python's cost per node every time.
``batched_grad`` walks it once for ``k`` vectors stacked along a new leading axis: each node
receives its gradients as one array of shape ``(k, *output.shape)`` and returns
``(k, *input.shape)`` for each input, so NumPy does the k products in one call per node.

A node does that with its op's ``backward_batched(grads)`` (see ``Function``). An op without
one is run once per vector by its ordinary backward, which is exact, only slower, so every
graph works and the ops on the hot paths (linear layers, elementwise math, activations,
softmax, sums, views) carry the batched rule. ``tests/autograd/test_batched.py`` checks every
op's rule against the per-vector backward.

Nothing is recorded (no graph of these gradients) and the graph is kept, so it can be walked
again. Example — the Hessian of ``x³`` summed, one batched pass over the identity:

    >>> import numpy as np, chainrule as cr
    >>> x = cr.tensor([1.0, 2.0], dtype=cr.float64, requires_grad=True)
    >>> (g,) = cr.grad((x ** 3).sum(), x, create_graph=True)
    >>> (h,) = batched_grad([g], [x], [np.eye(2)])
    >>> h
    array([[ 6.,  0.],
           [ 0., 12.]])
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from chainrule.autograd import grad_mode
from chainrule.autograd.engine import _topological_order
from chainrule.autograd.function import Function
from chainrule.tensor import Tensor, _wrap

__all__ = ["batched_grad", "chunked_grad", "auto_chunk", "hessian_matrix"]

#: the most elements one batched array should hold (float64: 8 MiB, so that a chunk's arrays
#: stay near the CPU's caches) when the chunk is chosen from the graph's largest array
CHUNK_ELEMENTS = 1 << 20


def batched_grad(outputs: Sequence[Tensor], inputs: Sequence[Tensor],
                 grad_outputs: Sequence[np.ndarray], allow_unused: bool = False
                 ) -> tuple[np.ndarray | None, ...]:
    """For each input, the k vector-Jacobian products ``vⱼᵀ·∂outputs/∂input`` stacked: an array
    of shape ``(k, *input.shape)``.

    Args:
        outputs: tensors of the graph (for a Hessian, gradients computed with
            ``create_graph=True``).
        inputs: the tensors to differentiate with respect to.
        grad_outputs: one array per output, of shape ``(k, *output.shape)``: the k vectors.
        allow_unused: give None for an input the outputs do not depend on (else an error).

    The graph is kept (walk it again with other vectors); hooks on intermediate tensors run once
    per vector, as they would in k separate backward passes.
    """
    outputs, inputs = list(outputs), list(inputs)
    if len(grad_outputs) != len(outputs):
        raise ValueError(f"got {len(grad_outputs)} grad_outputs for {len(outputs)} outputs; give "
                         "one array of shape (k, *output.shape) per output")
    count = None
    node_grads: dict = {}
    leaf_grads: dict = {}
    for position, (out, vectors) in enumerate(zip(outputs, grad_outputs)):
        vectors = np.asarray(vectors, dtype=out.data.dtype)
        if vectors.shape[1:] != out.shape or (count is not None and len(vectors) != count):
            raise ValueError(
                f"grad_outputs[{position}] has shape {vectors.shape}; expected (k, *output.shape) "
                f"= (k, {', '.join(map(str, out.shape))}) with the same k for every output")
        count = len(vectors)
        if not out.requires_grad:
            continue
        table, key = (leaf_grads, out) if out.grad_fn is None else (node_grads, out.grad_fn)
        table[key] = vectors if key not in table else table[key] + vectors
    if not count:
        return tuple(np.zeros((0,) + t.shape, dtype=t.data.dtype) for t in inputs)
    wanted = {t.grad_fn: None for t in inputs if t.grad_fn is not None}
    roots = [out.grad_fn for out in outputs if out.grad_fn is not None]
    order = _topological_order(roots)
    leading = _leading_to(order, wanted, {id(t) for t in inputs if t.grad_fn is None})
    with grad_mode.no_grad():
        for node in order:
            grads = node_grads.pop(node, None)
            if grads is None:
                continue
            if node._output_hooks:
                grads = _per_vector_hooks(node, grads)
            if node in wanted:
                wanted[node] = grads
            if node not in leading:  # nothing wanted lies behind it
                continue
            node._check_saved()
            input_grads = _node_backward(node, grads)
            for position, (edge, input_grad) in enumerate(zip(node.next, input_grads)):
                if edge is None or input_grad is None:
                    continue
                _check(node, position, input_grad, count)
                table = node_grads if isinstance(edge, Function) else leaf_grads
                previous = table.get(edge)
                table[edge] = input_grad if previous is None else previous + input_grad
    results = []
    for position, tensor in enumerate(inputs):
        found = wanted.get(tensor.grad_fn) if tensor.grad_fn is not None else leaf_grads.get(tensor)
        if found is None and not allow_unused:
            raise RuntimeError(
                f"input {position} (shape {tuple(tensor.shape)}) was not used to compute the "
                "outputs, so it has no gradient. Pass allow_unused=True to get None for it.")
        results.append(None if found is None else np.asarray(found, dtype=tensor.data.dtype))
    return tuple(results)


def _leading_to(order: list[Function], wanted: dict, leaves: set[int]) -> set:
    """The nodes of ``order`` whose backward leads to a wanted node or leaf (the rest of the
    graph, e.g. the network behind a loss's input, is not walked)."""
    leading: set = set()
    for node in reversed(order):  # every node after the nodes it feeds
        for edge in node.next:
            if edge is None:
                continue
            if isinstance(edge, Function):
                if edge in leading or edge in wanted:
                    leading.add(node)
                    break
            elif id(edge) in leaves:
                leading.add(node)
                break
    return leading


def _node_backward(node: Function, grads: np.ndarray) -> tuple:
    """The node's input gradients for all k vectors: its batched rule, or its backward per
    vector, stacked."""
    batched = node.backward_batched
    if batched is not None:
        result = batched(grads)
        return result if type(result) is tuple else (result,)
    columns = []
    for vector in grads:
        if node.backward_arrays is not None:
            result = node.backward_arrays(vector)
        else:
            result = node.backward(_wrap(vector))
        result = result if type(result) is tuple else (result,)
        columns.append([None if g is None else (g.data if isinstance(g, Tensor) else g)
                        for g in result])
    return tuple(None if column[0] is None else np.stack(column)
                 for column in zip(*columns))


def _per_vector_hooks(node: Function, grads: np.ndarray) -> np.ndarray:
    rows = []
    for vector in grads:
        grad = _wrap(vector)
        for hook in node._output_hooks:
            replacement = hook(grad)
            if replacement is not None:
                grad = replacement
        rows.append(grad.data)
    return np.stack(rows)


def _check(node: Function, position: int, grad: np.ndarray, count: int) -> None:
    expected = node.inputs[position].data
    if grad.shape != (count,) + expected.shape or grad.dtype != expected.dtype:
        raise RuntimeError(
            f"{node.name()} returned batched gradients of shape {grad.shape} and dtype "
            f"{grad.dtype} for its input {position}, which has shape {expected.shape} and dtype "
            f"{expected.dtype}; expected ({count}, {', '.join(map(str, expected.shape))}). This is "
            f"a bug in {type(node).__name__}.backward_batched.")


def auto_chunk(outputs: Sequence[Tensor], total: int) -> int:
    """How many vectors to stack at once so that no batched array exceeds ``CHUNK_ELEMENTS``:
    read from the largest array the graph of ``outputs`` holds."""
    largest = max([t.data.size for t in outputs] + [
        t.data.size for node in _topological_order(
            [t.grad_fn for t in outputs if t.grad_fn is not None])
        for t in (node.inputs if node.inputs is not None else ())], default=1)
    return int(max(1, min(total, CHUNK_ELEMENTS // max(largest, 1))))


def chunked_grad(outputs: Sequence[Tensor], inputs: Sequence[Tensor],
                 grad_outputs: Sequence[np.ndarray], chunk_size: int | None = None,
                 allow_unused: bool = False) -> tuple[np.ndarray | None, ...]:
    """``batched_grad`` over the k vectors in chunks of ``chunk_size`` (None: ``auto_chunk``),
    concatenated: the same result with bounded memory."""
    total = len(grad_outputs[0]) if grad_outputs else 0
    if chunk_size is None:
        chunk_size = auto_chunk(outputs, total)
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be a positive integer, got {chunk_size}")
    if total == 0:
        return batched_grad(outputs, inputs, grad_outputs, allow_unused=allow_unused)
    pieces = [batched_grad(outputs, inputs, [v[start:start + chunk_size] for v in grad_outputs],
                           allow_unused=allow_unused)
              for start in range(0, total, chunk_size)]
    # an input unused in one chunk is unused in all (the graph is the same)
    return tuple(None if parts[0] is None else np.concatenate(parts) for parts in zip(*pieces))


def hessian_matrix(grads: Sequence[Tensor | None], params: Sequence[Tensor],
                   chunk_size: int | None = None) -> np.ndarray:
    """The Hessian of a scalar loss with respect to ``params`` (flattened and laid end to end),
    from its gradients ``grads`` computed with ``create_graph=True``: an (n, n) float64 array.

    Built block row by block row: the rows of parameter p are the batched products of p's
    gradient with the unit vectors of p, in chunks (``chunked_grad``), so each pass starts only
    from that gradient's part of the graph. A gradient that is None or constant gives zero
    rows. The result is symmetrized (½(H + Hᵀ)) against rounding.
    """
    sizes = [p.data.size for p in params]
    total = sum(sizes)
    hessian = np.zeros((total, total), dtype=np.float64)
    start = 0
    for g, size, p in zip(grads, sizes, params):
        if g is not None and g.requires_grad:
            unit = np.eye(size, dtype=g.data.dtype).reshape((size,) + g.shape)
            parts = chunked_grad([g], params, [unit], chunk_size=chunk_size, allow_unused=True)
            column = 0
            for part, width in zip(parts, sizes):
                if part is not None:
                    hessian[start:start + size, column:column + width] = part.reshape(size, width)
                column += width
        start += size
    hessian += hessian.T
    hessian *= 0.5
    return hessian
