import re
import shutil

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.diagnostics import (
    GraphvizNotFoundWarning, draw_graph, graph as graph_module, graph_render, keep_grads, to_dot,
)
from chainrule.diagnostics.graph_layout import layered_layout


def _two_layer():
    x = cr.tensor([[1.0, 2.0]])
    w1 = cr.tensor([[0.5, -1.0], [2.0, 0.25]], requires_grad=True)
    w2 = cr.tensor([[1.5], [-0.5]], requires_grad=True)
    h = (x @ w1).sigmoid()
    loss = (h @ w2).sum()
    return x, w1, w2, h, loss


def _labels(source: str) -> dict:
    return dict(re.findall(r'(n\d+) \[label="([^"]*)"', source))


def _ops(source: str) -> list:
    return re.findall(r'n\d+ \[label="([^"]*)", shape=ellipse', source)


def test_nodes_edges_and_names():
    x, w1, w2, h, loss = _two_layer()
    source = to_dot(loss, params={"x": x, "w1": w1, "w2": w2, "h": h})
    labels = _labels(source)
    assert sorted(_ops(source)) == ["MatMul", "MatMul", "Sigmoid", "Sum"]
    names = [label.split("\\n")[0] for label in labels.values()]
    for name in ("x", "w1", "w2", "h", "output"):
        assert name in names
    edges = re.findall(r"(n\d+) -> (n\d+);", source)
    # tensors alternate with ops: 4 ops, 3 leaves + 4 tensors made by ops; each op has one
    # outgoing edge and one per input (2 + 1 + 2 + 1)
    assert len(labels) == 11 and len(edges) == 10
    by_name = {v.split("\\n")[0]: k for k, v in labels.items()}
    targets = {labels[b] for a, b in edges if a == by_name["w1"]}
    assert targets == {"MatMul"}
    sources = {labels[a].split("\\n")[0] for a, b in edges if b == by_name["output"]}
    assert sources == {"Sum"}
    assert source.startswith("digraph chainrule {") and source.rstrip().endswith("}")


def test_values_and_gradients_with_keep_grads():
    x, w1, w2, h, loss = _two_layer()
    with keep_grads(loss) as kept:
        loss.backward(retain_graph=True)
    assert any(t is h for t in kept.tensors)
    expected_h_grad = np.ones((1, 1)) @ w2.data.T
    np.testing.assert_allclose(h.grad.data, expected_h_grad, rtol=1e-6)
    source = to_dot(loss, params={"w1": w1, "h": h}, show_values=True, show_grads=True)
    h_label = next(v for v in _labels(source).values() if v.startswith("h\\n"))
    assert "value [[" in h_label and "grad [[1.5, -0.5]]" in h_label
    w1_label = next(v for v in _labels(source).values() if v.startswith("w1\\n"))
    assert "grad [[" in w1_label
    # leaving the block stops retaining: a second backward leaves h.grad as it was
    kept_grad = h.grad.data.copy()
    loss.backward()
    np.testing.assert_array_equal(h.grad.data, kept_grad)


def test_gradients_not_kept_are_marked():
    x, w1, w2, h, loss = _two_layer()
    loss.backward(retain_graph=True)
    source = to_dot(loss, show_grads=True)
    assert "not kept (use keep_grads)" in source


def test_big_tensors_are_summarised_and_leaves_drawn_alone():
    t = cr.randn(10, 10, requires_grad=True)
    source = to_dot(t * 2.0, show_values=True)
    assert "mean " in source and "std " in source
    leaf = to_dot(t, params={"t": t})
    assert len(_labels(leaf)) == 1 and "t\\n10×10 float32" in leaf


def test_max_nodes_truncates_with_a_warning():
    x = cr.tensor([1.0], requires_grad=True)
    y = x
    for _ in range(50):
        y = y * 1.01
    with pytest.warns(UserWarning, match="max_nodes=10"):
        source = to_dot(y, max_nodes=10)
    assert len(_labels(source)) <= 12


def test_draw_graph_draws_png_and_svg_itself_without_graphviz(tmp_path, monkeypatch):
    monkeypatch.setattr(graph_module.shutil, "which", lambda name: None)
    x, w1, w2, h, loss = _two_layer()
    with keep_grads(loss):
        loss.backward(retain_graph=True)
    params = {"x": x, "w1": w1, "w2": w2, "h": h}
    png = draw_graph(loss, tmp_path / "g.png", params=params, show_values=True,
                     show_grads=True)
    assert png.rendered and png.engine == "matplotlib"
    assert png.image_path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert png.dot_path == tmp_path / "g.dot" and png.dot_path.read_text() == png.source
    svg = draw_graph(loss, tmp_path / "g.svg", params=params, show_values=True,
                     show_grads=True)
    text = svg.image_path.read_text()
    assert text.lstrip().startswith("<?xml") and "<svg" in text
    # the drawing holds the same nodes as the DOT text: every label of the DOT is a node's
    assert sorted("\\n".join(n.lines) for n in svg.nodes.values()) == sorted(
        _labels(svg.source).values())
    assert {n.kind for n in svg.nodes.values()} == {"param", "input", "tensor", "op", "output"}


