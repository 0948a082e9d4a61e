"""Containers (``Sequential``, ``ModuleList``, ``ModuleDict``) and shape-only modules
(``Identity``, ``Flatten``, ``Unflatten``)."""

from __future__ import annotations

import operator
from collections import OrderedDict
from typing import Iterable, Iterator, Mapping

from chainrule.nn import functional as F
from chainrule.nn.activation import ReLU
from chainrule.nn.linear import Linear
from chainrule.nn.module import Module
from chainrule.ops import shape as _shape
from chainrule.tensor import Tensor

__all__ = ["Sequential", "ModuleList", "ModuleDict", "Identity", "Flatten", "Unflatten"]


def _index(index, length: int, kind: str) -> int:
    index = operator.index(index)
    if not -length <= index < length:
        raise IndexError(f"index {index} is out of range for a {kind} of length {length}")
    return index % length


def _hooked(module: Module) -> bool:
    return bool(module._forward_pre_hooks or module._forward_hooks or module._backward_hooks)


def _fusable(first: Module, second: Module) -> bool:
    """A plain Linear then a plain ReLU (not subclasses, which may compute otherwise), without
    hooks that would expect to see the Linear's output."""
    return (type(first) is Linear and type(second) is ReLU and not _hooked(first)
            and not _hooked(second))


class Sequential(Module):
    """Modules applied one after another: ``Sequential(a, b, c)(x) == c(b(a(x)))``.

    Children are named ``'0'``, ``'1'``, ... (or by the keys of an OrderedDict), so parameters
    are called ``'0.weight'`` and so on, as in PyTorch. Supports indexing, slicing (a new
    Sequential sharing the modules), ``len``, iteration and ``append``.

    A ``Linear`` followed by a ``ReLU``, neither with hooks, runs as one fused op
    (``F.linear_relu``): the same values and gradients with one graph node and one array fewer.
    The graph then shows a ``LinearReluBackward`` node where the two would be; a hook on
    either module (as the diagnostics register) keeps them apart.

    Example:
        >>> import chainrule as cr
        >>> from chainrule import nn
        >>> model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
        >>> model(cr.zeros(3, 4)).shape, len(model), type(model[:2]).__name__
        ((3, 2), 3, 'Sequential')
    """

    def __init__(self, *modules):
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], OrderedDict):
            for name, module in modules[0].items():
                self.add_module(name, module)
        else:
            for position, module in enumerate(modules):
                self.add_module(str(position), module)

    def forward(self, x):
        modules = list(self._modules.values())
        count, position = len(modules), 0
        while position < count:
            module = modules[position]
            if position + 1 < count and _fusable(module, modules[position + 1]):
                x = F.linear_relu(x, module.weight, module.bias)
                position += 2
            else:
                x = module(x)
                position += 1
        return x

    def __getitem__(self, index):
        if isinstance(index, slice):
            return Sequential(OrderedDict(list(self._modules.items())[index]))
        keys = list(self._modules)
        return self._modules[keys[_index(index, len(keys), "Sequential")]]

    def __setitem__(self, index, module: Module) -> None:
        keys = list(self._modules)
        setattr(self, keys[_index(index, len(keys), "Sequential")], module)

    def __delitem__(self, index) -> None:
        keys = list(self._modules)
        targets = keys[index] if isinstance(index, slice) else [
            keys[_index(index, len(keys), "Sequential")]]
        for key in targets:
            del self._modules[key]
        if all(key.isdigit() for key in self._modules):
            renamed = OrderedDict((str(i), m) for i, m in enumerate(self._modules.values()))
            self._modules.clear()
            self._modules.update(renamed)

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def append(self, module: Module) -> "Sequential":
        """Add ``module`` at the end; returns the Sequential."""
        self.add_module(str(len(self)), module)
        return self

    def extend(self, modules: Iterable[Module]) -> "Sequential":
        """Append every module of ``modules``."""
        for module in modules:
            self.append(module)
        return self

    def insert(self, index: int, module: Module) -> "Sequential":
        """Insert ``module`` before position ``index`` (children are renumbered)."""
        modules = list(self._modules.values())
        modules.insert(index, module)
        self._modules.clear()
        for position, m in enumerate(modules):
            self.add_module(str(position), m)
        return self


