"""``TerminateOnNaN``: stop at the first non-finite gradient or loss, and say why."""

from __future__ import annotations

import collections
import math
import sys

import numpy as np

from chainrule.train.callbacks.base import Callback
from chainrule.train.callbacks.progress import _write

__all__ = ["TerminateOnNaN"]


class TerminateOnNaN(Callback):
    """Stop training as soon as a gradient or the loss is NaN or infinite, and say why.

    After each ``backward()`` the gradients are checked (before the optimizer could spread the
    NaN into the weights). The diagnosis names the parameter whose gradient went non-finite
    first in backward order (the layer nearest the output among the affected ones), lists the
    others, shows the recent gradient norms (a steady climb means exploding gradients) and says
    what usually helps. It is printed to ``file`` (stderr) and kept in ``state.stop_reason``
    and ``self.diagnosis``.

    Example:
        >>> guard = TerminateOnNaN()
    """

    def __init__(self, file=None, verbose: bool = True) -> None:
        self.file = file
        self.verbose = verbose
        self.diagnosis: str | None = None
        self._norms: collections.deque = collections.deque(maxlen=8)

    def on_train_begin(self, state) -> None:
        self._named = [(name, p) for name, p in state.model.named_parameters() if p.requires_grad]
        self._norms.clear()

    def on_after_backward(self, state) -> None:
        total = 0.0
        bad = False
        for _, param in self._named:
            grad = param.grad
            if grad is None:
                continue
            flat = grad.data.reshape(-1)
            square = float(np.dot(flat, flat))
            if not math.isfinite(square) and not np.isfinite(flat).all():
                bad = True
                break
            total += square
        if bad:
            self._stop(state, self._gradient_report(state))
            return
        self._norms.append(math.sqrt(total))
        loss = state.loss_tensor
        if loss is not None and not math.isfinite(float(loss.item())):
            self._stop(state, f"the loss became {float(loss.item())} while the gradients were "
                              "still finite")

    def on_batch_end(self, state) -> None:
        if not math.isfinite(state.loss) and not state.stop_training:
            self._stop(state, f"the loss became {state.loss}")

    def _gradient_report(self, state) -> str:
        broken = []
        for name, param in reversed(self._named):  # backward reaches the last layers first
            if param.grad is None:
                continue
            data = param.grad.data
            nan, inf = int(np.isnan(data).sum()), int(np.isinf(data).sum())
            if nan or inf:
                broken.append((name, nan, inf, data.size))
        name, nan, inf, size = broken[0]
        text = (f"the gradient of '{name}' became non-finite ({nan} NaN and {inf} inf of {size} "
                "values), the first parameter that backward reached with a non-finite gradient")
        if len(broken) > 1:
            text += "; also non-finite: " + ", ".join(b[0] for b in broken[1:6])
            if len(broken) > 6:
                text += f" and {len(broken) - 6} more"
        loss = state.loss_tensor
        if loss is not None:
            text += f". The loss was {float(loss.item()):.6g}"
        return text

    def _stop(self, state, what: str) -> None:
        norms = ", ".join(f"{n:.3g}" for n in self._norms)
        growth = ""
        if len(self._norms) >= 2 and self._norms[0] > 0 and self._norms[-1] > 10 * self._norms[0]:
            growth = " The gradient norm was climbing: exploding gradients."
        lr = state.lr
        clip = ("clip the gradients (fit(..., clip_grad_norm=1.0), or --clip-grad-norm 1)"
                if getattr(state, "clip", None) is None else "clip the gradients harder")
        self.diagnosis = (
            f"TerminateOnNaN: stopped at epoch {state.epoch}, batch {state.batch} (step "
            f"{state.step + 1}): {what}. Gradient norms of the last steps: [{norms}].{growth} "
            f"What usually helps: a lower learning rate (it is {lr:.3g}; try {lr / 10:.3g}); "
            f"{clip}; a better initialization (He for ReLU-like activations, Xavier for "
            "tanh/sigmoid) or batch normalization; and checking the inputs for NaN/inf."
        )
        state.stop_training = True
        state.stop_reason = self.diagnosis
        if self.verbose:
            _write(self.diagnosis, self.file or sys.stderr)
