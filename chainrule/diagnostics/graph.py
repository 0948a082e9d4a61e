"""Draw the computational graph that produced a tensor, as Graphviz DOT (and SVG/PNG/PDF when
Graphviz's ``dot`` program is installed).

Boxes are tensors (name, shape, dtype; optionally values and gradients), ellipses are the ops
that made them; arrows point the way the forward pass ran, from the inputs and parameters to the
output. The walk follows each op's ``next`` edges back from ``tensor.grad_fn``, as backward does.

Example:
    >>> import chainrule as cr
    >>> w = cr.tensor([[0.5, -1.0]], requires_grad=True)
    >>> x = cr.tensor([[1.0], [2.0]])
    >>> loss = (w @ x).sigmoid().sum()
    >>> with keep_grads(loss):
    ...     loss.backward(retain_graph=True)
    >>> drawing = draw_graph(loss, "graph.png", params={"w": w, "x": x},
    ...                      show_values=True, show_grads=True)  # doctest: +SKIP
"""

from __future__ import annotations

import shutil
import subprocess
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

import numpy as np

from chainrule.tensor import Tensor

__all__ = ["draw_graph", "to_dot", "keep_grads", "GraphDrawing", "GraphvizNotFoundWarning"]

_FORMATS = {"png", "svg", "pdf"}
_COLORS = {"param": "#c7e9c0", "input": "#e0e0e0", "output": "#fdd0a2", "tensor": "#ffffff",
           "op": "#c6dbef"}


class GraphvizNotFoundWarning(UserWarning):
    """``draw_graph`` wrote only the .dot file because the ``dot`` program is not installed."""


@dataclass
class GraphDrawing:
    """What ``draw_graph`` returns: the DOT ``source``, the ``.dot`` file written and the
    rendered image (``image_path`` is None when Graphviz is missing)."""

    source: str
    dot_path: Path
    image_path: Path | None

    @property
    def rendered(self) -> bool:
        return self.image_path is not None

    def __str__(self) -> str:
        return self.source


# ---------------------------------------------------------------------------- keep_grads
class keep_grads:
    """Keep ``.grad`` on every intermediate tensor of the graph that produced ``tensors``
    (``retain_grad`` on each), so a drawing can show the gradients inside the graph.

    Use it around the backward, with ``retain_graph=True`` so the intermediate tensors stay
    reachable for the drawing. Leaving the block stops retaining for later backward passes;
    the gradients already stored stay.

    Example:
        >>> import chainrule as cr
        >>> x = cr.tensor([1.0, 2.0], requires_grad=True)
        >>> h = x * 3.0
        >>> y = (h * h).sum()
        >>> with keep_grads(y):
        ...     y.backward(retain_graph=True)
        >>> h.grad
        tensor([ 6., 12.])
    """

    def __init__(self, *tensors):
        self.tensors = []
        self._previous = []
        for tensor in tensors:
            for producer, found in _intermediates(tensor).items():
                self._previous.append((producer, producer._retained))
                found.retain_grad()
                self.tensors.append(found)

    def __enter__(self) -> "keep_grads":
        return self

    def __exit__(self, *exc_info) -> None:
        self.release()

    def release(self) -> None:
        """Stop retaining gradients (those already stored stay in ``.grad``)."""
        for producer, previous in self._previous:
            producer._retained = previous
        self._previous = []


def _intermediates(tensor) -> dict:
    """Producer op -> the non-leaf tensor it made, for every op reachable from ``tensor``."""
    found = {}
    if tensor.grad_fn is None:
        return found
    found[tensor.grad_fn] = tensor
    stack, seen = [tensor.grad_fn], {id(tensor.grad_fn)}
    while stack:
        node = stack.pop()
        inputs = getattr(node, "inputs", ()) or ()
        for position, edge in enumerate(node.next):
            if edge is None or not hasattr(edge, "next"):
                continue
            if position < len(inputs) and edge not in found and inputs[position].grad_fn is edge:
                found[edge] = inputs[position]
            if id(edge) not in seen:
                seen.add(id(edge))
                stack.append(edge)
    return found


# ---------------------------------------------------------------------------- DOT text
def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _array_text(array: np.ndarray) -> str:
    array = np.asarray(array)
    if array.size <= 6:
        return _nested(array)
    finite = array[np.isfinite(array)] if array.dtype.kind == "f" else array
    if finite.size == 0:
        return "all non-finite"
    return f"mean {finite.mean():.3g}, std {finite.std():.3g}"


