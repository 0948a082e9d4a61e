"""``write_report``: every lab result on one self-contained HTML page (figures embedded as base64
PNG), which a learner opens in a browser with no server and no internet."""

from __future__ import annotations

import base64
import datetime
import html
import platform
from pathlib import Path
from typing import Sequence

from chainrule._version import __version__
from chainrule.diagnostics._format import fmt
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


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return text in ("nan", "inf", "-inf")


def _table_html(title: str, headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in headers)
    body = []
    for row in rows:
        cells = "".join(
            f'<td class="num">{html.escape(c)}</td>' if _is_number(c)
            else f"<td>{html.escape(c)}</td>" for c in row)
        body.append(f"<tr>{cells}</tr>")
    caption = f"<h3>{html.escape(title)}</h3>" if title else ""
    return f"{caption}<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _figure_html(path: Path) -> str:
    path = Path(path)
    if not path.exists():
        return f"<p class='meta'>(figure missing: {html.escape(str(path))})</p>"
    if path.suffix.lower() != ".png":
        return (f"<p class='meta'>File: <code>{html.escape(path.name)}</code> (not an image; "
                "see the note above)</p>")
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return (f'<figure><img alt="{html.escape(path.stem)}" src="data:image/png;base64,{data}">'
            f"<figcaption>{html.escape(path.name)}</figcaption></figure>")


def _section(result: Result) -> str:
    parts = [f'<h2 id="{html.escape(result.name)}">{html.escape(result.name)}: '
             f"{html.escape(result.title)}</h2>",
             f"<p class='meta'>{result.seconds:.1f} s"
             f"{' (smoke size)' if result.smoke else ''}, seed {result.seed}</p>",
             f"<p class='summary'>{html.escape(result.paragraph)}</p>"]
    for note in result.notes:
        parts.append(f"<p class='meta'>Note: {html.escape(note)}</p>")
    for table in result.tables:
        parts.append(_table_html(table.title, table.headers, table.cells()))
    for figure in result.figures:
        parts.append(_figure_html(figure))
    if result.numbers:
        items = "".join(f"<dt>{html.escape(str(k))}</dt><dd>{html.escape(fmt(v))}</dd>"
                        for k, v in result.numbers.items())
        parts.append(f"<details><summary>Key numbers</summary><dl class='numbers'>{items}</dl>"
                     "</details>")
    return "\n".join(parts)


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
    sections = "\n".join(_section(r) for r in results)
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
