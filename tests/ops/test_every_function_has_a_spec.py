"""Every ``Function`` subclass in chainrule is covered by an op spec (tests/ops/spec.py), or is
exempt in ``spec.EXEMPT`` with the reason; every name the specs and exemptions give is real."""

from __future__ import annotations

import importlib
import pkgutil

import chainrule
from chainrule.autograd import Function
from tests import ops as spec_package
from tests.ops.spec import EXEMPT, specs_of


def _chainrule_functions() -> dict[str, str]:
    """``{class name: module}`` of every Function subclass defined in chainrule, after importing
    every chainrule module (``__main__`` modules run a program, so they are left out)."""
    for module in pkgutil.walk_packages(chainrule.__path__, "chainrule."):
        if not module.name.endswith("__main__"):
            importlib.import_module(module.name)
    found, stack = {}, [Function]
    while stack:
        for subclass in stack.pop().__subclasses__():
            if subclass.__module__.startswith("chainrule.") and subclass.__name__ not in found:
                found[subclass.__name__] = subclass.__module__
            stack.append(subclass)
    return found


def _covered() -> dict[str, list[str]]:
    """``{Function name: [the specs naming it]}`` over every spec module in tests/ops."""
    covered: dict[str, list[str]] = {}
    for module in pkgutil.iter_modules(spec_package.__path__, spec_package.__name__ + "."):
        for spec in specs_of(importlib.import_module(module.name)):
            for name in spec.covers:
                covered.setdefault(name, []).append(spec.name)
    return covered


def test_every_function_has_a_spec_or_a_stated_exemption():
    functions, covered = _chainrule_functions(), _covered()
    missing = {name: module for name, module in functions.items()
               if name not in covered and name not in EXEMPT}
    assert not missing, (
        "Function classes without an op spec: "
        + ", ".join(f"{name} ({module})" for name, module in sorted(missing.items()))
        + ". Add OpSpec(..., covers=(name,)) to tests/ops/test_<module>.py, or the class and "
          "the reason it needs none to EXEMPT in tests/ops/spec.py."
    )


def test_specs_and_exemptions_name_existing_functions():
    functions, covered = _chainrule_functions(), _covered()
    unknown = {name: specs for name, specs in covered.items() if name not in functions}
    assert not unknown, f"specs cover Function classes that do not exist (renamed?): {unknown}"
    stale = sorted(set(EXEMPT) - set(functions))
    assert not stale, f"EXEMPT names Function classes that do not exist (renamed?): {stale}"
    both = sorted(set(EXEMPT) & set(covered))
    assert not both, f"exempt but covered by a spec (drop the exemption): {both}"
