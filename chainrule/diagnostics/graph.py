"""Draw the computational graph that produced a tensor: PNG, SVG or PDF drawn by chainrule itself
(a layered layout and matplotlib; no system program needed), Graphviz DOT text, or an image
rendered by Graphviz's ``dot`` when it is installed and asked for.

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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

import numpy as np

from chainrule.diagnostics.graph_render import figure_bytes, render_graph
from chainrule.tensor import Tensor

__all__ = ["draw_graph", "to_dot", "build_graph", "keep_grads", "GraphDrawing", "GraphNode",
           "GraphvizNotFoundWarning"]

_FORMATS = {"png", "svg", "pdf"}
_COLORS = {"param": "#c7e9c0", "input": "#e0e0e0", "output": "#fdd0a2", "tensor": "#ffffff",
           "op": "#c6dbef"}


class GraphvizNotFoundWarning(UserWarning):
    """``draw_graph(engine='graphviz')`` found no ``dot`` program and drew with matplotlib."""


@dataclass
class GraphDrawing:
    """What ``draw_graph`` returns: the DOT ``source``, the ``.dot`` file and the image written
    (None when no path was given), the graph's ``nodes`` and ``edges``, and the ``engine`` that
    drew it. In Jupyter it shows itself (``_repr_svg_``, ``_repr_png_``)."""

    source: str
    dot_path: Path | None
    image_path: Path | None
    nodes: dict = field(default_factory=dict, repr=False)
    edges: list = field(default_factory=list, repr=False)
    engine: str = "matplotlib"
    _cache: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def rendered(self) -> bool:
        return self.image_path is not None

    def __str__(self) -> str:
        return self.source

    def figure(self):
        """The drawing as a matplotlib ``Figure`` (chainrule's own layered layout)."""
        return render_graph(self.nodes, self.edges, _COLORS)

    def to_bytes(self, fmt: str = "png") -> bytes:
        """The image as PNG, SVG or PDF bytes (drawn once per format, then kept)."""
        if fmt not in self._cache:
            image = self.image_path
            if image is not None and image.suffix.lower() == f".{fmt}" and image.exists():
                self._cache[fmt] = image.read_bytes()
            else:
                self._cache[fmt] = figure_bytes(self.figure(), fmt)
        return self._cache[fmt]

    def _repr_svg_(self) -> str:
        return self.to_bytes("svg").decode("utf-8")

    def _repr_png_(self) -> bytes:
        return self.to_bytes("png")


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


@dataclass
class GraphNode:
    """One box of the drawing: ``kind`` is 'param' (a leaf that requires grad), 'input' (a
    constant), 'output', 'tensor' (made by an op) or 'op'; ``lines`` is its label."""

    id: str
    kind: str
    lines: list[str]


class _Builder:
    def __init__(self, names: dict, show_values: bool, show_grads: bool):
        self.names = names
        self.show_values = show_values
        self.show_grads = show_grads
        self.nodes: dict[str, GraphNode] = {}
        self.edges: list[tuple[str, str]] = []
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
        self.nodes[node] = GraphNode(node, kind, [line for line in lines if line])
        return node

    def op_node(self, fn) -> tuple[str, bool]:
        node, new = self.node_id(("op", id(fn)))
        if new:
            self.nodes[node] = GraphNode(node, "op", [type(fn).__name__.lstrip("_")])
        return node, new

    def edge(self, source: str, target: str) -> None:
        self.edges.append((source, target))


def _dot_text(nodes: Mapping[str, GraphNode], edges: list[tuple[str, str]]) -> str:
    lines = ["digraph chainrule {", "  rankdir=TB;", '  node [fontname="Helvetica", fontsize=10];',
             '  edge [color="#555555"];']
    for node in nodes.values():
        label = _escape("\n".join(node.lines))
        if node.kind == "op":
            lines.append(f'  {node.id} [label="{label}", shape=ellipse, style=filled, '
                         f'fillcolor="{_COLORS["op"]}"];')
        else:
            style = "filled,bold" if node.kind == "output" else "filled"
            lines.append(f'  {node.id} [label="{label}", shape=box, style="{style}", '
                         f'fillcolor="{_COLORS[node.kind]}"];')
    lines += [f"  {source} -> {target};" for source, target in edges]
    return "\n".join(lines + ["}"]) + "\n"


def to_dot(tensor, params: Mapping | None = None, show_values: bool = False,
           show_grads: bool = False, show_constants: bool = True, max_nodes: int = 400) -> str:
    """The Graphviz DOT text of the graph that produced ``tensor`` (see ``draw_graph``)."""
    return _dot_text(*build_graph(tensor, params, show_values, show_grads, show_constants,
                                  max_nodes, stacklevel=4))


def build_graph(tensor, params: Mapping | None = None, show_values: bool = False,
                show_grads: bool = False, show_constants: bool = True, max_nodes: int = 400,
                stacklevel: int = 3) -> tuple[dict[str, GraphNode], list[tuple[str, str]]]:
    """The nodes (id → ``GraphNode``) and edges (source id, target id; the way the forward pass
    ran) of the graph that produced ``tensor``; the arguments are ``draw_graph``'s."""
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
                          "the drawing stops there (pass a larger max_nodes)",
                          stacklevel=stacklevel)
    if released and (show_values or show_grads):
        warnings.warn("draw_graph: backward already freed parts of this graph, so some values "
                      "are missing; call backward(retain_graph=True) before drawing values and "
                      "gradients", stacklevel=stacklevel)
    return builder.nodes, builder.edges


