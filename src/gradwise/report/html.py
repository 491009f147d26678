"""The report page: one self-contained HTML file, every image a base64 data URI, no scripts, no network."""

from __future__ import annotations

import base64
import html
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from gradwise.health.fixes import Fix

STYLE = """
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #212121; background: #fafafa;
       margin: 0; }
main { max-width: 1040px; margin: 0 auto; padding: 24px 20px 48px; background: white; }
h1 { font-size: 24px; margin: 0 0 4px; }
h2 { font-size: 18px; margin: 32px 0 6px; border-bottom: 1px solid #e0e0e0; padding-bottom: 4px; }
p.sub, p.caption { color: #616161; margin: 2px 0 10px; }
table { border-collapse: collapse; margin: 8px 0; font-size: 14px; }
th, td { border: 1px solid #e0e0e0; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #f5f5f5; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
table.facts td:first-child { color: #616161; }
figure { margin: 6px 0 0; }
img { max-width: 100%; height: auto; display: block; border: 1px solid #eeeeee; }
.diagnosis { border-left: 5px solid #6a1b9a; background: #f3e5f5; padding: 8px 12px; margin: 8px 0; }
.diagnosis b { color: #4a148c; }
.healthy { border-left: 5px solid #2e7d32; background: #e8f5e9; padding: 8px 12px; }
.note { border-left: 5px solid #f9a825; background: #fffde7; padding: 6px 12px; margin: 6px 0; }
code { background: #f5f5f5; padding: 0 3px; border-radius: 3px; }
"""


@dataclass
class Image:
    """A figure on the page: its file name beside the report, its PNG bytes, a heading and what to look for."""

    name: str
    data: bytes
    title: str
    caption: str


def escape(value: Any) -> str:
    return html.escape(str(value), quote=True)


def data_uri(data: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


def figure_html(image: Image) -> str:
    return (
        f"<h2>{escape(image.title)}</h2>\n<p class=\"caption\">{escape(image.caption)}</p>\n"
        f"<figure><img alt=\"{escape(image.title)}\" src=\"{data_uri(image.data)}\"></figure>"
    )


def table(header: Sequence[str], rows: Iterable[Sequence[Any]], numeric: Sequence[int] = ()) -> str:
    """An HTML table; columns whose index is in ``numeric`` are right-aligned. Cells are escaped unless
    they are ``Raw``."""
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = []
    for row in rows:
        cells = []
        for k, cell in enumerate(row):
            css = ' class="num"' if k in numeric else ""
            text = cell.html if isinstance(cell, Raw) else escape(cell)
            cells.append(f"<td{css}>{text}</td>")
        body.append(f"<tr>{''.join(cells)}</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


@dataclass(frozen=True)
class Raw:
    """A table cell that is already HTML."""

    html: str


def facts(pairs: Iterable[tuple[str, Any]]) -> str:
    rows = "".join(f"<tr><td>{escape(k)}</td><td>{escape(v)}</td></tr>" for k, v in pairs)
    return f'<table class="facts">{rows}</table>'


def diagnosis_html(d: dict[str, Any], fix_text: Callable[[Fix], str] = Fix.python) -> str:
    layer = d.get("layer")
    where = f"layer {layer}" if isinstance(layer, int) else "the network"
    evidence = d.get("evidence") or {}
    numbers = ", ".join(f"{k} {v}" for k, v in evidence.items()) if isinstance(evidence, dict) else str(evidence)
    fixes = d.get("fix") or []
    shown = [fix_text(Fix.from_json(f)) for f in fixes if isinstance(f, dict | str)] if isinstance(fixes, list) else []
    fix = "; ".join(f"<code>{escape(f)}</code>" for f in shown) if shown else escape(fixes)
    return (
        f'<div class="diagnosis"><b>{escape(d.get("symptom", "?"))}</b> in {escape(where)} since step '
        f"{escape(d.get('step', '?'))}<br>{escape(d.get('cause', ''))}"
        + (f"<br><small>evidence: {escape(numbers)}</small>" if numbers else "")
        + (f"<br>fix: {fix}" if fixes else "")
        + "</div>"
    )


def note_html(text: str) -> str:
    return f'<div class="note">{escape(text)}</div>'


def page(title: str, subtitle: str, sections: Sequence[str]) -> str:
    """The whole document. The empty icon link stops the browser asking for /favicon.ico."""
    body = "\n".join(sections)
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        f"<title>{escape(title)}</title>\n<link rel=\"icon\" href=\"data:,\">\n<style>{STYLE}</style>\n</head>\n"
        f"<body>\n<main>\n<h1>{escape(title)}</h1>\n<p class=\"sub\">{escape(subtitle)}</p>\n{body}\n</main>\n"
        "</body>\n</html>\n"
    )


