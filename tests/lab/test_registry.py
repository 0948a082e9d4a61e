"""The lab's registry: every experiment is a module with a title and a ``run``, the titles the
lab lists are its modules' own, and the command line offers exactly its names."""

import argparse
import inspect

import pytest

from chainrule import cli, lab


def _lab_choices() -> list:
    parser = cli.build_parser(["lab"])
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    name = next(a for a in commands.choices["lab"]._actions if a.dest == "name")
    return list(name.choices)


@pytest.mark.parametrize("name", list(lab.MODULES))
def test_every_experiment_has_a_title_and_a_run(name):
    module = lab.MODULES[name]
    assert module.__name__ == f"chainrule.lab.{name}"
    assert isinstance(module.TITLE, str) and module.TITLE
    assert lab.EXPERIMENTS[name] == module.TITLE
    assert list(inspect.signature(module.run).parameters) == ["out", "smoke", "seed"]


def test_the_lab_lists_and_the_command_line_offers_the_registry():
    assert list(lab.EXPERIMENTS) == list(lab.MODULES)
    assert _lab_choices() == list(lab.MODULES) + ["all"]
    with pytest.raises(ValueError, match="unknown lab experiment 'nope'; choose one of "
                       + ", ".join(lab.MODULES)):
        lab.run("nope")
