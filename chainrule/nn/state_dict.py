"""The state half of ``Module``: dtype conversion (``to``, ``float``, ``double``) and
``state_dict`` / ``load_state_dict``, PyTorch's names, keys and error messages."""

from __future__ import annotations

from collections import OrderedDict, namedtuple
from typing import Any

import numpy as np

from chainrule import backend
from chainrule.nn.parameter import check_device
from chainrule.tensor import Tensor

__all__ = ["IncompatibleKeys", "ModuleState"]

IncompatibleKeys = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])
IncompatibleKeys.__doc__ = "What ``load_state_dict(strict=False)`` returns: the keys it skipped."


class ModuleState:
    """``Module``'s methods over its parameters and buffers as arrays (a base of ``Module``;
    they rely on its registries and traversal)."""

    # ------------------------------------------------------------------ dtype
    def to(self, *args, **kwargs) -> "ModuleState":
        """Convert floating parameters and buffers to a dtype in place (``.to(cr.float64)``);
        the device 'cpu' is accepted and changes nothing, any other device is an error. The
        Parameter objects stay the same, so an optimizer that holds them keeps working."""
        dtype = kwargs.pop("dtype", None)
        check_device(kwargs.pop("device", None), "Module.to")
        if kwargs:
            raise TypeError(f"to() got unexpected keyword arguments {sorted(kwargs)}")
        for arg in args:
            if isinstance(arg, str) and arg.split(":")[0] in ("cpu", "cuda", "mps", "xpu"):
                check_device(arg, "Module.to")
                continue
            dtype = arg
        if dtype is None:
            return self
        dtype = backend.resolve_dtype(dtype)
        if dtype.kind != "f":
            raise TypeError(
                f"nn.Module.to only accepts floating point dtypes, but got desired dtype={dtype}"
            )
        return self._convert_floats(dtype)

    def float(self) -> "ModuleState":
        """Convert floating parameters and buffers to float32 in place."""
        return self._convert_floats(backend.float32)

    def double(self) -> "ModuleState":
        """Convert floating parameters and buffers to float64 in place."""
        return self._convert_floats(backend.float64)

    def _convert_floats(self, dtype: np.dtype) -> "ModuleState":
        for tensor in list(self.parameters()) + list(self.buffers()):
            if tensor.data.dtype.kind == "f" and tensor.data.dtype != dtype:
                tensor.data = tensor.data.astype(dtype)
                tensor._version += 1
                if tensor.grad is not None:
                    tensor.grad = Tensor._make(tensor.grad.data.astype(dtype))
        return self

    # ------------------------------------------------------------------ state
    def state_dict(self, prefix: str = "", keep_vars: bool = False) -> "OrderedDict[str, Any]":
        """Name → NumPy array copy for every parameter and persistent buffer.

        Keys are dotted paths (``layers.0.weight``, ``bn.running_mean``) in PyTorch's order,
        so a PyTorch state_dict converted with ``.numpy()`` has the same keys. With
        ``keep_vars=True`` the values are the Parameters/Tensors themselves.
        """
        result = OrderedDict()
        for module_prefix, module in self.named_modules(prefix=prefix):
            dot = module_prefix + ("." if module_prefix else "")
            for name, param in module._parameters.items():
                if param is not None:
                    result[dot + name] = param if keep_vars else param.data.copy()
            for name, buffer in module._buffers.items():
                if buffer is not None and name not in module._non_persistent_buffers:
                    result[dot + name] = buffer if keep_vars else buffer.data.copy()
        return result

    def load_state_dict(self, state_dict, strict: bool = True) -> IncompatibleKeys:
        """Copy arrays (or Tensors) from ``state_dict`` into the parameters and buffers in place.

        Values are cast to each parameter's dtype. Shape mismatches are always errors; missing
        and unexpected keys are errors when ``strict`` and are returned otherwise.

        Returns:
            ``IncompatibleKeys(missing_keys, unexpected_keys)``.

        Raises:
            RuntimeError: listing every missing/unexpected key and shape mismatch by name.
        """
        if not hasattr(state_dict, "keys"):
            raise TypeError(
                f"Expected state_dict to be dict-like, got {type(state_dict).__name__}."
            )
        targets = self.state_dict(keep_vars=True)
        missing = [key for key in targets if key not in state_dict]
        unexpected = [key for key in state_dict if key not in targets]
        errors = []
        if strict and unexpected:
            errors.append("Unexpected key(s) in state_dict: "
                          + ", ".join(f'"{key}"' for key in unexpected) + ". ")
        if strict and missing:
            errors.append("Missing key(s) in state_dict: "
                          + ", ".join(f'"{key}"' for key in missing) + ". ")
        arrays = {}
        for key, target in targets.items():
            if key not in state_dict:
                continue
            value = state_dict[key]
            array = value.data if isinstance(value, Tensor) else np.asarray(value)
            if array.shape != target.data.shape:
                errors.append(
                    f"size mismatch for {key}: copying a param with shape {tuple(array.shape)} "
                    f"from checkpoint, the shape in current model is {tuple(target.data.shape)}."
                )
                continue
            arrays[key] = array
        if errors:
            raise RuntimeError(
                f"Error(s) in loading state_dict for {self._get_name()}:\n\t" + "\n\t".join(errors)
            )
        for key, array in arrays.items():
            target = targets[key]
            if not target.data.flags.writeable:
                target.data = target.data.copy()
            target.data[...] = array.astype(target.data.dtype, copy=False)
            target._version += 1
        return IncompatibleKeys(missing, unexpected)
