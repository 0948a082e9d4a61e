"""The fused recurrent layer: one ``Function`` per layer and direction for RNN, GRU and LSTM.

Its forward runs the whole sequence on arrays (ops/_rnn_arrays.py): the input projections of
all steps in one GEMM, then the recurrence in preallocated buffers. Without a graph of the
backward, ``backward_arrays`` backpropagates through time in one loop with one GEMM per step;
``backward`` computes the same gradients with chainrule ops (ops/rnn_cells.py) so that they can be
differentiated again. The graph holds one node per layer and direction, not one per gate and
step.

The output is one flat tensor [outputs (T, B, P), h_n (B, P), c_n (B, H) for an LSTM];
``recurrence`` splits it into views.
"""

from __future__ import annotations

from chainrule.autograd.function import Function
from chainrule.ops import _rnn_arrays
from chainrule.ops._rnn_arrays import GATES, Arrays, unpack
from chainrule.ops.rnn_cells import recorded_backward
from chainrule.ops.shape import reshape
from chainrule.tensor import Tensor

__all__ = ["recurrence", "MODES"]

MODES = tuple(GATES)


class Recurrence(Function):
    """One recurrent layer in one direction over a whole sequence (see the module docstring).

    Inputs: x (T, B, I), h0 (B, P), [c0 (B, H) for ``lstm``], w_ih, w_hh, [b_ih, b_hh], [w_hr].
    Params: mode (``rnn_tanh``, ``rnn_relu``, ``gru``, ``lstm``), reverse, bias, proj,
    batch_sizes (active rows per time step of a packed batch, or None).
    """

    def forward(self, *arrays, mode="rnn_tanh", reverse=False, bias=True, proj=False,
                batch_sizes=None):
        self.options = (mode, reverse, bias, proj, batch_sizes)
        out, cache = _rnn_arrays.forward(mode, unpack(arrays, mode, bias, proj), reverse,
                                         batch_sizes)
        if self.recording:
            self.saved = cache
        return out

    def backward(self, grad_output):
        mode, reverse, bias, proj, batch_sizes = self.options
        return recorded_backward(mode, self.inputs, grad_output, self.needs_input_grad, reverse,
                                 bias, proj, batch_sizes)

    def backward_arrays(self, grad_output):
        mode, reverse, bias, proj, batch_sizes = self.options
        p = unpack([t.data for t in self.inputs], mode, bias, proj)
        wanted = unpack([True if need else None for need in self.needs_input_grad], mode, bias,
                        proj)
        grads = _rnn_arrays.backward(mode, p, self.saved, grad_output, wanted, reverse,
                                     batch_sizes)
        return tuple(getattr(grads, name) for name, value in zip(Arrays._fields, wanted)
                     if value is not None or _present(name, mode, bias, proj))


def _present(name: str, mode: str, bias: bool, proj: bool) -> bool:
    """Whether ``Recurrence`` takes the input ``name`` with these options."""
    if name == "c0":
        return mode == "lstm"
    if name in ("b_ih", "b_hh"):
        return bias
    if name == "w_hr":
        return proj
    return True


def recurrence(input: Tensor, hx: Tensor, weights: tuple, mode: str, cx: Tensor | None = None,
               reverse: bool = False, batch_sizes: tuple | None = None) -> tuple:
    """Run one recurrent layer in one direction over a time-major sequence.

    Args:
        input: (T, B, I).
        hx: the initial hidden state (B, P); cx: the initial cell state (B, H), LSTM only.
        weights: (w_ih, w_hh), (w_ih, w_hh, b_ih, b_hh), and for an LSTM with a projection
            w_hr last: PyTorch's layouts, gates stacked in its order.
        mode: ``rnn_tanh``, ``rnn_relu``, ``gru`` or ``lstm``.
        reverse: run from the last step to the first (the backward direction).
        batch_sizes: for a packed batch sorted by decreasing length, the number of sequences
            still running at each step; rows past their end keep their state, output zeros.

    Returns:
        ``(output (T, B, P), h_n (B, P), c_n (B, H) or None)``.

    Example:
        >>> import chainrule as cr
        >>> w_ih, w_hh = cr.randn(12, 3), cr.randn(12, 4)
        >>> out, h, c = recurrence(cr.randn(5, 2, 3), cr.zeros(2, 4), (w_ih, w_hh), "gru")
        >>> out.shape, h.shape, c
        ((5, 2, 4), (2, 4), None)
    """
    if mode not in GATES:
        raise ValueError(f"recurrence: mode must be one of {', '.join(GATES)}, got {mode!r}")
    weights = tuple(weights)
    bias = len(weights) >= 4
    proj = mode == "lstm" and len(weights) in (3, 5)
    steps, batch = input.shape[:2]
    size = weights[1].shape[1]
    tensors = (input, hx) + ((cx,) if mode == "lstm" else ()) + weights
    flat = Recurrence.apply(*tensors, mode=mode, reverse=reverse, bias=bias, proj=proj,
                            batch_sizes=None if batch_sizes is None else tuple(batch_sizes))
    total = steps * batch * size
    output = reshape(flat[:total], (steps, batch, size))
    h_n = reshape(flat[total:total + batch * size], (batch, size))
    c_n = None
    if mode == "lstm":
        c_n = reshape(flat[total + batch * size:], (batch, weights[0].shape[0] // 4))
    return output, h_n, c_n
