"""The regularization example (examples/regularization.py) runs, and L1 gives the sparsest and
best-generalizing weights."""

import pathlib
import runpy

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_regularization_example_runs_and_l1_gives_sparsity(capsys):
    runpy.run_path(str(ROOT / "examples" / "regularization.py"), run_name="__main__")
    lines = capsys.readouterr().out.splitlines()
    rows = {line[:22].strip(): line.split() for line in lines if line[:1].isalpha()}
    plain, l1 = rows["no regularization"], rows["L1 penalty 0.1"]
    decay = next(v for k, v in rows.items() if k.startswith("weight decay"))
    test_mse = lambda row: float(row[-5])  # noqa: E731
    assert test_mse(l1) < test_mse(decay) < test_mse(plain)
    assert int(l1[-1].split("/")[0]) > int(plain[-1].split("/")[0]) + 5
