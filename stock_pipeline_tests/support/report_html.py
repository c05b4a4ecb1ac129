"""Reading the report's HTML in tests: tags, scripts, table cells by ``data-row`` and
``data-col``, row headings, and the data and layout of each plotly figure."""

from __future__ import annotations

import html
import json
import re
from html.parser import HTMLParser


class _Collector(HTMLParser):
    """Tags with attributes, every script's text, and each table's cells by row and column."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[str] = []
        self.cells: dict[str, dict[tuple[str, str], str]] = {}
        self.row_labels: dict[str, list[str]] = {}
        self._table: str | None = None
        self._row: str | None = None
        self._col: str | None = None
        self._in_row_header = False
        self._in_script = False
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        self.tags.append((tag, a))
        if tag == "table":
            self._table = a.get("id") or ""
            self.cells.setdefault(self._table, {})
            self.row_labels.setdefault(self._table, [])
        elif tag == "tr":
            self._row = a.get("data-row")
        elif tag == "th" and self._row is not None and a.get("scope") == "row":
            self._in_row_header, self._text = True, []
        elif tag == "td" and self._row is not None:
            self._col, self._text = a.get("data-col"), []
        elif tag == "script":
            self._in_script, self._text = True, []

    def handle_endtag(self, tag: str) -> None:
        if tag == "td" and self._col is not None and self._table is not None:
            self.cells[self._table][(self._row or "", self._col)] = "".join(self._text)
            self._col = None
        elif tag == "th" and self._in_row_header and self._table is not None:
            self.row_labels[self._table].append("".join(self._text))
            self._in_row_header = False
        elif tag == "tr":
            self._row = None
        elif tag == "table":
            self._table = None
        elif tag == "script":
            self.scripts.append("".join(self._text))
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._col is not None or self._in_row_header or self._in_script:
            self._text.append(data)


def parse(text: str) -> _Collector:
    parser = _Collector()
    parser.feed(text)
    parser.close()
    return parser


def figure(text: str, name: str) -> tuple[list[dict], dict]:
    """The data and layout passed to ``Plotly.newPlot`` for the div ``plot-NAME``."""
    start = re.search(r'Plotly\.newPlot\(\s*"plot-' + re.escape(name) + r'",\s*', text)
    assert start, name
    decoder = json.JSONDecoder()
    data, end = decoder.raw_decode(text, start.end())
    separator = re.compile(r"\s*,\s*").match(text, end)
    assert separator
    layout, _ = decoder.raw_decode(text, separator.end())
    return data, layout


def text_of(html_fragment: str) -> str:
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", html_fragment)))


def section(text: str, section_id: str) -> str:
    start = text.index(f'<section id="{section_id}">')
    return text[start : text.index("</section>", start)]
