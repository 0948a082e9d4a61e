"""Draw a computational graph (``graph.build_graph``'s nodes and edges) with matplotlib, laid out
by ``graph_layout.layered_layout``: the renderer ``draw_graph`` uses when Graphviz is not
asked for or not installed.

Tensors are rectangles, ops are rounded pills, colours as in the Graphviz drawing (parameters
green, constants grey, the output orange and bold, ops blue), and a key on top says so. Graphs
with more than ``compact_above`` nodes are drawn compact: each op and the tensor it made become
one node, which halves the count and keeps a few hundred nodes readable.
"""

from __future__ import annotations

import io
from typing import Mapping

from chainrule.diagnostics.graph_layout import layered_layout

__all__ = ["render_graph", "compact_graph", "figure_bytes"]

_FONT_SIZE = 8.0
_CHAR_WIDTH = 0.61 * _FONT_SIZE  # DejaVu Sans Mono's advance, in points
_LINE_HEIGHT = 1.3 * _FONT_SIZE
_PAD = 5.0
_KEY_HEIGHT = 22.0
_KEY = [("param", "parameter (leaf, requires grad)"), ("input", "constant / data"),
        ("tensor", "tensor made by an op"), ("op", "op"), ("output", "output")]


def compact_graph(nodes: Mapping, edges: list[tuple[str, str]]):
    """Merge each op with the tensor it made (one node 'Op → name shape'); other nodes stay."""
    producer = {target: source for source, target in edges
                if nodes[source].kind == "op" and nodes[target].kind in ("tensor", "output")}
    merged_into = {}
    kept = {}
    for node_id, node in nodes.items():
        if node_id in producer:
            continue
        kept[node_id] = node
    for tensor_id, op_id in producer.items():
        tensor = nodes[tensor_id]
        merged_into[tensor_id] = op_id
        op = kept[op_id]
        lines = [f"{op.lines[0]} → {tensor.lines[0]}"] + tensor.lines[1:]
        kind = "output" if tensor.kind == "output" else "op"
        kept[op_id] = type(op)(op.id, kind, lines)
    new_edges = []
    for source, target in edges:
        if target in merged_into:
            continue
        new_edges.append((merged_into.get(source, source), target))
    return kept, new_edges


def _size(lines: list[str]) -> tuple[float, float]:
    width = max(len(line) for line in lines) * _CHAR_WIDTH + 2 * _PAD + 6
    return width, len(lines) * _LINE_HEIGHT + 2 * _PAD


def render_graph(nodes: Mapping, edges: list[tuple[str, str]], colors: Mapping[str, str],
                 compact_above: int = 120, title: str = ""):
    """A matplotlib ``Figure`` of the graph (one point of the layout is one point on paper)."""
    try:
        from matplotlib.figure import Figure
        from matplotlib.patches import FancyArrowPatch, FancyBboxPatch
    except ImportError:  # pragma: no cover - depends on the environment
        raise ImportError("draw_graph's own renderer needs matplotlib: pip install matplotlib "
                          "(or install Graphviz and pass engine='graphviz')") from None
    if len(nodes) > compact_above:
        nodes, edges = compact_graph(nodes, edges)
    ids = list(nodes)
    index = {node_id: position for position, node_id in enumerate(ids)}
    sizes = [_size(nodes[node_id].lines) for node_id in ids]
    layout = layered_layout(sizes, [(index[s], index[t]) for s, t in edges])
    top = _KEY_HEIGHT + (14.0 if title else 0.0)
    width = max(layout.width, 470.0)
    height = layout.height + top
    fig = Figure(figsize=(width / 72, height / 72))
    axis = fig.add_axes((0, 0, 1, 1))
    axis.set_xlim(0, width)
    axis.set_ylim(height, 0)
    axis.set_axis_off()
    offset = (width - layout.width) / 2

    for route in layout.routes:
        points = [(x + offset, y + top) for x, y in route]
        if len(points) > 2:
            axis.plot([p[0] for p in points[:-1]], [p[1] for p in points[:-1]],
                      color="#555555", linewidth=0.8, solid_capstyle="round")
        axis.add_patch(FancyArrowPatch(points[-2], points[-1], arrowstyle="-|>",
                                       mutation_scale=7, color="#555555", linewidth=0.8,
                                       shrinkA=0, shrinkB=0))
    for node_id, (w, h), (cx, cy) in zip(ids, sizes, layout.positions):
        node = nodes[node_id]
        cx, cy = cx + offset, cy + top
        style = (f"round,pad=0,rounding_size={min(h / 2, 9.0)}" if node.kind == "op"
                 else "square,pad=0")
        axis.add_patch(FancyBboxPatch((cx - w / 2, cy - h / 2), w, h, boxstyle=style,
                                      facecolor=colors[node.kind], edgecolor="#333333",
                                      linewidth=1.6 if node.kind == "output" else 0.7))
        axis.text(cx, cy, "\n".join(node.lines), ha="center", va="center",
                  family="DejaVu Sans Mono", fontsize=_FONT_SIZE, linespacing=1.15,
                  fontweight="bold" if node.kind == "output" else "normal")
    x = 8.0
    if title:
        axis.text(x, 10, title, fontsize=9, va="center")
    for kind, label in _KEY:
        y = top - _KEY_HEIGHT / 2
        axis.add_patch(FancyBboxPatch((x, y - 5), 14, 10, boxstyle="square,pad=0",
                                      facecolor=colors[kind], edgecolor="#333333",
                                      linewidth=1.6 if kind == "output" else 0.7))
        axis.text(x + 18, y, label, fontsize=7.5, va="center")
        x += 18 + len(label) * 4.3 + 14
    return fig


def figure_bytes(fig, fmt: str = "png", max_pixels: int = 12000) -> bytes:
    """The figure as PNG/SVG/PDF bytes; PNG resolution drops for huge graphs so that neither
    side passes ``max_pixels``."""
    width, height = fig.get_size_inches()
    dpi = min(110.0, max_pixels / max(width, height, 1e-9))
    stream = io.BytesIO()
    fig.savefig(stream, format=fmt, dpi=dpi)
    return stream.getvalue()
