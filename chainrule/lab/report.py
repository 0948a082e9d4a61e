"""``write_report``: every lab result on one self-contained HTML page (figures embedded as base64
PNG), which a learner opens in a browser with no server and no internet."""

from __future__ import annotations

import datetime
import html
import platform
from pathlib import Path
from typing import Sequence

from chainrule._version import __version__
from chainrule.lab._common import Result

__all__ = ["write_report", "render_html"]

_STYLE = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 0 auto;
       max-width: 1100px; padding: 1.5em 2em 4em; color: #222; line-height: 1.45; }
h1 { border-bottom: 2px solid #4a7ab5; padding-bottom: .3em; }
h2 { margin-top: 2.2em; border-bottom: 1px solid #ccc; padding-bottom: .2em; }
h3 { font-size: 1em; margin: 1.2em 0 .4em; color: #444; }
table { border-collapse: collapse; margin: .4em 0 1em; font-size: .88em; }
th, td { border: 1px solid #d5d5d5; padding: .25em .6em; }
th { background: #eef3fa; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
p.summary { background: #f6f8fb; border-left: 4px solid #4a7ab5; padding: .6em 1em; }
figure { margin: 1em 0; }
figure img { max-width: 100%; border: 1px solid #e3e3e3; }
figcaption { font-size: .85em; color: #666; }
.meta { color: #666; font-size: .9em; }
nav ol { columns: 2; }
dl.numbers { display: grid; grid-template-columns: max-content auto; gap: .15em 1em;
             font-size: .88em; }
dl.numbers dt { color: #555; } dl.numbers dd { margin: 0; font-variant-numeric: tabular-nums; }
"""


def render_html(results: Sequence[Result], title: str = "chainrule lab") -> str:
    """The report page as a string."""
    total = sum(r.seconds for r in results)
    smoke = any(r.smoke for r in results)
    toc = "".join(f'<li><a href="#{html.escape(r.name)}">{html.escape(r.name)}</a>: '
                  f"{html.escape(r.title)} ({r.seconds:.1f} s)</li>" for r in results)
    when = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    meta = (f"chainrule {__version__}, Python {platform.python_version()}, "
            f"{when}; {len(results)} experiment(s) in {total:.0f} s"
            f"{' at smoke size (reduced, numbers are rough)' if smoke else ''}.")
    sections = "\n".join(r.html() for r in results)
    return (f"<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
            f"<meta name='viewport' content='width=device-width, initial-scale=1'>"
            f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>"
            f"<h1>{html.escape(title)}</h1><p class='meta'>{html.escape(meta)}</p>"
            f"<p>Each experiment below ran with fixed seeds on the CPU. Every section states "
            f"what the result shows, then gives the tables and figures it is based on.</p>"
            f"<nav><ol>{toc}</ol></nav>\n{sections}\n</body></html>\n")


def write_report(results: Sequence[Result], out: str | Path, title: str = "chainrule lab"
                 ) -> Path:
    """Write ``out/index.html`` for ``results`` and return its path."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "index.html"
    path.write_text(render_html(results, title), encoding="utf-8")
    return path