# ---------------------------------------------------------------------------- files
def _missing_dot_message() -> str:
    return ("draw_graph(engine='graphviz'): Graphviz's `dot` program is not installed, so the "
            "graph is drawn with matplotlib instead. For Graphviz's layout install it (Debian/"
            "Ubuntu: `sudo apt-get install graphviz`; macOS: `brew install graphviz`; conda: "
            "`conda install graphviz`; others: https://graphviz.org/download/).")


def draw_graph(tensor, path: str | Path | None = None, show_values: bool = False,
               show_grads: bool = False, params: Mapping | None = None,
               show_constants: bool = True, max_nodes: int = 400,
               engine: str = "matplotlib") -> GraphDrawing:
    """Draw the computational graph that produced ``tensor``, with no system program needed.

    Boxes are tensors, pills are ops, arrows run the way the forward pass ran; parameters
    (leaves that require grad) are green, constants grey, the output orange. The layout is
    chainrule's own layered (Sugiyama-style) one drawn with matplotlib; graphs of more than 120
    nodes are drawn compact (each op merged with the tensor it made). ``engine='graphviz'``
    renders with Graphviz's ``dot`` instead, when it is installed (otherwise it warns,
    ``GraphvizNotFoundWarning``, and draws with matplotlib).

    Args:
        tensor: the result to explain (e.g. the loss).
        path: ``graph.png``, ``graph.svg``, ``graph.pdf`` or ``graph.dot``; the DOT text is
            written beside it (``graph.dot``). None: write nothing, display the result in
            Jupyter or save it later (``to_bytes``).
        show_values: print each tensor's value (small tensors in full, others as mean/std).
        show_grads: print each tensor's ``.grad``; for the tensors inside the graph run the
            backward inside ``with keep_grads(tensor):`` and with ``retain_graph=True``.
        params: name → tensor labels, e.g. ``dict(model.named_parameters())``; any tensor of
            the graph (inputs, intermediates) may be named too.
        show_constants: draw inputs that do not require grad (data, constants).
        max_nodes: stop the walk beyond this many nodes (with a warning).
        engine: ``'matplotlib'`` (default) or ``'graphviz'``.

    Returns:
        ``GraphDrawing(source, dot_path, image_path, nodes, edges, engine)``.

    Example:
        >>> import chainrule as cr
        >>> x = cr.tensor([1.0, 2.0], requires_grad=True)
        >>> drawing = draw_graph((x * x).sum(), params={"x": x})
        >>> drawing._repr_png_()[:4]
        b'\\x89PNG'
    """
    if engine not in ("matplotlib", "graphviz"):
        raise ValueError(f"draw_graph: engine should be 'matplotlib' or 'graphviz', got "
                         f"{engine!r}")
    path = None if path is None else Path(path)
    extension = path.suffix.lower().lstrip(".") if path is not None else ""
    if path is not None and extension not in _FORMATS | {"dot", "gv"}:
        raise ValueError(f"draw_graph: unsupported file type '{path.suffix}' in {path}; use .png, "
                         ".svg, .pdf or .dot")
    nodes, edges = build_graph(tensor, params, show_values, show_grads, show_constants,
                               max_nodes)
    source = _dot_text(nodes, edges)
    if engine == "graphviz" and shutil.which("dot") is None:
        warnings.warn(_missing_dot_message(), GraphvizNotFoundWarning, stacklevel=2)
        engine = "matplotlib"
    drawing = GraphDrawing(source, None, None, nodes, edges, engine)
    if path is None:
        return drawing
    drawing.dot_path = path if extension in ("dot", "gv") else path.with_suffix(".dot")
    drawing.dot_path.parent.mkdir(parents=True, exist_ok=True)
    drawing.dot_path.write_text(source, encoding="utf-8")
    if extension in ("dot", "gv"):
        return drawing
    if engine == "graphviz":
        result = subprocess.run([shutil.which("dot"), f"-T{extension}", str(drawing.dot_path),
                                 "-o", str(path)], capture_output=True, text=True, timeout=120)
        if result.returncode != 0:
            raise RuntimeError(f"Graphviz failed to render {drawing.dot_path} (exit "
                               f"{result.returncode}): {result.stderr.strip()}")
    else:
        path.write_bytes(drawing.to_bytes(extension))
    drawing.image_path = path
    return drawing
