"""Tests of chainrule/onnx/: one file per module (export, ops, graph, run)."""
