"""The calling half of ``Module``: ``__call__`` with the forward and backward hooks, the
``register_*_hook`` methods, and the bookkeeping of backward hooks. The handles they return are
``chainrule.tensor.RemovableHandle``, the same class as the handles of ``Tensor.register_hook``.
"""

from __future__ import annotations

from typing import Any, Callable

from chainrule.autograd import grad_mode
from chainrule.autograd.function import Function
from chainrule.tensor import RemovableHandle, Tensor

__all__ = ["ModuleHooks", "RemovableHandle"]


class _HookIdentity(Function):
    """The identity, as a graph node of its own, so a module's gradients can be observed."""

    needs_inputs = False

    def forward(self, x):
        return x

    def backward(self, grad_output):
        return grad_output


class _BackwardHookState:
    """One forward call's bookkeeping for ``register_full_backward_hook``."""

    def __init__(self, module: Any, n_args: int, input_position: int | None):
        self.module = module
        self.n_args = n_args
        self.input_position = input_position
        self.grad_output = None

    @classmethod
    def wrap_inputs(cls, module: Any, args: tuple):
        position = next((i for i, a in enumerate(args)
                         if isinstance(a, Tensor) and a.requires_grad), None)
        state = cls(module, len(args), position)
        if position is not None:
            wrapped = _HookIdentity.apply(args[position])
            wrapped.register_hook(state._on_grad_input)
            args = args[:position] + (wrapped,) + args[position + 1:]
        return state, args

    def wrap_output(self, output):
        if not isinstance(output, Tensor) or not output.requires_grad:
            return output
        output = _HookIdentity.apply(output)
        output.register_hook(self._on_grad_output)
        return output

    def _call_hooks(self, grad_input: tuple) -> tuple:
        for hook in list(self.module._backward_hooks.values()):
            result = hook(self.module, grad_input, (self.grad_output,))
            if result is not None:
                result = result if isinstance(result, tuple) else (result,)
                if len(result) != len(grad_input):
                    raise RuntimeError(
                        f"backward hook returned {len(result)} gradients but the module has "
                        f"{len(grad_input)} inputs; return one entry per positional input"
                    )
                grad_input = result
        return grad_input

    def _on_grad_output(self, grad):
        self.grad_output = grad
        if self.input_position is None:
            self._call_hooks((None,) * self.n_args)
        return None

    def _on_grad_input(self, grad):
        grad_input = [None] * self.n_args
        grad_input[self.input_position] = grad
        grad_input = self._call_hooks(tuple(grad_input))
        return grad_input[self.input_position]


class ModuleHooks:
    """``Module``'s calling and hook methods (a base of ``Module``; the hook dicts are made in
    ``Module.__init__``)."""

    def __call__(self, *args, **kwargs):
        if not (self._forward_pre_hooks or self._forward_hooks or self._backward_hooks):
            return self.forward(*args, **kwargs)
        return self._call_with_hooks(args, kwargs)

    def _call_with_hooks(self, args, kwargs):
        for hook in list(self._forward_pre_hooks.values()):
            result = hook(self, args)
            if result is not None:
                args = result if isinstance(result, tuple) else (result,)
        backward_state = None
        if self._backward_hooks and grad_mode.is_grad_enabled():
            backward_state, args = _BackwardHookState.wrap_inputs(self, args)
        output = self.forward(*args, **kwargs)
        for hook in list(self._forward_hooks.values()):
            result = hook(self, args, output)
            if result is not None:
                output = result
        if backward_state is not None:
            output = backward_state.wrap_output(output)
        return output

    def register_forward_pre_hook(self, hook: Callable) -> RemovableHandle:
        """Call ``hook(module, args)`` before ``forward``; a non-None return replaces the
        positional arguments (a tuple, or a single value). Returns a handle with ``remove()``."""
        return RemovableHandle(self._forward_pre_hooks, hook)

    def register_forward_hook(self, hook: Callable) -> RemovableHandle:
        """Call ``hook(module, args, output)`` after ``forward``; a non-None return replaces the
        output. Returns a handle with ``remove()``.

        Example:
            >>> import chainrule as cr
            >>> from chainrule import nn
            >>> shapes = []
            >>> layer = nn.Linear(3, 2)
            >>> handle = layer.register_forward_hook(lambda m, i, o: shapes.append(o.shape))
            >>> _ = layer(cr.zeros(4, 3)); handle.remove(); shapes
            [(4, 2)]
        """
        return RemovableHandle(self._forward_hooks, hook)

    def register_full_backward_hook(self, hook: Callable) -> RemovableHandle:
        """Call ``hook(module, grad_input, grad_output)`` when the gradient reaches the module's
        input during backward.

        ``grad_output`` is a 1-tuple with the gradient of the (Tensor) output. ``grad_input`` has
        one entry per positional argument: the gradient of the FIRST tensor argument that
        requires grad, None for the others (chainrule's ops have a single output, so the
        gradients of several inputs are not gathered into one call). When no input requires
        grad (a network's first layer) the hook runs with ``grad_input`` all None as soon as
        ``grad_output`` is known. A non-None return (a tuple like ``grad_input``) replaces that
        input's gradient. Returns a handle with ``remove()``.
        """
        return RemovableHandle(self._backward_hooks, hook)

    def register_backward_hook(self, hook: Callable) -> RemovableHandle:
        """Alias of ``register_full_backward_hook`` (PyTorch's deprecated name)."""
        return self.register_full_backward_hook(hook)
