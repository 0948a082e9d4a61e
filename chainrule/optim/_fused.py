"""The fused path of the first-order optimizers: one group's update in a handful of NumPy calls.

Updating parameter by parameter costs ~10 NumPy calls per tensor, which is most of an Adam step
on a small network. When every parameter of a group has a gradient of its own dtype, the group
is updated as one vector instead (PyTorch's ``foreach``/``fused`` idea): the gradients and the
parameters are gathered into two flat buffers, the optimizer's own array update (the same
function the per-parameter path calls) runs once on them, and the parameters are written back in
place. The arithmetic is elementwise, so the result is the same to the bit as parameter by
parameter.

When nothing but the parameter holds its array (its reference count says so), the parameter's
``data`` becomes its view of the flat parameter buffer, so a step updates the parameters where
they live, without gathering them or writing them back; an array someone else holds (a NumPy
array shared through ``from_numpy``, a view of it) is left where it is and gathered each step,
so nobody's alias goes stale. ``p.data`` is an array of the same shape, dtype and values either
way.

The state stays per parameter for everyone who looks (``optimizer.state[p]["exp_avg"]``,
``state_dict``): its arrays are views of one flat buffer per state name. Each step checks that
the parameters, their state dicts and those arrays are still the ones it laid out; when anything
was replaced (``load_state_dict``, a state array set by hand, ``model.double()``) the layout is
built again from the current values. A group it cannot fuse (a parameter without a gradient,
mixed dtypes, states that differ between parameters) goes parameter by parameter.
"""

from __future__ import annotations

import sys
from typing import Callable

import numpy as np

__all__ = ["fused_step"]


class _Layout:
    """A group's flat buffers and the per-parameter views that the checks compare against."""

    __slots__ = ("group", "params", "shapes", "dtype", "keys", "states", "views",
                 "flat_param", "param_views", "flat_grad", "flat_state", "bound")


def _build(optimizer, group: dict, keys: tuple, init: Callable) -> _Layout | None:
    params = group["params"]
    dtype = params[0].data.dtype
    states = []
    for p in params:
        state = optimizer.state[p]
        init(p, state, group)
        states.append(state)
    scalars = {k: v for k, v in states[0].items() if not isinstance(v, np.ndarray)}
    for p, state in zip(params, states):
        if set(state) != set(states[0]) or any(state[k] != v for k, v in scalars.items()):
            return None  # parameters at different steps or with different state: one by one
        for key in keys:
            value = state.get(key)
            if value is not None and (value.dtype != dtype or value.shape != p.data.shape):
                return None
    sizes = [p.data.size for p in params]
    offsets = np.cumsum([0] + sizes)
    total = int(offsets[-1])
    layout = _Layout()
    layout.group, layout.params, layout.dtype = group, list(params), dtype
    layout.shapes = [p.data.shape for p in params]
    layout.keys = tuple(key for key in keys if key in states[0])
    layout.states = states
    layout.flat_state = dict(scalars)
    layout.views = [[] for _ in params]
    for key in layout.keys:
        flat = np.empty(total, dtype)
        layout.flat_state[key] = flat
        for index, state in enumerate(states):
            view = flat[offsets[index]:offsets[index + 1]].reshape(layout.shapes[index])
            np.copyto(view, state[key])
            state[key] = view
            layout.views[index].append(view)
    layout.flat_param = np.empty(total, dtype)
    layout.flat_grad = np.empty(total, dtype)
    layout.param_views = [layout.flat_param[offsets[i]:offsets[i + 1]].reshape(shape)
                          for i, shape in enumerate(layout.shapes)]
    layout.bound = False
    _bind(layout)
    return layout


# A parameter's array referenced only by the parameter, as sys.getrefcount counts it (the
# parameter's attribute and getrefcount's own argument).
_ONLY_THE_PARAMETER = 2


def _bind(layout: _Layout) -> None:
    """Make every parameter's ``data`` its view of the flat buffer, if no one else holds any of
    their arrays; otherwise leave them all as they are (the step gathers and writes back)."""
    params = layout.params
    if any(sys.getrefcount(p.data) > _ONLY_THE_PARAMETER for p in params):
        return
    for p, view in zip(params, layout.param_views):
        np.copyto(view, p.data)
        p.data = view
    layout.bound = True


def _still_valid(layout: _Layout, optimizer, group: dict, keys: tuple) -> bool:
    params = group["params"]
    if layout.group is not group or layout.keys != keys or len(params) != len(layout.params):
        return False
    table = optimizer.state
    step = layout.flat_state.get("step")
    bound = layout.bound
    for p, mine, shape, state, views, param_view in zip(
            params, layout.params, layout.shapes, layout.states, layout.views,
            layout.param_views):
        if p is not mine:
            return False
        data = p.data
        if bound:
            if data is not param_view:  # replaced (p.data = ..., model.double())
                return False
        elif data.shape != shape or data.dtype != layout.dtype:
            return False
        if table.get(p) is not state:
            return False
        if step is not None and state.get("step") != step:
            return False
        for key, view in zip(keys, views):
            if state.get(key) is not view:
                return False
    return True


def fused_step(optimizer, group: dict, keys: tuple, init: Callable,
               update: Callable[[np.ndarray, np.ndarray, dict], None]) -> bool:
    """Update ``group`` as one flat vector; False (nothing done) when it cannot be fused.

    Args:
        optimizer: the optimizer (its ``state`` holds the per-parameter dicts; the layouts are
            kept in ``optimizer._fused``).
        group: the parameter group.
        keys: the state arrays this group's options need (e.g. ``("exp_avg", "exp_avg_sq")``).
        init: ``init(p, state, group)`` fills a parameter's state as its per-parameter step
            would (missing entries only).
        update: ``update(param, grad, state)``: the optimizer's array update, in place.
    """
    params = group["params"]
    if len(params) < 2:
        return False
    dtype = params[0].data.dtype
    grads = []
    for p in params:
        grad = p.grad
        if grad is None or not p.requires_grad or grad.data.dtype != dtype:
            return False
        grads.append(grad.data.reshape(-1))
    layouts = optimizer.__dict__.setdefault("_fused", {})
    layout = layouts.get(id(group))
    if layout is None or not _still_valid(layout, optimizer, group, keys):
        layout = _build(optimizer, group, keys, init)
        if layout is None or layout.keys != keys:
            layouts.pop(id(group), None)
            return False
        layouts[id(group)] = layout
    elif not layout.bound:
        _bind(layout)
    np.concatenate(grads, out=layout.flat_grad)
    if not layout.bound:
        np.concatenate([p.data.reshape(-1) for p in params], out=layout.flat_param)
    flat_state = layout.flat_state
    update(layout.flat_param, layout.flat_grad, flat_state)
    if layout.bound:
        for p in params:
            p._version += 1
    else:
        for p, view in zip(params, layout.param_views):
            np.copyto(p.data, view)
            p._version += 1
    _share_back(layout, flat_state)
    return True


def _share_back(layout: _Layout, flat_state: dict) -> None:
    """Write the scalars (the step count) back to every parameter's state."""
    for key, value in flat_state.items():
        if not isinstance(value, np.ndarray):
            for state in layout.states:
                state[key] = value
