"""The lab package (chainrule/lab/__init__.py): the command-line arguments and defaults, run and
run_all, unknown names."""

import argparse

import pytest

from chainrule import lab


def test_arguments_and_defaults():
    parser = lab.add_arguments(argparse.ArgumentParser())
    args = parser.parse_args(["all", "--smoke", "--seed", "3"])
    assert (args.name, args.out, args.smoke, args.seed) == ("all", None, True, 3)
    with pytest.raises(SystemExit):
        parser.parse_args(["nonsense"])
    assert set(lab.EXPERIMENTS) == {"activations", "backprop", "vanishing", "exploding", "losses",
                                    "optimizers", "overfitting", "pretraining", "recurrent",
                                    "benchmark"}
    with pytest.raises(ValueError, match="unknown lab experiment 'nope'"):
        lab.run("nope")


def test_run_from_args_and_run_all(tmp_path, capsys):
    parser = lab.add_arguments(argparse.ArgumentParser())
    status = lab.run_from_args(parser.parse_args(["backprop", "--out", str(tmp_path / "one"),
                                                  "--smoke"]))
    assert status == 0
    assert (tmp_path / "one" / "backprop" / "result.json").exists()
    assert "by hand" in capsys.readouterr().out
    results = lab.run_all(tmp_path / "all", smoke=True, names=["backprop"], verbose=False)
    assert [r.name for r in results] == ["backprop"]
    assert (tmp_path / "all" / "index.html").exists()
