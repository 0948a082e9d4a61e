"""``Optimizer``: the base every optimizer shares (PyTorch's data shape).

An optimizer holds ``param_groups`` (a list of dicts: ``"params"`` plus that group's options,
filled from ``defaults``) and ``state`` (a dict keyed by the parameter tensor itself, holding
NumPy arrays and Python numbers). Subclasses write ``step`` and a ``_validate`` that checks their
options; the update of each algorithm is a short function of arrays in its own module.
"""

from __future__ import annotations

import numbers
from collections import defaultdict
from typing import Any, Callable, Iterable

import numpy as np

from chainrule.autograd.grad_mode import enable_grad
from chainrule.tensor import Tensor

ParamsT = Iterable[Tensor] | Iterable[dict]


class _RequiredParameter:
    def __repr__(self) -> str:
        return "<required parameter>"


required = _RequiredParameter()


# --------------------------------------------------------------------- hyper-parameter checks
def check_number(name: str, value, low: float | None = None, high: float | None = None,
                 low_open: bool = False, high_open: bool = False) -> None:
    """Raise a ValueError naming ``name``, its value and the allowed range when it is outside."""
    lower = "" if low is None else ("(" if low_open else "[") + f"{low:g}"
    upper = "" if high is None else f"{high:g}" + (")" if high_open else "]")
    if low is not None and high is not None:
        allowed = f"a number in {lower}, {upper}"
    elif low is not None:
        allowed = f"a number {'>' if low_open else '>='} {low:g}"
    else:
        allowed = f"a number {'<' if high_open else '<='} {high:g}"
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"Invalid {name}: {value!r} ({type(value).__name__}); expected {allowed}")
    bad = value != value  # NaN
    if low is not None:
        bad = bad or (value <= low if low_open else value < low)
    if high is not None:
        bad = bad or (value >= high if high_open else value > high)
    if bad:
        raise ValueError(f"Invalid {name}: {value!r}; expected {allowed}")


def check_int(name: str, value, low: int) -> None:
    """Raise unless ``value`` is an integer >= ``low``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
        raise ValueError(f"Invalid {name}: {value!r}; expected an integer >= {low}")


def lerp_(buffer: np.ndarray, end: np.ndarray, weight: float) -> None:
    """``buffer ← buffer + weight·(end − buffer)`` in place, rounded as PyTorch's ``lerp_``."""
    if weight < 0.5:
        buffer += weight * (end - buffer)
    else:
        np.subtract(end, (1 - weight) * (end - buffer), out=buffer)


