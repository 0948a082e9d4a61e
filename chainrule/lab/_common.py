"""What every lab experiment returns (``Result``, ``Table``) and the small helpers they share."""

from __future__ import annotations

import html
import json
import math
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from chainrule.backend import manual_seed
from chainrule.diagnostics._format import fmt, format_table, html_image, html_table

__all__ = ["Table", "Result", "Timer", "seed_everything", "finite_or_none"]


@dataclass
class Table:
    """A table of an experiment: a title, column headers and rows of numbers or text."""

    title: str
    headers: list[str]
    rows: list[list[Any]]

    def text(self) -> str:
        """The table as aligned text."""
        return format_table(self.headers, self.rows, title=self.title)

    def cells(self) -> list[list[str]]:
        """Every cell formatted as text (for the HTML report)."""
        return [[fmt(v) for v in row] for row in self.rows]


@dataclass
class Result:
    """What an experiment returns and ``report.py`` renders.

    Attributes:
        name: the experiment's name (``'vanishing'``).
        title: one line saying what it is about.
        paragraph: what the result shows, in one paragraph.
        tables: the tables printed.
        figures: the PNG files written.
        numbers: the key numbers (name → float/int/str), for tests and the report.
        seconds: wall time of the run. smoke: whether it ran at the reduced size. seed: its seed.
        notes: anything else worth a line (files that could not be rendered, ...).
    """

    name: str
    title: str
    paragraph: str = ""
    tables: list[Table] = field(default_factory=list)
    figures: list[Path] = field(default_factory=list)
    numbers: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    smoke: bool = False
    seed: int = 0
    notes: list[str] = field(default_factory=list)

    def text(self) -> str:
        """Everything printed at the end of a run: tables, paragraph, figures."""
        parts = [f"== {self.name}: {self.title} =="]
        parts += [table.text() for table in self.tables]
        parts.append(_wrap(self.paragraph))
        parts += [f"note: {note}" for note in self.notes]
        parts += [f"figure: {path}" for path in self.figures]
        parts.append(f"({self.seconds:.1f} s{', smoke size' if self.smoke else ''}, "
                     f"seed {self.seed})")
        return "\n\n".join(p for p in parts if p)

    def html(self) -> str:
        """The result as an HTML section: heading, paragraph, notes, tables, the figures
        embedded (base64 PNG) and the key numbers; the lab report is these sections."""
        name = html.escape(self.name)
        parts = [f'<h2 id="{name}">{name}: {html.escape(self.title)}</h2>',
                 f"<p class='meta'>{self.seconds:.1f} s"
                 f"{' (smoke size)' if self.smoke else ''}, seed {self.seed}</p>",
                 f"<p class='summary'>{html.escape(self.paragraph)}</p>"]
        parts += [f"<p class='meta'>Note: {html.escape(note)}</p>" for note in self.notes]
        parts += [html_table(table.headers, table.cells(), table.title) for table in self.tables]
        parts += [_figure_html(Path(figure)) for figure in self.figures]
        if self.numbers:
            items = "".join(f"<dt>{html.escape(str(k))}</dt><dd>{html.escape(fmt(v))}</dd>"
                            for k, v in self.numbers.items())
            parts.append("<details><summary>Key numbers</summary><dl class='numbers'>"
                         f"{items}</dl></details>")
        return "\n".join(parts)

    def _repr_html_(self) -> str:
        return f"<div>{self.html()}</div>"

    def to_json(self) -> dict:
        """A JSON-compatible dict of the result (figure paths as strings)."""
        return {
            "name": self.name, "title": self.title, "paragraph": self.paragraph,
            "tables": [{"title": t.title, "headers": t.headers, "rows": t.cells()}
                       for t in self.tables],
            "figures": [str(p) for p in self.figures],
            "numbers": {k: finite_or_none(v) for k, v in self.numbers.items()},
            "seconds": self.seconds, "smoke": self.smoke, "seed": self.seed,
            "notes": self.notes,
        }

    def save_json(self, path: str | Path) -> Path:
        """Write ``to_json()`` to ``path``."""
        path = Path(path)
        path.write_text(json.dumps(self.to_json(), indent=2), encoding="utf-8")
        return path


def _figure_html(path: Path) -> str:
    if not path.exists():
        return f"<p class='meta'>(figure missing: {html.escape(str(path))})</p>"
    if path.suffix.lower() != ".png":
        return (f"<p class='meta'>File: <code>{html.escape(path.name)}</code> (not an image; "
                "see the note above)</p>")
    return (f"<figure>{html_image(path.read_bytes(), path.stem)}"
            f"<figcaption>{html.escape(path.name)}</figcaption></figure>")


def _wrap(text: str, width: int = 96) -> str:
    return textwrap.fill(" ".join(text.split()), width) if text else ""


def finite_or_none(value: Any) -> Any:
    """NaN/inf become None (JSON has no NaN); NumPy scalars become Python numbers."""
    if isinstance(value, (np.floating, np.integer, np.bool_)):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


class Timer:
    """``with Timer() as t: ...`` then ``t.seconds``."""

    def __enter__(self) -> "Timer":
        self.start = time.perf_counter()
        self.seconds = 0.0
        return self

    def __exit__(self, *exc_info) -> None:
        self.seconds = time.perf_counter() - self.start


def seed_everything(seed: int) -> None:
    """Seed chainrule's generator (every random draw of the library comes from it)."""
    manual_seed(int(seed))

