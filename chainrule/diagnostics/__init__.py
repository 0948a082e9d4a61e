"""See inside a network: gradient flow per layer, activation statistics, whole-model gradient
checks, the computational graph (drawn
without Graphviz), and plots of activations and losses.

Example:
    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> from chainrule.diagnostics import activation_stats, gradient_flow
    >>> model = nn.Sequential(nn.Linear(4, 8), nn.Sigmoid(), nn.Linear(8, 1))
    >>> x = cr.randn(32, 4)
    >>> model(x).pow(2).mean().backward()
    >>> print(gradient_flow(model, lr=0.1).table())  # doctest: +SKIP
    >>> print(activation_stats(model, x).table())  # doctest: +SKIP
"""

from chainrule.diagnostics.activations import ActivationReport, ActivationStats, activation_stats
from chainrule.diagnostics.callback import GradientFlow
from chainrule.diagnostics.gradcheck_model import ModelGradcheckReport, check_model_gradients
from chainrule.diagnostics.gradient_flow import (
    GradientFlowReport, LayerFlow, ParameterFlow, gradient_flow,
)
from chainrule.diagnostics import graph_layout, graph_render
from chainrule.diagnostics.graph import (
    GraphDrawing, GraphNode, GraphvizNotFoundWarning, build_graph, draw_graph, keep_grads, to_dot,
)
from chainrule.diagnostics.live import LivePlot
from chainrule.diagnostics import plots
from chainrule.diagnostics.plots import plot_activations, plot_losses

__all__ = [
    "gradient_flow", "GradientFlowReport", "LayerFlow", "ParameterFlow", "GradientFlow",
    "activation_stats", "ActivationReport", "ActivationStats",
    "check_model_gradients", "ModelGradcheckReport",
    "draw_graph", "to_dot", "build_graph", "keep_grads", "GraphDrawing", "GraphNode",
    "GraphvizNotFoundWarning",
    "plots", "plot_activations", "plot_losses", "LivePlot",
]
