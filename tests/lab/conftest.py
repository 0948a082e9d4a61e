"""Each lab experiment runs once per test process, at smoke size, whichever test asks first."""

import json

import pytest

from chainrule import lab

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="session")
def results(tmp_path_factory):
    """``results(name)``: the experiment's Result at smoke size and seed 0 (run once)."""
    out = tmp_path_factory.mktemp("lab")
    done: dict = {}

    def get(name: str):
        if name not in done:
            done[name] = lab.run(name, out, smoke=True, seed=0, verbose=False)
        return done[name]

    return get


@pytest.fixture
def check_outputs(results):
    """``check_outputs(name, figures=True)``: the experiment's tables, paragraph, figures (or
    none, with ``figures=False``) and result.json are there and agree."""

    def check(name: str, figures: bool = True):
        result = results(name)
        assert result.name == name and result.smoke and result.seconds > 0
        assert result.tables and all(t.rows for t in result.tables)
        assert len(result.paragraph) > 200
        assert "None" not in result.paragraph and "nan" not in result.paragraph.split()
        for figure in result.figures:
            assert figure.read_bytes()[:8] == PNG, figure
        assert name in result.text()
        if not figures:
            assert not result.figures
            return
        assert result.figures
        stored = json.loads((result.figures[0].parent / "result.json").read_text())
        assert stored["name"] == name and stored["paragraph"] == result.paragraph

    return check
