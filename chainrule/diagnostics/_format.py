"""Plain-text and HTML tables and number formatting shared by the diagnostics and the lab."""

from __future__ import annotations

import base64
import html
import io
import math
import tempfile
from pathlib import Path
from typing import Any, Callable, Sequence


def fmt(value: Any) -> str:
    """A number in at most ~9 characters: 0.0123, 1.23e-05, 1.2e+04, nan; other values as str."""
    if isinstance(value, bool) or value is None:
        return "-" if value is None else str(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) or hasattr(value, "dtype"):
        value = float(value)
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        if value == 0:
            return "0"
        magnitude = abs(value)
        if 1e-3 <= magnitude < 1e4:
            return f"{value:.4g}"
        return f"{value:.2e}"
    return str(value)


def format_table(headers: Sequence[str], rows: Sequence[Sequence[Any]], title: str = "") -> str:
    """Rows as an aligned text table (numbers right-aligned), with an optional title line."""
    cells = [[fmt(v) for v in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in cells:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))
    numeric = [all(_is_number(row[i]) for row in rows) if rows else False
               for i in range(len(headers))]

    def line(values):
        parts = [v.rjust(w) if num else v.ljust(w) for v, w, num in zip(values, widths, numeric)]
        return "  ".join(parts).rstrip()

    out = [title] if title else []
    out.append(line(list(headers)))
    out.append("  ".join("-" * w for w in widths))
    out.extend(line(row) for row in cells)
    return "\n".join(out)


def _is_number(value: Any) -> bool:
    return (isinstance(value, (int, float)) and not isinstance(value, bool)) or (
        hasattr(value, "dtype") and getattr(value, "ndim", 1) == 0)


# ---------------------------------------------------------------------------- HTML
def html_table(headers: Sequence[str], rows: Sequence[Sequence[Any]], title: str = "") -> str:
    """Rows as an HTML table (numbers right-aligned), with an optional ``<h3>`` title: the one
    table markup of the notebook displays and the lab report."""
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in headers)
    body = []
    for row in rows:
        cells = []
        for value in row:
            text = fmt(value) if not isinstance(value, str) else value
            numeric = _is_number(value) or _looks_numeric(text)
            style = ' class="num"' if numeric else ""
            cells.append(f"<td{style}>{html.escape(text)}</td>")
        body.append(f"<tr>{''.join(cells)}</tr>")
    caption = f"<h3>{html.escape(title)}</h3>" if title else ""
    return f"{caption}<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def html_image(png: bytes, alt: str = "figure") -> str:
    """A PNG embedded in HTML (base64), so the page needs no other file."""
    data = base64.b64encode(png).decode("ascii")
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def figure_png(fig, dpi: int = 100) -> bytes:
    """A matplotlib figure as PNG bytes."""
    stream = io.BytesIO()
    fig.savefig(stream, format="png", dpi=dpi)
    return stream.getvalue()


def _looks_numeric(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return text in ("nan", "inf", "-inf")


def plot_png(plot: Callable[[Path], Any]) -> bytes | None:
    """The PNG that ``plot(path)`` writes, as bytes (None without matplotlib): how a report
    that saves figures to files shows its figure inline in a notebook."""
    try:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "figure.png"
            plot(path)
            return path.read_bytes()
    except ImportError:
        return None


def report_html(headers: Sequence[str], rows: Sequence[Sequence[Any]], footer: str = "",
                png: bytes | None = None, alt: str = "figure") -> str:
    """A report's notebook display: its table, one line under it and its figure."""
    parts = [html_table(headers, rows)]
    if footer:
        parts.append(f"<p>{html.escape(footer)}</p>")
    if png is not None:
        parts.append(html_image(png, alt))
    return f"<div>{''.join(parts)}</div>"
