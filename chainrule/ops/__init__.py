"""Differentiable ops: one ``Function`` subclass and its lowercase wrapper per op."""
