"""The vanishing lab (chainrule/lab/vanishing.py) at smoke size: gradients through depth: the
sigmoid network's first layer is orders below the batch-normalized one."""

import math
from pathlib import Path

from chainrule.diagnostics import plots
from chainrule.lab import vanishing


def test_outputs_exist(check_outputs):
    check_outputs("vanishing")


def test_vanishing_sigmoid_first_layer_is_orders_below_batchnorm(results):
    numbers = results("vanishing").numbers
    deepest = numbers["depths"].split(", ")[-1]
    sigmoid = numbers[f"first_layer_grad_sigmoid_depth{deepest}"]
    batchnorm = numbers[f"first_layer_grad_relu_bn_depth{deepest}"]
    assert sigmoid < 1e-3 * batchnorm
    assert numbers["orders_sigmoid_below_relu_bn"] > 3


def test_a_run_at_chance_loss_is_not_healthy():
    chance = math.log(10)
    assert vanishing.verdict("healthy", chance) == "not learning"
    assert vanishing.verdict("healthy", 0.95 * chance) == "not learning"
    assert vanishing.verdict("vanishing", math.nan) == "not learning"
    assert vanishing.verdict("healthy", 0.5 * chance) == "healthy"
    assert vanishing.verdict("vanishing", 0.5 * chance) == "vanishing"


def test_table_verdicts_agree_with_the_losses(results):
    (table,) = results("vanishing").tables
    verdict = table.headers.index("verdict")
    loss = next(i for i, h in enumerate(table.headers) if h.startswith("loss after"))
    for row in table.rows:
        if not row[loss] <= 0.9 * math.log(10):
            assert row[verdict] == "not learning", row


def test_heatmaps_name_weight_layers_as_the_depth_counts(results, monkeypatch, tmp_path):
    figures = {}
    original = plots.save_figure
    monkeypatch.setattr(plots, "save_figure",
                        lambda fig, path, dpi=110: figures.setdefault(Path(path).name, fig)
                        and original(fig, path, dpi))
    result = vanishing.run(tmp_path, smoke=True, seed=0)
    deepest = int(result.numbers["depths"].split(", ")[-1])
    for arch in ("sigmoid", "residual"):
        axis = figures[f"gradient_heatmap_{arch}.png"].axes[0]
        shown = [t.get_text() for t in axis.get_yticklabels()]
        assert shown == [f"weight layer {k}" for k in range(1, deepest + 1)]