# --------------------------------------------------------------------- the base class
class Optimizer:
    """Base class of all optimizers.

    Args:
        params: an iterable of Tensors to optimize, or of dicts (parameter groups), each with a
            ``"params"`` entry and any options that override ``defaults`` for that group.
        defaults: the options every group gets unless it sets its own.

    Attributes:
        param_groups: list of dicts, each ``{"params": [...], "lr": ..., ...}``.
        state: per-parameter state, ``state[p]`` a dict of NumPy arrays and Python numbers.

    Parameters with ``.grad`` None or ``requires_grad=False`` (frozen) are skipped by ``step``.

    Example:
        >>> import chainrule as cr
        >>> w = cr.randn(3, requires_grad=True)
        >>> b = cr.zeros(1, requires_grad=True)
        >>> opt = cr.optim.SGD([{"params": [w]}, {"params": [b], "lr": 0.1}], lr=0.01)
        >>> [group["lr"] for group in opt.param_groups]
        [0.01, 0.1]
    """

    def __init__(self, params: ParamsT, defaults: dict[str, Any]):
        self.defaults = dict(defaults)
        self._validate({k: v for k, v in self.defaults.items() if v is not required})
        self.state: defaultdict = defaultdict(dict)
        self.param_groups: list[dict] = []
        if isinstance(params, Tensor):
            raise TypeError(
                "params should be an iterable of Tensors or of dicts, but got a single Tensor; "
                "wrap it in a list: optimizer([tensor])"
            )
        param_groups = list(params)
        if not param_groups:
            raise ValueError("optimizer got an empty parameter list; pass model.parameters()")
        if not isinstance(param_groups[0], dict):
            param_groups = [{"params": param_groups}]
        for group in param_groups:
            self.add_param_group(group)

    # ----------------------------------------------------------------- groups
    def add_param_group(self, param_group: dict) -> None:
        """Add a group of parameters with its own options (e.g. a new layer to fine-tune).

        Args:
            param_group: ``{"params": tensors, option: value, ...}``; options not given are
                taken from ``defaults``.
        """
        if not isinstance(param_group, dict):
            raise TypeError(f"a parameter group must be a dict, got {type(param_group).__name__}")
        group = dict(param_group)
        params = group.get("params")
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, set):
            raise TypeError("the parameters of a group must be an ordered collection (a list), "
                            "not a set, so that the state dict is reproducible")
        elif params is None:
            raise ValueError("a parameter group needs a 'params' entry")
        params = list(params)
        seen: set[int] = set()
        for position, p in enumerate(params):
            if not isinstance(p, Tensor):
                raise TypeError(f"optimizers can only optimize Tensors, but params[{position}] is "
                                f"a {type(p).__name__}")
            if not p.is_leaf:
                raise ValueError(f"can't optimize a non-leaf Tensor (params[{position}], shape "
                                 f"{tuple(p.shape)}); optimize the leaf it was computed from")
            if p.dtype.kind != "f":
                raise TypeError(f"params[{position}] has dtype {p.dtype}; only floating-point "
                                "tensors can be optimized")
            if id(p) in seen:
                raise ValueError(f"params[{position}] (shape {tuple(p.shape)}) appears twice in "
                                 "the same parameter group; list each parameter once")
            seen.add(id(p))
        group["params"] = params
        for name, default in self.defaults.items():
            if default is required and name not in group:
                raise ValueError(f"parameter group didn't specify a value of required "
                                 f"optimization parameter {name}")
            group.setdefault(name, default)
        self._validate(group)
        for index, other in enumerate(self.param_groups):
            if any(id(p) in seen for p in other["params"]):
                raise ValueError(f"some parameters appear in more than one parameter group (the "
                                 f"new group and group {index}); each parameter may be in one "
                                 "group only")
        self.param_groups.append(group)

    def _validate(self, options: dict) -> None:
        """Check a group's options; subclasses raise ValueError naming the bad option."""
        if "lr" in options:
            check_number("lr", options["lr"], low=0.0)

    # ----------------------------------------------------------------- gradients
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the gradients of all optimized parameters.

        Args:
            set_to_none: set ``.grad`` to None (frees memory; the default) instead of filling it
                with zeros.
        """
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                elif p.grad.grad_fn is not None or p.grad.requires_grad:
                    p.grad = Tensor._make(np.zeros_like(p.grad.data))
                else:
                    p.grad.data.fill(0)
                    p.grad._version += 1

    @staticmethod
    def _evaluate(closure: Callable | None):
        """Call the closure (with recording on, as the step itself runs without it)."""
        if closure is None:
            return None
        with enable_grad():
            return closure()

    @staticmethod
    def _with_grad(group: dict):
        """(param, gradient array) for every parameter of ``group`` that should be updated."""
        for p in group["params"]:
            if p.grad is not None and p.requires_grad:
                yield p, p.grad.data

    def step(self, closure: Callable | None = None):
        """Update the parameters once; returns the closure's loss when one is given."""
        raise NotImplementedError(f"{type(self).__name__} does not implement step")

    # ----------------------------------------------------------------- state dicts
    def state_dict(self) -> dict:
        """The optimizer's state and options as plain data (arrays, numbers, lists, dicts).

        Parameters are referred to by their position across the groups (0, 1, 2, ...), as in
        PyTorch, so the dict can be saved without pickle and loaded into an optimizer built over
        other tensors of the same shapes.

        Returns:
            ``{"state": {index: {name: array or number}}, "param_groups": [{..., "params":
            [indices]}]}``
        """
        index_of: dict[int, int] = {}
        groups = []
        for group in self.param_groups:
            packed = {k: _copy_plain(v) for k, v in group.items() if k != "params"}
            for p in group["params"]:
                index_of.setdefault(id(p), len(index_of))
            packed["params"] = [index_of[id(p)] for p in group["params"]]
            groups.append(packed)
        state = {index_of[id(p)]: {k: _copy_plain(v) for k, v in values.items()}
                 for p, values in self.state.items() if id(p) in index_of}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore what ``state_dict`` returned (deep-copied; checked against these parameters).

        Raises:
            ValueError: the number of groups, of parameters in a group, or the shape of a state
                array does not match this optimizer.
        """
        if not isinstance(state_dict, dict) or not {"state", "param_groups"} <= set(state_dict):
            raise ValueError("expected a dict with 'state' and 'param_groups' entries (from "
                             "optimizer.state_dict())")
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(f"loaded state dict has {len(saved_groups)} parameter groups, but "
                             f"this optimizer has {len(self.param_groups)}")
        by_index: dict[int, Tensor] = {}
        new_groups = []
        for number, (group, saved) in enumerate(zip(self.param_groups, saved_groups)):
            if len(saved["params"]) != len(group["params"]):
                raise ValueError(f"parameter group {number} of the loaded state dict has "
                                 f"{len(saved['params'])} parameters, but this optimizer's group "
                                 f"{number} has {len(group['params'])}")
            for index, p in zip(saved["params"], group["params"]):
                by_index[int(index)] = p
            new_group = {}
            for key, value in saved.items():
                if key == "params":
                    continue
                value = _copy_plain(value)
                if isinstance(group.get(key), tuple) and isinstance(value, list):
                    value = tuple(value)  # e.g. betas after a JSON round trip
                new_group[key] = value
            new_group["params"] = group["params"]
            self._validate(new_group)
            new_groups.append(new_group)
        new_state: defaultdict = defaultdict(dict)
        for key, values in state_dict["state"].items():
            index = int(key)
            if index not in by_index:
                raise ValueError(f"the loaded state refers to parameter {index}, but this "
                                 f"optimizer has {len(by_index)} parameters")
            param = by_index[index]
            values = {name: _copy_plain(v, self._state_dtype(param)) for name, v in values.items()}
            self._check_state(param, index, values)
            new_state[param] = values
        self.param_groups = new_groups
        self.state = new_state

    def _state_dtype(self, param: Tensor) -> np.dtype:
        return param.dtype

    def _check_state(self, param: Tensor, index: int, values: dict) -> None:
        """Raise if a loaded state array does not fit ``param`` (here: per-parameter state)."""
        for name, value in values.items():
            if isinstance(value, np.ndarray) and value.shape != param.shape:
                raise ValueError(
                    f"state {name!r} of parameter {index} has shape {value.shape}, but the "
                    f"parameter has shape {tuple(param.shape)}; the state dict belongs to "
                    "another model"
                )

    def __repr__(self) -> str:
        lines = [type(self).__name__ + " ("]
        for number, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {number}")
            for key in sorted(k for k in group if k != "params"):
                lines.append(f"    {key}: {group[key]}")
        return "\n".join(lines) + "\n)"


def _copy_plain(value, float_dtype: np.dtype | None = None):
    """A deep copy of state data; NumPy scalars become Python numbers, floating arrays may be
    cast to ``float_dtype`` (the parameter's)."""
    if isinstance(value, np.ndarray):
        if float_dtype is not None and value.dtype.kind == "f":
            return value.astype(float_dtype, copy=True)
        return value.copy()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (list, tuple)):
        return type(value)(_copy_plain(v, float_dtype) for v in value)
    if isinstance(value, dict):
        return {k: _copy_plain(v, float_dtype) for k, v in value.items()}
    return value