def _nested(array: np.ndarray) -> str:
    if array.ndim == 0:
        value = array.item()
        return f"{value:.4g}" if isinstance(value, float) else str(value)
    return "[" + ", ".join(_nested(item) for item in array) + "]"


class _Builder:
    def __init__(self, names: dict, show_values: bool, show_grads: bool):
        self.names = names
        self.show_values = show_values
        self.show_grads = show_grads
        self.lines: list[str] = []
        self.ids: dict = {}

    def node_id(self, key) -> tuple[str, bool]:
        if key in self.ids:
            return self.ids[key], False
        self.ids[key] = f"n{len(self.ids)}"
        return self.ids[key], True

    def tensor_node(self, key, tensor, kind: str, shape=None) -> str:
        node, new = self.node_id(key)
        if not new:
            return node
        name = self.names.get(id(tensor)) if tensor is not None else None
        if name is None and key[0] == "out":
            name = self.names.get(("fn", key[1]))
        lines = [name or {"param": "leaf", "input": "constant", "output": "output",
                          "tensor": ""}[kind]]
        if tensor is not None:
            shape = tuple(tensor.shape)
        shape_text = "scalar" if shape == () else ("?" if shape is None else
                                                   "×".join(map(str, shape)))
        lines.append(f"{shape_text} {tensor.dtype}" if tensor is not None else shape_text)
        if self.show_values and tensor is not None:
            lines.append("value " + _array_text(tensor.data))
        if self.show_grads and tensor is not None and tensor.requires_grad:
            grad = tensor.grad
            lines.append("grad " + ("not kept (use keep_grads)" if grad is None
                                    else _array_text(grad.data)))
        label = "\n".join(line for line in lines if line)
        style = "filled,bold" if kind == "output" else "filled"
        self.lines.append(f'  {node} [label="{_escape(label)}", shape=box, style="{style}", '
                          f'fillcolor="{_COLORS[kind]}"];')
        return node

    def op_node(self, fn) -> tuple[str, bool]:
        node, new = self.node_id(("op", id(fn)))
        if new:
            label = type(fn).__name__.lstrip("_")
            self.lines.append(f'  {node} [label="{_escape(label)}", shape=ellipse, '
                              f'style=filled, fillcolor="{_COLORS["op"]}"];')
        return node, new

    def edge(self, source: str, target: str) -> None:
        self.lines.append(f"  {source} -> {target};")


def to_dot(tensor, params: Mapping | None = None, show_values: bool = False,
           show_grads: bool = False, show_constants: bool = True, max_nodes: int = 400) -> str:
    """The Graphviz DOT text of the graph that produced ``tensor`` (see ``draw_graph``)."""
    if not isinstance(tensor, Tensor):
        raise TypeError(f"draw_graph expects a chainrule Tensor, got {type(tensor).__name__}")
    names = {}
    for name, value in (params or {}).items():
        if not isinstance(value, Tensor):
            raise TypeError(f"params['{name}'] should be a Tensor, got {type(value).__name__}; "
                            "pass params=dict(model.named_parameters())")
        names[id(value)] = name
        if value.grad_fn is not None:
            names[("fn", id(value.grad_fn))] = name
    builder = _Builder(names, show_values, show_grads)
    released = False
    if tensor.grad_fn is None:
        builder.tensor_node(("leaf", id(tensor)), tensor, "param" if tensor.requires_grad
                            else "input")
    else:
        root_fn = tensor.grad_fn
        out = builder.tensor_node(("out", id(root_fn)), tensor, "output")
        op, _ = builder.op_node(root_fn)
        builder.edge(op, out)
        known = _intermediates(tensor)
        stack = [root_fn]
        truncated = False
        while stack:
            fn = stack.pop()
            op, _ = builder.op_node(fn)
            released = released or fn._released
            inputs = getattr(fn, "inputs", ()) or ()
            for position, edge in enumerate(fn.next):
                given = inputs[position] if position < len(inputs) else None
                if edge is None:
                    if show_constants and given is not None:
                        kind = "input"
                        source = builder.tensor_node(("const", id(given)), given, kind)
                        builder.edge(source, op)
                    continue
                if isinstance(edge, Tensor):
                    source = builder.tensor_node(("leaf", id(edge)), edge, "param")
                    builder.edge(source, op)
                    continue
                held = known.get(edge)
                if held is None and edge._retained is not None:
                    held = edge._retained()
                is_new = ("op", id(edge)) not in builder.ids
                if is_new and len(builder.ids) >= max_nodes:
                    truncated = True
                    continue
                source = builder.tensor_node(("out", id(edge)), held, "tensor")
                producer, new = builder.op_node(edge)
                if new:
                    builder.edge(producer, source)
                    stack.append(edge)
                builder.edge(source, op)
        if truncated:
            warnings.warn(f"draw_graph: the graph has more than max_nodes={max_nodes} nodes; "
                          "the drawing stops there (pass a larger max_nodes)", stacklevel=3)
    if released and (show_values or show_grads):
        warnings.warn("draw_graph: backward already freed parts of this graph, so some values "
                      "are missing; call backward(retain_graph=True) before drawing values and "
                      "gradients", stacklevel=3)
    header = ["digraph chainrule {", "  rankdir=TB;",
              '  node [fontname="Helvetica", fontsize=10];', '  edge [color="#555555"];']
    return "\n".join(header + builder.lines + ["}"]) + "\n"


