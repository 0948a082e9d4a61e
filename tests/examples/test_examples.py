"""Every example a reader looks at first runs, and shows what it says it shows."""

import runpy
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _run(name: str, capsys) -> str:
    runpy.run_path(str(EXAMPLES / name), run_name="__main__")
    return capsys.readouterr().out


def test_train_loop_learns_the_spirals(capsys):
    out = _run("train_loop.py", capsys)
    accuracy = float(out.rsplit("test accuracy ", 1)[1].strip().rstrip("%")) / 100
    assert accuracy > 0.9, out


def test_custom_function_passes_its_gradient_checks(capsys):
    out = _run("custom_function.py", capsys)
    assert "gradcheck: True" in out and "gradgradcheck: True" in out, out


def test_closure_optimizers_reach_the_minimum(capsys):
    out = _run("closure_optimizer.py", capsys)
    lines = [line for line in out.splitlines() if line.startswith(("L-BFGS", "Newton"))]
    assert len(lines) == 2
    for line in lines:
        assert float(line.rsplit("loss = ", 1)[1]) < 1e-8, line


@pytest.mark.parametrize("name", ["xor.py"])
def test_first_page_examples_run(name, capsys):
    assert _run(name, capsys)
