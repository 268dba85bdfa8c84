"""Page assembly shared by every report: sections of paragraphs, a table, a figure and links,
rendered as one self-contained HTML page (figures as base64 PNG) and as markdown (figures as
PNG files beside it). matplotlib runs on the Agg backend; nothing is fetched from the network.
"""

from __future__ import annotations

import base64
import html
import io
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from harness.report.style import CHECK_COLOUR, VERDICT_COLOUR, check_css, verdict_css

if TYPE_CHECKING:
    from matplotlib.figure import Figure


@dataclass(kw_only=True)
class Report:
    """A rendered report: the HTML page, the markdown text and the PNG figures by file name."""

    html: str
    markdown: str
    images: dict[str, bytes] = field(default_factory=dict)


@dataclass(kw_only=True)
class Section:
    """One titled part of a page.

    Attributes:
        title: the heading.
        paragraphs: text before the table; a paragraph starting "Warning:" is highlighted.
        headers, rows: a table (rows of cell texts), or none.
        figure: the key of a figure (see :class:`Figures`), or None.
        links: (label, relative path of the HTML page, relative path of the markdown file),
            e.g. to a phase's own report.
        level: heading level (2 for sections, 3 inside a group).
    """

    title: str
    paragraphs: list[str] = field(default_factory=list)
    headers: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    figure: str | None = None
    links: list[tuple[str, str, str]] = field(default_factory=list)
    level: int = 2


@dataclass(kw_only=True)
class Figures:
    """Rendered figures by key: the PNG file name, its caption and bytes."""

    names: dict[str, str] = field(default_factory=dict)
    captions: dict[str, str] = field(default_factory=dict)
    images: dict[str, bytes] = field(default_factory=dict)
    svgs: dict[str, str] = field(default_factory=dict)

    def add(self, key: str, file_name: str, caption: str, figure: Figure) -> None:
        self.names[key] = file_name
        self.captions[key] = caption
        self.images[file_name] = png(figure)

    def add_svg(self, key: str, file_name: str, caption: str, svg: str) -> None:
        """An SVG figure (:mod:`harness.report.svg_plot`): inline in the page, a ``.svg`` file
        beside the markdown."""
        self.names[key] = file_name
        self.captions[key] = caption
        self.svgs[key] = svg
        self.images[file_name] = svg.encode()


def pyplot():  # type: ignore[no-untyped-def]
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    pyplot().close(figure)
    return buffer.getvalue()


STYLE = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 2em auto;
       max-width: 1100px; color: #1f2328; padding: 0 1em; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; } h2 { font-size: 1.25em; margin-top: 1.6em;
     border-bottom: 1px solid #d0d7de; padding-bottom: 0.2em; } h3 { font-size: 1.05em; }
.meta { color: #59636e; font-size: 0.9em; }
table { border-collapse: collapse; font-size: 0.88em; margin: 0.6em 0; }
th, td { border: 1px solid #d0d7de; padding: 4px 8px; text-align: right; white-space: nowrap; }
th { background: #f6f8fa; white-space: normal; vertical-align: bottom; }
"""
STYLE += verdict_css()
STYLE += check_css()
STYLE += """.warning { background: #fff8c5; border: 1px solid #d4a72c; padding: 0.4em 0.7em; }
img { max-width: 100%; height: auto; }
figure { margin: 0.6em 0; overflow-x: auto; } figure svg { max-width: 100%; height: auto; }
"""


def _visible(section: Section, figures: Figures) -> bool:
    """A section that is only a figure which was not drawn is left out."""
    return not (
        section.figure
        and section.figure not in figures.names
        and not section.rows
        and not section.paragraphs
    )


def html_page(title: str, meta: str, sections: list[Section], figures: Figures) -> str:
    """The self-contained HTML page."""
    esc = html.escape
    body = [f"<h1>{esc(title)}</h1>", f'<p class="meta">{esc(meta)}</p>']
    for section in sections:
        if not _visible(section, figures):
            continue
        body.append(f"<h{section.level}>{esc(section.title)}</h{section.level}>")
        for paragraph in section.paragraphs:
            css = ' class="warning"' if paragraph.startswith("Warning:") else ""
            body.append(f"<p{css}>{esc(paragraph)}</p>")
        if section.rows:
            body.append(html_table(section.headers, section.rows))
        if section.figure in figures.svgs:
            caption = esc(figures.captions[section.figure])
            body.append(f'<figure aria-label="{caption}">{figures.svgs[section.figure]}</figure>')
        elif section.figure in figures.names:
            name = figures.names[section.figure]
            data = base64.b64encode(figures.images[name]).decode("ascii")
            caption = esc(figures.captions[section.figure])
            body.append(f'<img alt="{caption}" src="data:image/png;base64,{data}">')
        for label, href, _ in section.links:
            body.append(f'<p><a href="{esc(href)}">{esc(label)}</a></p>')
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{esc(title)}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n"
        + "\n".join(body)
        + "\n</body>\n</html>\n"
    )


def html_table(headers: list[str], rows: list[list[str]]) -> str:
    esc = html.escape
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    lines = [f"<table><thead><tr>{head}</tr></thead><tbody>"]
    for row in rows:
        cells = []
        for cell in row:
            # Verdicts are coloured; words read left-aligned, numbers right-aligned.
            if cell in VERDICT_COLOUR:
                css = f' class="{cell}"'
            elif cell in CHECK_COLOUR:
                css = f' class="check-{cell}"'
            elif cell[:1].isalpha():
                css = ' class="text"'
            else:
                css = ""
            cells.append(f"<td{css}>{esc(cell)}</td>")
        lines.append("<tr>" + "".join(cells) + "</tr>")
    lines.append("</tbody></table>")
    return "\n".join(lines)


def markdown_page(title: str, meta: str, sections: list[Section], figures: Figures) -> str:
    """The same content as markdown; figures are referenced by file name."""
    from harness.report.format import markdown_table

    lines = [f"# {title}", "", meta]
    for section in sections:
        if not _visible(section, figures):
            continue
        lines += ["", f"{'#' * section.level} {section.title}", ""]
        for paragraph in section.paragraphs:
            lines += [f"**{paragraph}**" if paragraph.startswith("Warning:") else paragraph, ""]
        if section.rows:
            lines += [markdown_table(section.headers, section.rows), ""]
        if section.figure in figures.names:
            name = figures.names[section.figure]
            lines += [f"![{figures.captions[section.figure]}]({name})", ""]
        for label, _, href in section.links:
            lines += [f"[{label}]({href})", ""]
    return "\n".join(lines).rstrip() + "\n"


def quantity(value: Any) -> str:
    """A cost for a table: thousands separated above 100, three significant digits below."""
    import math

    if not isinstance(value, int | float) or not math.isfinite(value):
        return "-"
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"
