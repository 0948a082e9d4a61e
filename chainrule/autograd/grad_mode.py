"""Switching the recording of the graph off and on: ``no_grad`` and ``enable_grad``."""

from __future__ import annotations

import functools


class _GradMode:
    enabled = True


def is_grad_enabled() -> bool:
    """Whether ops record the graph right now."""
    return _GradMode.enabled


class _GradModeContext:
    _mode: bool

    def __enter__(self):
        self._previous = _GradMode.enabled
        _GradMode.enabled = self._mode
        return self

    def __exit__(self, *exc_info):
        _GradMode.enabled = self._previous
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with self.__class__():
                return fn(*args, **kwargs)

        return wrapper


class no_grad(_GradModeContext):
    """Context manager and decorator in which no op records the graph.

    Example:
        >>> import chainrule as cr
        >>> x = cr.ones(2, requires_grad=True)
        >>> with cr.no_grad():
        ...     y = x * 2
        >>> y.requires_grad
        False
    """

    _mode = False


class enable_grad(_GradModeContext):
    """Context manager and decorator that turns recording back on inside ``no_grad``."""

    _mode = True


class set_grad_enabled(_GradModeContext):
    """Turn recording on or off: as a plain call (it stays so), as a context manager (the
    previous mode comes back on exit, also after an exception) or as a decorator, as PyTorch's.

    Example:
        >>> import chainrule as cr
        >>> x = cr.ones(2, requires_grad=True)
        >>> with cr.set_grad_enabled(False):
        ...     (x * 2).requires_grad
        False
        >>> _ = cr.set_grad_enabled(False); (x * 2).requires_grad
        False
        >>> _ = cr.set_grad_enabled(True)
    """

    def __init__(self, mode: bool):
        if not isinstance(mode, bool):
            raise TypeError(
                f"set_grad_enabled expects True or False, got {mode!r} "
                f"({type(mode).__name__})"
            )
        self._mode = mode
        self._previous = _GradMode.enabled
        _GradMode.enabled = mode

    def __enter__(self):
        return self

    def __call__(self, fn):
        # Used as a decorator: the mode applies inside each call only, not from decoration on.
        _GradMode.enabled = self._previous
        mode = self._mode

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with set_grad_enabled(mode):
                return fn(*args, **kwargs)

        return wrapper
