"""A list of rows (runs, planned runs) as a terminal table, markdown, CSV or JSON.

``harness runs`` and ``harness validate`` print lists of runs; this renders them in the one
``--format`` vocabulary. The rows hold plain JSON values; the terminal and markdown tables
show them as text, CSV writes them as they are, and JSON writes the command's whole payload.
"""

from __future__ import annotations

import csv
import json
import math
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TextIO


@dataclass(frozen=True, kw_only=True)
class Listing:
    """Rows to print, and the lines around them.

    Attributes:
        title: the table's title.
        columns: the columns shown, in order (keys of the rows).
        rows: one mapping per row; keys not in ``columns`` go to JSON only.
        header: lines printed before the table (table and markdown formats).
        footer: lines printed after it (table and markdown formats).
        payload: what ``--format json`` prints; the rows under ``"rows"`` when None.
    """

    title: str
    columns: tuple[str, ...]
    rows: Sequence[Mapping[str, Any]]
    header: Sequence[str] = ()
    footer: Sequence[str] = ()
    payload: Mapping[str, Any] | None = field(default=None)


def render_listing(listing: Listing, fmt: str, *, stream: TextIO | None = None) -> None:
    """Write ``listing`` to ``stream`` (stdout) as ``table``, ``markdown``, ``csv`` or ``json``.

    Args:
        listing: what to print.
        fmt: the ``--format`` name.
        stream: where to write; stdout by default.
    """
    out = stream or sys.stdout
    if fmt == "json":
        payload = listing.payload if listing.payload is not None else {"rows": listing.rows}
        out.write(json.dumps(payload, indent=2, default=str) + "\n")
    elif fmt == "csv":
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(listing.columns)
        for row in listing.rows:
            writer.writerow(["" if row.get(c) is None else row.get(c) for c in listing.columns])
    elif fmt == "markdown":
        out.write(_markdown(listing))
    else:
        _rich(listing, out)


def cell(value: Any) -> str:
    """A value as table text: floats to 4 decimals, None as empty."""
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4f}" if math.isfinite(value) else str(value)
    return str(value)


def _markdown(listing: Listing) -> str:
    lines = [*listing.header, ""] if listing.header else []
    lines.append(f"**{listing.title}**")
    lines.append("")
    lines.append("| " + " | ".join(listing.columns) + " |")
    lines.append("|" + "|".join("---" for _ in listing.columns) + "|")
    for row in listing.rows:
        cells = (cell(row.get(c)).replace("|", "\\|") for c in listing.columns)
        lines.append("| " + " | ".join(cells) + " |")
    if listing.footer:
        lines += ["", *listing.footer]
    return "\n".join(lines) + "\n"


def _rich(listing: Listing, out: TextIO) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    console = Console(file=out)
    if not console.is_terminal:  # piped: keep whole lines (hashes, paths) for grep
        console = Console(file=out, width=240)
    for line in listing.header:  # plain text: a key like phases[0] is not rich markup
        console.print(Text(line))
    table = Table(title=listing.title)
    for column in listing.columns:
        table.add_column(column)
    for row in listing.rows:
        table.add_row(*(Text(cell(row.get(c))) for c in listing.columns))
    console.print(table)
    for line in listing.footer:
        console.print(Text(line))
