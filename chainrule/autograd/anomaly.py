"""``detect_anomaly``: find the op whose backward first produced NaN or Inf."""

from __future__ import annotations

import traceback

import numpy as np

_enabled = False


class detect_anomaly:
    """Context manager that checks every gradient backward computes for NaN and Inf.

    Inside it every op remembers where in your code it was created, and when a backward produces
    a non-finite gradient the error names the op and shows that place.

    Example:
        >>> import chainrule as cr
        >>> x = cr.tensor([0.0], requires_grad=True)
        >>> with cr.autograd.detect_anomaly():
        ...     y = cr.sqrt(x)              # d sqrt / dx is inf at 0
        ...     y.backward(cr.ones(1))      # doctest: +SKIP
        Traceback (most recent call last):
        ...
        RuntimeError: SqrtBackward returned inf values in its 0th output ...
    """

    def __init__(self, check_nan: bool = True):
        self.check_nan = check_nan

    def __enter__(self):
        global _enabled
        self._previous = _enabled
        _enabled = self.check_nan
        return self

    def __exit__(self, *exc_info):
        global _enabled
        _enabled = self._previous
        return False


def is_anomaly_enabled() -> bool:
    """Whether ``detect_anomaly`` is active."""
    return _enabled


def check_gradients(fn, grads) -> None:
    """Raise a RuntimeError naming ``fn`` if any of ``grads`` has NaN or Inf."""
    for position, grad in enumerate(grads):
        if grad is None:
            continue
        data = grad.data
        if data.dtype.kind == "f" and not np.isfinite(data).all():
            kind = "nan" if np.isnan(data).any() else "inf"
            trace = getattr(fn, "_trace", None)
            where = (
                "The forward op was created at (most recent call last):\n"
                + "".join(traceback.format_list(trace[-6:]))
                if trace
                else "The forward op was created before detect_anomaly was turned on, so its "
                "place in your code is unknown."
            )
            raise RuntimeError(
                f"{fn.name()} returned {kind} values in its {position}th output (the gradient "
                f"for input {position}, shape {tuple(data.shape)}).\n{where}"
            )