def test_drawing_shows_itself_in_jupyter():
    *_, loss = _two_layer()
    drawing = draw_graph(loss)
    assert drawing.dot_path is None and drawing.image_path is None
    assert drawing._repr_png_()[:4] == b"\x89PNG"
    assert "<svg" in drawing._repr_svg_()


def test_layout_puts_consumers_below_without_overlaps():
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
    loss = model(cr.randn(5, 3)).pow(2).mean()
    nodes, edges = graph_module.build_graph(loss, params=dict(model.named_parameters()))
    ids = list(nodes)
    sizes = [graph_render._size(nodes[i].lines) for i in ids]
    index = {node: k for k, node in enumerate(ids)}
    layout = layered_layout(sizes, [(index[a], index[b]) for a, b in edges])
    for source, target in edges:
        assert layout.positions[index[source]][1] < layout.positions[index[target]][1]
    boxes = [(x - w / 2, y - h / 2, x + w / 2, y + h / 2)
             for (x, y), (w, h) in zip(layout.positions, sizes)]
    for a in range(len(boxes)):
        for b in range(a + 1, len(boxes)):
            A, B = boxes[a], boxes[b]
            overlap = A[0] < B[2] and B[0] < A[2] and A[1] < B[3] and B[1] < A[3]
            assert not overlap, (nodes[ids[a]].lines, nodes[ids[b]].lines)
    assert all(0 <= x <= layout.width and 0 <= y <= layout.height for x, y in layout.positions)
    with pytest.raises(ValueError, match="cycle"):
        layered_layout([(1, 1), (1, 1)], [(0, 1), (1, 0)])


def test_large_graphs_are_drawn_compact_and_stay_narrow():
    layers = [m for _ in range(30) for m in (nn.Linear(4, 4), nn.ReLU())]
    model = nn.Sequential(*layers, nn.Linear(4, 1))
    loss = model(cr.randn(2, 4)).pow(2).mean()
    drawing = draw_graph(loss, params=dict(model.named_parameters()))
    assert len(drawing.nodes) > 120
    kept, edges = graph_render.compact_graph(drawing.nodes, drawing.edges)
    assert len(kept) < 0.75 * len(drawing.nodes)
    assert not any(n.kind == "tensor" for n in kept.values())
    assert {a for a, _ in edges} | {b for _, b in edges} <= set(kept)
    width, height = drawing.figure().get_size_inches()
    assert width < 12 and height > width  # a tall column, not a diagonal across the page


def test_graphviz_engine_without_dot_warns_and_draws_anyway(tmp_path, monkeypatch):
    monkeypatch.setattr(graph_module.shutil, "which", lambda name: None)
    *_, loss = _two_layer()
    with pytest.warns(GraphvizNotFoundWarning) as caught:
        drawing = draw_graph(loss, tmp_path / "g.png", engine="graphviz")
    assert "apt-get install graphviz" in str(caught[0].message)
    assert drawing.engine == "matplotlib" and drawing.rendered


def test_draw_graph_dot_file_needs_no_graphviz(tmp_path, monkeypatch):
    monkeypatch.setattr(graph_module.shutil, "which", lambda name: None)
    *_, loss = _two_layer()
    drawing = draw_graph(loss, tmp_path / "sub" / "g.dot")
    assert drawing.dot_path.read_text() == drawing.source == str(drawing)
    assert not drawing.rendered


@pytest.mark.parametrize("extension", [".png", ".svg"])
def test_draw_graph_renders_with_dot(tmp_path, monkeypatch, extension):
    # A stand-in `dot` that records its arguments and writes the image: the test checks how
    # draw_graph calls Graphviz, with or without Graphviz installed.
    fake = tmp_path / "bin" / "dot"
    fake.parent.mkdir()
    fake.write_text('#!/bin/sh\necho "$@" > "$(dirname "$0")/args"\n'
                    'out=""; while [ $# -gt 0 ]; do [ "$1" = "-o" ] && out="$2"; shift; done\n'
                    'printf "rendered" > "$out"\n')
    fake.chmod(0o755)
    monkeypatch.setattr(graph_module.shutil, "which",
                        lambda name: str(fake) if name == "dot" else shutil.which(name))
    model = nn.Sequential(nn.Linear(3, 2), nn.Tanh(), nn.Linear(2, 1))
    loss = model(cr.randn(4, 3)).pow(2).mean()
    drawing = draw_graph(loss, tmp_path / f"g{extension}", engine="graphviz",
                         params=dict(model.named_parameters()), show_values=True)
    assert drawing.rendered and drawing.engine == "graphviz"
    assert drawing.image_path == tmp_path / f"g{extension}"
    assert drawing.image_path.read_text() == "rendered"
    assert drawing.to_bytes(extension[1:]) == b"rendered"
    args = (fake.parent / "args").read_text().split()
    assert args[0] == f"-T{extension[1:]}" and args[-1] == str(drawing.image_path)
    assert "0.weight" in drawing.source


def test_errors():
    with pytest.raises(TypeError, match="expects a chainrule Tensor"):
        to_dot(np.zeros(3))
    *_, loss = _two_layer()
    with pytest.raises(ValueError, match="unsupported file type"):
        draw_graph(loss, "graph.jpg")
    with pytest.raises(ValueError, match="engine"):
        draw_graph(loss, engine="dot")
    with pytest.raises(TypeError, match="named_parameters"):
        to_dot(loss, params={"w": np.zeros(2)})