# ---------------------------------------------------------------------------- files
def _missing_dot_message(dot_path: Path, wanted: Path) -> str:
    image = wanted if wanted.suffix.lower() != ".dot" else dot_path.with_suffix(".png")
    fmt = image.suffix.lstrip(".").lower() or "png"
    return (
        f"Graphviz's `dot` program is not installed, so only the DOT text was written to "
        f"{dot_path}. Install Graphviz (Debian/Ubuntu: `sudo apt-get install graphviz`; macOS: "
        f"`brew install graphviz`; conda: `conda install graphviz`; others: "
        f"https://graphviz.org/download/) and render it with:\n"
        f"    dot -T{fmt} {dot_path} -o {image}"
    )


def draw_graph(tensor, path: str | Path, show_values: bool = False, show_grads: bool = False,
               params: Mapping | None = None, show_constants: bool = True,
               max_nodes: int = 400) -> GraphDrawing:
    """Draw the computational graph that produced ``tensor``.

    Writes ``path.with_suffix('.dot')`` always and, when ``path`` ends in .png, .svg or .pdf and
    Graphviz's ``dot`` is installed, the image too. Without ``dot`` it warns
    (``GraphvizNotFoundWarning``) with the command that renders the .dot file
    (``dot -Tpng file.dot -o file.png``) and how to install Graphviz.

    Args:
        tensor: the result to explain (e.g. the loss).
        path: ``graph.png``, ``graph.svg``, ``graph.pdf`` or ``graph.dot``.
        show_values: print each tensor's value (small tensors in full, others as mean/std).
        show_grads: print each tensor's ``.grad``; for the tensors inside the graph run the
            backward inside ``with keep_grads(tensor):`` and with ``retain_graph=True``.
        params: name → tensor labels, e.g. ``dict(model.named_parameters())``; any tensor of
            the graph (inputs, intermediates) may be named too.
        show_constants: draw inputs that do not require grad (data, constants).
        max_nodes: stop the walk beyond this many nodes (with a warning).

    Returns:
        ``GraphDrawing(source, dot_path, image_path)``.

    Example:
        >>> import chainrule as cr
        >>> x = cr.tensor([1.0, 2.0], requires_grad=True)
        >>> drawing = draw_graph((x * x).sum(), "square.svg", params={"x": x})  # doctest: +SKIP
    """
    path = Path(path)
    extension = path.suffix.lower().lstrip(".")
    if extension not in _FORMATS | {"dot", "gv"}:
        raise ValueError(f"draw_graph: unsupported file type '{path.suffix}' in {path}; use .png, "
                         ".svg, .pdf or .dot")
    source = to_dot(tensor, params, show_values, show_grads, show_constants, max_nodes)
    dot_path = path if extension in ("dot", "gv") else path.with_suffix(".dot")
    dot_path.parent.mkdir(parents=True, exist_ok=True)
    dot_path.write_text(source, encoding="utf-8")
    if extension in ("dot", "gv"):
        return GraphDrawing(source, dot_path, None)
    program = shutil.which("dot")
    if program is None:
        warnings.warn(_missing_dot_message(dot_path, path), GraphvizNotFoundWarning,
                      stacklevel=2)
        return GraphDrawing(source, dot_path, None)
    result = subprocess.run([program, f"-T{extension}", str(dot_path), "-o", str(path)],
                            capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        raise RuntimeError(f"Graphviz failed to render {dot_path} (exit {result.returncode}): "
                           f"{result.stderr.strip()}")
    return GraphDrawing(source, dot_path, path)
