"""A layered (Sugiyama-style) layout of a directed acyclic graph, in pure Python, for drawing
computational graphs without Graphviz.

The four classic steps: put every node on a layer so that edges point downwards (each node as
close above its consumers as it can be, so parameters sit next to the op that uses them), add
invisible waypoints where an edge crosses layers, order each layer to reduce crossings (the
barycenter heuristic, a few sweeps down and up), then give x positions that pull each node
under its neighbours without overlaps.

Example:
    >>> layout = layered_layout([(40, 20), (40, 20), (60, 20)], [(0, 2), (1, 2)])
    >>> layout.positions[2][1] > layout.positions[0][1]  # the consumer is below
    True
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Layout", "layered_layout"]

_WAYPOINT_WIDTH = 8.0


@dataclass
class Layout:
    """Node centres (x, y; y grows downwards), one polyline per edge (from the bottom of its
    source to the top of its target, through its waypoints) and the total width and height."""

    positions: list[tuple[float, float]]
    routes: list[list[tuple[float, float]]]
    width: float
    height: float


def _topological_order(count: int, successors: list[list[int]]) -> list[int]:
    indegree = [0] * count
    for targets in successors:
        for target in targets:
            indegree[target] += 1
    ready = [node for node in range(count) if indegree[node] == 0]
    order = []
    while ready:
        node = ready.pop(0)
        order.append(node)
        for target in successors[node]:
            indegree[target] -= 1
            if indegree[target] == 0:
                ready.append(target)
    if len(order) != count:
        raise ValueError("layered_layout: the graph has a cycle; a computational graph cannot")
    return order


def _layers(count: int, successors: list[list[int]]) -> list[int]:
    """Longest path to a sink, counted from the top: every node just above its first consumer."""
    order = _topological_order(count, successors)
    to_sink = [0] * count
    for node in reversed(order):
        if successors[node]:
            to_sink[node] = 1 + max(to_sink[target] for target in successors[node])
    depth = max(to_sink, default=0)
    return [depth - steps for steps in to_sink]


def _order_layers(rows: list[list[int]], up: dict, down: dict, sweeps: int = 8) -> None:
    """Barycenter heuristic, in place: sort each layer by the mean position of its neighbours
    in the layer above (downward sweep) or below (upward sweep)."""
    for sweep in range(sweeps):
        downward = sweep % 2 == 0
        indices = range(1, len(rows)) if downward else range(len(rows) - 2, -1, -1)
        for index in indices:
            reference = rows[index - 1] if downward else rows[index + 1]
            where = {node: position for position, node in enumerate(reference)}
            neighbours = up if downward else down
            keys = {}
            for position, node in enumerate(rows[index]):
                near = [where[other] for other in neighbours.get(node, ()) if other in where]
                keys[node] = sum(near) / len(near) if near else float(position)
            rows[index].sort(key=lambda node: keys[node])


def _place_row(row: list[int], x: dict, wanted: dict, widths: dict, gap: float,
               priority: dict) -> None:
    """Move each node of a row towards ``wanted``, in place, highest ``priority`` first (the
    priority method): a node pushes lower-priority neighbours aside and stops at a node already
    placed, so the order never changes and nothing overlaps."""
    def separation(left, right):
        return (widths[row[left]] + widths[row[right]]) / 2 + gap

    placed = [False] * len(row)
    for index in sorted(range(len(row)), key=lambda i: (-priority[row[i]], i)):
        target = wanted[row[index]]
        if target < x[row[index]]:
            limit, span = float("-inf"), 0.0
            for left in range(index - 1, -1, -1):
                span += separation(left, left + 1)
                if placed[left]:
                    limit = x[row[left]] + span
                    break
            x[row[index]] = max(target, limit)
            for left in range(index - 1, -1, -1):
                if placed[left]:
                    break
                x[row[left]] = min(x[row[left]], x[row[left + 1]] - separation(left, left + 1))
        else:
            limit, span = float("inf"), 0.0
            for right in range(index + 1, len(row)):
                span += separation(right - 1, right)
                if placed[right]:
                    limit = x[row[right]] - span
                    break
            x[row[index]] = min(target, limit)
            for right in range(index + 1, len(row)):
                if placed[right]:
                    break
                x[row[right]] = max(x[row[right]], x[row[right - 1]] + separation(right - 1,
                                                                                  right))
        placed[index] = True


def layered_layout(sizes: list[tuple[float, float]], edges: list[tuple[int, int]],
                   gap_x: float = 16.0, gap_y: float = 26.0, margin: float = 8.0) -> Layout:
    """Positions for ``sizes`` (width, height of each node) and ``edges`` (source, target).

    Args:
        sizes: one (width, height) per node, in any unit (the drawing uses points).
        edges: pairs of node indices; the source is drawn above the target.
        gap_x: the space between neighbours on a layer. gap_y: between layers.
        margin: around the whole drawing.

    Returns:
        A ``Layout``.
    """
    count = len(sizes)
    successors: list[list[int]] = [[] for _ in range(count)]
    for source, target in edges:
        successors[source].append(target)
    layer = _layers(count, successors)

    # waypoints: every edge that spans k layers gets k - 1 invisible nodes
    widths = {node: float(sizes[node][0]) for node in range(count)}
    heights = {node: float(sizes[node][1]) for node in range(count)}
    layer_of = {node: layer[node] for node in range(count)}
    up: dict[int, list[int]] = {}
    down: dict[int, list[int]] = {}
    chains = []
    next_id = count
    for source, target in edges:
        chain = [source]
        for level in range(layer[source] + 1, layer[target]):
            widths[next_id], heights[next_id], layer_of[next_id] = _WAYPOINT_WIDTH, 0.0, level
            chain.append(next_id)
            next_id += 1
        chain.append(target)
        for above, below in zip(chain, chain[1:]):
            down.setdefault(above, []).append(below)
            up.setdefault(below, []).append(above)
        chains.append(chain)

    rows: list[list[int]] = [[] for _ in range(max(layer_of.values(), default=-1) + 1)]
    for node in sorted(layer_of):
        rows[layer_of[node]].append(node)
    _order_layers(rows, up, down)

    sources = {node for node in range(count) if node not in up}
    # waypoints first (long edges stay straight), then ops by their degree, leaves last
    priority = {node: 0 if node in sources else (1000 if node >= count else
                len(up.get(node, ())) + len(down.get(node, ()))) for node in layer_of}
    x: dict[int, float] = {}
    for row in rows:
        cursor = 0.0
        for node in row:
            x[node] = cursor + widths[node] / 2
            cursor += widths[node] + gap_x
    for sweep in range(8):
        downward = sweep % 2 == 0
        for row in (rows if downward else rows[::-1]):
            wanted = {}
            for node in row:
                near = (up if downward else down).get(node, [])
                if sweep >= 6:  # the last sweeps look both ways
                    near = up.get(node, []) + down.get(node, [])
                # leaves (parameters, data) follow their consumer, never pull it sideways:
                # otherwise a chain of ops drifts towards the side its parameters are on
                inner = [n for n in near if n not in sources]
                near = inner or near
                wanted[node] = sum(x[n] for n in near) / len(near) if near else x[node]
            _place_row(row, x, wanted, widths, gap_x, priority)

    left = min((x[node] - widths[node] / 2 for node in x), default=0.0)
    right = max((x[node] + widths[node] / 2 for node in x), default=0.0)
    tops, cursor = [], margin
    for row in rows:
        tops.append(cursor)
        cursor += max((heights[node] for node in row), default=0.0) + gap_y
    row_height = [max((heights[node] for node in row), default=0.0) for row in rows]

    def centre(node):
        level = layer_of[node]
        return x[node] - left + margin, tops[level] + row_height[level] / 2

    positions = [centre(node) for node in range(count)]
    routes = []
    for chain in chains:
        (sx, sy), (tx, ty) = centre(chain[0]), centre(chain[-1])
        points = [(sx, sy + heights[chain[0]] / 2)]
        points += [centre(node) for node in chain[1:-1]]
        points.append((tx, ty - heights[chain[-1]] / 2))
        routes.append(points)
    height = cursor - gap_y + margin if rows else 2 * margin
    return Layout(positions, routes, right - left + 2 * margin, height)