class ModuleList(Module):
    """A list of modules whose parameters the parent sees (a plain list would hide them).

    Example:
        >>> from chainrule import nn
        >>> layers = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
        >>> len(list(layers.parameters()))
        6
    """

    def __init__(self, modules: Iterable[Module] | None = None):
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return ModuleList(list(self._modules.values())[index])
        keys = list(self._modules)
        return self._modules[keys[_index(index, len(keys), "ModuleList")]]

    def __setitem__(self, index: int, module: Module) -> None:
        keys = list(self._modules)
        setattr(self, keys[_index(index, len(keys), "ModuleList")], module)

    def __delitem__(self, index) -> None:
        modules = list(self._modules.values())
        del modules[index]
        self._modules.clear()
        for position, module in enumerate(modules):
            self.add_module(str(position), module)

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def __iadd__(self, modules: Iterable[Module]) -> "ModuleList":
        return self.extend(modules)

    def append(self, module: Module) -> "ModuleList":
        """Add ``module`` at the end."""
        self.add_module(str(len(self)), module)
        return self

    def extend(self, modules: Iterable[Module]) -> "ModuleList":
        """Append every module of ``modules``."""
        if isinstance(modules, Module) and not isinstance(modules, (ModuleList, Sequential)):
            raise TypeError("ModuleList.extend should be called with an iterable of modules, "
                            f"but got a single {type(modules).__name__}")
        for module in modules:
            self.append(module)
        return self

    def insert(self, index: int, module: Module) -> None:
        """Insert ``module`` before position ``index``."""
        modules = list(self._modules.values())
        modules.insert(index, module)
        self._modules.clear()
        for position, m in enumerate(modules):
            self.add_module(str(position), m)


class ModuleDict(Module):
    """A dict of modules (insertion-ordered) whose parameters the parent sees.

    Example:
        >>> from chainrule import nn
        >>> heads = nn.ModuleDict({"a": nn.Linear(2, 1), "b": nn.Linear(2, 3)})
        >>> sorted(name for name, _ in heads.named_parameters())
        ['a.bias', 'a.weight', 'b.bias', 'b.weight']
    """

    def __init__(self, modules: Mapping[str, Module] | Iterable | None = None):
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __getitem__(self, key: str) -> Module:
        if key not in self._modules:
            raise KeyError(f"ModuleDict has no key {key!r}; keys are {list(self._modules)}")
        return self._modules[key]

    def __setitem__(self, key: str, module: Module) -> None:
        self.add_module(key, module)

    def __delitem__(self, key: str) -> None:
        del self._modules[key]

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[str]:
        return iter(self._modules)

    def __contains__(self, key: str) -> bool:
        return key in self._modules

    def keys(self):
        return self._modules.keys()

    def values(self):
        return self._modules.values()

    def items(self):
        return self._modules.items()

    def pop(self, key: str) -> Module:
        """Remove ``key`` and return its module."""
        module = self[key]
        del self[key]
        return module

    def clear(self) -> None:
        self._modules.clear()

    def update(self, modules) -> None:
        """Add the (name, module) pairs of a mapping or of an iterable of pairs."""
        items = modules.items() if hasattr(modules, "items") else modules
        for key, module in items:
            self[key] = module


class Identity(Module):
    """Returns its input unchanged (a placeholder, e.g. a removed head); ignores any args."""

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, x):
        return x


class Flatten(Module):
    """Merge dimensions ``start_dim`` .. ``end_dim`` into one (by default all but the batch).

    Shape: (N, C, H, W) -> (N, C·H·W) with the defaults.

    Example:
        >>> import chainrule as cr
        >>> import chainrule.nn
        >>> cr.nn.Flatten()(cr.zeros(2, 3, 4, 5)).shape
        (2, 60)
    """

    def __init__(self, start_dim: int = 1, end_dim: int = -1):
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x: Tensor) -> Tensor:
        return _shape.flatten(x, self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """Split dimension ``dim`` into ``unflattened_size``.

    Shape: (N, C·H·W) -> (N, C, H, W) with ``Unflatten(1, (C, H, W))``.

    Example:
        >>> import chainrule as cr
        >>> import chainrule.nn
        >>> cr.nn.Unflatten(1, (3, 4))(cr.zeros(2, 12)).shape
        (2, 3, 4)
    """

    def __init__(self, dim: int, unflattened_size):
        super().__init__()
        self.dim, self.unflattened_size = dim, tuple(unflattened_size)

    def forward(self, x: Tensor) -> Tensor:
        dim = self.dim % x.ndim
        size = 1
        for s in self.unflattened_size:
            size *= s if s != -1 else 1
        if -1 not in self.unflattened_size and size != x.shape[dim]:
            raise ValueError(
                f"Unflatten: unflattened_size {self.unflattened_size} has {size} elements but "
                f"dimension {self.dim} of the input (shape {tuple(x.shape)}) has {x.shape[dim]}"
            )
        return _shape.reshape(x, x.shape[:dim] + self.unflattened_size + x.shape[dim + 1:])

    def extra_repr(self) -> str:
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"
