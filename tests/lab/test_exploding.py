"""The exploding lab (chainrule/lab/exploding.py) at smoke size: a large initialization goes NaN
and He's does not; the same seed gives the same numbers."""

from chainrule import lab


def test_outputs_exist(check_outputs):
    check_outputs("exploding")


def test_exploding_large_init_goes_nan_and_he_does_not(results):
    numbers = results("exploding").numbers
    assert numbers["nan_step_large_init"] is not None
    assert numbers["nan_step_large_init_clipped"] is None
    assert numbers["nan_step_he"] is None and numbers["nan_step_xavier"] is None
    assert numbers["verdict_large_init"] == "exploding" and numbers["verdict_he"] == "healthy"
    assert numbers["grad_norm_large_init"] > 100 * numbers["grad_norm_he"]
    assert any("TerminateOnNaN" in note for note in results("exploding").notes)


def test_same_seed_same_numbers(tmp_path):
    first = lab.run("exploding", tmp_path / "a", smoke=True, seed=1, verbose=False).numbers
    second = lab.run("exploding", tmp_path / "b", smoke=True, seed=1, verbose=False).numbers
    assert first == second
