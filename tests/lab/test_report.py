"""The lab report (chainrule/lab/report.py): one self-contained HTML page with the figures
embedded; missing figures are reported, not fatal."""

import base64
import re

from chainrule.diagnostics import plots
from chainrule.lab import Result, Table
from chainrule.lab.report import render_html, write_report


def _figure(path):
    fig, axis = plots.new_figure()
    axis.plot([0, 1], [1, 0])
    return plots.save_figure(fig, path)


def test_report_is_one_self_contained_page(tmp_path):
    png = _figure(tmp_path / "one.png")
    result = Result("demo", "a <demo> & more", "What it shows: x < y.",
                    [Table("numbers", ["name", "value"], [["a", 1.5], ["b", float("nan")]])],
                    [png], {"key": 0.125}, seconds=1.25, notes=["a note"])
    path = write_report([result], tmp_path / "report")
    page = path.read_text()
    assert path.name == "index.html"
    assert "a &lt;demo&gt; &amp; more" in page and "x &lt; y" in page
    embedded = re.search(r'src="data:image/png;base64,([^"]+)"', page).group(1)
    assert base64.b64decode(embedded) == png.read_bytes()
    assert not re.search(r'(src|href)="(https?:)?//', page)  # nothing to fetch
    assert '<td class="num">1.5</td>' in page and "<td class=\"num\">nan</td>" in page
    assert 'href="#demo"' in page and 'id="demo"' in page and "a note" in page
    assert "0.125" in page and "1.2 s" in page


def test_missing_figures_are_reported_not_fatal(tmp_path):
    result = Result("demo", "t", "p", figures=[tmp_path / "gone.png", tmp_path / "g.dot"])
    (tmp_path / "g.dot").write_text("digraph {}")
    page = render_html([result])
    assert "figure missing" in page and "g.dot" in page
