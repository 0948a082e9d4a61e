"""Switching the recording of the graph off and on: ``no_grad`` and ``enable_grad``."""

from __future__ import annotations

import functools


class _GradMode:
    enabled = True


def is_grad_enabled() -> bool:
    """Whether ops record the graph right now."""
    return _GradMode.enabled


def set_grad_enabled(mode: bool) -> None:
    """Turn graph recording on or off globally."""
    _GradMode.enabled = bool(mode)


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
