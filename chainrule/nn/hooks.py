"""Hook machinery for ``Module``: removable handles and the backward-hook bookkeeping."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chainrule.autograd.function import Function
from chainrule.tensor import Tensor

if TYPE_CHECKING:
    from chainrule.nn.module import Module


class RemovableHandle:
    """Returned by the ``register_*_hook`` methods; ``remove()`` unregisters the hook."""

    _next_id = 0

    def __init__(self, hooks: dict):
        self._hooks = hooks
        self.id = RemovableHandle._next_id
        RemovableHandle._next_id += 1

    def remove(self) -> None:
        self._hooks.pop(self.id, None)

    def __enter__(self) -> "RemovableHandle":
        return self

    def __exit__(self, *exc_info) -> None:
        self.remove()


class _HookIdentity(Function):
    """The identity, as a graph node of its own, so a module's gradients can be observed."""

    needs_inputs = False

    def forward(self, x):
        return x

    def backward(self, grad_output):
        return grad_output


class _BackwardHookState:
    """One forward call's bookkeeping for ``register_full_backward_hook``."""

    def __init__(self, module: Module, n_args: int, input_position: int | None):
        self.module = module
        self.n_args = n_args
        self.input_position = input_position
        self.grad_output = None

    @classmethod
    def wrap_inputs(cls, module: Module, args: tuple):
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
